"""The saved artifact: readable source + weights-only tensors, usable without nirhub."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import step_model
from nirhub_norse.plugin import NorseBackend

from nirhub.errors import RefusedError
from nirhub.io import read
from nirhub.testing.corpus import CORPUS
from nirhub.testing.standalone import run_without_nirhub

BACKEND = NorseBackend()

#: runs the artifact in a fresh interpreter where importing nirhub fails
RUNNER = """
import importlib.util, json, sys
import numpy as np, torch
spec = importlib.util.spec_from_file_location("model", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
model = mod.build_model()
x = torch.as_tensor(np.load(sys.argv[2]), dtype=torch.float32)
state, out = None, []
with torch.no_grad():
    for t in range(x.shape[0]):
        y, state = model(x[t], state)
        out.append(y)
np.save(sys.argv[3], torch.stack(out).numpy())
print(json.dumps(sorted(torch.load(mod.WEIGHTS, weights_only=True))))
"""


@pytest.mark.parametrize("name", ["rnn/braille_noDelay_bias_zero.nir", "lif/lif_norse.nir"])
def test_artifact_runs_without_nirhub(tmp_path, name: str) -> None:
    graph = read(CORPUS / name)
    model = BACKEND.from_ir(graph, dt=1e-4)
    written = BACKEND.save(model, tmp_path / "net.py")
    assert [p.name for p in written] == ["net.py", "net.pt"]
    source = written[0].read_text()
    assert "def build_model(" in source and "import nirhub" not in source
    n_in = graph.nodes["input"].shape[0]
    x = (np.random.default_rng(0).random((60, 2, n_in)) < 0.5).astype(np.float32) * 3
    np.save(tmp_path / "x.npy", x)
    stdout = run_without_nirhub(RUNNER, written[0], tmp_path / "x.npy", tmp_path / "y.npy")
    keys = json.loads(stdout.strip().splitlines()[-1])
    assert keys  # plain tensors, loaded with weights_only=True
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), step_model(model, x))


def test_saving_a_native_model_and_refusing_to_overwrite(tmp_path) -> None:
    import norse.torch as norse

    torch.manual_seed(0)
    model = norse.SequentialState(torch.nn.Linear(3, 4), norse.LIFBoxCell())
    written = BACKEND.save(model, tmp_path / "native.py")
    assert all(p.is_file() for p in written)
    with pytest.raises(RefusedError):
        BACKEND.save(model, tmp_path / "native.py")
    assert BACKEND.save(model, tmp_path / "native.py", force=True) == written
