"""Two hidden populations (Xylo chains them through the recurrent matrix, one step per hop):
maps to every chip, and the run hook undoes the per-hop delay."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DT
from nirhub_xylo.plugin import XyloBackend

from nirhub.ir.conventions import set_dt, set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import CubaLIF, Input, Linear, Output
from nirhub.metrics import activity_similarity
from nirhub.sim import simulate

BACKEND = XyloBackend()


def two_hidden_layers(seed: int = 4) -> Graph:
    rng = np.random.default_rng(seed)

    def cuba(n: int, tau_mem: float, tau_syn: float) -> CubaLIF:
        return CubaLIF(
            tau_syn=np.full(n, tau_syn),
            tau_mem=np.full(n, tau_mem),
            r=np.full(n, 2.0),
            v_leak=np.zeros(n),
            v_threshold=np.ones(n),
            w_in=np.full(n, 1.0),
        )

    g = Graph(
        {
            "input": Input((6,)),
            "fc1": Linear(rng.normal(0.5, 0.4, (16, 6))),
            "h1": cuba(16, 8e-4, 4e-4),
            "rec": Linear(rng.normal(0, 0.15, (16, 16))),
            "fc2": Linear(rng.normal(0.4, 0.5, (12, 16))),
            "h2": cuba(12, 8e-4, 2e-4),
            "fc3": Linear(rng.normal(0.4, 0.4, (3, 12))),
            "out": cuba(3, 4e-4, 2e-4),
            "output": Output(),
        },
        [("input", "fc1"), ("fc1", "h1"), ("h1", "rec"), ("rec", "h1"), ("h1", "fc2"),
         ("fc2", "h2"), ("h2", "fc3"), ("fc3", "out"), ("out", "output")],
    )  # fmt: skip
    set_dt(g.metadata, DT)
    set_reset(g.metadata, "subtract")
    return g


@pytest.mark.parametrize("chip", ["xylo-audio2", "xylo-audio3", "xylo-imu"])
def test_two_hidden_populations_match_reference(chip: str) -> None:
    g = two_hidden_layers()
    x = (np.random.default_rng(1).random((400, 6)) < 0.3).astype(np.float64)
    assert BACKEND.check(g, chip=chip) == []
    got = BACKEND.run(g, {"input": x}, DT, record=("h1", "h2"), chip=chip)
    ref = simulate(g, x, DT, record=["h1", "h2"])
    for path in ("h1", "h2"):
        a, b = got.recorded[path]["spikes"], ref.recorded[path]["spikes"]
        assert b.sum() > 100
        assert activity_similarity(a, b) >= 0.97, (path, activity_similarity(a, b))
    assert activity_similarity(got.outputs["output"], ref.outputs["output"]) >= 0.95
    # the delays are undone: without the shift, h2 would lag h1 by one step on the chip
    model = BACKEND.from_ir(g, chip=chip)
    assert [p.depth for p in model.populations] == [0, 1, 2]
