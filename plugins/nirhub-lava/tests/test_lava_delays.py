"""Delay nodes become synaptic delays (DelayDense/DelaySparse), aligned with the reference."""

from __future__ import annotations

import numpy as np
import pytest

import nirhub
from nirhub import metrics
from nirhub.errors import UnsupportedError
from nirhub.hub.convert import simulate_with_backend
from nirhub.ir.conventions import set_dt
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, Affine, Delay, Input, Linear, Output

DT = 1e-4


def _graph(rng, delay_in, delay_mid) -> Graph:
    """input -> d0 -> fc1 -> lif1 -> fc2 -> d1 -> lif2 -> output (+ a recurrent fc on lif1)."""
    n_in, n1, n2 = 4, 6, 3
    lif = lambda n: LIF(np.full(n, 1e-3), np.full(n, 10.0), np.zeros(n), np.full(n, 1.0))  # noqa: E731
    nodes = {
        "input": Input((n_in,)),
        "d0": Delay(delay_in),
        "fc1": Affine(rng.normal(0.6, 0.5, (n1, n_in)), rng.normal(0.02, 0.01, n1)),
        "lif1": lif(n1),
        "rec": Linear(rng.normal(0, 0.3, (n1, n1))),
        "fc2": Linear(rng.normal(0.5, 0.5, (n2, n1))),
        "d1": Delay(delay_mid),
        "lif2": lif(n2),
        "output": Output((n2,)),
    }
    edges = [("input", "d0"), ("d0", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"),
             ("lif1", "fc2"), ("fc2", "d1"), ("d1", "lif2"), ("lif2", "output")]  # fmt: skip
    g = Graph(nodes, edges)
    set_dt(g.metadata, DT)
    return g


def test_delays_match_reference(registry):
    rng = np.random.default_rng(3)
    g = _graph(rng, np.array([0, 2, 5, 1]) * DT, np.full(3, 3 * DT))
    x = (rng.random((60, 4)) < 0.4).astype(float)
    ref = nirhub.simulate(g, x, record=["lif1"])
    assert ref["output"].sum() > 5 and ref.spikes("lif1").sum() > 10
    res = simulate_with_backend(g, x, DT, "lava", registry=registry, record=("lif1",))
    np.testing.assert_array_equal(res.spikes("lif1"), ref.spikes("lif1"))
    np.testing.assert_array_equal(res["output"], ref["output"])
    # per-element delays before lif2 (right before the target) work too
    g2 = _graph(rng, np.full(4, 2 * DT), np.array([0, 4, 1]) * DT)
    ref2 = nirhub.simulate(g2, x)
    res2 = simulate_with_backend(g2, x, DT, "lava", registry=registry)
    np.testing.assert_array_equal(res2["output"], ref2["output"])
    # the same delays in fixed point (DelayDense's bit-accurate model)
    fx = simulate_with_backend(g, x, DT, "loihi2", registry=registry, record=("lif1",))
    assert metrics.activity_similarity(ref.spikes("lif1"), fx.spikes("lif1")) >= 0.95
    assert metrics.activity_similarity(ref["output"], fx["output"]) >= 0.95


def test_per_element_delay_between_stateless_nodes_is_refused(registry):
    rng = np.random.default_rng(0)
    g = _graph(rng, np.zeros(4), np.full(3, DT))
    nodes = dict(g.nodes)
    nodes["fc0"] = Linear(np.eye(4))
    nodes["d0"] = Delay(np.array([0, 1, 2, 3]) * DT)
    edges = [e for e in g.edges if e != ("input", "d0")] + [("input", "fc0"), ("fc0", "d0")]
    g3 = Graph(nodes, edges, g.metadata)
    with pytest.raises(UnsupportedError) as info:
        registry.get("lava").from_ir(g3)
    assert [p.where for p in info.value.problems] == ["d0"]
