"""Importing ``sinabs.backend.dynapcnn`` without ever importing the PyPI samna stub.

``sinabs.backend.dynapcnn`` imports ``samna`` (and ``samnagui``) at module level, although
building a :class:`DynapcnnNetwork`, discretizing it, its ``memory_summary()`` and the core
mapping (``get_valid_mapping``) use no samna at all. Every samna on PyPI is a stub that
pip-installs the vendor package when imported, so nirhub never imports it
(:mod:`nirhub.backend.samna` finds out what is installed by reading files only).

* Real samna installed: ``sinabs.backend.dynapcnn`` is imported normally and everything,
  including ``make_config``, works.
* Stub or no samna: for the duration of the import only, ``sys.modules`` holds
  :class:`SamnaPlaceholder` modules named ``samna``, ``samna.speck2e``, ... and ``samnagui``.
  They contain nothing: every attribute is a :class:`NeedsRealSamna` object that raises
  :class:`~nirhub.errors.BackendUnavailableError` ("needs SynSense's real samna") as soon as it
  is called, indexed, iterated or tested for truth. So a code path that needs samna (making the chip
  configuration, opening a device, specksim) fails loudly instead of producing a result. After
  the import, ``sys.modules`` is restored: ``import samna`` elsewhere still finds the stub
  blocked by :func:`nirhub.backend.samna.block_samna_stub`, never a placeholder.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from nirhub.backend import BackendUnavailableError, block_samna_stub, samna_status

#: the modules sinabs.backend.dynapcnn imports (``import samna``, ``from samna.X import Y``)
_PLACEHOLDER_NAMES = (
    "samna",
    "samna.speck2e",
    "samna.speck2e.configuration",
    "samna.speck2f",
    "samna.speck2f.configuration",
    "samna.specksim",
    "samna.specksim.nodes",
    "samna.graph",
    "samnagui",
)

_WHY = (
    "needs SynSense's real samna, which is not installed here (pip's samna is a stub that "
    "downloads the vendor package when imported; nirhub never imports it). Install samna from "
    "SynSense (see docs/backends/speck.md) and run this step again."
)


class NeedsRealSamna:
    """Stands for a samna object: calling, indexing, iterating or testing it raises a clear
    error naming it. Attribute access gives another placeholder, because sinabs evaluates
    annotations such as ``samna.device.DeviceInfo`` when its modules are imported."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise BackendUnavailableError(f"{self._name} {_WHY}")

    __call__ = _fail
    __getitem__ = _fail
    __iter__ = _fail
    __bool__ = _fail

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return NeedsRealSamna(f"{self._name}.{attr}")

    def __setattr__(self, attr: str, value: Any) -> None:
        self._fail()

    def __repr__(self) -> str:
        return f"<placeholder for {self._name}: needs the real samna>"


class SamnaPlaceholder(types.ModuleType):
    """An empty module standing for ``samna.*`` during the import of sinabs.backend.dynapcnn."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        full = f"{self.__name__}.{attr}"
        sub = sys.modules.get(full)
        if isinstance(sub, SamnaPlaceholder):
            return sub
        return NeedsRealSamna(full)


def _placeholders() -> dict[str, SamnaPlaceholder]:
    mods = {}
    for name in _PLACEHOLDER_NAMES:
        mod = SamnaPlaceholder(name, "nirhub-speck placeholder: the real samna is not installed")
        mod.__file__ = None
        mod.__path__ = []  # a package, so that ``from samna.x import y`` resolves
        mod.__nirhub_placeholder__ = True
        mods[name] = mod
    return mods


def uses_placeholder(module: Any) -> bool:
    return bool(getattr(module, "__nirhub_placeholder__", False))


def import_dynapcnn() -> Any:
    """``sinabs.backend.dynapcnn``, imported without the samna stub (see the module doc)."""
    already = sys.modules.get("sinabs.backend.dynapcnn")
    if already is not None:
        return already
    info = block_samna_stub()
    if info.real:
        import sinabs.backend.dynapcnn as dynapcnn

        return dynapcnn
    saved = {name: sys.modules[name] for name in _PLACEHOLDER_NAMES if name in sys.modules}
    sys.modules.update(_placeholders())
    try:
        import sinabs.backend.dynapcnn as dynapcnn
    finally:
        for name in _PLACEHOLDER_NAMES:
            if name in saved:
                sys.modules[name] = saved[name]
            else:
                sys.modules.pop(name, None)
    return dynapcnn


def real_samna() -> bool:
    return samna_status().real
