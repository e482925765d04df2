"""Throughput of ``nirhub verify``: samples per second, 1 and 2 local workers, and per backend.

The model is the NIR paper's Braille RNN (graph A: 12 -> 38 recurrent CubaLIF -> 7, 256 steps
per sample); the data set is ``--samples`` (default 1,000) variants of the paper's test sample 0
(rolled in time and across taxels), with labels, in an uncompressed ``.npz`` (streamed).

Measured in one run, on this machine:

* ``reference``: the reference simulator alone plus the built-in ``nir`` backend (which *is*
  the reference simulator), 1 worker: **the baseline**;
* the same with 2 workers (ratio = speed-up over the baseline);
* every installed backend that can run graphs (``--backends`` to choose), 1 worker, on
  ``--backend-samples`` samples (default 100): its samples per second and the ratio to the
  baseline's rate (below 1: that backend costs more than the reference).

Each figure is the wall time of a whole ``verify`` call (data streaming, per-sample files,
report.json; no HTML) divided into the number of samples.

    python benchmarks/verify.py [--samples 1000] [--backend-samples 100] [--backends a,b]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GRAPH = ROOT / "tests" / "data" / "corpus" / "rnn" / "braille_noDelay_bias_zero.nir"
SAMPLE0 = ROOT / "tests" / "data" / "corpus" / "rnn" / "derived" / "braille_test0_input.npy"


def make_dataset(folder: Path, n: int) -> Path:
    x0 = np.load(SAMPLE0)
    x = np.stack([np.roll(np.roll(x0, 3 * k, axis=0), k % 12, axis=1) for k in range(n)])
    path = folder / f"braille_{n}.npz"
    np.savez(path, x=x.astype(np.uint8), y=np.arange(n) % 7)
    return path


def timed(
    folder: Path, name: str, data: Path, backends: list[str], workers: int
) -> tuple[float, str]:
    """Samples per second of one ``verify`` call, and the (last) backend's status."""
    from nirhub.hub.verify import verify

    start = time.perf_counter()
    report = verify(
        GRAPH,
        dataset=data,
        dt=1e-4,
        record=("lif1.lif",),
        backends=backends,
        workers=workers,
        output_dir=folder / name,
        html=False,
        min_similarity=0.0,
    )
    seconds = time.perf_counter() - start
    assert report.complete, f"{name}: {report.completed} of {report.samples} samples"
    status = report.backends[-1].status if report.backends else "-"
    return report.samples / seconds, status


def installed_backends() -> list[str]:
    from nirhub.hub.registry import default_registry
    from nirhub.hub.verify import default_backends

    return default_backends(default_registry())[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--backend-samples", type=int, default=100)
    parser.add_argument("--backends", help="comma-separated (default: every installed one)")
    args = parser.parse_args(argv)
    backends = args.backends.split(",") if args.backends else installed_backends()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = make_dataset(folder, args.samples)
        small = make_dataset(folder, min(args.backend_samples, args.samples))
        base, _ = timed(folder, "w1", data, ["nir"], 1)
        two, _ = timed(folder, "w2", data, ["nir"], 2)
        print(f"Braille RNN (graph A), {args.samples} samples of 256 steps")
        print(f"{'run':<28} {'samples/s':>10} {'ratio':>8}")
        print(f"{'reference + nir, 1 worker':<28} {base:>10.1f} {1.0:>8.2f}   (baseline)")
        print(f"{'reference + nir, 2 workers':<28} {two:>10.1f} {two / base:>8.2f}")
        small_base, _ = timed(folder, "b-nir", small, ["nir"], 1)
        for name in backends:
            label = f"reference + {name}, 1 worker"
            try:
                rate, status = timed(folder, f"b-{name}", small, [name], 1)
            except Exception as exc:  # a backend that cannot run here: say so, keep going
                print(f"{label:<28} {'-':>10} {'-':>8}   ({exc})")
                continue
            if status in ("refused", "error", "skipped"):
                print(f"{label:<28} {'-':>10} {'-':>8}   ({status}: not measured)")
                continue
            print(f"{label:<28} {rate:>10.1f} {rate / small_base:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
