"""Property tests: mutated files and random graphs only ever give nirhub errors (or success)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np
from _io_graphs import every_primitive_graph, random_graphs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nirhub as nh
from nirhub.errors import FileFormatError, IRError
from nirhub.io import read, write
from nirhub.io._fast_format import MARKER, NotFast
from nirhub.io.reader import _read
from nirhub.testing.corpus import CORPUS

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


# -- files of nirhub's fast layout (read by nirhub's own parser) -----------------------------


def _fast_seed(kind: str) -> bytes:
    """A file written by the fast writer: every primitive, or a graph with rich metadata and a
    nested graph (more groups, strings and attributes per byte)."""
    if kind == "every":
        graph = every_primitive_graph()
    else:
        inner = nh.Graph(
            {"input": nh.Input([2]), "s": nh.Scale(np.ones(2)), "output": nh.Output(None)},
            [("input", "s"), ("s", "output")],
            metadata={"deep": {"x": [1, 2], "t": ("a", "b"), "n": None}},
        )
        graph = nh.Graph(
            {"input": nh.Input([2]), "sub": inner, "output": nh.Output([2])},
            [("input", "sub"), ("sub", "output")],
            metadata={"s": "text", "b": True, "a": np.arange(3), "z": np.array(1.5)},
        )
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "seed.nir"
        write(graph, p)
        data = p.read_bytes()
    assert data.startswith(MARKER)
    return data


FAST_SEEDS = {kind: _fast_seed(kind) for kind in ("every", "metadata")}


def _attempt_fast(data: bytes) -> None:
    """The fast parser alone and the automatic choice (which may fall back to h5py) only ever
    raise nirhub errors (NotFast only from the forced fast engine)."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.nir"
        p.write_bytes(data)
        for strict in (True, False):
            try:
                _read(p, strict=strict, engine="fast", max_bytes=1 << 24)
            except (FileFormatError, IRError, NotFast):
                pass
        _attempt(p)


def _structure(data: bytes) -> list[int]:
    """Offsets of the non-zero bytes: headers, links, strings (not the zero free space)."""
    return [i for i, b in enumerate(data) if b]


STRUCTURE = {kind: _structure(data) for kind, data in FAST_SEEDS.items()}


@FUZZ
@given(
    kind=st.sampled_from(sorted(FAST_SEEDS)),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=12),
    anywhere=st.booleans(),
)
def test_fast_layout_bit_flips(kind, flips, anywhere):
    data = bytearray(FAST_SEEDS[kind])
    where = range(len(data)) if anywhere else STRUCTURE[kind]
    for pos, mask in flips:
        data[where[min(int(pos * len(where)), len(where) - 1)]] ^= mask
    _attempt_fast(bytes(data))


@FUZZ
@given(
    kind=st.sampled_from(sorted(FAST_SEEDS)),
    pick=st.floats(0, 1),
    value=st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]),
    width=st.sampled_from([1, 2, 4, 8]),
)
def test_fast_layout_field_overwrites(kind, pick, value, width):
    """Overwrite one structural field (a size, count, address or flag) with an extreme value."""
    data = bytearray(FAST_SEEDS[kind])
    where = STRUCTURE[kind]
    start = where[min(int(pick * len(where)), len(where) - 1)]
    data[start : start + width] = bytes([value]) * len(data[start : start + width])
    _attempt_fast(bytes(data))


@FUZZ
@given(kind=st.sampled_from(sorted(FAST_SEEDS)), keep=st.floats(0, 1))
def test_fast_layout_truncation(kind, keep):
    data = FAST_SEEDS[kind]
    _attempt_fast(data[: int(len(data) * keep)])
