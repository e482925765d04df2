"""Convolutions: refused by default, unrolled into exact dense matrices with -O unroll-conv."""

from __future__ import annotations

import numpy as np
from conftest import DT
from nirhub_xylo.plugin import XyloBackend
from nirhub_xylo.unroll import dense_matrix

from nirhub.ir.conventions import set_dt, set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import Conv1d, CubaLIF, Flatten, Input, Linear, Output
from nirhub.metrics import activity_similarity
from nirhub.sim import simulate

BACKEND = XyloBackend()


def cuba(shape: tuple[int, ...], tau_mem: float = 8e-4, tau_syn: float = 4e-4) -> CubaLIF:
    return CubaLIF(
        tau_syn=np.full(shape, tau_syn),
        tau_mem=np.full(shape, tau_mem),
        r=np.full(shape, 2.0),
        v_leak=np.zeros(shape),
        v_threshold=np.ones(shape),
        w_in=np.ones(shape),
    )


def conv_graph() -> Graph:
    rng = np.random.default_rng(7)
    g = Graph(
        {
            "input": Input((2, 8)),
            "conv": Conv1d(None, rng.normal(0.6, 0.5, (3, 2, 3)), 1, 0, 1, 1, None),
            "lif1": cuba((3, 6)),
            "flat": Flatten(None, 0, -1),
            "fc": Linear(rng.normal(0.3, 0.4, (4, 18))),
            "lif2": cuba((4,), 4e-4, 2e-4),
            "output": Output(),
        },
        [("input", "conv"), ("conv", "lif1"), ("lif1", "flat"), ("flat", "fc"), ("fc", "lif2"),
         ("lif2", "output")],
    )  # fmt: skip
    set_dt(g.metadata, DT)
    set_reset(g.metadata, "subtract")
    return g


def test_dense_matrix_is_the_convolution() -> None:
    from nirhub.sim.conv import ConvOp

    rng = np.random.default_rng(0)
    node = Conv1d(None, rng.normal(size=(3, 2, 3)), 2, 1, 1, 1, None)
    x = rng.normal(size=(5, 2, 9))
    w = dense_matrix(node, (2, 9))
    ref = ConvOp(node.weight, None, (2,), (1,), (1,), 1, np.dtype(np.float64))(x)
    np.testing.assert_allclose(x.reshape(5, -1) @ w.T, ref.reshape(5, -1), atol=1e-12)


def test_conv_refused_by_default_and_unrolled_on_request() -> None:
    g = conv_graph()
    problems = BACKEND.check(g)
    assert [p.where for p in problems] == ["conv"] and "unroll-conv" in problems[0].message
    assert BACKEND.check(g, unroll_conv=True) == []
    x = (np.random.default_rng(1).random((400, 2, 8)) < 0.3).astype(np.float64)
    got = BACKEND.run(g, {"input": x}, DT, record=("lif1",), unroll_conv=True)
    ref = simulate(g, x, DT, record=["lif1"])
    a, b = got.recorded["lif1"]["spikes"], ref.recorded["lif1"]["spikes"]
    assert a.shape == b.shape == (400, 3, 6)
    assert b.sum() > 200
    assert activity_similarity(a, b) >= 0.97, activity_similarity(a, b)
    assert activity_similarity(got.outputs["output"], ref.outputs["output"]) >= 0.95
