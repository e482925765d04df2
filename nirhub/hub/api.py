"""The hub's public Python API, re-exported lazily as ``nirhub.convert`` etc.

(``nirhub/__init__.py`` maps a name to the module defining it and treats a module whose name
ends in ``.<name>`` as the value itself, so ``nirhub.convert`` must not point at
``nirhub.hub.convert`` directly.)
"""

from nirhub.hub.convert import (
    ConversionReport,
    backends,
    check_legality,
    convert,
    from_ir,
    simulate_with_backend,
    to_ir,
)
from nirhub.hub.registry import BackendStatus, Registry, default_registry, make_registry

__all__ = [
    "BackendStatus",
    "ConversionReport",
    "Registry",
    "backends",
    "check_legality",
    "convert",
    "default_registry",
    "from_ir",
    "make_registry",
    "simulate_with_backend",
    "to_ir",
]
