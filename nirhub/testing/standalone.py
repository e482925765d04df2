"""Checks on a backend's artifact as a user gets it: generated code that runs without nirhub,
and a loader that reads a module without running it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["forbid_running", "run_without_nirhub"]

#: what :func:`forbid_running` inserts: running the module stops with this message
TRAP = "raise SystemExit('this file was executed')"

#: what :func:`run_without_nirhub` puts before the code it runs
BLOCK_NIRHUB = "import sys; sys.modules['nirhub'] = None  # the artifact must not need nirhub\n"


def run_without_nirhub(
    code: str, *args: object, folder: Path | None = None, timeout: float = 300
) -> str:
    """Run ``code`` with ``python -c`` (``sys.argv[1:]`` = ``args``) in a new interpreter of
    this environment in which ``import nirhub`` fails; return what it printed. ``folder``
    becomes its working directory and is put on its path (an artifact written there imports
    by name). Fails the test with the end of the child's error output unless it exits 0."""
    env = None
    if folder is not None:
        path = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_NIRHUB + code, *map(str, args)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def forbid_running(path: Path) -> None:
    """Make the module at ``path`` stop at its second line if it is ever executed (the first
    line, a backend's marker, stays): a loader that runs the file instead of reading it fails."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(1, TRAP)
    path.write_text("\n".join(lines), encoding="utf-8")
