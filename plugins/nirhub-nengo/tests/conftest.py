"""Shared helpers of the nengo plugin tests (the networks and inputs they share with other
plugins' tests are in :mod:`nirhub.testing.networks`)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from nirhub.testing.networks import paper_corpus

#: the NIR paper's corpus, inside the repository
CORPUS = paper_corpus(__file__)


@pytest.fixture(autouse=True)
def _quiet_nengo() -> None:
    """nengo 4.1 reports numpy 2 deprecations at import; they are not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import nengo  # noqa: F401


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS
