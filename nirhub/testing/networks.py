"""Small networks and inputs that the importers' agreement tests share.

Each graph is small enough to run in a few hundred steps on any backend and driven hard enough
(by :func:`spike_train`) that its neurons spike, so a wrong threshold, time constant, reset or
delay shows up as differing spikes:

* :func:`affine_mlp`: ``input (6) -> fc (Affine) -> lif (5 neurons) -> output``, the neuron
  replaceable (a variant, another neuron type);
* :func:`if_network`: ``input (8) -> fc1 -> if1 -> fc2 -> if2 -> output``, the last
  population replaceable;
* :func:`stateful_graph`: Delay, Threshold, LI, CubaLI, I and a recurrent Delay loop around a
  CubaLIF in one graph, two outputs.

None records a time step: a test gives it (1e-4 s drives them well), or checks what a backend
does without one.

:func:`nirhub.testing.reference.assert_runs_like_reference` runs one against the reference
simulator; the NIR paper's graphs and inputs are in :mod:`nirhub.testing.corpus`.
"""

from __future__ import annotations

import numpy as np

from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    Affine,
    CubaLI,
    CubaLIF,
    Delay,
    I,
    Input,
    Linear,
    Node,
    Output,
    Scale,
    Threshold,
)

__all__ = ["affine_mlp", "if_network", "spike_train", "stateful_graph"]


def spike_train(shape: tuple[int, ...], steps: int, p: float, seed: int = 0) -> np.ndarray:
    """``(steps, *shape)`` float64 spikes (0 or 1), each present with probability ``p``."""
    return (np.random.default_rng(seed).random((steps, *shape)) < p).astype(np.float64)


def if_network(rng: np.random.Generator, *, last: str = "if2", neuron: Node | None = None) -> Graph:
    """``input (8) -> fc1 -> if1 -> fc2 -> <last> -> output``: two layers of IF neurons, weights
    (and if1's thresholds) drawn from ``rng``. ``neuron`` (4 neurons)
    replaces the second IF population, named ``last``."""
    fc1 = Linear(rng.normal(size=(10, 8)).astype(np.float32))
    if1 = IF(rng.uniform(0.5, 2.0, 10), np.full(10, 1e-3))
    fc2 = Affine(rng.normal(size=(4, 10)).astype(np.float32), np.zeros(4, np.float32))
    if neuron is None:
        neuron = IF(np.full(4, 3.0), np.full(4, 2e-3), np.zeros(4))
    return Graph(
        {
            "input": Input((8,)),
            "fc1": fc1,
            "if1": if1,
            "fc2": fc2,
            last: neuron,
            "output": Output(),
        },
        [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", last), (last, "output")],
    )


def affine_mlp(neuron: Node | None = None, *, seed: int = 1, weight_scale: float = 1.0) -> Graph:
    """``input (6) -> fc -> lif -> output``: the small network importers' tests run against
    the reference simulator. ``fc`` is a random Affine (5 x 6, weights ``weight_scale`` times
    standard normal, biases 0.1 times); ``neuron`` (5 neurons, named ``lif``) defaults to a LIF
    whose tau and r differ per neuron."""
    rng = np.random.default_rng(seed)
    w = (weight_scale * rng.normal(size=(5, 6))).astype(np.float32)
    b = (0.1 * rng.normal(size=5)).astype(np.float32)
    if neuron is None:
        neuron = LIF(
            np.array([1e-3, 2e-3, 5e-4, 3e-3, 1e-3]),
            np.array([1.0, 2.0, 0.5, 1.0, 1.5]),
            np.zeros(5),
            np.full(5, 0.5),
        )
    return Graph(
        {"input": Input((6,)), "fc": Affine(w, b), "lif": neuron, "output": Output()},
        [("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


def stateful_graph(seed: int = 9) -> Graph:
    """Every stateful primitive but LIF/IF in one graph of 4-neuron layers (input ``in``):

    ``in -> w (Affine) -> d (Delay, 0..5 steps) -> cuba (CubaLIF) -> li (LI) -> th (Threshold)
    -> sc (Scale) -> out``, a recurrent loop ``cuba -> loop (Delay) -> lw (Linear) -> cuba``,
    and ``w -> cli (CubaLI) -> i (I) -> out2``. Records no dt (callers give it).
    """
    r = np.random.default_rng(seed)
    n = 4
    nodes = {
        "in": Input((n,)),
        "w": Affine(r.normal(1, 0.5, (n, n)), r.normal(0, 0.2, n)),
        "d": Delay(np.array([0.0, 1e-4, 2e-4, 5e-4])),
        "cuba": CubaLIF(
            np.full(n, 3e-4),
            np.full(n, 1e-3),
            np.full(n, 5.0),
            np.zeros(n),
            np.full(n, 0.5),
            None,
            np.full(n, 2.0),
        ),
        "loop": Delay(np.full(n, 3e-4)),
        "lw": Linear(r.normal(0, 0.5, (n, n))),
        "li": LI(np.full(n, 2e-3), np.ones(n), np.full(n, 0.2)),
        "cli": CubaLI(np.full(n, 1e-3), np.full(n, 1e-3), np.ones(n), np.zeros(n)),
        "i": I(np.full(n, 50.0)),
        "th": Threshold(np.full(n, 0.4)),
        "sc": Scale(np.array([1.0, -2.0, 0.5, 3.0])),
        "out": Output(None),
        "out2": Output(None),
    }
    edges = [
        ("in", "w"),
        ("w", "d"),
        ("d", "cuba"),
        ("cuba", "loop"),
        ("loop", "lw"),
        ("lw", "cuba"),
        ("cuba", "li"),
        ("li", "th"),
        ("th", "sc"),
        ("sc", "out"),
        ("w", "cli"),
        ("cli", "i"),
        ("i", "out2"),
    ]
    return Graph(nodes, edges)
