"""Compatibility with the reference package: files written by nir 1.0.4 / 1.0.8 read right, and
nir 1.0.8 (current layout) and nir 1.0.4 (legacy layout) read nirhub's files right.

nir runs in cached virtual environments (``tests/_nirvenv.py``), created on first use.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _io_graphs import every_primitive_graph
from _nir_script import SCRIPT
from _nirvenv import nir_python

import nirhub as nh
from nirhub.errors import UnsupportedError
from nirhub.io import read, write
from nirhub.io._fast_format import MARKER
from nirhub.io.reader import _read
from nirhub.testing.corpus import CORPUS

REPO = Path(__file__).resolve().parent.parent
FILES = sorted(CORPUS.glob("**/*.nir"))


def run_nir(version: str, *args: str) -> dict:
    proc = subprocess.run(
        [str(nir_python(version)), "-c", SCRIPT, *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _graph_at(graph: nh.Graph, prefix: str) -> nh.Graph:
    return graph if not prefix else graph.find(prefix.rstrip("."))  # type: ignore[return-value]


def compare(graph: nh.Graph, dump_path: str, *, legacy: bool = False) -> int:
    """Check every value nir saw against the nirhub graph; returns how many were compared."""
    dump = np.load(dump_path)
    checked = 0
    for key in dump.files:
        path, field = key.split("|")
        theirs = dump[key]
        if field == "#edges":
            g = _graph_at(graph, path)
            assert sorted(f"{s}->{d}" for s, d in g.edges) == theirs.tolist(), path
            checked += 1
            continue
        node = graph.find(path)
        if field == "#type":
            assert node.type_name == str(theirs), path
        elif field == "#metadata":
            continue  # compared by the tests that know what they wrote
        else:
            ours = getattr(node, field)
            if ours is None:
                # absent in nirhub: nir fills its documented default
                if field == "v_reset":
                    assert not theirs.any(), path
                elif field == "w_in":
                    assert (theirs == 1).all(), path
                elif field == "bias":
                    assert not theirs.any(), path
                elif field in ("input_shape", "input_type", "shape"):
                    pass  # filled from shape inference, checked by nir's own type check
                else:
                    raise AssertionError(f"{path}.{field}: nir has {theirs}, nirhub None")
                checked += 1
                continue
            if isinstance(ours, str) or theirs.dtype.kind in "US":
                assert str(ours) == str(theirs), (path, field)
            else:
                assert np.array_equal(np.asarray(ours).reshape(-1), theirs.reshape(-1)), (
                    path,
                    field,
                    ours,
                    theirs,
                )
                if isinstance(ours, np.ndarray):
                    assert ours.dtype == theirs.dtype, (path, field)
        checked += 1
    return checked


@pytest.mark.parametrize("version", ["1.0.4", "1.0.8"])
def test_files_written_by_nir_read_right(version, tmp_path):
    info = run_nir(version, "write", str(tmp_path))
    assert info["version"] == version
    g = read(tmp_path / "every.nir")
    assert compare(g, str(tmp_path / "every.nir.npz")) > 60
    assert ("cubali" in g.nodes) == (version != "1.0.4")
    assert g.nodes["lif"].metadata == {"a": 1, "s": "text", "nested": {"b": 2.5}}
    assert g.metadata == {"nirhub": {"dt": 1e-4}}
    if version == "1.0.4":
        assert g.nodes["lif"].v_reset is None
    else:
        assert g.nodes["lif"].v_reset.tolist() == [0.25] * 8
    empty = read(tmp_path / "empty_edges.nir", strict=False).graph
    assert empty.edges == [] and list(empty.nodes) == ["s"]
    compare(empty, str(tmp_path / "empty_edges.nir.npz"))
    # nirhub's fast parser reads nir's (h5py's) layout itself, compressed or not: the same
    # graph, node order, warnings and version as through h5py, with no fallback
    for path in sorted(tmp_path.glob("*.nir")):
        for strict in (True, False):
            fast = outcome(_read, path, strict=strict, engine="fast")
            slow = outcome(_read, path, strict=strict, engine="h5py")
            assert fast == slow, path
    raw = read(tmp_path / "every_raw.nir")
    assert raw == g


def outcome(read_fn, *args, **kw) -> object:
    """The graph (with node order), warnings and version of a read, or the error."""
    try:
        res = read_fn(*args, **kw)
    except nh.FileFormatError as exc:
        return (type(exc), exc.location, exc.message)
    if isinstance(res, nh.Graph):  # strict reads give the graph alone
        res = nh.ReadResult(res, [], None)
    order = [list(res.graph.nodes)] + [
        list(n.nodes) for _, n in res.graph.walk() if isinstance(n, nh.Graph)
    ]
    return res.graph, order, res.warnings, res.version


def _our_files(tmp_path: Path, legacy: bool) -> dict[str, nh.Graph]:
    graphs: dict[str, nh.Graph] = {}
    for path in FILES:
        graphs[path.stem] = read(path, strict=False).graph
    if legacy:
        graphs["every"] = every_primitive_graph(cuba_li=False, v_reset=False)
        subtract = every_primitive_graph(cuba_li=False, v_reset=True)
        nh.set_reset(subtract.metadata, "subtract")
        graphs["every_subtract"] = subtract
    else:
        graphs["every"] = every_primitive_graph()
    out = {}
    for name, g in graphs.items():
        p = tmp_path / f"{name}.nir"
        write(g, p, nir_version="1.0.4" if legacy else "1.0.8")
        assert p.read_bytes().startswith(MARKER)  # nirhub's own HDF5 writer, not libhdf5
        out[str(p)] = g
    # compressed files are written by the fast writer too (chunked, deflate)
    p = tmp_path / "every_gzip.nir"
    write(graphs["every"], p, compression="gzip", nir_version="1.0.4" if legacy else "1.0.8")
    assert p.read_bytes().startswith(MARKER)
    out[str(p)] = graphs["every"]
    return out


def test_nir_108_reads_our_default_layout(tmp_path):
    files = _our_files(tmp_path, legacy=False)
    run_nir("1.0.8", "read", *files)
    for p, g in files.items():
        assert compare(g, p + ".npz") >= len(g.nodes), p


def test_nir_104_reads_our_legacy_layout(tmp_path):
    files = _our_files(tmp_path, legacy=True)
    run_nir("1.0.4", "read", *files)
    for p, g in files.items():
        assert compare(g, p + ".npz", legacy=True) >= len(g.nodes), p


def test_legacy_layout_refuses_what_nir_104_cannot_express(tmp_path):
    g = every_primitive_graph()  # CubaLI, and v_reset on LIF/IF/CubaLIF
    with pytest.raises(UnsupportedError) as info:
        write(g, tmp_path / "x.nir", nir_version="1.0.4")
    where = {p.where for p in info.value.problems}
    assert {"cubali", "lif", "if", "cubalif"} <= where
    assert not (tmp_path / "x.nir").exists()
    zero = every_primitive_graph(cuba_li=False, v_reset=False)
    nh.set_reset(zero.metadata, "zero")  # explicitly reset-to-zero: 1.0.4 would subtract
    with pytest.raises(UnsupportedError, match="subtraction"):
        write(zero, tmp_path / "x.nir", nir_version="1.0.4")
    subtract = every_primitive_graph(cuba_li=False)
    nh.set_reset(subtract.metadata, "subtract")
    report = write(subtract, tmp_path / "x.nir", nir_version="1.0.4")
    assert any("dropped v_reset" in n for n in report.notes)
    back = read(tmp_path / "x.nir")
    assert back.nodes["lif"].v_reset is None and back.metadata == subtract.metadata


def test_legacy_layout_drops_metadata_nir_104_has_no_place_for(tmp_path):
    g = every_primitive_graph(cuba_li=False, v_reset=False)
    g.nodes["linear"] = g.nodes["linear"].replace(metadata={"k": 1})
    g.nodes["affine"] = g.nodes["affine"].replace(metadata={"k": 2})
    report = write(g, tmp_path / "m.nir", nir_version="1.0.4")
    assert any(n.startswith("linear: dropped metadata") for n in report.notes)
    back = read(tmp_path / "m.nir")
    assert back.nodes["linear"].metadata == {} and back.nodes["affine"].metadata == {"k": 2}
    import h5py

    with h5py.File(tmp_path / "m.nir") as f:
        assert f["version"][()] == b"1.0.4"


@pytest.mark.parametrize("version", ["1.0.4", "1.0.8"])
def test_nir_interop(version, tmp_path):
    files = [str(p) for p in FILES]
    p = tmp_path / "every.nir"
    write(every_primitive_graph(cuba_li=version != "1.0.4", v_reset=version != "1.0.4"), p)
    files.append(str(p))
    results = run_nir(version, "interop", str(REPO), *files)
    assert results == {f: True for f in files}
