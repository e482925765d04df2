"""Chip limits (every violation named) and exact agreement where discretization is exact."""

from __future__ import annotations

import numpy as np
import pytest
from nirhub_speck import chip
from nirhub_speck.plugin import SpeckBackend

from nirhub.errors import UnsupportedError
from nirhub.hub.convert import from_ir, simulate_with_backend
from nirhub.hub.registry import make_registry
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LIF,
    Affine,
    AvgPool2d,
    Conv2d,
    Flatten,
    Input,
    Output,
    SumPool2d,
)
from nirhub.sim import simulate


@pytest.fixture(scope="module")
def registry():
    from nirhub_speck import plugin

    return make_registry(plugins=False, extra=[plugin], environments=False)


def chain(nodes: dict, shape: tuple[int, ...]) -> Graph:
    names = list(nodes)
    all_nodes = {"input": Input(shape), **nodes, "output": Output(None)}
    seq = ["input", *names, "output"]
    return Graph(all_nodes, list(zip(seq[:-1], seq[1:], strict=True)))


def conv(c_in, c_out, k, hw, *, kw=None, stride=1, padding=0, seed=0, bias=False):
    r = np.random.default_rng(seed)
    w = r.normal(size=(c_out, c_in, k, kw or k))
    b = r.normal(size=c_out) * 0.1 if bias else None
    return Conv2d(hw, w, stride=stride, padding=padding, bias=b)


def if_(shape, thr=1.0):
    return IF(np.ones(shape), np.full(shape, thr))


def problems_of(graph: Graph, registry) -> dict[str, str]:
    with pytest.raises(UnsupportedError) as info:
        from_ir(graph, "speck", registry=registry, dt=1.0)
    return {p.where: p.message for p in info.value.problems}


def test_chip_numbers_match_sinabs() -> None:
    """chip.py (used by check() without sinabs) equals sinabs' own constraints."""
    from nirhub_speck.samna_guard import import_dynapcnn

    import_dynapcnn()
    from sinabs.backend.dynapcnn.chips.speck2e import Speck2EConfigBuilder
    from sinabs.backend.dynapcnn.chips.speck2f import Speck2FConfigBuilder
    from sinabs.backend.dynapcnn.discretize import (
        DYNAPCNN_STATE_PRECISION_BITS,
        DYNAPCNN_WEIGHT_PRECISION_BITS,
    )

    for builder in (Speck2EConfigBuilder, Speck2FConfigBuilder):
        cons = builder.get_constraints()
        assert [c.kernel_memory for c in cons] == list(chip.KERNEL_MEMORY)
        assert [c.neuron_memory for c in cons] == list(chip.NEURON_MEMORY)
        assert [c.bias_memory for c in cons] == list(chip.BIAS_MEMORY)
    assert (chip.WEIGHT_BITS, chip.STATE_BITS) == (
        DYNAPCNN_WEIGHT_PRECISION_BITS,
        DYNAPCNN_STATE_PRECISION_BITS,
    )


def test_oversize_layer_is_named(registry) -> None:
    # 64 x 128 x 128 neurons need 1M words of neuron memory; the largest core has 64K
    graph = chain({"big": conv(2, 64, 3, (128, 128), padding=1), "n": if_((64, 128, 128))},
                  (2, 128, 128))  # fmt: skip
    found = problems_of(graph, registry)
    assert list(found) == ["big"]
    assert "too large for any Speck core" in found["big"]
    assert "neuron memory 1048576 > 65536" in found["big"]


def test_non_square_kernel_is_named(registry) -> None:
    graph = chain({"wide": conv(2, 4, 3, (16, 16), kw=5), "n": if_((4, 14, 12))}, (2, 16, 16))
    found = problems_of(graph, registry)
    assert "wide" in found and "kernel 3x5" in found["wide"] and "square" in found["wide"]


def test_leaky_neuron_is_named(registry) -> None:
    lif = LIF(np.full(4, 1e-3), np.ones(4), np.zeros(4), np.ones(4))
    graph = chain({"fc": Affine(np.ones((4, 3)), np.zeros(4)), "leaky": lif}, (3,))
    found = problems_of(graph, registry)  # refused by the descriptor (IF is the only neuron)
    assert list(found) == ["leaky"] and "LIF is not supported by 'speck'" in found["leaky"]
    assert "integrate-and-fire without leak" in found["leaky"]  # the hub gives the chip reason
    # and so does the backend's own check
    direct = {p.where: p.message for p in SpeckBackend().check(graph)}
    assert "without leak" in direct["leaky"]


def test_every_violation_at_once() -> None:
    graph = chain(
        {
            "c0": conv(2, 4, 3, (8, 8), kw=2, seed=1),
            "n0": IF(np.ones((4, 6, 7)), np.linspace(1, 2, 168).reshape(4, 6, 7)),
            "p0": SumPool2d((2, 2), (1, 1)),
            "f": Flatten((4, 5, 6), 0),
            "fc": Affine(np.ones((3, 120)), np.zeros(3)),
            "n1": if_(3),
        },
        (2, 8, 8),
    )
    found = {p.where: p.message for p in SpeckBackend().check(graph)}
    assert "square" in found["c0"]
    assert "v_threshold varies within a channel" in found["n0"]
    assert "does not overlap" in found["p0"]
    assert "must be square" in found["fc"]  # a 5x6 input is a non-square kernel


