"""The run hook's sinabs half: a model imported into sinabs run on the caller's input.

:meth:`nirhub.backend.GeneratedTorchBackend.run` builds the model and reads the input;
:func:`run_model` runs it and returns what it computed in the reference simulator's layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nirhub.backend import recordable_steps, to_time_major
from nirhub.ir.nodes import NEURON_TYPES, SPIKING_TYPES

if TYPE_CHECKING:  # pragma: no cover
    from nirhub_sinabs.lowering import Lowered


def _batch_time(t: Any, batch: int, ndim: int) -> Any:
    """A layer's output as (batch, time, ...): from (B*T, ...), (B, T, ...) or one step (B, ...)."""
    if t.ndim == ndim + 2:
        return t
    if t.shape[0] == batch:
        return t.unsqueeze(1)
    return t.unflatten(0, (batch, -1))


#: how sinabs ran, for the result
CONVENTIONS = {
    "backend": "sinabs (float32; time constants in steps of dt)",
    "threshold": "v >= v_threshold (sinabs SingleSpike; NIR says >, which differs only "
    "when v equals the threshold exactly)",
    "spike": "a spike is the value 1 during one step (one spike per step at most)",
    "initial_state": "v = 0, I = 0",
    "delayed_edges": "recurrent back-edges read the previous step (rest output at "
    "step 0), as the reference simulator",
}


def run_model(
    model: Any, low: Lowered, x: np.ndarray, batched: bool, record: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Run ``model`` (built from ``low``) on ``x`` (``(T, B, *shape)``): the output and the
    ``record``-ed nodes' traces, in the caller's layout (no batch axis unless ``batched``)."""
    import torch

    plan = low.plan
    steps, batch = x.shape[:2]
    chain = plan.is_chain()
    for module in model.modules():
        if hasattr(module, "batch_size") and hasattr(module, "num_timesteps"):
            module.batch_size = batch  # a sinabs Squeeze layer
    traces: dict[str, dict[str, list[Any]]] = {}
    handles = []
    for path, step in recordable_steps(plan, record, "sinabs").items():
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
        return to_time_major(t.detach().numpy(), batched, spikes=as_bool)

    recorded = {
        path: {var: finish(torch.cat(v, 1), var == "spikes") for var, v in trace.items()}
        for path, trace in traces.items()
    }
    return finish(y), recorded
