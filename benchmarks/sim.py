"""Speed of nirhub's reference simulator against snnTorch and Norse on the same network (CPU).

Goal (issue 3): a 3-layer LIF network, 700 -> 1024 -> 1024 -> 20 (Affine + LIF per layer),
batch 32, 1000 steps, runs at least as fast in ``nirhub.simulate`` as in the faster of Norse and
snnTorch (ratio <= 1.0), with the same spikes.

Fairness:

* All three run float32 on the CPU, with the same number of threads (torch is set to the
  number of CPUs, which is what numpy's OpenBLAS uses by default), no autograd
  (``torch.inference_mode``), the same weights and input, timed in the same process,
  interleaved, best of ``--repeats`` after a warm-up.
* The equations are the same: forward Euler of NIR ``LIF(tau, r=tau/dt, v_leak=0,
  v_threshold=1)`` with reset to zero. With ``dt = 2**-10`` and ``tau = 8*dt`` the decay
  ``1 - dt/tau = 0.875`` and the input gain ``r*dt/tau = 1`` are exact in binary, so nirhub's
  ``v <- 0.875*v + x`` is exactly snnTorch's ``Leaky(beta=0.875)``. Norse's ``LIFBoxCell``
  computes ``v + dt/tau*(i - v)`` with ``i = r*x`` (weights scaled by r = 8, exact), the same
  equation with a different rounding order.
* Weights are multiples of 2**-8 and inputs are 0/1 spikes, so every matrix product is exact
  in float32 whatever the BLAS summation order: differences can only come from the neuron
  update itself.
* Each framework is run the way its users run it: snnTorch and Norse step their modules once
  per time step; nirhub takes the whole input at once (its engine processes time in chunks,
  which is part of what is measured).
* When ``nirhub-torch`` is installed, nirhub's torch backend is measured too (its run hook,
  model built from the graph included; issue 18), with its spikes compared to nirhub's.

Run it with a Python that has torch, snntorch and norse (``--setup`` creates one under
``~/.cache/nirhub-bench/torch311``; without those packages the script re-runs itself there)::

    python benchmarks/sim.py [--repeats 3] [--steps 1000] [--batch 32] [--threads N]

Prints the time of each simulator, the ratios measured in this run, and the spike agreement;
exits 1 when the goal is missed or the spikes disagree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _threads_from_argv(argv: list[str]) -> int | None:
    """``--threads N`` must take effect before numpy loads OpenBLAS."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return None


_THREADS = _threads_from_argv(sys.argv[1:])
if _THREADS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(_THREADS)

import numpy as np  # noqa: E402

VENV = Path.home() / ".cache" / "nirhub-bench" / "torch311"
SIZES = (700, 1024, 1024, 20)
DT = 2.0**-10
TAU = 8 * DT
GOAL_RATIO = 1.0


def setup_venv() -> Path:
    """Create the benchmark environment (Python 3.11, CPU torch, snntorch, norse)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        base = shutil.which("python3.11")
        if base is None:
            raise SystemExit("python3.11 not found; install it or run with a Python that has torch")
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, "numpy", "h5py", "snntorch", "nir", "nirtorch"], check=True)
    # norse 1.1.0 pins torchvision, which does not match this torch; its modules do not need it
    subprocess.run([*pip, "--no-deps", "norse==1.1.0"], check=True)
    subprocess.run([str(python), "-c", "import norse.torch, snntorch"], check=True)
    return python


def ensure_frameworks(argv: list[str], script: str = __file__) -> None:
    try:
        import norse.torch  # noqa: F401
        import snntorch  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        python = VENV / "bin" / "python"
        if python.exists() and Path(sys.executable).resolve() != python.resolve():
            os.execv(str(python), [str(python), script, *argv])
        raise SystemExit(
            f"{exc}: this benchmark needs torch, snntorch and norse. "
            f"Create their environment with `python {__file__} --setup`."
        ) from None


def make_weights(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights as multiples of 2**-8 (exact sums of 0/1 inputs in float32), zero biases."""
    # mean/std per layer: firing rates of about 6 %, 7 % and 9 %
    means, sigmas = (0.002, 0.0, 0.0), (0.06, 0.08, 0.08)
    layers = []
    shapes = zip(SIZES[:-1], SIZES[1:], strict=True)
    for (n_in, n_out), mean, sigma in zip(shapes, means, sigmas, strict=True):
        w = np.round(rng.normal(mean, sigma, (n_out, n_in)) * 256) / 256
        layers.append((w.astype(np.float32), np.zeros(n_out, np.float32)))
    return layers


def nir_graph(layers):
    from nirhub.ir import LIF, Affine, Graph, Input, Output

    nodes = {"input": Input((SIZES[0],))}
    edges = []
    prev = "input"
    for i, (w, b) in enumerate(layers):
        n = w.shape[0]
        nodes[f"fc{i}"] = Affine(w, b)
        nodes[f"lif{i}"] = LIF(
            tau=np.full(n, TAU),
            r=np.full(n, TAU / DT),
            v_leak=np.zeros(n),
            v_threshold=np.ones(n),
            v_reset=np.zeros(n),
        )
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = Output()
    edges.append((prev, "output"))
    return Graph(nodes, edges)


