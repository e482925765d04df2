"""SpiNNaker2's limits and the placement of a lowered network on one chip.

Sources (``docs/backends/spinnaker2.md``): 152 application PEs per chip; 128 KB SRAM per PE of
which 96 KB DTCM hold neuron state, synapses and buffers; the delay models' 16-bit synapse word
(4-bit weight, 3-bit delay, 8-bit target index: <= 256 neurons per PE, weights -15..15);
no-delay and conv models take weights -127..127 (int8 MAC array). The neurons-per-PE defaults
(250, lowered until a PE's memory estimate fits) and the memory and cycle costs below are
**estimates**: py-spinnaker2 computes the real
placement, which cannot be checked here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nirhub.backend import Problem

if TYPE_CHECKING:  # pragma: no cover
    from nirhub_spinnaker2.model import Population, S2Network

PES_PER_CHIP = 152
DTCM_BYTES = 96 * 1024
#: bytes of DTCM a PE keeps for the kernel, recording and spike buffers (estimate)
RESERVED_BYTES = 16 * 1024
#: neurons per PE py-spinnaker2 uses unless set_max_atoms_per_core is called (inferred)
DEFAULT_ATOMS = {
    "spike_list": 500,
    "lif_no_delay": 250,
    "lif_curr_exp_no_delay": 250,
    "lif": 250,
    "lif_curr_exp": 250,
    "lif_conv2d": 250,
}
#: the delay models' synapse word addresses 8-bit target indices
MAX_ATOMS = {"lif": 256, "lif_curr_exp": 256}
#: float32 state + parameter words per neuron (estimate)
NEURON_WORDS = {
    "lif_no_delay": 6,
    "lif_conv2d": 6,
    "lif": 6 + 8,  # + the 8-slot delay ring buffer
    "lif_curr_exp_no_delay": 10,
    "lif_curr_exp": 10 + 16,
}
WEIGHT_RANGE = {
    "lif": 15,
    "lif_curr_exp": 15,
    "lif_no_delay": 127,
    "lif_curr_exp_no_delay": 127,
    "lif_conv2d": 127,
}
#: cost model of the tick budget (estimate): PE clock, cycles per neuron update and per
#: synaptic event
CLOCK_HZ = 150e6
CYCLES_PER_NEURON = 40
CYCLES_PER_SYNAPSE = 8


@dataclass
class Placement:
    population: str
    model: str
    neurons: int
    per_pe: int
    pes: int
    bytes_per_pe: int  #: worst PE, estimate
    worst_cycles: int  #: per tick, every pre neuron spiking (estimate)


def synapse_bytes(net: S2Network, pop: Population, per_pe: int) -> int:
    """DTCM bytes of the synapses targeting ``per_pe`` neurons of ``pop`` (estimate)."""
    total = 0
    for p in net.projections:
        if p.post != pop.name:
            continue
        if p.kind == "conv":
            total += int(p.weights.size)  # int8 kernel, shared by all output neurons
        elif pop.model in MAX_ATOMS:  # 16-bit words for the non-zero synapses
            nz = np.count_nonzero(p.weights, axis=1)
            total += 2 * int(np.sort(nz)[::-1][:per_pe].sum()) + 4 * p.weights.shape[1]
        else:  # no-delay: one int8 row of the dense matrix per pre neuron
            total += int(p.weights.shape[1]) * per_pe
    return total


def place(net: S2Network) -> list[Placement]:
    out = []
    for pop in net.populations.values():
        per_pe = pop.max_atoms_per_core
        if not per_pe:  # the default, lowered until the memory estimate fits
            per_pe = DEFAULT_ATOMS[pop.model]
            if pop.model != "spike_list":
                per_pe = min(per_pe, fitting_atoms(net, pop) or per_pe)
        per_pe = min(per_pe, pop.size) or 1
        pes = math.ceil(pop.size / per_pe)
        words = NEURON_WORDS.get(pop.model, 1)
        mem = 4 * words * per_pe + (
            synapse_bytes(net, pop, per_pe) if pop.model != "spike_list" else 0
        )
        syn_events = 0
        for p in net.projections:
            if p.post == pop.name:
                if p.kind == "conv":
                    syn_events += int(p.weights[0].size) * per_pe
                else:
                    syn_events += int(np.count_nonzero(p.weights[:per_pe]))
        cycles = CYCLES_PER_NEURON * per_pe + CYCLES_PER_SYNAPSE * syn_events
        out.append(Placement(pop.name, pop.model, pop.size, per_pe, pes, mem, cycles))
    return out


def fitting_atoms(net: S2Network, pop: Population) -> int:
    """The largest neurons-per-PE whose memory estimate fits the DTCM budget (0: none)."""
    words = NEURON_WORDS.get(pop.model, 1)
    hi = min(pop.size, MAX_ATOMS.get(pop.model, 1 << 30), 4096)
    best = 0
    lo = 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if 4 * words * mid + synapse_bytes(net, pop, mid) <= DTCM_BYTES - RESERVED_BYTES:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def check_limits(net: S2Network, node_paths: list[str]) -> list[Problem]:
    """Every violation of the chip's limits, by node, with the fix."""
    problems: list[Problem] = []
    for name in net.options.get("max_neurons_per_core", {}):
        if name not in net.populations:
            problems.append(
                Problem(
                    name,
                    "max-neurons-per-core names no population; populations: "
                    + ", ".join(net.populations),
                    kind="usage",
                )
            )
    for p in net.projections:
        post = net.populations[p.post]
        limit = WEIGHT_RANGE[post.model]
        wmax = float(np.max(np.abs(p.weights))) if p.weights.size else 0.0
        if wmax > limit:
            fix = (
                "use -O weight-scale=max (127/max|W| per population)"
                if limit == 127
                else "the delay models hold 4-bit weights: use -O weight-scale=max or "
                "-O conn-delay=0 (int8 weights)"
            )
            problems.append(
                Problem(
                    p.name,
                    f"weights overflow after scaling: max |W * w_scale| = {wmax:g} exceeds "
                    f"{limit} ({post.model} into {p.post}, w_scale {post.w_scale:g}); {fix}",
                    kind="limit",
                )
            )
    budget = DTCM_BYTES - RESERVED_BYTES
    placements = place(net)
    for pl in placements:
        pop = net.populations[pl.population]
        hard = MAX_ATOMS.get(pop.model)
        if hard and pl.per_pe > hard:
            problems.append(
                Problem(
                    pop.name,
                    f"{pl.per_pe} neurons per PE: {pop.model}'s synapse word addresses at most "
                    f"{hard}; set -O max-neurons-per-core={pop.name}:{hard}",
                    kind="limit",
                )
            )
        if pop.model != "spike_list" and pl.bytes_per_pe > budget:
            fit = fitting_atoms(net, pop)
            if fit == 0:
                problems.append(
                    Problem(
                        pop.name,
                        f"too large for any PE setting: even one neuron per PE needs more "
                        f"than the {budget // 1024} KB of DTCM left for synapses (estimate); "
                        "split the population or its incoming weight node",
                        kind="limit",
                    )
                )
            else:
                problems.append(
                    Problem(
                        pop.name,
                        f"{pl.per_pe} neurons per PE need ~{pl.bytes_per_pe // 1024} KB of DTCM "
                        f"(budget {budget // 1024} KB, estimate); set "
                        f"-O max-neurons-per-core={pop.name}:{fit}",
                        kind="limit",
                    )
                )
    pes = sum(pl.pes for pl in placements)
    if pes > PES_PER_CHIP:
        biggest = max(placements, key=lambda pl: pl.pes)
        problems.append(
            Problem(
                "<graph>",
                f"the network needs {pes} PEs, one chip has {PES_PER_CHIP} (largest: "
                f"{biggest.population}, {biggest.pes} PEs at {biggest.per_pe} neurons per PE); "
                "raise max-neurons-per-core where memory allows, or use a multi-chip board "
                "with py-spinnaker2 directly",
                kind="limit",
            )
        )
    return problems


def tick_estimate(net: S2Network, tick_s: float) -> dict[str, str]:
    """Worst-case time per tick of the busiest PE (every neuron spiking each tick)."""
    worst = max(place(net), key=lambda pl: pl.worst_cycles)
    t = worst.worst_cycles / CLOCK_HZ
    verdict = "fits" if t <= tick_s else "may miss the deadline"
    return {
        "busiest PE": f"{worst.population} ({worst.worst_cycles} cycles worst case)",
        "estimate": f"{t * 1e6:.0f} us of a {tick_s * 1e3:g} ms tick: {verdict} "
        f"(estimate: {CYCLES_PER_NEURON} cycles/neuron, {CYCLES_PER_SYNAPSE} cycles/synapse at "
        f"{CLOCK_HZ / 1e6:g} MHz)",
    }
