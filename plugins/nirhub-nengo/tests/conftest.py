"""Shared helpers of the nengo plugin tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

#: the NIR paper's corpus, inside the repository (plugins/nirhub-nengo/tests -> repo root)
CORPUS = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus"


@pytest.fixture(autouse=True)
def _quiet_nengo() -> None:
    """nengo 4.1 reports numpy 2 deprecations at import; they are not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import nengo  # noqa: F401


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


def lif_task_input() -> np.ndarray:
    """Column 0 of ``lif_exact.csv``: the paper's LIF task input, (1000, 1)."""
    return np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")[:, :1]


def braille_input() -> np.ndarray:
    return np.load(CORPUS / "rnn" / "derived" / "braille_test0_input.npy").astype(np.float64)
