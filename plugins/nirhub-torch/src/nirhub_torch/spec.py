"""The model specification: a JSON-ready description of a graph for the runtime.

:func:`build_spec` turns a (validated) :class:`~nirhub.ir.graph.Graph` into the plain dict that
:class:`nirhub_torch.runtime.NIRModel` executes: the flattened nodes with their shapes and
non-array fields, the edges in fan-in order, the simulator's execution plan (units and
back-edges), the resolved reset mode of every spiking node, and a *skeleton* of the original
(nested) graph so that :mod:`nirhub_torch.export` can rebuild it with the module's parameters.
Arrays are not part of the spec; they live in the module's parameters (the state dict).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from nirhub.backend import IRError, Problem, UnsupportedError, UsageError, check_euler_decay
from nirhub.ir.conventions import get_variant, reset_mode
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub.ir.nodes import NEURON_TYPES, SPIKING_TYPES, Delay, Node

#: structural findings that do not prevent running a graph (same as the simulator)
HARMLESS = frozenset({"dead-end", "unreachable"})
METHODS = ("euler", "exact")
FORMAT = "nirhub-torch/1"


# --------------------------------------------------------------------------------------------
# metadata <-> JSON
# --------------------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """Metadata value -> JSON-ready value (arrays and numpy scalars tagged, dtypes kept)."""
    if isinstance(value, dict):
        return {"__dict__": [[str(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return {"__array__": value.tolist(), "dtype": value.dtype.str, "shape": value.shape}
        if value.dtype.kind in "SU":
            return {
                "__strings__": [str(v) for v in value.reshape(-1).tolist()],
                "shape": value.shape,
            }
        return {"__repr__": repr(value)}
    if isinstance(value, np.generic):
        return {"__scalar__": value.item(), "dtype": value.dtype.str}
    if isinstance(value, (list, tuple)):
        return {"__list__": [encode(v) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, bytes):
        return {"__bytes__": value.decode("utf-8", "replace")}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return {"__repr__": repr(value)}


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, dict):
        if "__dict__" in value:
            return {k: decode(v) for k, v in value["__dict__"]}
        if "__array__" in value:
            arr = np.asarray(value["__array__"], dtype=np.dtype(value["dtype"]))
            return arr.reshape(value["shape"])
        if "__strings__" in value:
            return np.asarray(value["__strings__"]).reshape(value["shape"])
        if "__scalar__" in value:
            return np.dtype(value["dtype"]).type(value["__scalar__"])
        if "__list__" in value:
            items = [decode(v) for v in value["__list__"]]
            return tuple(items) if value.get("tuple") else items
        if "__bytes__" in value:
            return value["__bytes__"].encode()
        if "__repr__" in value:
            return value["__repr__"]
    return value


# --------------------------------------------------------------------------------------------
# graph -> spec
# --------------------------------------------------------------------------------------------


def _static_fields(node: Node) -> dict[str, Any]:
    """Non-array fields as JSON values (stride, padding, groups, dims, shapes)."""
    out: dict[str, Any] = {}
    for name, value in node.params().items():
        if isinstance(value, np.ndarray):
            continue
        if isinstance(value, tuple):
            out[name] = [int(v) for v in value]
        elif isinstance(value, (int, np.integer)):
            out[name] = int(value)
        else:
            out[name] = value  # str ("same"/"valid") or None
    return out


def _array_fields(node: Node) -> dict[str, dict[str, Any]]:
    out = {}
    for name, value in node.params().items():
        if isinstance(value, np.ndarray):
            out[name] = {"shape": list(value.shape), "dtype": value.dtype.name}
    return out


def _keys(paths: list[str]) -> dict[str, str]:
    """Module keys (valid ``nn.ModuleDict`` names) for dotted paths, readable and unique."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    for path in paths:
        base = re.sub(r"[^0-9A-Za-z_]", "_", path) or "node"
        key, i = base, 1
        while key in used:
            key = f"{base}_{i}"
            i += 1
        used.add(key)
        keys[path] = key
    return keys


def _skeleton(graph: Graph, prefix: str = "") -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for name, node in graph.nodes.items():
        path = prefix + name
        if isinstance(node, Graph):
            nodes[name] = _skeleton(node, path + ".")
        else:
            nodes[name] = {"type": node.type_name, "path": path, "metadata": encode(node.metadata)}
    return {
        "type": "NIRGraph",
        "nodes": nodes,
        "edges": [list(e) for e in graph.edges],
        "metadata": encode(graph.metadata),
    }


