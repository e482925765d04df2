"""IR -> a live ``nengo.Network`` (by executing the generated module), and the run hook."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from nirhub.backend.spec_artifact import execute_generated, generator_version
from nirhub.ir.graph import Graph
from nirhub_nengo.codegen import generate
from nirhub_nengo.lower import NetSpec, Recorder, lower


@dataclass
class Generated:
    """What ``save`` writes: the module source and its arrays."""

    code: str
    arrays: dict[str, np.ndarray]
    spec: NetSpec


def generate_module(
    graph: Graph,
    dt: float,
    *,
    method: str = "exact",
    reset: str | None = None,
    record: tuple[str, ...] = (),
    source: str = "",
    weights_name: str = "model.npz",
) -> Generated:
    label = (
        str(graph.metadata.get("name", "nirhub"))
        if isinstance(graph.metadata.get("name"), str)
        else "nirhub"
    )
    spec = lower(graph, dt, method=method, reset=reset, record=record, label=label)
    code = generate(
        spec, source=source, weights_name=weights_name, version=generator_version("nirhub-nengo")
    )
    return Generated(code, spec.arrays, spec)


def execute(gen: Generated, inputs: dict[str, np.ndarray] | None = None) -> Any:
    """Run the generated module's ``build_network`` with the in-memory arrays."""
    from nirhub_nengo.quiet import import_nengo

    import_nengo()
    build_network = execute_generated(gen.code, "nengo")["build_network"]
    net = build_network(inputs, dict(gen.arrays))
    net.nirhub_generated = gen
    return net


def build_network(
    graph: Graph,
    dt: float,
    *,
    method: str = "euler",
    reset: str | None = None,
    record: tuple[str, ...] = (),
) -> Any:
    """``nirhub`` graph -> ``nengo.Network`` reproducing ``simulate(method=method)``."""
    return execute(generate_module(graph, dt, method=method, reset=reset, record=record))


def run(
    graph: Graph,
    inputs: dict[str, np.ndarray],
    dt: float,
    *,
    record: tuple[str, ...] = (),
    method: str = "euler",
    reset: str | None = None,
) -> Any:
    """The run hook: build, simulate every sample of the batch, collect probes."""
    from nirhub_nengo.quiet import import_nengo

    nengo = import_nengo()

    from nirhub.backend import SimulationResult, check_inputs, resolve_record
    from nirhub.ir.graph import flatten, infer_shapes

    info = infer_shapes(graph)
    shapes = {name: tuple(info.outputs[name]) for name in graph.inputs}
    signals = check_inputs(inputs, shapes, np.dtype(np.float64))
    paths = tuple(resolve_record(record, flatten(graph)))
    gen = generate_module(graph, dt, method=method, reset=reset, record=paths)
    net = execute(gen)
    steps, batch = signals.steps, signals.batch
    collected: dict[str, list[np.ndarray]] = {k: [] for k in net.probe_map}
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", category=FutureWarning)
        # gains chosen for NIR can leave a neuron below Nengo's rate threshold: informational
        warnings.filterwarnings("ignore", message="Non-finite values detected in `max_rates`")
        with nengo.Simulator(net, dt=dt, progress_bar=False) as sim:
            for b in range(batch):
                for name, feeder in net.feeders.items():
                    feeder.data = signals.arrays[name][:, b].reshape(steps, -1)
                if b:
                    sim.reset()
                sim.run_steps(steps)
                for key, probe in net.probe_map.items():
                    collected[key].append(np.asarray(sim.data[probe]).copy())
    data = {k: np.stack(v, axis=1) for k, v in collected.items()}  # (T, B, n)

    def shape_out(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        arr = arr.reshape(steps, batch, *shape)
        return arr if signals.batched else arr[:, 0]

    outputs = {name: shape_out(data[name], shp) for name, (_, shp) in gen.spec.outputs.items()}
    recorded = {
        path: _recorded(rec, data, steps, batch, shape_out)
        for path, rec in gen.spec.recorders.items()
        if path in paths
    }
    return SimulationResult(
        outputs=outputs,
        recorded=recorded,
        dt=float(dt),
        method=method,
        steps=steps,
        batch_size=batch if signals.batched else None,
        conventions={
            "backend": "nengo",
            "nengo": nengo.__version__,
            "reset": reset or "per node (metadata), else zero",
        },
    )


def _recorded(
    rec: Recorder, data: dict[str, np.ndarray], steps: int, batch: int, shape_out: Any
) -> dict[str, np.ndarray]:
    n = math.prod(rec.shape) if rec.shape else 1
    out: dict[str, np.ndarray] = {}
    const = rec.const if rec.const is not None else np.zeros(n)
    if rec.kind == "spiking":
        spikes = (
            data[rec.probes["spikes"]] if "spikes" in rec.probes else np.zeros((steps, batch, n))
        )
        out["spikes"] = shape_out(spikes > 0.5, rec.shape)
        z = np.zeros((steps, batch, n))
        for key, idx in rec.voltage_groups:
            z[:, :, idx] = data[key]
        assert rec.v0 is not None and rec.scale is not None
        out["v"] = shape_out(rec.v0 + rec.scale * z, rec.shape)
    else:
        var = "v" if rec.kind == "filter" else "out"
        value = data[rec.probes[var]] if var in rec.probes else np.zeros((steps, batch, n))
        out[var] = shape_out(value + const, rec.shape)
    if rec.current_groups:
        cur = np.zeros((steps, batch, n))
        for key, idx in rec.current_groups:
            cur[:, :, idx] = data[key]
        out["I"] = shape_out(cur, rec.shape)
    return out
