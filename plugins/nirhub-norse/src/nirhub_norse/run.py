"""The run hook: import a graph into norse and run it, in the reference simulator's layout."""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import recordable_steps, time_major
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NEURON_TYPES, SPIKING_TYPES


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
    from nirhub_norse.codegen import all_layers
    from nirhub_norse.import_ import build_model, built_for

    model = build_model(graph, dt=dt, method=method, reset=reset, fold=not record)
    built = built_for(model)
    low = built.lowered
    plan = low.plan
    x, batched = time_major(inputs, plan.steps[plan.input].out_shape)
    layers = all_layers(low)
    modules = (
        {layer.name: model[i] for i, layer in enumerate(layers)}
        if plan.is_chain()
        else {layer.name: getattr(model, layer.name) for layer in layers}
    )
    traces: dict[str, dict[str, list[Any]]] = {}
    handles = []
    for path, step in recordable_steps(plan, record, "norse").items():
        module = modules[low.layers[step.name][-1].name]
        kind = step.type_name
        trace: dict[str, list[Any]] = {}
        traces[path] = trace

        def hook(
            mod: Any, inp: Any, out: Any, kind: str = kind, trace: dict[str, list[Any]] = trace
        ) -> None:
            if kind in SPIKING_TYPES:
                trace.setdefault("spikes", []).append(out[0] > 0)
                trace.setdefault("v", []).append(out[1].v.expand_as(out[0]))
            elif kind in NEURON_TYPES:
                trace.setdefault("v", []).append(out[0])
            else:
                trace.setdefault("out", []).append(out)

        handles.append(module.register_forward_hook(hook))
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    ys = []
    state = None
    try:
        with torch.no_grad():
            for t in range(xt.shape[0]):
                y, state = model(xt[t], state)
                ys.append(y)
    finally:
        for h in handles:
            h.remove()

    def finish(values: list[Any], as_bool: bool = False) -> np.ndarray:
        arr = torch.stack(values).detach().numpy()
        arr = arr.astype(bool) if as_bool else arr.astype(np.float64)
        return arr if batched else arr[:, 0]

    recorded = {
        path: {var: finish(v, var == "spikes") for var, v in trace.items()}
        for path, trace in traces.items()
    }
    return SimulationResult(
        outputs={plan.output_name: finish(ys)},
        recorded=recorded,
        dt=float(dt),
        method=low.method,
        steps=int(xt.shape[0]),
        batch_size=int(xt.shape[1]) if batched else None,
        conventions={
            "backend": "norse (float32, forward Euler cells)",
            "threshold": "v - v_th > 0 (strict, as NIR)",
            "spike": "a spike is the value 1 during one step",
            "initial_state": "v = v_leak (0 for IF), I = 0",
            "delayed_edges": "recurrent back-edges read the previous step (rest output at "
            "step 0), as the reference simulator",
        },
    )
