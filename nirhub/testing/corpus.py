"""The NIR paper's corpus (``tests/data/corpus``) and the checks several plugins run on it.

The corpus lives in the repository, not in the installed package: these helpers are for tests
run from a checkout (every plugin's test suite is).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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


def braille_task(name: str, corpus: Path = CORPUS) -> tuple[Any, np.ndarray]:
    """The corpus graph ``rnn/<name>.nir`` and the first test sample it is run on."""
    from nirhub.io import read

    return read(corpus / "rnn" / f"{name}.nir"), np.load(
        corpus / "rnn" / "derived" / "braille_test0_input.npy"
    )


def check_braille_paper_activity(run: Callable[..., Any], corpus: Path = CORPUS) -> None:
    """Braille graph B (``braille_noDelay_noBias_subtract``) was trained with snnTorch's
    ``reset_delay=False`` subtraction: run with that mode ("subtract-guarded") through a
    backend's run hook, its hidden layer fires the paper's recorded snnTorch activity cell for
    cell (118 spikes)."""
    graph, x = braille_task("braille_noDelay_noBias_subtract", corpus)
    res = run(graph, x, 1e-4, reset="subtract-guarded", record=["lif1.lif"])
    spikes = res.recorded["lif1.lif"]["spikes"]
    paper = np.load(corpus / "rnn" / "snntorch_activity_noDelay_noBias_subtract.npy")
    assert int((paper.reshape(spikes.shape) != spikes).sum()) == 0
    assert int(spikes.sum()) == 118


def check_lif_task(run: Callable[..., Any], corpus: Path = CORPUS, **grid: Sequence[Any]) -> None:
    """The paper's LIF task through a backend's run hook: ``lif/lif_norse.nir`` driven by
    column 0 of ``lif/lif_exact.csv`` at dt = 1e-4 s spikes at :data:`LIF_TASK_SPIKES`, for
    every combination of the keyword options in ``grid`` (e.g. ``method=("euler", "exact")``).
    """
    from nirhub.io import read

    graph = read(corpus / "lif" / "lif_norse.nir")
    x = np.loadtxt(corpus / "lif" / "lif_exact.csv", delimiter=",")[:, 0:1]
    for values in itertools.product(*grid.values()):
        options = dict(zip(grid, values, strict=True))
        res = run(graph, x, 1e-4, **options)
        steps = np.flatnonzero(res.outputs["output"][:, 0]).tolist()
        assert steps == LIF_TASK_SPIKES, (options, steps)


def run_saved_module(
    script: str, module: Path, x: np.ndarray, folder: Path, *, timeout: float = 120
) -> tuple[np.ndarray, str]:
    """Run ``script`` in a fresh interpreter as ``python -c script module x.npy y.npy`` (the
    script builds the saved model from ``module``, runs it on ``x`` and saves ``y``); return
    ``y`` and the last line the script printed. The script blocks what the saved model must
    not need (``sys.modules["nirhub"] = None``, ...)."""
    np.save(folder / "x.npy", x)
    proc = subprocess.run(
        [sys.executable, "-c", script, str(module), str(folder / "x.npy"), str(folder / "y.npy")],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    return np.load(folder / "y.npy"), lines[-1] if lines else ""
