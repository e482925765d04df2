"""Loihi 2 fixed-point formats: quantize a :class:`~nirhub_lava.mapping.LavaNet`.

The arithmetic is that of Lava's bit-accurate models (``PyLifModelBitAcc``,
``PyDenseModelBitAcc``), which model the Loihi 2 neuro-core:

* ``u <- sign(u*(4096 - (du + 1))) * (|u*(4096 - (du + 1))| >> 12) + (a_in << 6)`` (24 bit, wraps)
* ``v <- sign(v*(4096 - dv)) * (|v*(4096 - dv)| >> 12) + u + (bias_mant << bias_exp)`` (24 bit,
  clipped); spike when ``v > vth << 6``, then ``v = 0``
* a synapse sends ``(sum of weights of the spiking inputs) << weight_exp`` (right shift for a
  negative exponent); weights are 8-bit signed mantissas (Lava keeps the even values of
  -256..254 for mixed signs: the mantissa ``m`` in -127..127 is stored as ``2m`` with
  ``weight_exp - 1``).

Scale: population ``P`` gets an integer scale ``K_P`` (weight units per threshold): the
normalised threshold 1 becomes ``vth = K_P`` (17 bit), a float weight ``w`` becomes the
mantissa ``round(w*K_P / 2**e)`` with the synapse's shared exponent ``e`` chosen so that its
largest weight uses the full 8 bits, a bias ``b`` becomes ``bias_mant = round(b*K_P)`` with
``bias_exp = 6`` (13-bit signed mantissa; lava-dl's netx uses the same exponent), and the
decays ``du_int = round(4096*du) - 1``, ``dv_int = round(4096*dv)`` (12 bit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import Problem
from nirhub_lava.mapping import BIAS_SOURCE, LavaNet

VTH_MAX = 2**17 - 1
BIAS_MANT_MAX = 2**12 - 1
BIAS_EXP = 6
WEIGHT_MANT_MAX = 127
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -7, 8
DECAY_MAX = 4095
UV_MAX = 2**23 - 1


@dataclass
class FixedPopulation:
    du: np.ndarray  #: per neuron, 12 bit
    dv: np.ndarray
    vth: int
    bias_mant: np.ndarray
    v_init: np.ndarray
    #: weight units per normalised threshold
    scale: int


@dataclass
class FixedSynapse:
    mantissa: Any  #: int, dense or CSR, -127..127
    exponent: int

    def lava_weights(self) -> Any:
        """What Lava's Dense/Sparse takes: ``2*mantissa`` (even 8-bit values)."""
        return self.mantissa * 2

    @property
    def lava_exp(self) -> int:
        return self.exponent - 1

    def effective(self) -> Any:
        """Weights in weight units (``mantissa * 2**exponent``)."""
        return self.mantissa * float(2.0**self.exponent)


