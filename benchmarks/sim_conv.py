"""Speed of nirhub on a convolutional network against snnTorch and Norse (CPU), issue 18.

Network: 2x34x34 -> Conv2d 16 (5x5, padding 1) -> LIF -> SumPool 2x2 -> Conv2d 32 (3x3,
stride 2, padding 1) -> LIF -> Flatten -> Affine 10 -> LIF; batch 16, 300 steps, float32.
Goal: the reference simulator (``nirhub.simulate``) and the torch backend (``nirhub-torch``)
ahead of the faster of snnTorch and Norse (ratio < 1.0), with the same spikes.

Fairness as in ``benchmarks/sim.py``: same threads, no autograd, weights multiples of 2**-8
and 0/1 input spikes (every convolution is exact in float32 whatever the summation order),
``dt = 2**-10``, ``tau = 8 dt`` (decay 0.875, gain 1, exact); sum pooling is
``avg_pool2d(divisor_override=1)`` in torch. snnTorch and Norse step their modules once per
time step, as their users do; nirhub takes the whole input at once. Best of ``--repeats``
after an untimed run that also checks the spikes.

Run with a Python that has torch, snntorch and norse (see ``benchmarks/sim.py --setup``, or
the nox environment after ``nox -s plugin-norse plugin-snntorch``)::

    python benchmarks/sim_conv.py [--batch 16] [--steps 300] [--repeats 3] [--threads N]
                                  [--sim-threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

# first: sim applies --threads to the BLAS libraries before numpy loads them
from sim import DT, TAU, agreement, best_times, ensure_frameworks  # noqa: E402

# isort: split
import numpy as np  # noqa: E402

CHANNELS = (2, 16, 32)
SIDE = 34


def make_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def dyadic(shape, mean, sigma):
        return (np.round(rng.normal(mean, sigma, shape) * 256) / 256).astype(np.float32)

    return {
        "conv1": dyadic((16, 2, 5, 5), 0.02, 0.12),
        "conv2": dyadic((32, 16, 3, 3), 0.0, 0.12),
        "fc": dyadic((10, 32 * 8 * 8), 0.0, 0.06),
    }


def nir_graph(w: dict[str, np.ndarray]):
    from nirhub.ir import LIF, Affine, Conv2d, Flatten, Graph, Input, Output, SumPool2d

    def lif(shape):
        return LIF(
            tau=np.full(shape, TAU),
            r=np.full(shape, TAU / DT),
            v_leak=np.zeros(shape),
            v_threshold=np.ones(shape),
            v_reset=np.zeros(shape),
        )

    nodes = {
        "input": Input((2, SIDE, SIDE)),
        "conv1": Conv2d((SIDE, SIDE), w["conv1"], padding=1, bias=np.zeros(16, np.float32)),
        "lif1": lif((16, 32, 32)),
        "pool": SumPool2d(2),
        "conv2": Conv2d((16, 16), w["conv2"], stride=2, padding=1, bias=np.zeros(32, np.float32)),
        "lif2": lif((32, 8, 8)),
        "flat": Flatten((32, 8, 8), 0),
        "fc": Affine(w["fc"], np.zeros(10, np.float32)),
        "lif3": lif((10,)),
        "output": Output(),
    }
    names = list(nodes)
    return Graph(nodes, list(zip(names[:-1], names[1:], strict=True)))


def torch_modules(w: dict[str, np.ndarray], scale: float):
    import torch

    conv1 = torch.nn.Conv2d(2, 16, 5, padding=1)
    conv2 = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
    fc = torch.nn.Linear(32 * 8 * 8, 10)
    with torch.no_grad():
        for mod, key in ((conv1, "conv1"), (conv2, "conv2"), (fc, "fc")):
            mod.weight.copy_(torch.from_numpy(w[key] * scale))
            mod.bias.zero_()
    return conv1, conv2, fc


def _pool(s):
    import torch.nn.functional as F

    return F.avg_pool2d(s, 2, divisor_override=1)


def run_snntorch(w, x):
    import snntorch as snn
    import torch

    conv1, conv2, fc = torch_modules(w, 1.0)
    lifs = [
        snn.Leaky(beta=1 - DT / TAU, threshold=1.0, reset_mechanism="zero", reset_delay=False)
        for _ in range(3)
    ]
    xt = torch.from_numpy(x)
    out = torch.empty((x.shape[0], x.shape[1], 10))
    with torch.inference_mode():
        mems = [lif.init_leaky() for lif in lifs]
        for t in range(x.shape[0]):
            s, mems[0] = lifs[0](conv1(xt[t]), mems[0])
            s, mems[1] = lifs[1](conv2(_pool(s)), mems[1])
            out[t], mems[2] = lifs[2](fc(s.flatten(1)), mems[2])
    return out.numpy()


def run_norse(w, x):
    import torch
    from norse.torch import LIFBoxCell, LIFBoxParameters

    # NIR r = tau/dt; LIFBox has r = 1: the weights carry the (exact) factor 8
    conv1, conv2, fc = torch_modules(w, TAU / DT)
    p = LIFBoxParameters(
        tau_mem_inv=torch.tensor(1 / TAU),
        v_leak=torch.tensor(0.0),
        v_th=torch.tensor(1.0),
        v_reset=torch.tensor(0.0),
    )
    cells = [LIFBoxCell(p, dt=DT) for _ in range(3)]
    xt = torch.from_numpy(x)
    out = torch.empty((x.shape[0], x.shape[1], 10))
    with torch.inference_mode():
        st = [None, None, None]
        for t in range(x.shape[0]):
            s, st[0] = cells[0](conv1(xt[t]), st[0])
            s, st[1] = cells[1](conv2(_pool(s)), st[1])
            out[t], st[2] = cells[2](fc(s.flatten(1)), st[2])
    return out.numpy()


def run_nirhub(graph, x, threads=None):
    from nirhub.sim import simulate

    return simulate(graph, x, DT, dtype=np.float32, threads=threads)["output"]


def run_torch_backend(graph, x):
    import torch
    from nirhub_torch.run import run

    with torch.inference_mode():
        return np.asarray(run(graph, x, DT, dtype="float32")["output"])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for torch and numpy's BLAS alike (default: the number of CPUs)",
    )
    ap.add_argument(
        "--sim-threads",
        type=int,
        default=None,
        help="threads of the reference simulator (simulate(threads=)); default: measure both "
        "threads=1 (its default) and threads=--threads (the pipeline, docs/simulator.md)",
    )
    args = ap.parse_args(argv)
    ensure_frameworks(argv, __file__)
    import torch

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(args.threads or cpus or 1)
    rng = np.random.default_rng(0)
    w = make_weights(rng)
    x = (rng.random((args.steps, args.batch, 2, SIDE, SIDE)) < 0.05).astype(np.float32)
    graph = nir_graph(w)
    threads = args.threads or cpus or 1
    sim_threads = [args.sim_threads] if args.sim_threads else sorted({1, threads})
    runners = {
        ("nirhub" if n == 1 else f"nirhub-threads{n}"): (lambda n=n: run_nirhub(graph, x, n))
        for n in sim_threads
    }
    runners.update(
        {
            "snntorch": lambda: run_snntorch(w, x),
            "norse": lambda: run_norse(w, x),
        }
    )
    try:
        import nirhub_torch  # noqa: F401

        runners["nirhub-torch"] = lambda: run_torch_backend(graph, x)
    except ImportError:
        print("(nirhub-torch not installed: the torch backend is not measured)")
    print(
        f"conv net 2x{SIDE}x{SIDE} -> conv16 -> LIF -> sumpool2 -> conv32/2 -> LIF -> fc10 -> "
        f"LIF, batch {args.batch}, {args.steps} steps, float32, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {cpus} CPUs"
    )
    outs = {name: fn() for name, fn in runners.items()}  # untimed: warm-up and spikes
    ok = True
    first = next(iter(runners))
    print(f"output spikes ({first}): {int(outs[first].sum())}")
    for name, out in outs.items():
        if name != first:
            print(f"spikes {first} vs {name}: {agreement(outs[first], out)}")
            if name != "norse":  # Norse's LIFBox rounds v + dt/tau (i - v) differently
                ok = ok and np.array_equal(outs[first] > 0, np.asarray(out) > 0)
    best = best_times(runners, args.repeats)
    for name, sec in best.items():
        print(f"{name:13s} {sec:7.3f} s")
    fastest = min(best["snntorch"], best["norse"])
    ratios = {name: sec / fastest for name, sec in best.items() if name.startswith("nirhub")}
    for name, ratio in ratios.items():
        print(f"ratio {name}/fastest of snntorch and norse: {ratio:.3f} (goal < 1.0)")
    sim = min(r for name, r in ratios.items() if name != "nirhub-torch")
    goal = sim < 1.0 and ratios.get("nirhub-torch", 0.0) < 1.0
    print(
        f"speed goal (the reference simulator at its best threads, the torch backend): "
        f"{'met' if goal else 'MISSED'}; spikes: {'same' if ok else 'DIFFER'}"
    )
    return 0 if goal and ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
