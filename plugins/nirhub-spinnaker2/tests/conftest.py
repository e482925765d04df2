"""Shared helpers of the spinnaker2 plugin tests."""

from __future__ import annotations

from nirhub.testing.corpus import CORPUS

RNN = CORPUS / "rnn"
DT = 1e-4
#: the Braille graphs and the reset the paper converted each with (the files do not store it)
BRAILLE = {"noBias_subtract": "subtract", "bias_zero": "zero"}
