"""Bounded work on hostile input (issue 17): the pickle scanner and worker output.

1. **Pickle bombs.** Refusing the issue's file (200 MB of ``EMPTY_TUPLE`` opcodes deflated to
   about 200 KB; over 120 s before) and a pickle just under the size limit but over the opcode
   limit, against the baseline of scanning a real ``torch.save`` model of about the same file
   size (its pickle is kilobytes). Goal: the deflated bomb costs at most 1x the baseline, the
   opcode bomb at most 10 s.
2. **Endless worker output.** The growth of this process's peak memory while a fake worker
   prints without end, against the output cap (``OUTPUT_LIMIT``). Goal: at most 2x the cap.

Every figure is measured in the same run::

    python benchmarks/security.py

Prints one line per measurement with its ratio to the named baseline; exits 1 when a goal is
missed, 2 when torch is missing.
"""

from __future__ import annotations

import resource
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def _best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _refused(path: Path) -> None:
    from nirhub.errors import FileFormatError
    from nirhub.hub.sources import scan_torch_file

    try:
        scan_torch_file(path)
    except FileFormatError:
        return
    raise SystemExit(f"{path.name} was not refused")


def main() -> int:
    try:
        import torch
    except ImportError:
        print("needs torch")
        return 2
    from nirhub.hub import sources, workers

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = torch.nn.Sequential(*[torch.nn.Linear(100, 100) for _ in range(5)])
        real = folder / "real.pt"
        torch.save(model, real)
        baseline = _best(lambda: sources.scan_torch_file(real))
        print(f"baseline: scan a real torch.save model ({real.stat().st_size} bytes): "
              f"{baseline * 1e3:.2f} ms")  # fmt: skip

        bomb = folder / "bomb.pt"
        chunk = b")" * (1 << 20)
        with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
            with z.open("archive/data.pkl", "w", force_zip64=True) as f:
                f.write(b"\x80\x02")
                for _ in range(200):
                    f.write(chunk)
                f.write(b".")
        t = _best(lambda: _refused(bomb))
        print(f"deflated EMPTY_TUPLE bomb ({bomb.stat().st_size} bytes, 200 MiB of opcodes): "
              f"{t * 1e3:.2f} ms = {t / baseline:.2f}x baseline (goal <= 1x)")  # fmt: skip
        ok &= t <= baseline

        ops = folder / "ops.pt"
        n = sources.MAX_PICKLE_OPS + 1
        with zipfile.ZipFile(ops, "w") as z:
            z.writestr("archive/data.pkl", b"\x80\x02" + b")" * n + b".")
        t = _best(lambda: _refused(ops), runs=1)
        print(f"opcode bomb ({n} opcodes, {ops.stat().st_size} bytes): {t:.2f} s = "
              f"{t / baseline:.0f}x baseline (goal <= 10 s)")  # fmt: skip
        ok &= t <= 10.0

        loud = folder / "python"
        loud.write_text("#!/bin/sh\nexec yes nirhub-prints-without-end\n")
        loud.chmod(loud.stat().st_mode | stat.S_IXUSR)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        started = time.perf_counter()
        proc = workers.run_worker(loud, ["describe"], timeout=120, cwd=folder)
        took = time.perf_counter() - started
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        cap = workers.OUTPUT_LIMIT
        print(f"endless worker output: stopped after {took:.2f} s ({proc.stopped}); peak memory "
              f"grew {growth / 2**20:.1f} MiB = {growth / cap:.2f}x the {cap / 2**20:.0f} MiB "
              "cap (goal <= 2x)")  # fmt: skip
        ok &= bool(proc.stopped) and growth <= 2 * cap
    print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
