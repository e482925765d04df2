"""Probe inputs a plugin may drive a graph with to check a rewrite by simulation."""

from __future__ import annotations

import numpy as np

from nirhub.ir.graph import Graph, infer_shapes

__all__ = ["random_inputs"]


def random_inputs(graph: Graph, steps: int = 25, seed: int = 0) -> dict[str, np.ndarray]:
    """Drive every Input with non-negative noise (mean about 1), time first: ``(steps, *shape)``."""
    info = infer_shapes(graph)
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        shape = info.outputs[name] or graph.nodes[name].shape  # type: ignore[attr-defined]
        out[name] = rng.uniform(0.0, 2.0, size=(steps, *shape))
    return out
