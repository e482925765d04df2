"""Ties at the threshold (issue 14): integer and dyadic networks land exactly on it.

Sinabs fires at ``v >= thr``, NIR at ``v > thr``. On a quantized IF network (integer weights,
thresholds 2 and 3, binary input: what Speck users deploy) that used to change 510 of 3200
hidden spikes silently. The importer now gives single-spike neurons the next float32 above the
threshold (and subtracts the threshold itself): spike for spike, ties included.
"""

from __future__ import annotations

import numpy as np
import pytest
from nirhub_sinabs.plugin import SinabsBackend

from nirhub.ir import IF, Graph, Input, Linear, Output
from nirhub.sim import simulate

BACKEND = SinabsBackend()


def integer_if_network(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    return Graph(
        {
            "input": Input((16,)),
            "fc1": Linear(rng.integers(-1, 3, (32, 16)).astype(np.float32)),
            "if1": IF(np.ones(32), np.full(32, 2.0)),
            "fc2": Linear(rng.integers(-1, 3, (8, 32)).astype(np.float32)),
            "if2": IF(np.ones(8), np.full(8, 3.0)),
            "output": Output(),
        },
        [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"), ("if2", "output")],
    )


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_integer_network_is_exact_at_ties(reset: str) -> None:
    graph = integer_if_network()
    x = (np.random.default_rng(1).random((100, 2, 16)) < 0.3).astype(np.float64)
    got = BACKEND.run(graph, x, 1.0, record=("if1",), reset=reset)
    ref = simulate(graph, x, 1.0, record=["if1"], reset=reset)
    # a tie: v lands exactly on the threshold (2) and NIR does not fire
    ties = int(np.count_nonzero(ref.recorded["if1"]["v"] == 2.0))
    assert ref.recorded["if1"]["spikes"].sum() > 200 and ties > 20
    np.testing.assert_array_equal(got.recorded["if1"]["spikes"], ref.recorded["if1"]["spikes"])
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
    np.testing.assert_array_equal(got.recorded["if1"]["v"], ref.recorded["if1"]["v"])


def test_dyadic_input_spikes_at_step_17_not_16() -> None:
    """0.0625 per step reaches 1.0 exactly at step 16; v > 1 first holds at step 17."""
    graph = Graph(
        {
            "input": Input((1,)),
            "fc": Linear(np.array([[0.0625]], np.float32)),
            "if": IF(np.ones(1), np.ones(1)),
            "output": Output(),
        },
        [("input", "fc"), ("fc", "if"), ("if", "output")],
    )
    x = np.ones((40, 1))
    ref = simulate(graph, x, 1.0).outputs["output"][:, 0]
    got = BACKEND.run(graph, x, 1.0).outputs["output"][:, 0]
    assert np.flatnonzero(ref)[0] == 16  # 0-based: the 17th step
    np.testing.assert_array_equal(got, ref)
