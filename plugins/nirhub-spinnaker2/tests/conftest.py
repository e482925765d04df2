"""Shared helpers of the spinnaker2 plugin tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: the repository root (plugins/nirhub-spinnaker2/tests -> repo)
ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "data" / "corpus"
RNN = CORPUS / "rnn"
DT = 1e-4
#: the Braille graphs and the reset the paper converted each with (the files do not store it)
BRAILLE = {"noBias_subtract": "subtract", "bias_zero": "zero"}


@pytest.fixture(scope="session")
def braille_input() -> np.ndarray:
    return np.load(RNN / "derived" / "braille_test0_input.npy").astype(np.float64)
