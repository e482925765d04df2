"""The run hook: import a graph into snnTorch, run it step by step, return a SimulationResult."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nirhub.backend import SimulationResult, check_inputs
from nirhub.backend.torchrun import check_dtype, check_record
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NEURON_TYPES, SPIKING_TYPES


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
    **_: Any,
) -> SimulationResult:
    """Run ``graph`` in snnTorch (float64 unless ``dtype`` says otherwise).

    Recorded ``v`` is the membrane potential snnTorch returns (after the reset of the step);
    ``I`` is NIR's synaptic current: ``(syn - c_mem)/g_mem`` of ``snn.Synaptic`` (Euler), or the
    current the generated model tracks alongside (exact).
    """
    import torch

    from nirhub_snntorch.import_ import from_ir

    dtype_name = check_dtype(dtype, "float64")
    model = from_ir(graph, dt=dt, method=method, reset=reset, dtype=dtype_name, device=device)
    spec = model.NIR_SPEC
    nodes = spec["nodes"]
    shapes = {name: tuple(nodes[name]["out_shape"]) for name in spec["inputs"]}
    signals = check_inputs(inputs, shapes, np.dtype(dtype_name))
    record = check_record(record, nodes)
    dev = model._anchor.device
    xs = {k: torch.as_tensor(v, device=dev) for k, v in signals.arrays.items()}
    outs: dict[str, list[Any]] = {name: [] for name in spec["outputs"]}
    rec: dict[str, dict[str, list[Any]]] = {p: {} for p in record}
    with torch.no_grad():
        state = model.initial_state(signals.batch)
        for t in range(signals.steps):
            out, state, y = model.step({k: v[t] for k, v in xs.items()}, state)
            for name, value in out.items():
                outs[name].append(value)
            for path in record:
                _record(model, nodes[path], path, y, state, rec[path])

    def layout(parts: list[Any], spikes: bool = False) -> np.ndarray:
        arr = torch.stack(parts).cpu().numpy()
        if spikes:
            arr = arr > 0
        return arr if signals.batched else arr[:, 0]

    return SimulationResult(
        outputs={k: layout(v) for k, v in outs.items()},
        recorded={
            p: {var: layout(parts, var == "spikes") for var, parts in d.items()}
            for p, d in rec.items()
        },
        dt=float(spec["dt"]),
        method=spec["method"],
        steps=signals.steps,
        batch_size=signals.batch if signals.batched else None,
        conventions={
            "backend": "snntorch",
            "spike": "a spike is the value 1 during one step",
            "threshold": "mem - threshold > 0 (strict)",
            "reset": {p: n["reset"] for p, n in nodes.items() if "reset" in n},
            "recorded_v": "snnTorch's mem after the step (after the reset)",
            "delayed_edges": sorted(tuple(e) for e in spec["back_edges"]),
            "dtype": dtype_name,
        },
    )


def _record(
    model: Any,
    entry: dict[str, Any],
    path: str,
    y: dict[str, Any],
    state: dict[str, Any],
    into: dict[str, list[Any]],
) -> None:
    t = entry["type"]
    if t not in NEURON_TYPES:
        into.setdefault("out", []).append(y[path])
        return
    if t in SPIKING_TYPES:
        into.setdefault("spikes", []).append(y[path])
    into.setdefault("v", []).append(state[f"{path}.mem"])
    if t in ("CubaLI", "CubaLIF"):
        k = entry["key"]
        if f"{path}.I" in state:
            current = state[f"{path}.I"]
        else:
            syn = state[f"{path}.syn"]
            current = (syn - getattr(model, f"{k}_c_mem")) / getattr(model, f"{k}_g_mem")
        into.setdefault("I", []).append(current)
