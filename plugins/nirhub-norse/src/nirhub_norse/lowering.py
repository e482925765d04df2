"""NIR nodes -> norse cells and torch layers (the *import* direction), as code.

Norse integrates with forward Euler at step ``dt`` (``norse.torch.functional``)::

    LIFBoxCell   v <- v + dt*tau_mem_inv*((v_leak - v) + x); spike if v - v_th > 0;
                 reset_value (v <- v_reset) or reset_subtract (v <- v - v_th)
    LIBoxCell    the same without spikes
    LIFCell      j <- i + x;  v <- v + dt*tau_mem_inv*((v_leak - v) + j);
                 i <- j*(1 - dt*tau_syn_inv); spike if v - v_th > 0; v <- v_reset (only)
    LICell       the same without spikes
    IAFCell      v <- v + x; spike if v - v_th > 0; v <- v_reset; starts at v = v_reset

NIR at step dt, forward Euler (``nirhub.sim``, method "euler"):

* LIF:  ``v <- (1 - dt/tau) v + (dt/tau)(v_leak + r x)``  = LIFBoxCell(tau_mem_inv = 1/tau) fed
  ``r x``. With method "exact" the decay is ``exp(-dt/tau)``: tau_mem_inv = (1 - exp(-dt/tau))/dt
  gives exactly that update, with the same input ``r x``.
* CubaLIF: ``I <- (1 - dt/ts) I + (dt/ts) w_in x``; ``v <- (1 - dt/tm) v + (dt/tm)(v_leak + r I)``.
  LIFCell's ``j`` is ``r I`` when fed ``r (dt/ts) w_in x``: exact. Reset by subtraction: LIFCell
  cannot, so the node becomes LIBoxCell(tau_syn) fed ``w_in x``, a gain ``r``, and a LIFBoxCell
  with ``reset_subtract``: the same equations.
* IF: ``v <- v + dt r x`` = IAFCell fed ``dt r x`` (v_reset must be 0: IAFCell starts at
  v_reset, NIR at 0).

Input gains are placed by :func:`nirhub.backend.graphplan.place_gains` (folded into the weights
of the layers that feed the neuron alone, else an explicit ``Scale`` layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nirhub.backend import (
    GraphPlan,
    Problem,
    Step,
    no_equivalent,
    place_gains,
    raise_unsupported,
    refuse_torch_layer,
    torch_layer,
    variant_hint,
    variant_problems,
)
from nirhub.backend import float32_tensor as _t
from nirhub.ir.conventions import reset_mode
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    CubaLI,
    CubaLIF,
)
from nirhub_norse.types import TYPES

#: node types the importer maps (Input/Output are ports)
IMPORTS = TYPES


@dataclass
class Layer:
    """One module of the generated model."""

    name: str  #: attribute / key prefix
    ctor: str  #: Python expression that builds it (may read ``p[...]`` and ``DT``)
    stateful: bool  #: a norse cell: called as ``y, s = m(x, s)``
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    comment: str = ""


@dataclass
class Lowered:
    """The plan plus, per step, the layers it becomes (applied in sequence)."""

    plan: GraphPlan
    layers: dict[str, list[Layer]]
    dt: float
    method: str


def _decay_inv(tau: np.ndarray, dt: float, method: str) -> np.ndarray:
    """tau_inv such that norse's ``1 - dt*tau_inv`` is the method's decay factor."""
    tau = np.asarray(tau, dtype=np.float64)
    if method == "euler":
        return 1.0 / tau
    return -np.expm1(-dt / tau) / dt


def check_and_gains(
    plan: GraphPlan, graph: Graph, dt: float, method: str, reset: str | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Refuse what norse cannot run exactly (every node at once); return gains and resets."""
    problems: list[Problem] = []
    gains: dict[str, np.ndarray] = {}
    resets: dict[str, str] = {}

    def refuse(step: Step, why: str) -> None:
        problems.append(Problem(step.path or step.name, why, kind="unsupported"))

    # norse's neurons: single spikes at v > thr, no lower bound, the coupled/Euler synapse
    problems.extend(variant_problems(graph, (), "norse", method=method))

    for name, step in plan.steps.items():
        node = step.node
        t = node.type_name
        if t in ("Input", "Output"):
            continue
        if t not in IMPORTS:
            refuse(step, no_equivalent(t, IMPORTS, "norse"))
            continue
        why = refuse_torch_layer(node)
        if why is not None:
            refuse(step, why)
        if t in ("IF", "LIF", "CubaLIF"):
            mode = reset_mode(graph, step.path, reset)
            resets[name] = mode
            if mode not in ("zero", "subtract"):
                refuse(
                    step,
                    f"reset mode {mode!r} (snnTorch's subtraction variant): norse's cells "
                    "reset to v_reset or subtract the threshold in the spike step, nothing else",
                )
        if isinstance(node, IF):
            if resets[name] == "subtract":
                refuse(
                    step,
                    "norse's IAFCell resets to a value only; reset by subtraction is "
                    "not expressible (LIFBoxCell could subtract, but leaks)",
                )
            if node.v_reset is not None and np.any(np.asarray(node.v_reset) != 0):
                refuse(
                    step,
                    "norse's IAFCell starts at v = v_reset, NIR's IF at v = 0: a "
                    "non-zero v_reset is not expressible",
                )
            gains[name] = dt * np.asarray(node.r, dtype=np.float64)
        elif isinstance(node, (LIF, LI)):
            gains[name] = np.asarray(node.r, dtype=np.float64)
        elif isinstance(node, (CubaLIF, CubaLI)):
            if method != "euler":
                refuse(
                    step,
                    f"norse integrates {t}'s synaptic current with forward Euler; the "
                    "exact (zero-order hold) solution of the coupled system is not "
                    "expressible. Import with method=euler",
                )
                continue
            w_in = 1.0 if node.w_in is None else np.asarray(node.w_in, dtype=np.float64)
            if isinstance(node, CubaLIF) and resets[name] == "subtract":
                # LIBoxCell(tau_syn) applies dt/tau_syn itself; r goes between the two cells
                gains[name] = w_in * np.ones(step.in_shape)
            else:
                syn = dt / np.asarray(node.tau_syn, dtype=np.float64) * w_in
                gains[name] = syn * np.asarray(node.r, dtype=np.float64)
    raise_unsupported(problems, "norse", hint=variant_hint(problems))
    return gains, resets


