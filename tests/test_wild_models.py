"""Models as users save them (issue 14): a model reference whose framework lives only in a
worker environment is loaded there.

The framework here is the template plugin's ``nirhub_npjson``, installed only in the worker
environment of another Python (``tests/_hubenv.py``), as Sinabs and Lava live only in theirs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _hubenv import PYTHON_VERSION, HubEnv, hub_env

import nirhub
from nirhub.errors import FileFormatError, UsageError
from nirhub.hub.convert import convert
from nirhub.hub.registry import make_registry
from nirhub.hub.workers import add_environment
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture
from nirhub.testing.graphs import primitive_graph

MODEL = """
from nirhub.testing.graphs import primitive_graph
from nirhub_npjson.format import graph_to_model


def build():
    return graph_to_model(primitive_graph("LIF"))
"""


@pytest.fixture(scope="module")
def env() -> HubEnv:
    return hub_env()


@pytest.fixture
def registry(env: HubEnv, nirhub_config):  # noqa: F811
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" != PYTHON_VERSION
    add_environment("other", env.python)
    return make_registry(plugins=False)


def test_reference_is_routed_to_the_environment_of_its_framework(registry, tmp_path: Path):
    # the point: nirhub_npjson is *not* installed here
    with pytest.raises(ModuleNotFoundError):
        __import__("nirhub_npjson")
    model = tmp_path / "model.py"
    model.write_text(MODEL, encoding="utf-8")
    report = convert(f"{model}:build", to="nir", output=tmp_path / "m.nir", registry=registry)
    assert report.source_backend == "npjson"
    assert nirhub.read(tmp_path / "m.nir") == primitive_graph("LIF")


def test_without_that_environment_the_error_says_what_to_do(nirhub_config, tmp_path: Path):  # noqa: F811
    model = tmp_path / "model.py"
    model.write_text(MODEL, encoding="utf-8")
    registry = make_registry(plugins=False)  # no worker environment: no backend knows the module
    with pytest.raises(FileFormatError, match="No module named 'nirhub_npjson'"):
        convert(f"{model}:build", to="nir", output=tmp_path / "m.nir", registry=registry)


def test_a_known_framework_that_is_not_ready_names_from(registry, env: HubEnv, tmp_path: Path):
    model = tmp_path / "model.py"
    model.write_text(MODEL, encoding="utf-8")
    # two environments provide it: nirhub does not guess, it names the backend for --from
    add_environment("second", env.python)
    registry = make_registry(plugins=False)
    with pytest.raises(UsageError) as info:
        convert(f"{model}:build", to="nir", output=tmp_path / "m.nir", registry=registry)
    assert "--from npjson" in str(info.value)
