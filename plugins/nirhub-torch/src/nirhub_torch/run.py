"""The run hook: import a graph into PyTorch, run it, return a ``SimulationResult``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nirhub.backend import SimulationResult, check_inputs, resolve_method
from nirhub.backend.torchrun import check_dtype, check_record
from nirhub.ir.graph import Graph


def run(
    graph: Graph,
    inputs: Any,
    dt: float,
    *,
    record: Iterable[str] = (),
    method: str | None = None,
    reset: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
    **options: Any,
) -> SimulationResult:
    """Run ``graph`` as a torch module (float64 unless ``dtype`` says otherwise)."""
    import torch

    from nirhub_torch.import_ import from_ir

    dtype_name = check_dtype(dtype, "float64")
    model = from_ir(
        graph,
        dt=dt,
        method=resolve_method(graph, method),
        reset=reset,
        dtype=dtype_name,
        device=device,
        **options,
    )
    shapes = {name: tuple(model.node(name).out_shape) for name in model.inputs}
    signals = check_inputs(inputs, shapes, np.dtype(dtype_name))
    record = check_record(record, model.keys)
    dev = model._anchor.device
    tensors = {k: torch.as_tensor(v, device=dev) for k, v in signals.arrays.items()}
    with torch.no_grad():
        outputs, recorded = model.run(tensors, record=record)

    def layout(x: torch.Tensor) -> np.ndarray:
        arr = x.detach().cpu().numpy()
        return arr if signals.batched else arr[:, 0]

    return SimulationResult(
        outputs={k: layout(v) for k, v in outputs.items()},
        recorded={p: {var: layout(x) for var, x in d.items()} for p, d in recorded.items()},
        dt=float(dt),
        method=model.method,
        steps=signals.steps,
        batch_size=signals.batch if signals.batched else None,
        conventions={
            "backend": "torch",
            "spike": "a spike is the value 1 during one step",
            "threshold": "v > v_threshold (strict)",
            "reset": {p: n["reset"] for p, n in model.nir_spec["nodes"].items() if "reset" in n},
            "recorded_v": "after the reset of the step",
            "delayed_edges": sorted(tuple(e) for e in model.nir_spec["back_edges"]),
            "dtype": dtype_name,
            "device": str(dev),
        },
    )
