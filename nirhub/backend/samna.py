"""Find out whether SynSense's *real* samna is installed, without importing it.

Every ``samna`` release on PyPI is a stub whose ``__init__`` runs ``pip install`` against the
vendor's own package index when it is imported (and ``sinabs`` and ``rockpool[xylo]`` depend on
it, so most environments with those frameworks have the stub). Importing it here would start a
pip process and a network download in the middle of a conversion. nirhub therefore never imports
``samna`` unless :func:`samna_status` says it is the real package, and backends that use
frameworks which import samna indirectly call :func:`block_samna_stub` first.

Detection reads files only: :func:`importlib.util.find_spec` on a top-level name locates the
package without executing it, and the stub is recognised by its marker line
(``PYPI_SAMNA = True``) and its call to ``install_real_samna()``; the real package is a compiled
extension.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Status = Literal["real", "stub", "absent"]

#: text that only the PyPI stub's ``__init__.py`` contains
_STUB_MARKERS = ("PYPI_SAMNA", "install_real_samna", "__gitlab_packages_index_url__")
#: never read more than this of ``__init__.py`` (the stub's is about 1 KB)
_READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class SamnaInfo:
    status: Status
    location: str | None
    detail: str

    @property
    def real(self) -> bool:
        return self.status == "real"


def _find_spec() -> importlib.machinery.ModuleSpec | None:
    # ask the finders directly: importlib.util.find_spec() would raise for a name that
    # block_samna_stub() set to None in sys.modules, and we want to look on disk all the same
    try:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find("samna", None)
            if spec is not None:
                return spec
    except (ImportError, ValueError):
        return None
    return None


def samna_status() -> SamnaInfo:
    """Classify the installed samna as ``real``, ``stub`` or ``absent`` (never imports it)."""
    spec = _find_spec()
    if spec is None:
        return SamnaInfo("absent", None, "samna is not installed")
    origin = spec.origin
    locations = list(spec.submodule_search_locations or [])
    where = origin or (locations[0] if locations else None)
    # a compiled extension module (``samna.cpython-311-x86_64-linux-gnu.so``) is the real thing
    if origin and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        return SamnaInfo("real", origin, "compiled samna extension")
    init = Path(origin) if origin else None
    if init is not None and init.name == "__init__.py" and init.is_file():
        with init.open("rb") as fh:
            text = fh.read(_READ_LIMIT).decode("utf-8", errors="replace")
        if any(marker in text for marker in _STUB_MARKERS):
            return SamnaInfo(
                "stub",
                str(init.parent),
                "the PyPI samna stub (importing it would pip-install the vendor package)",
            )
        # the real package ships compiled extensions next to its __init__
        for folder in locations or [str(init.parent)]:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                if any(Path(folder).glob(f"*{suffix}")):
                    return SamnaInfo("real", str(init.parent), "samna with compiled extensions")
        return SamnaInfo(
            "stub",
            str(init.parent),
            "a samna package without compiled extensions (not the vendor's samna)",
        )
    return SamnaInfo("stub", where, "an unrecognised samna installation")


def block_samna_stub() -> SamnaInfo:
    """Make ``import samna`` raise ImportError unless the real samna is installed.

    Call it before importing ``rockpool`` or ``sinabs.backend.dynapcnn``: both try to import
    samna, and with the PyPI stub installed that starts pip. Returns what was found. An already
    imported samna module is left alone.
    """
    info = samna_status()
    if not info.real and "samna" not in sys.modules:
        sys.modules["samna"] = None  # type: ignore[assignment]
    return info
