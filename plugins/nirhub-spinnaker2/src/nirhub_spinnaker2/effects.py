"""What the chip's arithmetic changes, measured, for the conversion's warning.

SpiNNaker2 fires at ``v > threshold`` like NIR, so ties at the threshold are kept wherever the
arithmetic is exact: integer weights that keep the network's ratios (the lowering picks such a
weight scale for integer and dyadic networks, see :func:`nirhub_spinnaker2.params.exact_scale`)
and float32 parameters and state. Where it is not exact (float weights truncated to integers,
float32 rounding of decays and thresholds), ``convert`` says so once, naming the populations
whose spikes differ and by how many cells, measured with nirhub's emulator of the chip against
the reference simulator on seeded random input spikes (the measurement of
:mod:`nirhub.backend.ties`: same steps, rate and seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nirhub_spinnaker2.model import S2Network

#: the measurement: steps, input spike probability per step and channel, seed (as ties.py)
STEPS = 200
RATE = 0.3
SEED = 0


@dataclass(frozen=True)
class Effect:
    """One population: differing (step, neuron) cells of the emulator against the reference."""

    path: str
    differing: int
    cells: int
    spikes: int  #: of the reference
    weight_error: float  #: relative RMS of the integer weights against W * w_scale

    def describe(self) -> str:
        cause = (
            f"integer weights off by {self.weight_error:.2%} RMS"
            if self.weight_error
            else "float32 arithmetic"
        )
        cells = f"{self.differing} of {self.cells} cells"
        return f"{self.path}: {cells} ({self.spikes} spikes; {cause})"


def _weight_error(net: S2Network, pop: str) -> float:
    num = den = 0.0
    for p in net.projections:
        if p.post == pop:
            num += float(np.sum((np.asarray(p.weights, dtype=np.float64) - p.weights_float) ** 2))
            den += float(np.sum(p.weights_float**2))
    return float(np.sqrt(num / den)) if den > 0 else 0.0


def measure(net: S2Network, *, steps: int = STEPS) -> list[Effect] | None:
    """Per neuron population, the emulator (as lowered: integer weights, float32) against the
    reference simulator on seeded random input spikes; None when the reference cannot run the
    graph as given."""
    from nirhub.backend import NirhubError, simulate
    from nirhub_spinnaker2.emulator import emulate

    if net.graph is None or not net.inputs:
        return None
    rng = np.random.default_rng(SEED)
    x = {
        n: (rng.random((steps, *net.populations[n].shape)) < RATE).astype(np.float64)
        for n in net.inputs
    }
    pops = [p for p in net.populations if p not in net.inputs]
    try:
        ref = simulate(
            net.graph,
            x,
            net.dt,
            method="euler" if net.options["integrator"] == "forward" else "exact",
            reset=net.options.get("reset"),
            record=pops,
        )
    except NirhubError:
        return None
    got = emulate(net, x, record=tuple(pops))
    out = []
    for p in pops:
        a = np.asarray(got["recorded"][p]["spikes"]).reshape(steps, -1)
        b = np.asarray(ref.recorded[p]["spikes"]).reshape(steps, -1) != 0
        differing = int(np.count_nonzero(a != b))
        out.append(Effect(p, differing, int(a.size), int(b.sum()), _weight_error(net, p)))
    return out


def effect_warning(net: S2Network) -> str | None:
    """The conversion's warning when the chip's spikes differ from the reference (None when
    they do not on the measurement input, or with ``-O rounding=none``, the emulator only)."""
    if net.options.get("rounding") == "none":
        return None
    effects = measure(net)
    if effects is None:
        return (
            "spinnaker2: the chip's integer weights and float32 arithmetic were not compared "
            "with the reference simulator (it cannot run this graph as given); spikes may differ"
        )
    differing = [e for e in effects if e.differing]
    if not differing:
        return None
    return (
        "spinnaker2 does not reproduce the reference exactly: the chip's integer weights "
        f"({net.options['rounding']} after the weight scale) and float32 arithmetic change "
        f"spikes. Measured with nirhub's emulator against the reference simulator on {STEPS} "
        f"steps of random input spikes (rate {RATE}, seed {SEED}): "
        + "; ".join(e.describe() for e in differing)
        + ". Integer and dyadic weights are kept exactly by -O weight-scale=max (the default: "
        "a scale that keeps their ratios); float weights cannot be. The conversion report "
        "compares truncation with -O rounding=nearest per population."
    )
