"""The model specification: a JSON-ready description of a graph for the runtime.

:func:`build_spec` is :func:`nirhub.backend.graphspec.build_graph_spec` in this backend's
format: the plain dict that :class:`nirhub_torch.runtime.NIRModel` executes, with the flattened
nodes, their shapes and non-array fields, the edges in fan-in order, the simulator's execution
plan (units and back-edges), the resolved reset mode of every spiking node, and a *skeleton* of
the original (nested) graph so that :mod:`nirhub_torch.export` can rebuild it with the module's
parameters. What is the runtime's own: node keys are ``nn.ModuleDict`` names (:func:`_keys`),
the plan is its strongly connected ``units``, neurons carry their variant (multi-spike, ``>=``,
``v_min``, staged), and Euler decay factors outside (0, 1) are refused for the whole graph.
Arrays are not part of the spec; they live in the module's parameters (the state dict).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from nirhub.backend import Problem, UnsupportedError
from nirhub.backend.graphspec import build_graph_spec
from nirhub.ir.conventions import get_variant
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NEURON_TYPES, Node

__all__ = ["FORMAT", "build_spec"]

FORMAT = "nirhub-torch/1"


def _keys(paths: list[str]) -> dict[str, str]:
    """Module keys (valid ``nn.ModuleDict`` names) for dotted paths, readable and unique."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    for path in paths:
        base = re.sub(r"[^0-9A-Za-z_]", "_", path) or "node"
        key, i = base, 1
        while key in used:
            key = f"{base}_{i}"
            i += 1
        used.add(key)
        keys[path] = key
    return keys


def _plan_fields(plan: Any) -> dict[str, Any]:
    return {"units": [{"nodes": list(u.nodes), "cyclic": bool(u.cyclic)} for u in plan.units]}


def _variant_fields(node: Node, path: str, entry: dict[str, Any]) -> None:
    """A neuron's variant as plain literals for the runtime (only non-defaults)."""
    if node.type_name not in NEURON_TYPES:
        return
    variant = get_variant(node, path)
    reset = entry.get("reset")
    if variant.spikes == "multi":
        if reset not in ("zero", "subtract"):
            raise UnsupportedError(
                f"{path}: multi-spike output combines with reset zero or subtract only, "
                f"not {reset!r}",
                problems=[Problem(path, f"multi-spike with reset {reset!r}", kind="unsupported")],
            )
        entry["spikes"] = "multi"
        if variant.max_spikes is not None:
            entry["max_spikes"] = int(variant.max_spikes)
    if variant.threshold == ">=":
        entry["threshold"] = ">="
    if variant.v_min is not None:
        entry["v_min"] = np.asarray(variant.v_min, dtype=np.float64).tolist()
    if variant.discretization == "staged":
        entry["discretization"] = "staged"


def build_spec(
    graph: Graph, *, dt: float, method: str = "euler", reset: str | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The runtime specification of ``graph`` at time step ``dt`` (seconds), and its arrays
    by flat path (what :func:`nirhub_torch.import_.load_arrays` copies into the module)."""
    return build_graph_spec(
        graph,
        format=FORMAT,
        dt=dt,
        method=method,
        reset=reset,
        keys=_keys,
        plan_fields=_plan_fields,
        plan_after="outputs",
        node_fields=_variant_fields,
        check_decay=True,
    )
