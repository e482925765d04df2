"""Workers, plugins and environments under attack (issue 17, items 3, 7, 8 and 11).

* a ``json.py`` planted in the working directory must not run inside a worker;
* a worker interpreter that prints without end is stopped (bounded memory); one that hangs
  costs the timeout once, not on every listing;
* a plugin that exits (``SystemExit(0)``), prints or hangs at import cannot silence, corrupt or
  hang ``--help``, ``--version`` and ``list-backends --json``;
* ``env remove`` deletes only a folder nirhub made and can verify.

The worker interpreters are small shell scripts (this interpreter behind a wrapper, or a fake
that prints or sleeps), as in test_hub_worker_cache.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _hubplugins import backend_module, forget_modules, write_distribution
from typer.testing import CliRunner

from nirhub.cli.app import app
from nirhub.errors import BackendUnavailableError
from nirhub.hub import workers
from nirhub.hub.registry import make_registry, reset_default_registry
from nirhub.hub.workers import (
    ENV_MARKER,
    RemoteBackend,
    WorkerError,
    add_environment,
    describe_environment,
    environments,
    remove_environment,
)
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture
from nirhub.testing.graphs import primitive_graph


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _wrapper(folder: Path, log: Path) -> Path:
    """This interpreter, logging each start (a worker environment with nirhub)."""
    return _script(
        folder / "bin" / "python", f"echo start >> '{log}'\nexec '{sys.executable}' \"$@\"\n"
    )


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


# -- item 3: the working directory ----------------------------------------------------------------


def test_a_planted_module_in_the_working_directory_never_runs(
    tmp_path: Path,
    nirhub_config,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = tmp_path / "downloaded-model-repo"
    repo.mkdir()
    marker = tmp_path / "PWNED"
    for module in ("json", "nirhub", "numpy", "h5py"):
        (repo / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    log = tmp_path / "starts.log"
    python = _wrapper(tmp_path / "w", log)
    monkeypatch.chdir(repo)
    env = add_environment("w", python)  # describe, in the worker
    assert _starts(log) == 1
    rows = describe_environment(env, refresh=True)
    assert all(r.status != "broken" for r in rows), [r.reason for r in rows]
    registry = make_registry(plugins=False, environments=False)
    remote = RemoteBackend(registry.descriptor("nir"), env)
    assert remote.check(primitive_graph("LIF")) == []  # an operation, in the worker
    assert _starts(log) == 3
    assert not marker.exists(), "a module of the working directory ran in the worker"


# -- item 7: output and hangs ---------------------------------------------------------------------


def test_a_worker_printing_without_end_is_stopped(
    tmp_path: Path,
    nirhub_config,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "OUTPUT_LIMIT", 4 * 1024 * 1024)
    loud = _script(tmp_path / "loud" / "python", "exec yes nirhub\n")
    env = workers.Environment("loud", loud)
    (row,) = describe_environment(env)
    assert row.status == "broken" and "printed more than 4 MiB" in row.reason
    with pytest.raises(BackendUnavailableError, match="printed more than"):
        add_environment("loud", loud)
    registry = make_registry(plugins=False, environments=False)
    with pytest.raises(WorkerError, match="stopped during check"):
        RemoteBackend(registry.descriptor("nir"), env).check(primitive_graph("LIF"))
    # the same on stderr: kept as a short tail, stopped at the same limit
    noisy = _script(tmp_path / "noisy" / "python", "exec yes nirhub >&2\n")
    (row,) = describe_environment(workers.Environment("noisy", noisy), refresh=True)
    assert row.status == "broken" and "printed more than" in row.reason


def test_a_hanging_worker_costs_the_timeout_once(
    tmp_path: Path,
    nirhub_config,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "DESCRIBE_TIMEOUT", 1.0)
    log = tmp_path / "starts.log"
    slow = _script(tmp_path / "slow" / "python", f"echo start >> '{log}'\nexec sleep 600\n")
    nirhub_config.parent.mkdir(parents=True, exist_ok=True)
    nirhub_config.write_text(json.dumps({"slow": {"python": str(slow)}}))
    rows = [r for r in make_registry(plugins=False).statuses() if r.location == "slow"]
    assert [r.status for r in rows] == ["broken"] and "within 1 s" in rows[0].reason
    assert _starts(log) == 1
    started = time.monotonic()
    rows = [r for r in make_registry(plugins=False).statuses() if r.location == "slow"]
    assert time.monotonic() - started < 1.0, "the failure was not remembered"
    assert _starts(log) == 1 and "remembered" in rows[0].reason
    # --refresh asks again; so does a changed interpreter
    reset_default_registry()
    result = CliRunner().invoke(app, ["list-backends", "--refresh", "--json"])
    assert result.exit_code == 0 and _starts(log) == 2
    later = slow.stat().st_mtime_ns + 10**9
    os.utime(slow, ns=(later, later))
    make_registry(plugins=False).statuses()
    assert _starts(log) == 3
    # an expired failure is asked again
    monkeypatch.setattr(workers, "FAILURE_TTL", 0.0)
    make_registry(plugins=False).statuses()
    assert _starts(log) == 4


# -- item 8: broken plugins -----------------------------------------------------------------------

EXITS = "raise SystemExit(0)\n"
EXITS_IN_HOOK = backend_module("exitinhook").replace(
    "return [B]", "raise SystemExit(0)"
)  # fmt: skip
PRINTS = 'print("hello from a plugin")\n' + backend_module("printer")
HANGS = "import time\ntime.sleep(600)\n"


@pytest.fixture
def bad_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nirhub_config):  # noqa: F811
    """Plugins that exit, exit in their hook, and print at import (no hanging one)."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("NIRHUB_NO_PLUGINS", raising=False)
    monkeypatch.delenv("NIRHUB_PLUGINS", raising=False)
    for dist, module, source in (
        ("nirhub-exits", "plugin_exits", EXITS),
        ("nirhub-exitinhook", "plugin_exitinhook", EXITS_IN_HOOK),
        ("nirhub-printer", "plugin_printer", PRINTS),
    ):
        write_distribution(site, dist, entry_points={module[7:]: module}, modules={module: source})
    reset_default_registry()
    yield site
    reset_default_registry()
    for module in ("plugin_exits", "plugin_exitinhook", "plugin_printer"):
        forget_modules(module)


