"""Speed and memory of nirhub's .nir reader/writer against the reference ``nir`` package.

Run: ``python benchmarks/io.py`` (``--quick`` for smaller sizes). nir 1.0.8 runs in its own
cached virtual environment (created on first use, see ``tests/_nirvenv.py``) and is timed inside
that subprocess; nirhub is timed in this process, numpy's save/load as the plain-array baseline.

Cases (the goals of issue 2):

* small: 2,000 x (Affine 16x16 + LIF 16) chained = 4,000 nodes; goal: nirhub write and read
  each >= 20x faster than nir.
* large: 50 x (Affine 1024x1024 float32 + LIF 1024) = 200 MB; goal: write and read within
  1.2x of nir and of numpy.save/numpy.load; peak memory while reading <= 1.5x the arrays' bytes.

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
    nodes, edges, prev = {}, [], "input"
    if ir == "nirhub":
        nodes["input"] = lib.Input(shape=[size])
    else:
        nodes["input"] = lib.Input(input_type=np.array([size]))
    for i in range(n_pairs):
        w = rng.standard_normal((size, size), dtype=np.float32)
        nodes[f"a{i}"] = lib.Affine(weight=w, bias=np.zeros(size, np.float32))
        nodes[f"l{i}"] = lib.LIF(
            tau=np.full(size, 0.01), r=np.ones(size), v_leak=np.zeros(size),
            v_threshold=np.ones(size), v_reset=np.zeros(size),
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
import nir
n_pairs, size, repeat, folder = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
g = build(nir, n_pairs, size, "nir")
out = {}
for comp in ("gzip", None):
    best = float("inf")
    for k in range(repeat):
        p = os.path.join(folder, f"nir_{comp}_{k}.nir")
        t = time.perf_counter()
        nir.write(p, g, compression=comp)
        best = min(best, time.perf_counter() - t)
    out[f"write_{comp or 'none'}"] = best
del g
for comp in ("none",):
    best = float("inf")
    for k in range(repeat):
        p = os.path.join(folder, f"nir_None_{k}.nir")
        t = time.perf_counter(); g2 = nir.read(p); best = min(best, time.perf_counter() - t)
        del g2
    out[f"read_{comp}"] = best
best = float("inf")
for k in range(repeat):
    p = os.path.join(folder, f"nir_gzip_{k}.nir")
    t = time.perf_counter(); g2 = nir.read(p); best = min(best, time.perf_counter() - t)
    del g2
out["read_gzip"] = best
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


def _best_interleaved(fns: dict, repeat: int) -> dict[str, float]:
    best = dict.fromkeys(fns, float("inf"))
    for k in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn(k)
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def bench(name: str, n_pairs: int, size: int, repeat: int, memory: bool) -> dict[str, float]:
    from _nirvenv import nir_python

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
        res["nirhub_write_gzip"] = _best(
            lambda k: nirhub.write(graph, f"{tmp}/hubz{k}.nir", compression="gzip", overwrite=True),
            repeat,
        )
        res.update(
            _best_interleaved(
                {
                    "nirhub_read": lambda k: nirhub.read(f"{tmp}/hub{k}.nir"),
                    "numpy_load": np_load,
                },
                repeat,
            )
        )
        res["nirhub_read_gzip"] = _best(lambda k: nirhub.read(f"{tmp}/hubz{k}.nir"), repeat)
        if memory:
            proc = subprocess.run(
                [sys.executable, "-c", MEM_SCRIPT, f"{tmp}/hub0.nir"],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            peak, traced, _ = proc.stdout.split()
            res["read_peak_rss_bytes"] = float(peak)
            res["read_peak_traced_bytes"] = float(traced)
            res["array_bytes"] = float(nbytes)
        python = nir_python("1.0.8")
        proc = subprocess.run(
            [str(python), "-c", NIR_SCRIPT, str(n_pairs), str(size), str(repeat), tmp],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        nir_res = json.loads(proc.stdout.strip().splitlines()[-1])
        for k, v in nir_res.items():
            res[f"nir_{k}"] = v
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller graphs, one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    repeat = 1 if args.quick else args.repeat
    small = bench("small", 200 if args.quick else 2000, 16, repeat, memory=False)
    large = bench("large", 5 if args.quick else 50, 1024, repeat, memory=True)
    print("\n== ratios (>1 means nirhub is faster) ==")
    rows = [
        ("small write vs nir (default gzip)", small["nir_write_gzip"] / small["nirhub_write"]),
        ("small write vs nir (uncompressed)", small["nir_write_none"] / small["nirhub_write"]),
        ("small read  vs nir", small["nir_read_none"] / small["nirhub_read"]),
    ]
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.1f}x  (goal >= 20x)")
    print("large (goal: <= 1.2; shown as nirhub / other)")
    rows = [
        ("write / nir write (uncompressed)", large["nirhub_write"] / large["nir_write_none"]),
        ("write gzip / nir write (gzip)", large["nirhub_write_gzip"] / large["nir_write_gzip"]),
        ("write / numpy.save", large["nirhub_write"] / large["numpy_save"]),
        ("read  / nir read (uncompressed)", large["nirhub_read"] / large["nir_read_none"]),
        ("read gzip / nir read (gzip)", large["nirhub_read_gzip"] / large["nir_read_gzip"]),
        ("read  / numpy.load", large["nirhub_read"] / large["numpy_load"]),
    ]
    for label, ratio in rows:
        print(f"  {label:36s} {ratio:7.2f}")
    peak = large["read_peak_rss_bytes"] / large["array_bytes"]
    traced = large["read_peak_traced_bytes"] / large["array_bytes"]
    print(f"  {'read peak memory / array bytes':36s} {peak:7.2f}  (goal <= 1.5)")
    print(f"  {'  same, by tracemalloc':36s} {traced:7.2f}")
    print(
        "  (peak memory: a fresh process imports numpy/h5py/nirhub, resets its RSS high-water "
        "mark\n   via /proc/self/clear_refs, then reads; shown: VmHWM minus the RSS before "
        "reading.\n   tracemalloc: peak of Python and numpy allocations during the read.)"
    )


if __name__ == "__main__":
    main()