def run_nirhub(graph, x, record=(), chunk_size=None):
    from nirhub.sim import simulate

    res = simulate(graph, x, DT, dtype=np.float32, record=record, chunk_size=chunk_size)
    hidden = [res.spikes(p) for p in record]
    return res["output"], hidden


def run_torch_backend(graph, x):
    """nirhub's torch backend (``nirhub-torch``): the graph as a torch module, whole input."""
    import torch
    from nirhub_torch.run import run

    with torch.inference_mode():
        return np.asarray(run(graph, x, DT, dtype="float32")["output"])


def torch_backend_installed() -> bool:
    try:
        import nirhub_torch  # noqa: F401
    except ImportError:
        print("(nirhub-torch not installed: the torch backend is not measured)")
        return False
    return True


def torch_layers(layers, scale: float):
    import torch

    mods = []
    for w, b in layers:
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w * scale))
            lin.bias.copy_(torch.from_numpy(b * scale))
        mods.append(lin)
    return mods


def run_snntorch(layers, x, keep_hidden=False):
    import snntorch as snn
    import torch

    lins = torch_layers(layers, 1.0)
    lifs = [
        snn.Leaky(beta=1 - DT / TAU, threshold=1.0, reset_mechanism="zero", reset_delay=False)
        for _ in lins
    ]
    xt = torch.from_numpy(x)
    out = torch.empty((x.shape[0], x.shape[1], SIZES[-1]))
    hidden = [torch.empty((x.shape[0], x.shape[1], n)) for n in SIZES[1:-1]]
    with torch.inference_mode():
        mems = [lif.init_leaky() for lif in lifs]
        for t in range(x.shape[0]):
            s = xt[t]
            for i, (lin, lif) in enumerate(zip(lins, lifs, strict=True)):
                s, mems[i] = lif(lin(s), mems[i])
                if keep_hidden and i < len(hidden):
                    hidden[i][t] = s
            out[t] = s
    return out.numpy(), [h.numpy() > 0 for h in hidden]


def run_norse(layers, x, keep_hidden=False):
    import torch
    from norse.torch import LIFBoxCell, LIFBoxParameters

    lins = torch_layers(layers, TAU / DT)  # NIR r = tau/dt; LIFBox has r = 1 (exact scaling)
    p = LIFBoxParameters(
        tau_mem_inv=torch.tensor(1 / TAU),
        v_leak=torch.tensor(0.0),
        v_th=torch.tensor(1.0),
        v_reset=torch.tensor(0.0),
    )
    cells = [LIFBoxCell(p, dt=DT) for _ in lins]
    xt = torch.from_numpy(x)
    out = torch.empty((x.shape[0], x.shape[1], SIZES[-1]))
    hidden = [torch.empty((x.shape[0], x.shape[1], n)) for n in SIZES[1:-1]]
    with torch.inference_mode():
        states = [None] * len(cells)
        for t in range(x.shape[0]):
            s = xt[t]
            for i, (lin, cell) in enumerate(zip(lins, cells, strict=True)):
                s, states[i] = cell(lin(s), states[i])
                if keep_hidden and i < len(hidden):
                    hidden[i][t] = s
            out[t] = s
    return out.numpy(), [h.numpy() > 0 for h in hidden]


