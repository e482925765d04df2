"""Small networks and inputs that the importers' agreement tests share.

Each graph is small enough to run in a few hundred steps on any backend and driven hard enough
(by :func:`spike_train`) that its neurons spike, so a wrong threshold, time constant, reset or
delay shows up as differing spikes:

* :func:`mlp_graph`: ``Input(6) -> Affine -> LIF(10) -> Affine -> LIF(4)``, parameters per
  neuron;
* :func:`if_graph`: ``Input(5) -> Affine -> IF(8) -> Affine -> IF(3)``;
* :func:`stateful_graph`: Delay, Threshold, LI, CubaLI, I and a recurrent Delay loop around a
  CubaLIF in one graph, two outputs.

:func:`assert_same_run` compares a backend's run with the reference simulator's: spikes
identical, everything else within a stated tolerance.

:func:`paper_corpus` finds the NIR paper's corpus (``tests/data/corpus`` of the repository)
from a test file; :func:`lif_task_input` and :func:`braille_input` are inputs of two of its
tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nirhub.ir.conventions import set_dt
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
    Output,
    Scale,
    Threshold,
)

__all__ = [
    "assert_same_run",
    "braille_input",
    "if_graph",
    "lif_task_input",
    "mlp_graph",
    "paper_corpus",
    "spike_train",
    "stateful_graph",
]

#: the time step the graphs record (seconds)
DT = 1e-4


def spike_train(shape: tuple[int, ...], steps: int, p: float, seed: int = 0) -> np.ndarray:
    """``(steps, *shape)`` float64 spikes (0 or 1), each present with probability ``p``."""
    return (np.random.default_rng(seed).random((steps, *shape)) < p).astype(np.float64)


def mlp_graph(seed: int = 0) -> Graph:
    """Input(6) -> Affine -> LIF(10) -> Affine -> LIF(4), per-neuron parameters; dt 1e-4."""
    r = np.random.default_rng(seed)
    graph = Graph.from_list(
        Affine(r.normal(0.8, 0.6, (10, 6)), r.normal(0, 0.1, 10)),
        LIF(
            r.uniform(1e-3, 5e-3, 10),
            r.uniform(0.8, 1.5, 10),
            r.normal(0, 0.05, 10),
            r.uniform(0.5, 1.0, 10),
            np.zeros(10),
        ),
        Affine(r.normal(0.5, 0.5, (4, 10)), np.zeros(4)),
        LIF(np.full(4, 2e-3), np.ones(4), np.zeros(4), np.full(4, 0.3), np.zeros(4)),
    )
    set_dt(graph.metadata, DT)
    return graph


def if_graph(seed: int = 1) -> Graph:
    """Input(5) -> Affine -> IF(8) -> Affine -> IF(3); dt 1e-4."""
    r = np.random.default_rng(seed)
    graph = Graph.from_list(
        Affine(r.normal(0.5, 1.0, (8, 5)), r.normal(0, 0.1, 8)),
        IF(np.full(8, 2000.0), r.uniform(0.5, 1.5, 8)),
        Affine(r.normal(0.5, 1.0, (3, 8)), np.zeros(3)),
        IF(np.full(3, 1000.0), np.ones(3), np.zeros(3)),
    )
    set_dt(graph.metadata, DT)
    return graph


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


def assert_same_run(
    ref: Any,
    res: Any,
    *,
    tol: float,
    record: tuple[str, ...] = (),
    output_tol: float | None = None,
) -> None:
    """``res`` (a backend's :class:`~nirhub.sim.SimulationResult`) reproduces ``ref`` (the
    reference simulator's): outputs of spikes (only 0 and 1) and recorded spikes identical,
    other outputs within ``output_tol`` (default ``tol``; 0: identical) and recorded variables
    of the nodes in ``record`` within ``tol`` (relative and absolute)."""
    out_tol = tol if output_tol is None else output_tol
    for name, a in ref.outputs.items():
        b = np.asarray(res.outputs[name])
        assert a.shape == b.shape, f"{name}: shape {a.shape} became {b.shape}"
        if np.isin(a, (0.0, 1.0)).all():  # spikes: identical
            assert np.count_nonzero(a != b) == 0, f"{name}: spikes differ"
        else:
            np.testing.assert_allclose(b, a, rtol=out_tol, atol=out_tol, err_msg=name)
    for path in record:
        for var, a in ref.recorded[path].items():
            b = np.asarray(res.recorded[path][var])
            if var == "spikes":
                assert np.array_equal(a, b), f"{path}.spikes differ"
            else:
                np.testing.assert_allclose(b, a, rtol=tol, atol=tol, err_msg=f"{path}.{var}")


def paper_corpus(start: str | Path) -> Path:
    """The repository's ``tests/data/corpus`` above ``start`` (e.g. a test's ``__file__``)."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        corpus = folder / "tests" / "data" / "corpus"
        if corpus.is_dir():
            return corpus
    raise FileNotFoundError(f"no tests/data/corpus above {here} (run from a nirhub checkout)")


def lif_task_input(corpus: Path) -> np.ndarray:
    """Column 0 of ``lif/lif_exact.csv``: the paper's LIF task input, (1000, 1)."""
    return np.loadtxt(corpus / "lif" / "lif_exact.csv", delimiter=",")[:, :1]


def braille_input(corpus: Path) -> np.ndarray:
    """The first Braille test sample, ``(T, 12)`` float64."""
    return np.load(corpus / "rnn" / "derived" / "braille_test0_input.npy").astype(np.float64)
