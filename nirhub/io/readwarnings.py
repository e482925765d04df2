"""What a tolerant read reports: :class:`ReadWarning`, and where in the file a problem is.

Shared by the reader (:mod:`nirhub.io.reader`) and the repairs (:mod:`nirhub.io.repair`),
which the reader calls; keeping them here lets the two modules import without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from nirhub.errors import Problem

__all__ = ["ReadWarning", "problem_location"]


@dataclass(frozen=True)
class ReadWarning:
    """One problem a tolerant read found, and what the reader did about it."""

    #: HDF5 path inside the file (``/node/nodes/lif1/edges``)
    location: str
    #: what is wrong
    message: str
    #: what the reader assumed or did instead
    assumed: str
    #: short category: ``unknown-field``, ``dangling-edge``, ``shape-replaced``, ...
    kind: str = "invalid"
    #: dotted node path, when the warning is about one node
    node: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}; {self.assumed}"


def problem_location(problem: Problem, locations: dict[str, str]) -> str:
    """The HDF5 path a graph problem refers to (best effort)."""
    where = "" if problem.where == "<graph>" else problem.where
    if problem.kind in ("dangling-edge", "duplicate-edge") and where in locations:
        return locations[where] + "/edges"
    if where in locations:
        loc = locations[where]
        return f"{loc}/{problem.field}" if problem.field else loc
    # a dotted path not registered verbatim: the longest known prefix (only the lengths of
    # known paths are tried: a path of many dots must not cost a join per dot)
    for n in sorted({len(k) for k in locations}, reverse=True):
        if 0 < n < len(where) and where[n] == "." and where[:n] in locations:
            return locations[where[:n]]
    return locations.get("", "/node")
