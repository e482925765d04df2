"""Discretisation of NIR's continuous-time neuron ODEs into per-step update coefficients.

Two methods (``docs/simulator.md`` has the derivations):

``"euler"``
    Forward Euler at step ``dt``, the rule of snnTorch, Norse and SpiNNaker2's ``FORWARD``
    integrator. For ``tau dv/dt = (v_leak - v) + r x``:
    ``v <- a*v + (g*x + c)`` with ``a = 1 - dt/tau``, ``g = (dt/tau)*r``, ``c = (dt/tau)*v_leak``.
``"exact"``
    The exact solution of the ODE over one step with the input held constant during the step
    (zero-order hold): ``a = exp(-dt/tau)``, ``g = (1 - a)*r``, ``c = (1 - a)*v_leak``.

The update is always written as ``a*v + (g*x + c)``: for graphs exported by snnTorch at the
same ``dt`` (``r = tau/dt``) the input gain ``g`` is exactly 1, so this order of operations
reproduces snnTorch's ``beta*mem + input`` bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nirhub.errors import Problem, UnsupportedError

METHODS: tuple[str, ...] = ("euler", "exact")


@dataclass(frozen=True)
class Leak:
    """Coefficients of ``v <- a*v + (g*x + c)`` for one leaky state variable."""

    a: np.ndarray
    g: np.ndarray
    c: np.ndarray


def leak(tau: np.ndarray, gain: np.ndarray, rest: np.ndarray, dt: float, method: str) -> Leak:
    """Coefficients for ``tau dv/dt = (rest - v) + gain*x`` (all arrays broadcast)."""
    ratio = dt / tau
    if method == "euler":
        a = 1.0 - ratio
        b = ratio
    else:
        a = np.exp(-ratio)
        b = -np.expm1(-ratio)  # 1 - exp(-dt/tau) without cancellation
    return Leak(np.asarray(a), np.asarray(b * gain), np.asarray(b * rest))


def _phi(z: np.ndarray) -> np.ndarray:
    """``expm1(z)/z``, continuous at 0 (where it is 1)."""
    z = np.asarray(z, dtype=np.float64)
    small = np.abs(z) < 1e-8
    safe = np.where(small, 1.0, z)
    return np.where(small, 1.0 + z / 2.0, np.expm1(safe) / safe)


@dataclass(frozen=True)
class CubaExact:
    """Exact (zero-order hold) step of the CubaLI/CubaLIF system.

    With ``u = w_in*x`` held constant over the step and the *old* synaptic current ``I``::

        v <- e_m*v + c + g*u + k*(I - u)
        I <- e_s*I + (1 - e_s)*u

    where ``e = exp(-dt/tau)``, ``c = (1 - e_m)*v_leak``, ``g = (1 - e_m)*r`` and
    ``k = r * tau_syn/(tau_syn - tau_mem) * (e_s - e_m)`` (its limit ``r*(dt/tau)*e`` when the
    two time constants are equal).
    """

    e_s: np.ndarray
    b_s: np.ndarray
    e_m: np.ndarray
    c: np.ndarray
    g: np.ndarray
    k: np.ndarray


def cuba_exact(
    tau_syn: np.ndarray,
    tau_mem: np.ndarray,
    r: np.ndarray,
    v_leak: np.ndarray,
    dt: float,
) -> CubaExact:
    a_s = dt / np.asarray(tau_syn, dtype=np.float64)
    a_m = dt / np.asarray(tau_mem, dtype=np.float64)
    e_s, e_m = np.exp(-a_s), np.exp(-a_m)
    b_s, b_m = -np.expm1(-a_s), -np.expm1(-a_m)
    # tau_s/(tau_s - tau_m) * (e_s - e_m) = a_m * e_m * expm1(a_m - a_s)/(a_m - a_s)
    kappa = a_m * e_m * _phi(a_m - a_s)
    return CubaExact(e_s, b_s, e_m, b_m * v_leak, b_m * r, r * kappa)


# -- forward Euler needs dt < tau -------------------------------------------------------------

#: the time constants of each leaky node type
_TAU_FIELDS: dict[str, tuple[str, ...]] = {
    "LI": ("tau",),
    "LIF": ("tau",),
    "CubaLI": ("tau_syn", "tau_mem"),
    "CubaLIF": ("tau_syn", "tau_mem"),
}


def euler_decay_problems(nodes: Iterable[tuple[str, Any]], dt: float) -> list[Problem]:
    """Every time constant whose forward-Euler decay ``1 - dt/tau`` is zero or negative.

    Such a decay is not a leak: the state flips sign every step (Norse 1.1.0's own exporter
    writes ``tau = dt/tau_mem_inv``, e.g. 1e-5 s for dt = 0.01 s: a decay of -99).
    """
    problems: list[Problem] = []
    for path, node in nodes:
        for name in _TAU_FIELDS.get(getattr(node, "type_name", ""), ()):
            tau = np.asarray(getattr(node, name), dtype=np.float64)
            if tau.size == 0:
                continue
            decay = 1.0 - dt / tau
            bad = decay <= 0
            if not bad.any():
                continue
            worst = float(decay[bad].min()) if decay.ndim else float(decay)
            smallest = float(tau[bad].min()) if tau.ndim else float(tau)
            problems.append(
                Problem(
                    path,
                    f"{name} = {smallest:g} s is not longer than dt = {dt:g} s, so forward "
                    f"Euler's decay 1 - dt/{name} is {worst:g} ({int(bad.sum())} of "
                    f"{bad.size} neurons): the state would flip sign every step",
                    field=name,
                    kind="euler-decay",
                )
            )
    return problems


EULER_DECAY_HINT = (
    "Run with --method exact (decay exp(-dt/tau), always in (0, 1)), or pass a smaller --dt. "
    "If the file was written by Norse's own exporter (nir 1.0.4 era), it stored "
    "tau = dt/tau_mem_inv instead of 1/tau_mem_inv: re-export it, or fix tau in the file."
)


def check_euler_decay(nodes: Iterable[tuple[str, Any]], dt: float, method: str) -> None:
    """Refuse forward Euler where a decay ``1 - dt/tau`` is not positive (see above)."""
    if method != "euler":
        return
    problems = euler_decay_problems(nodes, dt)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise UnsupportedError(
            f"forward Euler cannot run this graph at dt = {dt:g} s:\n{listing}",
            problems=problems,
            hint=EULER_DECAY_HINT,
        )
