"""NIR nodes -> sinabs layers and torch layers (the *import* direction), as code.

Sinabs counts time in steps (``sinabs.layers``, ``norm_input=False`` as used here)::

    LIF      i <- alpha_syn*(i + x) (with tau_syn; else i = x);  v <- alpha*v + i
             alpha = exp(-1/tau_mem), tau_mem in steps; spikes, reset, no floor (min_v_mem=None)
    ExpLeak  v <- alpha*v + x (no spikes)
    IAF      v <- v + x (alpha = 1)
    SingleSpike: spike when v - thr >= 0; MembraneSubtract: v <- v - thr;
    MembraneReset(): v <- 0 (sinabs adds reset_value to *every* neuron, so only 0 is used)

NIR at step dt (``nirhub.sim``):

* LIF/LI, method "exact": ``v <- a v + (1 - a)(r x)`` with ``a = exp(-dt/tau)``: tau_mem =
  tau/dt steps and an input gain ``(1 - a) r``. Method "euler": ``a = 1 - dt/tau``: tau_mem =
  -1/ln(1 - dt/tau) (needs dt < tau) and the gain ``(dt/tau) r``. ``v_leak`` must be 0 (sinabs has
  no resting potential).
* IF / I: ``v <- v + dt r x``: IAF with the gain ``dt r``.
* CubaLIF / CubaLI, method "euler" only: ``I <- a_s I + g_s x``, ``v <- a_m v + g_m I`` with
  ``a = 1 - dt/tau``, ``g_s = (dt/tau_syn) w_in``, ``g_m = (dt/tau_mem) r``. Sinabs' current
  ``i = g_m I`` follows it exactly with alpha_syn = a_s, alpha = a_m and the input gain
  ``g_m g_s / a_s`` (needs dt < tau_syn and dt < tau_mem).

* CubaLIF / CubaLI recording the *staged* variant (``nirhub.discretization = "staged"``, what
  sinabs' own LIF(tau_syn) exports as) under method "exact": the same mapping with the decays
  ``exp(-dt/tau)`` and gains ``(1 - a) r``, ``(1 - a_s) w_in``, exact.

The spike test is ``v >= thr`` in sinabs and ``v > thr`` in NIR: they differ only when v lands
exactly on the threshold, which integer and dyadic networks (what Speck users train) do all
the time. In sinabs' float32, ``v > t`` is exactly ``v >= nextafter(t, +inf)``: single-spike
neurons get that threshold (one ulp above) and, when they reset by subtraction, subtract the
threshold itself (``MembraneSubtract(subtract_value=t)``), so ties are exact. A node recording
``nirhub.threshold = ">="`` keeps its threshold; multi-spike neurons are left as they are. Neuron
variants (``nirhub.ir.conventions.NeuronVariant``) sinabs runs natively: multi-spike
(``MultiSpike``, ``MaxSpike(k)``), ``>=``, ``v_min`` (``min_v_mem``), staged ZOH.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nirhub.backend import (
    GraphPlan,
    Problem,
    Step,
    int_tuple,
    no_equivalent,
    place_gains,
    raise_unsupported,
    refuse_torch_layer,
    torch_layer,
    variant_hint,
    variant_problems,
)
from nirhub.backend import float32_tensor as _t
from nirhub.ir.conventions import NeuronVariant, get_variant, reset_mode
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    NEURON_TYPES,
    CubaLI,
    CubaLIF,
    I,
    SumPool2d,
)
from nirhub_sinabs.types import TYPES

#: node types the importer maps (Input/Output are ports)
IMPORTS = TYPES
#: neuron variants sinabs reproduces (nirhub.ir.conventions.VARIANTS)
VARIANTS = frozenset({"multi-spike", "threshold>=", "v-min", "staged"})


@dataclass
class Layer:
    """One module of the generated model."""

    name: str
    #: constructor; ``{squeeze}`` is replaced by ``Squeeze`` + batch size in a Sequential
    ctor: str
    neuron: bool  #: a sinabs layer (stateful, (batch, time, ...) layout)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    comment: str = ""


@dataclass
class Lowered:
    plan: GraphPlan
    layers: dict[str, list[Layer]]
    dt: float
    method: str


def decay(tau: np.ndarray, dt: float, method: str) -> np.ndarray:
    """The per-step decay factor of the reference discretization."""
    ratio = dt / np.asarray(tau, dtype=np.float64)
    return 1.0 - ratio if method == "euler" else np.exp(-ratio)


def _rate(tau: np.ndarray, dt: float, method: str) -> np.ndarray:
    """``1 - decay``: ``dt/tau`` (euler) or ``1 - exp(-dt/tau)`` (exact)."""
    ratio = dt / np.asarray(tau, dtype=np.float64)
    return ratio if method == "euler" else -np.expm1(-ratio)


def steps_tau(a: np.ndarray) -> np.ndarray:
    """Sinabs' tau (in steps) whose ``exp(-1/tau)`` is the decay ``a``."""
    return -1.0 / np.log(a)


