"""pytest fixtures for nirhub and its plugins.

Opt in from a ``conftest.py``::

    pytest_plugins = ["nirhub.testing.fixtures"]

Fixtures:

``nirhub_config``
    points ``NIRHUB_CONFIG`` and ``NIRHUB_ENVS_DIR`` into the test's temporary folder, so no
    test reads or writes the user's worker environments.
``nirhub_registry``
    an isolated registry: built-ins only, no installed plugins, no worker environments.
``make_nirhub_registry``
    a factory: ``make_nirhub_registry(plugin_module, ..., installed=False)``.
``primitive_graph``
    parametrized over every NIR primitive (``request.param`` is the type name); the value is
    a small valid graph ``Input -> node -> Output``.
``primitive_graphs``
    all of them, as a dict keyed by type name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nirhub.hub.registry import Registry
from nirhub.ir.graph import Graph
from nirhub.testing import isolated_registry
from nirhub.testing.graphs import PRIMITIVES
from nirhub.testing.graphs import primitive_graph as _primitive_graph
from nirhub.testing.graphs import primitive_graphs as _primitive_graphs


@pytest.fixture
def nirhub_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The (empty) environments file of this test; returned as a path."""
    config = tmp_path / "nirhub-config" / "environments.json"
    monkeypatch.setenv("NIRHUB_CONFIG", str(config))
    monkeypatch.setenv("NIRHUB_ENVS_DIR", str(tmp_path / "nirhub-envs"))
    monkeypatch.delenv("NIRHUB_NO_PLUGINS", raising=False)
    monkeypatch.delenv("NIRHUB_PLUGINS", raising=False)
    return config


@pytest.fixture
def nirhub_registry(nirhub_config: Path) -> Registry:
    return isolated_registry()


@pytest.fixture
def make_nirhub_registry(nirhub_config: Path) -> Callable[..., Registry]:
    def make(*plugins: Any, installed: bool = False) -> Registry:
        return isolated_registry(*plugins, installed=installed)

    return make


@pytest.fixture(params=PRIMITIVES)
def primitive_graph(request: pytest.FixtureRequest) -> Graph:
    return _primitive_graph(request.param)


@pytest.fixture
def primitive_graphs() -> dict[str, Graph]:
    return _primitive_graphs()
