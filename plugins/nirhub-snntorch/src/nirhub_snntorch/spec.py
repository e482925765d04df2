"""The specification a generated snnTorch model is made from (JSON-ready, no arrays).

:func:`build_spec` flattens a graph, infers shapes, takes the reference simulator's execution
plan (units, back-edges, Delay rounding) and resolves every spiking node's reset mode; it also
keeps a skeleton of the original nested graph, so that :mod:`nirhub_snntorch.generated` can
export a (fine-tuned) generated model back to the same graph. :mod:`nirhub_snntorch.codegen`
turns the spec into Python source; the arrays go into the model's state dict.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

import numpy as np

from nirhub.backend import IRError, UsageError
from nirhub.ir.conventions import reset_mode
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub.ir.nodes import SPIKING_TYPES, Delay, Node

FORMAT = "nirhub-snntorch/1"
METHODS = ("euler", "exact")
HARMLESS = frozenset({"dead-end", "unreachable"})
#: attribute names a node key must not take in the generated class
RESERVED = frozenset(
    {
        "step",
        "forward",
        "initial_state",
        "dtype",
        "NIR_SPEC",
        "INPUTS",
        "OUTPUTS",
        "DT",
        "METHOD",
        "training",
        "state",
        "y",
        "x",
        "s",
    }
)


def encode(value: Any) -> Any:
    """Metadata value -> JSON-ready value (arrays and numpy scalars tagged, dtypes kept)."""
    if isinstance(value, dict):
        return {"__dict__": [[str(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return {
                "__array__": value.tolist(),
                "dtype": value.dtype.str,
                "shape": list(value.shape),
            }
        if value.dtype.kind in "SU":
            return {
                "__strings__": [str(v) for v in value.reshape(-1).tolist()],
                "shape": list(value.shape),
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
            return np.asarray(value["__array__"], dtype=np.dtype(value["dtype"])).reshape(
                value["shape"]
            )
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


def _static_fields(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in node.params().items():
        if isinstance(value, np.ndarray):
            continue
        if isinstance(value, tuple):
            out[name] = [int(v) for v in value]
        elif isinstance(value, (int, np.integer)):
            out[name] = int(value)
        else:
            out[name] = value
    return out


#: suffixes of the per-node attributes the code generator adds (``<key>_<suffix>``)
SUFFIXES = (
    "gain",
    "bias",
    "v0",
    "c_mem",
    "g_syn",
    "g_mem",
    "w_in",
    "p",
    "q",
    "c_syn",
    "b_s",
    "r",
    "v_reset",
    "weight",
    "scale",
    "threshold",
    "delay",
    "steps",
)


def _clashes(key: str, used: set[str]) -> bool:
    if key in used:
        return True
    for other in used:
        for suffix in SUFFIXES:
            if key == f"{other}_{suffix}" or other == f"{key}_{suffix}":
                return True
    return False


def _keys(paths: list[str]) -> dict[str, str]:
    """Python identifiers for the node paths (attribute names of the generated class).

    A key never shadows an ``nn.Module`` attribute and never equals another key plus one of
    the generated suffixes (node ``a`` has a buffer ``a_gain``; a node named ``a_gain`` gets
    another key).
    """
    from torch import nn

    keys: dict[str, str] = {}
    used: set[str] = set(RESERVED) | set(dir(nn.Module))
    for path in paths:
        base = re.sub(r"[^A-Za-z0-9_]", "_", path)[:60]  # ASCII: no NFKC look-alikes
        if not base or not base.isidentifier() or keyword.iskeyword(base) or base[0] == "_":
            base = "n_" + base.lstrip("_")
        key, i = base, 1
        while _clashes(key, used):
            key = f"{base}_x{i}"
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


def build_spec(
    graph: Graph, *, dt: float, method: str, reset: str | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The spec of ``graph`` at ``dt`` and its arrays by flat path."""
    from nirhub.backend import delay_steps, make_plan

    check_graph(graph)
    if method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    flat = flatten(graph)
    info = infer_shapes(graph)
    keys = _keys(list(flat.nodes))
    nodes: dict[str, Any] = {}
    arrays: dict[str, dict[str, np.ndarray]] = {}
    breaking: set[str] = set()
    for path, node in flat.nodes.items():
        in_shape, out_shape = info.inputs.get(path), info.outputs.get(path)
        if in_shape is None or out_shape is None:  # pragma: no cover - a validation problem
            raise IRError(f"the shape of {path} could not be inferred", node=path)
        fields = {k: v for k, v in node.params().items() if isinstance(v, np.ndarray)}
        arrays[path] = fields
        entry: dict[str, Any] = {
            "type": node.type_name,
            "path": path,
            "key": keys[path],
            "in_shape": list(in_shape),
            "out_shape": list(out_shape),
            "static": _static_fields(node),
            "arrays": {
                k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in fields.items()
            },
        }
        if node.type_name in SPIKING_TYPES:
            entry["reset"] = reset_mode(graph, path, reset)
            entry["reset_native"] = reset_mode(graph, path)
        if isinstance(node, Delay):
            raw = np.broadcast_to(np.asarray(node.delay, dtype=np.float64), tuple(in_shape))
            k = delay_steps(raw, dt)
            entry["steps"] = k.reshape(-1).tolist()
            if int(k.min()) >= 1:
                breaking.add(path)
        nodes[path] = entry
    plan = make_plan(flat, breaking)
    order = [p for u in plan.units for p in u.nodes]
    spec = {
        "format": FORMAT,
        "dt": float(dt),
        "method": method,
        "nodes": nodes,
        "order": order,
        "edges": [[s, d] for s, d in flat.edges if s in flat.nodes and d in flat.nodes],
        "inputs": list(flat.inputs),
        "outputs": list(flat.outputs),
        "back_edges": sorted([list(e) for e in plan.back_edges]),
        "breaking": sorted(breaking),
        "graph": _skeleton(graph),
    }
    return spec, arrays
