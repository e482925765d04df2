"""The run hook: import a graph into sinabs and run it, in the reference simulator's layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nirhub.backend import UsageError
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NEURON_TYPES, SPIKING_TYPES


def as_time_major(inputs: Any, in_shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    """The single input as ``(T, B, *shape)`` and whether the caller gave a batch axis."""
    if isinstance(inputs, Mapping):
        if len(inputs) != 1:
            raise UsageError(f"the graph has one input; got {len(inputs)} arrays")
        arr = np.asarray(next(iter(inputs.values())))
    else:
        arr = np.asarray(inputs)
    if arr.ndim == len(in_shape) + 1 and arr.shape[1:] == in_shape:
        return arr[:, None], False
    if arr.ndim == len(in_shape) + 2 and arr.shape[2:] == in_shape:
        return arr, True
    raise UsageError(
        f"input of shape {arr.shape} does not fit (T, [B,] {in_shape})", hint="Time is axis 0."
    )


def _batch_time(t: Any, batch: int, ndim: int) -> Any:
    """A layer's output as (batch, time, ...): from (B*T, ...), (B, T, ...) or one step (B, ...)."""
    if t.ndim == ndim + 2:
        return t
    if t.shape[0] == batch:
        return t.unsqueeze(1)
    return t.unflatten(0, (batch, -1))


def run_graph(
    graph: Graph,
    inputs: Any,
    dt: float,
    *,
    record: tuple[str, ...] = (),
    method: Any = None,
    reset: Any = None,
    **_: Any,
) -> Any:
    import torch

    from nirhub.backend import SimulationResult
    from nirhub_sinabs.import_ import build_model, built_for

    model = build_model(graph, dt=dt, method=method, reset=reset, fold=not record)
    low = built_for(model).lowered
    plan = low.plan
    x, batched = as_time_major(inputs, plan.steps[plan.input].out_shape)
    steps, batch = x.shape[:2]
    chain = plan.is_chain()
    for module in model.modules():
        if hasattr(module, "batch_size") and hasattr(module, "num_timesteps"):
            module.batch_size = batch  # a sinabs Squeeze layer
    paths = plan.by_path()
    traces: dict[str, dict[str, list[Any]]] = {}
    handles = []
    for path in record:
        if path not in paths or path in (plan.input_name, plan.output_name):
            known = ", ".join(
                sorted(p for p in paths if p not in (plan.input_name, plan.output_name))
            )
            raise UsageError(
                f"cannot record {path!r}: no such node in the sinabs model",
                hint=f"Recordable: {known}.",
            )
        step = plan.steps[paths[path]]
        module = getattr(model, low.layers[step.name][0].name)
        kind = step.type_name
        nd = len(step.out_shape)
        if kind in NEURON_TYPES:
            module.record_states = True
        trace: dict[str, list[Any]] = {}
        traces[path] = trace

        def hook(
            mod: Any,
            inp: Any,
            out: Any,
            kind: str = kind,
            nd: int = nd,
            trace: dict[str, list[Any]] = trace,
        ) -> None:
            out = _batch_time(out, batch, nd)
            if kind in SPIKING_TYPES:
                trace.setdefault("spikes", []).append(out > 0)
                trace.setdefault("v", []).append(mod.recordings["v_mem"])
            elif kind in NEURON_TYPES:
                trace.setdefault("v", []).append(out)
            else:
                trace.setdefault("out", []).append(out)

        handles.append(module.register_forward_hook(hook))
    xb = torch.as_tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1)), dtype=torch.float32)
    try:
        with torch.no_grad():
            if chain:
                y = model(xb.flatten(0, 1)).unflatten(0, (batch, steps))
            else:
                y = model(xb)
    finally:
        for h in handles:
            h.remove()

    def finish(t: Any, as_bool: bool = False) -> np.ndarray:
        arr = np.swapaxes(t.detach().numpy(), 0, 1)
        arr = arr.astype(bool) if as_bool else arr.astype(np.float64)
        return arr if batched else arr[:, 0]

    recorded = {
        path: {var: finish(torch.cat(v, 1), var == "spikes") for var, v in trace.items()}
        for path, trace in traces.items()
    }
    return SimulationResult(
        outputs={plan.output_name: finish(y)},
        recorded=recorded,
        dt=float(dt),
        method=low.method,
        steps=int(steps),
        batch_size=int(batch) if batched else None,
        conventions={
            "backend": "sinabs (float32; time constants in steps of dt)",
            "threshold": "v >= v_threshold (sinabs SingleSpike; NIR says >, which differs only "
            "when v equals the threshold exactly)",
            "spike": "a spike is the value 1 during one step (one spike per step at most)",
            "initial_state": "v = 0, I = 0",
            "delayed_edges": "recurrent back-edges read the previous step (rest output at "
            "step 0), as the reference simulator",
        },
    )
