"""A graph as a JSON-ready specification: what snnTorch's and torch's generated models carry.

The ``snntorch`` and ``torch`` backends turn a graph into a plain dict (lists, strings and
numbers only), embed it in the Python source they generate (``NIR_SPEC``/``SPEC``) and keep the
arrays in the model's state dict. The spec holds the flattened nodes with their shapes and
non-array fields, the edges, the reference simulator's execution plan (back-edges, Delay
rounding), the resolved reset mode of every spiking node, and a *skeleton* of the original
nested graph (names, edges, metadata) so that a (fine-tuned) model exports back to the same
graph. What differs between the two formats is passed in: the format name, how node paths
become Python names, the fields of the execution plan and where they stand, and per-node
extras.

Numpy is imported here (plugins import this module when a graph is imported, not at start-up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nirhub.errors import IRError, UsageError
from nirhub.ir.conventions import check_method, reset_mode
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub.ir.nodes import SPIKING_TYPES, Delay, Node

__all__ = [
    "HARMLESS",
    "array_fields",
    "build_graph_spec",
    "check_graph",
    "decode",
    "encode",
    "rebuild_graph",
    "rebuild_node",
    "skeleton",
    "static_fields",
]

#: structural findings that do not prevent running a graph (same as the simulator)
HARMLESS = frozenset({"dead-end", "unreachable"})

#: ``(node, path, entry)`` -> None: adds a format's own fields to a node's entry
NodeFields = Callable[[Node, str, dict[str, Any]], None]


# --------------------------------------------------------------------------------------------
# metadata <-> JSON
# --------------------------------------------------------------------------------------------


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


def check_graph(graph: Any) -> None:
    """Refuse anything but a valid :class:`Graph` (dead ends and unreachable nodes are fine)."""
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


def static_fields(node: Node) -> dict[str, Any]:
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


def array_fields(node: Node) -> dict[str, np.ndarray]:
    """The node's array fields (what goes into the model's state dict)."""
    return {k: v for k, v in node.params().items() if isinstance(v, np.ndarray)}


def skeleton(graph: Graph, prefix: str = "") -> dict[str, Any]:
    """The nested graph without its arrays: names, types, flat paths, edges, metadata."""
    nodes: dict[str, Any] = {}
    for name, node in graph.nodes.items():
        path = prefix + name
        if isinstance(node, Graph):
            nodes[name] = skeleton(node, path + ".")
        else:
            nodes[name] = {"type": node.type_name, "path": path, "metadata": encode(node.metadata)}
    return {
        "type": "NIRGraph",
        "nodes": nodes,
        "edges": [list(e) for e in graph.edges],
        "metadata": encode(graph.metadata),
    }


def build_graph_spec(
    graph: Graph,
    *,
    format: str,
    dt: float,
    method: str,
    reset: str | None,
    keys: Callable[[list[str]], dict[str, str]],
    plan_fields: Callable[[Any], dict[str, Any]],
    plan_after: str,
    node_fields: NodeFields | None = None,
    check_decay: bool = False,
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The spec of ``graph`` at time step ``dt`` (seconds) and its arrays by flat path.

    ``keys`` names the flat paths as the generated code needs (each format has its rules);
    ``plan_fields(plan)`` gives the execution plan's fields in the format's spelling, placed
    right after the spec's field ``plan_after`` (the generated source prints the spec in
    order); ``node_fields`` adds a format's own fields to each node's entry. ``check_decay``
    refuses Euler steps whose decay factor leaves (0, 1) (a format that reports them per node
    itself passes False).
    """
    from nirhub.sim.engine import delay_steps
    from nirhub.sim.plan import make_plan

    check_graph(graph)
    check_method(method)
    flat = flatten(graph)
    if check_decay:
        from nirhub.sim.discretize import check_euler_decay

        check_euler_decay(flat.nodes.items(), float(dt), method)
    info = infer_shapes(graph)
    names = keys(list(flat.nodes))
    nodes: dict[str, Any] = {}
    arrays: dict[str, dict[str, np.ndarray]] = {}
    breaking: set[str] = set()
    for path, node in flat.nodes.items():
        in_shape, out_shape = info.inputs.get(path), info.outputs.get(path)
        if in_shape is None or out_shape is None:  # pragma: no cover - a validation problem
            raise IRError(f"the shape of {path} could not be inferred", node=path)
        arrays[path] = array_fields(node)
        entry: dict[str, Any] = {
            "type": node.type_name,
            "path": path,
            "key": names[path],
            "in_shape": list(in_shape),
            "out_shape": list(out_shape),
            "static": static_fields(node),
            "arrays": {
                k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in arrays[path].items()
            },
        }
        if node.type_name in SPIKING_TYPES:
            entry["reset"] = reset_mode(graph, path, reset)
            entry["reset_native"] = reset_mode(graph, path)
        if isinstance(node, Delay):
            raw = np.broadcast_to(np.asarray(node.delay, dtype=np.float64), tuple(in_shape))
            steps = delay_steps(raw, dt)
            entry["steps"] = steps.tolist()
            if int(steps.min()) >= 1:
                breaking.add(path)
        if node_fields is not None:
            node_fields(node, path, entry)
        nodes[path] = entry
    plan = make_plan(flat, breaking)
    common = {
        "format": format,
        "dt": float(dt),
        "method": method,
        "nodes": nodes,
        "edges": [[s, d] for s, d in flat.edges if s in flat.nodes and d in flat.nodes],
        "inputs": list(flat.inputs),
        "outputs": list(flat.outputs),
    }
    spec: dict[str, Any] = {}
    for name, value in common.items():
        spec[name] = value
        if name == plan_after:
            spec.update(plan_fields(plan))
    spec["back_edges"] = sorted([list(e) for e in plan.back_edges])
    spec["breaking"] = sorted(breaking)
    spec["graph"] = skeleton(graph)
    return spec, arrays


