"""The run hook: the quantized network in XyloSim, bit-accurate to the chip.

XyloSim (``xylosim.v2``, wrapped by rockpool) steps as the chip does: input events add
``w << weight_shift`` to the synaptic currents, spikes of the hidden neurons reach the
recurrent and output synapses *in the next step*, then every current decays
(``I -= max(I >> dash, sign(I))``), ``v += -decay(v) + I + bias``, and a neuron emits
``floor``-many spikes while ``v >= threshold`` (at most 31; output neurons 1), subtracting the
threshold each time. All state is int16, saturating.

The one-step hop between populations is a delay NIR's graph does not have; the run hook undoes
it so that results line up with the reference simulator: hidden layer ``k`` (0-based) and the
output population (``depth`` = number of hidden layers) are read ``depth`` steps later, and
``depth`` silent steps are appended to the input. Recorded ``v`` is divided by each neuron's
quantization scale (NIR units); recorded ``spikes`` are spike *counts* per step.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nirhub.backend import ConversionWarning, UsageError, single_input
from nirhub_xylo.mapping import XyloModel, import_xylo


def _input(inputs: Any, n_in: int) -> tuple[np.ndarray, bool]:
    arr = single_input(inputs)
    if arr.ndim == 2 and arr.shape[1] == n_in:
        x, batched = arr[:, None], False
    elif arr.ndim == 3 and arr.shape[2] == n_in:
        x, batched = arr, True
    else:
        raise UsageError(
            f"input of shape {arr.shape} does not fit (T, [B,] {n_in})", hint="Time is axis 0."
        )
    if x.size and (
        not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)) or x.max() > 15
    ):
        raise UsageError(
            "Xylo's inputs are spike events: whole counts 0..15 per channel and step",
            hint="Encode analogue signals as spikes first (Xylo Audio's front end does this "
            "on the chip; nirhub simulates the SNN core only).",
        )
    return x.astype(np.int64), batched


def _flat_input(model: XyloModel, inputs: Any) -> Any:
    """unroll_conv: a ``(T, [B,] C, *spatial)`` input flattened as the Input node was."""
    shape = model.flat_shapes.get(model.input_name)
    if shape is None:
        return inputs
    arr = single_input(inputs)
    if arr.shape[-len(shape) :] == shape:
        arr = arr.reshape(*arr.shape[: arr.ndim - len(shape)], -1)
    return arr


def simulator(model: XyloModel) -> Any:
    """A rockpool ``XyloSim`` configured with the model's quantized specification."""
    _, _, xylo_sim = import_xylo(model.chip)
    spec = {k: v for k, v in model.spec.items()}
    return xylo_sim.from_specification(**spec, dt=model.dt)


