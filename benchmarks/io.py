"""Speed and memory of nirhub's .nir reader/writer against the reference ``nir`` package.

Run: ``python benchmarks/io.py`` (``--quick`` for smaller sizes). nir 1.0.8 runs in its own
cached virtual environment (created on first use, see ``tests/_nirvenv.py``) and is timed inside
that subprocess; nirhub is timed in this process, numpy's save/load as the plain-array baseline.

Cases (the goals of issues 2, 14 item 7 and 18):

* small: 2,000 x (Affine 16x16 + LIF 16) chained = 4,000 nodes; goals: nirhub write and read
  each >= 20x faster than nir; gzip-compressed write and read >= 10x faster than nir's; files
  *written by nir* (h5py's layout: nir 1.0.8's default gzip, and nir 1.0.4's uncompressed
  files) read >= 20x faster than nir reads them.
* large: 50 x (Affine 1024x1024 float32 + LIF 1024) = 200 MB; goals: write and read within
  1.2x of nir and of numpy.save/numpy.load; compressed read within 1.5x of numpy.load plus
  zlib's own time to inflate the same arrays; peak memory while reading <= 1.1x the arrays'
  bytes, compressed included.
* growth (``--growth``): 4k, 16k and 64k nodes of the small kind, nirhub only; the time per
  node at 64k over the time per node at 4k (1.0 = linear), wall clock and CPU time (the CPU
  time of the process is what the code costs; the wall clock adds the machine's load and I/O).

Files are written back to disk (``os.sync``, untimed) before they are read, so that a read does
not compete with the kernel's write-back of the files just written.

Prints one line per measurement and the ratios; nothing is asserted (timings depend on the
machine). Each timing is the best of ``--repeat`` runs. The numpy baseline keeps every array it
loads (as any reader must), so it pays for fresh memory like the readers do. Peak read memory is
measured in a fresh process: RSS high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs``) minus the RSS just before reading, after the imports; tracemalloc's
peak is shown as a cross-check. (``ru_maxrss`` is useless here: a child process inherits the
parent's peak RSS across ``exec``, which made earlier runs report ~3x.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

GRAPH_CODE = r'''
import numpy as np
def build(lib, n_pairs, size, ir):
    """The benchmark graph with either nirhub (ir='nirhub') or nir (ir='nir')."""
    rng = np.random.default_rng(0)
    import inspect
    nodes, edges, prev = {}, [], "input"
    # (nir 1.0.4's LIF has no v_reset: it resets to zero)
    has_reset = ir == "nirhub" or "v_reset" in inspect.signature(lib.LIF).parameters
    reset = {"v_reset": np.zeros(size)} if has_reset else {}
    if ir == "nirhub":
        nodes["input"] = lib.Input(shape=[size])
    else:
        nodes["input"] = lib.Input(input_type=np.array([size]))
    for i in range(n_pairs):
        w = rng.standard_normal((size, size), dtype=np.float32)
        nodes[f"a{i}"] = lib.Affine(weight=w, bias=np.zeros(size, np.float32))
        nodes[f"l{i}"] = lib.LIF(
            tau=np.full(size, 0.01), r=np.ones(size), v_leak=np.zeros(size),
            v_threshold=np.ones(size), **reset,
        )
        edges += [(prev, f"a{i}"), (f"a{i}", f"l{i}")]
        prev = f"l{i}"
    if ir == "nirhub":
        nodes["output"] = lib.Output(shape=[size])
    else:
        nodes["output"] = lib.Output(output_type=np.array([size]))
    edges.append((prev, "output"))
    if ir == "nirhub":
        return lib.Graph(nodes, edges)
    return lib.NIRGraph(nodes=nodes, edges=edges)
'''

NIR_SCRIPT = (
    GRAPH_CODE
    + r"""
import json, os, sys, time, tempfile, resource
import inspect
import nir
n_pairs, size, repeat, folder = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tag = sys.argv[5]  # file name prefix: which nir wrote the files
g = build(nir, n_pairs, size, "nir")
out = {}
# nir 1.0.4 cannot compress; from 1.0.5 on gzip is nir.write's default
kinds = ("gzip", None) if "compression" in inspect.signature(nir.write).parameters else (None,)
for comp in kinds:
    best = cpu = float("inf")
    for k in range(repeat):
        p = os.path.join(folder, f"{tag}_{comp}_{k}.nir")
        t, c = time.perf_counter(), time.process_time()
        if len(kinds) == 2:
            nir.write(p, g, compression=comp)
        else:
            nir.write(p, g)
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    out[f"write_{comp or 'none'}"] = best
    out[f"cpu_write_{comp or 'none'}"] = cpu
