"""The issue's checks on the NIR paper's Braille graphs, and the chip limits."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DT, RNN
from nirhub_xylo.plugin import XyloBackend

from nirhub.errors import UnsupportedError
from nirhub.io import read
from nirhub.metrics import activity_similarity
from nirhub.sim import simulate
from nirhub.testing.corpus import braille_input

BACKEND = XyloBackend()
#: graph B (trained with reset by subtraction): XyloSim's hidden activity vs the reference
#: simulator; measured 0.9924 with nirhub's finer membrane units, 0.9858 in rockpool's (the
#: paper's Xylo run: 0.59)
BOUND_B = 0.99
#: graph A (trained with reset to zero, Affine biases): Xylo can only subtract, and the biases
#: go onto the membrane; measured 0.9526 against the zero-reset reference (rockpool's units:
#: 0.9094)
BOUND_A = 0.94

GRAPHS = {
    "B": ("braille_noDelay_noBias_subtract", {}, "subtract", "lif1.lif", BOUND_B),
    "B-nested": ("braille_noDelay_noBias_subtract_subgraph", {}, "subtract", "lif1.lif1", BOUND_B),
    "A": ("braille_noDelay_bias_zero", {"bias": "membrane"}, "zero", "lif1.lif", BOUND_A),
    "A-nested": ("braille_noDelay_bias_zero_subgraph", {"bias": "membrane"}, "zero", "lif1.lif1",
                 BOUND_A),
}  # fmt: skip


def _graph(name: str):
    # the paper's *_subgraph files name a node wrongly in their edges: read tolerantly
    return read(RNN / f"{name}.nir", strict=False).graph


@pytest.mark.parametrize("key", list(GRAPHS))
def test_braille_maps_to_xylo_audio2_and_matches_reference(key: str) -> None:
    name, opts, trained_reset, hidden, bound = GRAPHS[key]
    graph = _graph(name)
    model = BACKEND.from_ir(graph, dt=DT, reset="subtract", **opts)
    assert model.chip.part == "syns61201"
    q = model.spec
    assert q["weights_in"].shape[:2] == (12, q["weights_rec"].shape[0])
    assert np.abs(q["weights_in"]).max() <= 127 and np.abs(q["weights_rec"]).max() <= 127
    assert q["weights_out"].shape[1] == 7
    got = BACKEND.run(graph, {"input": braille_input()}, DT, record=(hidden,), reset="subtract",
                      **opts)  # fmt: skip
    ref = simulate(graph, braille_input(), DT, reset=trained_reset, record=[hidden])
    xs, rs = got.recorded[hidden]["spikes"], ref.recorded[hidden]["spikes"]
    assert rs.sum() > 50 and xs.sum() > 50
    sim = activity_similarity(xs, rs)
    assert sim >= bound, f"{key}: hidden activity similarity {sim:.4f} < {bound}"
    # the output layer too (time-aligned by the run hook), looser: it sees the hidden error
    assert activity_similarity(got.outputs["output"], ref.outputs["output"]) >= 0.9


def test_graph_b_is_refused_without_reset_choice_naming_nodes() -> None:
    graph = _graph("braille_noDelay_noBias_subtract")
    problems = BACKEND.check(graph, dt=DT)
    assert {p.where for p in problems} == {"lif1.lif", "lif2"}
    assert all("-O reset=subtract" in p.message for p in problems)


def test_biases_are_refused_unless_moved() -> None:
    graph = _graph("braille_noDelay_bias_zero")
    problems = BACKEND.check(graph, dt=DT, reset="subtract")
    assert {p.where for p in problems} == {"fc1", "fc2"}
    assert all("-O bias=membrane" in p.message for p in problems)
    assert BACKEND.check(graph, dt=DT, reset="subtract", bias="membrane") == []


def test_chip_limits_name_node_limit_and_fix() -> None:
    graph = _graph("braille_noDelay_noBias_subtract")
    # Xylo IMU: rockpool's IMU mapper cannot map one population that is both input- and
    # output-expansion layer: refused by name
    problems = BACKEND.check(graph, dt=DT, reset="subtract", chip="xylo-imu")
    assert [p.where for p in problems] == ["lif1.lif"] and "IMU mapper" in problems[0].message
    assert BACKEND.check(graph, dt=DT, reset="subtract", chip="xylo-audio3") == []
    from nirhub_xylo.chips import Chip
    from nirhub_xylo.structure import analyse

    tiny = Chip("tiny", "syns61201", "a tiny Xylo", inputs=8, hidden=16, outputs=4,
                synapses_per_hidden=1)  # fmt: skip
    _, problems = analyse(graph, tiny, dt=DT, reset="subtract")
    text = {p.where: p.message for p in problems}
    assert "12 input channels" in text["fc1"] and "has 8" in text["fc1"]
    assert "40 hidden neurons" in text["lif1.lif"] and "has 16" in text["lif1.lif"]
    assert "7 output neurons" in text["lif2"] and "has 4" in text["lif2"]
    # a decay longer than 15 bit shifts at this dt
    _, problems = analyse(graph, tiny, dt=1e-9, reset="subtract")
    assert any("decay shift" in p.message for p in problems)


@pytest.mark.parametrize("chip", ["xylo-audio3"])
def test_other_chips_map_and_simulate(chip: str) -> None:
    graph = _graph("braille_noDelay_noBias_subtract")
    got = BACKEND.run(graph, {"input": braille_input()}, DT, record=("lif1.lif",),
                      reset="subtract", chip=chip)  # fmt: skip
    ref = simulate(graph, braille_input(), DT, reset="subtract", record=["lif1.lif"])
    sim = activity_similarity(
        got.recorded["lif1.lif"]["spikes"], ref.recorded["lif1.lif"]["spikes"]
    )
    assert sim >= BOUND_B


def test_refusals_for_shapes_xylo_cannot_run() -> None:
    from nirhub.ir.graph import Graph
    from nirhub.ir.nodes import LIF, Conv1d, Input, Linear, Output

    rng = np.random.default_rng(0)
    graph = Graph(
        {
            "input": Input((2, 8)),
            "conv": Conv1d(None, rng.normal(size=(3, 2, 3)), 1, 0, 1, 1, np.zeros(3)),
            "output": Output(),
        },
        [("input", "conv"), ("conv", "output")],
    )
    problems = BACKEND.check(graph, dt=DT)
    assert [p.where for p in problems] == ["conv"] and "dense" in problems[0].message
    graph = Graph(
        {
            "input": Input((4,)),
            "fc1": Linear(rng.normal(size=(5, 4))),
            "lif": LIF(np.full(5, 1e-3), np.ones(5), np.zeros(5), np.ones(5)),
            "fc2": Linear(rng.normal(size=(2, 5))),
            "lif2": LIF(np.full(2, 1e-3), np.ones(2), np.zeros(2), np.ones(2)),
            "output": Output(),
        },
        [("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
    )
    problems = BACKEND.check(graph, dt=DT, reset="subtract")
    assert {p.where for p in problems} == {"lif", "lif2"}
    assert all("CubaLIF" in p.message for p in problems)
    with pytest.raises(UnsupportedError):
        BACKEND.from_ir(graph, dt=DT, reset="subtract")
