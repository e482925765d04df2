"""Ties at the threshold (issue 14): on a quantized IF network (integer weights, thresholds 2
and 3, binary input: what Loihi users deploy) v lands exactly on the threshold, where NIR does
not fire. Both backends keep such networks exact: ``lava`` keeps the threshold as the LIF
process' ``vth`` (no division of the weights by it), ``loihi2`` scales each population by the
power of two that makes threshold and weights integers (and both fire at ``v > vth``, NIR's
strict test). Where that is impossible, the conversion says so per node with the measured
effect instead of differing silently."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nirhub.backend.ties import tie_effects
from nirhub.hub.backend import ConversionWarning
from nirhub.ir import IF, Graph, Input, Linear, Output
from nirhub.sim import simulate

BACKENDS = ["lava", "loihi2"]


def integer_if_network(
    scale: float = 1.0, hidden_thresholds: np.ndarray | None = None, out_threshold: float = 3.0
) -> Graph:
    """16 binary inputs -> 32 IF (threshold 2) -> 8 IF (threshold 3), weights in -1..2; every
    weight and threshold multiplied by ``scale`` (the spikes do not change)."""
    rng = np.random.default_rng(0)
    hidden = np.full(32, 2.0) if hidden_thresholds is None else hidden_thresholds
    return Graph(
        {
            "input": Input((16,)),
            "fc1": Linear(scale * rng.integers(-1, 3, (32, 16)).astype(float)),
            "if1": IF(np.ones(32), scale * hidden),
            "fc2": Linear(scale * rng.integers(-1, 3, (8, 32)).astype(float)),
            "if2": IF(np.ones(8), np.full(8, scale * out_threshold)),
            "output": Output(),
        },
        [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"), ("if2", "output")],
    )


def tie_notes(registry, name: str, graph: Graph) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.get(name).from_ir(graph, dt=1.0)
    notes = [str(w.message) for w in caught if issubclass(w.category, ConversionWarning)]
    return [n for n in notes if "exactly on the threshold" in n]


def differing(registry, name: str, graph: Graph, x: np.ndarray) -> dict[str, tuple[int, int]]:
    """Per IF node: (reference spikes, cells where the backend's run hook differs)."""
    ref = simulate(graph, {"input": x}, 1.0, record=("if1", "if2"))
    run = registry.get(name).run(graph, {"input": x}, 1.0, record=("if1", "if2"))
    out = {}
    for path in ("if1", "if2"):
        a = np.asarray(ref.recorded[path]["spikes"], bool)
        b = np.asarray(run.recorded[path]["spikes"], bool)
        out[path] = (int(a.sum()), int(np.count_nonzero(a != b)))
    return out


@pytest.fixture(scope="module")
def binary_input() -> np.ndarray:
    return (np.random.default_rng(1).random((100, 16)) < 0.3).astype(float)


def test_the_integer_network_has_ties() -> None:
    """The test network is one where ties decide spikes (else the tests below prove nothing)."""
    effects = {e.path: e for e in tie_effects(integer_if_network(), 1.0)}
    assert effects["if1"].differing > 100 and effects["if2"].differing > 20


@pytest.mark.parametrize("name", BACKENDS)
def test_integer_if_network_is_exact(registry, name: str, binary_input) -> None:
    graph = integer_if_network()
    assert tie_notes(registry, name, graph) == []
    result = differing(registry, name, graph, binary_input)
    assert result["if1"][0] > 500 and result["if2"][0] > 100  # busy layers
    assert result == {"if1": (result["if1"][0], 0), "if2": (result["if2"][0], 0)}


@pytest.mark.parametrize("name", BACKENDS)
def test_integer_conv_network_with_biases_is_exact(registry, name: str) -> None:
    """Convolution and sum pooling (sparse synapses), an Affine bias (the constant source)
    and an input gain of 1/2 (``r = 0.5``): loihi2 scales the output layer by 2 (vth 12)."""
    from nirhub.ir import Affine, Conv2d, Flatten, SumPool2d

    rng = np.random.default_rng(3)
    kernel = rng.integers(-2, 4, (4, 2, 3, 3)).astype(float)
    graph = Graph(
        {
            "input": Input((2, 10, 10)),
            "conv": Conv2d((10, 10), kernel, 1, 1, 1, 1, np.zeros(4)),
            "if1": IF(np.ones((4, 10, 10)), np.full((4, 10, 10), 4.0)),
            "pool": SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
            "flat": Flatten((4, 5, 5), 0, -1),
            "fc": Affine(
                rng.integers(-3, 6, (10, 100)).astype(float), rng.integers(-1, 2, 10).astype(float)
            ),
            "if2": IF(np.full(10, 0.5), np.full(10, 6.0)),
            "output": Output(),
        },
        [
            ("input", "conv"),
            ("conv", "if1"),
            ("if1", "pool"),
            ("pool", "flat"),
            ("flat", "fc"),
            ("fc", "if2"),
            ("if2", "output"),
        ],  # fmt: skip
    )
    x = (rng.random((30, 2, 10, 10)) < 0.3).astype(float)
    assert tie_notes(registry, name, graph) == []
    if name == "loihi2":
        fixed = registry.get(name).from_ir(graph, dt=1.0).fixed
        assert {p: (fp.scale, fp.vth) for p, fp in fixed.populations.items()} == {
            "if1": (1, 4),
            "if2": (2, 12),
        }
    ref = simulate(graph, {"input": x}, 1.0, record=("if1", "if2"))
    run = registry.get(name).run(graph, {"input": x}, 1.0, record=("if1", "if2"))
    for path in ("if1", "if2"):
        a = np.asarray(ref.recorded[path]["spikes"], bool)
        assert a.sum() > 100
        np.testing.assert_array_equal(run.recorded[path]["spikes"], a)


def test_loihi2_keeps_the_integers(registry) -> None:
    """The fixed-point form is the network's own integers: vth 2 and 3, weights -1..2."""
    be = registry.get("loihi2")
    model = be.from_ir(integer_if_network(), dt=1.0)
    fixed = model.fixed
    assert [fixed.populations[p].vth for p in ("if1", "if2")] == [2, 3]
    assert all(fp.exact and fp.scale == 1 for fp in fixed.populations.values())
    assert all(fs.exponent == 0 for fs in fixed.synapses)
    assert set(np.unique(fixed.synapses[0].effective())) <= {-1.0, 0.0, 1.0, 2.0}
    report = be.report(model)
    assert "ties at the threshold kept" in report["quantization"]["if1"]["exact"]


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("graded", [False, True], ids=["weight", "input"])
def test_single_if_neuron_fed_a_sixteenth_spikes_at_step_17(registry, name, graded) -> None:
    """0.0625 per step (as the weight of a binary input, or as a graded input): v reaches 1.0
    at step 16, where NIR does not fire (v > 1 is strict), and fires at step 17."""
    graph = Graph(
        {
            "input": Input((1,)),
            "fc": Linear(np.array([[1.0 if graded else 0.0625]])),
            "if": IF(np.ones(1), np.ones(1)),
            "output": Output(),
        },
        [("input", "fc"), ("fc", "if"), ("if", "output")],
    )
    x = np.full((40, 1), 0.0625 if graded else 1.0)
    ref = simulate(graph, {"input": x}, 1.0)["output"][:, 0]
    got = registry.get(name).run(graph, {"input": x}, 1.0).outputs["output"][:, 0]
    assert int(np.flatnonzero(ref)[0]) + 1 == 17
    np.testing.assert_array_equal(got, ref)


def test_loihi2_warns_where_no_power_of_two_keeps_the_ratios(registry, binary_input) -> None:
    """Weights -127..254 and thresholds 254, 381 (the network times 127): 254 needs the
    exponent 1, which -127 and 127 cannot share without a lost bit. Loihi 2 falls back to 127
    units per threshold, and says so with the measured effect; the chip does differ."""
    graph = integer_if_network(scale=127.0)
    (note,) = tie_notes(registry, "loihi2", graph)
    assert note.startswith("loihi2") and "if1:" in note and "if2:" in note
    assert "cells" in note and "power-of-two scale" in note
    result = differing(registry, "loihi2", graph, binary_input)
    assert result["if1"][1] + result["if2"][1] > 0
    # the float simulator keeps the same network exact
    assert tie_notes(registry, "lava", graph) == []
    assert {k: v[1] for k, v in differing(registry, "lava", graph, binary_input).items()} == {
        "if1": 0,
        "if2": 0,
    }


@pytest.mark.parametrize("name", BACKENDS)
def test_too_many_thresholds_warn_for_that_node_only(registry, name: str) -> None:
    """19 different thresholds in one population need more than 16 Lava processes: the
    threshold is divided into the weights there (thirds, fifths...), and only that node is
    named; the output layer, one threshold, stays exact."""
    graph = integer_if_network(hidden_thresholds=2.0 + np.arange(32) % 19)
    (note,) = tie_notes(registry, name, graph)
    assert note.startswith(name) and "if1:" in note and "if2:" not in note


@pytest.mark.parametrize("name", BACKENDS)
def test_a_conversion_through_the_hub_says_it(registry, name: str, tmp_path) -> None:
    """The hub hands from_ir the network its check built (``prepared``): the note is still
    given, once, in the conversion's report."""
    import nirhub
    from nirhub.hub.convert import convert

    source = tmp_path / "int127.nir"
    nirhub.write(integer_if_network(scale=127.0), source)
    out = tmp_path / ("model.net" if name == "loihi2" else "model.py")
    report = convert(source, to=name, output=out, dt=1.0, registry=registry)
    notes = [w for w in report.warnings if "exactly on the threshold" in w]
    assert len(notes) == (1 if name == "loihi2" else 0), notes