def test_structure_limits(registry) -> None:
    # pooling after the last layer, a weight layer without neurons, too many layers
    pooled_end = chain({"c": conv(1, 2, 3, (8, 8)), "n": if_((2, 6, 6)), "p": SumPool2d((2, 2))},
                       (1, 8, 8))  # fmt: skip
    assert "output cannot be pooled" in problems_of(pooled_end, registry)["p"]
    readout = chain({"fc": Affine(np.ones((2, 3)), np.zeros(2))}, (3,))
    assert "must end in IF neurons" in problems_of(readout, registry)["fc"]
    deep = {}
    for i in range(10):
        deep[f"fc{i}"] = Affine(np.ones((3, 3)), np.zeros(3))
        deep[f"n{i}"] = if_(3)
    found = problems_of(chain(deep, (3,)), registry)
    assert "Speck has 9 cores" in found["<graph>"]


def test_memory_check_equals_sinabs_memory_summary(cnn_graph) -> None:
    from nirhub_speck.build import build
    from nirhub_speck.layers import plan_layers

    lp, problems = plan_layers(cnn_graph)
    assert not problems
    net = build(cnn_graph, dt=1.0).network
    summary = net.memory_summary()
    for i, layer in enumerate(lp.layers):
        mem = layer.memory
        assert (mem.kernel, mem.neuron, mem.bias) == (
            summary["kernel"][i],
            summary["neuron"][i],
            summary["bias"][i],
        )


def _exact_graph(pool: str) -> Graph:
    """Integer weights (max w = 127), integer inputs, thresholds 9.7 (zero reset).

    Discretization is then exact: the chip's integers are the weights themselves (scale =
    threshold), the threshold rounds to 10, and ``v > 9.7`` (NIR) is ``v >= 10`` (chip) for
    integer v. After AvgPool2d the next layer's weights are w/4; with the threshold 9.425 the
    scale is 37.7 and the chip threshold 38: again ``4v > 37.7`` is ``4v >= 38``.
    """
    r = np.random.default_rng(11)
    w0 = r.integers(-40, 60, size=(4, 2, 3, 3)).astype(np.float64)
    w0[0, 0, 0, 0] = 127
    b0 = r.integers(-3, 4, size=4).astype(np.float64)
    w1 = r.integers(-30, 40, size=(5, 4 * 3 * 3)).astype(np.float64)
    w1[0, 0] = 127
    thr1 = 9.425 if pool == "avg" else 9.7
    pooling = AvgPool2d((2, 2)) if pool == "avg" else SumPool2d((2, 2))
    return chain(
        {
            "c0": Conv2d((8, 8), w0, bias=b0),
            "n0": if_((4, 6, 6), 9.7),
            "p0": pooling,
            "f": Flatten((4, 3, 3), 0),
            "fc": Affine(w1, np.zeros(5)),
            "n1": if_(5, thr1),
        },
        (2, 8, 8),
    )


@pytest.mark.parametrize("pool", ["sum", "avg"])
def test_exact_where_discretization_is_exact(registry, pool: str) -> None:
    graph = _exact_graph(pool)
    x = np.random.default_rng(5).poisson(0.6, size=(30, 2, 8, 8)).astype(np.float64)
    got = simulate_with_backend(graph, x, 1.0, "speck", registry=registry, record=("n0", "n1"))
    ref = simulate(graph, x, 1.0, record=["n0", "n1"])
    assert ref.recorded["n0"]["spikes"].sum() > 100 and ref.outputs["output"].sum() > 10
    for node in ("n0", "n1"):
        np.testing.assert_array_equal(got.recorded[node]["spikes"], ref.recorded[node]["spikes"])
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
    # v comes back in the graph's units
    np.testing.assert_allclose(got.recorded["n0"]["v"], ref.recorded["n0"]["v"], atol=1e-9)


def test_subtract_reset_and_per_channel_thresholds(registry) -> None:
    """Per-channel thresholds are folded exactly; subtract reset is the chip's own."""
    r = np.random.default_rng(2)
    w = r.normal(size=(3, 1, 3, 3))
    thr = np.broadcast_to(np.array([0.5, 1.0, 2.0])[:, None, None], (3, 4, 4)).copy()
    graph = chain({"c": Conv2d((6, 6), w), "n": IF(np.ones((3, 4, 4)), thr)}, (1, 6, 6))
    x = r.poisson(1.0, size=(50, 1, 6, 6)).astype(np.float64)
    got = simulate_with_backend(graph, x, 1.0, "speck", registry=registry, reset="subtract")
    ref = simulate(graph, x, 1.0, reset="subtract")
    from nirhub.metrics import activity_similarity

    assert ref.outputs["output"].sum() > 200
    assert activity_similarity(ref.outputs["output"], got.outputs["output"]) > 0.99


def test_vector_input_mlp(registry) -> None:
    """A flat input is taken as (n, 1, 1): Affine layers become 1x1 convolutions."""
    r = np.random.default_rng(8)
    graph = chain(
        {
            "fc0": Affine(r.normal(size=(16, 6)), r.normal(size=16) * 0.1),
            "n0": if_(16),
            "fc1": Affine(r.normal(size=(3, 16)), np.zeros(3)),
            "n1": if_(3),
        },
        (6,),
    )
    x = r.uniform(0, 1, size=(200, 6))
    got = simulate_with_backend(graph, x, 1.0, "speck", registry=registry, record=("n0",))
    ref = simulate(graph, x, 1.0, record=["n0"])
    from nirhub.metrics import activity_similarity

    assert got.outputs["output"].shape == (200, 3)
    assert ref.recorded["n0"]["spikes"].sum() > 300
    assert activity_similarity(ref.recorded["n0"]["spikes"], got.recorded["n0"]["spikes"]) > 0.98
