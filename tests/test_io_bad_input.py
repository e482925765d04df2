"""Malformed and hostile files give FileFormatError naming the path inside the file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import nirhub as nh
from nirhub.errors import FileFormatError
from nirhub.io import InvalidGraphFileError, read, write


def good_file(path) -> None:
    g = nh.Graph(
        {
            "input": nh.Input([2]),
            "lif": nh.LIF(
                tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)
            ),
            "output": nh.Output([2]),
        },
        [("input", "lif"), ("lif", "output")],
    )
    write(g, path)


def mutate(tmp_path, fn):
    path = tmp_path / "m.nir"
    good_file(path)
    with h5py.File(path, "r+") as f:
        fn(f)
    return path


def expect(path, location: str | None, match: str = "", strict: bool = True):
    with pytest.raises(FileFormatError, match=match) as info:
        read(path, strict=strict)
    if location is not None:
        assert info.value.location == location, str(info.value)
    return info.value


def test_not_hdf5(tmp_path):
    p = tmp_path / "x.nir"
    p.write_bytes(b"this is not HDF5" * 100)
    expect(p, None, "not an HDF5 file")
    with pytest.raises(FileFormatError, match="no such file"):
        read(tmp_path / "missing.nir")
    with pytest.raises(FileFormatError, match="directory"):
        read(tmp_path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated(tmp_path, keep):
    p = tmp_path / "t.nir"
    good_file(p)
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FileFormatError):
        read(p, strict=False)


def test_wrong_dtype(tmp_path):
    def fn(f):
        del f["node/nodes/lif/tau"]
        f["node/nodes/lif/tau"] = np.array([b"a", b"b"])

    expect(mutate(tmp_path, fn), "/node/nodes/lif/tau", "numeric")


def test_bool_param_refused(tmp_path):
    def fn(f):
        del f["node/nodes/lif/r"]
        f["node/nodes/lif/r"] = np.array([True, False])

    expect(mutate(tmp_path, fn), "/node/nodes/lif/r", "numeric")


def test_missing_required(tmp_path):
    p = mutate(tmp_path, lambda f: f.__delitem__("node/nodes/lif/tau"))
    e = expect(p, "/node/nodes/lif", "tau", strict=False)
    assert "required" in e.message


def test_unknown_dataset(tmp_path):
    p = mutate(tmp_path, lambda f: f.create_dataset("node/nodes/lif/refractory", data=[1.0]))
    expect(p, "/node/nodes/lif/refractory", "not a field of LIF")
    res = read(p, strict=False)
    (w,) = res.warnings
    assert w.kind == "unknown-field" and w.location == "/node/nodes/lif/refractory"
    assert res.graph.nodes["lif"].tau.tolist() == [0.01, 0.01]


def test_unknown_node_type(tmp_path):
    def fn(f):
        del f["node/nodes/lif/type"]
        f["node/nodes/lif/type"] = "Izhikevich"

    e = expect(mutate(tmp_path, fn), "/node/nodes/lif/type", "Izhikevich", strict=False)
    assert "Known types" in str(e)


def test_edge_to_missing_node(tmp_path):
    def fn(f):
        del f["node/edges"]
        f["node/edges"] = np.array([[b"input", b"lif"], [b"lif", b"nowhere"]], dtype=object)

    e = expect(mutate(tmp_path, fn), "/node/edges", "nowhere")
    assert isinstance(e, InvalidGraphFileError)


def test_cycle_through_input(tmp_path):
    def fn(f):
        del f["node/edges"]
        f["node/edges"] = np.array(
            [[b"input", b"lif"], [b"lif", b"input"], [b"lif", b"output"]], dtype=object
        )

    e = expect(mutate(tmp_path, fn), None, "Input but has an incoming edge")
    assert e.location.startswith("/node")


def test_bad_edges_shape(tmp_path):
    def fn(f):
        del f["node/edges"]
        f["node/edges"] = np.array([b"input", b"lif", b"output"], dtype=object)

    expect(mutate(tmp_path, fn), "/node/edges", r"\(E, 2\)", strict=False)


def test_absurd_declared_dataset_size(tmp_path):
    def fn(f):
        del f["node/nodes/lif/tau"]
        # 2**40 float64 elements declared; chunked + compressed so the file stays tiny
        f.create_dataset(
            "node/nodes/lif/tau",
            shape=(2**20, 2**20),
            dtype="f8",
            chunks=(1, 1024),
            compression="gzip",
        )

    e = expect(mutate(tmp_path, fn), "/node/nodes/lif/tau", "limit", strict=False)
    assert "max_bytes" in str(e)


def test_budget_is_configurable(tmp_path):
    p = tmp_path / "g.nir"
    good_file(p)
    with pytest.raises(FileFormatError, match="budget"):
        read(p, max_bytes=40)
    assert read(p, max_bytes=10_000).nodes["lif"].tau.size == 2


def test_absurd_shape_value(tmp_path):
    def fn(f):
        del f["node/nodes/input/shape"]
        f["node/nodes/input/shape"] = np.array([10**9, 10**9])

    expect(mutate(tmp_path, fn), "/node/nodes/input/shape", "elements", strict=False)


def test_external_link_not_followed(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["tau"] = np.ones(2)

    def fn(f):
        del f["node/nodes/lif/tau"]
        f["node/nodes/lif/tau"] = h5py.ExternalLink(str(other), "/tau")

    expect(mutate(tmp_path, fn), "/node/nodes/lif/tau", "external link", strict=False)


def test_soft_link_refused(tmp_path):
    def fn(f):
        f["node/nodes/loop"] = h5py.SoftLink("/node")

    expect(mutate(tmp_path, fn), "/node/nodes/loop", "soft link", strict=False)


def test_hard_link_cycle_refused(tmp_path):
    def fn(f):
        f["node/nodes/again"] = f["node"]

    expect(mutate(tmp_path, fn), None, "more than once", strict=False)


def test_external_storage_refused(tmp_path):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones(2).tobytes())

    def fn(f):
        del f["node/nodes/lif/tau"]
        f.create_dataset("node/nodes/lif/tau", shape=(2,), dtype="f8", external=[(str(raw), 0, 16)])

    expect(mutate(tmp_path, fn), "/node/nodes/lif/tau", "external files", strict=False)


def test_virtual_dataset_refused(tmp_path):
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f["x"] = np.ones(2)

    def fn(f):
        del f["node/nodes/lif/tau"]
        layout = h5py.VirtualLayout(shape=(2,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(src), "x", shape=(2,))
        f.create_virtual_dataset("node/nodes/lif/tau", layout)

    expect(mutate(tmp_path, fn), "/node/nodes/lif/tau", "virtual", strict=False)


def test_no_node_group(tmp_path):
    p = tmp_path / "e.nir"
    with h5py.File(p, "w") as f:
        f["version"] = "1.0.8"
    expect(p, "/", "no '/node'")
    with h5py.File(p, "w") as f:
        f["edges"] = np.zeros((0,))
        f.create_group("nodes")
    expect(p, "/", "0.0.x layout")


def test_non_utf8_string(tmp_path):
    def fn(f):
        del f["node/nodes/lif/type"]
        f["node/nodes/lif/type"] = np.bytes_(b"\xff\xfe")

    expect(mutate(tmp_path, fn), "/node/nodes/lif/type", "UTF-8", strict=False)


def test_fixed_length_and_ascii_strings_accepted(tmp_path):
    def fn(f):
        del f["node/nodes/lif/type"]
        f["node/nodes/lif/type"] = np.bytes_(b"LIF")  # fixed-length ASCII
        del f["node/edges"]
        f["node/edges"] = np.array([[b"input", b"lif"], [b"lif", b"output"]], dtype="S6")

    g = read(mutate(tmp_path, fn))
    assert g.edges == [("input", "lif"), ("lif", "output")]


def test_old_layout_variants_accepted(tmp_path):
    """No /version, (0,) float edges inside a subgraph, big-endian and int params, scalars."""
    p = tmp_path / "old.nir"
    with h5py.File(p, "w") as f:
        n = f.create_group("node")
        n["type"] = np.bytes_(b"NIRGraph")
        n["edges"] = np.array(
            [[b"input", b"conv"], [b"conv", b"flat"], [b"flat", b"output"]], dtype=object
        )
        nodes = n.create_group("nodes")
        i = nodes.create_group("input")
        i["type"] = "Input"
        i["shape"] = np.array([1, 6, 6], dtype=">i4")
        c = nodes.create_group("conv")
        c["type"] = "Conv2d"
        c["weight"] = np.ones((2, 1, 3, 3), dtype=">f4")
        c["bias"] = np.zeros(2, dtype=np.float16)
        c["stride"] = 1
        c["padding"] = "same"
        c["dilation"] = np.array([1, 1])
        c["groups"] = np.int32(1)  # no input_shape: written before nir 1.0
        fl = nodes.create_group("flat")
        fl["type"] = "Flatten"
        fl["start_dim"] = 0
        fl["end_dim"] = -1  # no input_type: written before nir 0.2
        md = fl.create_group("metadata")
        md.create_group("deep")["x"] = np.uint8(3)
        o = nodes.create_group("output")
        o["type"] = "Output"
        o["shape"] = np.array([72])
        e = nodes.create_group("empty")
        e["type"] = "NIRGraph"
        e["edges"] = np.zeros((0,))
        e.create_group("nodes")
    res = read(p, strict=False)
    g = res.graph
    assert res.version is None
    assert g.nodes["conv"].weight.dtype == np.float32 and g.nodes["conv"].input_shape is None
    assert g.nodes["conv"].padding == "same"
    assert g.nodes["flat"].metadata == {"deep": {"x": np.uint8(3)}}
    assert g.nodes["empty"].edges == []
    assert g.infer_shapes().output("flat") == (72,)


def test_read_errors_never_leak_other_exceptions(tmp_path):
    p = tmp_path / "x.nir"
    good_file(p)
    data = bytearray(p.read_bytes())
    rng = np.random.default_rng(0)
    for _ in range(30):
        corrupt = bytearray(data)
        for pos in rng.integers(0, len(corrupt), 20):
            corrupt[pos] ^= 0xFF
        p.write_bytes(bytes(corrupt))
        try:
            read(p, strict=False)
        except (FileFormatError, nh.IRError):
            pass
