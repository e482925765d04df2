"""Shared helpers of the xylo plugin tests."""

from __future__ import annotations

from nirhub.backend.samna import block_samna_stub
from nirhub.testing.corpus import CORPUS

# rockpool probes samna at import; the PyPI samna is a stub that pip-installs software
block_samna_stub()

#: the repository root (the corpus is tests/data/corpus)
ROOT = CORPUS.parents[2]
RNN = CORPUS / "rnn"
DT = 1e-4
