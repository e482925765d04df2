"""Shared fixtures of the nirhub-torch tests (run them with the torch environment)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest_plugins = ["nirhub.testing.fixtures"]

# The models under test are tiny: one thread avoids the (large) cost of thread hand-offs on
# a shared machine and makes the timings stable.
torch.set_num_threads(1)

#: the repository's corpus of the NIR paper's graphs
CORPUS = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"corpus not found at {CORPUS}"
    return CORPUS
