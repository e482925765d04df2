"""The cache of what worker environments provide: ``list-backends`` does not start every
worker interpreter each time, yet notices a plugin installed there.

The worker here is this very interpreter behind a small wrapper script (which logs each start
and puts a folder of test distributions on the worker's path), so every description is a real
``python -m nirhub.hub.worker describe`` of a second process, at a fraction of the cost of the
cross-version environment of test_workers.py.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from _hubplugins import backend_module, write_distribution
from typer.testing import CliRunner

from nirhub.cli.app import app
from nirhub.hub.registry import make_registry, reset_default_registry
from nirhub.hub.workers import (
    add_environment,
    cache_path,
    describe_environment,
    environments,
    remove_environment,
)
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture


class Worker:
    """A wrapper interpreter: ``log`` gets one line per start; ``site`` is on its path."""

    def __init__(self, folder: Path) -> None:
        self.site = folder / "site"
        self.site.mkdir(parents=True)
        self.log = folder / "starts.log"
        self.python = folder / "bin" / "python"
        self.python.parent.mkdir()
        self.python.write_text(
            "#!/bin/sh\n"
            f"echo start >> '{self.log}'\n"
            f"PYTHONPATH='{self.site}' exec '{sys.executable}' \"$@\"\n"
        )
        self.python.chmod(self.python.stat().st_mode | stat.S_IXUSR)

    #: the backends the worker provides before the test installs anything
    baseline: set[str] = set()

    @property
    def starts(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


@pytest.fixture
def worker(tmp_path: Path, nirhub_config) -> Worker:  # noqa: F811
    w = Worker(tmp_path / "worker")
    env = add_environment("w", w.python)  # asks the worker (always) and caches the answer
    assert w.starts == 1
    # what this interpreter provides anyway (the plugins installed with the tests, if any)
    w.baseline = {r.name for r in describe_environment(env)}
    assert w.starts == 1, "a fresh cache entry must not start the worker"
    w.log.unlink()
    return w


def remote_rows(registry, worker: Worker) -> dict[str, Any]:
    """The worker's backends besides the baseline ones."""
    return {
        r.name: r
        for r in registry.statuses()
        if r.location == "w" and r.name not in worker.baseline
    }


def install_plugin(worker: Worker, name: str) -> None:
    module = f"late_plugin_{name}"
    write_distribution(
        worker.site,
        f"nirhub-{name}",
        entry_points={name: module},
        modules={module: backend_module(name)},
    )


def test_listing_uses_the_cache_until_something_is_installed(worker: Worker) -> None:
    assert remote_rows(make_registry(plugins=False), worker) == {}  # nothing installed yet
    assert worker.starts == 0
    entry = json.loads(cache_path().read_text())["environments"][str(worker.python)]
    assert str(worker.site) in entry["paths"] and entry["fingerprint"]

    install_plugin(worker, "late")  # pip install in the worker environment
    rows = remote_rows(make_registry(plugins=False), worker)
    assert worker.starts == 1 and rows["late"].status == "ok"
    assert rows["late"].distribution == "nirhub-late"
    registry = make_registry(plugins=False)
    assert remote_rows(registry, worker).keys() == {"late"} and worker.starts == 1
    assert registry.get("late").environment.name == "w"  # the proxy, from the cached descriptor

    # an upgrade in place rewrites the dist-info folder: its modification time changes
    info = worker.site / "nirhub_late-1.0.dist-info"
    later = info.stat().st_mtime_ns + 10**9
    os.utime(info, ns=(later, later))
    remote_rows(make_registry(plugins=False), worker)
    assert worker.starts == 2


def test_refresh_asks_again(worker: Worker) -> None:
    registry = make_registry(plugins=False)
    remote_rows(registry, worker)
    assert worker.starts == 0
    registry.refresh_environments()
    remote_rows(registry, worker)
    assert worker.starts == 1
    rows = describe_environment(environments()["w"], refresh=True)
    assert {r.name for r in rows} == worker.baseline and worker.starts == 2


def test_cli_refresh(worker: Worker, tmp_path: Path) -> None:
    env = {"NIRHUB_NO_PLUGINS": None, "NIRHUB_PLUGINS": None, "NO_COLOR": "1"}

    def run(*args: str):
        reset_default_registry()
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

    assert run("list-backends").exit_code == 0 and worker.starts == 0
    assert run("list-backends", "--refresh").exit_code == 0 and worker.starts == 1
    install_plugin(worker, "clinew")
    result = run("env", "refresh", "--json")
    assert result.exit_code == 0 and worker.starts == 2
    (doc,) = json.loads(result.stdout)["environments"]
    assert doc["name"] == "w"
    assert {r["name"] for r in doc["backends"]} == worker.baseline | {"clinew"}
    text = run("env", "refresh").stdout
    assert text.startswith("w\t") and "clinew (ok)" in text and worker.starts == 3
    unknown = run("env", "refresh", "nope")
    assert unknown.exit_code == 2 and "no environment named 'nope'" in unknown.stderr
    listed = run("list-backends")
    assert "clinew" in listed.stdout and worker.starts == 3


def test_a_damaged_or_stale_cache_is_never_trusted(worker: Worker) -> None:
    cache_path().write_text("{not json")
    remote_rows(make_registry(plugins=False), worker)
    assert worker.starts == 1  # asked, and the cache is written anew
    assert json.loads(cache_path().read_text())["format"] == 1
    remote_rows(make_registry(plugins=False), worker)
    assert worker.starts == 1
    # a deleted interpreter is reported as such, whatever the cache says
    worker.python.unlink()
    rows = remote_rows(make_registry(plugins=False), worker)
    assert rows["w"].status == "broken" and "does not exist" in rows["w"].reason
    # removing the environment forgets its cache entry
    remove_environment("w")
    assert str(worker.python) not in json.loads(cache_path().read_text())["environments"]
