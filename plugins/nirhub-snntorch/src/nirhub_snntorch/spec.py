"""The specification a generated snnTorch model is made from (JSON-ready, no arrays).

:func:`build_spec` is :func:`nirhub.backend.graphspec.build_graph_spec` in this backend's
format: it flattens a graph, infers shapes, takes the reference simulator's execution plan
(units, back-edges, Delay rounding) and resolves every spiking node's reset mode; it also keeps
a skeleton of the original nested graph, so that :mod:`nirhub_snntorch.generated` can export a
(fine-tuned) generated model back to the same graph. What is snnTorch's own: the node keys are
attribute names of the generated class (:func:`_keys`), the plan is one execution ``order``, and
a Delay's steps are one flat list. :mod:`nirhub_snntorch.codegen` turns the spec into Python
source; the arrays go into the model's state dict.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

import numpy as np

from nirhub.backend.graphspec import build_graph_spec
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import Node

__all__ = ["FORMAT", "build_spec"]

FORMAT = "nirhub-snntorch/1"

#: attribute names a node key must not take in the generated class
RESERVED = frozenset(
    {
        "step",
        "forward",
        "initial_state",
        "dtype",
        "NIR_SPEC",
        "INPUTS",
        "OUTPUTS",
        "DT",
        "METHOD",
        "training",
        "state",
        "y",
        "x",
        "s",
    }
)


#: suffixes of the per-node attributes the code generator adds (``<key>_<suffix>``)
SUFFIXES = (
    "gain",
    "bias",
    "v0",
    "c_mem",
    "g_syn",
    "g_mem",
    "w_in",
    "p",
    "q",
    "c_syn",
    "b_s",
    "r",
    "v_reset",
    "weight",
    "scale",
    "threshold",
    "delay",
    "steps",
)


def _clashes(key: str, used: set[str]) -> bool:
    if key in used:
        return True
    for other in used:
        for suffix in SUFFIXES:
            if key == f"{other}_{suffix}" or other == f"{key}_{suffix}":
                return True
    return False


def _keys(paths: list[str]) -> dict[str, str]:
    """Python identifiers for the node paths (attribute names of the generated class).

    A key never shadows an ``nn.Module`` attribute and never equals another key plus one of
    the generated suffixes (node ``a`` has a buffer ``a_gain``; a node named ``a_gain`` gets
    another key).
    """
    from torch import nn

    keys: dict[str, str] = {}
    used: set[str] = set(RESERVED) | set(dir(nn.Module))
    for path in paths:
        base = re.sub(r"[^A-Za-z0-9_]", "_", path)[:60]  # ASCII: no NFKC look-alikes
        if not base or not base.isidentifier() or keyword.iskeyword(base) or base[0] == "_":
            base = "n_" + base.lstrip("_")
        key, i = base, 1
        while _clashes(key, used):
            key = f"{base}_x{i}"
            i += 1
        used.add(key)
        keys[path] = key
    return keys


def _plan_fields(plan: Any) -> dict[str, Any]:
    return {"order": [p for u in plan.units for p in u.nodes]}


def _flat_steps(node: Node, path: str, entry: dict[str, Any]) -> None:
    if "steps" in entry:  # the generated code indexes a Delay's steps as one flat list
        entry["steps"] = np.ravel(entry["steps"]).tolist()


def build_spec(
    graph: Graph, *, dt: float, method: str, reset: str | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The spec of ``graph`` at ``dt`` and its arrays by flat path."""
    return build_graph_spec(
        graph,
        format=FORMAT,
        dt=dt,
        method=method,
        reset=reset,
        keys=_keys,
        plan_fields=_plan_fields,
        plan_after="nodes",
        node_fields=_flat_steps,
    )
