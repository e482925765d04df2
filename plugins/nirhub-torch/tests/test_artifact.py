"""The generated module + weights: loadable without nirhub, and back into nirhub safely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nirhub_torch import plugin
from nirhub_torch.artifact import MARKER, load, save
from nirhub_torch.import_ import from_ir

from nirhub.errors import FileFormatError, RefusedError
from nirhub.hub.convert import convert, to_ir
from nirhub.io import read
from nirhub.sim import simulate
from nirhub.testing import isolated_registry
from nirhub.testing.corpus import CORPUS, braille_input, lif_task_input
from nirhub.testing.standalone import run_without_nirhub

# Runs in a fresh interpreter in which importing nirhub (or any SNN framework) fails.
NO_NIRHUB = """
import importlib.util, json, sys
for name in ("nirhub_torch", "snntorch", "norse", "sinabs", "nir"):
    sys.modules[name] = None
import numpy as np, torch
spec = importlib.util.spec_from_file_location("generated", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
model = mod.build_model(dtype="float64")
x = torch.as_tensor(np.load(sys.argv[2]))
with torch.no_grad():
    y = model(x)
np.save(sys.argv[3], y.numpy())
state = torch.load(sys.argv[1][:-3] + ".pt", weights_only=True)
print(json.dumps(sorted(state)))
"""


def test_artifact_runs_without_nirhub(tmp_path: Path) -> None:
    graph = read(CORPUS / "rnn" / "braille_noDelay_bias_zero.nir")
    x = braille_input()
    model = from_ir(graph, dt=1e-4)
    written = save(model, tmp_path / "braille.py")
    assert [p.name for p in written] == ["braille.py", "braille.pt"]
    text = written[0].read_text()
    assert text.startswith(MARKER) and "def build_model" in text
    np.save(tmp_path / "x.npy", x)
    printed = run_without_nirhub(NO_NIRHUB, written[0], tmp_path / "x.npy", tmp_path / "y.npy")
    y = np.load(tmp_path / "y.npy")
    keys = json.loads(printed)
    assert "nodes.fc1.weight" in keys and "nodes.lif1_lif.tau_mem" in keys
    np.testing.assert_array_equal(y, simulate(graph, x, 1e-4).outputs["output"])


def test_load_parses_without_executing(tmp_path: Path) -> None:
    from nirhub.testing import primitive_graph

    graph = primitive_graph("Conv2d")
    model = from_ir(graph)
    py, _ = save(model, tmp_path / "conv.py")
    # a statement that would fail loudly if the file were executed
    py.write_text(py.read_text() + "\nraise SystemExit('executed!')\n")
    again = load(py)
    assert again.nir_spec == model.nir_spec
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    bad = tmp_path / "other.py"
    bad.write_text("print('hello')\n")
    with pytest.raises(FileFormatError, match="not a model written by nirhub"):
        load(bad)


def test_save_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    from nirhub.testing import primitive_graph

    model = from_ir(primitive_graph("LIF"))
    save(model, tmp_path / "m.py")
    with pytest.raises(RefusedError):
        save(model, tmp_path / "m.py", force=False)
    backend = plugin.TorchBackend()  # the hook: the user's --force reaches the artifact
    with pytest.raises(RefusedError):
        backend.save(model, tmp_path / "m.py", force=False)
    assert backend.save(model, tmp_path / "m.py", force=True)[0] == tmp_path / "m.py"


def test_convert_through_the_hub(tmp_path: Path) -> None:
    registry = isolated_registry(plugin)
    report = convert(
        CORPUS / "lif" / "lif_norse.nir",
        to="torch",
        output=tmp_path / "lif.py",
        dt=1e-4,
        registry=registry,
    )
    assert sorted(p.name for p in report.outputs) == ["lif.pt", "lif.py"]
    back = to_ir(tmp_path / "lif.py", "torch", registry=registry)
    x = lif_task_input()
    res = simulate(back, x)
    assert np.flatnonzero(res.outputs["output"][:, 0]).tolist() == [460, 510, 710, 760]
    assert back.metadata["nirhub"]["dt"] == 1e-4


def test_whole_module_pickle_loads_safely_through_the_hub(tmp_path: Path) -> None:
    from nirhub.testing import primitive_graph

    graph = primitive_graph("NIRGraph")
    torch.save(from_ir(graph), tmp_path / "whole.pt")
    registry = isolated_registry(plugin)
    back = to_ir(tmp_path / "whole.pt", registry=registry)  # weights-only unpickler
    assert back == graph.replace(metadata=back.metadata)
