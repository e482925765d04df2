"""Shared helpers of the spyx plugin tests."""

from __future__ import annotations

import os
from pathlib import Path

# XLA's CPU compiler dominates these tests' time (every model is compiled once); its lowest
# optimisation level halves it and computes the same float operations (less fusion)
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import numpy as np
import pytest

#: the NIR paper's corpus, inside the repository (plugins/nirhub-spyx/tests -> repo root)
CORPUS = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


def lif_task_input() -> np.ndarray:
    """Column 0 of ``lif_exact.csv``: the paper's LIF task input, (1000, 1)."""
    return np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")[:, :1]


def braille_input() -> np.ndarray:
    return np.load(CORPUS / "rnn" / "derived" / "braille_test0_input.npy").astype(np.float64)


def spikes_in(shape: tuple[int, ...], steps: int, p: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, *shape)) < p).astype(np.float64)
