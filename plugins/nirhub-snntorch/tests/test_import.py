"""IR -> snnTorch: the generated models against nirhub's reference simulator.

Tolerances: in float64 the neuron arithmetic follows the simulator's coefficients and order of
operations, so spikes are compared exactly and states to 1e-12 (matrix products may differ in
the last bits); float32 runs compare spikes exactly and states to 1e-4.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nirhub_snntorch.artifact import load, save
from nirhub_snntorch.import_ import from_ir
from nirhub_snntorch.run import run

from nirhub.errors import FileFormatError, UnsupportedError
from nirhub.io import read
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import IF, LIF, Affine, CubaLIF, Input, Linear, Output
from nirhub.sim import simulate
from nirhub.testing import (
    BRAILLE_GRAPHS,
    check_braille_paper_activity,
    check_lif_task,
)
from nirhub.testing.corpus import CORPUS, braille_input
from nirhub.testing.standalone import run_without_nirhub


def _mlp(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    return Graph.from_list(
        Affine(rng.normal(size=(20, 6)).astype(np.float32), rng.normal(size=20) * 0.1),
        LIF(np.full(20, 2e-3), np.full(20, 3.0), np.zeros(20), np.full(20, 0.5)),
        Affine(rng.normal(size=(4, 20)) * 0.8, np.zeros(4)),
        LIF(
            np.array([1e-3, 2e-3, 3e-3, 5e-3]),
            np.ones(4) * 4,
            np.zeros(4),
            np.full(4, 0.3),
            np.zeros(4),
        ),
    )


def _compare(
    graph: Graph,
    x: np.ndarray,
    dt: float,
    record: list[str],
    *,
    dtype: str = "float64",
    atol: float = 1e-12,
    **kw,
) -> dict[str, int]:
    ref = simulate(graph, x, dt, record=record, dtype=np.dtype(dtype), **kw)
    res = run(graph, x, dt, record=record, dtype=dtype, **kw)
    counts = {}
    for path in record:
        np.testing.assert_array_equal(
            res.recorded[path]["spikes"], ref.recorded[path]["spikes"], err_msg=path
        )
        for var in ("v", "I"):
            if var in ref.recorded[path]:
                np.testing.assert_allclose(
                    res.recorded[path][var],
                    ref.recorded[path][var],
                    rtol=0,
                    atol=atol,
                    err_msg=f"{path}.{var}",
                )
        counts[path] = int(res.recorded[path]["spikes"].sum())
    for name in graph.outputs:
        np.testing.assert_allclose(res.outputs[name], ref.outputs[name], rtol=0, atol=atol)
    return counts


@pytest.mark.parametrize("method", ["euler", "exact"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_affine_lif_mlp(method: str, reset: str) -> None:
    graph = _mlp()
    x = np.random.default_rng(1).uniform(0, 1.5, size=(80, 3, 6))
    counts = _compare(graph, x, 1e-4, ["lif", "lif_1"], method=method, reset=reset)
    assert counts["lif"] > 50 and counts["lif_1"] > 5, counts
    counts32 = _compare(
        graph,
        x.astype(np.float32),
        1e-4,
        ["lif", "lif_1"],
        dtype="float32",
        atol=1e-4,
        method=method,
        reset=reset,
    )
    assert counts32 == counts


@pytest.mark.parametrize("name,reset,hidden", BRAILLE_GRAPHS)
def test_braille_graphs(name: str, reset: str, hidden: int) -> None:
    graph, x = read(CORPUS / "rnn" / f"{name}.nir"), braille_input()
    counts = _compare(graph, x, 1e-4, ["lif1.lif", "lif2"], reset=reset, atol=1e-12)
    assert counts["lif1.lif"] == hidden
    counts32 = _compare(
        graph, x, 1e-4, ["lif1.lif", "lif2"], reset=reset, dtype="float32", atol=1e-4
    )
    assert counts32 == counts


def test_braille_b_with_snntorch_reset_reproduces_the_paper() -> None:
    """Graph B was trained with snnTorch's reset_delay=False subtraction: imported with that
    mode, snnTorch reproduces the paper's recorded activity cell for cell."""
    check_braille_paper_activity(run)
    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    model = from_ir(graph, dt=1e-4, reset="subtract-guarded")
    assert model.lif1_lif.reset_mechanism == "subtract" and model.lif1_lif.reset_delay is False


