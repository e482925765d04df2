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


def check_output_folder(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output whose folder is missing or not writable.

    A conversion or a run can take seconds to minutes; finding out afterwards that its
    result cannot be written wastes them (the atomic write still reports what the file
    system says, e.g. an immutable folder that ``os.access`` cannot see).
    """
    from pathlib import Path

    from nirhub.errors import UsageError

    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(
            f"cannot write {target}: the folder {folder} does not exist",
            hint=f"Create it first (mkdir -p {folder}) or choose another -o.",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"cannot write {target}: the folder {folder} is not writable",
            hint="Choose another -o.",
        )
