"""Is a backend's framework installed? Answered from package metadata, never by importing it.

An installed distribution leaves a ``<name>-<version>.dist-info`` folder on ``sys.path``, so
finding out that torch 2.13 is installed costs one directory listing, not the two seconds of
``import torch`` (and importing some frameworks has side effects: the ``samna`` stub
pip-installs software). The folder *names* are enough: :func:`installed_version` lists each
``sys.path`` folder once (again only when its modification time changes) instead of asking
``importlib.metadata.version``, which parses every distribution's ``METADATA`` file as an
e-mail message (most of ``nirhub list-backends``' time with seven plugins installed). What
the names cannot tell (zip archives, custom finders, ``.egg-info`` folders without a version)
falls back to ``importlib.metadata``.

Versions are compared on their release segments (``2.13.0+cpu`` -> ``(2, 13, 0)``); a
pre-release (``2.0.0rc1``, ``1.0.dev3``) sorts before its release, as in PEP 440. That is all
the simple ``min_version`` / ``below_version`` bounds of a :class:`Requirement` need, without
depending on ``packaging``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from nirhub.hub.descriptor import Requirement
from nirhub.hub.folderstamp import now_ns, settled, stamp

_VERSION = re.compile(r"^\s*v?(?:\d+!)?(\d+(?:\.\d+)*)(.*)$")
_PRE = re.compile(r"^[-_.]?(a|b|c|rc|alpha|beta|pre|preview|dev)", re.IGNORECASE)


def version_key(version: str) -> tuple[tuple[int, ...], int] | None:
    """A sortable key for a version string, or None if it does not start with a number."""
    m = _VERSION.match(version)
    if m is None:
        return None
    release = tuple(int(x) for x in m.group(1).split("."))
    while len(release) > 1 and release[-1] == 0:  # 2.0 == 2.0.0
        release = release[:-1]
    pre = 0 if _PRE.match(m.group(2)) else 1
    return release, pre


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b`` (release segments)."""
    ka, kb = version_key(a), version_key(b)
    if ka is None or kb is None:
        raise ValueError(f"cannot compare versions {a!r} and {b!r}")
    return (ka > kb) - (ka < kb)


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return _SEPARATORS.sub("-", name).lower()


_SEPARATORS = re.compile(r"[-_.]+")
#: sys.path folder -> (its modification time, when it was read, {normalized name: version})
_FOLDERS: dict[str, tuple[int, int, dict[str, str]]] = {}


def _versions_in(folder: str) -> dict[str, str]:
    """``{normalized name: version}`` of the ``.dist-info``/``.egg-info`` folders in ``folder``
    (read again when the folder changes, see :mod:`nirhub.hub.folderstamp`)."""
    folder = os.path.abspath(folder or ".")  # "" is the working directory, which may change
    mtime = stamp(folder)
    if mtime is None:
        return {}
    known = _FOLDERS.get(folder)
    if known is not None and known[0] == mtime and settled(mtime, known[1]):
        return known[2]
    read_at = now_ns()
    found: dict[str, str] = {}
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries]
    except OSError:
        names = []
    for entry in names:
        if entry.endswith(".dist-info"):
            name, sep, version = entry[: -len(".dist-info")].partition("-")
        elif entry.endswith(".egg-info"):  # name-version[-pyX.Y].egg-info
            name, sep, version = entry[: -len(".egg-info")].partition("-")
            version = version.split("-py", 1)[0]
        else:
            continue
        if sep and version:
            found.setdefault(normalize_name(name), version)
    _FOLDERS[folder] = (mtime, read_at, found)
    return found


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None (read from metadata only).

    The first ``sys.path`` folder holding the distribution wins, as for imports and for
    ``importlib.metadata``.
    """
    key = normalize_name(distribution)
    for folder in sys.path:
        version = _versions_in(folder).get(key)
        if version is not None:
            return version
    from importlib import metadata  # what folder names cannot tell (zips, custom finders)

    try:
        return metadata.version(distribution)
    except (metadata.PackageNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class RequirementCheck:
    requirement: Requirement
    installed: str | None
    #: what is wrong, "" when satisfied
    problem: str

    @property
    def ok(self) -> bool:
        return not self.problem


def check_requirement(req: Requirement) -> RequirementCheck:
    found = installed_version(req.distribution)
    if found is None:
        return RequirementCheck(req, None, f"{req} is not installed")
    key = version_key(found)
    if key is None:
        # an unparseable version (a local build); we cannot judge the bounds, so accept it
        return RequirementCheck(req, found, "")
    too_old = req.min_version and compare_versions(found, req.min_version) < 0
    too_new = req.below_version and compare_versions(found, req.below_version) >= 0
    if too_old or too_new:
        return RequirementCheck(
            req, found, f"{req} is needed, {req.distribution} {found} is installed"
        )
    return RequirementCheck(req, found, "")


def check_requirements(reqs: tuple[Requirement, ...]) -> list[RequirementCheck]:
    return [check_requirement(r) for r in reqs]


def python_satisfies(spec: str, version: tuple[int, ...] | None = None) -> bool | None:
    """Does the running Python (or ``version``) satisfy ``spec`` such as ``">=3.10,<3.11"``?

    None when the spec is empty or not understood (it is informational only).
    """
    if not spec.strip():
        return None
    current = ".".join(str(v) for v in (version or sys.version_info[:3]))
    for part in spec.split(","):
        m = re.match(r"^\s*(>=|<=|==|!=|<|>|~=)\s*([0-9][0-9.]*)\s*$", part)
        if m is None:
            return None
        op, bound = m.groups()
        if op == "==" and bound.count(".") < 2:  # ==3.10 means any 3.10.x
            c = compare_versions(".".join(current.split(".")[: bound.count(".") + 1]), bound)
        else:
            c = compare_versions(current, bound)
        ok = {
            ">=": c >= 0,
            "<=": c <= 0,
            ">": c > 0,
            "<": c < 0,
            "==": c == 0,
            "!=": c != 0,
            "~=": c >= 0,
        }[op]
        if not ok:
            return False
    return True
