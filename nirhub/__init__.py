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
    NoSuchFileError,
    ShapeError,
    UnsupportedError,
    UsageError,
)

#: The IR's public names (``nirhub.ir.__all__``; tests/test_cli_startup.py keeps the two equal).
#: They are imported on first access like the rest: ``nirhub.ir`` imports numpy, which
#: ``nirhub --help`` must not pay for.
_ir_all: tuple[str, ...] = (
    "IF", "LI", "LIF", "NEURON_TYPES", "NODE_TYPES", "SPIKING_TYPES", "Affine", "AvgPool2d",
    "Conv1d", "Conv2d", "CubaLI", "CubaLIF", "Delay", "Flatten", "FlatGraph", "Graph", "I",
    "Input", "Linear", "Node", "Output", "Scale", "ShapeInfo", "SumPool2d", "Threshold",
    "flatten", "get_dt", "get_method", "infer_shapes", "reset_mode", "set_dt", "set_method",
    "set_reset",
    "TYPE_NAMES",
)  # fmt: skip

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
    "to_ir": "nirhub.hub.api",
    "from_ir": "nirhub.hub.api",
    "convert": "nirhub.hub.api",
    "backends": "nirhub.hub.api",
    "make_registry": "nirhub.hub.api",
    "simulate_file": "nirhub.hub.simulation",
}


_LAZY.update(dict.fromkeys(_ir_all, "nirhub.ir"))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nirhub' has no attribute {name!r}")
    mod = import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    *_ir_all,
    *_LAZY,
    "BackendUnavailableError",
    "ExitCode",
    "FileFormatError",
    "IRError",
    "NirhubError",
    "NoSuchFileError",
    "ShapeError",
    "UnsupportedError",
    "UsageError",
    "__version__",
]
