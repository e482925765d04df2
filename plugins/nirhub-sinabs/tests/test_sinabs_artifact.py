"""The saved artifact: readable source + weights-only tensors, usable without nirhub."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_sequence
from nirhub_sinabs.plugin import SinabsBackend

from nirhub.errors import RefusedError
from nirhub.io import read
from nirhub.testing.corpus import CORPUS
from nirhub.testing.standalone import run_without_nirhub

BACKEND = SinabsBackend()

#: runs the artifact in a fresh interpreter where importing nirhub fails
RUNNER = """
import importlib.util, sys
import numpy as np, torch
spec = importlib.util.spec_from_file_location("model", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
x = torch.as_tensor(np.load(sys.argv[2]), dtype=torch.float32)  # (B, T, ...)
B, T = x.shape[:2]
with torch.no_grad():
    if hasattr(mod, "Network"):
        y = mod.build_model()(x)
    else:
        y = mod.build_model(batch_size=B)(x.flatten(0, 1)).unflatten(0, (B, T))
np.save(sys.argv[3], y.numpy())
"""


@pytest.mark.parametrize("name", ["rnn/braille_noDelay_bias_zero.nir", "cnn/cnn_sinabs.nir"])
def test_artifact_runs_without_nirhub(tmp_path, name: str) -> None:
    graph = read(CORPUS / name)
    dt = 1.0 if name.startswith("cnn") else 1e-4
    model = BACKEND.from_ir(graph, dt=dt)
    written = BACKEND.save(model, tmp_path / "net.py")
    assert [p.name for p in written] == ["net.py", "net.pt"]
    source = written[0].read_text()
    assert "def build_model(" in source and "import nirhub" not in source
    assert "dynapcnn" not in source  # never the samna-importing backend
    tensors = torch.load(written[1], weights_only=True)
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    shape = graph.nodes["input"].shape
    x = np.random.default_rng(0).poisson(0.3, size=(30, 2, *shape)).astype(np.float32)
    np.save(tmp_path / "x.npy", np.swapaxes(x, 0, 1))
    run_without_nirhub(RUNNER, written[0], tmp_path / "x.npy", tmp_path / "y.npy")
    theirs = np.swapaxes(np.load(tmp_path / "y.npy"), 0, 1)
    ours = run_sequence(model, x, squeeze=not hasattr(model, "EDGES"))
    assert ours.sum() > 0
    np.testing.assert_array_equal(theirs, ours)


def test_saving_a_native_model_and_refusing_to_overwrite(tmp_path) -> None:
    import sinabs.activation as sa
    import sinabs.layers as sl

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), sl.LIF(tau_mem=10.0, spike_fn=sa.SingleSpike)
    )
    written = BACKEND.save(model, tmp_path / "native.py", dt=1e-3)
    assert all(p.is_file() for p in written)
    with pytest.raises(RefusedError):
        BACKEND.save(model, tmp_path / "native.py", dt=1e-3)
