"""The saved artifact: readable source + weights-only tensors (+ rockpool's own parameter JSON),
usable without nirhub."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_sequence
from nirhub_rockpool.plugin import RockpoolBackend

from nirhub.errors import RefusedError
from nirhub.io import read
from nirhub.testing.corpus import CORPUS
from nirhub.testing.standalone import run_without_nirhub

BACKEND = RockpoolBackend()

#: runs the artifact in a fresh interpreter where importing nirhub fails
RUNNER = """
import importlib.util, sys
import numpy as np, torch
spec = importlib.util.spec_from_file_location("model", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
assert "samna" in sys.modules and sys.modules["samna"] is None  # the probe was blocked
x = torch.as_tensor(np.load(sys.argv[2]), dtype=torch.float32)  # (B, T, N)
model = mod.build_model()
with torch.no_grad():
    y, _, _ = model(x)
again = mod.build_model()
with torch.no_grad():
    for p in torch.nn.Module.parameters(again):
        p.zero_()  # forget every weight and time constant ...
again.load(sys.argv[1][:-3] + ".json")  # ... and restore them from rockpool's own format
again.reset_state()
with torch.no_grad():
    y2, _, _ = again(x)
assert torch.equal(y, y2)
np.save(sys.argv[3], y.numpy())
"""


def test_artifact_runs_without_nirhub(tmp_path) -> None:
    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    model = BACKEND.from_ir(graph, dt=1e-4, reset="subtract")
    written = BACKEND.save(model, tmp_path / "net.py")
    assert [p.name for p in written] == ["net.py", "net.pt", "net.json"]
    source = written[0].read_text()
    assert "def build_model(" in source and "import nirhub" not in source
    assert "rockpool.devices" not in source
    tensors = torch.load(written[1], weights_only=True)
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    x = (np.random.default_rng(0).random((80, 2, 12)) < 0.5).astype(np.float32)
    np.save(tmp_path / "x.npy", np.swapaxes(x, 0, 1))
    run_without_nirhub(RUNNER, written[0], tmp_path / "x.npy", tmp_path / "y.npy")
    theirs = np.swapaxes(np.load(tmp_path / "y.npy"), 0, 1)
    ours = run_sequence(model, x)
    assert ours.sum() > 0
    np.testing.assert_array_equal(theirs, ours)


def test_saving_a_native_model_and_refusing_to_overwrite(tmp_path) -> None:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch

    torch.manual_seed(0)
    model = Sequential(LinearTorch((3, 4)), LIFTorch(4, max_spikes_per_dt=1))
    written = BACKEND.save(model, tmp_path / "native.py")
    assert all(p.is_file() for p in written)
    with pytest.raises(RefusedError):
        BACKEND.save(model, tmp_path / "native.py")
