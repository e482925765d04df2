"""Shared helpers of the Speck plugin tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: the NIR paper's corpus, inside the repository (plugins/nirhub-speck/tests -> repo root)
CORPUS = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus"
CNN = CORPUS / "cnn" / "cnn_sinabs.nir"


@pytest.fixture(scope="session")
def cnn_graph():
    from nirhub import read

    return read(CNN)


@pytest.fixture(scope="session")
def events() -> np.ndarray:
    """Synthetic DVS-like input for the paper CNN: Poisson event counts, (T=40, 2, 34, 34)."""
    return np.random.default_rng(4).poisson(0.15, size=(40, 2, 34, 34)).astype(np.float64)
