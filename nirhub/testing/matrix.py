"""The any-to-any matrix's quantized models, for plugin tests in this repository.

``tools/any_to_any.py`` defines the models (``QUANTIZED``), writes them with ``nir.write``
(``write_nir_source``), draws their inputs and weights (``quantized_inputs``) and computes
their spikes in exact rational arithmetic (``exact_spikes``). A plugin test that checks a
matrix cell loads that module here instead of copying it, so the test and the matrix convert
the very same graph.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@cache
def any_to_any() -> ModuleType:
    """``tools/any_to_any.py`` as a module (it imports its sibling ``any_to_any_native``)."""
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location("any_to_any", TOOLS / "any_to_any.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["any_to_any"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(TOOLS))


def quantized_model(name: str, variant: str, folder: Path) -> tuple[Path, Any, Path]:
    """The matrix's quantized model ``name`` with reset ``variant``, written into ``folder``
    with ``nir.write``: (its path, the input spikes ``(T, B, N)`` float32, the weights file
    that ``exact_spikes`` reads)."""
    import numpy as np

    a2a = any_to_any()
    q = next(m for m in a2a.QUANTIZED if m.name == name)
    x_path, weights = a2a.quantized_inputs(q, folder)
    path = folder / f"{name}-{variant}.nir"
    a2a.write_nir_source(path, q, variant, weights)
    return path, np.load(x_path), weights
