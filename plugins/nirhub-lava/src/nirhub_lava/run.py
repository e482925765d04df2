"""The run hook of both backends: map, (quantize,) run in Lava, return aligned results."""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import UnsupportedError, UsageError
from nirhub.ir.graph import Graph


def _as_batches(
    inputs: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]]
) -> tuple[list[dict[str, np.ndarray]], bool, int]:
    """Per sample ``{name: (T, size)}``; whether a batch axis was given; T."""
    missing = [n for n in shapes if n not in inputs]
    if missing:
        raise UsageError(f"no input given for {', '.join(missing)}")
    batched = None
    arrays = {}
    for name, shape in shapes.items():
        arr = np.asarray(inputs[name], dtype=np.float64)
        if arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
            b = False
            arr = arr[:, None]
        elif arr.ndim == len(shape) + 2 and arr.shape[2:] == shape:
            b = True
        else:
            raise UsageError(
                f"input {name!r} of shape {arr.shape} does not fit (T, [B,] {shape})",
                hint="Time is axis 0.",
            )
        batched = b if batched is None else batched
        arrays[name] = arr.reshape(arr.shape[0], arr.shape[1], -1)
    t = next(iter(arrays.values())).shape[0]
    n = next(iter(arrays.values())).shape[1]
    return [{k: v[:, i] for k, v in arrays.items()} for i in range(n)], bool(batched), t


#: graded spikes into Loihi 2 carry signed 8-bit payloads here
GRADED_MAX = 127


def _graded_scale(values: np.ndarray) -> float:
    """``Q`` for graded spikes ``round(x * Q)``: the smallest power of two that makes every
    value an integer of at most :data:`GRADED_MAX` (no rounding, and dividing the weights by
    it rounds nothing either: dyadic inputs stay exact), else ``127 / max|x|``."""
    peak = float(np.max(np.abs(values)))
    for shift in range(-16, 17):
        q = 2.0**shift
        scaled = values * q
        if peak * q <= GRADED_MAX and np.all(scaled == np.rint(scaled)):
            return q
    return GRADED_MAX / peak


def _graded_inputs(net: Any, samples: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Binary inputs pass unchanged. A graded input becomes integer graded spikes
    ``round(x * Q)`` (``Q``: :func:`_graded_scale`, over all samples); the weights of its
    synapses are divided by ``Q`` before quantization, so the neurons see the same drive."""
    out = [dict(s) for s in samples]
    for name in net.inputs:
        values = np.concatenate([s[name].ravel() for s in samples])
        if not np.any((values != 0) & (values != 1)):
            continue
        peak = float(np.max(np.abs(values)))
        if peak == 0:
            continue
        scale = _graded_scale(values)
        for s in out:
            s[name] = np.rint(s[name] * scale)
        for syn in net.synapses:
            if syn.source == name:
                syn.weights = syn.weights / scale
        net.notes.append(f"input {name!r} sent as graded spikes round(x * {scale:.6g})")
    return out


def run_graph(
    graph: Graph,
    inputs: dict[str, np.ndarray],
    dt: float,
    *,
    record: tuple[str, ...] = (),
    fixed: bool = False,
    **options: Any,
) -> Any:
    from nirhub.backend import SimulationResult
    from nirhub_lava.fixed import quantize
    from nirhub_lava.mapping import build_net
    from nirhub_lava.processes import run_net

    net = build_net(graph, dt=dt, method=options.get("method"), reset=options.get("reset"))
    for path in record:
        if path not in net.populations:
            raise UsageError(
                f"cannot record {path!r}: not a neuron population of the Lava network",
                hint=f"Recordable: {', '.join(sorted(net.populations))}.",
            )
    samples, batched, t = _as_batches(inputs, net.inputs)
    q = None
    if fixed:
        samples = _graded_inputs(net, samples)
        q = quantize(net)
        if q.problems:
            raise UnsupportedError(
                "the network does not fit Loihi 2:\n" + "\n".join(f"  - {p}" for p in q.problems),
                problems=q.problems,
            )
    spikes_of = tuple(sorted({p for p, _ in net.outputs.values()} | set(record)))
    runs = [
        run_net(
            net,
            sample,
            fixed=q,
            spikes_of=spikes_of,
            v_of=tuple(record),
            hardware=bool(options.get("hardware")),
        )
        for sample in samples
    ]

    def stack(values: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        arr = np.stack([v.reshape(t, *shape) for v in values], axis=1)
        return arr if batched else arr[:, 0]

    outputs = {
        name: stack([r[0][pop].astype(np.float64) for r in runs], shape)
        for name, (pop, shape) in net.outputs.items()
    }
    recorded = {}
    for path in record:
        shape = net.populations[path].shape
        recorded[path] = {
            "spikes": stack([r[0][path] for r in runs], shape),
            "v": stack([r[1][path] for r in runs], shape),
        }
    return SimulationResult(
        outputs=outputs,
        recorded=recorded,
        dt=float(dt),
        method=net.method,
        steps=t,
        batch_size=len(samples) if batched else None,
        conventions={
            "backend": "Lava Loihi2SimCfg "
            + ("fixed_pt (bit-accurate Loihi 2 arithmetic)" if fixed else "floating_pt"),
            "latency": {p: pop.latency for p, pop in net.populations.items()},
            "latency_handling": "each synapse adds one step in Lava; nirhub runs the network "
            "for T + max latency steps and drops each population's first latency steps",
            "threshold": "v > vth (strict)",
            "reset": "to v_reset (Lava resets the normalised v to 0)",
            "recorded_v": "after the reset, in the reference's units",
        },
    )
