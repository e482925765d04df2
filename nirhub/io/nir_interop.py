"""Conversion between nirhub graphs and objects of the reference ``nir`` package.

``nir`` is optional: it is imported when these functions are called, and a missing package is
a :class:`~nirhub.errors.BackendUnavailableError` with an install hint. Works with the nir 1.0.4
API (positional-friendly dataclasses, no ``v_reset``/``CubaLI``, no metadata on some nodes) and
the nir 1.0.8 API (keyword-only ``input_type``/``metadata``; ``NIRGraph(nodes, edges, metadata,
type_check)``). Every constructor is called with keyword arguments.

``to_nir`` builds the nir graph without running nir's type inference (which would add nodes to
the graph); with nir < 1.0.6 the same rules as the 1.0.4 file layout apply (see
:mod:`nirhub.io.writer`): what nir cannot express is refused, listing every node.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import numpy as np

from nirhub.errors import BackendUnavailableError, UnsupportedError
from nirhub.io.schema import FIELDS
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NODE_TYPES, Node


def _nir() -> Any:
    try:
        import nir
    except ImportError:
        raise BackendUnavailableError(
            "the 'nir' package is not installed",
            hint="Install it with: pip install nir  (needed only for to_nir/from_nir).",
        ) from None
    return nir


def _accepts(cls: type, name: str) -> bool:
    if dataclasses.is_dataclass(cls):
        if any(f.name == name for f in dataclasses.fields(cls)):
            return True
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def to_nir(graph: Graph) -> Any:
    """A ``nir.NIRGraph`` equivalent to ``graph`` (nested graphs included)."""
    nir = _nir()
    if not _accepts(nir.LIF, "v_reset"):
        from nirhub.io.writer import _plan

        _plan(graph, "1.0.4")  # raises UnsupportedError for what nir 1.0.4 cannot express
    return _to_nir_node(nir, graph, "")


def _to_nir_node(nir: Any, node: Node, path: str) -> Any:
    name = node.type_name
    cls = getattr(nir, name, None)
    if cls is None:
        raise UnsupportedError(f"{path or '<graph>'}: nir {nir.version} has no {name} node")
    kwargs: dict[str, Any] = {}
    if isinstance(node, Graph):
        prefix = path + "." if path else ""
        kwargs["nodes"] = {k: _to_nir_node(nir, v, prefix + k) for k, v in node.nodes.items()}
        kwargs["edges"] = [tuple(e) for e in node.edges]
        if _accepts(cls, "type_check"):
            kwargs["type_check"] = False
    elif name == "Input":
        kwargs["input_type"] = np.asarray(node.shape, dtype=np.int64)  # type: ignore[attr-defined]
    elif name == "Output":
        shape = node.shape  # type: ignore[attr-defined]
        kwargs["output_type"] = None if shape is None else np.asarray(shape, dtype=np.int64)
    else:
        for spec in FIELDS[name]:
            value = getattr(node, spec.name)
            if value is None and spec.name in ("v_reset", "w_in"):
                continue  # nir fills its own default (zeros / ones)
            if not _accepts(cls, spec.name):
                continue  # e.g. v_reset on nir < 1.0.6 (checked by _plan above)
            if spec.name == "input_type":  # Flatten
                value = None if value is None else np.asarray(value, dtype=np.int64)
            elif isinstance(value, tuple):
                if name == "Conv1d":
                    value = int(value[0])
                elif spec.name == "input_shape" or name.endswith("Pool2d"):
                    value = np.asarray(value, dtype=np.int64)
            kwargs[spec.name] = value
    if node.metadata and _accepts(cls, "metadata"):
        kwargs["metadata"] = _copy_md(node.metadata)
    return cls(**kwargs)


def _copy_md(md: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy_md(v) if isinstance(v, dict) else v for k, v in md.items()}


def _shape_of(value: Any, port: str) -> Any:
    if isinstance(value, dict):
        value = value.get(port, next(iter(value.values()), None) if value else None)
    return None if value is None else np.asarray(value).reshape(-1)


def from_nir(nir_node: Any) -> Graph:
    """A nirhub :class:`Graph` from a ``nir.NIRGraph`` (a single node is wrapped in a chain)."""
    node = _from_nir_node(nir_node, "")
    if isinstance(node, Graph):
        return node
    return Graph.from_list(node)


def _from_nir_node(obj: Any, path: str) -> Node:
    name = type(obj).__name__
    cls = NODE_TYPES.get(name)
    if cls is None:
        raise UnsupportedError(
            f"{path or '<root>'}: nir node type {name} has no nirhub equivalent",
            hint="NIR files can only hold the NIR v1 primitives.",
        )
    metadata = _copy_md(dict(getattr(obj, "metadata", None) or {}))
    if cls is Graph:
        prefix = path + "." if path else ""
        nodes = {k: _from_nir_node(v, prefix + k) for k, v in obj.nodes.items()}
        edges = [(str(s), str(d)) for s, d in obj.edges]
        return Graph(nodes, edges, metadata)
    if name == "Input":
        return cls(shape=_shape_of(obj.input_type, "input"), metadata=metadata)
    if name == "Output":
        return cls(shape=_shape_of(obj.output_type, "output"), metadata=metadata)
    kwargs: dict[str, Any] = {}
    for spec in FIELDS[name]:
        if spec.name == "input_type":  # Flatten
            kwargs["input_type"] = _shape_of(getattr(obj, "input_type", None), "input")
            continue
        value = getattr(obj, spec.name, None)
        if spec.kind in ("ints", "shape", "padding") and value is not None:
            if isinstance(value, (bytes, np.bytes_)):
                value = value.decode()
            elif not isinstance(value, str):
                value = np.asarray(value)
                if spec.kind == "shape" and value.ndim == 0:
                    value = value.reshape(1)  # Conv1d input_shape is a plain int in nir
        kwargs[spec.name] = value
    try:
        return cls(**kwargs, metadata=metadata)
    except Exception as exc:
        from nirhub.errors import IRError

        if isinstance(exc, IRError):
            raise IRError(f"{path}: {exc.message}", node=path, field=exc.field) from None
        raise
