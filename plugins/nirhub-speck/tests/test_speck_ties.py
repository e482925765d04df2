"""Ties at the threshold on Speck (issue 14): exact where an integer scale keeps the ratios.

NIR fires at ``v > v_threshold``, the chip at ``v >= threshold``. On a quantized IF network
(integer weights, thresholds 2 and 3, binary input: what Speck users deploy) v lands exactly
on the threshold all the time; sinabs' discretization (127 units for the largest weight) used to
change 450 hidden and 233 output cells, with only a warning. Now every layer whose weights an
integer scale T maps exactly onto 8 bits gets the threshold T + 1 (zero reset) or T with v
starting at -1 (subtract reset): spike for spike with the reference simulator, no warning.
A layer that cannot keep its ratios still warns, naming the node and the measured cells.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from nirhub_speck.artifact import initial_values, load_artifact, rebuild_network, save_model
from nirhub_speck.build import build
from nirhub_speck.plugin import SpeckBackend
from nirhub_speck.run import simulate_model
from nirhub_speck.ties import ExactLayer

from nirhub.backend import ConversionWarning
from nirhub.backend.ties import tie_effects
from nirhub.ir import IF, AvgPool2d, Conv2d, Flatten, Graph, Input, Linear, Output, SumPool2d
from nirhub.ir.conventions import set_variant
from nirhub.sim import simulate

BACKEND = SpeckBackend()
RESETS = ["zero", "subtract"]


def chain(nodes: dict, shape: tuple[int, ...]) -> Graph:
    names = ["input", *nodes, "output"]
    every = {"input": Input(shape), **nodes, "output": Output()}
    return Graph(every, list(zip(names[:-1], names[1:], strict=True)))


def integer_mlp(seed: int = 0, big: float | None = None) -> Graph:
    """The issue's network: integer weights (-1..2, then -2..2), thresholds 2 and 3 (``big``:
    one weight of the first layer beyond 8 bits at that scale)."""
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-1, 3, (32, 16)).astype(np.float64)
    if big is not None:
        w1[0, 0] = big
    return chain(
        {
            "fc1": Linear(w1),
            "if1": IF(np.ones(32), np.full(32, 2.0)),
            "fc2": Linear(rng.integers(-2, 3, (8, 32)).astype(np.float64)),
            "if2": IF(np.ones(8), np.full(8, 3.0)),
        },
        (16,),
    )


def integer_cnn(pool: str) -> Graph:
    """A Speck-style CNN: integer 3x3 kernels and bias, threshold 2, 2x2 pooling, then an
    integer Linear with threshold 3 (after AvgPool2d its weights are w/4: T = 12)."""
    rng = np.random.default_rng(3)
    pooling = AvgPool2d((2, 2), (2, 2), (0, 0)) if pool == "avg" else SumPool2d((2, 2))
    return chain(
        {
            "c0": Conv2d(
                (8, 8),
                rng.integers(-1, 3, (4, 2, 3, 3)).astype(np.float64),
                bias=rng.integers(-1, 2, 4).astype(np.float64),
            ),
            "n0": IF(np.ones((4, 6, 6)), np.full((4, 6, 6), 2.0)),
            "p0": pooling,
            "f": Flatten((4, 3, 3), 0),
            "fc": Linear(rng.integers(-2, 3, (5, 36)).astype(np.float64)),
            "n1": IF(np.ones(5), np.full(5, 3.0)),
        },
        (2, 8, 8),
    )


def binary(shape: tuple[int, ...], steps: int, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, *shape)) < 0.3).astype(np.float64)


def converted(graph: Graph, reset: str) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = BACKEND.from_ir(graph, dt=1.0, reset=reset)
    return model, [str(w.message) for w in caught if issubclass(w.category, ConversionWarning)]


def assert_spike_for_spike(graph: Graph, x: np.ndarray, nodes: tuple[str, ...], reset: str):
    got = BACKEND.run(graph, x, 1.0, record=nodes, reset=reset)
    ref = simulate(graph, x, 1.0, record=list(nodes), reset=reset)
    for node in nodes:
        a, b = got.recorded[node]["spikes"], ref.recorded[node]["spikes"]
        assert np.count_nonzero(a != b) == 0, f"{node}: {np.count_nonzero(a != b)} cells differ"
        # v back in the graph's units, exactly (integers times v_threshold / T)
        np.testing.assert_array_equal(got.recorded[node]["v"], ref.recorded[node]["v"])
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
    return ref


@pytest.mark.parametrize("reset", RESETS)
def test_integer_mlp_is_exact_at_ties(reset: str) -> None:
    graph = integer_mlp()
    x = binary((16,), 200)
    ref = assert_spike_for_spike(graph, x, ("if1", "if2"), reset)
    # the ties are there: v lands exactly on the threshold, NIR does not fire
    assert int(np.count_nonzero(ref.recorded["if1"]["v"] == 2.0)) > 50
    assert ref.recorded["if1"]["spikes"].sum() > 500 and ref.outputs["output"].sum() > 50
    # what firing at v >= v_threshold would change (what the warning used to report)
    effects = {e.path: e.differing for e in tie_effects(graph, 1.0, reset=reset)}
    assert effects["if1"] > 100 and effects["if2"] > 10
    model, notes = converted(graph, reset)
    assert notes == []
    # the chip's integers are the graph's own: T = v_threshold, weights unchanged
    t1, t2 = model.ties
    assert isinstance(t1, ExactLayer) and isinstance(t2, ExactLayer)
    assert (t1.units, t2.units) == (2, 3)
    assert [float(layer.spk.spike_threshold) for layer in model.layers] == (
        [3.0, 4.0] if reset == "zero" else [2.0, 3.0]
    )
    np.testing.assert_array_equal(
        model.layers[0].conv.weight.detach().numpy().reshape(32, 16), graph.nodes["fc1"].weight
    )


@pytest.mark.parametrize("pool", ["sum", "avg"])
@pytest.mark.parametrize("reset", RESETS)
def test_integer_cnn_is_exact_at_ties(pool: str, reset: str) -> None:
    graph = integer_cnn(pool)
    x = binary((2, 8, 8), 60, seed=2)
    ref = assert_spike_for_spike(graph, x, ("n0", "n1"), reset)
    assert int(np.count_nonzero(ref.recorded["n0"]["v"] == 2.0)) > 50
    effects = {e.path: e.differing for e in tie_effects(graph, 1.0, reset=reset)}
    assert effects["n0"] > 50 and effects["n1"] > 0
    assert ref.recorded["n0"]["spikes"].sum() > 300 and ref.outputs["output"].sum() > 20
    model, notes = converted(graph, reset)
    assert notes == []
    assert [t.units for t in model.ties] == [2, 12 if pool == "avg" else 3]


@pytest.mark.parametrize("reset", RESETS)
def test_per_channel_thresholds_and_gains(reset: str) -> None:
    """Thresholds 2, 3, 4 and r = 1, 0.5, 2 per output channel share one chip threshold: T = 6
    (v_threshold / (r w) in halves and sixths), each channel's integers scaled to it."""
    rng = np.random.default_rng(7)
    thr = np.broadcast_to(np.array([2.0, 3.0, 4.0])[:, None, None], (3, 6, 6)).copy()
    r = np.broadcast_to(np.array([1.0, 0.5, 2.0])[:, None, None], (3, 6, 6)).copy()
    graph = chain(
        {
            "c": Conv2d((8, 8), rng.integers(-1, 3, (3, 1, 3, 3)).astype(np.float64)),
            "n": IF(r, thr),
        },
        (1, 8, 8),
    )
    x = binary((1, 8, 8), 50, seed=8)
    ref = assert_spike_for_spike(graph, x, ("n",), reset)
    assert ref.outputs["output"].sum() > 300
    assert {e.path: e.differing for e in tie_effects(graph, 1.0, reset=reset)}["n"] > 20
    model, notes = converted(graph, reset)
    assert notes == [] and model.ties[0].units == 6


