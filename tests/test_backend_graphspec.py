"""The spec helpers the snntorch and torch backends share (``nirhub.backend.graphspec``,
``sourceartifact``, ``torchrun``), without torch: the plugins' own tests run them with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nirhub.backend.graphspec import (
    build_graph_spec,
    decode,
    encode,
    rebuild_graph,
    rebuild_node,
)
from nirhub.backend.sourceartifact import artifact_paths, existing_artifact, read_literal
from nirhub.backend.torchrun import check_dtype, check_record
from nirhub.errors import FileFormatError, IRError, UsageError
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, Delay, Input, Linear, Output
from nirhub.testing import graphs_equal, primitive_graph


def _keys(paths: list[str]) -> dict[str, str]:
    return {p: p.replace(".", "_") for p in paths}


def _spec(graph: Graph, **kwargs):
    options = {
        "format": "test/1",
        "dt": 1e-4,
        "method": "euler",
        "reset": None,
        "keys": _keys,
        "plan_fields": lambda plan: {"order": [p for u in plan.units for p in u.nodes]},
        "plan_after": "nodes",
        **kwargs,
    }
    return build_graph_spec(graph, **options)


def test_metadata_round_trips_through_plain_literals() -> None:
    meta = {
        "a": np.arange(6, dtype=np.int16).reshape(2, 3),
        "b": np.float32(1.5),
        "c": (1, [2, "x"]),
        "d": b"raw",
        "e": np.array(["u", "v"]),
        "f": None,
    }
    back = decode(encode(meta))
    assert back["a"].dtype == np.int16 and back["a"].shape == (2, 3)
    np.testing.assert_array_equal(back["a"], meta["a"])
    assert back["b"] == meta["b"] and back["b"].dtype == np.float32
    assert back["c"] == (1, [2, "x"]) and back["d"] == b"raw" and back["f"] is None
    assert back["e"].tolist() == ["u", "v"]
    assert encode(meta["a"])["shape"] == [2, 3]  # lists, not tuples: the same after a save


def test_spec_layout_plan_placement_and_node_fields() -> None:
    graph = primitive_graph("LIF")
    seen: list[str] = []
    spec, arrays = _spec(graph, node_fields=lambda node, path, entry: seen.append(path))
    assert list(spec) == [
        "format",
        "dt",
        "method",
        "nodes",
        "order",
        "edges",
        "inputs",
        "outputs",
        "back_edges",
        "breaking",
        "graph",
    ]
    assert sorted(seen) == sorted(spec["nodes"]) and set(arrays) == set(spec["nodes"])
    lif = next(e for e in spec["nodes"].values() if e["type"] == "LIF")
    assert lif["reset"] == lif["reset_native"] == "zero"
    assert set(lif["arrays"]) == set(arrays[lif["path"]])
    spec, _ = _spec(graph, plan_after="outputs", reset="subtract")
    assert list(spec)[6:8] == ["outputs", "order"]
    lif = next(e for e in spec["nodes"].values() if e["type"] == "LIF")
    assert (lif["reset"], lif["reset_native"]) == ("subtract", "zero")


def test_delay_steps_break_the_loop_they_stand_in() -> None:
    graph = Graph(
        {
            "in": Input(np.array([2])),
            "lin": Linear(np.eye(2)),
            "lif": LIF(
                tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)
            ),
            "delay": Delay(np.full(2, 3e-4)),
            "out": Output(np.array([2])),
        },
        [("in", "lin"), ("lin", "lif"), ("lif", "delay"), ("delay", "lin"), ("lif", "out")],
    )
    spec, _ = _spec(graph)
    assert spec["nodes"]["delay"]["steps"] == [3, 3]
    assert spec["breaking"] == ["delay"] and spec["back_edges"] == []


def test_refusals() -> None:
    with pytest.raises(UsageError, match="expected a nirhub Graph"):
        _spec("not a graph")
    with pytest.raises(UsageError, match="method must be one of"):
        _spec(primitive_graph("LIF"), method="rk4")
    bad = Graph({"in": Input(np.array([2])), "lin": Linear(np.ones((3, 4)))}, [("in", "lin")])
    with pytest.raises(IRError, match="cannot import an invalid graph"):
        _spec(bad)


def test_the_skeleton_rebuilds_the_graph() -> None:
    graph = primitive_graph("NIRGraph")
    spec, arrays = _spec(graph)

    def leaf(skel):
        entry = spec["nodes"][skel["path"]]
        return rebuild_node(skel, entry, {**entry["static"], **arrays[skel["path"]]}, hint="h")

    assert graphs_equal(rebuild_graph(spec["graph"], leaf), graph)


def test_an_overridden_reset_is_recorded_and_a_bad_field_names_its_node() -> None:
    spec, arrays = _spec(primitive_graph("LIF"), reset="subtract")
    path = next(p for p, e in spec["nodes"].items() if e["type"] == "LIF")
    skel = next(s for s in spec["graph"]["nodes"].values() if s.get("path") == path)
    fields = {**spec["nodes"][path]["static"], **arrays[path]}
    node = rebuild_node(skel, spec["nodes"][path], fields, hint="h")
    assert node.metadata["nirhub"]["reset"] == "subtract"
    with pytest.raises(IRError, match=f"node {path!r}") as info:
        rebuild_node(skel, spec["nodes"][path], {**fields, "tau": -fields["tau"]}, hint="why")
    assert info.value.node == path and info.value.hint == "why"


def test_read_literal_never_executes_the_file(tmp_path: Path) -> None:
    py = tmp_path / "m.py"
    marker = "# made by test"
    read = {"marker": marker, "backend": "test", "hint": "h"}
    py.write_text(f"{marker}\nimport os\nos.remove(__file__)\nSPEC = {{'a': [1, 2]}}\n")
    assert read_literal(py, "SPEC", **read) == {"a": [1, 2]} and py.exists()
    py.write_text(f"{marker}\nSPEC = dict(a=1)\n")
    with pytest.raises(FileFormatError, match="SPEC is not a plain literal"):
        read_literal(py, "SPEC", **read)
    py.write_text(f"{marker}\nOTHER = 1\n")
    with pytest.raises(FileFormatError, match="has no SPEC"):
        read_literal(py, "SPEC", **read)
    py.write_text("import os\n")
    with pytest.raises(FileFormatError, match="not a model written by nirhub's test backend"):
        read_literal(py, "SPEC", **read)
    py.write_text(f"{marker}\nSPEC = (\n")
    with pytest.raises(FileFormatError, match="is not valid Python"):
        read_literal(py, "SPEC", **read)


def test_artifact_paths_and_options(tmp_path: Path) -> None:
    assert artifact_paths(tmp_path / "a.pt") == (tmp_path / "a.py", tmp_path / "a.pt")
    assert artifact_paths(tmp_path / "a.b") == (tmp_path / "a.b.py", tmp_path / "a.b.pt")
    with pytest.raises(UsageError, match="does not exist"):
        existing_artifact(tmp_path / "a")
    assert check_dtype(None, "float64") == "float64" and check_dtype("float32", "x") == "float32"
    with pytest.raises(UsageError, match="dtype must be"):
        check_dtype("int8", "float32")
    assert check_record(iter(["a"]), {"a": 0, "b": 1}) == ["a"]
    with pytest.raises(UsageError, match="cannot record 'c'") as info:
        check_record(["c"], {"a": 0, "b": 1})
    assert info.value.hint == "Nodes: a, b"
