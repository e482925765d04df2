"""Property tests: mutated files and random graphs only ever give nirhub errors (or success)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nirhub as nh
from nirhub.errors import FileFormatError, IRError
from nirhub.io import read, write

CORPUS = Path(__file__).parent / "data" / "corpus"
SEEDS = [
    CORPUS / "lif" / "two_lif_neurons.nir",
    CORPUS / "cnn" / "cnn_sinabs.nir",
    CORPUS / "rnn" / "braille_noDelay_bias_zero_subgraph.nir",
]
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _attempt(path: Path) -> None:
    for strict in (True, False):
        try:
            read(path, strict=strict, max_bytes=1 << 24)
        except (FileFormatError, IRError):
            pass


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=30),
)
def test_bit_flips(seed, flips):
    data = bytearray(seed.read_bytes())
    for where, mask in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= mask
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.nir"
        p.write_bytes(bytes(data))
        _attempt(p)


@FUZZ
@given(seed=st.sampled_from(SEEDS), keep=st.floats(0, 1))
def test_truncation(seed, keep):
    data = seed.read_bytes()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.nir"
        p.write_bytes(data[: int(len(data) * keep)])
        _attempt(p)


REPLACEMENTS = st.sampled_from(
    [
        np.array([]),
        np.array(3.5),
        np.array([[1, 2], [3, 4]]),
        np.array([b"x", b"y"]),
        np.array([True]),
        np.array([1e308, -1e308]),
        np.array([np.nan]),
        np.array([-5, 0]),
        np.array([10**12]),
        "same",
        "garbage",
        np.zeros((0, 2)),
        np.array([[b"a", b"b"]]),
    ]
)


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    pick=st.integers(0, 10**6),
    value=REPLACEMENTS,
    as_group=st.booleans(),
)
def test_dataset_replacement(seed, pick, value, as_group):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.nir"
        p.write_bytes(seed.read_bytes())
        with h5py.File(p, "r+") as f:
            names: list[str] = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            target = names[pick % len(names)]
            del f[target]
            if as_group:
                f.create_group(target)
            else:
                f[target] = value
        _attempt(p)


names = st.text(
    st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))


@st.composite
def random_graphs(draw):
    n = draw(st.integers(1, 6))
    size = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    node_names = draw(st.lists(names, min_size=n, max_size=n, unique=True))
    kinds = draw(
        st.lists(
            st.sampled_from(["scale", "lif", "affine", "input", "output", "graph"]),
            min_size=n,
            max_size=n,
        )
    )
    nodes = {}
    for name, kind in zip(node_names, kinds, strict=False):
        one = np.ones(size, dtype)
        if kind == "scale":
            nodes[name] = nh.Scale(scale=one)
        elif kind == "lif":
            nodes[name] = nh.LIF(
                tau=one,
                r=one,
                v_leak=one * 0,
                v_threshold=one,
                v_reset=draw(st.sampled_from([None, one * 0])),
            )
        elif kind == "affine":
            nodes[name] = nh.Affine(weight=np.ones((size, size), dtype), bias=one)
        elif kind == "input":
            nodes[name] = nh.Input(shape=[size])
        elif kind == "output":
            nodes[name] = nh.Output(draw(st.sampled_from([None, [size]])))
        else:
            nodes[name] = nh.Graph(
                {"input": nh.Input([size]), "output": nh.Output([size])}, [("input", "output")]
            )
    edges = draw(
        st.lists(
            st.tuples(st.sampled_from(node_names + ["missing"]), st.sampled_from(node_names)),
            max_size=8,
        )
    )
    md = draw(
        st.dictionaries(
            names,
            st.one_of(
                st.integers(-5, 5),
                st.floats(allow_nan=False),
                st.text(max_size=5),
                st.booleans(),
                st.lists(st.text(max_size=3), max_size=3),
            ),
            max_size=3,
        )
    )
    return nh.Graph(nodes, edges, metadata=md)


@FUZZ
@given(graph=random_graphs(), gzip=st.booleans())
def test_random_graphs_round_trip(graph, gzip):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "g.nir"
        write(graph, p, compression="gzip" if gzip else None)
        res = read(p, strict=False)  # tolerant: repairs may change invalid graphs
        if not graph.problems():
            assert read(p) == graph
        else:
            assert res.warnings
        back = read(p, strict=False, max_bytes=1 << 20)
        assert back.graph == res.graph
