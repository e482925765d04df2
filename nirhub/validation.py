"""Check a ``.nir`` file and report *every* problem at once (the API of ``nirhub validate``).

Two modes, matching :func:`nirhub.read`:

* strict (default): the file is valid when a strict read accepts it. Every problem is listed,
  together with what a tolerant read would do about it (repair, ignore, or keep as invalid).
* tolerant: the file is valid when a tolerant read, after its repairs, yields a valid graph;
  the repairs are listed separately so nothing is silently accepted.

A file that cannot be read at all (not HDF5, unknown node type, over the size limits) is one
problem; a path that does not exist raises :class:`~nirhub.errors.UsageError` (exit code 2,
as everywhere in the command line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from nirhub.errors import FileFormatError, Problem, UsageError


@dataclass(frozen=True)
class Finding:
    """One problem in a file: where (HDF5 path), what, and what a tolerant read does."""

    where: str
    message: str
    kind: str = "invalid"
    #: dotted node path, when the problem is about one node
    node: str | None = None
    #: what a tolerant read assumes or repairs (None when it cannot read past it)
    tolerant_action: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "message": self.message,
            "kind": self.kind,
            "node": self.node,
            "tolerant_action": self.tolerant_action,
        }


@dataclass
class ValidationReport:
    path: str
    mode: str  # "strict" | "tolerant"
    problems: list[Finding] = field(default_factory=list)
    #: tolerant mode: what was repaired or ignored so that the file could be accepted
    repaired: list[Finding] = field(default_factory=list)
    file_version: str | None = None
    nodes: int = 0
    edges: int = 0

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "mode": self.mode,
            "valid": self.valid,
            "file_version": self.file_version,
            "nodes": self.nodes,
            "edges": self.edges,
            "problems": [p.to_json() for p in self.problems],
            "repaired": [p.to_json() for p in self.repaired],
        }


def validate_file(path: str | os.PathLike[str], *, tolerant: bool = False) -> ValidationReport:
    """Validate a ``.nir`` file; see the module docstring for the two modes."""
    from nirhub.io import read

    name = os.fspath(path)
    mode = "tolerant" if tolerant else "strict"
    if not os.path.exists(name):
        raise UsageError(f"{name}: no such file", hint="Check the path.")
    try:
        result = read(name, strict=False)
    except FileFormatError as exc:
        where = exc.location or name
        message = exc.message
        prefix = f"{exc.path}:{exc.location}: " if exc.location else f"{exc.path}: "
        if exc.path is not None and message.startswith(prefix):
            message = message[len(prefix) :]
        return ValidationReport(name, mode, [Finding(where, message, "unreadable")])

    graph = result.graph
    remaining: list[Problem] = graph.problems()
    remaining_text = {str(p) for p in remaining}
    report = ValidationReport(
        name,
        mode,
        file_version=result.version,
        nodes=sum(1 for _ in graph.walk()),
        edges=_count_edges(graph),
    )
    for warning in result.warnings:
        finding = Finding(
            warning.location, warning.message, warning.kind, warning.node, warning.assumed
        )
        if warning.message in remaining_text:
            # tolerant reading could not fix it: a problem in both modes
            report.problems.append(
                Finding(warning.location, warning.message, warning.kind, warning.node, None)
            )
        elif tolerant:
            report.repaired.append(finding)
        else:
            report.problems.append(finding)
    reported = {p.message for p in report.problems}
    for problem in remaining:  # defensive: a problem the reader did not list as a warning
        if str(problem) not in reported:
            report.problems.append(
                Finding(problem.where, problem.message, problem.kind, problem.where, None)
            )
    return report


def _count_edges(graph: Any) -> int:
    from nirhub.ir.graph import Graph

    graphs = [graph, *(node for _, node in graph.walk() if isinstance(node, Graph))]
    return sum(len(g.edges) for g in graphs)
