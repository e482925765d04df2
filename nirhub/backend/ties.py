"""Ties at the threshold: how much it matters, measured, for targets that cannot keep them.

NIR fires at ``v > v_threshold``. On integer and dyadic networks (integer weights, thresholds
2 and 3, binary input: what Speck and Loihi users deploy) the membrane lands *exactly* on the
threshold all the time, so any platform that fires at ``>=``, or whose arithmetic does not keep
the network's integer ratios (weights folded by ``1/threshold``, 127 units per threshold), may
spike where NIR does not. A target that cannot make ties exact says so per conversion, with the
nodes and the measured effect, computed here with the reference simulator: the graph on
seeded random input spikes, once as NIR defines it and once firing at ``v >= v_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nirhub.ir.nodes import SPIKING_TYPES

#: the measurement: steps, input spike probability per step and channel, seed
STEPS = 200
RATE = 0.3
SEED = 0


@dataclass(frozen=True)
class TieEffect:
    """One spiking node: its spikes with ``>`` and with ``>=`` on the same input."""

    path: str
    spikes: int
    differing: int
    cells: int

    def describe(self) -> str:
        return f"{self.path}: {self.differing} of {self.cells} cells ({self.spikes} spikes)"


def tie_effects(
    graph: Any, dt: float, *, method: str | None = None, reset: str | None = None
) -> list[TieEffect]:
    """Per spiking node, how many (step, neuron) cells change when ties fire (empty when the
    graph has no Input node or cannot be simulated as given)."""
    from nirhub.errors import NirhubError
    from nirhub.ir.conventions import set_variant
    from nirhub.ir.graph import Graph, flatten, infer_shapes
    from nirhub.sim import simulate

    flat = flatten(graph)
    paths = [p for p, n in flat.nodes.items() if n.type_name in SPIKING_TYPES]
    if not paths or not flat.inputs:
        return []
    shapes = infer_shapes(graph).outputs
    rng = np.random.default_rng(SEED)
    inputs = {
        name: (rng.random((STEPS, *shapes[name])) < RATE).astype(np.float64) for name in flat.inputs
    }

    def at_least(g: Graph) -> Graph:
        nodes = {}
        for name, node in g.nodes.items():
            if isinstance(node, Graph):
                nodes[name] = at_least(node)
            elif node.type_name in SPIKING_TYPES:
                md = dict(node.metadata)
                set_variant(md, threshold=">=")
                nodes[name] = node.replace(metadata=md)
            else:
                nodes[name] = node
        return g.replace(nodes=nodes)

    try:
        strict = simulate(graph, inputs, dt, method=method, reset=reset, record=paths)
        loose = simulate(at_least(graph), inputs, dt, method=method, reset=reset, record=paths)
    except NirhubError:
        return []
    out = []
    for path in paths:
        a = np.asarray(strict.recorded[path]["spikes"])
        b = np.asarray(loose.recorded[path]["spikes"])
        out.append(TieEffect(path, int(a.sum()), int(np.count_nonzero(a != b)), int(a.size)))
    return out


def tie_warning(graph: Any, dt: float, target: str, why: str, **kw: Any) -> str | None:
    """The per-conversion warning of a target that cannot keep ties exact (None when ties do
    not change a single spike on the measurement input)."""
    effects = [e for e in tie_effects(graph, dt, **kw) if e.differing]
    if not effects:
        return None
    return (
        f"{target} cannot keep NIR's v > v_threshold exact where v lands exactly on the "
        f"threshold ({why}). Measured with the reference simulator on {STEPS} steps of random "
        f"input spikes (rate {RATE}), firing at v >= v_threshold changes: "
        + "; ".join(e.describe() for e in effects)
        + ". Integer/dyadic networks hit such ties; a network trained with float weights "
        "rarely does."
    )