def test_if_network_is_an_integrator() -> None:
    rng = np.random.default_rng(2)
    graph = Graph.from_list(
        Linear(rng.uniform(0, 1, size=(10, 5))),
        IF(np.full(10, 2000.0), np.full(10, 0.4)),
        Linear(rng.normal(size=(3, 10))),
        IF(np.full(3, 5000.0), np.full(3, 0.2), np.full(3, -0.1)),
    )
    model = from_ir(graph, dt=1e-4)
    assert torch.all(model.n_if.beta == 1.0)  # IF -> Leaky(beta=1), not leaky
    x = rng.uniform(0, 1, size=(60, 2, 5))
    counts = _compare(graph, x, 1e-4, ["if", "if_1"], reset="zero")
    assert counts["if"] > 30 and counts["if_1"] > 0
    _compare(graph, x, 1e-4, ["if", "if_1"], reset="subtract")


def test_cnn_sinabs_on_synthetic_events() -> None:
    graph = read(CORPUS / "cnn" / "cnn_sinabs.nir")
    rng = np.random.default_rng(0)
    # Poisson event counts per frame on the (2, 34, 34) sensor; dt = 1 so a frame drives the
    # IF neurons (r = 1, threshold 1) by its counts, as Sinabs runs it
    x = rng.poisson(0.3, size=(12, 2, 2, 34, 34)).astype(np.float64)
    counts = _compare(graph, x, 1.0, ["1", "3", "6", "10", "12"], atol=1e-9)
    assert counts["1"] > 500 and counts["10"] > 0


def test_lif_task_spike_steps() -> None:
    check_lif_task(run, method=("euler", "exact"), dtype=("float32", "float64"))


def test_cubalif_with_leak_and_reset_value_exact_method() -> None:
    n = 5
    graph = Graph.from_list(
        Linear(np.eye(n) * 2.0),
        CubaLIF(
            np.full(n, 8e-4),
            np.array([1e-3, 2e-3, 8e-4, 3e-3, 5e-4]),
            np.full(n, 2.0),
            np.array([0.0, 0.2, -0.1, 0.6, 0.0]),
            np.full(n, 0.5),
            np.array([0.0, 0.1, -0.2, 0.0, 0.05]),
            np.full(n, 1.5),
        ),
    )
    x = np.random.default_rng(3).uniform(0, 1, size=(70, n))
    for method in ("euler", "exact"):
        counts = _compare(graph, x, 1e-4, ["cubalif"], method=method)
        assert counts["cubalif"] > 10


def test_euler_decay_below_zero_is_refused_for_every_node() -> None:
    graph = Graph(
        {
            "in": Input((2,)),
            "a": LIF(np.array([5e-5, 1e-3]), np.ones(2), np.zeros(2), np.ones(2)),
            "b": CubaLIF(np.full(2, 5e-5), np.full(2, 1e-3), np.ones(2), np.zeros(2), np.ones(2)),
            "out": Output(None),
        },
        [("in", "a"), ("a", "b"), ("b", "out")],
    )
    with pytest.raises(UnsupportedError) as info:
        from_ir(graph, dt=1e-4)
    assert {p.where for p in info.value.problems} == {"a", "b"}
    from_ir(graph, dt=1e-4, method="exact")  # exp(-dt/tau) is always a valid decay


NO_NIRHUB = """
import importlib.util, sys
for name in ("nirhub_snntorch", "nirhub_torch", "nir"):
    sys.modules[name] = None
import numpy as np, torch
spec = importlib.util.spec_from_file_location("generated", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
model = mod.build_model()
with torch.no_grad():
    y = model(torch.as_tensor(np.load(sys.argv[2])))
np.save(sys.argv[3], y.numpy())
print(type(model.lif1_lif).__module__)
"""


def test_artifact_runs_without_nirhub(tmp_path: Path) -> None:
    graph = read(CORPUS / "rnn" / "braille_noDelay_bias_zero.nir")
    x = braille_input()
    model = from_ir(graph, dt=1e-4, dtype="float64")
    py, pt = save(model, tmp_path / "braille.py")
    state = torch.load(pt, weights_only=True)
    assert "fc1.weight" in state and "lif1_lif.alpha" in state
    np.save(tmp_path / "x.npy", x)
    printed = run_without_nirhub(NO_NIRHUB, py, tmp_path / "x.npy", tmp_path / "y.npy")
    y = np.load(tmp_path / "y.npy")
    assert printed.startswith("snntorch")
    np.testing.assert_array_equal(y, simulate(graph, x, 1e-4).outputs["output"])


def test_load_parses_without_executing(tmp_path: Path) -> None:
    model = from_ir(_mlp(), dt=1e-4)
    py, _ = save(model, tmp_path / "mlp.py")
    py.write_text(py.read_text() + "\nraise SystemExit('executed!')\n")
    again = load(py)
    assert type(again).NIR_SPEC == type(model).NIR_SPEC
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    other = tmp_path / "other.py"
    other.write_text("import os\n")
    with pytest.raises(FileFormatError, match="not a model written by nirhub"):
        load(other)
    json.dumps(type(again).NIR_SPEC)  # the spec is plain data
