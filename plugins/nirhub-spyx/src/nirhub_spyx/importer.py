"""IR -> a live Spyx/Flax model (by executing the generated module), and the run hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nirhub.backend.spec_artifact import execute_generated, generator_version
from nirhub.ir.graph import Graph
from nirhub_spyx.codegen import ModelSpec, generate, lower


@dataclass
class Generated:
    """What ``save`` writes: the module source and its arrays."""

    code: str
    spec: ModelSpec


def generate_module(
    graph: Graph,
    dt: float,
    *,
    method: str = "euler",
    reset: str | None = None,
    weights_name: str = "model.npz",
    embed_spec: bool = False,
) -> Generated:
    spec = lower(graph, dt, method=method, reset=reset)
    return Generated(
        generate(
            spec,
            weights_name=weights_name,
            version=generator_version("nirhub-spyx"),
            embed_spec=embed_spec,
        ),
        spec,
    )


def execute(gen: Generated, *, dtype: Any = None, record: tuple[str, ...] = ()) -> Any:
    """Run the generated module's ``build_model`` with the in-memory arrays."""
    import jax.numpy as jnp

    ns = execute_generated(gen.code, "spyx")
    model = ns["build_model"](dict(gen.spec.arrays), dtype or jnp.float32, tuple(record))
    model.nirhub_generated = gen
    return model


def build_model(
    graph: Graph, dt: float, *, method: str = "euler", reset: str | None = None, dtype: Any = None
) -> Any:
    """``nirhub`` graph -> Spyx model reproducing ``simulate(method=method)``."""
    return execute(generate_module(graph, dt, method=method, reset=reset), dtype=dtype)


def run(
    graph: Graph,
    inputs: dict[str, np.ndarray],
    dt: float,
    *,
    record: tuple[str, ...] = (),
    method: str = "euler",
    reset: str | None = None,
    precision: str = "float64",
) -> Any:
    """The run hook: build in ``precision`` (float64 by default, like the reference), scan."""
    import jax
    import jax.numpy as jnp

    from nirhub.backend import SimulationResult, check_inputs, resolve_record
    from nirhub.ir.graph import flatten, infer_shapes

    info = infer_shapes(graph)
    shapes = {name: tuple(info.outputs[name]) for name in graph.inputs}
    dtype = np.dtype(precision)
    signals = check_inputs(inputs, shapes, dtype)
    paths = tuple(resolve_record(record, flatten(graph)))
    gen = generate_module(graph, dt, method=method, reset=reset)
    with jax.enable_x64(dtype == np.float64):
        jdtype = jnp.float64 if dtype == np.float64 else jnp.float32
        model = execute(gen, dtype=jdtype, record=paths)
        ns_run = _scan
        x = {k: jnp.asarray(v) for k, v in signals.arrays.items()}
        ys = ns_run(model, x)
        ys = jax.tree_util.tree_map(np.asarray, ys)
    if paths:
        outs, rec = ys
    else:
        outs, rec = ys, {}
    if not isinstance(outs, dict):
        outs = {gen.spec.outputs[0]: outs}

    def layout(a: np.ndarray) -> np.ndarray:
        return a if signals.batched else a[:, 0]

    outputs = {k: layout(v).astype(dtype, copy=False) for k, v in outs.items()}
    recorded: dict[str, dict[str, np.ndarray]] = {}
    for path in paths:
        recorded[path] = {}
        for var, arr in rec[path].items():
            value = layout(arr)
            recorded[path][var] = value > 0.5 if var == "spikes" else value.astype(dtype)
    import spyx

    return SimulationResult(
        outputs=outputs,
        recorded=recorded,
        dt=float(dt),
        method=method,
        steps=signals.steps,
        batch_size=signals.batch if signals.batched else None,
        conventions={
            "backend": "spyx",
            "spyx": getattr(spyx, "__version__", ""),
            "jax": jax.__version__,
            "precision": precision,
            "reset": reset or "per node (metadata), else zero",
        },
    )


def _scan(model: Any, x: dict[str, Any]) -> Any:
    """Scan the model over time in one compiled function (parameters passed as arguments,
    not baked into the program as constants)."""
    import jax
    from flax import nnx

    graphdef, params = nnx.split(model)
    single = len(x) == 1

    @jax.jit
    def scan(params: Any, x: Any) -> Any:
        m = nnx.merge(graphdef, params)
        first = x if single else next(iter(x.values()))
        state = m.initial_state(first.shape[1])

        def step(carry: Any, x_t: Any) -> Any:
            y, carry = m(x_t, carry)
            return carry, y

        return jax.lax.scan(step, state, x)[1]

    return scan(params, next(iter(x.values())) if single else x)