def check_graph(graph: Any) -> None:
    if not isinstance(graph, Graph):
        raise UsageError(f"expected a nirhub Graph, got {type(graph).__name__}")
    problems = [p for p in graph.problems() if p.kind not in HARMLESS]
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise IRError(
            f"cannot import an invalid graph ({len(problems)} problem(s)):\n{listing}",
            problems=problems,
            hint="Run `nirhub validate` for details.",
        )


def delay_steps(delay: np.ndarray, dt: float) -> np.ndarray:
    """The simulator's rounding of a delay in seconds to whole steps."""
    from nirhub.backend import delay_steps as sim_delay_steps

    return sim_delay_steps(delay, dt)


def build_spec(
    graph: Graph, *, dt: float, method: str = "euler", reset: str | None = None
) -> dict[str, Any]:
    """The runtime specification of ``graph`` at time step ``dt`` (seconds)."""
    from nirhub.backend import make_plan

    check_graph(graph)
    if method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    flat = flatten(graph)
    check_euler_decay(flat.nodes.items(), float(dt), method)
    info = infer_shapes(graph)
    keys = _keys(list(flat.nodes))
    nodes: dict[str, Any] = {}
    breaking: set[str] = set()
    for path, node in flat.nodes.items():
        in_shape, out_shape = info.inputs.get(path), info.outputs.get(path)
        if in_shape is None or out_shape is None:  # pragma: no cover - a validation problem
            raise IRError(f"the shape of {path} could not be inferred", node=path)
        entry: dict[str, Any] = {
            "type": node.type_name,
            "path": path,
            "key": keys[path],
            "in_shape": list(in_shape),
            "out_shape": list(out_shape),
            "static": _static_fields(node),
            "arrays": _array_fields(node),
        }
        if node.type_name in SPIKING_TYPES:
            entry["reset"] = reset_mode(graph, path, reset)
            entry["reset_native"] = reset_mode(graph, path)
        if node.type_name in NEURON_TYPES:
            entry.update(_variant_entry(node, path, entry.get("reset")))
        if isinstance(node, Delay):
            raw = np.broadcast_to(np.asarray(node.delay, dtype=np.float64), tuple(in_shape))
            k = delay_steps(raw, dt)
            entry["steps"] = k.tolist()
            if int(k.min()) >= 1:
                breaking.add(path)
        nodes[path] = entry
    plan = make_plan(flat, breaking)
    edges = [[s, d] for s, d in flat.edges if s in flat.nodes and d in flat.nodes]
    return {
        "format": FORMAT,
        "dt": float(dt),
        "method": method,
        "nodes": nodes,
        "edges": edges,
        "inputs": list(flat.inputs),
        "outputs": list(flat.outputs),
        "units": [{"nodes": list(u.nodes), "cyclic": bool(u.cyclic)} for u in plan.units],
        "back_edges": sorted([list(e) for e in plan.back_edges]),
        "breaking": sorted(breaking),
        "graph": _skeleton(graph),
    }


def _variant_entry(node: Any, path: str, reset: str | None) -> dict[str, Any]:
    """The node's neuron variant as plain literals for the runtime (only non-defaults)."""
    variant = get_variant(node, path)
    out: dict[str, Any] = {}
    if variant.spikes == "multi":
        if reset not in ("zero", "subtract"):
            raise UnsupportedError(
                f"{path}: multi-spike output combines with reset zero or subtract only, "
                f"not {reset!r}",
                problems=[Problem(path, f"multi-spike with reset {reset!r}", kind="unsupported")],
            )
        out["spikes"] = "multi"
        if variant.max_spikes is not None:
            out["max_spikes"] = int(variant.max_spikes)
    if variant.threshold == ">=":
        out["threshold"] = ">="
    if variant.v_min is not None:
        out["v_min"] = np.asarray(variant.v_min, dtype=np.float64).tolist()
    if variant.discretization == "staged":
        out["discretization"] = "staged"
    return out


def arrays_of(graph: Graph) -> dict[str, dict[str, np.ndarray]]:
    """Every primitive's array fields, by flat path."""
    flat = flatten(graph)
    return {
        path: {k: v for k, v in node.params().items() if isinstance(v, np.ndarray)}
        for path, node in flat.nodes.items()
    }
