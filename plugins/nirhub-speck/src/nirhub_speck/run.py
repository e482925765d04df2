"""The run hook: the discretized network, simulated in software by sinabs' DynapcnnNetwork.

Each time step is one input frame: the event counts of the step pass through every chip layer
(integer weights, integer thresholds, 16-bit floor) before the next step. Outputs and recorded
spikes follow the reference simulator's layout (time-major; the IF node's shape); recorded
``v`` is converted back to the graph's units (``(v_chip - v_initial) * v_threshold / s``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import UsageError, time_major, to_time_major
from nirhub.ir.graph import Graph
from nirhub_speck.build import SpeckModel, build, set_initial_states


def run_graph(
    graph: Graph,
    inputs: Any,
    dt: float,
    *,
    record: tuple[str, ...] = (),
    chip: Any = None,
    reset: Any = None,
    **_: Any,
) -> Any:
    from nirhub.backend import SimulationResult

    model = build(graph, dt=dt, chip_name=chip, reset=reset)
    outputs, recorded, steps, batch, batched = simulate_model(model, inputs, record=record)
    return SimulationResult(
        outputs={model.plan.plan.output_name: outputs},
        recorded=recorded,
        dt=float(dt),
        method="speck",
        steps=int(steps),
        batch_size=int(batch) if batched else None,
        conventions={
            "backend": f"Speck ({model.chip}) simulated by sinabs DynapcnnNetwork: 8-bit weights, "
            "16-bit integer state, one threshold per layer",
            "time": "one step = one input frame (all its events, then the next frame)",
            "threshold": ties_convention(model),
            "spike": "at most one spike per neuron and step (SingleSpike); on the chip each "
            "input event can make a neuron fire once",
            "floor": "v never falls below the 16-bit minimum (-32768 chip units)",
            "initial_state": "v = 0",
        },
    )


def ties_convention(model: SpeckModel) -> str:
    inexact = model.inexact_neurons()
    if not inexact:
        return "v > v_threshold exactly: integer chip units, threshold one unit above"
    return (
        "the chip fires at v >= threshold; ties are not exact at "
        + ", ".join(sorted(inexact))
        + " (see the conversion warning)"
    )


def _warn_fractional_input(model: SpeckModel, x: np.ndarray) -> None:
    """Exact ties assume integer chip units: the chip takes events, so integer input."""
    import warnings

    from nirhub.backend import ConversionWarning
    from nirhub_speck.ties import ExactLayer

    if not model.ties or not isinstance(model.ties[0], ExactLayer):
        return
    if np.array_equal(x, np.rint(x)):
        return
    warnings.warn(
        f"the input is not integer event counts: Speck takes events, and the ties of "
        f"{model.plan.layers[0].neuron} are exact (NIR's v > v_threshold) for integer input "
        "only; with fractional input it fires where v lies within one chip unit above the "
        "threshold",
        ConversionWarning,
        stacklevel=3,
    )


def simulate_model(
    model: SpeckModel, inputs: Any, *, record: tuple[str, ...] = ()
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]], int, int, bool]:
    """Run ``model`` over ``inputs`` ``(T, [B,] *input shape)``; time-major numpy results."""
    import torch

    lp = model.plan
    x, batched = time_major(inputs, lp.graph_input_shape)
    _warn_fractional_input(model, x)
    steps, batch = int(x.shape[0]), int(x.shape[1])
    layers = model.layers
    by_neuron = {layer.neuron: i for i, layer in enumerate(lp.layers)}
    for path in record:
        if path not in by_neuron:
            raise UsageError(
                f"cannot record {path!r}: the Speck simulation records the IF nodes "
                "(one per chip layer)",
                hint=f"Recordable: {', '.join(sorted(by_neuron))}.",
            )
    for layer in layers:
        layer.spk.batch_size = batch
        layer.spk.record_states = False
    set_initial_states(model, batch)
    traces: dict[str, dict[str, Any]] = {}
    handles = []
    for path in record:
        i = by_neuron[path]
        spk = layers[i].spk
        spk.record_states = True
        trace: dict[str, Any] = {}
        traces[path] = trace

        def hook(mod: Any, inp: Any, out: Any, trace: dict[str, Any] = trace) -> None:
            trace["spikes"] = out.detach().clone()
            trace["v"] = mod.recordings["v_mem"].detach().clone()

        handles.append(spk.register_forward_hook(hook))
    frames = np.swapaxes(x, 0, 1).reshape(batch * steps, *lp.input_shape)
    xb = torch.as_tensor(np.ascontiguousarray(frames), dtype=torch.float32)
    try:
        with torch.no_grad():
            y = model.network(xb)
    finally:
        for h in handles:
            h.remove()
        for layer in layers:
            layer.spk.record_states = False

    def in_caller_layout(t: Any, shape: tuple[int, ...]) -> np.ndarray:
        return to_time_major(t.detach().numpy().reshape(batch, steps, *shape), batched)

    last = lp.layers[-1]
    out_shape = (int(np.prod(last.neuron_shape)),) if lp.output_flat else last.neuron_shape
    outputs = in_caller_layout(y, out_shape)
    recorded: dict[str, dict[str, np.ndarray]] = {}
    for path, trace in traces.items():
        i = by_neuron[path]
        layer = lp.layers[i]
        shape = layer.neuron_shape if layer.kind == "conv" else (layer.neuron_shape[0],)
        spikes = in_caller_layout(trace["spikes"], shape)
        v_chip = in_caller_layout(trace["v"], shape)
        theta = model.channel_thresholds[i].reshape(-1, *([1] * (len(shape) - 1)))
        initial = model.initial_values[i] if model.initial_values else 0
        v = (v_chip - initial) * theta / model.scales[i]
        recorded[path] = {"spikes": spikes > 0, "v": v}
    return outputs, recorded, steps, batch, batched
