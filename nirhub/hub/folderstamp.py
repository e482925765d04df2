"""Has anything been installed into these folders since we last looked?

Installing, upgrading or removing a distribution adds, replaces or deletes a ``*.dist-info``
folder, which changes the modification time of the ``sys.path`` folder holding it. What was
read from a folder (the distributions' versions, the plugins' entry points) can therefore be
kept while the folder's modification time stays the same, as ``importlib.metadata`` does for
its own folder listings.

File systems keep modification times at a coarse granularity, so a change made in the same
tick as our look would go unnoticed; a folder modified less than :data:`SETTLE_NS` before we
looked is therefore looked at again next time ("racy" entries, as git treats its index).
"""

from __future__ import annotations

import os
import stat as _stat
import time

#: a folder modified this recently (ns) before it was read is read again next time
SETTLE_NS = 2_000_000_000


def stamp(folder: str) -> int | None:
    """The folder's modification time (ns), None if it is not a readable folder."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_mtime_ns if _stat.S_ISDIR(st.st_mode) else None


def settled(mtime_ns: int, read_at_ns: int) -> bool:
    """Can what was read at ``read_at_ns`` from a folder last modified at ``mtime_ns`` be kept
    for as long as the modification time stays the same?"""
    return read_at_ns - mtime_ns > SETTLE_NS


def now_ns() -> int:
    return time.time_ns()


def path_stamps(paths: list[str]) -> tuple[tuple[str, int | None], ...]:
    """``(folder, stamp)`` of every entry of ``paths`` (relative ones made absolute)."""
    out = []
    for entry in paths:
        folder = os.path.abspath(entry or ".")
        out.append((folder, stamp(folder)))
    return tuple(out)
