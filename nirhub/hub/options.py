"""Every option of a conversion or a run, resolved once, here.

The conventions ``dt``, ``method`` and ``reset`` can be given two ways on the command line
(``--dt 1e-3`` and ``-O dt=1e-3`` are the same thing) and may be recorded in the graph. The rule,
applied in this module and nowhere else:

    the value given, else the one recorded in the graph, else the option's declared default.

Each value is validated once (a positive finite ``dt``, a known ``method`` and ``reset``), and
a backend receives the resolved values as keyword arguments (only the options it declares).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nirhub.errors import UsageError
from nirhub.hub.descriptor import BackendDescriptor, option_key
from nirhub.ir.conventions import METHODS, check_reset, get_dt
from nirhub.ir.graph import Graph

__all__ = [
    "CONVENTIONS",
    "DT_HINT",
    "check_dt",
    "check_method",
    "missing_dt",
    "resolve_dt",
    "resolve_options",
    "take_conventions",
]

#: options every command understands the same way, whether given as a flag or with ``-O``
CONVENTIONS: tuple[str, ...] = ("dt", "method", "reset")

#: the one spelling of "give a time step" (``docs/cli.md`` documents ``--dt SECONDS``)
DT_HINT = "Pass --dt in seconds (the NIR paper's graphs use --dt 1e-4)."


def check_dt(value: Any) -> float:
    """A time step in seconds: a positive, finite number (a string is parsed)."""
    if isinstance(value, bool):
        raise UsageError(f"dt must be a positive number of seconds, got {value!r}")
    try:
        step = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"dt must be a positive number of seconds, got {value!r}") from None
    if not (math.isfinite(step) and step > 0):
        raise UsageError(f"dt must be a positive number of seconds, got {value!r}")
    return step


def missing_dt(where: str) -> UsageError:
    """The error for "no time step given and none recorded" (``where``: the model)."""
    return UsageError(f"no time step: {where} does not record one", hint=DT_HINT)


def check_method(value: Any) -> str:
    """A discretisation of the neuron equations: one of :data:`METHODS`."""
    if isinstance(value, bytes):
        value = value.decode()
    if value not in METHODS:
        raise UsageError(f"method must be {' or '.join(METHODS)}; got {value!r}")
    return str(value)


_CHECKS = {"dt": check_dt, "method": check_method, "reset": check_reset}


def take_conventions(
    options: Mapping[str, Any] | None, **flags: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``dt``/``method``/``reset`` out of ``-O`` options and merge them with their flags.

    ``flags`` are the command's own flags among :data:`CONVENTIONS` (``dt=``, ``method=``,
    ``reset=``; ``None`` when not given); only those are taken out of ``options``. Returns
    ``(conventions, rest)``: the checked values given either way, and the other options
    untouched. The same convention given twice with
    different values is a usage error rather than a silent choice.
    """
    unknown = set(flags) - set(CONVENTIONS)
    if unknown:  # pragma: no cover - a bug in the caller
        raise TypeError(f"not a convention: {', '.join(sorted(unknown))}")
    given: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for name, value in flags.items():
        if value is not None:
            given[name] = _CHECKS[name](value)
            spelled[name] = f"--{name} {value}"
    rest: dict[str, Any] = {}
    for key, value in (options or {}).items():
        name = option_key(key)
        if name not in flags:
            rest[key] = value
            continue
        checked = _CHECKS[name](value)
        if name in given and not _same(given[name], checked):
            raise UsageError(
                f"{spelled[name]} and -O {key}={value} disagree",
                hint=f"Give the {name} once (--{name} and -O {name} are the same option).",
            )
        given[name] = checked
        spelled.setdefault(name, f"-O {key}={value}")
    return given, rest


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def resolve_dt(
    given: float | None, graph: Graph, desc: BackendDescriptor | None, warn: list[str]
) -> float | None:
    """The time step: given, else recorded in the graph, else the target's declared default
    (with a warning), else ``None`` (the backend does not need one or refuses)."""
    if given is not None:
        return check_dt(given)
    recorded = get_dt(graph)
    if recorded is not None:
        return recorded
    if desc is not None and desc.has_option("dt"):
        default = desc.option("dt").default
        if default is not None:
            warn.append(
                f"no dt given and none recorded in the graph; {desc.name!r} uses its default "
                f"dt={default:g} s. Pass --dt to be explicit."
            )
            return check_dt(default)
    return None


def resolve_options(
    desc: BackendDescriptor,
    graph: Graph,
    options: Mapping[str, Any],
    dt: float | None,
    warn: list[str],
) -> dict[str, Any]:
    """The keyword arguments ``desc``'s backend receives for ``graph``.

    ``options`` are the ``-O`` pairs this backend declares (either spelling, not yet parsed,
    ``dt`` already taken out by :func:`take_conventions`). Every declared option is parsed and
    validated, defaults filled in, and ``dt``, when the backend declares it, resolved: given,
    else recorded in the graph, else the declared default.
    """
    opts = desc.parse_options(dict(options))
    if desc.has_option("dt"):
        step = resolve_dt(dt, graph, desc, warn)
        if step is None:
            opts.pop("dt", None)
        else:
            opts["dt"] = step
    return opts
