"""Shared helpers of the xylo plugin tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nirhub.backend.samna import block_samna_stub

# rockpool probes samna at import; the PyPI samna is a stub that pip-installs software
block_samna_stub()

#: the repository root (plugins/nirhub-xylo/tests -> repo)
ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "data" / "corpus"
RNN = CORPUS / "rnn"
DT = 1e-4


@pytest.fixture(scope="session")
def braille_input() -> np.ndarray:
    return np.load(RNN / "derived" / "braille_test0_input.npy").astype(np.float64)
