"""Small valid graphs, one per NIR primitive, and helpers to compare graphs by behaviour.

Every graph is ``Input -> node -> Output`` (the nested-graph case wraps ``Linear -> LIF`` in a
subgraph), carries ``dt`` in its metadata, and is driven hard enough by
:func:`random_inputs` that neurons spike within :data:`STEPS` steps, so a backend that gets a
threshold or a time constant wrong fails the comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nirhub.backend.probes import random_inputs
from nirhub.ir.conventions import set_dt
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    TYPE_NAMES,
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLI,
    CubaLIF,
    Delay,
    Flatten,
    I,
    Input,
    Linear,
    Output,
    Scale,
    SumPool2d,
    Threshold,
)

#: time step of the primitive graphs (seconds) and the number of steps they are run for
DT = 1e-4
STEPS = 25

#: the node type each primitive graph exercises, in the order of the NIR spec (every type but
#: the graph ports Input and Output)
PRIMITIVES: tuple[str, ...] = tuple(t for t in TYPE_NAMES if t not in ("Input", "Output"))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _wrap(node: Any, shape: tuple[int, ...], name: str) -> Graph:
    graph = Graph(
        {"input": Input(shape), name: node, "output": Output(None)},
        [("input", name), (name, "output")],
    )
    set_dt(graph.metadata, DT)
    return graph


def _primitive_node(type_name: str) -> tuple[Any, tuple[int, ...]]:
    r = _rng(sum(map(ord, type_name)))
    n = 3
    tau = np.array([1e-3, 2e-3, 5e-4])
    if type_name == "Affine":
        return Affine(r.normal(size=(3, 4)), r.normal(size=3)), (4,)
    if type_name == "Linear":
        return Linear(r.normal(size=(3, 4))), (4,)
    if type_name == "Scale":
        return Scale(np.array([0.5, 2.0, -1.5])), (n,)
    if type_name == "Conv1d":
        return Conv1d((8,), r.normal(size=(3, 2, 3)), 1, 1, 1, 1, r.normal(size=3)), (2, 8)
    if type_name == "Conv2d":
        return Conv2d((6, 6), r.normal(size=(3, 2, 3, 3)), 1, 1, 1, 1, r.normal(size=3)), (2, 6, 6)
    if type_name == "SumPool2d":
        return SumPool2d((2, 2), (2, 2), (0, 0)), (2, 4, 4)
    if type_name == "AvgPool2d":
        return AvgPool2d((2, 2), (2, 2), (0, 0)), (2, 4, 4)
    if type_name == "Flatten":
        return Flatten((2, 3, 4), start_dim=0, end_dim=-1), (2, 3, 4)
    if type_name == "Delay":
        return Delay(np.array([0.0, DT, 3 * DT])), (n,)
    if type_name == "Threshold":
        return Threshold(np.array([0.5, 1.0, 1.5])), (n,)
    if type_name == "I":
        return I(np.array([1.0, 0.5, 2.0])), (n,)
    if type_name == "IF":
        return IF(np.array([1.0, 0.5, 2.0]), np.full(n, 4e-4), np.zeros(n)), (n,)
    if type_name == "LI":
        return LI(tau, np.ones(n), np.zeros(n)), (n,)
    if type_name == "LIF":
        return LIF(tau, np.ones(n), np.zeros(n), np.full(n, 0.3), np.zeros(n)), (n,)
    if type_name == "CubaLI":
        return CubaLI(np.full(n, 5e-4), tau, np.ones(n), np.zeros(n)), (n,)
    if type_name == "CubaLIF":
        return CubaLIF(
            np.full(n, 5e-4), tau, np.ones(n), np.zeros(n), np.full(n, 0.1), np.zeros(n), np.ones(n)
        ), (n,)
    raise KeyError(type_name)


def primitive_graph(type_name: str) -> Graph:
    """``Input -> <type_name> -> Output`` (``NIRGraph``: a subgraph ``Linear -> LIF``)."""
    if type_name == "NIRGraph":
        r = _rng(7)
        inner = Graph(
            {
                "input": Input((4,)),
                "linear": Linear(r.normal(size=(3, 4)) + 1.0),
                "lif": LIF(np.full(3, 1e-3), np.ones(3), np.zeros(3), np.full(3, 0.3), np.zeros(3)),
                "output": Output(None),
            },
            [("input", "linear"), ("linear", "lif"), ("lif", "output")],
        )
        return _wrap(inner, (4,), "sub")
    node, shape = _primitive_node(type_name)
    return _wrap(node, shape, type_name.lower())


def primitive_graphs() -> dict[str, Graph]:
    """Every primitive graph, keyed by the node type it exercises."""
    return {t: primitive_graph(t) for t in PRIMITIVES}


def graphs_equal(a: Graph, b: Graph) -> bool:
    """Exact equality: same names, edges, values, dtypes and metadata."""
    return a == b


def simulate_outputs(
    graph: Graph, inputs: Mapping[str, np.ndarray], dt: float, **kwargs: Any
) -> list[np.ndarray]:
    """The graph's outputs under the reference simulator, in the order of its Output nodes."""
    from nirhub.sim import simulate

    result = simulate(graph, dict(inputs), dt, **kwargs)
    return [np.asarray(result.outputs[name]) for name in graph.outputs]


def behaviour_difference(
    expected: Graph,
    actual: Graph,
    *,
    dt: float = DT,
    steps: int = STEPS,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    **sim_options: Any,
) -> str:
    """ "" when both graphs compute the same outputs on the same random inputs, else why not.

    Inputs and outputs are matched by position, so backends may rename the ports. Each graph
    runs under its own recorded discretisation (``nirhub.method``) unless ``sim_options`` say
    otherwise (e.g. ``reset="subtract"``).
    """
    if len(expected.inputs) != len(actual.inputs):
        return f"{len(expected.inputs)} inputs became {len(actual.inputs)}"
    if len(expected.outputs) != len(actual.outputs):
        return f"{len(expected.outputs)} outputs became {len(actual.outputs)}"
    inputs = random_inputs(expected, steps, seed)
    renamed = {new: inputs[old] for old, new in zip(expected.inputs, actual.inputs, strict=True)}
    return compare_outputs(
        simulate_outputs(expected, inputs, dt, **sim_options),
        simulate_outputs(actual, renamed, dt, **sim_options),
        rtol=rtol,
        atol=atol,
        names=expected.outputs,
    )


def compare_outputs(
    expected: list[np.ndarray],
    actual: list[np.ndarray],
    *,
    rtol: float,
    atol: float,
    names: list[str] | None = None,
) -> str:
    """ "" when the output lists agree within tolerance, else a description of the worst miss."""
    names = names or [str(i) for i in range(len(expected))]
    if len(expected) != len(actual):
        return f"{len(expected)} outputs expected, got {len(actual)}"
    for name, e, a in zip(names, expected, actual, strict=True):
        e = np.asarray(e, dtype=np.float64)
        a = np.asarray(a, dtype=np.float64)
        if e.shape != a.shape:
            return f"output {name}: shape {e.shape} became {a.shape}"
        if not np.allclose(a, e, rtol=rtol, atol=atol):
            err = np.abs(a - e)
            i = np.unravel_index(int(np.argmax(err)), err.shape)
            return (
                f"output {name}: max |difference| {float(err[i]):.3g} at index {i} "
                f"(expected {float(e[i]):.6g}, got {float(a[i]):.6g}; rtol={rtol}, "
                f"atol={atol})"
            )
    return ""
