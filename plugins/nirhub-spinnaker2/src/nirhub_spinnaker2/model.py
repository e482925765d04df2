"""The SpiNNaker2 network nirhub lowers a graph to: populations, projections, the settings
of the lowering (data only; :mod:`nirhub_spinnaker2.network` builds them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: weight magnitude the scale maps max|W| to, per synapse format
WEIGHT_LIMIT = {"no_delay": 127, "delay": 15}
#: the synapse word's delay field holds 0..7
MAX_CONN_DELAY = 7


@dataclass
class Population:
    """One py-spinnaker2 population (``snn.Population``)."""

    name: str  #: NIR node path
    model: str  #: spike_list, lif_no_delay, lif_curr_exp_no_delay, lif_conv2d, lif, lif_curr_exp
    shape: tuple[int, ...]  #: the node's shape (CHW for conv populations)
    params: dict[str, np.ndarray] = field(default_factory=dict)  #: float32, per neuron
    reset: str = "reset_by_subtraction"  #: or reset_to_v_reset
    w_scale: float = 1.0
    #: how w_scale was chosen: max (127/max|W|), power of two / integer (exact for quantized
    #: weights), upstream, percentile:P, none (not saved in the artifact)
    scale_rule: str = ""
    source: str = ""  #: NIR type of the node
    max_atoms_per_core: int = 0  #: 0: the default of the model
    #: chip voltage per NIR voltage unit (to report v in the reference's units)
    v_scale: np.ndarray | None = None
    record: tuple[str, ...] = ("spikes",)

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))


@dataclass
class Projection:
    """One py-spinnaker2 projection, weights as the chip holds them."""

    name: str  #: the NIR weight node (or the pool node of a weightless list)
    pre: str
    post: str
    kind: str  #: dense | sparse | conv
    weights_float: np.ndarray  #: W * w_scale before quantization (dense: (post, pre))
    weights: np.ndarray  #: integers (int16; int8 kernels for conv)
    delay: int = 0  #: conn_delay: latency the graph does not have (compensated by the run hook)
    #: NIR Delay nodes folded into the synapses: steps per synapse (post, pre), or None;
    #: the synapse word's delay field holds ``delay + delays``
    #: conv: stride, padding (symmetric), pool (fused SumPool2d kernel == stride) and shapes
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    pool: tuple[int, int] | None = None
    nodes: tuple[str, ...] = ()  #: the NIR nodes this projection stands for
    delays: np.ndarray | None = None

    def connections(self) -> np.ndarray:
        """Sparse/dense as py-spinnaker2's list: rows ``[pre, post, weight, delay]``."""
        post, pre = np.nonzero(self.weights)
        w = self.weights[post, pre]
        d = np.full_like(w, self.delay)
        if self.delays is not None:
            d = d + self.delays[post, pre]
        return np.stack([pre, post, w, d], axis=1).astype(np.int64)


@dataclass
class S2Network:
    """A lowered SpiNNaker2 network and how it was made."""

    populations: dict[str, Population]
    projections: list[Projection]
    inputs: list[str]  #: spike_list populations, in graph input order
    outputs: dict[str, str]  #: Output node -> population feeding it
    dt: float
    options: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    graph_hash: str = ""
    #: the source graph (for the report's probe against the reference simulator; not saved)
    graph: Any = None

    def depth(self) -> dict[str, int]:
        """Ticks from the inputs to each population along the shortest feed-forward path."""
        depth = {name: 0 for name in self.inputs}
        changed = True
        while changed:
            changed = False
            for p in self.projections:
                if p.pre in depth and (
                    p.post not in depth or depth[p.post] > depth[p.pre] + 1 + p.delay
                ):
                    depth[p.post] = depth[p.pre] + 1 + p.delay
                    changed = True
        return depth


@dataclass(frozen=True)
class Settings:
    dt: float
    integrator: str  #: forward | exponential
    weight_scale: str  #: max | percentile:P | none
    rounding: str  #: trunc | nearest | none
    conn_delay: int
    reset: str | None  #: zero | subtract | None (from the graph)
    max_neurons: dict[str, int]
