"""Write -> read round trips (ported from nir's tests/test_readwrite.py with keyword arguments,
plus the extra coverage listed in spec §7)."""

from __future__ import annotations

import os
import stat

import h5py
import numpy as np
import pytest
from _io_graphs import every_primitive_graph

import nirhub as nh
from nirhub.errors import FileFormatError, RefusedError, UsageError
from nirhub.io import read, write

METADATA = {"some": "metadata", "with": 2, "data": np.array([1.0, 2.0])}


def roundtrip(graph: nh.Graph, tmp_path, **kw) -> nh.Graph:
    path = tmp_path / "g.nir"
    write(graph, path, overwrite=True, **kw)
    back = read(path, strict=False).graph
    assert back == graph
    for name, node in graph.nodes.items():  # dtypes survive, not just values
        for field, value in node.params().items():
            if isinstance(value, np.ndarray):
                assert getattr(back.nodes[name], field).dtype == value.dtype, (name, field)
    return back


def chain(*nodes: nh.Node, metadata: bool = False) -> nh.Graph:
    if metadata:
        nodes = tuple(n.replace(metadata=dict(METADATA)) for n in nodes)
    return nh.Graph.from_list(*nodes)


@pytest.fixture(params=[False, True], ids=["plain", "metadata"])
def md(request) -> bool:
    return request.param


@pytest.fixture(params=[None, "gzip"])
def comp(request):
    return request.param


def test_simple_self_loop(tmp_path, comp):
    g = nh.Graph({"a": nh.Affine(weight=np.eye(3), bias=np.zeros(3))}, [("a", "a")])
    roundtrip(g, tmp_path, compression=comp)


def test_nested_with_cycle(tmp_path, comp):
    inner = nh.Graph(
        {
            "input": nh.Input(shape=[3]),
            "i": nh.I(r=np.ones(3)),
            "d": nh.Delay(delay=np.ones(3)),
            "output": nh.Output(None),
        },
        [("input", "i"), ("i", "d"), ("d", "i"), ("i", "output")],
    )
    innermost = nh.Graph({"input": nh.Input([3]), "output": nh.Output([3])}, [("input", "output")])
    inner.add_node("deeper", innermost)
    g = nh.Graph(
        {
            "input": nh.Input([2]),
            "a": nh.Affine(weight=np.ones((3, 2)), bias=np.zeros(3)),
            "sub": inner,
            "output": nh.Output([3]),
        },
        [("input", "a"), ("a", "sub"), ("sub", "output")],
        metadata={"nirhub": {"dt": 1e-4, "reset": "subtract"}},
    )
    back = roundtrip(g, tmp_path, compression=comp)
    assert back.nodes["sub"].nodes["output"].shape is None  # absent stays absent


def test_conv2d_from_list(tmp_path, md):
    g = chain(
        nh.Input(shape=[1, 100, 100]),
        nh.Conv2d(
            input_shape=(100, 100),
            weight=np.ones((2, 1, 3, 3)),
            stride=1,
            padding=1,
            dilation=1,
            groups=1,
            bias=np.ones(2),
        ),
        metadata=md,
    )
    roundtrip(g, tmp_path)


@pytest.mark.parametrize(
    "node",
    [
        nh.I(r=np.array([1.0, 2.0])),
        nh.IF(r=np.array([1.0, 2.0]), v_threshold=np.array([1.0, 1.5])),
        nh.IF(r=np.array([1.0, 2.0]), v_threshold=np.array([1.0, 1.5]), v_reset=np.zeros(2)),
        nh.LI(tau=np.array([0.01, 0.02]), r=np.ones(2), v_leak=np.zeros(2)),
        nh.Linear(weight=np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])),
        nh.LIF(
            tau=np.full(2, 0.01),
            r=np.ones(2),
            v_leak=np.zeros(2),
            v_threshold=np.ones(2),
            v_reset=np.full(2, -0.5),
        ),
        nh.CubaLI(
            tau_syn=np.full(3, 0.005), tau_mem=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3)
        ),
        nh.CubaLIF(
            tau_syn=np.full(3, 0.005),
            tau_mem=np.full(3, 0.01),
            r=np.ones(3),
            v_leak=np.zeros(3),
            v_threshold=np.ones(3),
            w_in=np.full(3, 2.0),
        ),
        nh.Scale(scale=np.array([1.0, 2.0, 3.0])),
        nh.Delay(delay=np.array([1.0, 2.0, 3.0])),
        nh.Threshold(threshold=np.array([1.0, 2.0, 3.0])),
        nh.Affine(
            weight=np.arange(6, dtype=np.int64).reshape(3, 2), bias=np.arange(3, dtype=np.int64)
        ),
    ],
    ids=lambda n: n.type_name,
)
def test_single_primitive(tmp_path, node, md):
    roundtrip(chain(node, metadata=md), tmp_path)


