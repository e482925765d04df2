"""Shared helpers of the code-generating plugins (nirhub.backend.lowering)."""

from __future__ import annotations

import pytest

from nirhub.backend.lowering import (
    edge_modules,
    parse_shape,
    resolve_dt,
    resolve_method,
    resolve_skipped,
)
from nirhub.errors import UsageError
from nirhub.ir import Graph, Input, Output
from nirhub.ir.conventions import set_dt, set_method


def graph(dt=None, method=None) -> Graph:
    g = Graph({"i": Input((2,)), "o": Output()}, [("i", "o")])
    if dt is not None:
        set_dt(g.metadata, dt)
    if method is not None:
        set_method(g.metadata, method)
    return g


def test_resolve_dt_and_method():
    assert resolve_dt(graph(1e-3), None) == 1e-3
    assert resolve_dt(graph(1e-3), "2e-4") == 2e-4
    with pytest.raises(UsageError, match="no time step"):
        resolve_dt(graph(), None)
    with pytest.raises(UsageError, match="positive"):
        resolve_dt(graph(), float("nan"))
    assert resolve_method(graph(), None) == "euler"
    assert resolve_method(graph(method="exact"), None) == "exact"
    assert resolve_method(graph(method="exact"), "euler") == "euler"
    with pytest.raises(UsageError, match="method must be one of"):
        resolve_method(graph(), "rk4")


def test_parse_shape():
    assert parse_shape(None) is None
    assert parse_shape("2,34,34") == parse_shape("2x34x34") == (2, 34, 34)
    assert parse_shape(5) == (5,) and parse_shape([3, 4]) == (3, 4)
    with pytest.raises(UsageError, match="input_shape"):
        parse_shape("a,b")


def test_edges_around_skipped_modules():
    edges = [("input", "a"), ("a", "flat"), ("flat", "b"), ("b", "output")]
    assert edge_modules(edges) == ["a", "flat", "b"]
    assert resolve_skipped("flat", edges, {"flat"}) == ["a"]
    assert resolve_skipped("b", edges, {"flat"}) == ["b"]
