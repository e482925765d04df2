"""The report printed by ``nirhub convert ... --to spinnaker2``: populations, placement, tick
budget and, per population, the quantization error of truncation (what the chip gets) and of
rounding to nearest (``-O rounding=nearest``) against the reference simulator.

The behavioural error is measured on a probe: a seeded Poisson spike input (10 % per neuron
and tick, ``-O probe-steps=N`` ticks, default 50; 0 skips it), run by the emulator with the
latency compensated and by nirhub's reference simulator; per population the activity
similarity (the NIR paper's metric) and the fraction of differing (tick, neuron) cells.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from nirhub_spinnaker2.limits import PES_PER_CHIP, place, tick_estimate
from nirhub_spinnaker2.network import S2Network, quantize

PROBE_RATE = 0.1
PROBE_SEED = 0


def weight_error(net: S2Network, rounding: str) -> dict[str, float]:
    """Per population: RMS of (Wq - W*w_scale) relative to the RMS of W*w_scale."""
    out: dict[str, float] = {}
    for pop in net.populations:
        num = den = 0.0
        for p in net.projections:
            if p.post == pop:
                q = quantize(p.weights_float, rounding)
                num += float(np.sum((q - p.weights_float) ** 2))
                den += float(np.sum(p.weights_float**2))
        if den > 0:
            out[pop] = round(float(np.sqrt(num / den)), 4)
    return out


def requantized(net: S2Network, rounding: str) -> S2Network:
    projs = [
        dataclasses.replace(p, weights=quantize(p.weights_float, rounding)) for p in net.projections
    ]
    return dataclasses.replace(
        net, projections=projs, options={**net.options, "rounding": rounding}
    )


def probe(net: S2Network, graph: Any, steps: int) -> dict[str, dict[str, Any]]:
    """Activity similarity and differing cells, trunc and nearest, per population."""
    from nirhub.backend import activity_similarity, simulate
    from nirhub_spinnaker2.emulator import emulate

    rng = np.random.default_rng(PROBE_SEED)
    x = {
        n: (rng.random((steps, *net.populations[n].shape)) < PROBE_RATE).astype(np.float64)
        for n in net.inputs
    }
    pops = [p for p in net.populations if p not in net.inputs]
    ref = simulate(
        graph,
        x,
        dt=net.dt,
        method="euler" if net.options["integrator"] == "forward" else "exact",
        reset=net.options.get("reset"),
        record=pops,
    )
    out: dict[str, dict[str, Any]] = {p: {} for p in pops}
    for rounding in ("trunc", "nearest"):
        got = emulate(requantized(net, rounding), x, record=tuple(pops))
        for p in pops:
            a = got["recorded"][p]["spikes"].reshape(steps, -1).astype(np.float64)
            b = np.asarray(ref.spikes(p)).reshape(steps, -1).astype(np.float64)
            out[p][rounding] = (
                f"similarity {activity_similarity(a, b):.4f}, "
                f"{np.count_nonzero(a != b)}/{a.size} cells differ"
            )
    return out


def resource_report(net: S2Network, *, probe_steps: int = 50, tick_s: float = 1e-3) -> dict:
    placements = place(net)
    pes = sum(pl.pes for pl in placements)
    pops = {}
    for pl in placements:
        pop = net.populations[pl.population]
        row = f"{pop.model} {pop.size} neurons ({pop.source})"
        if pop.params:
            thr = pop.params["threshold"]
            row += (
                f", w_scale {pop.w_scale:.6g}"
                + (f" ({pop.scale_rule})" if pop.scale_rule else "")
                + f", threshold {float(thr.min()):.6g}"
                + (f"..{float(thr.max()):.6g}" if thr.max() != thr.min() else "")
                + f", {pop.reset}"
            )
        pops[pl.population] = row
    report: dict[str, Any] = {
        "populations": pops,
        "projections": {
            p.name: f"{p.kind} {p.pre} -> {p.post}"
            + (f" (NIR {', '.join(p.nodes)})" if p.nodes else "")
            + (f", fused SumPool2d {p.pool}" if p.pool else "")
            + f", weights {int(np.min(p.weights))}..{int(np.max(p.weights))}"
            + (f", conn_delay {p.delay}" if p.delay else "")
            for p in net.projections
        },
        "placement": {
            pl.population: f"{pl.pes} PE(s) x {pl.per_pe} neurons, ~{pl.bytes_per_pe // 1024} "
            "KB DTCM per PE (estimate)"
            for pl in placements
        },
        "PEs": f"{pes} / {PES_PER_CHIP} (one chip)",
        "tick budget": tick_estimate(net, tick_s),
        "integrator": net.options["integrator"],
        "weights": f"rounding {net.options['rounding']}, weight scale "
        f"{net.options['weight_scale']}, conn_delay {net.options['conn_delay']}",
        "weight error (relative RMS)": {
            "trunc (chip)": weight_error(net, "trunc"),
            "nearest": weight_error(net, "nearest"),
        },
        "latency": f"each projection adds one tick: outputs {max(net.depth().values())} tick(s) "
        "late on the chip (the run hook compensates by default; -O latency=raw keeps it)",
    }
    if probe_steps > 0 and net.graph is not None and net.options["rounding"] != "none":
        report["quantization error vs reference simulator"] = probe(net, net.graph, probe_steps)
    if net.notes:
        report["notes"] = list(net.notes)
    return report
