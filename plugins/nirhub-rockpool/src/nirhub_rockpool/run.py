"""The run hook's rockpool half: a model imported into rockpool run on the caller's input.

:meth:`nirhub.backend.GeneratedTorchBackend.run` builds the model and reads the input;
:func:`run_model` runs it and returns what it computed in the reference simulator's layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nirhub.backend import UsageError, to_time_major

if TYPE_CHECKING:  # pragma: no cover
    from nirhub_rockpool.lowering import Lowered


#: how rockpool ran, for the result
CONVENTIONS = {
    "backend": "rockpool torch modules (float32)",
    "threshold": "v >= the next float32 above the threshold (rockpool's test; NIR's "
    "v > threshold, exact at ties), or v >= threshold for nodes recording that test or "
    "multi-spike output",
    "spike": "one spike per step at most (max_spikes_per_dt=1), or the spike count "
    "for nodes recording multi-spike output",
    "reset": "subtract (the only rockpool reset)",
    "initial_state": "v = 0, I = 0",
}


def run_model(
    model: Any, low: Lowered, x: np.ndarray, batched: bool, record: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Run ``model`` (built from ``low``) on ``x`` (``(T, B, *shape)``): the output and the
    ``record``-ed nodes' traces, in the caller's layout (no batch axis unless ``batched``)."""
    import torch

    wanted: dict[str, tuple[str, str, bool]] = {}
    for path in record:
        owner = next((it for it in low.items if path in it.paths), None)
        if owner is None or (owner.neuron_path and path != owner.neuron_path):
            known = ", ".join(sorted(it.neuron_path or it.paths[0] for it in low.items if it.paths))
            raise UsageError(
                f"cannot record {path!r} in the rockpool model (it records one node per module)",
                hint=f"Recordable: {known}.",
            )
        wanted[path] = (owner.name, owner.kind, owner.max_spikes != 1)
    model.reset_state()
    xb = torch.as_tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1)), dtype=torch.float32)
    with torch.no_grad():
        y, _, rec = model(xb, record=bool(record))

    def finish(t: Any, as_bool: bool = False) -> np.ndarray:
        return to_time_major(t.detach().numpy(), batched, spikes=as_bool)

    recorded: dict[str, dict[str, np.ndarray]] = {}
    for path, (name, kind, multi) in wanted.items():
        if kind in ("lifneuron", "liftorch"):
            recorded[path] = {
                "spikes": finish(rec[name]["spikes"], True),
                "v": finish(rec[name]["vmem"]),
            }
            if multi:  # the spike counts, as the reference records them
                recorded[path]["count"] = finish(rec[name]["spikes"])
        else:
            recorded[path] = {"v" if kind == "expsyn" else "out": finish(rec[f"{name}_output"])}
    return finish(y), recorded
