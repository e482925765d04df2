"""Shared fixtures of the nirhub-lava tests (run with the Python 3.10 env that has lava)."""

from __future__ import annotations

import pytest

from nirhub.testing.corpus import CORPUS, lif_task_input


@pytest.fixture(scope="session")
def registry():
    from nirhub.hub.registry import make_registry

    return make_registry(environments=False)


@pytest.fixture(scope="session")
def lif_task():
    """The paper's LIF task: lif_norse.nir and its input (1000 steps, dt = 1e-4)."""
    import nirhub

    graph = nirhub.read(CORPUS / "lif" / "lif_norse.nir")
    return graph, lif_task_input()