# --------------------------------------------------------------------------------------------
# spec (+ the model's current arrays) -> graph
# --------------------------------------------------------------------------------------------


def rebuild_node(
    skel: dict[str, Any], entry: dict[str, Any], fields: dict[str, Any], *, hint: str
) -> Node:
    """The primitive of ``skel`` (a skeleton leaf) with ``fields`` (its static fields and its
    arrays as the model has them now).

    Its metadata is the original one; a reset mode the model was built with in place of the
    recorded one (``entry["reset"]``) is recorded on the node. A field that no longer makes a
    valid node (a fine-tuned time constant that became negative) is an :class:`IRError`
    naming the node, with ``hint``.
    """
    from nirhub.ir.conventions import NAMESPACE
    from nirhub.ir.nodes import NODE_TYPES

    path = skel["path"]
    metadata = decode(skel["metadata"])
    reset = entry.get("reset")
    if reset is not None and reset != entry.get("reset_native"):
        ns = dict(metadata.get(NAMESPACE, {}))
        ns["reset"] = reset
        metadata[NAMESPACE] = ns
    try:
        return NODE_TYPES[skel["type"]](**fields, metadata=metadata)
    except IRError as exc:
        raise IRError(
            f"node {path!r}: {exc.message}", node=path, field=exc.field, hint=hint
        ) from None


def rebuild_graph(skel: dict[str, Any], primitive: Callable[[dict[str, Any]], Node]) -> Graph:
    """The nested graph of the skeleton ``skel``, each leaf made by ``primitive(leaf)``."""
    nodes: dict[str, Node] = {}
    for name, sub in skel["nodes"].items():
        nodes[name] = rebuild_graph(sub, primitive) if sub["type"] == "NIRGraph" else primitive(sub)
    return Graph(nodes, [tuple(e) for e in skel["edges"]], decode(skel["metadata"]))