def lower(
    plan: GraphPlan, graph: Graph, dt: float, method: str, reset: str | None, fold: bool = True
) -> Lowered:
    """Map every step to norse/torch layers (gains placed first)."""
    gains, resets = check_and_gains(plan, graph, dt, method, reset)
    place_gains(plan, gains, fold=fold)
    layers: dict[str, list[Layer]] = {}
    for name, step in plan.steps.items():
        if step.identity:
            continue
        layers[name] = _layers(step, dt, method, resets.get(name, "zero"))
    return Lowered(plan, layers, dt, method)


def _layers(step: Step, dt: float, method: str, reset: str) -> list[Layer]:
    node, n = step.node, step.name
    origin = f"NIR {step.path}: {node.type_name}" if step.path else "input gain (r, w_in, dt)"
    shape = step.out_shape
    static = torch_layer(step, origin)
    if static is not None:
        return [Layer(n, static.ctor, False, static.tensors, static.comment)]
    if isinstance(node, IF):
        tensors = {f"{n}.v_th": _t(node.v_threshold, shape), f"{n}.v_reset": _t(0.0, shape)}
        ctor = (
            f'norse.IAFCell(norse.IAFParameters(v_th=p["{n}.v_th"], '
            f'v_reset=p["{n}.v_reset"]), dt=DT)'
        )
        return [Layer(n, ctor, True, tensors, origin)]
    if isinstance(node, (LIF, LI)):
        tensors = {
            f"{n}.tau_mem_inv": _t(_decay_inv(node.tau, dt, method), shape),
            f"{n}.v_leak": _t(node.v_leak, shape),
        }
        if isinstance(node, LI):
            ctor = (
                f'norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=p["{n}.tau_mem_inv"], '
                f'v_leak=p["{n}.v_leak"]), dt=DT)'
            )
            return [Layer(n, ctor, True, tensors, origin)]
        return [_lif_box(n, node, shape, tensors, reset, origin)]
    if isinstance(node, CubaLI):
        tensors = {
            f"{n}.tau_syn_inv": _t(1.0 / np.asarray(node.tau_syn, np.float64), shape),
            f"{n}.tau_mem_inv": _t(1.0 / np.asarray(node.tau_mem, np.float64), shape),
            f"{n}.v_leak": _t(node.v_leak, shape),
        }
        ctor = (
            f'norse.LICell(norse.LIParameters(tau_syn_inv=p["{n}.tau_syn_inv"], '
            f'tau_mem_inv=p["{n}.tau_mem_inv"], v_leak=p["{n}.v_leak"]), dt=DT)'
        )
        return [Layer(n, ctor, True, tensors, origin)]
    if isinstance(node, CubaLIF):
        tau_syn_inv = 1.0 / np.asarray(node.tau_syn, np.float64)
        tau_mem_inv = 1.0 / np.asarray(node.tau_mem, np.float64)
        if reset == "zero":
            vr = 0.0 if node.v_reset is None else node.v_reset
            tensors = {
                f"{n}.tau_syn_inv": _t(tau_syn_inv, shape),
                f"{n}.tau_mem_inv": _t(tau_mem_inv, shape),
                f"{n}.v_leak": _t(node.v_leak, shape),
                f"{n}.v_th": _t(node.v_threshold, shape),
                f"{n}.v_reset": _t(vr, shape),
            }
            ctor = (
                f'norse.LIFCell(norse.LIFParameters(tau_syn_inv=p["{n}.tau_syn_inv"], '
                f'tau_mem_inv=p["{n}.tau_mem_inv"], v_leak=p["{n}.v_leak"], '
                f'v_th=p["{n}.v_th"], v_reset=p["{n}.v_reset"]), dt=DT)'
            )
            return [Layer(n, ctor, True, tensors, origin)]
        # reset by subtraction: synapse (LIBoxCell), gain r, membrane (LIFBoxCell)
        syn = f"{n}_syn"
        out = [
            Layer(
                syn,
                (
                    f'norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=p["{syn}.'
                    f'tau_mem_inv"], v_leak=p["{syn}.v_leak"]), dt=DT)'
                ),
                True,
                {f"{syn}.tau_mem_inv": _t(tau_syn_inv, shape), f"{syn}.v_leak": _t(0.0, shape)},
                f"{origin} (synaptic current; LIFCell cannot reset by subtraction)",
            )
        ]
        r = np.asarray(node.r, dtype=np.float64)
        if not np.all(r == 1.0):
            out.append(
                Layer(
                    f"{n}_r",
                    f'Scale(p["{n}_r.scale"])',
                    False,
                    {f"{n}_r.scale": _t(r, shape)},
                    f"{origin} (r)",
                )
            )
        mem_tensors = {
            f"{n}.tau_mem_inv": _t(tau_mem_inv, shape),
            f"{n}.v_leak": _t(node.v_leak, shape),
        }
        out.append(_lif_box(n, node, shape, mem_tensors, reset, f"{origin} (membrane)"))
        return out
    raise AssertionError(f"unhandled {node.type_name}")  # pragma: no cover - checked above


def _lif_box(
    n: str,
    node: LIF | CubaLIF,
    shape: tuple[int, ...],
    tensors: dict[str, np.ndarray],
    reset: str,
    origin: str,
) -> Layer:
    vr = 0.0 if node.v_reset is None else node.v_reset
    tensors = {**tensors, f"{n}.v_th": _t(node.v_threshold, shape), f"{n}.v_reset": _t(vr, shape)}
    method = "reset_subtract" if reset == "subtract" else "reset_value"
    ctor = (
        f'norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=p["{n}.tau_mem_inv"], '
        f'v_leak=p["{n}.v_leak"], v_th=p["{n}.v_th"], v_reset=p["{n}.v_reset"], '
        f"reset_method=norse.{method}), dt=DT)"
    )
    return Layer(n, ctor, True, tensors, origin)
