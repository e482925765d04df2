"""nirhub: move spiking neural networks between simulators and neuromorphic chips via NIR.

The public API is re-exported here lazily, so ``import nirhub`` stays cheap (the CLI's start-up
time matters): the IR, ``read``/``write``, ``simulate``, the metrics and the hub functions.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from nirhub.errors import (
    BackendUnavailableError,
    ExitCode,
    FileFormatError,
    IRError,
    NirhubError,
    ShapeError,
    UnsupportedError,
    UsageError,
)
from nirhub.ir import *  # noqa: F403
from nirhub.ir import __all__ as _ir_all

__version__ = "0.1.0"

# name -> module that defines it; imported on first access
_LAZY: dict[str, str] = {
    "read": "nirhub.io",
    "write": "nirhub.io",
    "ReadResult": "nirhub.io",
    "to_nir": "nirhub.io.nir_interop",
    "from_nir": "nirhub.io.nir_interop",
    "simulate": "nirhub.sim",
    "SimulationResult": "nirhub.sim",
    "metrics": "nirhub.metrics",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nirhub' has no attribute {name!r}")
    mod = import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


__all__ = [
    *_ir_all,
    *_LAZY,
    "BackendUnavailableError",
    "ExitCode",
    "FileFormatError",
    "IRError",
    "NirhubError",
    "ShapeError",
    "UnsupportedError",
    "UsageError",
    "__version__",
]
