"""Population parameters by ``s2_nir``'s formulas (float32, per neuron, CHW order)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from nirhub_spinnaker2.model import Settings


def integrator_factors(tau: np.ndarray, dt: float, integrator: str) -> tuple[np.ndarray, ...]:
    """(a, decay) of ``s2_nir``: FORWARD a = dt/tau; EXPONENTIAL a = 1 - exp(-dt/tau)."""
    tau = np.asarray(tau, dtype=np.float64)
    if integrator == "forward":
        a = dt / tau
        return a, 1.0 - a
    decay = np.exp(-dt / tau)
    return 1.0 - decay, decay


def _maps_to_integers(w: np.ndarray, scale: float) -> bool:
    x = w * scale
    return bool(np.all(np.isfinite(x)) and np.all(x == np.round(x)))


#: unique weight values up to which an integer scale is searched (quantized networks)
GRID_SEARCH_VALUES = 256
#: integer scales tried below 127 / max|W| (grids up to 1/1024)
GRID_SEARCH_STEPS = 1024


def exact_scale(w: np.ndarray, limit: int) -> tuple[float, str] | None:
    """A scale that maps every weight onto an integer within ``limit`` exactly, or None.

    Quantized networks (integer weights, dyadic weights ``k/2^n``) keep their ratios only if
    the chip's integers do: ``127 / max|W|`` (63.5 for weights up to 2) truncates them into
    other ratios. Preferred, in order: ``127 / max|W|`` itself when it is exact (what
    py-spinnaker2 does), the largest power of two (scaling by it commutes with the chip's
    float32 rounding), the largest integer (for grids such as thirds).
    """
    top = float(np.max(w)) if w.size else 0.0
    if top <= 0:
        return None
    upstream = limit / top
    if _maps_to_integers(w, upstream):
        return upstream, "max"
    pow2 = 2.0 ** math.floor(math.log2(upstream))
    if _maps_to_integers(w, pow2):
        return pow2, "power of two"
    values = np.unique(w)
    if values.size <= GRID_SEARCH_VALUES:
        top_n = int(math.floor(upstream))
        # a grid of step 1/d has an exact integer scale within d of the top one
        for n in range(top_n, max(0, top_n - GRID_SEARCH_STEPS), -1):
            if _maps_to_integers(values, float(n)):
                return float(n), "integer"
    return None


def weight_scale(weights: list[np.ndarray], how: str, limit: int) -> tuple[float, str]:
    """The population's weight scale and how it was chosen.

    ``max`` (default): exact when the weights allow (:func:`exact_scale`), else
    ``127 / max|W|``; ``upstream``: ``127 / max|W|`` always (py-spinnaker2's
    ``scale_weights=True``); ``percentile:P``; ``none``.
    """
    if how == "none" or not weights:
        return 1.0, "none"
    w = np.abs(np.concatenate([np.ravel(x) for x in weights]))
    if how == "max":
        exact = exact_scale(w, limit)
        if exact is not None:
            return exact
    ref = float(np.percentile(w, float(how.split(":", 1)[1]))) if ":" in how else float(w.max())
    return (float(limit / ref), how) if ref > 0 else (1.0, how)


def quantize(w: np.ndarray, rounding: str) -> np.ndarray:
    """Integers as the chip gets them: truncation (py-spinnaker2's astype), or nearest."""
    if rounding == "none":
        return np.asarray(w, dtype=np.float64)
    q = np.trunc(w) if rounding == "trunc" else np.rint(w)
    return q.astype(np.int64)


def full_param(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter broadcast to the population's shape, flattened (CHW order), float64."""
    return np.broadcast_to(np.asarray(x, dtype=np.float64), shape).reshape(-1).copy()


def neuron_params(
    node: Any, kind: str, w_scale: float, bias: np.ndarray, s: Settings, shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """float32 parameters of one population (``s2_nir``'s formulas)."""
    n = int(math.prod(shape))

    def full(x: Any) -> np.ndarray:
        return full_param(x, shape)

    bias = full(bias)
    if kind == "IF":
        # NIR's IF integrates dv/dt = R I: v += dt R I per step (py-spinnaker2 drops the dt,
        # which is the same at its default dt = 1)
        r = full(node.r) * s.dt
        p = {
            "threshold": full(node.v_threshold) * w_scale / r,
            "alpha_decay": np.ones(n),
            "i_offset": bias * w_scale,
        }
    elif kind == "LIF":
        a, decay = integrator_factors(full(node.tau), s.dt, s.integrator)
        scale = w_scale / (a * full(node.r))
        p = {
            "threshold": full(node.v_threshold) * scale,
            "alpha_decay": decay,
            "i_offset": a * full(node.v_leak) * scale + bias * w_scale,
        }
    else:  # CubaLIF
        a_mem, d_mem = integrator_factors(full(node.tau_mem), s.dt, s.integrator)
        a_syn, d_syn = integrator_factors(full(node.tau_syn), s.dt, s.integrator)
        w_in = full(node.w_in)
        scale = w_scale / (a_mem * full(node.r) * a_syn * w_in)
        p = {
            "threshold": full(node.v_threshold) * scale,
            "alpha_decay": d_mem,
            "exc_decay": d_syn,
            "inh_decay": d_syn,
            "i_offset": a_mem * full(node.v_leak) * scale + bias * w_in * w_scale / (a_syn * w_in),
            "t_refrac": np.zeros(n),
        }
    p["v_reset"] = np.zeros(n)
    return {k: v.astype(np.float32) for k, v in p.items()}


def voltage_scale(
    node: Any, kind: str, w_scale: float, s: Settings, shape: tuple[int, ...]
) -> np.ndarray:
    """Chip voltage per NIR voltage unit (``scale`` of ``s2_nir``), float64, flattened."""
    r = full_param(node.r, shape)
    if kind == "IF":
        return w_scale / (r * s.dt)
    if kind == "LIF":
        a, _ = integrator_factors(full_param(node.tau, shape), s.dt, s.integrator)
        return w_scale / (a * r)
    a_mem, _ = integrator_factors(full_param(node.tau_mem, shape), s.dt, s.integrator)
    a_syn, _ = integrator_factors(full_param(node.tau_syn, shape), s.dt, s.integrator)
    return w_scale / (a_mem * r * a_syn * full_param(node.w_in, shape))
