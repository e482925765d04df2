"""The reader's shortcuts above the HDF5 parser (issue 14 item 7): nodes built from the
parser's one-pass reads without re-checking what it checked, their small arrays' value checks
(NaN/inf, > 0, >= 0) run in bulk, names and edges checked in one pass, graphs built from the
reader's parts. Each must give what the general path gives: the same graph, or the same
error at the same place (the first problem in the file wins, as when every node was checked
at once). The general path here is the h5py engine, which reads member by member and builds
every node with its constructor.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import nirhub as nh
from nirhub.errors import IRError
from nirhub.io.reader import _read
from nirhub.ir.graph import MAX_NESTING, Graph
from nirhub.ir.nodes import LIF, Affine
from nirhub.ir.params import DeferredChecks

#: pairs of nodes in the file: more float arrays than one batch of deferred checks holds
PAIRS = 300


def lif(n: int) -> nh.LIF:
    return nh.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))


@pytest.fixture(scope="module")
def nir_file(tmp_path_factory) -> tuple[Path, nh.Graph]:
    """A file in nir's layout (h5py, old-style groups, as ``nir.write`` makes them) with many
    Affine + LIF pairs: what the one-pass path serves."""
    assert PAIRS * 6 > DeferredChecks.FLUSH_AT
    rng = np.random.default_rng(3)
    nodes: dict[str, nh.Node] = {"input": nh.Input([4])}
    edges, prev = [], "input"
    for i in range(PAIRS):
        nodes[f"a{i}"] = nh.Affine(
            weight=rng.standard_normal((4, 4)).astype(np.float32), bias=np.zeros(4, np.float32)
        )
        nodes[f"l{i}"] = nh.LIF(
            tau=np.full(4, 0.01), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4)
        )
        edges += [(prev, f"a{i}"), (f"a{i}", f"l{i}")]
        prev = f"l{i}"
    nodes["output"] = nh.Output([4])
    edges.append((prev, "output"))
    graph = nh.Graph(nodes, edges)
    p = tmp_path_factory.mktemp("nodes") / "many.nir"
    with h5py.File(p, "w") as f:
        f["version"] = "1.0.4"
        root = f.create_group("node")
        root["type"] = "NIRGraph"
        root.create_dataset("edges", data=np.array(edges, dtype=object), dtype=h5py.string_dtype())
        group = root.create_group("nodes")
        for name, node in nodes.items():
            g = group.create_group(name)
            g["type"] = node.type_name
            for field, value in node.params().items():
                if value is not None:
                    g[field] = np.asarray(value)
    return p, graph


def outcome(path: Path, engine: str, strict: bool = True) -> object:
    try:
        res = _read(path, strict=strict, engine=engine)
    except nh.FileFormatError as exc:
        return (type(exc), exc.location, exc.message)
    return res if strict else (res.graph, res.warnings)


def test_one_pass_nodes_equal_the_constructors(nir_file, monkeypatch):
    p, graph = nir_file
    built = []
    for cls in (LIF, Affine):
        original = cls._from_arrays.__func__

        def counting(cls_, values, checks, original=original):
            built.append(cls_.type_name)
            return original(cls_, values, checks)

        monkeypatch.setattr(cls, "_from_arrays", classmethod(counting))
    fast = _read(p, engine="fast")
    assert len(built) > 2 * PAIRS - 10  # (the first node of each kind takes the general path)
    slow = _read(p, engine="h5py")
    assert fast == slow == graph
    for name, node in fast.nodes.items():
        other = slow.nodes[name]
        assert vars(node).keys() == vars(other).keys()
        assert node.declared_input_shape() == other.declared_input_shape()
        for field, value in node.arrays():
            twin = getattr(other, field)
            assert value.dtype == twin.dtype and value.shape == twin.shape
            assert value.flags.writeable and value.flags.c_contiguous


def _edited(src: Path, dst: Path, edit) -> Path:
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        edit(f["node/nodes"])
    return dst


def _set(nodes: h5py.Group, path: str, index, value) -> None:
    data = nodes[path][()]
    data[index] = value
    nodes[path][...] = data


def _replace(nodes: h5py.Group, path: str, value) -> None:
    del nodes[path]
    nodes[path] = value


def _small_nan_then_large_inf(nodes: h5py.Group) -> None:
    """One node: a scalar field with a NaN (kept for the bulk check), then a large one with
    an inf (checked at once): the constructor names the first field."""
    for field in ("tau", "r", "v_leak", "v_threshold"):
        del nodes[f"l5/{field}"]
    r = np.ones(DeferredChecks.KEEP_MAX + 1)
    r[7] = np.inf
    nodes["l5/tau"] = np.float64(np.nan)
    nodes["l5/r"] = r
    nodes["l5/v_leak"] = np.float64(0)
    nodes["l5/v_threshold"] = np.float64(1)


def _dangling_edge(nodes: h5py.Group) -> None:
    edges = nodes.parent["edges"][()].astype(object)
    edges[4, 1] = b"nowhere"
    del nodes.parent["edges"]
    nodes.parent.create_dataset("edges", data=edges, dtype=h5py.string_dtype())


def _nan_then(later):
    def edit(nodes: h5py.Group) -> None:
        _set(nodes, "l12/tau", 3, np.nan)
        later(nodes)

    return edit


EDITS = {
    "nan": lambda n: _set(n, "l12/tau", 3, np.nan),
    "inf-weight": lambda n: _set(n, "a40/weight", (1, 2), -np.inf),
    "tau-zero": lambda n: _set(n, "l99/tau", 0, 0.0),
    "tau-int-zero": lambda n: _replace(n, "l99/tau", np.zeros(4, np.int64)),
    "tau-int-ok": lambda n: _replace(n, "l99/tau", np.full(4, 2, np.int64)),
    "nan-past-a-batch": lambda n: _set(n, f"l{PAIRS - 2}/v_threshold", 1, np.nan),
    "two-nans": lambda n: (_set(n, "l201/r", 0, np.nan), _set(n, "l202/tau", 0, np.nan)),
    "nan-then-missing-field": _nan_then(lambda n: n.__delitem__("l15/v_threshold")),
    "nan-then-population-shape": _nan_then(lambda n: _replace(n, "l150/r", np.ones(3))),
    "nan-then-unknown-type": _nan_then(lambda n: _replace(n, "l16/type", "Bogus")),
    "bias-shape-before-nan": _nan_then(lambda n: _replace(n, "a1/bias", np.zeros(3, np.float32))),
    "weight-1d": lambda n: _replace(n, "a3/weight", np.ones(4, np.float32)),
    "small-nan-then-large-inf": _small_nan_then_large_inf,
    "nan-then-dangling-edge": _nan_then(_dangling_edge),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_bulk_value_checks_fail_as_the_constructor_does(nir_file, tmp_path, edit):
    """Whatever is wrong, and wherever: the same error at the same place as the general path
    (where every node is checked when it is built), in strict and tolerant reads."""
    p = _edited(nir_file[0], tmp_path / "bad.nir", EDITS[edit])
    slow = outcome(p, "h5py")
    assert outcome(p, "fast") == slow
    assert outcome(p, "fast", strict=False) == outcome(p, "h5py", strict=False)
    if edit == "tau-int-ok":
        assert isinstance(slow, nh.Graph)
    else:
        assert issubclass(slow[0], nh.FileFormatError)


def test_deferred_checks_say_whether_every_array_passes():
    checks = DeferredChecks()
    good = {"tau": np.full(3, 0.5), "r": np.ones(3, np.float32), "d": np.zeros(2, np.int8)}
    checks.add("LIF", good, ("tau", "r"), positive=frozenset({"tau"}))
    checks.add("Delay", good, ("d",), nonnegative=frozenset({"d"}))
    assert checks.passed()
    assert not checks.finite  # forgotten once checked
    for bad, kind in (
        ({"x": np.array([1.0, np.nan])}, {}),
        ({"x": np.array([1.0, -0.5])}, {"positive": frozenset({"x"})}),
        ({"x": np.array([0, 1], np.uint8)}, {"positive": frozenset({"x"})}),
        ({"x": np.array([-1, 1], np.int64)}, {"nonnegative": frozenset({"x"})}),
    ):
        checks.add("LIF", good, ("tau",), positive=frozenset({"tau"}))
        checks.add("LIF", bad, ("x",), **kind)
        assert not checks.passed()
    big = np.ones(DeferredChecks.KEEP_MAX + 1)
    big[-1] = np.nan
    with pytest.raises(IRError, match="non-finite"):  # large arrays: checked at once
        checks.add("LIF", {"x": big}, ("x",))


def test_graph_from_checked_parts_equals_the_constructor():
    sub = nh.Graph(
        {"in": nh.Input(2), "l": lif(2), "out": nh.Output(2)}, [("in", "l"), ("l", "out")]
    )
    nodes = {"in": nh.Input(2), "sub": sub, "out": nh.Output(2)}
    edges = [("in", "sub"), ("sub", "out")]
    assert Graph._from_checked_parts(dict(nodes), list(edges), {"k": 1}) == nh.Graph(
        nodes, edges, {"k": 1}
    )
    with pytest.raises(IRError, match="non-empty strings"):  # anything odd: the constructor
        Graph._from_checked_parts({"": lif(2)}, [])
    levels = []
    for build in (nh.Graph, Graph._from_checked_parts):
        deep = nh.Graph({"in": nh.Input(1), "out": nh.Output(1)}, [("in", "out")])
        level = 0
        with pytest.raises(IRError, match="nest"):
            while level <= MAX_NESTING:
                deep = build({"g": deep}, [])
                level += 1
        levels.append(level)
    assert levels[0] == levels[1]


def test_graph_problems_keep_their_order():
    """Every kind of structural problem, at two levels, in the order the checks report them
    (the set-based shortcuts of the checks must not reorder or drop any)."""
    sub = nh.Graph(
        {"in": nh.Input(2), "l": lif(2), "dead": lif(2), "out": nh.Output(2)},
        [("in", "l"), ("l", "out"), ("l", "dead"), ("l", "out")],
    )
    g = nh.Graph(
        {
            "in": nh.Input(3), "a": nh.Linear(np.ones((2, 3))), "sub": sub, "orphan": lif(2),
            "end": lif(2), "out": nh.Output(2), "x.y": lif(2),
        },
        [
            ("in", "a"), ("a", "sub"), ("sub", "out"), ("a", "sub.in"), ("sub.l", "out"),
            ("out", "in"), ("a", "end"), ("a", "ghost"), ("a", "sub"), ("x.y", "a"),
            ("sub.out", "out"),
        ],
    )  # fmt: skip
    assert [(p.where, p.kind) for p in g.problems()] == [
        ("<graph>", "dangling-edge"),
        ("<graph>", "dangling-edge"),
        ("in", "edge-into-input"),
        ("out", "edge-from-output"),
        ("<graph>", "duplicate-edge"),
        ("orphan", "unreachable"),
        ("x.y", "unreachable"),
        ("end", "dead-end"),
        ("sub", "duplicate-edge"),
        ("sub.dead", "dead-end"),
        ("in", "shape-mismatch"),
        ("a", "shape-mismatch"),
    ]
    assert "sub.l is not an Output of subgraph sub" in g.problems()[0].message
    assert "ghost, which does not exist" in g.problems()[1].message
    # lists as edges (a graph edited in place) are checked as tuples are
    g.edges = [list(e) for e in g.edges]
    assert [(p.where, p.kind) for p in g.problems()][4] == ("<graph>", "duplicate-edge")