def test_flatten(tmp_path, md):
    g = chain(
        nh.Input(shape=[4, 5, 2]),
        nh.Flatten(input_type=[4, 5, 2], start_dim=0, end_dim=1),
        metadata=md,
    )
    roundtrip(g, tmp_path)


def test_pools(tmp_path, md):
    for cls in (nh.SumPool2d, nh.AvgPool2d):
        g = chain(
            nh.Input(shape=[1, 64, 64]),
            cls(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)),
            metadata=md,
        )
        roundtrip(g, tmp_path)


def test_every_primitive(tmp_path, comp):
    roundtrip(every_primitive_graph(), tmp_path, compression=comp)


def test_kernel_3x5_and_groups(tmp_path):
    conv = nh.Conv2d(
        input_shape=(10, 10),
        weight=np.ones((4, 1, 3, 5), np.float32),
        stride=(1, 2),
        padding="valid",
        dilation=(2, 1),
        groups=2,
        bias=np.zeros(4, np.float32),
    )
    g = chain(nh.Input([2, 10, 10]), conv)
    back = roundtrip(g, tmp_path)
    assert back.nodes["conv2d"].groups == 2
    assert back.nodes["conv2d"].padding == "valid"


def test_zero_d_params(tmp_path, comp):
    g = nh.Graph(
        {
            "input": nh.Input([3]),
            "lif": nh.LIF(
                tau=np.float32(0.01) * np.ones((), np.float32),
                r=np.array(1.0),
                v_leak=np.zeros(3),
                v_threshold=np.array(1.0),
            ),
            "output": nh.Output([3]),
        },
        [("input", "lif"), ("lif", "output")],
    )
    path = tmp_path / "z.nir"
    write(g, path, compression=comp)
    with h5py.File(path) as f:
        # written with the population shape: nir >= 1.0.5 types a node by its parameters
        ds = f["node/nodes/lif/r"]
        assert ds.shape == (3,) and ds.dtype == np.float64
        assert f["node/nodes/lif/tau"].dtype == np.float32
        if comp:
            assert f["node/nodes/lif/v_leak"].compression == "gzip"
    back = read(path).nodes["lif"]
    for name in ("tau", "r", "v_leak", "v_threshold"):
        want = getattr(g.nodes["lif"], name)
        np.testing.assert_array_equal(getattr(back, name), np.broadcast_to(want, (3,)))


def test_names_with_slash_refused(tmp_path):
    g = nh.Graph({"a/b": nh.Input([1]), "out": nh.Output([1])}, [("a/b", "out")])
    with pytest.raises(FileFormatError, match="'a/b'"):
        write(g, tmp_path / "x.nir")
    assert not any(tmp_path.iterdir())  # nothing left behind
    dotted = nh.Graph({"lif1.lif": nh.Input([1]), "out": nh.Output([1])}, [("lif1.lif", "out")])
    roundtrip(dotted, tmp_path)


def test_empty_edges_written_as_0x2_strings(tmp_path):
    g = nh.Graph({"x": nh.Scale(scale=np.ones(2))}, [])
    path = tmp_path / "e.nir"
    write(g, path)
    with h5py.File(path) as f:
        assert f["node/edges"].shape == (0, 2)
        assert h5py.check_string_dtype(f["node/edges"].dtype) is not None
    assert read(path, strict=False).graph == g


def test_v_reset_absent_stays_absent(tmp_path):
    g = chain(
        nh.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    )
    path = tmp_path / "v.nir"
    write(g, path)
    with h5py.File(path) as f:
        assert "v_reset" not in f["node/nodes/lif"]
    assert read(path).nodes["lif"].v_reset is None


