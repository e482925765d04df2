"""Shared fixtures of the nirhub-lava tests (run with the Python 3.10 env that has lava)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: the NIR paper's corpus, inside the repository (plugins/nirhub-lava/tests -> repo root)
CORPUS = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus"


@pytest.fixture(scope="session")
def registry():
    from nirhub.hub.registry import make_registry

    return make_registry(environments=False)


@pytest.fixture(scope="session")
def lif_task():
    """lif_norse.nir and column 0 of lif_exact.csv (1000 steps, dt = 1e-4)."""
    import nirhub

    graph = nirhub.read(CORPUS / "lif" / "lif_norse.nir")
    x = np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")[:, :1]
    return graph, x


@pytest.fixture(scope="session")
def braille_input():
    return np.load(CORPUS / "rnn" / "derived" / "braille_test0_input.npy")
