"""NIR graph -> rockpool model.

The model is built by executing the very source that ``save`` writes, so the in-memory object
and the artifact cannot drift apart.
"""

from __future__ import annotations

import types
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from nirhub.backend import make_graph_plan, resolve_dt, resolve_method
from nirhub.ir.graph import Graph
from nirhub_rockpool.codegen import generate, tensors
from nirhub_rockpool.lowering import Lowered, lower

BLOCK_SAMNA = "samna"


@dataclass
class Built:
    """What ``from_ir`` made, kept so ``save`` can write it."""

    lowered: Lowered
    tensors: dict[str, np.ndarray]

    def source(self, weights_file: str, title: str) -> str:
        from nirhub.backend import __version__

        return generate(self.lowered, weights_file=weights_file, title=title, version=__version__)


#: models made by from_ir -> how they were made (weak: forgets models nobody holds)
_BUILT: weakref.WeakKeyDictionary[Any, Built] = weakref.WeakKeyDictionary()


def import_rockpool() -> None:
    """Import rockpool's torch modules with samna blocked.

    ``import rockpool`` probes for samna; the samna package on PyPI is a stub that pip-installs
    software when imported. A ``None`` entry in ``sys.modules`` makes the probe fail at once.
    """
    import sys

    sys.modules.setdefault(BLOCK_SAMNA, None)
    import rockpool.nn.modules  # noqa: F401


def lower_graph(graph: Graph, dt: Any = None, method: Any = None, reset: Any = None) -> Lowered:
    """The framework-free half of the import: ``graph`` mapped to rockpool modules (raises
    ``UnsupportedError`` listing every node rockpool cannot run exactly)."""
    plan = make_graph_plan(graph, "rockpool")
    return lower(plan, graph, resolve_dt(graph, dt), resolve_method(graph, method), reset)


def build_model(
    graph: Graph,
    *,
    dt: Any = None,
    method: Any = None,
    reset: Any = None,
    lowered: Lowered | None = None,
) -> Any:
    """Import ``graph`` into rockpool; see :mod:`nirhub_rockpool.lowering` for the mapping.

    ``lowered``: the graph's lowering for these options, when a check already made it.
    """
    import torch

    low = lowered if lowered is not None else lower_graph(graph, dt, method, reset)
    arrays = tensors(low)
    built = Built(low, arrays)
    import_rockpool()
    module = types.ModuleType("nirhub_rockpool_generated")
    module.__file__ = "<nirhub-rockpool generated>"
    code = compile(
        built.source("model.pt", "rockpool model"), "<nirhub-rockpool generated>", "exec"
    )
    exec(code, module.__dict__)  # our own generated code, not user input
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    model = module.build_model(weights)
    _BUILT[model] = built
    return model


def built_for(model: Any) -> Built | None:
    return _BUILT.get(model)
