"""Speed of nirhub on the recurrent Braille network against snnTorch and Norse (CPU), issue 18.

Network: the NIR paper's Braille RNN, graph A (``tests/data/corpus/rnn/braille_noDelay_bias_zero
.nir``: 12 -> Affine -> 38 CubaLIF with a recurrent Affine 38 -> 38 -> Affine -> 7 CubaLIF), the
paper's test sample 0 (256 steps, batch 1), dt = 1e-4 s, float32.

Every simulator runs through its nirhub run hook, the call ``nirhub simulate --backend`` makes:
the reference simulator (``nirhub.simulate``), the torch backend (``nirhub-torch``), snnTorch
(``nirhub-snntorch``: the graph as snnTorch modules, stepped once per time step) and Norse
(``nirhub-norse``, likewise). Each time includes building the model from the graph (the same
work on every side: a user's whole call), best of ``--repeats`` after an untimed run that
compares the output spikes. The weights are the trained ones (not dyadic), so the frameworks'
own orders of operations may flip a few spikes: the agreement is printed.

    python benchmarks/sim_rnn.py [--repeats 5] [--batch 1] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

# first: sim applies --threads to the BLAS libraries before numpy loads them
from sim import agreement, best_times  # noqa: E402

# isort: split
import numpy as np  # noqa: E402

GRAPH = ROOT / "tests" / "data" / "corpus" / "rnn" / "braille_noDelay_bias_zero.nir"
SAMPLE0 = ROOT / "tests" / "data" / "corpus" / "rnn" / "derived" / "braille_test0_input.npy"
DT = 1e-4


def runners(graph, x: np.ndarray) -> dict:
    from nirhub.sim import simulate

    found = {"nirhub": lambda: simulate(graph, x, DT, dtype=np.float32)["output"]}
    try:
        import torch
        from nirhub_torch.run import run as run_torch

        def torch_backend():
            with torch.inference_mode():
                return run_torch(graph, x, DT, dtype="float32")["output"]

        found["nirhub-torch"] = torch_backend
    except ImportError:
        print("(nirhub-torch not installed: the torch backend is not measured)")
    try:
        from nirhub_snntorch.run import run as run_snntorch

        found["snntorch"] = lambda: run_snntorch(graph, x, DT, dtype="float32")["output"]
    except ImportError:
        print("(nirhub-snntorch not installed: snnTorch is not measured)")
    try:
        from nirhub_norse.run import run_graph as run_norse

        found["norse"] = lambda: run_norse(graph, x, DT)["output"]
    except ImportError:
        print("(nirhub-norse not installed: Norse is not measured)")
    return found


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1, help="copies of sample 0, rolled in time")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for torch and numpy's BLAS alike (default: the number of CPUs)",
    )
    args = ap.parse_args(argv)
    import torch

    from nirhub.io import read

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(args.threads or cpus or 1)
    graph = read(GRAPH)
    x0 = np.load(SAMPLE0).astype(np.float32)  # (256, 12)
    x = np.stack([np.roll(x0, 3 * k, axis=0) for k in range(args.batch)], axis=1)
    run = runners(graph, x)
    print(
        f"Braille RNN (graph A), batch {args.batch}, {x.shape[0]} steps, float32, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), {cpus} CPUs"
    )
    outs = {name: np.asarray(fn()) for name, fn in run.items()}  # untimed: warm-up, spikes
    print(f"output spikes (nirhub): {int(outs['nirhub'].sum())}")
    same = True
    for name, out in outs.items():
        if name != "nirhub":
            print(f"spikes nirhub vs {name}: {agreement(outs['nirhub'], out)}")
            if name == "nirhub-torch":
                same = np.array_equal(outs["nirhub"], out)
    best = best_times(run, args.repeats)
    if hasattr(os, "getloadavg"):
        print("load average during the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for name, sec in best.items():
        print(f"{name:13s} {sec * 1e3:8.1f} ms")
    peers = [best[p] for p in ("snntorch", "norse") if p in best]
    goal = True
    if peers:
        fastest = min(peers)
        for name in ("nirhub", "nirhub-torch"):
            if name in best:
                ratio = best[name] / fastest
                goal = goal and ratio < 1.0
                print(f"ratio {name}/fastest of snntorch and norse: {ratio:.3f} (goal < 1.0)")
    print(
        f"speed goal: {'met' if goal else 'MISSED'}; spikes nirhub vs nirhub-torch: "
        f"{'same' if same else 'DIFFER'}"
    )
    return 0 if goal and same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
