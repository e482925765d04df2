"""NIR graph -> rockpool model.

The model is built by executing the very source that ``save`` writes, so the in-memory object
and the artifact cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from nirhub.backend import Built, GeneratedModels, make_graph_plan, resolve_dt, resolve_method
from nirhub.ir.graph import Graph
from nirhub_rockpool.codegen import generate, tensors
from nirhub_rockpool.lowering import Lowered, lower

BLOCK_SAMNA = "samna"


#: the models from_ir made, and how (``save`` writes the same source again)
MODELS = GeneratedModels("rockpool")


def import_rockpool() -> None:
    """Import rockpool's torch modules with samna blocked.

    ``import rockpool`` probes for samna; the samna package on PyPI is a stub that pip-installs
    software when imported. A ``None`` entry in ``sys.modules`` makes the probe fail at once.
    """
    import sys

    sys.modules.setdefault(BLOCK_SAMNA, None)
    import rockpool.nn.modules  # noqa: F401


def lower_graph(
    graph: Graph, dt: Any = None, method: Any = None, reset: Any = None, fold: bool = True
) -> Lowered:
    """The framework-free half of the import: ``graph`` mapped to rockpool modules (raises
    ``UnsupportedError`` listing every node rockpool cannot run exactly).

    ``fold`` is accepted as the other generated-code backends take it; rockpool always folds
    (a gain goes into the LinearTorch before the neuron, else into a diagonal one)."""
    plan = make_graph_plan(graph, "rockpool")
    return lower(plan, graph, resolve_dt(graph, dt), resolve_method(graph, method), reset)


def build_model(
    graph: Graph,
    *,
    dt: Any = None,
    method: Any = None,
    reset: Any = None,
    fold: bool = True,
    lowered: Lowered | None = None,
) -> Any:
    """Import ``graph`` into rockpool; see :mod:`nirhub_rockpool.lowering` for the mapping.

    ``lowered``: the graph's lowering for these options, when a check already made it.
    """
    low = lowered if lowered is not None else lower_graph(graph, dt, method, reset)
    note = tie_note(graph, low, reset)
    if note is not None:
        import warnings

        from nirhub.backend import ConversionWarning

        warnings.warn(note, ConversionWarning, stacklevel=3)
    import_rockpool()
    return MODELS.instantiate(Built(low, tensors(low), generate))


def tie_note(graph: Graph, low: Lowered, reset: Any = None) -> str | None:
    """The warning for the nodes whose ties at the threshold rockpool cannot keep exact
    (:attr:`Lowered.inexact_ties`), with the measured effect; None when there are none or no
    tie changes a spike on the measurement input."""
    from nirhub.backend.ties import RATE, STEPS, tie_effects

    if not low.inexact_ties:
        return None
    effects = tie_effects(graph, low.dt, method=low.method, reset=reset)
    effects = [e for e in effects if e.path in low.inexact_ties and e.differing]
    if not effects:
        return None
    return (
        "rockpool cannot keep NIR's v > v_threshold exact where v lands exactly on the "
        "threshold at: "
        + "; ".join(f"{e.path} ({low.inexact_ties[e.path]})" for e in effects)
        + f". Measured with the reference simulator on {STEPS} steps of random input spikes "
        f"(rate {RATE}), firing at v >= v_threshold changes: "
        + "; ".join(e.describe() for e in effects)
        + ". Single-spike nodes are exact (nirhub raises their threshold by one float32 unit)."
    )


def built_for(model: Any) -> Built | None:
    return MODELS.built_for(model)
