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


def weight_scale(weights: list[np.ndarray], how: str, limit: int) -> float:
    if how == "none" or not weights:
        return 1.0
    w = np.abs(np.concatenate([np.ravel(x) for x in weights]))
    ref = float(np.percentile(w, float(how.split(":", 1)[1]))) if ":" in how else float(w.max())
    return float(limit / ref) if ref > 0 else 1.0


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