def run_model(model: XyloModel, inputs: Any, *, record: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run XyloSim; outputs/recordings aligned with the reference simulator (time-major)."""
    x, batched = _input(_flat_input(model, inputs), model.n_inputs)
    steps, batch = x.shape[0], x.shape[1]
    pops = {p.path: p for p in model.populations}
    for path in record:
        if path not in pops:
            raise UsageError(
                f"cannot record {path!r} on Xylo (only neuron populations are observable)",
                hint=f"Recordable: {', '.join(pops)}.",
            )
    sim = simulator(model)
    depth_out = model.n_hidden_layers
    pad = np.zeros((depth_out, x.shape[2]), np.int64)
    outs, recs = [], {p: {"spikes": [], "v": []} for p in record}
    for b in range(batch):
        sim.reset_state()
        raster = np.concatenate([x[:, b], pad])
        out, _, rec = sim(raster, record=bool(record))
        outs.append(np.asarray(out)[depth_out : depth_out + steps])
        for path in record:
            pop = pops[path]
            sl = slice(pop.depth, pop.depth + steps)
            if pop.role == "hidden":
                spikes = np.asarray(rec["Spikes"])[sl][:, pop.ids]
                v = np.asarray(rec["Vmem"])[sl][:, pop.ids] / model.scale_hidden[pop.ids]
            else:
                spikes = np.asarray(out)[sl][:, pop.ids]
                v = np.asarray(rec["Vmem_out"])[sl][:, pop.ids] / model.scale_out[pop.ids]
            recs[path]["spikes"].append(spikes.astype(np.int64))
            recs[path]["v"].append(v.astype(np.float64))

    def stack(parts: list[np.ndarray], path: str) -> np.ndarray:
        arr = np.stack(parts, axis=1)
        if path in model.flat_shapes:  # unroll_conv: the node's own shape again
            arr = arr.reshape(*arr.shape[:2], *model.flat_shapes[path])
        return arr if batched else arr[:, 0]

    out_pop = next(p for p in model.populations if p.role == "output")
    outputs = stack([o[:, out_pop.ids].astype(np.float64) for o in outs], out_pop.path)
    return {
        "outputs": {model.output_name: outputs},
        "recorded": {p: {k: stack(v, p) for k, v in d.items()} for p, d in recs.items()},
        "steps": steps,
        "batch_size": batch if batched else None,
    }


def shortest_synapse_if_asked(graph: Any, dt: float, options: dict[str, Any]) -> Any:
    """``-O lif=synapse``: the graph with each LIF as a CubaLIF with Xylo's shortest synapse,
    and the conversion's warning with the measured similarity (the graph as it is otherwise).
    The run hook and ``from_ir`` take the option alike."""
    if options.get("lif") != "synapse":
        return graph
    from nirhub.backend import resolve_method
    from nirhub_xylo.lif_synapse import approximation_note

    graph, note = approximation_note(graph, dt, resolve_method(graph, options.get("method")))
    if note is not None:
        warnings.warn(note, ConversionWarning, stacklevel=3)
    return graph


def warn_measured_effect(graph: Any, model: XyloModel, dt: float, options: dict[str, Any]) -> None:
    """Warn with what Xylo's integer arithmetic changes against the reference simulator,
    per population (``graph``: the graph as the user gave it). See
    :mod:`nirhub_xylo.effects`."""
    from nirhub.backend import resolve_method
    from nirhub_xylo.effects import effect_warning, measure

    method = resolve_method(graph, options.get("method"))
    note = effect_warning(measure(graph, model, dt, method=method, reset=None, run_model=run_model))
    if note is not None:
        warnings.warn(note, ConversionWarning, stacklevel=3)


def map_with_effects(
    graph: Any, dt: float, options: dict[str, Any], *, layout: Any = None
) -> XyloModel:
    """The graph mapped to Xylo (``-O lif=synapse`` applied when asked), its mapping notes
    and the measured effect of the chip's arithmetic warned: what ``from_ir`` and the run
    hook share."""
    from nirhub_xylo.mapping import map_graph
    from nirhub_xylo.structure import mapping_options

    given = graph
    graph = shortest_synapse_if_asked(graph, dt, options)
    model = map_graph(
        graph,
        chip=options.get("chip"),
        dt=dt,
        layout=layout,
        units=options.get("units"),
        **mapping_options(options),
    )
    for note in model.notes:
        warnings.warn(note, ConversionWarning, stacklevel=3)
    warn_measured_effect(given, model, dt, options)
    return model


def run_graph(
    graph: Any, inputs: Any, dt: float, *, record: tuple[str, ...] = (), **options: Any
) -> Any:
    from nirhub.backend import SimulationResult

    model = map_with_effects(graph, dt, options)
    got = run_model(model, inputs, record=record)
    return SimulationResult(
        outputs=got["outputs"],
        recorded=got["recorded"],
        dt=float(dt),
        method="xylo",
        steps=got["steps"],
        batch_size=got["batch_size"],
        conventions={
            "backend": f"XyloSim ({model.chip.title}), bit-accurate integer simulation",
            "quantization": "int8 weights, int16 thresholds/biases/state (saturating), "
            "bit-shift decays",
            "threshold": "v >= threshold",
            "spike": "hidden neurons: spike counts per step (up to 31, floor(v/thr)); "
            "outputs: at most 1",
            "reset": "subtract threshold per spike, in the spike step",
            "delay": "XyloSim's one-step hop between populations is undone (outputs and "
            "recordings shifted to the reference simulator's time axis)",
            "recorded_v": "integer membrane divided by the neuron's quantization scale",
            "initial_state": "v = 0, I = 0",
        },
    )
