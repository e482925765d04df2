"""The run hook's norse half: a model imported into norse run on the caller's input.

:meth:`nirhub.backend.GeneratedTorchBackend.run` builds the model and reads the input;
:func:`run_model` runs it and returns what it computed in the reference simulator's layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nirhub.backend import recordable_steps
from nirhub.ir.nodes import NEURON_TYPES, SPIKING_TYPES

if TYPE_CHECKING:  # pragma: no cover
    from nirhub_norse.lowering import Lowered


#: how norse ran, for the result
CONVENTIONS = {
    "backend": "norse (float32, forward Euler cells)",
    "threshold": "v - v_th > 0 (strict, as NIR)",
    "spike": "a spike is the value 1 during one step",
    "initial_state": "v = v_leak (0 for IF), I = 0",
    "delayed_edges": "recurrent back-edges read the previous step (rest output at "
    "step 0), as the reference simulator",
}


def run_model(
    model: Any, low: Lowered, x: np.ndarray, batched: bool, record: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Run ``model`` (built from ``low``) on ``x`` (``(T, B, *shape)``): the output and the
    ``record``-ed nodes' traces, in the caller's layout (no batch axis unless ``batched``)."""
    import torch

    from nirhub_norse.codegen import all_layers

    plan = low.plan
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
    return finish(ys), recorded
