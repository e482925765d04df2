"""IR -> :class:`nirhub_torch.runtime.NIRModel` (a plain ``torch.nn.Module``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import resolve_dt, resolve_method
from nirhub.backend.torchrun import check_dtype, to_device
from nirhub.ir.graph import Graph
from nirhub_torch.spec import build_spec


def from_ir(
    graph: Graph,
    *,
    dt: float | None = None,
    method: str | None = None,
    reset: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
    surrogate_slope: float | None = None,
    detach_reset: bool | None = None,
    **_: Any,
) -> Any:
    """Build the module for ``graph``, its parameters set to the graph's arrays."""
    from nirhub_torch.runtime import NIRModel

    spec, arrays = build_spec(
        graph, dt=resolve_dt(graph, dt), method=resolve_method(graph, method), reset=reset
    )
    model = NIRModel(
        spec,
        dtype=check_dtype(dtype, "float32"),
        surrogate_slope=25.0 if surrogate_slope is None else float(surrogate_slope),
        detach_reset=True if detach_reset is None else bool(detach_reset),
    )
    load_arrays(model, arrays)
    return to_device(model, device)


def load_arrays(model: Any, arrays: dict[str, dict[str, np.ndarray]]) -> None:
    """Copy the graph's arrays into the module's parameters and buffers."""
    import torch

    with torch.no_grad():
        for path, fields in arrays.items():
            mod = model.node(path)
            for name, value in fields.items():
                target = getattr(mod, name)
                want = np.float32 if value.dtype == np.float32 else np.float64
                target.copy_(torch.as_tensor(np.array(value, dtype=want)))
