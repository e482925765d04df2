"""Shared helpers of the Speck plugin tests."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.testing.corpus import CORPUS

CNN = CORPUS / "cnn" / "cnn_sinabs.nir"


@pytest.fixture(scope="session")
def cnn_graph():
    from nirhub import read

    return read(CNN)


@pytest.fixture(scope="session")
def events() -> np.ndarray:
    """Synthetic DVS-like input for the paper CNN: Poisson event counts, (T=40, 2, 34, 34)."""
    return np.random.default_rng(4).poisson(0.15, size=(40, 2, 34, 34)).astype(np.float64)
