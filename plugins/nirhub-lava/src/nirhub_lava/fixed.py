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

Scale: population ``P`` gets a scale ``K_P`` (weight units per unit of the mapped network's
``v``, :mod:`nirhub_lava.mapping`), chosen in one of two ways.

*Exact* (:func:`exact_scale`), tried first: the smallest power of two ``K_P = 2**s`` (``s >= 0``)
that makes the threshold, every incoming weight and bias and the initial ``v`` integers in
Loihi 2's formats: ``vth = vth*K_P`` (17 bit), each synapse's weights ``w*K_P = m * 2**e`` with
8-bit mantissas ``m`` and one exponent ``0 <= e <= 8`` that loses no bit, ``bias_mant = bias*K_P``
(13 bit, ``bias_exp = 6``). It applies to populations without leak (IF: ``du = 1``,
``dv = 0``, where the chip's integer update is plain addition) with one threshold. Then the
chip computes exactly what the reference computes on an integer/dyadic network (integer
weights, thresholds 2 and 3): ``v`` reaches the threshold exactly where the reference's does,
and both fire at ``v > vth`` (``PyLifModelBitAcc`` tests ``v > vth << 6``, the strict test of
NIR), so ties are kept: no threshold offset is needed.

*Fitted* (the fallback, when no such power of two exists): the largest integer ``K_P`` that
puts the largest incoming weight of a threshold-normalised population on the full 8 bits
(about 127 units per threshold), a float weight ``w`` becomes ``round(w*K_P / 2**e)``. This
breaks integer ratios (a weight of 1 against a threshold of 2 is 63.5 units); the plugin warns
with the measured effect on ties (``nirhub.backend.ties``).

Decays: ``du_int = round(4096*du) - 1``, ``dv_int = round(4096*dv)`` (12 bit).
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
    #: weight units per unit of the mapped network's v (a number, or one per neuron)
    scale: Any
    #: True when the scale keeps the network's arithmetic exact (:func:`exact_scale`)
    exact: bool = False


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
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def inexact(self) -> list[str]:
        """The populations whose scale does not keep the arithmetic exact."""
        return [p for p, fp in self.populations.items() if not fp.exact]


def _values(w: Any) -> np.ndarray:
    """The stored values of a weight matrix (dense or sparse)."""
    return np.asarray(w if isinstance(w, np.ndarray) else w.data, dtype=np.float64).ravel()


def _absmax(w: Any) -> float:
    v = _values(w)
    return float(np.max(np.abs(v))) if v.size else 0.0


def _round(w: Any, factor: float) -> Any:
    if isinstance(w, np.ndarray):
        return np.clip(np.rint(w * factor), -WEIGHT_MANT_MAX, WEIGHT_MANT_MAX).astype(np.int64)
    out = w.copy().astype(np.float64)
    out.data = np.clip(np.rint(out.data * factor), -WEIGHT_MANT_MAX, WEIGHT_MANT_MAX)
    out = out.astype(np.int64)
    out.eliminate_zeros()
    return out


def _norm(w: Any) -> float:
    return float(np.linalg.norm(_values(w)))


def _sig(x: float) -> float:
    """Three significant digits, for the report."""
    return float(f"{float(x):.3g}")


#: largest power-of-two scale tried for an exact mapping (2**s units per unit of v)
EXACT_SHIFT_MAX = 16


def _dyadic_shift(values: np.ndarray) -> int | None:
    """The smallest ``s >= 0`` with every ``values * 2**s`` an integer (None: not dyadic
    within :data:`EXACT_SHIFT_MAX` bits, or not finite)."""
    values = values[values != 0]
    if not values.size:
        return 0
    if not np.all(np.isfinite(values)):
        return None
    for shift in range(EXACT_SHIFT_MAX + 1):
        scaled = values * 2.0**shift  # exact: a power of two
        if np.all(scaled == np.rint(scaled)):
            return shift
    return None


def _exact_exponent(ints: np.ndarray) -> int | None:
    """The weight exponent ``e`` (0..8) with ``ints = m * 2**e`` exactly and ``|m| <= 127``."""
    peak = float(np.max(np.abs(ints))) if ints.size else 0.0
    for e in range(0, WEIGHT_EXP_MAX + 1):
        if peak <= WEIGHT_MANT_MAX * 2.0**e:
            m = ints / 2.0**e
            return e if np.all(m == np.rint(m)) else None
    return None


def exact_scale(pop: Any, weights: list[Any], biases: list[Any]) -> int | None:
    """The power of two ``K = 2**s`` that maps the population onto Loihi 2's integers without
    changing one result of its arithmetic, or None when there is none.

    Exact means: no leak (``du = 1`` clears ``u`` every step, ``dv = 0`` keeps ``v``: the
    chip's update is then integer addition), one threshold, and ``vth*K``, every weight and
    bias times ``K`` and ``64*K*v_init`` integers that fit their formats without a lost bit.
    """
    if not (np.all(pop.du == 1.0) and np.all(pop.dv == 0.0)):
        return None
    vth = pop.threshold
    if not np.all(vth == vth[0]):
        return None
    incoming = [_values(w) for w in weights + biases]
    shift = _dyadic_shift(np.concatenate([vth[:1], pop.bias, pop.v_init * 64, *incoming]))
    if shift is None:
        return None
    k = 2**shift
    if not 0 < vth[0] * k <= VTH_MAX:
        return None
    if np.any(np.abs(pop.bias * k) > BIAS_MANT_MAX) or np.any(np.abs(pop.v_init * k * 64) > UV_MAX):
        return None
    if any(_exact_exponent(v * k) is None for v in incoming):
        return None
    return k


def _shown(a: np.ndarray) -> Any:
    return int(a[0]) if np.all(a == a[0]) else sorted({int(x) for x in a})


def _rows(w: Any, factor: np.ndarray) -> Any:
    """``diag(factor) @ w`` (dense or sparse)."""
    if isinstance(w, np.ndarray):
        return w * factor[:, None]
    import scipy.sparse as sp

    return sp.csr_matrix(sp.diags(factor) @ w)


def quantize(net: LavaNet) -> FixedNet:
    """Quantize every population and synapse; limits that do not fit become problems."""
    pops: dict[str, FixedPopulation] = {}
    problems: list[Problem] = []
    errors: dict[str, dict[str, Any]] = {}
    incoming: dict[str, list[int]] = {p: [] for p in net.populations}
    for i, syn in enumerate(net.synapses):
        incoming[syn.target].append(i)
    #: per population: weights are multiplied by these (per target neuron) before quantizing
    factor: dict[str, np.ndarray] = {}
    for path, pop in net.populations.items():
        syns = [net.synapses[i] for i in incoming[path]]
        du = np.clip(np.rint(pop.du * 4096) - 1, 0, DECAY_MAX).astype(np.int64)
        dv = np.clip(np.rint(pop.dv * 4096), 0, DECAY_MAX).astype(np.int64)
        exact = exact_scale(
            pop,
            [s.weights for s in syns if s.source != BIAS_SOURCE],
            [s.weights for s in syns if s.source == BIAS_SOURCE],
        )
        if exact is not None:
            k = exact
            factor[path] = np.full(pop.size, float(k))
            pops[path] = FixedPopulation(
                du,
                dv,
                int(pop.threshold[0] * k),
                np.rint(pop.bias * k).astype(np.int64),
                np.rint(pop.v_init * k * 64).astype(np.int64),
                k,
                exact=True,
            )
            errors[path] = {
                "scale (weight units per unit of v)": k,
                "vth": int(pop.threshold[0] * k),
                "exact": "integer arithmetic equal to the reference's (ties at the threshold kept)",
                "du": _shown(du),
                "dv": _shown(dv),
            }
            continue
        # fitted: normalise the threshold to 1, about 127 units per threshold
        unit = 1.0 / pop.threshold
        wmax = max(
            (_absmax(_rows(s.weights, unit)) for s in syns if s.source != BIAS_SOURCE),
            default=0.0,
        )
        bias = pop.bias * unit
        k = WEIGHT_MANT_MAX / wmax if wmax > 0 else 1024.0
        bmax = float(np.max(np.abs(bias))) if bias.size else 0.0
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
        bias_mant = np.rint(bias * k).astype(np.int64)
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
        v_init = np.rint(pop.v_init * unit * k * 64).astype(np.int64)
        if np.any(np.abs(v_init) > UV_MAX):
            problems.append(
                Problem(path, "initial v does not fit Loihi 2's 24-bit state", kind="chip-limit")
            )
        scale = k * unit
        factor[path] = scale
        pops[path] = FixedPopulation(
            du, dv, k, bias_mant, v_init, scale[0] if np.all(scale == scale[0]) else scale
        )
        errors[path] = {
            "scale (weight units per threshold)": k,
            "du": _shown(du),
            "dv": _shown(dv),
            "du error": _sig(np.max(np.abs((du + 1) / 4096 - pop.du))),
            "dv error": _sig(np.max(np.abs(dv / 4096 - pop.dv))),
            "bias rel. error": (
                _sig(np.linalg.norm(bias_mant / k - bias) / np.linalg.norm(bias))
                if bmax > 0
                else 0.0
            ),
        }
    syns: list[FixedSynapse] = []
    for syn in net.synapses:
        fp = pops[syn.target]
        scaled = _rows(syn.weights, factor[syn.target])  # in weight units
        m = _absmax(scaled)
        if fp.exact:
            e = _exact_exponent(_values(scaled))
            assert e is not None  # exact_scale checked it
        else:
            e = int(np.ceil(np.log2(m / WEIGHT_MANT_MAX))) if m > 0 else 0
            e = int(np.clip(e, WEIGHT_EXP_MIN, WEIGHT_EXP_MAX))
        mant = _round(scaled, 1.0 / 2.0**e)
        fs = FixedSynapse(mant, e)
        syns.append(fs)
        entry = errors[syn.target]
        entry[f"weights from {syn.source} exponent"] = e
        if fp.exact:
            continue
        ref = _norm(scaled)
        diff = fs.effective() - scaled
        rel = _norm(diff if isinstance(diff, np.ndarray) else diff.tocsr()) / ref if ref else 0.0
        entry[f"weights from {syn.source} rel. error"] = _sig(rel)
    return FixedNet(pops, syns, errors, problems)
