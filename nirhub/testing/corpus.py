"""The NIR paper's corpus (``tests/data/corpus``), its tasks' inputs, and the checks several
plugins run on it.

The corpus lives in the repository, not in the installed package: these helpers are for tests
run from a checkout (every plugin's test suite is).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BRAILLE_GRAPHS",
    "CORPUS",
    "LIF_TASK_SPIKES",
    "braille_input",
    "check_braille_paper_activity",
    "check_lif_task",
    "lif_task_input",
]

#: the repository's corpus of the NIR paper's graphs (see its MANIFEST.md)
CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "corpus"

#: the steps at which the paper's LIF task spikes (exact solution, dt = 1e-4 s)
LIF_TASK_SPIKES = [460, 510, 710, 760]

#: the paper's Braille RNNs: ``(name, the reset it records, the spikes its hidden layer
#: ``lif1.lif`` fires on the first test sample)``
BRAILLE_GRAPHS = (
    ("braille_noDelay_bias_zero", "zero", 119),
    ("braille_noDelay_noBias_subtract", "subtract", 120),
)


def lif_task_input() -> np.ndarray:
    """The paper's LIF task input (for ``lif/lif_norse.nir``): column 0 of
    ``lif/lif_exact.csv``, ``(1000, 1)`` float64."""
    return np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")[:, :1]


def braille_input() -> np.ndarray:
    """The first Braille test sample (for ``rnn/braille_*.nir``), ``(T, 12)`` float64."""
    return np.load(CORPUS / "rnn" / "derived" / "braille_test0_input.npy").astype(np.float64)


def check_braille_paper_activity(run: Callable[..., Any]) -> None:
    """Braille graph B (``braille_noDelay_noBias_subtract``) was trained with snnTorch's
    ``reset_delay=False`` subtraction: run with that mode ("subtract-guarded") through a
    backend's run hook, its hidden layer fires the paper's recorded snnTorch activity cell for
    cell (118 spikes)."""
    from nirhub.io import read

    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    res = run(graph, braille_input(), 1e-4, reset="subtract-guarded", record=["lif1.lif"])
    spikes = res.recorded["lif1.lif"]["spikes"]
    paper = np.load(CORPUS / "rnn" / "snntorch_activity_noDelay_noBias_subtract.npy")
    assert int((paper.reshape(spikes.shape) != spikes).sum()) == 0
    assert int(spikes.sum()) == 118


def check_lif_task(run: Callable[..., Any], **grid: Sequence[Any]) -> None:
    """The paper's LIF task through a backend's run hook: ``lif/lif_norse.nir`` driven by
    :func:`lif_task_input` at dt = 1e-4 s spikes at :data:`LIF_TASK_SPIKES`, for every
    combination of the keyword options in ``grid`` (e.g. ``method=("euler", "exact")``)."""
    from nirhub.io import read

    graph = read(CORPUS / "lif" / "lif_norse.nir")
    x = lif_task_input()
    for values in itertools.product(*grid.values()):
        options = dict(zip(grid, values, strict=True))
        res = run(graph, x, 1e-4, **options)
        steps = np.flatnonzero(res.outputs["output"][:, 0]).tolist()
        assert steps == LIF_TASK_SPIKES, (options, steps)
