"""What Xylo's integer arithmetic changes, measured per conversion (issue 14: never silently).

Xylo's neuron, as XyloSim 0.1.3 computes it (probed in ``tests/test_xylo_ties.py``), per step:

* ``I <- I + W x``, then ``I -= d(I, dash_syn)``; ``v <- v - d(v, dash_mem) + I + bias``, where
  ``d(u, dash) = u >> dash`` (an arithmetic shift: floor), or ``sign(u)`` where that is 0. So a
  decay of 7/8 (``dash = 3``) gives ``ceil(7/8 u)`` for ``u >= 8``, ``u - 1`` below: the
  exact ``7/8 u`` only where ``u`` is a multiple of 8;
* a spike where ``v >= threshold`` (NIR: ``v > v_threshold``), tested after the integration, in
  the same step; the threshold is subtracted per spike (hidden neurons emit
  ``floor(v/threshold)`` spikes, up to 31; output neurons one);
* all state int16, saturating.

A NIR graph whose values are exact in binary (integer or dyadic weights, decays 1 - 2^-k,
binary input: what Xylo users deploy) therefore still cannot be reproduced exactly: the
rounding of every decay step moves the integer membrane off ``s * v`` (``s`` integer units per
NIR unit) by up to a few units, so ties (``v`` exactly on the threshold, where the ``>=`` and
``>`` tests differ) are not where NIR has them, and neither are near-ties. A threshold of
``T + 1`` (Speck's and Loihi's fix: ``v >= T + 1`` is ``v > T`` for integers) is exact only
where the integer membrane equals ``s * v``, which the rounding breaks; it would also
subtract ``T + 1`` per spike. So nirhub keeps rockpool's threshold ``round(s * v_threshold)``
and says what the chip's arithmetic changes: every conversion runs the quantized network in
XyloSim and the graph in nirhub's reference simulator on the same seeded random input spikes
and warns, per population, with the (step, neuron) cells whose spike count differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the measurement: steps, input spike probability per step and channel, seed
STEPS = 200
RATE = 0.3
SEED = 0


@dataclass(frozen=True)
class PopulationEffect:
    """One population: spike counts of XyloSim against the reference on the same input."""

    path: str
    differing: int  #: (step, neuron) cells whose spike count differs
    cells: int
    spikes_reference: int
    spikes_xylo: int

    def describe(self) -> str:
        return (
            f"{self.path}: {self.differing} of {self.cells} cells differ ({self.spikes_xylo} "
            f"spikes on Xylo vs {self.spikes_reference})"
        )


def measure(
    graph: Any,
    model: Any,
    dt: float,
    *,
    method: str | None,
    reset: str | None,
    run_model: Callable[..., dict[str, Any]],
):
    """Per population, XyloSim (``model``, run by ``run_model``: :func:`nirhub_xylo.run.run_model`,
    passed in by its module to keep the imports one-way) against the reference simulator
    (``graph``, as the user gave it) on ``STEPS`` steps of seeded random input spikes. Empty when
    the graph cannot be simulated as given (the conversion then has other warnings)."""
    from nirhub.backend import NirhubError, simulate
    from nirhub.ir.graph import infer_shapes

    shapes = infer_shapes(graph).outputs
    rng = np.random.default_rng(SEED)
    name = model.input_name
    x = (rng.random((STEPS, *shapes[name])) < RATE).astype(np.float64)
    paths = [p.path for p in model.populations]
    try:
        ref = simulate(graph, {name: x}, dt, method=method, reset=reset, record=paths)
    except NirhubError:
        return []
    chip = run_model(model, x, record=tuple(paths))["recorded"]
    out = []
    for path in paths:
        a = np.asarray(ref.recorded[path]["spikes"]).reshape(STEPS, -1)
        b = np.asarray(chip[path]["spikes"]).reshape(STEPS, -1)
        out.append(
            PopulationEffect(
                path, int(np.count_nonzero(a != b)), int(a.size), int(a.sum()), int(b.sum())
            )
        )
    return out


def effect_warning(effects: list[PopulationEffect]) -> str | None:
    """The conversion's warning (None when XyloSim spikes exactly like the reference)."""
    differing = [e for e in effects if e.differing]
    if not differing:
        return None
    return (
        "Xylo's integer arithmetic changes spikes: weights and thresholds are quantized, each "
        "bit-shift decay rounds (v - (v >> dash): exact only on multiples of 2^dash), the chip "
        "fires at v >= threshold (NIR: v > v_threshold) and hidden neurons emit "
        f"floor(v/threshold) spikes. Measured with XyloSim against nirhub's reference "
        f"simulator running the graph as given (reset modes replaced above included) on "
        f"{STEPS} steps of random input spikes (rate {RATE}): "
        + "; ".join(e.describe() for e in differing)
        + "."
    )
