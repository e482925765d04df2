"""Checks on a backend's artifact as a user gets it: a generated module that runs without
nirhub, and a loader that reads the module without running it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["forbid_running", "run_without_nirhub"]

#: what :func:`forbid_running` inserts: running the module stops with this message
TRAP = "raise SystemExit('this file was executed')"


def run_without_nirhub(code: str, folder: Path, *, timeout: float = 300) -> Any:
    """Run ``code`` in a new interpreter in ``folder`` (which is put on its path, so the
    artifact written there imports by name) with ``nirhub`` made unimportable; return the
    JSON value its last output line prints. Fails the test with the child's error output
    when it exits with an error."""
    env = {**os.environ, "PYTHONPATH": str(folder)}
    prelude = "import sys; sys.modules['nirhub'] = None  # must not be needed\n"
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def forbid_running(path: Path) -> None:
    """Make the module at ``path`` stop at its second line if it is ever executed (the first
    line, a backend's marker, stays): a loader that runs the file instead of reading it fails."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(1, TRAP)
    path.write_text("\n".join(lines), encoding="utf-8")
