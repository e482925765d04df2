"""Neuron variants (``node.metadata["nirhub"]``): the staged zero-order hold is Lava's own
update order and runs exactly; multi-spike, ``v >= thr`` and ``v_min`` are refused by node."""

from __future__ import annotations

import numpy as np
import pytest

import nirhub
from nirhub.errors import UnsupportedError
from nirhub.hub.convert import simulate_with_backend
from nirhub.ir.conventions import set_dt, set_method
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, CubaLIF, Input, Linear, Output

DT = 1e-4


def _graph(neuron, meta: dict) -> Graph:
    neuron.metadata["nirhub"] = meta
    rng = np.random.default_rng(5)
    g = Graph(
        {
            "input": Input((4,)),
            "fc": Linear(rng.normal(0.8, 0.5, (3, 4))),
            "n": neuron,
            "output": Output((3,)),
        },
        [("input", "fc"), ("fc", "n"), ("n", "output")],
    )
    set_dt(g.metadata, DT)
    set_method(g.metadata, "exact")
    return g


def test_staged_cubalif_under_exact_runs_exactly(registry):
    ones = np.ones(3)
    neuron = CubaLIF(ones * 3e-4, ones * 1e-3, ones * 10, ones * 0.1, ones * 1.0, w_in=ones * 3)
    g = _graph(neuron, {"discretization": "staged"})
    x = (np.random.default_rng(2).random((50, 4)) < 0.4).astype(float)
    ref = nirhub.simulate(g, x, record=["n"])
    assert ref["output"].sum() > 5
    res = simulate_with_backend(g, x, DT, "lava", registry=registry, record=("n",))
    np.testing.assert_array_equal(res["output"], ref["output"])
    np.testing.assert_allclose(res.v("n"), ref.v("n"), atol=1e-12)
    # without the variant the coupled exact solution is refused, naming the node
    neuron2 = CubaLIF(ones * 3e-4, ones * 1e-3, ones * 10, ones * 0.1, ones * 1.0, w_in=ones * 3)
    with pytest.raises(UnsupportedError) as info:
        registry.get("lava").from_ir(_graph(neuron2, {}))
    assert [p.where for p in info.value.problems] == ["n"]


@pytest.mark.parametrize("meta", [{"spikes": "multi"}, {"threshold": ">="}, {"v_min": -1.0}])
def test_other_variants_are_refused(registry, meta):
    ones = np.ones(3)
    g = _graph(LIF(ones * 1e-3, ones * 10, ones * 0, ones * 1.0), meta)
    for name in ("lava", "loihi2"):
        problems = registry.get(name).check(g)
        assert [p.where for p in problems] == ["n"], (name, problems)
        assert "variant" in problems[0].message
