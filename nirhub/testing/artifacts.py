"""Running a saved artifact the way its users will: in a fresh interpreter.

A backend's artifact (generated source and weights) must work without nirhub; a test proves it
by running a small script in a new Python process, where the script blocks ``import nirhub``
itself (``sys.modules["nirhub"] = None``), and comparing what it wrote with the model nirhub
built.
"""

from __future__ import annotations

import subprocess
import sys

__all__ = ["run_script"]


def run_script(source: str, *args: str, timeout: float = 300) -> str:
    """Run ``source`` with ``python -c`` (``sys.argv[1:]`` = ``args``) in this interpreter's
    environment; fail the test with the end of its stderr unless it exits 0. Returns stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", source, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout
