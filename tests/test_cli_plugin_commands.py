"""Plugin commands in ``nirhub --help``: listed from the distributions' metadata (entry-point
group ``nirhub.commands``) without importing any plugin; run through the plugin's hook.

The plugin here is a real distribution on disk (a ``.dist-info`` folder with its entry points
and a module), found by ``importlib.metadata`` in a fresh interpreter, as an installed one is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
from pathlib import Path

from nirhub.backend import Backend, BackendDescriptor, hookimpl

Path(__file__).with_name("imported.marker").write_text("imported")


class Greeter(Backend):
    descriptor = BackendDescriptor(name="greeter", kind="format", summary="a test plugin")


def greet(name: str = "world") -> None:
    """Greet someone (a command from a plugin)."""
    print(f"hello {name}")


@hookimpl
def nirhub_backends():
    return [Greeter]


@hookimpl
def nirhub_cli_commands():
    return [("greet", greet)]
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding the distribution ``nirhub-greeter``: its module and its metadata."""
    (tmp_path / "nirhub_greeter.py").write_text(PLUGIN)
    info = tmp_path / "nirhub_greeter-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nirhub-greeter\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [nirhub.backends]
            greeter = nirhub_greeter

            [nirhub.commands]
            greet = nirhub_greeter
            ghost = nirhub_greeter
            """
        )
    )
    return tmp_path


def nirhub(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIRHUB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    return subprocess.run(
        [sys.executable, "-m", "nirhub", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=site,
        timeout=120,
    )


def test_help_lists_declared_commands_without_importing_the_plugin(site: Path) -> None:
    result = nirhub(site, "--help")
    assert result.returncode == 0, result.stderr
    assert "greet" in result.stdout and "From the plugin nirhub-greeter" in result.stdout
    assert not (site / "imported.marker").exists()


def test_a_declared_command_runs_through_the_hook(site: Path) -> None:
    result = nirhub(site, "greet", "--name", "NIR")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello NIR"
    help_text = nirhub(site, "greet", "--help").stdout
    assert "Greet someone" in help_text and "--name" in help_text


def test_a_command_declared_but_not_provided_is_a_usage_error(site: Path) -> None:
    result = nirhub(site, "ghost")
    assert result.returncode == 2
    assert "'ghost' is declared by nirhub-greeter" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_plugins_lists_no_plugin_command(site: Path) -> None:
    result = nirhub(site, "--no-plugins", "--help")
    assert result.returncode == 0
    assert "greet" not in result.stdout
