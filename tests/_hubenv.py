"""A second Python environment with this nirhub and the template plugin, built for real.

It runs Python 3.10, or 3.11 when the tests themselves run on 3.10, so that the worker tests
always cross interpreters. Used by ``test_template_plugin.py`` (entry-point discovery in a
fresh environment) and ``test_workers.py`` (this process reaching a backend in the other
one). Building takes about a minute: the template is built as a wheel with ``pip wheel`` and
the environment is made by ``nirhub.hub.workers.create_environment`` (venv + ``pip install``
of this source tree, the wheel and pytest). It is cached under
``~/.cache/nirhub-test-envs/hub-py3XX-<hash>`` (override the folder with ``NIRHUB_TEST_ENVS``),
keyed by a hash of nirhub's sources and the template, so an edit rebuilds it; a lock file makes
concurrent sessions wait for one build.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from _nirvenv import envs_root

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "plugins" / "_template"
#: the other interpreter's version
PYTHON_VERSION = "3.11" if sys.version_info[:2] == (3, 10) else "3.10"
_READY = "nirhub-hubenv-ready"


@dataclass(frozen=True)
class HubEnv:
    folder: Path
    python: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.python.parent


def _sources() -> list[Path]:
    files = [REPO / "pyproject.toml"]
    files += sorted((REPO / "nirhub").rglob("*.py"))
    files += sorted(
        p
        for p in TEMPLATE.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and ".egg-info" not in str(p)
        and "build" not in p.relative_to(TEMPLATE).parts
    )
    return files


def source_hash() -> str:
    h = hashlib.sha256()
    for path in _sources():
        h.update(str(path.relative_to(REPO)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def hub_env() -> HubEnv:
    """The environment for the current sources (built on first use)."""
    root = envs_root()
    root.mkdir(parents=True, exist_ok=True)
    key = source_hash()
    folder = root / f"hub-py{PYTHON_VERSION.replace('.', '')}-{key}"
    wheels = root / f"{folder.name}-wheels"
    with open(root / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / _READY).is_file():
            _build(folder, wheels)
        _forget_old(root, folder)
    wheel = next(wheels.glob("nirhub_npjson-*.whl"))
    return HubEnv(folder, folder / "bin" / "python", wheel)


def _build(folder: Path, wheels: Path) -> None:
    from nirhub.hub.workers import create_environment

    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(wheels, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(wheels),
            str(TEMPLATE),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheels.glob("nirhub_npjson-*.whl"))
    with pytest.MonkeyPatch.context() as mp:
        # build without touching the user's environments file
        mp.setenv("NIRHUB_CONFIG", str(folder.parent / f".{folder.name}.config.json"))
        create_environment(
            "hubtest", PYTHON_VERSION, plugins=[str(wheel), "pytest"], path=folder, force=True
        )
    (folder / _READY).write_text(time.strftime("%Y-%m-%d %H:%M:%S"))


def _forget_old(root: Path, keep: Path, max_age: float = 3600.0) -> None:
    """Delete environments of older sources (unused for an hour)."""
    prefix = keep.name.rsplit("-", 1)[0] + "-"
    for other in root.glob(prefix + "*"):
        if other.name.startswith(keep.name) or not other.is_dir():
            continue
        marker = other / _READY
        stamp = marker if marker.exists() else other
        if time.time() - stamp.stat().st_mtime > max_age:
            shutil.rmtree(other, ignore_errors=True)


def clean_env() -> dict[str, str]:
    """The environment variables for running the 3.10 environment's programs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIRHUB_", "PYTHON"))}
    env["PATH"] = os.environ.get("PATH", "")
    return env
