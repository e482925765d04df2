"""Exact ties on Speck: an integer scale per chip layer that keeps the network's ratios.

NIR fires at ``v > v_threshold``; the chip fires at ``v >= threshold_high``, in integers. On an
integer or dyadic network (integer weights, thresholds 2 and 3, binary input) NIR's ``v`` lands
exactly on the threshold all the time, and sinabs' own discretization (the largest scale that
fits 8 bits: 127 units for the largest weight) neither keeps the integer ratios nor the ``>``.

A chip layer is exact when one integer ``T`` (chip units per NIR threshold) maps every weight
and bias, per output channel ``c``, onto 8-bit integers *exactly*::

    w_chip[c] = T * (dt * r[c]) * W[c] / v_threshold[c]        (times 1/k^2 after AvgPool2d)

Then the chip's ``v`` is ``T / v_threshold[c]`` times NIR's ``v``, an integer, and

- reset to zero: ``threshold_high = T + 1``, since ``v >= T + 1`` is ``v > T`` for integer v;
- reset by subtraction: the chip subtracts ``threshold_high`` itself, so ``threshold_high = T``
  and the membrane starts at ``-1`` (``u = v - 1``: ``u >= T`` is ``v > T``, and subtracting
  ``T`` keeps ``u = v - 1``);
- a node recording the variant ``v >= v_threshold`` (a sinabs export: sinabs fires as the chip
  does) keeps ``threshold_high = T`` and starts at 0.

``T`` is the smallest such integer: the least common multiple of the denominators of those
values, computed with exact fractions of the float64 numbers the reference simulator uses (a
float is an exact dyadic rational; a weight trained in float has a huge denominator and is
never exact). When no ``T`` fits (no common denominator up to the 16-bit threshold, or the
integers need more than 8 bits), the layer is discretized as sinabs does and the conversion
warns, naming the node, why and the measured effect (:func:`tie_warning`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from nirhub_speck import chip

#: the largest T: threshold_high = T + 1 must fit the 16-bit state
MAX_UNITS = 2 ** (chip.STATE_BITS - 1) - 2
W_MIN, W_MAX = -(2 ** (chip.WEIGHT_BITS - 1)), 2 ** (chip.WEIGHT_BITS - 1) - 1


@dataclass(frozen=True)
class ExactLayer:
    """The integers of one chip layer whose ties are exact."""

    units: int  #: T: the NIR threshold of every channel, in chip units
    weight: np.ndarray  #: int64, the layout of the given weights
    bias: np.ndarray | None  #: int64 (out,), or None
    threshold: int  #: threshold_high
    initial: int  #: the membrane's initial value (chip units)


def _channel_values(values: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per output channel: its distinct values and the index of each element among them."""
    rows = values.reshape(values.shape[0], -1)
    return [np.unique(row, return_inverse=True) for row in rows]


def exact_layer(
    weight: np.ndarray,
    bias: np.ndarray | None,
    gain: np.ndarray,
    threshold: np.ndarray,
    rescale: float,
    reset: str,
    at_or_above: bool = False,
) -> ExactLayer | str:
    """The exact integers of a chip layer, or why there are none (a sentence).

    ``weight`` (out, ...) and ``bias`` (out,) are the NIR values in float64, ``gain`` and
    ``threshold`` per output channel (``dt * r`` and ``v_threshold``), ``rescale`` the ``1/k^2``
    of an AvgPool2d in front of the layer. ``at_or_above``: the node records the variant
    ``v >= v_threshold`` (sinabs' own neurons), the chip's own test: the threshold is ``T``.
    """
    weight = np.asarray(weight, dtype=np.float64)
    out = weight.shape[0]
    finite = [weight, gain, threshold] + ([] if bias is None else [bias])
    if not all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in finite):
        return "its weights or parameters are not finite"
    factors = [
        Fraction(float(gain[c])) * Fraction(float(rescale)) / Fraction(float(threshold[c]))
        for c in range(out)
    ]
    bias_factors = [Fraction(float(gain[c])) / Fraction(float(threshold[c])) for c in range(out)]
    rows = _channel_values(weight)
    biases = None if bias is None else np.asarray(bias, dtype=np.float64).reshape(out)
    units = 1
    for c in range(out):
        uniq = list(rows[c][0])
        pairs = [(factors[c], u) for u in uniq]
        if biases is not None:
            pairs.append((bias_factors[c], biases[c]))
        for k, u in pairs:
            units = math.lcm(units, (k * Fraction(float(u))).denominator)
            if units > MAX_UNITS:
                return (
                    "no integer scale keeps its ratios: dt*r*weight/v_threshold (and the "
                    f"bias) have no common denominator up to {MAX_UNITS} (the 16-bit threshold); "
                    "float-trained weights, or a threshold such as 9.7, have none"
                )
    ints = np.empty(weight.shape, dtype=np.int64).reshape(out, -1)
    for c in range(out):
        uniq, inverse = rows[c]
        table = np.array([int(units * factors[c] * Fraction(float(u))) for u in uniq])
        ints[c] = table[inverse.reshape(-1)]
    bias_ints = None
    if biases is not None:
        bias_ints = np.array(
            [int(units * bias_factors[c] * Fraction(float(biases[c]))) for c in range(out)]
        )
    every = ints.ravel() if bias_ints is None else np.concatenate([ints.ravel(), bias_ints])
    lo, hi = int(every.min(initial=0)), int(every.max(initial=0))
    if lo < W_MIN or hi > W_MAX:
        return (
            f"the integer scale that keeps its ratios (v_threshold = {units} chip units) needs "
            f"weights {lo}..{hi}, beyond the chip's 8 bits ({W_MIN}..{W_MAX})"
        )
    if at_or_above:  # the chip's own test
        threshold_high, initial = units, 0
    elif reset == "subtract":
        threshold_high, initial = units, -1
    else:
        threshold_high, initial = units + 1, 0
    return ExactLayer(units, ints.reshape(weight.shape), bias_ints, threshold_high, initial)


def tie_warning(graph: Any, dt: float, inexact: dict[str, str], **kw: Any) -> str | None:
    """The conversion's warning: each IF whose ties are not exact, why, and the measured effect
    (:func:`nirhub.backend.ties.tie_effects`); None when no tie changes a spike."""
    from nirhub.backend.ties import RATE, STEPS, tie_effects

    if not inexact:
        return None
    effects = [e for e in tie_effects(graph, dt, **kw) if e.path in inexact and e.differing]
    if not effects:
        return None
    return (
        "speck cannot keep NIR's v > v_threshold exact where v lands exactly on the threshold "
        "(the chip fires at v >= threshold, in integer units) at: "
        + "; ".join(f"{e.path} ({inexact[e.path]})" for e in effects)
        + f". Measured with the reference simulator on {STEPS} steps of random input spikes "
        f"(rate {RATE}), firing at v >= v_threshold changes: "
        + "; ".join(e.describe() for e in effects)
        + ". Integer or dyadic weights and thresholds (within 8 bits) make the ties exact."
    )