@dataclass
class FixedNet:
    populations: dict[str, FixedPopulation]
    synapses: list[FixedSynapse]
    errors: dict[str, dict[str, float]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _absmax(w: Any) -> float:
    if isinstance(w, np.ndarray):
        return float(np.max(np.abs(w))) if w.size else 0.0
    return float(np.max(np.abs(w.data))) if w.nnz else 0.0


def _round(w: Any, factor: float) -> Any:
    if isinstance(w, np.ndarray):
        return np.clip(np.rint(w * factor), -WEIGHT_MANT_MAX, WEIGHT_MANT_MAX).astype(np.int64)
    out = w.copy().astype(np.float64)
    out.data = np.clip(np.rint(out.data * factor), -WEIGHT_MANT_MAX, WEIGHT_MANT_MAX)
    out = out.astype(np.int64)
    out.eliminate_zeros()
    return out


def _norm(w: Any) -> float:
    if isinstance(w, np.ndarray):
        return float(np.linalg.norm(w))
    return float(np.linalg.norm(w.data))


def _sig(x: float) -> float:
    """Three significant digits, for the report."""
    return float(f"{float(x):.3g}")


def quantize(net: LavaNet) -> FixedNet:
    """Quantize every population and synapse; limits that do not fit become problems."""
    pops: dict[str, FixedPopulation] = {}
    problems: list[Problem] = []
    errors: dict[str, dict[str, float]] = {}
    incoming: dict[str, list[int]] = {p: [] for p in net.populations}
    for i, syn in enumerate(net.synapses):
        incoming[syn.target].append(i)
    for path, pop in net.populations.items():
        wmax = max(
            (
                _absmax(net.synapses[i].weights)
                for i in incoming[path]
                if net.synapses[i].source != BIAS_SOURCE
            ),
            default=0.0,
        )
        k = WEIGHT_MANT_MAX / wmax if wmax > 0 else 1024.0
        bmax = float(np.max(np.abs(pop.bias))) if pop.bias.size else 0.0
        if bmax > 0:
            k = min(k, BIAS_MANT_MAX / bmax)
        k = int(np.clip(np.floor(k), 1, VTH_MAX))
        if wmax * k > WEIGHT_MANT_MAX * 2.0**WEIGHT_EXP_MAX:
            problems.append(
                Problem(
                    path,
                    f"its input weights span more than Loihi 2's 8-bit mantissa with exponent "
                    f"<= {WEIGHT_EXP_MAX} can hold at a threshold of 1 (max |w| {wmax:.3g})",
                    kind="chip-limit",
                )
            )
        bias_mant = np.rint(pop.bias * k).astype(np.int64)
        if np.any(np.abs(bias_mant) > BIAS_MANT_MAX):
            problems.append(
                Problem(
                    path,
                    f"bias needs a mantissa of {int(np.max(np.abs(bias_mant)))}; Loihi 2 holds "
                    f"13-bit signed (|b| <= {BIAS_MANT_MAX})",
                    kind="chip-limit",
                )
            )
            bias_mant = np.clip(bias_mant, -BIAS_MANT_MAX, BIAS_MANT_MAX)
        v_init = np.rint(pop.v_init * k * 64).astype(np.int64)
        if np.any(np.abs(v_init) > UV_MAX):
            problems.append(
                Problem(path, "initial v does not fit Loihi 2's 24-bit state", kind="chip-limit")
            )
        du = np.clip(np.rint(pop.du * 4096) - 1, 0, DECAY_MAX).astype(np.int64)
        dv = np.clip(np.rint(pop.dv * 4096), 0, DECAY_MAX).astype(np.int64)
        pops[path] = FixedPopulation(du, dv, k, bias_mant, v_init, k)

        def shown(a: np.ndarray) -> Any:
            return int(a[0]) if np.all(a == a[0]) else sorted({int(x) for x in a})

        errors[path] = {
            "scale (weight units per threshold)": k,
            "du": shown(du),
            "dv": shown(dv),
            "du error": _sig(np.max(np.abs((du + 1) / 4096 - pop.du))),
            "dv error": _sig(np.max(np.abs(dv / 4096 - pop.dv))),
            "bias rel. error": (
                _sig(np.linalg.norm(bias_mant / k - pop.bias) / np.linalg.norm(pop.bias))
                if bmax > 0
                else 0.0
            ),
        }
    syns: list[FixedSynapse] = []
    for syn in net.synapses:
        k = pops[syn.target].scale
        m = _absmax(syn.weights) * k
        e = int(np.ceil(np.log2(m / WEIGHT_MANT_MAX))) if m > 0 else 0
        e = int(np.clip(e, WEIGHT_EXP_MIN, WEIGHT_EXP_MAX))
        mant = _round(syn.weights, k / 2.0**e)
        fs = FixedSynapse(mant, e)
        syns.append(fs)
        ref = _norm(syn.weights)
        eff = fs.effective() / k
        diff = eff - syn.weights
        rel = _norm(diff if isinstance(diff, np.ndarray) else diff.tocsr()) / ref if ref else 0.0
        entry = errors[syn.target]
        key = f"weights from {syn.source} rel. error"
        entry[key] = _sig(rel)
        entry[f"weights from {syn.source} exponent"] = e
    return FixedNet(pops, syns, errors, problems)