del g
for comp in kinds:
    best = cpu = float("inf")
    for k in range(repeat):
        p = os.path.join(folder, f"{tag}_{comp}_{k}.nir")
        t, c = time.perf_counter(), time.process_time()
        g2 = nir.read(p)
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
        del g2
    out[f"read_{comp or 'none'}"] = best
    out[f"cpu_read_{comp or 'none'}"] = cpu
print(json.dumps(out))
"""
)

MEM_SCRIPT = r"""
import gc, sys, time, tracemalloc
import numpy as np, h5py, nirhub, nirhub.io  # imported before the baseline is taken


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


gc.collect()
# Peak RSS of *this* process from now on: reset the high-water mark (Linux >= 4.0) and take
# the current RSS as the baseline. (ru_maxrss cannot be used: across exec a child keeps the
# parent's peak RSS in it, which is what made earlier runs report ~3x.)
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = status("VmRSS")
tracemalloc.start()
t = time.perf_counter()
g = nirhub.read(sys.argv[1])
dt = time.perf_counter() - t
traced_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss_peak = status("VmHWM") - base
print(max(rss_peak, 0), traced_peak, dt)
"""


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for k in range(repeat):
        t = time.perf_counter()
        fn(k)
        best = min(best, time.perf_counter() - t)
    return best


def _best_cpu(fn, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time (this process: user + system) of ``repeat`` runs."""
    wall = cpu = float("inf")
    for k in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn(k)
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def _settle() -> None:
    """Write the files just written back to disk (untimed), so that the reads that follow do
    not compete with the kernel's write-back of hundreds of megabytes."""
    if hasattr(os, "sync"):
        os.sync()


def _best_interleaved(fns: dict, repeat: int) -> dict[str, float]:
    """Best wall clock of each function (taking turns) under its name, best CPU time of
    this process under ``cpu_<name>``."""
    best = dict.fromkeys(fns, float("inf"))
    best.update(dict.fromkeys([f"cpu_{name}" for name in fns], float("inf")))
    for k in range(repeat):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn(k)
            best[name] = min(best[name], time.perf_counter() - t)
            best[f"cpu_{name}"] = min(best[f"cpu_{name}"], time.process_time() - c)
    return best


