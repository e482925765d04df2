"""How each NIR neuron node becomes an snnTorch layer at a time step ``dt`` (import direction).

snnTorch's neurons are discrete: ``snn.Leaky`` computes ``mem = beta*mem + input`` and
``snn.Synaptic`` ``syn = alpha*syn + input; mem = beta*mem + syn``. The NIR ODEs are discretised
like the reference simulator (``docs/backends/snntorch.md`` has the derivations):

* I/IF: ``Leaky(beta=1)`` fed ``(dt*r)*x`` (exact for both methods);
* LI/LIF: ``Leaky(beta=a)`` fed ``g*x + c``: Euler ``a = 1 - dt/tau``, exact ``a = exp(-dt/tau)``,
  ``g = (1 - a)*r``-style gains as the simulator computes them; ``mem`` starts at ``v_leak``;
* CubaLI/CubaLIF, Euler: ``Synaptic(alpha=1 - dt/tau_syn, beta=1 - dt/tau_mem)`` fed
  ``x*g_syn*g_mem + c_mem*(1 - alpha)`` with ``syn`` starting at ``c_mem``, so that ``syn`` is
  ``g_mem*I + c_mem`` (bit-identical to the simulator when ``g_mem == 1`` and ``v_leak == 0``,
  as in snnTorch's own exports);
* CubaLI/CubaLIF, exact: ``Synaptic(alpha=exp(-dt/tau_syn), beta=exp(-dt/tau_mem))`` fed
  ``p*u[t] + q*u[t-1] + c_syn`` with ``u = w_in*x``, which is the simulator's zero-order-hold
  solution rewritten for snnTorch's update (its current uses the previous step's ``I``).

Reset: snnTorch's own mechanism where it is exactly NIR's (reset to 0: ``"zero"`` with
``reset_delay=False`` when thresholds are >= 0 and ``v`` starts at or below them; snnTorch's two
subtraction variants for ``subtract-delayed``/``subtract-guarded``), otherwise
``reset_mechanism="none"`` plus the reset written out in the generated ``step``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import Problem


def _f64(arrays: dict[str, np.ndarray], name: str, default: float | None = None) -> np.ndarray:
    value = arrays.get(name)
    if value is None:
        return np.asarray(default, dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _full(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.float64), shape))


def _phi(z: np.ndarray) -> np.ndarray:
    small = np.abs(z) < 1e-8
    safe = np.where(small, 1.0, z)
    return np.where(small, 1.0 + z / 2.0, np.expm1(safe) / safe)


def neuron(
    entry: dict[str, Any], arrays: dict[str, np.ndarray], dt: float, method: str
) -> tuple[dict[str, Any], dict[str, np.ndarray], list[Problem]]:
    """(structure for the code generator, float64 values by buffer name, problems)."""
    t = entry["type"]
    path = entry["path"]
    shape = tuple(entry["out_shape"])
    spiking = t in ("IF", "LIF", "CubaLIF")
    values: dict[str, np.ndarray] = {}
    problems: list[Problem] = []
    info: dict[str, Any] = {"spiking": spiking}
    if t in ("I", "IF"):
        info["layer"] = "Leaky"
        values["beta"] = np.ones(shape)
        values["gain"] = _full(dt * _f64(arrays, "r"), shape)
        v0 = np.zeros(shape)
    elif t in ("LI", "LIF"):
        info["layer"] = "Leaky"
        ratio = dt / _f64(arrays, "tau")
        if method == "euler":
            a, b = 1.0 - ratio, ratio
        else:
            a, b = np.exp(-ratio), -np.expm1(-ratio)
        if np.any(a < 0):
            problems.append(
                Problem(
                    path,
                    f"tau ({float(_f64(arrays, 'tau').min()):g} s) is "
                    f"shorter than dt ({dt:g} s): the Euler decay 1 - dt/tau is "
                    "negative, which snnTorch clamps to 0",
                    field="tau",
                    kind="unsupported-parameter",
                )
            )
        values["beta"] = _full(a, shape)
        values["gain"] = _full(b * _f64(arrays, "r"), shape)
        values["bias"] = _full(b * _f64(arrays, "v_leak"), shape)
        v0 = _full(_f64(arrays, "v_leak"), shape)
        values["v0"] = v0
    else:
        info["layer"] = "Synaptic"
        tau_syn, tau_mem = _f64(arrays, "tau_syn"), _f64(arrays, "tau_mem")
        r, v_leak, w_in = _f64(arrays, "r"), _f64(arrays, "v_leak"), _f64(arrays, "w_in", 1.0)
        v0 = _full(v_leak, shape)
        values["v0"] = v0
        if method == "euler":
            rs, rm = dt / tau_syn, dt / tau_mem
            for name, tau, a in (("tau_syn", tau_syn, 1.0 - rs), ("tau_mem", tau_mem, 1.0 - rm)):
                if np.any(a < 0):
                    problems.append(
                        Problem(
                            path,
                            f"{name} ({float(np.min(tau)):g} s) is shorter than dt "
                            f"({dt:g} s): the Euler decay is negative, which snnTorch clamps to 0",
                            field=name,
                            kind="unsupported-parameter",
                        )
                    )
            values["alpha"] = _full(1.0 - rs, shape)
            values["beta"] = _full(1.0 - rm, shape)
            values["g_syn"] = _full(rs * w_in, shape)
            values["g_mem"] = _full(rm * r, shape)
            values["c_mem"] = _full(rm * v_leak, shape)
        else:
            a_s, a_m = dt / tau_syn, dt / tau_mem
            e_s, e_m = np.exp(-a_s), np.exp(-a_m)
            b_s, b_m = -np.expm1(-a_s), -np.expm1(-a_m)
            g = b_m * r
            k = r * (a_m * e_m * _phi(a_m - a_s))
            c = b_m * v_leak
            p = g - k
            values["alpha"] = _full(e_s, shape)
            values["beta"] = _full(e_m, shape)
            values["w_in"] = _full(w_in, shape)
            values["p"] = _full(p, shape)
            values["q"] = _full(k * b_s - e_s * p, shape)
            values["c_syn"] = _full(c * (1.0 - e_s), shape)
            values["c_mem"] = _full(c, shape)
            values["b_s"] = _full(b_s, shape)
            values["r"] = _full(r, shape)
    if not spiking:
        info.update(reset_mechanism="none", reset_delay=False, explicit=None)
        return info, values, problems
    thr = _full(_f64(arrays, "v_threshold"), shape)
    values["threshold"] = thr
    v_reset = arrays.get("v_reset")
    vr = np.zeros(shape) if v_reset is None else _full(np.asarray(v_reset, np.float64), shape)
    mode = entry["reset"]
    if mode == "zero":
        if np.all(vr == 0) and np.all(thr >= 0) and np.all(v0 <= thr):
            info.update(reset_mechanism="zero", reset_delay=False, explicit=None)
        else:
            info.update(reset_mechanism="none", reset_delay=False, explicit="zero")
            values["v_reset"] = vr
    elif mode == "subtract":
        info.update(reset_mechanism="none", reset_delay=False, explicit="subtract")
    elif mode == "subtract-delayed":
        info.update(reset_mechanism="subtract", reset_delay=True, explicit=None)
    elif mode == "subtract-guarded":
        info.update(reset_mechanism="subtract", reset_delay=False, explicit=None)
    else:  # pragma: no cover - the conventions module validates reset modes
        problems.append(Problem(path, f"unknown reset mode {mode!r}", kind="unsupported"))
    return info, values, problems
