"""Small helpers for writing files safely (shared by the io, sim and hub layers)."""

from __future__ import annotations

import os


def set_default_mode(path: str | os.PathLike[str]) -> None:
    """Give a file from ``tempfile.mkstemp`` (mode 0600) the usual 0666-minus-umask mode.

    Atomic writes create a private temporary file and rename it into place; without this the
    user's result files would be readable by their owner only.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
