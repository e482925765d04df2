"""NIR graph -> sinabs model.

The model is built by executing the very source that ``save`` writes, so the in-memory object
and the artifact cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from nirhub.backend import Built, GeneratedModels, make_graph_plan, resolve_dt, resolve_method
from nirhub.ir.graph import Graph
from nirhub_sinabs.codegen import generate, tensors
from nirhub_sinabs.lowering import Lowered, lower

#: the models from_ir made, and how (``save`` writes the same source again)
MODELS = GeneratedModels("sinabs")


def lower_graph(
    graph: Graph,
    dt: Any = None,
    method: Any = None,
    reset: Any = None,
    fold: bool = True,
    exact_ties: bool = True,
) -> Lowered:
    """The framework-free half of the import: ``graph`` mapped to sinabs layers (raises
    ``UnsupportedError`` listing every node sinabs cannot run exactly)."""
    plan = make_graph_plan(graph, "sinabs")
    step, how = resolve_dt(graph, dt), resolve_method(graph, method)
    return lower(plan, graph, step, how, reset, fold=fold, exact_ties=exact_ties)


def build_model(
    graph: Graph,
    *,
    dt: Any = None,
    method: Any = None,
    reset: Any = None,
    fold: bool = True,
    batch_size: int = 1,
    lowered: Lowered | None = None,
    exact_ties: bool = True,
) -> Any:
    """Import ``graph`` into sinabs; see :mod:`nirhub_sinabs.lowering` for the mapping.

    ``lowered``: the graph's lowering for these options, when the check already made it.
    """
    low = (
        lowered if lowered is not None else lower_graph(graph, dt, method, reset, fold, exact_ties)
    )
    built = Built(low, tensors(low), generate)
    if low.plan.is_chain():
        model = MODELS.instantiate(built, batch_size=int(batch_size))
    else:
        model = MODELS.instantiate(built)
    model.eval()
    return model


def built_for(model: Any) -> Built | None:
    return MODELS.built_for(model)