def test_dyadic_input_spikes_at_step_17_not_16() -> None:
    """0.0625 per step reaches 1.0 exactly at step 16; v > 1 first holds at step 17."""
    graph = chain({"fc": Linear(np.array([[0.0625]])), "if": IF(np.ones(1), np.ones(1))}, (1,))
    x = np.ones((40, 1))
    ref = simulate(graph, x, 1.0).outputs["output"][:, 0]
    got = BACKEND.run(graph, x, 1.0).outputs["output"][:, 0]
    assert np.flatnonzero(ref)[0] == 16  # 0-based: the 17th step
    np.testing.assert_array_equal(got, ref)
    model, notes = converted(graph, "zero")
    assert notes == [] and model.ties[0].units == 16  # 1/16 -> 1 chip unit, threshold 17


def test_fractional_input_is_named() -> None:
    """Exact ties count integer chip units: the chip takes events, the run hook says so."""
    with pytest.warns(ConversionWarning, match="not integer event counts.*if1"):
        BACKEND.run(integer_mlp(), np.full((5, 16), 0.5), 1.0)


def test_ratios_that_cannot_be_kept_still_warn() -> None:
    """One weight of 300 at threshold 2 needs 150 chip units: beyond 8 bits. The first layer
    falls back to sinabs' scale and warns with its measured cells; the second stays exact."""
    graph = integer_mlp(big=301.0)
    model, notes = converted(graph, "zero")
    assert isinstance(model.ties[1], ExactLayer) and isinstance(model.ties[0], str)
    assert "beyond the chip's 8 bits" in model.ties[0]
    (note,) = notes
    assert "if1" in note and "if2" not in note and "cells" in note and "8 bits" in note
    report = BACKEND.report(model)
    assert report["ties"].startswith("not exact at if1")
    layers = list(report["layers"].values())
    assert layers[0]["ties"].startswith("not exact") and layers[1]["ties"].startswith("exact")


