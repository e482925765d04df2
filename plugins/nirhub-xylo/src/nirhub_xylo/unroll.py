"""``-O unroll-conv=true``: convolutions as the dense weight matrices Xylo has.

A Conv1d/Conv2d on a ``(C, *spatial)`` input is a linear map; its dense matrix (column ``i`` =
the convolution of the ``i``-th unit input, computed with the reference simulator's own
``nirhub.sim.conv.ConvOp``) replaces it as a Linear/Affine, exactly. Everything Xylo sees is
then flat: Flatten nodes (full flattens only) are dropped, multi-dimensional neuron
populations and the Input become 1-D (row-major, as ``numpy.reshape``). The run hook flattens
the input the same way and reshapes outputs/recordings back.

Only top-level nodes are rewritten (a convolution inside a nested subgraph is refused), and
only when the dense matrix fits the chip: every unrolled layer needs as many inputs/neurons as
its flattened size, which the chip's limits then check.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nirhub.backend import Problem
from nirhub.ir.graph import Graph, infer_shapes
from nirhub.ir.nodes import Affine, Input, Linear, Output

#: refuse to build dense matrices larger than this many entries (the chips hold < 1e6)
MAX_ENTRIES = 4_000_000


def _problem(where: str, message: str) -> Problem:
    return Problem(where, message, kind="unsupported")


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value)).astype(int)
    return tuple(int(v) for v in np.broadcast_to(arr, (n,)))


def dense_matrix(node: Any, in_shape: tuple[int, ...]) -> np.ndarray:
    """The ``(prod(out), prod(in))`` matrix of a convolution on ``in_shape`` (no bias)."""
    from nirhub.backend import ConvOp

    nd = node.ndim_spatial
    padding = node.padding if isinstance(node.padding, str) else _tuple(node.padding, nd)
    op = ConvOp(
        np.asarray(node.weight, np.float64),
        None,
        _tuple(node.stride, nd),
        padding,
        _tuple(node.dilation, nd),
        int(node.groups),
        np.dtype(np.float64),
    )
    n_in = math.prod(in_shape)
    y = op(np.eye(n_in).reshape(n_in, *in_shape))
    return np.ascontiguousarray(y.reshape(n_in, -1).T)


def unroll_convolutions(graph: Graph) -> tuple[Graph, dict[str, tuple[int, ...]], list[Problem]]:
    """(rewritten graph, original shape of every node made 1-D, problems)."""
    info = infer_shapes(graph)
    problems: list[Problem] = []
    for path, node in graph.walk():
        if "." in path and node.type_name in ("Conv1d", "Conv2d"):
            problems.append(
                _problem(path, "a convolution inside a nested graph: unroll-conv rewrites "
                         "top-level nodes only; flatten the graph first")
            )  # fmt: skip
    if problems:
        return graph, {}, problems
    nodes: dict[str, Any] = {}
    flat_shapes: dict[str, tuple[int, ...]] = {}
    dropped: dict[str, str] = {}  # Flatten node -> its source
    preds = {d: s for s, d in graph.edges}
    for name, node in graph.nodes.items():
        out_shape = info.output(name)
        if node.type_name in ("Conv1d", "Conv2d"):
            in_shape = info.input(name)
            if in_shape is None or out_shape is None:
                problems.append(_problem(name, "its input shape is unknown; give the Input "
                                         "node a shape"))  # fmt: skip
                continue
            size = math.prod(in_shape) * math.prod(out_shape)
            if size > MAX_ENTRIES:
                problems.append(
                    _problem(name, f"unrolled it would be a {math.prod(out_shape)} x "
                             f"{math.prod(in_shape)} matrix, far beyond any Xylo chip")
                )  # fmt: skip
                continue
            w = dense_matrix(node, tuple(in_shape))
            if node.bias is None:
                nodes[name] = Linear(w, dict(node.metadata))
            else:
                bias = np.asarray(node.bias, np.float64).reshape(
                    (-1,) + (1,) * (len(out_shape) - 1)
                )
                nodes[name] = Affine(w, np.broadcast_to(bias, out_shape).reshape(-1),
                                     dict(node.metadata))  # fmt: skip
            flat_shapes[name] = tuple(out_shape)
        elif node.type_name == "Flatten":
            if out_shape is None or len(out_shape) != 1:
                problems.append(_problem(name, "a Flatten that leaves a multi-dimensional "
                                         "output: Xylo's populations are 1-D"))  # fmt: skip
                continue
            dropped[name] = preds.get(name, "")
        elif isinstance(node, Input):
            shape = tuple(int(s) for s in node.shape)
            nodes[name] = (
                Input((math.prod(shape),), dict(node.metadata)) if len(shape) > 1 else node
            )
            if len(shape) > 1:
                flat_shapes[name] = shape
        elif isinstance(node, Output):
            nodes[name] = Output(None, dict(node.metadata))
        elif out_shape is not None and len(out_shape) > 1 and not isinstance(node, Graph):
            changes = {}
            for field, value in node.params().items():
                arr = None if value is None else np.asarray(value)
                if arr is not None and arr.ndim > 0 and arr.size == math.prod(out_shape):
                    changes[field] = arr.reshape(-1)
                elif arr is not None and arr.ndim > 0:
                    changes[field] = np.broadcast_to(arr, out_shape).reshape(-1).copy()
            nodes[name] = node.replace(**changes)
            flat_shapes[name] = tuple(out_shape)
        else:
            nodes[name] = node
    if problems:
        return graph, {}, problems

    def source(name: str) -> str:
        while name in dropped:
            name = dropped[name]
        return name

    edges = [(source(s), d) for s, d in graph.edges if d not in dropped]
    return Graph(nodes, edges, dict(graph.metadata)), flat_shapes, []
