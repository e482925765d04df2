"""The shared importer check for neuron variants (nirhub.backend.variants)."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.backend.variants import (
    VARIANT_HINT,
    check_threshold_option,
    check_variants,
    strict_thresholds,
    variant_hint,
    variant_problems,
)
from nirhub.errors import IRError, UnsupportedError, UsageError
from nirhub.ir import LIF, CubaLIF, Graph, Input, Output
from nirhub.ir.conventions import get_variant, set_variant


def graph() -> Graph:
    a = LIF([1e-3], [1.0], [0.0], [1.0])
    set_variant(a.metadata, spikes="multi", threshold=">=")
    b = CubaLIF([1e-3], [2e-3], [1.0], [0.0], [1.0])
    set_variant(b.metadata, discretization="staged", v_min=-1.0)
    inner = Graph({"i": Input((1,)), "b": b, "o": Output()}, [("i", "b"), ("b", "o")])
    return Graph(
        {"in": Input((1,)), "a": a, "sub": inner, "out": Output()},
        [("in", "a"), ("a", "sub"), ("sub", "out")],
    )


def test_problems_name_each_node_and_variant():
    problems = variant_problems(graph(), (), "x", method="exact")
    assert [p.where for p in problems] == ["a", "sub.b"]
    assert "floor(v/v_threshold)" in problems[0].message
    assert "v >= v_threshold" in problems[0].message
    assert "staged" in problems[1].message and "clamps v" in problems[1].message
    assert all(p.kind == "unsupported" for p in problems)
    assert variant_hint(problems) == VARIANT_HINT


def test_supported_variants_and_euler_staged_pass():
    assert variant_problems(graph(), {"multi-spike", "threshold>=", "v-min", "staged"}, "x") == []
    euler = variant_problems(graph(), {"multi-spike", "threshold>=", "v-min"}, "x", method="euler")
    assert euler == []  # staged is NIR's Euler order
    only_a = variant_problems(graph(), (), "x", paths=["a"])
    assert [p.where for p in only_a] == ["a"]
    assert variant_hint([]) is None


def test_check_variants_raises_with_every_node():
    with pytest.raises(UnsupportedError) as info:
        check_variants(graph(), {"v-min"}, "mybackend", method="exact")
    assert [p.where for p in info.value.problems] == ["a", "sub.b"]
    assert "mybackend cannot run the neuron variant of 2 node(s)" in str(info.value)
    with pytest.raises(ValueError, match="unknown variant names"):
        variant_problems(graph(), {"multi"}, "x")


def test_invalid_variant_is_an_ir_error_naming_the_node():
    g = graph()
    g.nodes["a"].metadata["nirhub"]["spikes"] = "lots"
    with pytest.raises(IRError) as info:
        variant_problems(g, (), "x")
    assert info.value.node == "a"


def test_strict_thresholds_and_option():
    g = graph()
    strict_thresholds(g)
    assert get_variant(g.nodes["a"]).names == ("multi-spike",)
    assert check_threshold_option(None) == ">=" and check_threshold_option("strict") == "strict"
    with pytest.raises(UsageError):
        check_threshold_option(">")
    np.testing.assert_array_equal(get_variant(g.nodes["sub"].nodes["b"]).v_min, -1.0)