def best_times(runners: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each runner's best wall-clock time (seconds) of ``repeats``, the runners interleaved so
    that a change of load on the machine hits them all; prints the load average."""
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(repeats):
        for name, fn in runners.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    if hasattr(os, "getloadavg"):
        print("load average during the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return best


def agreement(a: np.ndarray, b: np.ndarray) -> str:
    from nirhub import metrics

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = metrics.differing_cells(a, b)
    return (
        f"{diff} of {a.size} cells differ, event agreement {metrics.event_agreement(a, b):.4%}, "
        f"spikes {int(a.sum())} vs {int(b.sum())}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for numpy's BLAS and torch alike (default: the number of CPUs)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="nirhub's steps per chunk (default: automatic; 1 = strictly step by step)",
    )
    parser.add_argument("--setup", action="store_true", help="create the benchmark venv")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="time over batch 1-128 (at --steps) and over T 100-3000 (at --batch) instead",
    )
    args = parser.parse_args(argv)
    if args.setup:
        python = setup_venv()
        print(f"benchmark environment ready: {python}")
        return 0
    ensure_frameworks(argv)
    import norse
    import snntorch
    import torch

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = args.threads or cpus or 1
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    layers = make_weights(rng)
    x = (rng.random((args.steps, args.batch, SIZES[0])) < 0.05).astype(np.float32)
    graph = nir_graph(layers)
    print(
        f"network {' -> '.join(map(str, SIZES))} (Affine + LIF), batch {args.batch}, "
        f"{args.steps} steps, float32, dt = 2**-10 s, tau = 8 dt; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), snntorch {snntorch.__version__}, norse "
        f"{getattr(norse, '__version__', '?')}, numpy {np.__version__} ({threads} BLAS threads, "
        f"{cpus} CPUs)"
    )

    if args.sweep:
        return sweep(graph, layers, rng, args.batch, args.steps, args.repeats)

    # correctness first (untimed): output and both hidden layers
    out_n, hid_n = run_nirhub(graph, x, record=("lif0", "lif1"))
    out_s, hid_s = run_snntorch(layers, x, keep_hidden=True)
    out_o, hid_o = run_norse(layers, x, keep_hidden=True)
    rates = [float(h.mean()) for h in hid_n] + [float(out_n.mean())]
    print("firing rates per layer (nirhub): " + ", ".join(f"{r:.3f}" for r in rates))
    ok = True
    for name, (out, hid) in {"snntorch": (out_s, hid_s), "norse": (out_o, hid_o)}.items():
        for layer, (a, b) in enumerate(zip([*hid_n, out_n], [*hid, out], strict=True)):
            print(f"spikes nirhub vs {name}, layer {layer}: {agreement(a, b)}")
        if not np.array_equal(out_n, out):
            ok = ok and name != "snntorch"  # snnTorch does the identical arithmetic

    runners = {
        "nirhub": lambda: run_nirhub(graph, x, chunk_size=args.chunk_size),
        "snntorch": lambda: run_snntorch(layers, x),
        "norse": lambda: run_norse(layers, x),
    }
    if torch_backend_installed():
        runners["nirhub-torch"] = lambda: run_torch_backend(graph, x)
        out_t = runners["nirhub-torch"]()
        print(f"spikes nirhub vs nirhub-torch, output layer: {agreement(out_n, out_t)}")
        ok = ok and np.array_equal(out_n, out_t)
    best = best_times(runners, args.repeats)
    if hasattr(os, "getloadavg"):
        print("load average during the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for name, sec in best.items():
        print(f"{name:12s} {sec:7.3f} s  ({sec / args.steps * 1e3:.2f} ms/step)")
    fastest = min(best["snntorch"], best["norse"])
    goal = True
    for name in ("nirhub", "nirhub-torch"):
        if name in best:
            ratio = best[name] / fastest
            goal = goal and ratio <= GOAL_RATIO
            print(
                f"ratio {name}/snntorch {best[name] / best['snntorch']:.3f}, "
                f"{name}/norse {best[name] / best['norse']:.3f}, "
                f"{name}/faster {ratio:.3f} (goal <= {GOAL_RATIO})"
            )
    print(f"speed goal: {'met' if goal else 'MISSED'}; spikes: {'ok' if ok else 'DIFFER'}")
    return 0 if goal and ok else 1


def sweep(graph, layers, rng, batch: int, steps: int, repeats: int) -> int:
    """How the cost grows in batch and in time: each point timed for the three simulators
    (best of ``repeats``), with nirhub's ratio to the faster peer and its time per
    sample-step relative to the first point of the row (1.0 = linear)."""
    points = [(b, steps) for b in (1, 4, 16, 32, 64, 128)]
    points += [(batch, t) for t in (100, 300, 1000, 3000) if t != steps]
    base: dict[str, float] = {}
    print(f"{'batch':>5s} {'T':>5s} {'nirhub':>8s} {'snntorch':>8s} {'norse':>8s} "
          f"{'ratio':>6s}  per sample-step vs first point")  # fmt: skip
    ok = True
    for b, t in points:
        x = (rng.random((t, b, SIZES[0])) < 0.05).astype(np.float32)
        runners = {
            "nirhub": lambda x=x: run_nirhub(graph, x),
            "snntorch": lambda x=x: run_snntorch(layers, x),
            "norse": lambda x=x: run_norse(layers, x),
        }
        best = dict.fromkeys(runners, float("inf"))
        outs = {}
        for _ in range(repeats):
            for name, fn in runners.items():
                start = time.perf_counter()
                outs[name] = fn()[0]
                best[name] = min(best[name], time.perf_counter() - start)
        ok = ok and np.array_equal(outs["nirhub"], outs["snntorch"])
        ratio = best["nirhub"] / min(best["snntorch"], best["norse"])
        per = best["nirhub"] / (b * t)
        row = "batch" if t == steps else "time"
        base.setdefault(row, per)
        print(f"{b:5d} {t:5d} {best['nirhub']:8.3f} {best['snntorch']:8.3f} "
              f"{best['norse']:8.3f} {ratio:6.3f}  {per / base[row]:6.3f} ({row} row)")  # fmt: skip
    print(f"spikes nirhub vs snntorch at every point: {'same' if ok else 'DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
