"""IR -> an snnTorch model: a generated ``nn.Module`` class, instantiated, weights loaded."""

from __future__ import annotations

import hashlib
import linecache
from typing import Any

import numpy as np

from nirhub.backend import (
    VARIANT_HINT,
    Problem,
    raise_unsupported,
    resolve_dt,
    variant_problems,
)
from nirhub.backend.torchrun import check_dtype, to_device
from nirhub.ir.conventions import get_method
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NEURON_TYPES
from nirhub_snntorch.codegen import render_module
from nirhub_snntorch.mapping import neuron
from nirhub_snntorch.spec import build_spec

#: names of snnTorch's own parameters/buffers (``<key>.<name>`` in the state dict)
LAYER_FIELDS = frozenset({"beta", "alpha", "threshold"})


def prepare(
    graph: Graph, *, dt: float | None = None, method: str | None = None, reset: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The spec (with each neuron's snnTorch configuration) and the state-dict values."""
    dt_value = resolve_dt(graph, dt)
    spec, arrays = build_spec(
        graph, dt=dt_value, method=method or get_method(graph) or "euler", reset=reset
    )
    values: dict[str, np.ndarray] = {}
    problems: list[Problem] = []
    for path, entry in spec["nodes"].items():
        k, t, a = entry["key"], entry["type"], arrays[path]
        if t in NEURON_TYPES:
            info, vals, probs = neuron(entry, a, dt_value, spec["method"])
            entry["snn"] = info
            problems += probs
            for name, v in vals.items():
                values[f"{k}.{name}" if name in LAYER_FIELDS else f"{k}_{name}"] = v
        elif t in ("Linear", "Affine"):
            sep = "." if a["weight"].ndim == 2 else "_"
            values[f"{k}{sep}weight"] = a["weight"]
            if t == "Affine":
                values[f"{k}{sep}bias"] = a["bias"]
        elif t in ("Conv1d", "Conv2d"):
            values[f"{k}.weight"] = a["weight"]
            if "bias" in a:
                values[f"{k}.bias"] = a["bias"]
        elif t in ("Scale", "Threshold", "Delay"):
            field = {"Scale": "scale", "Threshold": "threshold", "Delay": "delay"}[t]
            values[f"{k}_{field}"] = a[field]
    # snnTorch's neurons: single spikes at mem > threshold, no lower bound, Euler synapses
    variant = variant_problems(graph, (), "snnTorch", method=spec["method"])
    hint = "Use a smaller dt, or method=exact (exp(-dt/tau) is always in (0, 1))."
    if variant and not problems:
        hint = VARIANT_HINT
    problems += variant
    raise_unsupported(problems, "snnTorch", hint=hint, how=f" faithfully at dt={dt_value:g} s")
    return spec, values


def compile_class(source: str, class_name: str = "Net") -> type:
    """Execute our own generated source in a fresh namespace and return the class."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    filename = f"<nirhub-snntorch generated {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": f"nirhub_snntorch_generated_{digest}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - code we generated
    return namespace[class_name]


def instantiate(
    spec: dict[str, Any],
    values: dict[str, np.ndarray] | None,
    *,
    dtype: str = "float32",
    learn: bool = False,
) -> Any:
    import torch

    cls = compile_class(render_module(spec))
    model = cls(dtype=getattr(torch, dtype), learn=learn)
    if values is not None:
        state = model.state_dict()
        for key, value in values.items():
            if key not in state:  # pragma: no cover - codegen and prepare() disagree
                raise KeyError(f"generated model has no {key!r}")
            state[key] = torch.as_tensor(np.array(value)).to(state[key].dtype)
        model.load_state_dict(state)
    return model


def from_ir(
    graph: Graph,
    *,
    dt: float | None = None,
    method: str | None = None,
    reset: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
    learn: bool | None = None,
    **_: Any,
) -> Any:
    """Build the snnTorch model of ``graph`` (float32 unless ``dtype`` says otherwise)."""
    spec, values = prepare(graph, dt=dt, method=method, reset=reset)
    model = instantiate(spec, values, dtype=check_dtype(dtype, "float32"), learn=bool(learn))
    return to_device(model, device)
