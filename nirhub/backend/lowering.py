"""Small helpers the code-generating plugins (norse, sinabs, rockpool) share.

Import side: :func:`resolve_dt` and :func:`resolve_method` (the option, else what the graph
records). Export side: :func:`parse_shape` (the ``input_shape`` option), :func:`edge_modules`
and :func:`resolve_skipped` (a model's ``EDGES`` with identity layers dropped). Framework-free;
the execution order itself is :mod:`nirhub.backend.graphplan`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from nirhub.errors import IRError, Problem, UnsupportedError, UsageError
from nirhub.hub.backend import Checked
from nirhub.hub.options import check_dt, missing_dt
from nirhub.ir.conventions import get_dt, namespace
from nirhub.ir.graph import Graph

__all__ = [
    "METHODS",
    "check_by_lowering",
    "edge_modules",
    "export_method",
    "no_equivalent",
    "parse_shape",
    "raise_unsupported",
    "resolve_dt",
    "resolve_method",
    "resolve_skipped",
]

METHODS: tuple[str, ...] = ("euler", "exact")


def resolve_dt(graph: Graph, dt: Any) -> float:
    """The ``dt`` option (seconds), else the graph's recorded ``nirhub.dt``.

    The hub resolves ``dt`` before calling a backend (:mod:`nirhub.hub.options`), so within a
    conversion this returns the value given; it serves direct calls of a backend's methods.
    """
    if dt is None:
        dt = get_dt(graph)
    if dt is None:
        raise missing_dt("the graph")
    return check_dt(dt)


def resolve_method(graph: Graph, method: Any) -> str:
    """The option, else the graph's recorded ``nirhub.method``, else forward Euler."""
    if method is None:
        method = namespace(graph.metadata).get("method", "euler")
        if isinstance(method, bytes):
            method = method.decode()
    if method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return str(method)


def export_method(model: Any, method: Any) -> str:
    """The discretization an exported graph is expressed in: the option, else the one a model
    nirhub generated records (``nir_method``), else ``"exact"``."""
    if method is None:
        method = getattr(model, "nir_method", None) or "exact"
    how = str(method)
    if how not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return how


def check_by_lowering(lower: Callable[[], Any]) -> Checked:
    """A backend's :meth:`~nirhub.hub.backend.Backend.check` for importers that find every
    problem while lowering: run ``lower()`` (framework-free), return its problems, or no
    problem and the lowering as ``prepared`` for ``from_ir`` to reuse.

    A missing ``dt`` is not a problem of the graph: ``from_ir`` reports it.
    """
    try:
        prepared = lower()
    except (UnsupportedError, IRError) as exc:
        return Checked(list(exc.problems))
    except UsageError:
        return Checked([])
    return Checked([], prepared=prepared)


def no_equivalent(type_name: str, imports: Collection[str], framework: str) -> str:
    """Why a node of ``type_name`` is refused: ``framework`` maps only ``imports``."""
    mapped = ", ".join(sorted(set(imports) - {"Input", "Output"}))
    return f"{type_name} has no {framework} equivalent ({framework} imports: {mapped})"


def raise_unsupported(
    problems: Sequence[Problem], framework: str, *, hint: str | None = None, how: str = " exactly"
) -> None:
    """Raise one :class:`UnsupportedError` listing every problem (nothing when there is none):
    ``<framework> cannot run N node(s) of this graph<how>:`` and a line per node."""
    if not problems:
        return
    listing = "\n".join(f"  - {p}" for p in problems)
    raise UnsupportedError(
        f"{framework} cannot run {len(problems)} node(s) of this graph{how}:\n{listing}",
        problems=list(problems),
        hint=hint,
    )


def parse_shape(value: Any) -> tuple[int, ...] | None:
    """``"2,34,34"``, ``(2, 34, 34)`` or an int -> a shape tuple."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p for p in value.replace("x", ",").replace(" ", ",").split(",") if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise UsageError(f"input_shape must be integers like 2,34,34; got {value!r}") from None
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def edge_modules(edges: list[tuple[str, str]]) -> list[str]:
    """The module names of an ``EDGES`` list in first-seen order (``input``/``output`` left out)."""
    seen: list[str] = []
    for s, d in edges:
        for n in (s, d):
            if n not in ("input", "output") and n not in seen:
                seen.append(n)
    return seen


def resolve_skipped(name: str, edges: list[tuple[str, str]], skipped: set[str]) -> list[str]:
    """The non-skipped sources that ``name`` stands for (skipped: identity layers dropped)."""
    if name not in skipped:
        return [name]
    out: list[str] = []
    for s, d in edges:
        if d == name:
            out.extend(resolve_skipped(s, edges, skipped))
    return out