def _invoke(args: list[str]):
    reset_default_registry()
    return CliRunner().invoke(app, args, prog_name="nirhub", catch_exceptions=False)


def test_plugins_that_exit_or_print_cannot_silence_the_hub(bad_site: Path) -> None:
    result = _invoke(["list-backends", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["backends"]}
    assert rows["printer"]["status"] == "ok"
    broken = [r for r in rows.values() if "SystemExit" in (r.get("reason") or "")]
    assert len(broken) == 2 and all(r["status"] == "broken" for r in broken), rows
    assert "hello from a plugin" in result.stderr
    table = _invoke(["list-backends"])
    assert table.exit_code == 0 and "SystemExit" in table.stdout
    version = _invoke(["--version"])
    assert version.exit_code == 0 and "nirhub-exits" in version.stdout
    helped = _invoke(["--help"])
    assert helped.exit_code == 0 and "list-backends" in helped.stdout


def _run_cli(args: list[str], site: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *[p for p in sys.path if p]])
    env["NIRHUB_CONFIG"] = str(tmp_path / "environments.json")
    env.pop("NIRHUB_NO_PLUGINS", None)
    env.pop("NIRHUB_PLUGINS", None)
    code = f"import sys\nsys.argv = ['nirhub', *{args!r}]\nfrom nirhub.cli import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )


def test_a_plugin_hanging_at_import_does_not_hang_help_or_version(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_distribution(
        site,
        "nirhub-hangs",
        entry_points={"hangs": "plugin_hangs"},
        modules={"plugin_hangs": HANGS},
    )
    helped = _run_cli(["--help"], site, tmp_path)
    assert helped.returncode == 0 and "convert" in helped.stdout
    version = _run_cli(["--version"], site, tmp_path)
    assert version.returncode == 0 and "nirhub-hangs" in version.stdout
    validated = _run_cli(["validate", str(_corpus_file())], site, tmp_path)
    assert validated.returncode == 0, validated.stderr


def _corpus_file() -> Path:
    return Path(__file__).parent / "data" / "corpus" / "lif" / "lif_norse.nir"


# -- item 11: env remove --------------------------------------------------------------------------


def _fake_venv(folder: Path, token: str | None) -> Path:
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\n")
    python = _wrapper(folder, folder / "log")
    if token is not None:
        (folder / ENV_MARKER).write_text(json.dumps({"name": "x", "token": token}))
    return python


def test_env_remove_deletes_only_what_nirhub_made(tmp_path: Path, nirhub_config) -> None:  # noqa: F811
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    made = tmp_path / "made"
    made_python = _fake_venv(made, "t0k3n")
    foreign = tmp_path / "foreign-venv"
    foreign_python = _fake_venv(foreign, None)
    nirhub_config.parent.mkdir(parents=True, exist_ok=True)
    nirhub_config.write_text(
        json.dumps(
            {
                # hand-edited: "created" next to folders nirhub never made
                "home": {"python": sys.executable, "created": True, "path": str(precious)},
                "venv": {"python": str(foreign_python), "created": True, "path": str(foreign)},
                "stolen": {
                    "python": str(foreign_python),
                    "created": True,
                    "path": str(foreign),
                    "marker": "guess",
                },
                "made": {
                    "python": str(made_python),
                    "created": True,
                    "path": str(made),
                    "marker": "t0k3n",
                },
            }
        )
    )
    for name in ("home", "venv", "stolen"):
        result = CliRunner().invoke(app, ["env", "remove", name])
        assert result.exit_code == 0 and "kept its folder" in result.stderr, result.output
    assert (precious / "thesis.tex").read_text() == "years of work" and foreign.is_dir()
    removed = remove_environment("made")
    assert removed.extra["deleted"] is True and not made.exists()
    assert environments() == {}
