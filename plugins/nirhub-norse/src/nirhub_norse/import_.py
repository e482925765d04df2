"""NIR graph -> norse model.

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
from nirhub.sim.discretize import check_euler_decay
from nirhub_norse.codegen import generate, tensors
from nirhub_norse.lowering import Lowered, lower


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
    graph: Graph, *, dt: Any = None, method: Any = None, reset: Any = None, fold: bool = True
) -> Any:
    """Import ``graph`` into norse; see :mod:`nirhub_norse.lowering` for the mapping."""
    import torch

    step = resolve_dt(graph, dt)
    how = resolve_method(graph, method)
    check_euler_decay(graph.walk(), step, how)
    plan = make_graph_plan(graph, "norse")
    low = lower(plan, graph, step, how, reset, fold=fold)
    arrays = tensors(low)
    built = Built(low, arrays)
    module = types.ModuleType("nirhub_norse_generated")
    module.__file__ = "<nirhub-norse generated>"
    code = compile(built.source("model.pt", "norse model"), "<nirhub-norse generated>", "exec")
    exec(code, module.__dict__)  # our own generated code, not user input
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    model = module.build_model(weights)
    model.eval()
    _BUILT[model] = built
    return model


def built_for(model: Any) -> Built | None:
    return _BUILT.get(model)
