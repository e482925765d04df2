"""Time and peak memory of nirhub's commands on hostile ``.nir`` files (issue 17, items 4-6).

Run: ``python benchmarks/hostile_files.py`` (``--quick``: 256 MiB weights instead of 1 GiB).

Baselines, measured in the same run:

* time: the same command on ``examples/braille.nir`` (a benign file); a hostile file should cost
  about as much (ratio ~1), not hang or take minutes;
* memory: the bytes the file legitimately makes the reader hold (the weight's bytes); the goal
  is a peak RSS of at most ~1.5x those bytes (interpreter included).

Each command runs in a fresh interpreter; its peak is ``VmHWM`` of that process (a child's
``ru_maxrss`` would include its parent's peak). Nothing is asserted (the regression tests in
``tests/test_security_io.py`` do that with generous limits); this prints the figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

RUN = r"""
import sys
from nirhub.cli import main
sys.argv = ["nirhub"] + sys.argv[1:]
try:
    main()
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(f"@@ {code} {hwm}", file=sys.stderr)
"""


def measure(*args: str) -> tuple[int, float, float]:
    """(exit code, seconds, peak MiB) of ``nirhub ARGS`` in a fresh interpreter."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=600
    )
    seconds = time.perf_counter() - start
    tail = [line for line in result.stderr.splitlines() if line.startswith("@@ ")][-1]
    _, code, kib = tail.split()
    return int(code), seconds, int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB weights instead of 1 GiB")
    opts = parser.parse_args()
    from test_security_io import poison_collection, small_graph, string_edges_file

    from nirhub.io import writer

    columns = 2**25 if opts.quick else 2**27  # 2 rows of float32: 256 MiB or 1 GiB
    weight_mib = 2 * columns * 4 / 2**20
    braille = str(ROOT / "examples" / "braille.nir")
    base = {cmd: measure(cmd, braille) for cmd in ("inspect", "validate")}
    print(
        f"baseline braille.nir: inspect {base['inspect'][1]:.2f} s, validate "
        f"{base['validate'][1]:.2f} s, peak {base['inspect'][2]:.0f} MiB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cases: list[tuple[str, Path, float | None]] = []
        heap = d / "heap.nir"
        poison_collection(heap, string_edges_file(heap, "chunked-gzip"))
        cases.append(("chunked gzip strings, corrupt heap", heap, None))
        dots = d / "dots.nir"
        writer._write(small_graph(), dots, engine="h5py")
        with h5py.File(dots, "r+") as f:
            edges = f["node/edges"][()].astype(object)
            del f["node/edges"]
            extra = np.array([["." * 200_000, "output"]], dtype=object)
            f["node"].create_dataset(
                "edges", data=np.vstack([edges, extra]), dtype=h5py.string_dtype()
            )
        cases.append(("edge of 200,000 dots", dots, None))
        unwritten = d / "unwritten.nir"
        writer._write(small_graph(), unwritten, engine="h5py")
        with h5py.File(unwritten, "r+") as f:
            del f["node/nodes/lin/weight"]
            f["node/nodes/lin"].create_dataset("weight", shape=(2, columns), dtype="f4")
        cases.append((f"unwritten {weight_mib:.0f} MiB weight", unwritten, weight_mib))
        gz = d / "gzip.nir"
        writer._write(small_graph(), gz, engine="h5py")
        with h5py.File(gz, "r+") as f:
            del f["node/nodes/lin/weight"]
            ds = f["node/nodes/lin"].create_dataset(
                "weight", shape=(2, columns), dtype="f4", chunks=(1, 2**22), compression="gzip"
            )
            ones = np.ones(2**22, np.float32)
            for row in range(2):
                for col in range(0, columns, 2**22):
                    ds[row, col : col + 2**22] = ones
        cases.append((f"gzip {weight_mib:.0f} MiB weight", gz, weight_mib))
        for label, path, held in cases:
            size = path.stat().st_size
            for cmd in ("inspect", "validate"):
                code, seconds, peak = measure(cmd, str(path))
                ratio_t = seconds / base[cmd][1]
                line = (
                    f"{label} ({size:,} B file), {cmd}: exit {code}, {seconds:.2f} s "
                    f"= {ratio_t:.2f}x braille.nir, peak {peak:.0f} MiB"
                )
                if held is not None:
                    line += f" = {peak / held:.2f}x the weight's bytes"
                print(line)


if __name__ == "__main__":
    main()