def test_float_weights_keep_the_warning() -> None:
    """Float weights have no small common denominator: sinabs' scale, named in the report."""
    rng = np.random.default_rng(5)
    graph = chain({"fc": Linear(rng.normal(size=(4, 6))), "n": IF(np.ones(4), np.ones(4))}, (6,))
    model = build(graph, dt=1.0)
    assert "no integer scale keeps its ratios" in model.ties[0]
    assert BACKEND.report(model)["layers"]["layer 0 (NIR fc -> n)"]["ties"].startswith("not exact")


@pytest.mark.parametrize("reset", RESETS)
def test_report_and_artifact_say_exact(reset: str, tmp_path) -> None:
    graph = integer_cnn("avg")
    model, _ = converted(graph, reset)
    report = BACKEND.report(model)
    assert report["ties"].startswith("exact in every layer")
    first = report["layers"]["layer 0 (NIR c0 -> n0, sum pool 2x2)"]
    assert first["ties"].startswith("exact: scale 2 chip units per v_threshold")
    assert first["scale"] == "2 per threshold"
    json.dumps(report)
    save_model(model, tmp_path / "net.json")
    doc, _ = load_artifact(tmp_path / "net.json")
    assert [e["ties"] for e in doc["layers"]] == [
        {"exact": True, "v_threshold_units": 2},
        {"exact": True, "v_threshold_units": 12},
    ]
    start = -1 if reset == "subtract" else 0
    assert initial_values(doc) == [start, start]
    # the files alone rebuild the chip network, its initial membrane included
    net, core_map, _ = rebuild_network(tmp_path / "net.json")
    for i in sorted(net.dynapcnn_layers):
        spk = net.dynapcnn_layers[i].spk
        assert spk.is_state_initialised() == bool(start)
        assert not start or float(spk.v_mem.min()) == float(spk.v_mem.max()) == start
    rebuilt = type(model)(net, model.plan, model.chip, model.device, model.dt, core_map)
    rebuilt.scales, rebuilt.channel_thresholds = model.scales, model.channel_thresholds
    rebuilt.initial_values = initial_values(doc)
    x = binary((2, 8, 8), 40, seed=6)
    a, b = simulate_model(model, x, record=("n0",)), simulate_model(rebuilt, x, record=("n0",))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1]["n0"]["v"], b[1]["n0"]["v"])


@pytest.mark.parametrize("reset", RESETS)
def test_a_recorded_at_or_above_test_is_the_chips_own(reset: str) -> None:
    """A node that records ``v >= v_threshold`` (a sinabs export) fires as the chip does: the
    threshold stays T (no unit above, no initial -1) and the run equals the reference, which
    honours the variant, spike for spike."""
    graph = integer_mlp()
    for name in ("if1", "if2"):
        set_variant(graph.nodes[name].metadata, threshold=">=")
    x = binary((16,), 200)
    assert_spike_for_spike(graph, x, ("if1", "if2"), reset)
    model, notes = converted(graph, reset)
    assert notes == []
    assert [float(layer.spk.spike_threshold) for layer in model.layers] == [2.0, 3.0]
    assert [t.initial for t in model.ties] == [0, 0]