def _peak(path: str) -> tuple[float, float]:
    """(RSS peak, tracemalloc peak) of reading ``path`` in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", MEM_SCRIPT, path], capture_output=True, text=True, check=True,
        cwd=ROOT,
    )  # fmt: skip
    peak, traced, _ = proc.stdout.split()
    return float(peak), float(traced)


def _nir(version: str, n_pairs: int, size: int, repeat: int, tmp: str, tag: str) -> dict:
    from _nirvenv import nir_python

    proc = subprocess.run(
        [str(nir_python(version)), "-c", NIR_SCRIPT, str(n_pairs), str(size), str(repeat), tmp,
         tag],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(name: str, n_pairs: int, size: int, repeat: int, memory: bool) -> dict[str, float]:
    import zlib

    import nirhub

    ns: dict = {}
    exec(GRAPH_CODE, ns)
    graph = ns["build"](nirhub, n_pairs, size, "nirhub")
    arrays = [a for _, node in graph.walk() for _, a in node.arrays()]
    nbytes = sum(a.nbytes for a in arrays)
    res: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("NIRHUB_BENCH_TMP")) as tmp:

        def np_save(k: int) -> None:
            with open(f"{tmp}/np{k}.npy", "wb") as fh:
                for a in arrays:
                    np.save(fh, a)

        def np_load(k: int) -> None:
            # keep what was loaded, as a reader must (dropping each array at once would let
            # the allocator hand the same warm pages to the next one)
            with open(f"{tmp}/np{k}.npy", "rb") as fh:
                loaded = [np.load(fh) for _ in arrays]
            del loaded

        # nirhub and numpy take turns, so that both meet the same disk write-back and load
        res.update(
            _best_interleaved(
                {
                    "nirhub_write": lambda k: nirhub.write(
                        graph, f"{tmp}/hub{k}.nir", overwrite=True
                    ),
                    "numpy_save": np_save,
                },
                repeat,
            )
        )
        res["nirhub_write_gzip"], res["cpu_nirhub_write_gzip"] = _best_cpu(
            lambda k: nirhub.write(graph, f"{tmp}/hubz{k}.nir", compression="gzip", overwrite=True),
            repeat,
        )
        _settle()
        res.update(
            _best_interleaved(
                {
                    "nirhub_read": lambda k: nirhub.read(f"{tmp}/hub{k}.nir"),
                    "numpy_load": np_load,
                },
                repeat,
            )
        )
        res["nirhub_read_gzip"], res["cpu_nirhub_read_gzip"] = _best_cpu(
            lambda k: nirhub.read(f"{tmp}/hubz{k}.nir"), repeat
        )
        # zlib's own time to inflate the same arrays (level 4, as written): the floor of any
        # compressed read
        packed = [zlib.compress(memoryview(a).cast("B"), 4) for a in arrays]
        res["zlib_inflate"] = _best(lambda k: [zlib.decompress(z) for z in packed], repeat)
        packed.clear()
        if memory:
            for label, f in (("", "hub0"), ("gzip_", "hubz0")):
                peak, traced = _peak(f"{tmp}/{f}.nir")
                res[f"read_{label}peak_rss_bytes"] = peak
                res[f"read_{label}peak_traced_bytes"] = traced
            res["array_bytes"] = float(nbytes)
        for k, v in _nir("1.0.8", n_pairs, size, repeat, tmp, "nir108").items():
            res[f"nir_{k}"] = v
        for k, v in _nir("1.0.4", n_pairs, size, repeat, tmp, "nir104").items():
            res[f"nir104_{k}"] = v
        _settle()
        # files written by nir (h5py's layout), read by nirhub (wall clock and CPU time)
        for key, stem in (
            ("nir108_gzip", "nir108_gzip"), ("nir108_none", "nir108_None"),
            ("nir104", "nir104_None"),
        ):  # fmt: skip
            wall, cpu = _best_cpu(lambda k, n=stem: nirhub.read(f"{tmp}/{n}_{k}.nir"), repeat)
            res[f"nirhub_read_{key}"] = wall
            res[f"nirhub_cpu_read_{key}"] = cpu
    print(
        f"\n== {name}: {n_pairs} x (Affine {size}x{size} + LIF {size}), "
        f"{len(graph.nodes)} nodes, {nbytes / 1e6:.1f} MB of arrays =="
    )
    for k, v in res.items():
        if k.endswith("bytes"):
            print(f"  {k:24s} {v / 1e6:10.1f} MB")
        else:
            print(f"  {k:24s} {v:10.4f} s")
    return res


def growth(sizes: list[int], repeat: int) -> None:
    """nirhub's write and read time per node as the graph grows (small nodes)."""
    import nirhub

    ns: dict = {}
    exec(GRAPH_CODE, ns)
    per_node: dict[str, list[float]] = {}
    cpu_per_node: dict[str, list[float]] = {}
    print("\n== growth: nirhub, time per 1,000 nodes (wall clock; CPU time of this process) ==")
    with tempfile.TemporaryDirectory(dir=os.environ.get("NIRHUB_BENCH_TMP")) as tmp:
        for n_pairs in sizes:
            graph = ns["build"](nirhub, n_pairs, 16, "nirhub")
            nodes = len(graph.nodes)
            for comp in (None, "gzip"):
                p = f"{tmp}/g{n_pairs}_{comp}.nir"
                w = _best_cpu(
                    lambda k, p=p, comp=comp, g=graph: nirhub.write(
                        g, p, compression=comp, overwrite=True
                    ),
                    repeat,
                )
                _settle()
                r = _best_cpu(lambda k, p=p: nirhub.read(p), repeat)
                for what, (t, c) in (("write", w), ("read", r)):
                    key = f"{what} {comp or 'raw'}"
                    per_node.setdefault(key, []).append(t / nodes)
                    cpu_per_node.setdefault(key, []).append(c / nodes)
                    print(
                        f"  {nodes:7,d} nodes  {key:11s} {t:8.3f} s  {1000 * t / nodes:7.4f} s"
                        f"   CPU {c:8.3f} s  {1000 * c / nodes:7.4f} s"
                    )
    print(f"  time per node at {2 * sizes[-1] + 2:,} nodes / at {2 * sizes[0] + 2:,} nodes:")
    for key, values in per_node.items():
        cpu = cpu_per_node[key]
        print(
            f"    {key:11s} {values[-1] / values[0]:6.2f}  CPU {cpu[-1] / cpu[0]:6.2f}"
            "  (1.0 = linear)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller graphs, one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--growth", action="store_true", help="only the growth to 64k nodes")
    ap.add_argument("--small", action="store_true", help="only the small (4,000-node) graph")
    args = ap.parse_args()
    repeat = 1 if args.quick else args.repeat
    if args.growth:
        growth([250, 1000, 4000] if args.quick else [2000, 8000, 32000], repeat)
        return
    small = bench("small", 200 if args.quick else 2000, 16, repeat, memory=False)
    if args.small:
        large = None
    else:
        large = bench("large", 5 if args.quick else 50, 1024, repeat, memory=True)
    print("\n== ratios (>1 means nirhub is faster) ==")
    rows = [
        ("small write vs nir (default gzip)", small["nir_write_gzip"] / small["nirhub_write"]),
        ("small write vs nir (uncompressed)", small["nir_write_none"] / small["nirhub_write"]),
        ("small read  vs nir", small["nir_read_none"] / small["nirhub_read"]),
        ("small read of nir 1.0.8 file (gzip)",
         small["nir_read_gzip"] / small["nirhub_read_nir108_gzip"]),
        ("small read of nir 1.0.8 file (raw)",
         small["nir_read_none"] / small["nirhub_read_nir108_none"]),
        ("small read of nir 1.0.4 file",
         small["nir104_read_none"] / small["nirhub_read_nir104"]),
    ]  # fmt: skip
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.1f}x  (goal >= 20x)")
    # CPU time of each side's process: what the code costs, whatever the machine's load did
    # to the wall clock between the two measurements
    rows = [
        ("  same, CPU time: nir 1.0.8 file (gzip)",
         small["nir_cpu_read_gzip"] / small["nirhub_cpu_read_nir108_gzip"]),
        ("  same, CPU time: nir 1.0.8 file (raw)",
         small["nir_cpu_read_none"] / small["nirhub_cpu_read_nir108_none"]),
        ("  same, CPU time: nir 1.0.4 file",
         small["nir104_cpu_read_none"] / small["nirhub_cpu_read_nir104"]),
    ]  # fmt: skip
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.1f}x  (goal >= 20x)")
    rows = [
        ("small gzip write vs nir gzip write",
         small["nir_write_gzip"] / small["nirhub_write_gzip"]),
        ("small gzip read  vs nir gzip read", small["nir_read_gzip"] / small["nirhub_read_gzip"]),
    ]  # fmt: skip
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.1f}x  (goal >= 10x)")
    rows = [
        ("  same, CPU time: gzip write",
         small["nir_cpu_write_gzip"] / small["cpu_nirhub_write_gzip"]),
        ("  same, CPU time: gzip read",
         small["nir_cpu_read_gzip"] / small["cpu_nirhub_read_gzip"]),
    ]  # fmt: skip
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.1f}x  (goal >= 10x)")
    rows = [
        ("small write vs nir, CPU time (gzip)",
         small["nir_cpu_write_gzip"] / small["cpu_nirhub_write"]),
        ("small write vs nir, CPU time (raw)",
         small["nir_cpu_write_none"] / small["cpu_nirhub_write"]),
        ("small read  vs nir, CPU time", small["nir_cpu_read_none"] / small["cpu_nirhub_read"]),
    ]  # fmt: skip
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.1f}x  (goal >= 20x)")
    if large is None:
        return
    print("large (goal: <= 1.2; shown as nirhub / other)")
    rows = [
        ("write / nir write (uncompressed)", large["nirhub_write"] / large["nir_write_none"]),
        ("write gzip / nir write (gzip)", large["nirhub_write_gzip"] / large["nir_write_gzip"]),
        ("write / numpy.save", large["nirhub_write"] / large["numpy_save"]),
        ("read  / nir read (uncompressed)", large["nirhub_read"] / large["nir_read_none"]),
        ("read gzip / nir read (gzip)", large["nirhub_read_gzip"] / large["nir_read_gzip"]),
        ("read  / numpy.load", large["nirhub_read"] / large["numpy_load"]),
        ("read of nir 1.0.8 file / nir (gzip)",
         large["nirhub_read_nir108_gzip"] / large["nir_read_gzip"]),
        ("read of nir 1.0.4 file / nir 1.0.4",
         large["nirhub_read_nir104"] / large["nir104_read_none"]),
    ]  # fmt: skip
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.2f}")
    floor = large["numpy_load"] + large["zlib_inflate"]
    print(f"  {'read gzip / (numpy.load + zlib)':36s} {large['nirhub_read_gzip'] / floor:7.2f}"
          "  (goal <= 1.5)")  # fmt: skip
    for label in ("", "gzip_"):
        peak = large[f"read_{label}peak_rss_bytes"] / large["array_bytes"]
        traced = large[f"read_{label}peak_traced_bytes"] / large["array_bytes"]
        what = f"read {label.rstrip('_') or 'raw'} peak memory / array bytes"
        print(f"  {what:36s} {peak:7.2f}  (goal <= 1.1)")
        print(f"  {'  same, by tracemalloc':36s} {traced:7.2f}")
    print(
        "  (peak memory: a fresh process imports numpy/h5py/nirhub, resets its RSS high-water "
        "mark\n   via /proc/self/clear_refs, then reads; shown: VmHWM minus the RSS before "
        "reading.\n   tracemalloc: peak of Python and numpy allocations during the read.)"
    )


if __name__ == "__main__":
    main()
