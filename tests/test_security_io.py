"""Issue 17 (part B) and issue 16 (10, 11): what a hostile ``.nir`` file can do to the reader, and
how outputs are written. Every case runs the real command in a subprocess (with a timeout, so a
hang fails instead of blocking CI) and checks the exit code and the message; memory is measured
as the child's peak RSS (``resource.getrusage``). See docs/security.md for the table of cases."""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import nirhub as nh
from nirhub import _files
from nirhub._names import MAX_ENDPOINT_LENGTH, MAX_NAME_LENGTH, printable
from nirhub.errors import FileFormatError, IRError, RefusedError
from nirhub.io import writer
from nirhub.io._fast_format import VLEN_DESCRIPTOR
from nirhub.io._h5 import Budget, HeapGuard, ReadLimits

ROOT = Path(__file__).resolve().parent.parent
BRAILLE = ROOT / "examples" / "braille.nir"

#: a command that takes longer than this hangs (they all finish in about a second)
TIMEOUT_S = 90


def run(
    *args: str, cwd: Path | None = None, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess:
    env = {**os.environ, "NIRHUB_NO_PLUGINS": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "nirhub", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def small_graph(**names: str) -> nh.Graph:
    a, b = names.get("a", "input"), names.get("b", "lin")
    return nh.Graph(
        {
            a: nh.Input(np.array([2])),
            b: nh.Affine(np.ones((2, 2), np.float32), np.zeros(2, np.float32)),
            "output": nh.Output(np.array([2])),
        },
        [(a, b), (b, "output")],
    )


# -- 4. chunked string datasets pointing at a corrupt global heap collection ---------------------


def string_edges_file(path: Path, layout: str) -> int:
    """A valid file whose ``edges`` are a string dataset of ``layout`` (chunked, chunked-gzip,
    compact-v1 or compact-v2: the object header version) with its strings in a global heap
    collection of their own; returns that collection's address."""
    writer._write(small_graph(), path, engine="h5py")
    with h5py.File(path, "r") as f:
        edges = np.array([[x.decode() for x in row] for row in f["node/edges"][()]], object)
    # a fresh session: libhdf5 knows no collection with free space, so it starts a new one
    libver = "latest" if layout == "compact-v2" else "earliest"
    with h5py.File(path, "r+", libver=libver) as f:
        del f["node/edges"]
        if layout.startswith("chunked"):
            gzip = "gzip" if layout == "chunked-gzip" else None
            f["node"].create_dataset(
                "edges", data=edges, dtype=h5py.string_dtype(), chunks=(1, 2), compression=gzip
            )
        else:
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            tid = h5py.h5t.py_create(h5py.string_dtype(), logical=True)
            space = h5py.h5s.create_simple(edges.shape)
            dsid = h5py.h5d.create(f["node"].id, b"edges", tid, space, dcpl=dcpl)
            h5py.Dataset(dsid)[...] = edges
    with h5py.File(path, "r") as f:
        dsid = f["node/edges"].id
        assert dsid.get_create_plist().get_layout() == (
            h5py.h5d.CHUNKED if layout.startswith("chunked") else h5py.h5d.COMPACT
        )
        guard = HeapGuard(f, Budget(str(path), ReadLimits()))
        if layout.startswith("chunked"):
            raw = b"".join(guard._chunks(dsid, "/node/edges"))
        else:
            raw = guard._compact(dsid, edges.size, "/node/edges")
        guard.close()
        colls = {c for _n, c, _i in VLEN_DESCRIPTOR.iter_unpack(raw)}
        type_desc = VLEN_DESCRIPTOR.unpack(path.read_bytes()[f["node/type"].id.get_offset() :][:16])
    (coll,) = colls
    assert coll != type_desc[1], "the edges' strings must sit in their own collection"
    return coll


def poison_collection(path: Path, coll: int) -> None:
    """Turn the collection's first object into a free-space object of size 0."""
    raw = bytearray(path.read_bytes())
    assert raw[coll : coll + 4] == b"GCOL"
    raw[coll + 16 : coll + 32] = struct.pack("<HHIQ", 0, 0, 0, 0)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("layout", ["chunked", "chunked-gzip", "compact-v1", "compact-v2"])
def test_strings_in_a_corrupt_heap_do_not_hang(tmp_path, layout):
    good = tmp_path / "good.nir"
    string_edges_file(good, layout)
    assert nh.read(good).edges == [("input", "lin"), ("lin", "output")]  # the guard reads it
    bad = tmp_path / "bad.nir"
    coll = string_edges_file(bad, layout)
    poison_collection(bad, coll)
    with pytest.raises(FileFormatError, match="bad global heap collection"):
        nh.read(bad)
    with pytest.raises(FileFormatError, match="bad global heap collection"):
        nh.read(bad, strict=False)
    x = tmp_path / "x.npy"
    np.save(x, np.ones((3, 2), np.float32))
    commands = [
        (["inspect", str(bad)], 3),
        (["convert", str(bad), "--to", "nir", "-o", str(tmp_path / "o.nir")], 3),
    ]
    if layout == "chunked":  # every command once (they share the reader)
        commands += [
            (["validate", str(bad)], 1),  # validate reports an unreadable file as invalid (exit 1)
            (["validate", "--tolerant", str(bad)], 1),
            (["convert", str(bad), "--to", "nir", "-o", str(tmp_path / "o.nir")], 3),
            (
                [
                    "simulate",
                    str(bad),
                    "--input",
                    str(x),
                    "--dt",
                    "1e-3",
                    "-o",
                    str(tmp_path / "o.npz"),
                ],
                3,
            ),
        ]
    for args, code in commands:
        start = time.monotonic()
        result = run(*args)
        assert result.returncode == code, (args, result.stderr)
        assert "/node/edges" in result.stdout + result.stderr
        assert "global heap" in result.stdout + result.stderr
        assert time.monotonic() - start < 30


# -- 2. control characters in names --------------------------------------------------------------


def write_with_name(path: Path, name: str) -> None:
    """A file holding node ``name`` (written through h5py: nirhub's writer refuses it)."""
    writer._write(small_graph(), path, engine="h5py")
    with h5py.File(path, "r+") as f:
        f.move("node/nodes/lin", f"node/nodes/{name}")
        edges = f["node/edges"][()].astype(object)
        edges[edges == b"lin"] = name
        del f["node/edges"]
        f["node"].create_dataset("edges", data=edges, dtype=h5py.string_dtype())


HOSTILE = {
    "clear-screen": "lin\x1b[2J\x1b[H",
    "osc52": "a\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "bidi": "lin\u202egnp.exe",
    "c1": "lin\x9b31m",
    "del": "lin\x7f",
    "line-separator": "lin\u2028fake",
}


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_control_characters_in_node_names_are_refused(tmp_path, name):
    path = tmp_path / "evil.nir"
    write_with_name(path, name)
    for strict in (True, False):
        with pytest.raises(FileFormatError, match="control or bidirectional") as info:
            nh.read(path, strict=strict)
        assert name not in str(info.value)
    commands = [(["inspect", str(path)], 3), (["validate", str(path)], 1)]
    if "\x1b" not in name:  # the terminal is checked with the two escape-sequence names
        commands = []
    for args, code in commands:
        result = run(*args)
        assert result.returncode == code
        out = result.stdout + result.stderr
        assert "control or bidirectional" in out
        assert not any(ch in out for ch in "\x1b\x07\x9b\x7f\u202e\u2028")
    with pytest.raises(FileFormatError, match="control or bidirectional"):
        nh.write(small_graph(b=name), tmp_path / "w.nir")
    assert not (tmp_path / "w.nir").exists()


def test_text_from_files_is_escaped_on_the_terminal(tmp_path):
    """Members the reader only warns about (an unknown field) reach the terminal escaped."""
    path = tmp_path / "odd.nir"
    writer._write(small_graph(), path, engine="h5py")
    with h5py.File(path, "r+") as f:
        f["node/nodes/lin/x\x1b]52;c;AAAA\x07"] = 1.0
    result = run("inspect", str(path))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "x\\x1b]52;c;AAAA\\x07" in result.stderr
    assert printable("a\x1b\u202eb\nc", keep_newlines=True) == "a\\x1b\\u202eb\nc"


def test_long_names_are_refused_at_read_and_write(tmp_path):
    long = "n" * (MAX_NAME_LENGTH + 1)
    path = tmp_path / "long.nir"
    write_with_name(path, long)
    with pytest.raises(FileFormatError, match="characters long"):
        nh.read(path)
    with pytest.raises(FileFormatError, match="characters long"):
        nh.write(small_graph(b=long), tmp_path / "w.nir")
    ok = "n" * MAX_NAME_LENGTH
    nh.write(small_graph(b=ok), tmp_path / "ok.nir")
    assert ok in nh.read(tmp_path / "ok.nir").nodes


# -- 5. a dangling edge of 200,000 dots ----------------------------------------------------------


def test_dangling_edge_of_many_dots_is_quick(tmp_path):
    """Prefix lookups are linear: an endpoint of many dots costs one pass, and the reader caps
    endpoints at MAX_ENDPOINT_LENGTH characters."""
    dots = "." * 200_000
    g = small_graph()
    g.edges.append((dots, "output"))
    start = time.monotonic()
    problems = g.problems()
    assert time.monotonic() - start < 5
    assert any(p.kind == "dangling-edge" for p in problems)
    path = tmp_path / "dots.nir"
    writer._write(small_graph(), path, engine="h5py")
    with h5py.File(path, "r+") as f:
        edges = f["node/edges"][()].astype(object)
        del f["node/edges"]
        extra = np.array([[dots, "output"], ["a" * MAX_ENDPOINT_LENGTH, "lin"]], dtype=object)
        f["node"].create_dataset("edges", data=np.vstack([edges, extra]), dtype=h5py.string_dtype())
    start = time.monotonic()
    result = run("validate", "--tolerant", str(path))
    assert time.monotonic() - start < 30
    assert result.returncode == 1
    assert "characters long" in result.stdout + result.stderr
    with pytest.raises(FileFormatError, match="an edge names a node"):
        nh.read(path, strict=False)


# -- 6. memory -----------------------------------------------------------------------------------

# The child's own peak: VmHWM of its fresh address space. (ru_maxrss would do on its own, but
# Linux carries the parent's high-water mark into it across fork/vfork + exec.)
_PEAK = """
import resource, sys
import nirhub
try:
    {call}
except nirhub.NirhubError as exc:
    print("refused:", exc.message)
try:
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("peak_kib", peak)
"""


def peak_mib(call: str) -> tuple[float, str]:
    """Peak RSS (MiB) of a fresh interpreter that runs ``call``, and what it printed."""
    result = subprocess.run(
        [sys.executable, "-c", _PEAK.format(call=call)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    kib = int(result.stdout.split("peak_kib")[-1])
    return kib / 1024, result.stdout


def test_many_descriptors_of_one_big_string_are_charged_their_length(tmp_path):
    """3,000 descriptors of one 1 MiB heap object (a 1 MiB file): libhdf5 would materialise
    3 GiB; their real lengths are charged first, so the read is refused before any of it."""
    path = tmp_path / "strings.nir"
    writer._write(small_graph(), path, engine="h5py")
    with h5py.File(path, "r+") as f:
        md = f["node"].create_group("metadata")
        md.create_dataset(
            "s",
            data=np.array(["x" * (1 << 20)] * 2, dtype=object),
            dtype=h5py.string_dtype(),
            chunks=(2,),
        )
    # repeat the first descriptor 3,000 times (file stays ~1 MiB): rewrite the dataset raw
    with h5py.File(path, "r") as f:
        dsid = f["node/metadata/s"].id
        info = dsid.get_chunk_info(0)
        desc = dsid.read_direct_chunk(info.chunk_offset)[1][:16]
    with h5py.File(path, "r+") as f:
        del f["node/metadata/s"]
        ds = f["node/metadata"].create_dataset(
            "s", shape=(3000,), dtype=h5py.string_dtype(), chunks=(3000,)
        )
        ds.id.write_direct_chunk((0,), desc * 3000)
    assert path.stat().st_size < 3 * 2**20
    for engine_call in (
        f"nirhub.read({str(path)!r}, strict=False)",
        f"nirhub.summary.summarize({str(path)!r})",
    ):
        peak, out = peak_mib("import nirhub.summary\n    " + engine_call)
        assert "refused:" in out and "budget" in out
        assert peak < 600, (engine_call, peak)


def test_inspect_statistics_stream(tmp_path):
    """An unwritten 512 MiB weight (a 12 KB file): reading allocates the 512 MiB the budget
    allows; ``inspect`` adds no float64 copy of it (1 GiB more; a 1 GiB weight took 3.2 GB)."""
    path = tmp_path / "big.nir"
    writer._write(small_graph(), path, engine="h5py")
    with h5py.File(path, "r+") as f:
        del f["node/nodes/lin/weight"]
        f["node/nodes/lin"].create_dataset("weight", shape=(2, 2**26), dtype="f4")  # 512 MiB
        del f["node/nodes/lin/bias"]
        f["node/nodes/lin"].create_dataset("bias", data=np.zeros(2, np.float32))
    assert path.stat().st_size < 64 * 1024
    peak, out = peak_mib(f"import nirhub.summary\n    nirhub.summary.summarize({str(path)!r})")
    assert peak < 512 + 400, peak
    from nirhub.summary import summarize

    s = summarize(small_graph())
    weight = next(p for p in s.node("lin").params if p.name == "weight")
    assert (weight.min, weight.max, weight.mean) == (1.0, 1.0, 1.0)


def test_streamed_statistics_match_numpy():
    from nirhub.summary import _STATS_CHUNK, _streamed_stats

    rng = np.random.default_rng(0)
    for arr in (
        rng.normal(size=2 * _STATS_CHUNK + 5).astype(np.float32),
        rng.integers(-9, 9, size=(3, 7)),
        np.array([1.0, np.nan, 2.0]),
    ):
        got = _streamed_stats(arr)
        want = arr.astype(np.float64)
        np.testing.assert_allclose(
            [got["min"], got["max"], got["mean"]],
            [np.min(want), np.max(want), np.mean(want)],
            rtol=1e-9,
        )


# -- 9. exit 70 on bad input -----------------------------------------------------------------------


def test_huge_padding_is_an_input_error(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.ones((3, 1, 4, 4), np.float32))
    nodes = {
        "conv": nh.Conv2d(
            np.array([4, 4]),
            np.ones((1, 1, 3, 3), np.float32),
            1,
            10**6,
            1,
            1,
            np.zeros(1, np.float32),
        ),
        "pool": nh.SumPool2d(np.array([2, 2]), np.array([1, 1]), np.array([10**6, 10**6])),
    }
    for name, node in nodes.items():
        path = tmp_path / f"{name}.nir"
        g = nh.Graph(
            {"input": nh.Input(np.array([1, 4, 4])), name: node, "output": nh.Output(None)},
            [("input", name), (name, "output")],
        )
        nh.write(g, path)
        result = run(
            "simulate", str(path), "--input", str(x), "--dt", "1e-3", "-o", str(tmp_path / "o.npz")
        )
        assert result.returncode == 3, result.stderr
        assert f"node {name!r}" in result.stderr and "limit" in result.stderr


def test_enormous_delay_is_capped(tmp_path):
    path = tmp_path / "delay.nir"
    g = nh.Graph(
        {
            "input": nh.Input(np.array([2])),
            "d": nh.Delay(np.array([1e300, 1.0])),
            "output": nh.Output(np.array([2])),
        },
        [("input", "d"), ("d", "output")],
    )
    nh.write(g, path)
    x = tmp_path / "x.npy"
    np.save(x, np.ones((4, 2), np.float32))
    result = run(
        "simulate", str(path), "--input", str(x), "--dt", "1e-3", "-o", str(tmp_path / "o.npz")
    )
    assert result.returncode == 0, result.stderr
    out = np.load(tmp_path / "o.npz")["output"]
    assert not out.any()  # both delays are longer than the run


def test_pt_with_a_bad_crc_is_an_input_error(tmp_path):
    import pickle
    import zipfile

    path = tmp_path / "bad.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("m/data.pkl", pickle.dumps({"w": 1}))
        z.writestr("m/version", "3\n")
    raw = bytearray(path.read_bytes())
    i = raw.find(b"PK\x01\x02")  # the central directory entry of data.pkl: its CRC
    raw[i + 16] ^= 0xFF
    path.write_bytes(bytes(raw))
    result = run("convert", str(path), "--to", "nir", "-o", str(tmp_path / "o.nir"))
    assert result.returncode == 3, result.stderr
    assert "damaged zip archive" in result.stderr


def nested(levels: int) -> nh.Graph:
    g = nh.Graph(
        {"input": nh.Input(np.array([1])), "output": nh.Output(np.array([1]))},
        [("input", "output")],
    )
    for _ in range(levels - 1):
        g = nh.Graph(
            {"input": nh.Input(np.array([1])), "sub": g, "output": nh.Output(np.array([1]))},
            [("input", "sub"), ("sub", "output")],
        )
    return g


def test_nesting_limit_is_the_same_for_building_writing_and_reading(tmp_path):
    deepest = nested(64)
    nh.write(deepest, tmp_path / "deep.nir")
    assert nh.read(tmp_path / "deep.nir") == deepest
    with pytest.raises(IRError, match="at most 64"):
        nested(65)
    with pytest.raises(IRError, match="at most 64"):
        nested(1000)  # no RecursionError
    inner = nested(64)
    with pytest.raises(IRError, match="at most 64"):
        nh.Graph({"input": nh.Input(np.array([1])), "output": nh.Output(np.array([1]))}).add_node(
            "sub", inner
        )
    # metadata nested past the reader's limit is refused by the writer, not written
    md: dict = {}
    cur = md
    for _ in range(70):
        cur["a"] = {}
        cur = cur["a"]
    g = nested(1)
    g.metadata = md
    with pytest.raises(FileFormatError, match="nested more than 64"):
        nh.write(g, tmp_path / "md.nir")


# -- 10. SIGTERM and SIGKILL during a write ---------------------------------------------


_SLOW_WRITE = """
import sys, time, numpy as np, nirhub
from nirhub.cli import main
import nirhub.io.writer as w
real = w._write_parts
def slow(fh, parts):
    print("writing", flush=True)
    fh.write(b"x" * 1000)
    time.sleep(60)
    real(fh, parts)
w._write_parts = slow
sys.argv = ["nirhub", "convert", sys.argv[1], "--to", "nir", "-o", sys.argv[2]]
main()
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_killed_writes_leave_no_temporary_files(tmp_path, sig):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "NIRHUB_NO_PLUGINS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITE, str(BRAILLE), str(out / "b.nir")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    assert [p.name for p in out.iterdir() if p.name.startswith(".nirhub-")]
    proc.send_signal(sig)
    proc.wait(timeout=30)
    left = [p for p in out.iterdir() if p.name.startswith(".nirhub-")]
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        assert "terminated" in proc.stderr.read()
        assert not left
        return
    assert left  # SIGKILL: nothing can run; the next write in the folder cleans up
    old = time.time() - _files.STALE_AFTER_S - 60
    for p in left:
        os.utime(p, (old, old))
    fresh = out / f".nirhub-{os.getpid()}-abcdefgh.tmp"  # a live process's: kept
    fresh.write_bytes(b"")
    os.utime(fresh, (old, old))
    result = run("convert", str(BRAILLE), "--to", "nir", "-o", str(out / "c.nir"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(["c.nir", fresh.name])


# -- 11. the umask ---------------------------------------------------------------------------------


def test_umask_is_read_without_changing_it(tmp_path):
    old = os.umask(0o027)
    try:
        assert _files.current_umask() == 0o027
        stop = threading.Event()
        seen = set()

        def watch() -> None:
            while not stop.is_set():
                seen.add(_files.current_umask())

        t = threading.Thread(target=watch)
        t.start()
        for i in range(200):
            p = tmp_path / f"f{i}"
            p.write_bytes(b"")
            _files.set_default_mode(p)
        stop.set()
        t.join()
        assert seen == {0o027}
        assert stat.S_IMODE((tmp_path / "f0").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    source = (ROOT / "nirhub").rglob("*.py")
    assert not [p for p in source if "os.umask(" in p.read_text(encoding="utf-8")]


# -- 16.10 / 16.11: read-only folders, devices, FIFOs, symbolic links -----------------


def test_read_only_folder_is_an_ordinary_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores the mode: make the folder unusable
            folder.chmod(0o755)
            folder.rmdir()
            folder.write_bytes(b"")  # a file where the folder should be: mkstemp fails
            target = folder / "b.nir"
        else:
            target = folder / "b.nir"
        result = run("convert", str(BRAILLE), "--to", "nir", "-o", str(target))
        assert result.returncode in (2, 3), result.stderr
        assert "internal error" not in result.stderr
        assert "cannot write" in result.stderr or "does not exist" in result.stderr
    finally:
        if folder.is_dir():
            folder.chmod(0o755)
    with pytest.raises(_files.CannotWriteError, match="cannot write"):
        _files.make_temp_file(tmp_path / "missing", tmp_path / "missing" / "x")
    # a folder nobody can create files in, root included
    result = run("convert", str(BRAILLE), "--to", "nir", "-o", "/proc/braille.nir")
    assert result.returncode == 3, result.stderr
    assert "cannot write /proc/braille.nir" in result.stderr


def test_devices_are_streamed_into_not_replaced(tmp_path):
    before = os.stat("/dev/null")
    result = run("convert", str(BRAILLE), "--to", "nir", "-o", "/dev/null", "--force")
    assert result.returncode == 0, result.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino
    result = run("convert", str(BRAILLE), "--to", "nir", "-o", "/dev/null")
    assert result.returncode == 6  # an existing output needs --force, a device too


def test_fifo_is_streamed_into(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    nh.write(small_graph(), fifo, overwrite=True)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    copy = tmp_path / "copy.nir"
    copy.write_bytes(got[0])
    assert nh.read(copy) == small_graph()


def test_symbolic_links_name_their_file(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "model.nir"
    link = tmp_path / "link.nir"
    link.symlink_to(target)  # dangling
    with pytest.raises(RefusedError, match="does not exist"):
        nh.write(small_graph(), link)
    assert not target.exists()
    result = run("convert", str(BRAILLE), "--to", "nir", "-o", str(link))
    assert result.returncode == 6 and "symbolic link" in result.stderr
    nh.write(small_graph(), link, overwrite=True)  # --force: the file the link names
    assert link.is_symlink() and target.is_file()
    with pytest.raises(RefusedError, match="already exists"):
        nh.write(small_graph(), link)
    inode = target.stat().st_ino
    result = run("convert", str(BRAILLE), "--to", "nir", "-o", str(link), "--force")
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and target.stat().st_ino != inode  # replaced atomically
    assert len(nh.read(link).nodes) == len(nh.read(BRAILLE).nodes)
    assert sorted(p.name for p in real.iterdir()) == ["model.nir"]
