"""Backends in another interpreter: this process drives the npjson backend installed only in
an environment of another Python version (3.10, or 3.11 when the tests run on 3.10), through
``python -m nirhub.hub.worker``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from _hubenv import PYTHON_VERSION, HubEnv, hub_env

import nirhub
from nirhub.errors import (
    BackendUnavailableError,
    FileFormatError,
    RefusedError,
    UnsupportedError,
    UsageError,
)
from nirhub.hub.convert import convert, simulate_with_backend, to_ir
from nirhub.hub.registry import make_registry
from nirhub.hub.workers import (
    RemoteBackend,
    add_environment,
    create_environment,
    environments,
    find_python,
    remove_environment,
)
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture
from nirhub.testing.graphs import DT, primitive_graph, random_inputs


@pytest.fixture(scope="module")
def env() -> HubEnv:
    return hub_env()


@pytest.fixture
def registry(env: HubEnv, nirhub_config):  # noqa: F811
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert here != PYTHON_VERSION, "the worker must be another Python"
    add_environment("other", env.python)
    return make_registry(plugins=False)


def test_remote_backend_is_listed_with_its_location(registry) -> None:
    rows = {(r.name, r.location): r for r in registry.statuses()}
    row = rows[("npjson", "other")]
    assert row.status == "ok" and row.distribution == "nirhub-npjson"
    assert row.descriptor is not None and "Delay" not in row.descriptor.from_ir
    assert rows[("nir", "local")].status == "ok"
    assert ("nir", "other") not in rows  # the worker's built-ins are not repeated
    backend = registry.get("npjson")
    assert isinstance(backend, RemoteBackend) and backend.environment.name == "other"
    assert registry.get("numpy-json@other") is backend
    json.dumps([r.to_json() for r in registry.statuses()])


@pytest.mark.parametrize("type_name", ["LIF", "Conv2d", "NIRGraph"])
def test_convert_there_and_back(registry, tmp_path: Path, type_name: str) -> None:
    graph = primitive_graph(type_name)
    src = tmp_path / "m.nir"
    nirhub.write(graph, src)
    report = convert(src, to="npjson", output=tmp_path / "m.npjson", registry=registry)
    assert report.outputs == [tmp_path / "m.npjson", tmp_path / "m.npz"]
    assert report.report["arrays"] > 0
    back = convert(tmp_path / "m.npjson", to="nir", output=tmp_path / "back.nir", registry=registry)
    assert back.source_backend == "npjson"
    assert nirhub.read(tmp_path / "back.nir") == graph


def test_simulate_in_the_worker(registry) -> None:
    graph = primitive_graph("NIRGraph")
    inputs = random_inputs(graph, steps=40)
    remote = simulate_with_backend(
        graph, inputs, DT, "npjson", record=["sub.lif"], registry=registry
    )
    local = nirhub.simulate(graph, inputs, DT, record=["sub.lif"])
    assert remote.steps == 40 and remote.dt == DT
    np.testing.assert_allclose(
        remote.outputs["output"], local.outputs["output"], rtol=1e-12, atol=0
    )
    assert remote.outputs["output"].sum() > 0, "no spikes: the comparison would prove nothing"
    np.testing.assert_allclose(remote.v("sub.lif"), local.v("sub.lif"), rtol=1e-12, atol=1e-15)


def test_errors_come_back_as_nirhub_errors(registry, tmp_path: Path) -> None:
    # refused here, from the remote descriptor, before any worker runs
    with pytest.raises(UnsupportedError, match="Delay is not supported by 'npjson'"):
        convert(
            primitive_graph("Delay"), to="npjson", output=tmp_path / "d.npjson", registry=registry
        )
    # found by the worker's check()
    with pytest.raises(UnsupportedError, match="max_nodes is 2") as info:
        convert(
            primitive_graph("LIF"),
            to="npjson",
            output=tmp_path / "l.npjson",
            options={"max_nodes": "2"},
            registry=registry,
        )
    assert info.value.problems[0].kind == "limit"
    # raised by the plugin's reader in the worker
    bad = tmp_path / "bad.npjson"
    bad.write_text("{not json")
    with pytest.raises(FileFormatError, match="cannot be read as JSON") as info:
        to_ir(bad, registry=registry)
    assert "worker environment 'other'" in str(info.value)
    assert list(tmp_path.glob("*.npz")) == []


def test_environment_management(env: HubEnv, nirhub_config, tmp_path: Path) -> None:  # noqa: F811
    add_environment("w1", env.python)
    with pytest.raises(RefusedError, match="already exists"):
        add_environment("w1", env.python)
    assert environments()["w1"].python == env.python
    assert json.loads(Path(nirhub_config).read_text())["w1"]["python"] == str(env.python)
    with pytest.raises(UsageError, match="must start with"):
        add_environment("bad name", env.python)
    with pytest.raises(BackendUnavailableError, match="cannot run nirhub"):
        add_environment("plain", find_python("3.12"))  # a Python without nirhub
    assert "3.12" not in (PYTHON_VERSION, f"{sys.version_info[0]}.{sys.version_info[1]}")
    assert "plain" not in environments()
    with pytest.raises(RefusedError):
        create_environment("w1", PYTHON_VERSION)
    with pytest.raises(BackendUnavailableError, match="Python 3.99 was not found"):
        create_environment("w2", "3.99")
    removed = remove_environment("w1")
    assert not removed.created and env.python.exists(), "a registered env is never deleted"
    assert environments() == {}


def test_a_dead_environment_is_listed_as_broken(nirhub_config, tmp_path: Path) -> None:  # noqa: F811
    nirhub_config.parent.mkdir(parents=True, exist_ok=True)
    nirhub_config.write_text(json.dumps({"gone": {"python": str(tmp_path / "no" / "python")}}))
    registry = make_registry(plugins=False)
    rows = [r for r in registry.statuses() if r.location == "gone"]
    assert len(rows) == 1 and rows[0].status == "broken"
    assert "does not exist" in rows[0].reason
    with pytest.raises(BackendUnavailableError, match="unknown backend 'npjson'"):
        registry.get("npjson")


def test_descriptions_are_cached_until_the_environment_changes(
    env: HubEnv,
    nirhub_config,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import subprocess

    add_environment("other", env.python)  # asks the worker and caches its answer
    started: list[list[str]] = []
    popen = subprocess.Popen

    def counting(cmd, *args, **kwargs):
        started.append(cmd)
        return popen(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", counting)
    rows = {(r.name, r.location): r for r in make_registry(plugins=False).statuses()}
    assert rows[("npjson", "other")].status == "ok" and started == []
    # an upgrade of the plugin in the worker environment rewrites its dist-info folder
    (info,) = env.folder.glob(f"lib/python{PYTHON_VERSION}/site-packages/nirhub_npjson-*.dist-info")
    before = info.stat()
    os.utime(info, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    try:
        rows = {(r.name, r.location): r for r in make_registry(plugins=False).statuses()}
    finally:
        os.utime(info, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert rows[("npjson", "other")].status == "ok"
    assert [cmd[1:] for cmd in started] == [["-m", "nirhub.hub.worker", "describe"]]