def test_metadata_types_survive(tmp_path):
    md = {
        "nirhub": {"dt": 1e-4, "reset": "zero", "source": "norse"},
        "nested": {"deeper": {"x": 1}},
        "s": "text",
        "i": 3,
        "f": 2.5,
        "b": True,
        "b2": False,
        "strs": ["a", "bb", "ünï"],
        "strtuple": ("x", "y"),
        "nums": [1, 2, 3],
        "floats": (0.5, 1.5),
        "empty": [],
        "none": None,
        "arr": np.arange(6, dtype=np.int16).reshape(2, 3),
        "zerod": np.array(4.0),
        "f32": np.float32(1.5),
        "barr": np.array([True, False]),
    }
    g = nh.Graph(
        {"input": nh.Input([1]), "output": nh.Output([1])}, [("input", "output")], metadata=md
    )
    back = roundtrip(g, tmp_path).metadata
    for key, value in md.items():
        assert type(back[key]) is type(value), key
    assert back["f32"].dtype == np.float32
    assert back["zerod"].shape == ()
    assert back["strs"] == ["a", "bb", "ünï"]


@pytest.mark.parametrize(
    "bad", [{"k": object()}, {"k": [1, "a"]}, {"a/b": 1}, {"k": [[1], [1, 2]]}]
)
def test_unwritable_metadata_is_a_clear_error(tmp_path, bad):
    g = nh.Graph(
        {"input": nh.Input([1], metadata=bad), "output": nh.Output([1])}, [("input", "output")]
    )
    with pytest.raises(FileFormatError, match="input"):
        write(g, tmp_path / "m.nir")
    assert not any(tmp_path.iterdir())


def test_overwrite_refused_and_atomic(tmp_path):
    g = chain(nh.I(r=np.ones(2)))
    path = tmp_path / "o.nir"
    write(g, path)
    before = path.read_bytes()
    with pytest.raises(RefusedError, match="overwrite"):
        write(g, path)
    assert path.read_bytes() == before
    write(g, path, overwrite=True)
    assert read(path) == g
    assert [p.name for p in tmp_path.iterdir()] == ["o.nir"]  # no temp files left
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode & 0o044  # not the 0600 of mkstemp


def test_bad_write_arguments(tmp_path):
    g = chain(nh.I(r=np.ones(2)))
    with pytest.raises(UsageError):
        write(g, tmp_path / "a.nir", nir_version="0.9")
    with pytest.raises(UsageError):
        write(g, tmp_path / "a.nir", compression="lz4")
    with pytest.raises(UsageError):
        write(g, tmp_path)


def test_node_order_is_kept(tmp_path):
    names = ["z", "a", "m", "10", "2"]
    nodes = {n: nh.Scale(scale=np.ones(1)) for n in names}
    g = nh.Graph(nodes, [])
    back = roundtrip(g, tmp_path)
    assert list(back.nodes) == names


def test_conv_missing_fields_filled_for_nir_but_absent_for_us(tmp_path):
    conv = nh.Conv2d(input_shape=None, weight=np.ones((2, 1, 3, 3)), padding=1)
    g = nh.Graph(
        {
            "input": nh.Input([1, 8, 8]),
            "conv": conv,
            "flat": nh.Flatten(input_type=None, start_dim=0),
            "output": nh.Output(None),
        },
        [("input", "conv"), ("conv", "flat"), ("flat", "output")],
    )
    path = tmp_path / "c.nir"
    write(g, path)
    with h5py.File(path) as f:  # what nir readers need is there...
        assert list(f["node/nodes/conv/input_shape"][()]) == [8, 8]
        assert list(f["node/nodes/conv/bias"][()]) == [0, 0]
        assert list(f["node/nodes/flat/input_type"][()]) == [2, 8, 8]
        assert list(f["node/nodes/output/shape"][()]) == [128]
    back = read(path)  # ...and nirhub still reads the graph as written
    assert back == g
    assert back.nodes["conv"].input_shape is None and back.nodes["conv"].bias is None


def test_non_graph_root_is_wrapped(tmp_path):
    path = tmp_path / "root.nir"
    with h5py.File(path, "w") as f:
        f["version"] = "1.0.8"
        n = f.create_group("node")
        n["type"] = "LIF"
        for k, v in {"tau": [0.01], "r": [1.0], "v_leak": [0.0], "v_threshold": [1.0]}.items():
            n[k] = np.array(v)
    g = read(path)
    assert list(g.nodes) == ["input", "lif", "output"]
    assert g.nodes["lif"].tau.tolist() == [0.01]
    res = read(path, strict=False)
    assert [w.kind for w in res.warnings] == ["root-wrapped"]
