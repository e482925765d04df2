"""NIR graph -> norse model.

The model is built by executing the very source that ``save`` writes, so the in-memory object
and the artifact cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from nirhub.backend import (
    Built,
    GeneratedModels,
    check_euler_decay,
    make_graph_plan,
    resolve_dt,
    resolve_method,
)
from nirhub.ir.graph import Graph
from nirhub_norse.codegen import generate, tensors
from nirhub_norse.framework import import_norse
from nirhub_norse.lowering import Lowered, lower

#: the models from_ir made, and how (``save`` writes the same source again)
MODELS = GeneratedModels("norse")


def lower_graph(
    graph: Graph, dt: Any = None, method: Any = None, reset: Any = None, fold: bool = True
) -> Lowered:
    """The framework-free half of the import: ``graph`` mapped to norse layers (raises
    ``UnsupportedError`` listing every node norse cannot run exactly)."""
    step = resolve_dt(graph, dt)
    how = resolve_method(graph, method)
    check_euler_decay(graph.walk(), step, how)
    plan = make_graph_plan(graph, "norse")
    return lower(plan, graph, step, how, reset, fold=fold)


def build_model(
    graph: Graph,
    *,
    dt: Any = None,
    method: Any = None,
    reset: Any = None,
    fold: bool = True,
    lowered: Lowered | None = None,
) -> Any:
    """Import ``graph`` into norse; see :mod:`nirhub_norse.lowering` for the mapping.

    ``lowered``: the graph's lowering for these options, when the check already made it.
    """
    low = lowered if lowered is not None else lower_graph(graph, dt, method, reset, fold)
    import_norse()  # once, quietly: the generated code imports it again
    model = MODELS.instantiate(Built(low, tensors(low), generate))
    model.eval()
    return model


def built_for(model: Any) -> Built | None:
    return MODELS.built_for(model)
