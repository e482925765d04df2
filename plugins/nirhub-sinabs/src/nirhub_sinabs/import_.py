"""NIR graph -> sinabs model.

The model is built by executing the very source that ``save`` writes, so the in-memory object
and the artifact cannot drift apart.
"""

from __future__ import annotations

import types
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from nirhub.hub.graphplan import make_graph_plan
from nirhub.hub.lowering import resolve_dt, resolve_method
from nirhub.ir.graph import Graph
from nirhub_sinabs.codegen import generate, tensors
from nirhub_sinabs.lowering import Lowered, lower


@dataclass
class Built:
    """What ``from_ir`` made, kept so ``save`` can write it."""

    lowered: Lowered
    tensors: dict[str, np.ndarray]

    def source(self, weights_file: str, title: str) -> str:
        from nirhub import __version__

        return generate(self.lowered, weights_file=weights_file, title=title, version=__version__)


#: models made by from_ir -> how they were made (weak: forgets models nobody holds)
_BUILT: weakref.WeakKeyDictionary[Any, Built] = weakref.WeakKeyDictionary()


def build_model(
    graph: Graph,
    *,
    dt: Any = None,
    method: Any = None,
    reset: Any = None,
    fold: bool = True,
    batch_size: int = 1,
    exact_ties: bool = True,
) -> Any:
    """Import ``graph`` into sinabs; see :mod:`nirhub_sinabs.lowering` for the mapping."""
    import torch

    step = resolve_dt(graph, dt)
    how = resolve_method(graph, method)
    plan = make_graph_plan(graph, "sinabs")
    low = lower(plan, graph, step, how, reset, fold=fold, exact_ties=exact_ties)
    arrays = tensors(low)
    built = Built(low, arrays)
    module = types.ModuleType("nirhub_sinabs_generated")
    module.__file__ = "<nirhub-sinabs generated>"
    code = compile(built.source("model.pt", "sinabs model"), "<nirhub-sinabs generated>", "exec")
    exec(code, module.__dict__)  # our own generated code, not user input
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    if low.plan.is_chain():
        model = module.build_model(weights, batch_size=int(batch_size))
    else:
        model = module.build_model(weights)
    model.eval()
    _BUILT[model] = built
    return model


def built_for(model: Any) -> Built | None:
    return _BUILT.get(model)
