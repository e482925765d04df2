"""Neuron variants (multi-spike, ``>=``, ``v_min``, staged ZOH) in the torch backend.

The torch backend runs the IR exactly like the reference simulator, variants included: in
float64 the neuron signals are bit-identical (the Affine in front may differ in the last bits,
|difference| <= 1e-12), spike counts are compared exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nirhub_torch.artifact import load, save
from nirhub_torch.export import to_ir
from nirhub_torch.import_ import from_ir

from nirhub.errors import UnsupportedError
from nirhub.ir.conventions import get_variant, set_reset, set_variant
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import IF, LIF, Affine, CubaLIF, Input, Output
from nirhub.sim import simulate

DT = 1e-4


def graph_with(neuron, seed: int = 1) -> Graph:
    rng = np.random.default_rng(seed)
    w = 3 * rng.normal(size=(5, 6))
    b = 0.1 * rng.normal(size=5)
    return Graph(
        {"input": Input((6,)), "fc": Affine(w, b), "n": neuron, "output": Output()},
        [("input", "fc"), ("fc", "n"), ("n", "output")],
    )


def neuron(kind: str):
    if kind == "IF":
        return IF(np.full(5, 1e4), np.full(5, 0.5), np.zeros(5))
    if kind == "LIF":
        return LIF(np.full(5, 2e-3), np.ones(5), np.zeros(5), np.full(5, 0.5), np.zeros(5))
    return CubaLIF(
        np.full(5, 1e-3), np.full(5, 2e-3), np.ones(5), np.zeros(5), np.full(5, 0.5), np.zeros(5)
    )


CASES = {
    "multi": {"spikes": "multi", "threshold": ">="},
    "max3": {"spikes": "multi", "max_spikes": 3},
    "ge": {"threshold": ">="},
    "v_min": {"v_min": -0.2},
    "all": {"spikes": "multi", "max_spikes": 2, "threshold": ">=", "v_min": [-1, -0.5, 0, -1, -2]},
}


def run_both(graph: Graph, method: str):
    x = (np.random.default_rng(2).random((300, 2, 6)) < 0.4) * 2.0
    ref = simulate(graph, x, DT, method=method, record=["n"])
    model = from_ir(graph, dt=DT, method=method, dtype="float64")
    with torch.no_grad():
        out, rec = model.run({"input": torch.as_tensor(x)}, record=["n"])
    return ref, out["output"].numpy(), {k: v.numpy() for k, v in rec["n"].items()}


@pytest.mark.parametrize("method", ["euler", "exact"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("kind", ["IF", "LIF", "CubaLIF"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_variants_match_reference(case: str, kind: str, reset: str, method: str) -> None:
    node = neuron(kind)
    set_reset(node.metadata, reset)
    set_variant(node.metadata, **CASES[case])
    ref, got, rec = run_both(graph_with(node), method)
    assert ref.outputs["output"].sum() > 50
    np.testing.assert_array_equal(got, ref.outputs["output"])
    np.testing.assert_allclose(rec["v"], ref.recorded["n"]["v"], rtol=0, atol=1e-12)
    if "count" in ref.recorded["n"]:
        np.testing.assert_array_equal(rec["count"], ref.recorded["n"]["count"])


@pytest.mark.parametrize("spikes", ["single", "multi"])
def test_staged_cubalif(spikes: str) -> None:
    node = neuron("CubaLIF")
    set_reset(node.metadata, "subtract")
    set_variant(node.metadata, spikes=spikes, discretization="staged")
    ref, got, rec = run_both(graph_with(node), "exact")
    np.testing.assert_array_equal(got, ref.outputs["output"])
    np.testing.assert_allclose(rec["v"], ref.recorded["n"]["v"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(rec["I"], ref.recorded["n"]["I"], rtol=0, atol=1e-12)


def test_multi_spike_with_snntorch_reset_is_refused() -> None:
    node = neuron("LIF")
    set_reset(node.metadata, "subtract-delayed")
    set_variant(node.metadata, spikes="multi")
    with pytest.raises(UnsupportedError, match="n: multi-spike output combines"):
        from_ir(graph_with(node), dt=DT)


def test_variants_survive_export_and_artifact(tmp_path) -> None:
    node = neuron("CubaLIF")
    set_reset(node.metadata, "subtract")
    set_variant(node.metadata, spikes="multi", max_spikes=4, v_min=-0.5, discretization="staged")
    graph = graph_with(node)
    model = from_ir(graph, dt=DT, method="exact", dtype="float64")
    back = to_ir(model)
    v = get_variant(back.nodes["n"], "n")
    assert (v.spikes, v.max_spikes, float(v.v_min), v.discretization) == (
        "multi",
        4,
        -0.5,
        "staged",
    )
    save(model, tmp_path / "m.py")
    again = load(tmp_path / "m.py", dtype="float64")
    x = torch.as_tensor((np.random.default_rng(5).random((100, 2, 6)) < 0.4) * 30.0)
    with torch.no_grad():
        a, b = model(x), again(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.max() >= 2
