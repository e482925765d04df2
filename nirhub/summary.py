"""What is in a graph: nodes, shapes, parameter statistics, neuron and synapse counts.

``summarize`` is the Python API behind ``nirhub inspect``. It reads a ``.nir`` file tolerantly
(a defective file can still be looked at; every repair and remaining problem is reported), or
takes an in-memory :class:`~nirhub.ir.graph.Graph`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.errors import Problem, UsageError
from nirhub.ir.conventions import namespace
from nirhub.ir.graph import Graph, infer_shapes
from nirhub.ir.nodes import NEURON_TYPES, Node

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ParamSummary:
    """One parameter of one node: an array (dtype, shape, statistics) or a plain value."""

    name: str
    dtype: str | None = None
    shape: Shape | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    #: small non-array parameters (stride, padding, start_dim, ...) are kept as they are
    value: Any = None

    @property
    def is_array(self) -> bool:
        return self.dtype is not None

    def to_json(self) -> dict[str, Any]:
        if not self.is_array:
            return {"name": self.name, "value": _plain(self.value)}
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape or ()),
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
        }


@dataclass(frozen=True)
class NodeSummary:
    path: str
    type: str
    input_shape: Shape | None
    output_shape: Shape | None
    neurons: int
    synapses: int
    params: tuple[ParamSummary, ...]
    metadata: dict[str, Any]
    #: dotted paths of the nodes inside, for a nested graph
    children: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": self.type,
            "input_shape": _shape_json(self.input_shape),
            "output_shape": _shape_json(self.output_shape),
            "neurons": self.neurons,
            "synapses": self.synapses,
            "params": [p.to_json() for p in self.params],
            "metadata": _plain(self.metadata),
            "children": list(self.children),
        }


@dataclass
class GraphSummary:
    """Everything ``nirhub inspect`` shows."""

    source: str
    #: the file's ``/version`` string (None for in-memory graphs and files without one)
    file_version: str | None
    nodes: list[NodeSummary]
    #: top-level node names in order (the roots of the tree)
    top_level: list[str]
    edges: list[tuple[str, str]]
    inputs: dict[str, Shape | None]
    outputs: dict[str, Shape | None]
    neurons: int
    synapses: int
    parameters: int
    type_counts: dict[str, int]
    metadata: dict[str, Any]
    dt: float | None
    reset: str | None
    #: what a tolerant read repaired or assumed (strings ``location: message; assumed``)
    warnings: list[str] = field(default_factory=list)
    #: validation problems that remain in the graph as read
    problems: list[Problem] = field(default_factory=list)

    def node(self, path: str) -> NodeSummary:
        for n in self.nodes:
            if n.path == path:
                return n
        raise KeyError(path)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file_version": self.file_version,
            "counts": {
                "nodes": len(self.nodes),
                "edges": len(self.edges),
                "neurons": self.neurons,
                "synapses": self.synapses,
                "parameters": self.parameters,
                "types": dict(self.type_counts),
            },
            "dt": self.dt,
            "reset": self.reset,
            "inputs": {k: _shape_json(v) for k, v in self.inputs.items()},
            "outputs": {k: _shape_json(v) for k, v in self.outputs.items()},
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [list(e) for e in self.edges],
            "metadata": _plain(self.metadata),
            "warnings": list(self.warnings),
            "problems": [
                {"where": p.where, "field": p.field, "kind": p.kind, "message": p.message}
                for p in self.problems
            ],
        }


def summarize(source: Graph | str | os.PathLike[str]) -> GraphSummary:
    """Summarize a graph or a ``.nir`` file (read tolerantly; see the module docstring)."""
    warnings: list[str] = []
    version: str | None = None
    if isinstance(source, Graph):
        graph, name = source, "<graph>"
    else:
        from nirhub.io import read

        if not Path(source).exists():
            raise UsageError(f"{os.fspath(source)}: no such file", hint="Check the path.")
        result = read(Path(source), strict=False)
        graph, name, version = result.graph, os.fspath(source), result.version
        warnings = [str(w) for w in result.warnings]
    return summarize_graph(graph, source=name, file_version=version, warnings=warnings)


def summarize_graph(
    graph: Graph,
    *,
    source: str = "<graph>",
    file_version: str | None = None,
    warnings: list[str] | None = None,
) -> GraphSummary:
    shapes = infer_shapes(graph)
    nodes: list[NodeSummary] = []
    type_counts: dict[str, int] = {}
    parameters = 0
    for path, node in graph.walk():
        type_counts[node.type_name] = type_counts.get(node.type_name, 0) + 1
        params = _params(node)
        parameters += sum(int(np.prod(p.shape)) for p in params if p.is_array and p.shape)
        is_graph = isinstance(node, Graph)
        nodes.append(
            NodeSummary(
                path=path,
                type=node.type_name,
                input_shape=_shape(shapes.inputs.get(path)),
                output_shape=_shape(shapes.outputs.get(path)),
                neurons=_neurons(node, shapes.inputs.get(path)),
                synapses=node.num_synapses(),
                params=params,
                metadata=dict(node.metadata),
                children=tuple(f"{path}.{c}" for c in node.nodes) if is_graph else (),
            )
        )
    ns = namespace(graph.metadata)
    dt = ns.get("dt")
    return GraphSummary(
        source=source,
        file_version=file_version,
        nodes=nodes,
        top_level=list(graph.nodes),
        edges=list(graph.edges),
        inputs={n: _shape(shapes.outputs.get(n)) for n in graph.inputs},
        outputs={n: _shape(shapes.inputs.get(n)) for n in graph.outputs},
        neurons=graph.num_neurons(),
        synapses=graph.num_synapses(),
        parameters=parameters,
        type_counts=type_counts,
        metadata=dict(graph.metadata),
        dt=float(dt) if isinstance(dt, (int, float)) else None,
        reset=ns.get("reset") if isinstance(ns.get("reset"), str) else None,
        warnings=list(warnings or []),
        problems=graph.problems(),
    )


def _neurons(node: Node, input_shape: Any) -> int:
    """A node's neurons; all-scalar parameters (Norse's exports) count the inferred shape."""
    count = node.num_neurons()
    if not count and node.type_name in NEURON_TYPES and getattr(node, "shape", 0) is None:
        return int(np.prod(input_shape)) if input_shape is not None else 0
    return count


def _params(node: Node) -> tuple[ParamSummary, ...]:
    if isinstance(node, Graph):
        return ()
    out = []
    for name, value in node.params().items():
        if value is None:
            continue
        if isinstance(value, np.ndarray):
            out.append(_array_summary(name, value))
        else:
            out.append(ParamSummary(name, value=value))
    return tuple(out)


#: elements per step when computing statistics (bounded extra memory for any array size)
_STATS_CHUNK = 1 << 20


def _array_summary(name: str, value: np.ndarray) -> ParamSummary:
    stats: dict[str, float | None] = {"min": None, "max": None, "mean": None}
    if value.size and np.issubdtype(value.dtype, np.number):
        stats = _streamed_stats(value)
    return ParamSummary(name, dtype=str(value.dtype), shape=tuple(value.shape), **stats)


def _streamed_stats(value: np.ndarray) -> dict[str, float | None]:
    """min, max and mean, chunk by chunk: no float64 copy of the whole array (a 1 GiB float32
    weight would need 2 GiB more); the sum accumulates in float64 as before."""
    flat = value.reshape(-1)  # a view for the contiguous arrays the reader returns
    lo = hi = None
    total = 0.0
    complex_ = np.iscomplexobj(flat)
    for start in range(0, flat.size, _STATS_CHUNK):
        part = flat[start : start + _STATS_CHUNK]
        if complex_:
            part = part.real
        p_lo, p_hi = part.min(), part.max()
        lo = p_lo if lo is None else min(lo, p_lo, key=_nan_first)
        hi = p_hi if hi is None else max(hi, p_hi, key=_nan_last)
        total += float(np.sum(part, dtype=np.float64))
    return {"min": float(lo), "max": float(hi), "mean": total / flat.size}


def _nan_first(x: Any) -> float:
    """Sort key for ``min`` that lets a NaN win, as ``np.min`` over the whole array does."""
    return -np.inf if np.isnan(x) else float(x)


def _nan_last(x: Any) -> float:
    return np.inf if np.isnan(x) else float(x)


def _shape(value: Any) -> Shape | None:
    return None if value is None else tuple(int(x) for x in value)


def _shape_json(shape: Shape | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _plain(value: Any) -> Any:
    """JSON-friendly copy of metadata values (numpy arrays/scalars, bytes, tuples)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
