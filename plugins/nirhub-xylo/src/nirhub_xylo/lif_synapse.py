"""LIF populations (snnTorch's ``Leaky``) on Xylo: the shortest synapse, an approximation.

Every Xylo neuron integrates through a synaptic current that decays by a bit shift, in
XyloSim's order: the input is added to the current, the current decays
(``I -= I >> dash_syn``), then the membrane integrates it. A LIF has no such current: it
integrates its input directly. Could the shortest synapse make a CubaLIF exactly a LIF?

* ``dash_syn = 0``: ``I -= I`` clears the current *before* the membrane sees it. The neuron
  never receives any input.
* ``dash_syn = 1`` (the shortest synapse that passes anything): ``I <- (I + W x)/2``, a
  low-pass filter with the impulse response ``1/2, 1/4, 1/8, ...``. A LIF's membrane receives
  ``W x`` in the step itself; this neuron receives half of it then and the rest spread over
  the following steps. The DC gain is the same, the timing is not: spike trains differ.

So no Xylo neuron is exactly a LIF. With ``-O lif=synapse`` nirhub replaces each LIF by the
CubaLIF with that shortest synapse (synaptic decay 1/2 per step: ``tau_syn = 2 dt`` under
forward Euler, ``dt/ln 2`` under the exact method; ``w_in = 1`` keeps the DC gain) and
*measures* what that changes, with the reference simulator on a seeded random input, before
any quantization: the conversion prints, per population, the NIR paper's activity
similarity and the event agreement (spikes at the same step and neuron).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nirhub.ir.graph import Graph, flatten
from nirhub.ir.nodes import LIF, CubaLIF

#: the ``lif`` option's choices
LIF_CHOICES = ("refuse", "synapse")
#: the measurement: steps, input spike probability per step and channel, seed
MEASURE_STEPS = 300
MEASURE_RATE = 0.2
MEASURE_SEED = 0


def shortest_tau_syn(dt: float, method: str) -> float:
    """The synaptic time constant whose decay per step is 1/2 (Xylo's ``dash_syn = 1``)."""
    return 2.0 * dt if method == "euler" else dt / math.log(2.0)


def with_shortest_synapse(graph: Graph, dt: float, method: str) -> tuple[Graph, list[str]]:
    """``graph`` with every LIF replaced by a CubaLIF with the shortest synapse; the paths of
    the replaced nodes (empty: the graph is returned unchanged)."""
    tau_syn = shortest_tau_syn(dt, method)
    replaced: list[str] = []

    def rebuild(g: Graph, prefix: str) -> Graph:
        nodes = {}
        for name, node in g.nodes.items():
            path = prefix + name
            if isinstance(node, Graph):
                nodes[name] = rebuild(node, path + ".")
            elif isinstance(node, LIF):
                replaced.append(path)
                nodes[name] = CubaLIF(
                    tau_syn=np.full_like(np.asarray(node.tau, np.float64), tau_syn),
                    tau_mem=node.tau,
                    r=node.r,
                    v_leak=node.v_leak,
                    v_threshold=node.v_threshold,
                    v_reset=node.v_reset,
                    w_in=np.ones_like(np.asarray(node.tau, np.float64)),
                    metadata=node.metadata,
                )
            else:
                nodes[name] = node
        return g.replace(nodes=nodes)

    new = rebuild(graph, "")
    return (new if replaced else graph), replaced


@dataclass(frozen=True)
class Similarity:
    """Spikes of one population: the LIF graph against the one with the shortest synapse."""

    path: str
    spikes_lif: int
    spikes_synapse: int
    #: the NIR paper's activity similarity (nirhub.metrics.activity_similarity)
    similarity: float
    #: identical spike events among all (nirhub.metrics.event_agreement)
    same_step: float

    def describe(self) -> str:
        return (
            f"{self.path}: activity similarity {self.similarity:.3f}, event agreement "
            f"{self.same_step:.3f} (spikes at the same step), {self.spikes_synapse} spikes "
            f"with the synapse vs {self.spikes_lif} as a LIF"
        )


def measure(original: Graph, approx: Graph, paths: list[str], dt: float, method: str):
    """Run both graphs in the reference simulator on the same seeded random spikes."""
    from nirhub.backend import activity_similarity, event_agreement, simulate
    from nirhub.ir.graph import infer_shapes

    flat = flatten(original)
    shapes = infer_shapes(original).outputs
    rng = np.random.default_rng(MEASURE_SEED)
    inputs = {
        name: (rng.random((MEASURE_STEPS, *shapes[name])) < MEASURE_RATE).astype(np.float64)
        for name in flat.inputs
    }
    kwargs = {"method": method, "reset": None, "record": paths}
    a = simulate(original, inputs, dt, **kwargs)
    b = simulate(approx, inputs, dt, **kwargs)
    out = []
    for path in paths:
        sa = np.asarray(a.recorded[path]["spikes"], np.float64).reshape(MEASURE_STEPS, -1)
        sb = np.asarray(b.recorded[path]["spikes"], np.float64).reshape(MEASURE_STEPS, -1)
        out.append(
            Similarity(
                path,
                int(sa.sum()),
                int(sb.sum()),
                activity_similarity(sa, sb),
                event_agreement(sa, sb),
            )
        )
    return out


def approximation_note(graph: Graph, dt: float, method: str) -> tuple[Graph, str | None]:
    """The graph to map and the note that says what the approximation changed."""
    approx, paths = with_shortest_synapse(graph, dt, method)
    if not paths:
        return graph, None
    results = measure(graph, approx, paths, dt, method)
    tau = shortest_tau_syn(dt, method)
    return approx, (
        f"-O lif=synapse: {len(paths)} LIF population(s) run as CubaLIF with Xylo's shortest "
        f"synapse (decay 1/2 per step, tau_syn = {tau:g} s); not exact: the input reaches the "
        "membrane spread over the following steps. Measured with nirhub's reference "
        f"simulator on {MEASURE_STEPS} steps of random input spikes (rate {MEASURE_RATE}, "
        "before quantization): " + "; ".join(r.describe() for r in results)
    )
