"""Which plugins are installed: the entry points of the group ``nirhub.backends``.

``importlib.metadata.entry_points`` reads the ``entry_points.txt`` of every installed
distribution (tens of milliseconds with a hundred of them). ``nirhub --help`` needs the list
twice (to know whether plugins may add commands, then to load them), so it is kept for the
process while no folder on ``sys.path`` changes (see :mod:`nirhub.hub.folderstamp`).
"""

from __future__ import annotations

import sys
from typing import Any

from nirhub.hub.folderstamp import now_ns, path_stamps, settled

#: the entry-point group of plugins (also ``nirhub.hub.hookspecs.ENTRY_POINT_GROUP``)
ENTRY_POINT_GROUP = "nirhub.backends"

_READ: dict[str, tuple[tuple[tuple[str, int | None], ...], int, tuple[Any, ...]]] = {}


def plugin_entry_points(group: str = ENTRY_POINT_GROUP) -> tuple[Any, ...]:
    """The ``importlib.metadata.EntryPoint`` objects of ``group`` on the current ``sys.path``."""
    from importlib import metadata

    stamps = path_stamps(sys.path)
    known = _READ.get(group)
    if (
        known is not None
        and known[0] == stamps
        and all(settled(m, known[1]) for _, m in stamps if m is not None)
    ):
        return known[2]
    read_at = now_ns()
    found = tuple(metadata.entry_points(group=group))
    _READ[group] = (stamps, read_at, found)
    return found
