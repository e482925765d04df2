"""Graph passes are exact: the rewritten graph computes the same under the reference simulator."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.hub.descriptor import BackendDescriptor
from nirhub.ir.conventions import set_dt, set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, Affine, Input, Linear, Output, Scale
from nirhub.passes import (
    AffineToLinear,
    FoldScale,
    GraphPass,
    InlineSubgraphs,
    LinearToAffine,
    builtin_passes,
    legalize,
    node_types,
)
from nirhub.testing.graphs import DT, behaviour_difference, primitive_graph

RNG = np.random.default_rng(3)


def lif(n: int, **kw) -> LIF:
    return LIF(np.full(n, 1e-3), np.ones(n), np.zeros(n), np.full(n, 0.3), np.zeros(n), **kw)


def chain(*items: tuple[str, object], shape=(4,)) -> Graph:
    nodes = {"input": Input(shape), **dict(items), "output": Output(None)}
    names = list(nodes)
    g = Graph(nodes, list(zip(names[:-1], names[1:], strict=True)))
    set_dt(g.metadata, DT)
    return g


def target(*types: str) -> BackendDescriptor:
    return BackendDescriptor(name="t", kind="simulator", summary="t", from_ir=frozenset(types))


def exact(before: Graph, after: Graph) -> None:
    why = behaviour_difference(before, after, rtol=1e-12, atol=1e-12)
    assert not why, why


def test_every_builtin_pass_satisfies_the_protocol() -> None:
    for p in builtin_passes():
        assert isinstance(p, GraphPass)
        assert p.name and p.description and p.eliminates


def test_fold_scale_into_linear_is_exact() -> None:
    g = chain(
        ("scale", Scale(RNG.uniform(-2, 2, 4))),
        ("lin", Linear(RNG.normal(size=(3, 4)))),
        ("lif", lif(3)),
    )
    new, notes = FoldScale().run(g)
    assert notes == ["folded Scale scale into lin"]
    assert "scale" not in new.nodes and ("input", "lin") in new.edges
    assert "Scale" in node_types(g), "the input graph must not be modified"
    exact(g, new)


def test_fold_scale_with_scalar_and_fan_in_into_affine() -> None:
    nodes = {
        "a": Input((4,)),
        "b": Input((4,)),
        "s": Scale(np.array(0.25)),
        "aff": Affine(RNG.normal(size=(2, 4)), RNG.normal(size=2)),
        "lif": lif(2),
        "output": Output(None),
    }
    g = Graph(nodes, [("a", "s"), ("b", "s"), ("s", "aff"), ("aff", "lif"), ("lif", "output")])
    set_dt(g.metadata, DT)
    new, notes = FoldScale().run(g)
    assert notes and set(new.edges) >= {("a", "aff"), ("b", "aff")}
    exact(g, new)


def test_fold_scale_refuses_when_not_exact() -> None:
    # the Scale also feeds another node
    g = Graph(
        {
            "input": Input((4,)),
            "s": Scale(np.full(4, 2.0)),
            "lin": Linear(RNG.normal(size=(3, 4))),
            "o1": Output(None),
            "o2": Output(None),
        },
        [("input", "s"), ("s", "lin"), ("lin", "o1"), ("s", "o2")],
    )
    assert FoldScale().run(g)[1] == []
    # the Linear has a second input that must not be scaled
    g = Graph(
        {
            "input": Input((4,)),
            "s": Scale(np.full(4, 2.0)),
            "lin": Linear(RNG.normal(size=(3, 4))),
            "output": Output(None),
        },
        [("input", "s"), ("s", "lin"), ("input", "lin"), ("lin", "output")],
    )
    assert FoldScale().run(g)[1] == []


def test_fold_scale_inside_a_subgraph() -> None:
    inner = Graph(
        {
            "input": Input((4,)),
            "s": Scale(np.full(4, 3.0)),
            "lin": Linear(RNG.normal(size=(3, 4))),
            "output": Output(None),
        },
        [("input", "s"), ("s", "lin"), ("lin", "output")],
    )
    g = chain(("sub", inner), ("lif", lif(3)))
    new, notes = FoldScale().run(g)
    assert notes == ["folded Scale sub.s into sub.lin"]
    exact(g, new)


def test_linear_affine_conversions_are_exact() -> None:
    g = chain(("lin", Linear(RNG.normal(size=(3, 4)).astype(np.float32))), ("lif", lif(3)))
    new, notes = LinearToAffine().run(g)
    assert notes and isinstance(new.nodes["lin"], Affine)
    assert new.nodes["lin"].bias.dtype == np.float32 and not new.nodes["lin"].bias.any()
    exact(g, new)
    back, notes = AffineToLinear().run(new)
    assert notes and back == g


def test_affine_with_bias_stays() -> None:
    g = chain(("aff", Affine(RNG.normal(size=(3, 4)), np.array([0.0, 0.1, 0.0]))))
    assert AffineToLinear().run(g)[1] == []


def test_inline_subgraphs_keeps_behaviour_and_reset_mode() -> None:
    inner = primitive_graph("NIRGraph").nodes["sub"]
    assert isinstance(inner, Graph)
    set_reset(inner.metadata, "subtract")
    g = chain(("sub", inner), ("lif", lif(3)))
    new, notes = InlineSubgraphs().run(g)
    assert notes == ["inlined subgraph sub"]
    assert "NIRGraph" not in node_types(new)
    assert set(new.nodes) == {"input", "sub.linear", "sub.lif", "lif", "output"}
    assert new.nodes["sub.lif"].metadata["nirhub"]["reset"] == "subtract"
    exact(g, new)


def test_inline_subgraph_with_recurrence() -> None:
    n = 3
    inner = Graph(
        {
            "input": Input((n,)),
            "lif": lif(n),
            "rec": Linear(RNG.normal(size=(n, n)) * 0.5),
            "output": Output(None),
        },
        [("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
    )
    g = chain(("w", Linear(RNG.normal(size=(n, 4)) + 0.5)), ("sub", inner))
    new, notes = InlineSubgraphs().run(g)
    assert notes
    exact(g, new)


@pytest.mark.parametrize(
    ("types", "applied"),
    [
        (("Affine", "LIF"), ["fold-scale", "linear-to-affine"]),
        (("Linear", "LIF"), ["fold-scale"]),
        (("Linear", "Scale", "LIF"), []),
    ],
)
def test_legalize_runs_only_the_passes_that_help(types, applied) -> None:
    g = chain(
        ("s", Scale(np.full(4, 0.5))), ("lin", Linear(RNG.normal(size=(3, 4)))), ("lif", lif(3))
    )
    new, names, notes = legalize(g, target(*types), builtin_passes())
    assert names == applied
    assert len(notes) >= len(applied)
    exact(g, new)


def test_legalize_leaves_what_it_cannot_fix() -> None:
    g = chain(("s", Scale(np.full(4, 0.5))), ("lif", lif(4)))
    new, names, _ = legalize(g, target("Linear", "LIF"), builtin_passes())
    assert names == [] and new is g