def check_and_gains(
    plan: GraphPlan, graph: Graph, dt: float, method: str, reset: str | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Refuse what sinabs cannot run exactly (every node at once); return gains and resets."""
    problems: list[Problem] = []
    gains: dict[str, np.ndarray] = {}
    resets: dict[str, str] = {}

    def refuse(step: Step, why: str) -> None:
        problems.append(Problem(step.path or step.name, why, kind="unsupported"))

    problems.extend(variant_problems(graph, VARIANTS, "sinabs", method=method))

    for name, step in plan.steps.items():
        node = step.node
        t = node.type_name
        if t in ("Input", "Output"):
            continue
        if t not in IMPORTS:
            refuse(step, no_equivalent(t, IMPORTS, "sinabs"))
            continue
        why = refuse_torch_layer(node)
        if why is not None:
            refuse(step, why)
        if t in ("IF", "LIF", "CubaLIF"):
            resets[name] = reset_mode(graph, step.path, reset)
            if resets[name] not in ("zero", "subtract"):
                refuse(
                    step,
                    f"reset mode {resets[name]!r} (snnTorch's subtraction variant): sinabs "
                    "resets with MembraneReset or MembraneSubtract in the spike step only",
                )
            if (
                resets[name] == "zero"
                and node.v_reset is not None
                and np.any(np.asarray(node.v_reset) != 0)
            ):
                refuse(
                    step,
                    "a non-zero v_reset: sinabs' MembraneReset(reset_value) adds "
                    "reset_value to every neuron, so only reset to 0 is exact",
                )
        if t in ("LI", "LIF", "CubaLI", "CubaLIF") and np.any(np.asarray(node.v_leak) != 0):
            refuse(step, "a non-zero v_leak: sinabs neurons have no resting potential")
        if isinstance(node, (IF, I)):
            gains[name] = dt * np.asarray(node.r, dtype=np.float64)
        elif isinstance(node, (LIF, LI)):
            if method == "euler" and np.any(np.asarray(node.tau) <= dt):
                refuse(
                    step,
                    f"tau <= dt ({dt:g} s): forward Euler's decay 1 - dt/tau is not a "
                    "positive sinabs decay exp(-1/tau_mem)",
                )
                continue
            a = decay(node.tau, dt, method)
            gains[name] = (1.0 - a) * np.asarray(node.r, dtype=np.float64)
        if t in ("IF", "LIF", "CubaLIF"):
            v_min = get_variant(node, step.path).v_min
            if v_min is not None and np.any(np.isinf(v_min)):
                refuse(
                    step,
                    "v_min with -inf entries: sinabs' min_v_mem computes "
                    "relu(v - min_v_mem) + min_v_mem, which needs finite bounds",
                )
        if isinstance(node, (CubaLIF, CubaLI)):
            staged = get_variant(node, step.path).discretization == "staged"
            if method != "euler" and not staged:
                refuse(
                    step,
                    f"sinabs updates {t}'s synaptic current before the membrane "
                    "(i <- a_s(i + x)); the exact (zero-order hold) solution of the "
                    "coupled system is not expressible. Import with method=euler",
                )
                continue
            if method == "euler" and (
                np.any(np.asarray(node.tau_syn) <= dt) or np.any(np.asarray(node.tau_mem) <= dt)
            ):
                refuse(step, f"tau_syn and tau_mem must exceed dt ({dt:g} s) for sinabs' decays")
                continue
            w_in = 1.0 if node.w_in is None else np.asarray(node.w_in, dtype=np.float64)
            a_s = decay(node.tau_syn, dt, method)
            g_s = _rate(node.tau_syn, dt, method) * w_in
            g_m = _rate(node.tau_mem, dt, method) * np.asarray(node.r, dtype=np.float64)
            gains[name] = g_m * g_s / a_s
    raise_unsupported(problems, "sinabs", hint=variant_hint(problems))
    return gains, resets


def lower(
    plan: GraphPlan,
    graph: Graph,
    dt: float,
    method: str,
    reset: str | None,
    fold: bool = True,
    exact_ties: bool = True,
) -> Lowered:
    """The sinabs model of ``graph``; ``exact_ties=False`` keeps each threshold as it is
    (Speck folds thresholds into weights and makes ties exact in its own integer units)."""
    gains, resets = check_and_gains(plan, graph, dt, method, reset)
    place_gains(plan, gains, fold=fold)
    layers: dict[str, list[Layer]] = {}
    for name, step in plan.steps.items():
        if not step.identity:
            layers[name] = [_layer(step, dt, method, resets.get(name, "zero"), exact_ties)]
    return Lowered(plan, layers, dt, method)


def _spiking(
    n: str,
    node: IF | LIF | CubaLIF,
    shape: tuple[int, ...],
    reset: str,
    variant: NeuronVariant,
    exact_ties: bool = True,
) -> tuple[str, dict[str, np.ndarray]]:
    reset_fn = "sa.MembraneSubtract()" if reset == "subtract" else "sa.MembraneReset()"
    if variant.spikes != "multi":
        spike_fn = "sa.SingleSpike"
    elif variant.max_spikes is None:
        spike_fn = "sa.MultiSpike"
    else:
        spike_fn = f"sa.MaxSpike({int(variant.max_spikes)})"
    threshold = _t(node.v_threshold, shape)
    tensors = {f"{n}.spike_threshold": threshold}
    if exact_ties and variant.spikes != "multi" and variant.threshold != ">=":
        # NIR's v > t is sinabs' v >= t' with t' the next float32 above t (exact at ties)
        tensors[f"{n}.spike_threshold"] = np.nextafter(threshold, np.float32(np.inf))
        if reset == "subtract":
            tensors[f"{n}.subtract_value"] = threshold
            reset_fn = f'sa.MembraneSubtract(subtract_value=p["{n}.subtract_value"])'
    floor = "None"
    if variant.v_min is not None:
        floor = f'p["{n}.min_v_mem"]'
        tensors[f"{n}.min_v_mem"] = _t(variant.v_min, shape)
    args = (
        f'spike_threshold=p["{n}.spike_threshold"], spike_fn={spike_fn}, '
        f"reset_fn={reset_fn}, min_v_mem={floor}"
    )
    return args, tensors


_SILENT = "spike_threshold=None, spike_fn=None, reset_fn=None, min_v_mem=None"


def _layer(step: Step, dt: float, method: str, reset: str, exact_ties: bool = True) -> Layer:
    node, n = step.node, step.name
    origin = f"NIR {step.path}: {node.type_name}" if step.path else "input gain (r, w_in, dt)"
    shape = step.out_shape
    variant = get_variant(node, step.path) if node.type_name in NEURON_TYPES else NeuronVariant()
    if isinstance(node, SumPool2d) and not any(node.padding):
        return Layer(
            n,
            f"sl.SumPool2d({int_tuple(node.kernel_size)}, stride={int_tuple(node.stride)})",
            False,
            {},
            origin,
        )
    static = torch_layer(step, origin)
    if static is not None:
        return Layer(n, static.ctor, False, static.tensors, static.comment)
    if isinstance(node, (IF, I)):
        if isinstance(node, IF):
            args, tensors = _spiking(n, node, shape, reset, variant, exact_ties)
        else:
            args, tensors = _SILENT, {}
        return Layer(n, f"sl.IAF{{squeeze}}({args})", True, tensors, origin)
    if isinstance(node, (LIF, LI)):
        tau = steps_tau(decay(node.tau, dt, method))
        tensors = {f"{n}.tau_mem": _t(tau, shape)}
        if isinstance(node, LI):
            ctor = f'sl.ExpLeak{{squeeze}}(tau_mem=p["{n}.tau_mem"], norm_input=False)'
            return Layer(n, ctor, True, tensors, origin)
        args, more = _spiking(n, node, shape, reset, variant, exact_ties)
        ctor = f'sl.LIF{{squeeze}}(tau_mem=p["{n}.tau_mem"], {args}, norm_input=False)'
        return Layer(n, ctor, True, {**tensors, **more}, origin)
    assert isinstance(node, (CubaLIF, CubaLI))
    # checked: method "euler", or "exact" with the staged variant (each stage exact)
    tensors = {
        f"{n}.tau_mem": _t(steps_tau(decay(node.tau_mem, dt, method)), shape),
        f"{n}.tau_syn": _t(steps_tau(decay(node.tau_syn, dt, method)), shape),
    }
    if isinstance(node, CubaLIF):
        args, more = _spiking(n, node, shape, reset, variant, exact_ties)
        tensors.update(more)
    else:
        args = _SILENT
    ctor = (
        f'sl.LIF{{squeeze}}(tau_mem=p["{n}.tau_mem"], tau_syn=p["{n}.tau_syn"], {args}, '
        "norm_input=False)"
    )
    return Layer(n, ctor, True, tensors, origin)
