"""NIR graph -> a chain of rockpool torch modules (the *import* direction), as plain data.

Rockpool's torch neurons, per step of ``dt`` (``rockpool.nn.modules.torch``)::

    ExpSynTorch     I <- beta*(I + x)                            (output I)
    LIFNeuronTorch  v <- alpha*v + x + bias; n = (v >= thr)*floor(v/thr), at most
                    max_spikes_per_dt; v <- v - n*thr            (output n)
    LIFTorch        I <- beta*(I + x + W_rec.T z_prev); v <- alpha*v + I + bias; as above
    alpha = exp(-dt/tau_mem), beta = exp(-dt/tau_syn); state starts at 0

Imported with ``max_spikes_per_dt = 1``: a spike when ``v >= thr'``, reset by subtraction of
``thr'``, which is all rockpool does. NIR fires at ``v > thr``, so ``thr'`` is the next float32
above ``thr``: a membrane landing exactly on the threshold (integer and dyadic networks do
that all the time) does not fire, as in NIR. The one float32 unit more that each spike
subtracts leaves the membrane at most a few units low, never high, so an integer network stays
exact (its membranes are whole numbers: ``v > thr`` is ``v >= thr + 1``). A node recording
NIR's test with multi-spike output (``floor(v/thr)`` spikes) keeps ``thr`` (a raised one would
count ``2 thr`` as one spike): it fires on a tie, and the conversion says so with the measured
effect (:func:`inexact_ties`). A graph whose spiking nodes reset to zero is refused (import it
with ``reset=subtract`` if that is what its author meant). Neuron variants
(``nirhub.ir.conventions.NeuronVariant``) rockpool runs natively: the test ``v >= thr``;
multi-spike output (``max_spikes_per_dt`` = the node's ``max_spikes``, else 2**31, i.e.
unbounded for float32 counts); the staged zero-order hold of a CubaLIF (LIFTorch under method
"exact"). ``v_min`` is refused.

NIR at step dt (``nirhub.sim``), decay ``a = exp(-dt/tau)`` (method "exact") or ``1 - dt/tau``
("euler"; rockpool's tau is then ``-dt/ln(1 - dt/tau)``, which needs dt < tau):

* LIF: ``v <- a v + g x`` with ``g = (1 - a) r`` (exact) or ``(dt/tau) r`` (euler):
  LIFNeuronTorch fed ``g x``. IF: ``v <- v + dt r x``: LIFNeuronTorch(tau_mem = inf).
* LI: ``v <- a v + g x``: ExpSynTorch (beta = a) fed ``g x / a``.
* CubaLIF (euler, or exact with the staged variant): ``I <- a_s I + g_s x``,
  ``v <- a_m v + g_m I`` (``g = dt/tau`` resp. ``1 - a`` times ``w_in``/``r``): LIFTorch's
  current is ``g_m I`` when fed ``g_m g_s x / a_s``; the recurrent weights get the same gain.
* LI -> LIF (what the exporter writes for a LIFTorch under method "exact"), with an optional
  identity Affine carrying the bias between them and an optional recurrent Linear from the LIF
  back to the LI: one LIFTorch again.

``v_leak`` must be 0 (rockpool neurons start at v = 0, NIR's at v_leak). Rockpool modules are
dense: no convolution, pooling or flatten. Input gains are folded into the preceding
LinearTorch, else a diagonal LinearTorch is inserted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nirhub.backend import (
    GraphPlan,
    Problem,
    Step,
    raise_unsupported,
    variant_hint,
    variant_problems,
)
from nirhub.ir.conventions import get_variant, reset_mode
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import IF, LI, LIF, Affine, CubaLIF, Linear, Node

F32 = np.float32
#: neuron variants rockpool reproduces (nirhub.ir.conventions.VARIANTS)
VARIANTS = frozenset({"multi-spike", "threshold>=", "staged"})
#: max_spikes_per_dt for an uncapped multi-spike node (counts beyond it are not float32-exact)
UNBOUNDED = 2.0**31


@dataclass
class Item:
    """One rockpool module of the chain."""

    name: str
    kind: str  #: linear | expsyn | lifneuron | liftorch
    paths: list[str]  #: the NIR nodes it stands for
    size_in: int
    size_out: int
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    #: input gain of a neuron module, applied before it (folded or a diagonal LinearTorch)
    gain: np.ndarray | None = None
    has_bias: bool = False
    has_rec: bool = False
    #: the NIR path whose spikes/v this module reports (the neuron)
    neuron_path: str = ""
    #: plan steps it covers, and the one whose output it gives
    steps: list[str] = field(default_factory=list)
    out_step: str = ""
    #: rockpool's max_spikes_per_dt (1: single spikes)
    max_spikes: float = 1.0


@dataclass
class Lowered:
    plan: GraphPlan
    items: list[Item]
    dt: float
    method: str
    #: spiking nodes that fire where v lands exactly on the threshold and NIR does not (path ->
    #: why); the conversion warns with the measured effect
    inexact_ties: dict[str, str] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(self, where: str, why: str) -> None:
        super().__init__(why)
        self.where, self.why = where, why


def decay(tau: np.ndarray, dt: float, method: str) -> np.ndarray:
    ratio = dt / np.asarray(tau, dtype=np.float64)
    return 1.0 - ratio if method == "euler" else np.exp(-ratio)


def rockpool_tau(a: np.ndarray, dt: float) -> np.ndarray:
    """Rockpool's tau (seconds) whose ``exp(-dt/tau)`` is the decay ``a`` (inf for a = 1)."""
    with np.errstate(divide="ignore"):
        return np.where(a >= 1.0, np.inf, -dt / np.log(np.minimum(a, 1.0)))


def _vec(value: object, n: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, np.float64), (n,)))


def lower(
    plan: GraphPlan,
    graph: Graph,
    dt: float,
    method: str,
    reset: str | None,
    *,
    exact_ties: bool = True,
) -> Lowered:
    """The rockpool chain of ``graph``. ``exact_ties=False`` keeps every threshold as the graph
    gives it and reports no inexact ties (Xylo quantizes thresholds into its own integer units
    and fires at ``v >= threshold`` there)."""
    problems: list[Problem] = list(variant_problems(graph, VARIANTS, "rockpool", method=method))
    items: list[Item] = []
    consumed: set[str] = set()
    unit_of = {n: u for u, members in plan.cyclic_units.items() for n in members}
    for members in plan.cyclic_units.values():  # before any item copies a bias
        try:
            _move_rec_bias(plan, members)
        except _Refused as exc:
            problems.append(Problem(exc.where, exc.why, kind="unsupported"))
    order = [n for n in plan.steps if n not in (plan.input, plan.output)]
    for name in order:
        if name in consumed:
            continue
        step = plan.steps[name]
        try:
            if step.identity:
                raise _Refused(step.path, "a fan-in/out point: rockpool models are chains")
            if name in unit_of:
                members = plan.cyclic_units[unit_of[name]]
                consumed.update(members)
                items.append(_recurrent(plan, members, graph, dt, method, reset))
                continue
            if isinstance(step.node, LI):
                nxt = _fusable_lif(plan, name)
                if nxt is not None:
                    chain = [name, *nxt]
                    consumed.update(chain)
                    items.append(_liftorch(plan, chain, None, graph, dt, method, reset))
                    continue
            item = _single(step, graph, dt, method, reset)
            item.steps, item.out_step = [name], name
            items.append(item)
        except _Refused as exc:
            problems.append(Problem(exc.where or name, exc.why, kind="unsupported"))
    if not problems:
        problems += _chain_problems(plan, items)
    raise_unsupported(problems, "rockpool", hint=variant_hint(problems))
    if not exact_ties:
        for it in items:
            key = f"{it.name}.threshold"
            if key in it.tensors:
                node = plan.steps[it.out_step].node
                it.tensors[key] = _vec(node.v_threshold, it.size_out).astype(F32)
        return Lowered(plan, _place_gains(items), dt, method)
    return Lowered(plan, _place_gains(items), dt, method, inexact_ties(plan))


def strict_threshold(step: Step, size: int) -> np.ndarray:
    """The float32 threshold rockpool's ``v >= thr`` test gets for NIR's ``v > thr``: the next
    float32 above it (exact at ties); the threshold itself for nodes recording ``>=`` and for
    multi-spike nodes (see :func:`inexact_ties`)."""
    thr = _vec(step.node.v_threshold, size).astype(F32)
    variant = get_variant(step.node, step.path)
    if variant.threshold == ">=" or variant.spikes == "multi":
        return thr
    return np.nextafter(thr, F32(np.inf))


def inexact_ties(plan: GraphPlan) -> dict[str, str]:
    """The spiking nodes whose ties rockpool cannot keep: NIR's ``v > thr`` with multi-spike
    output, where rockpool counts ``floor(v/thr)`` spikes once ``v >= thr`` (a raised threshold
    would turn ``v = 2 thr`` into one spike instead of two)."""
    out = {}
    for step in plan.steps.values():
        if not hasattr(step.node, "v_threshold"):
            continue
        variant = get_variant(step.node, step.path)
        if variant.spikes == "multi" and variant.threshold != ">=":
            out[step.path] = (
                "multi-spike output: rockpool counts floor(v/threshold) at v >= threshold"
            )
    return out


def _consumers(plan: GraphPlan, name: str) -> list[str]:
    return [c for c, _ in plan.consumers(name)]


def _fusable_lif(plan: GraphPlan, syn: str) -> list[str] | None:
    """``LI -> [identity Affine] -> LIF`` with no other connections: one LIFTorch.

    The exporter writes a LIFTorch this way under method "exact"; fusing it back gives the
    original module (and the Xylo tool chain's neuron) instead of ExpSynTorch + LIFNeuronTorch.
    """
    chain = [syn]
    cur = syn
    while True:
        outs = _consumers(plan, cur)
        if len(outs) != 1 or len(plan.steps[outs[0]].inputs) != 1:
            return None
        nxt = plan.steps[outs[0]]
        if isinstance(nxt.node, LIF):
            return [*chain[1:], nxt.name]
        if len(chain) == 1 and isinstance(nxt.node, Affine) and _is_identity(nxt.node.weight):
            chain.append(nxt.name)
            cur = nxt.name
            continue
        return None


def _is_identity(w: np.ndarray) -> bool:
    return w.ndim == 2 and w.shape[0] == w.shape[1] and np.array_equal(w, np.eye(w.shape[0]))


def _check_neuron(step: Step, graph: Graph, reset: str | None) -> None:
    node = step.node
    if len(step.out_shape) != 1:
        raise _Refused(step.path, f"rockpool neurons are 1-D; this population is {step.out_shape}")
    if hasattr(node, "v_leak") and np.any(np.asarray(node.v_leak) != 0):
        raise _Refused(
            step.path, "a non-zero v_leak: rockpool neurons start at v = 0, NIR's at v_leak"
        )
    if hasattr(node, "v_threshold"):
        mode = reset_mode(graph, step.path, reset)
        if mode == "zero":
            raise _Refused(
                step.path,
                "resets to v_reset, but rockpool neurons only subtract the "
                "threshold; import with reset=subtract if the graph means it",
            )
        if mode != "subtract":
            raise _Refused(
                step.path,
                f"reset mode {mode!r} (snnTorch's subtraction variant): rockpool "
                "neurons subtract the threshold in the spike step only",
            )
        if np.any(np.asarray(node.v_threshold) <= 0):
            raise _Refused(
                step.path,
                "a threshold <= 0: rockpool counts floor(v/threshold) "
                "spikes, which needs a positive threshold",
            )


def _max_spikes(step: Step) -> float:
    """rockpool's max_spikes_per_dt for a spiking node's recorded variant."""
    variant = get_variant(step.node, step.path)
    if variant.spikes != "multi":
        return 1.0
    return UNBOUNDED if variant.max_spikes is None else float(variant.max_spikes)


def _single(step: Step, graph: Graph, dt: float, method: str, reset: str | None) -> Item:
    node, n = step.node, step.name
    if isinstance(node, Linear):
        if node.weight.ndim != 2:
            raise _Refused(step.path, f"weights {node.weight.shape} with leading dimensions")
        n_out, n_in = node.weight.shape
        item = Item(
            n, "linear", [step.path], n_in, n_out, {f"{n}.weight": node.weight.T.astype(F32)}
        )
        if isinstance(node, Affine):
            item.has_bias = True
            item.tensors[f"{n}.bias"] = _vec(node.bias, n_out).astype(F32)
        return item
    if node.type_name == "Scale":
        if len(step.in_shape) != 1:
            raise _Refused(step.path, "an N-d Scale (rockpool is 1-D)")
        g = _vec(node.scale, step.in_shape[0])
        return Item(
            n, "linear", [step.path], g.size, g.size, {f"{n}.weight": np.diag(g).astype(F32)}
        )
    if isinstance(node, (LIF, IF)):
        _check_neuron(step, graph, reset)
        size = step.out_shape[0]
        if isinstance(node, IF):
            a = np.ones(size)
            gain = dt * _vec(node.r, size)
        else:
            if method == "euler" and np.any(np.asarray(node.tau) <= dt):
                raise _Refused(
                    step.path,
                    f"tau <= dt ({dt:g} s): forward Euler's decay is not a positive rockpool decay",
                )
            a = _vec(decay(node.tau, dt, method), size)
            gain = (
                (1.0 - a) * _vec(node.r, size)
                if method == "exact"
                else (dt / _vec(node.tau, size) * _vec(node.r, size))
            )
        tensors = {
            f"{n}.tau_mem": rockpool_tau(a, dt).astype(F32),
            f"{n}.threshold": strict_threshold(step, size),
        }
        item = Item(n, "lifneuron", [step.path], size, size, tensors, gain, neuron_path=step.path)
        item.max_spikes = _max_spikes(step)
        return item
    if isinstance(node, LI):
        _check_neuron(step, graph, reset)
        size = step.out_shape[0]
        if method == "euler" and np.any(np.asarray(node.tau) <= dt):
            raise _Refused(
                step.path,
                f"tau <= dt ({dt:g} s): forward Euler's decay is not a positive rockpool decay",
            )
        a = _vec(decay(node.tau, dt, method), size)
        g = (1.0 - a) if method == "exact" else dt / _vec(node.tau, size)
        return Item(
            n,
            "expsyn",
            [step.path],
            size,
            size,
            {f"{n}.tau": rockpool_tau(a, dt).astype(F32)},
            g * _vec(node.r, size) / a,
            neuron_path=step.path,
        )
    if isinstance(node, CubaLIF):
        return _liftorch(
            plan=None,
            chain=[n],
            rec=None,
            graph=graph,
            dt=dt,
            method=method,
            reset=reset,
            step=step,
        )
    raise _Refused(
        step.path,
        f"{node.type_name} has no rockpool equivalent (rockpool's torch "
        "modules are dense: Linear, LIF neurons, exponential synapses)",
    )


def _liftorch(
    plan: GraphPlan | None,
    chain: list[str],
    rec: Step | None,
    graph: Graph,
    dt: float,
    method: str,
    reset: str | None,
    step: Step | None = None,
) -> Item:
    """A LIFTorch from a CubaLIF (euler) or an ``LI -> [bias] -> LIF`` chain, with ``rec``."""
    steps = [step] if step is not None else [plan.steps[c] for c in chain]  # type: ignore[union-attr]
    mem = steps[-1]
    _check_neuron(mem, graph, reset)
    size = mem.out_shape[0]
    bias = np.zeros(size)
    node: Node = mem.node
    if isinstance(node, CubaLIF):
        staged = get_variant(node, mem.path).discretization == "staged"
        if method != "euler" and not staged:
            raise _Refused(
                mem.path,
                "rockpool updates the synaptic current before the membrane "
                "(I <- beta(I + x)); the exact (zero-order hold) solution of "
                "the coupled CubaLIF is not expressible. Import with "
                "method=euler",
            )
        if method == "euler" and (
            np.any(np.asarray(node.tau_syn) <= dt) or np.any(np.asarray(node.tau_mem) <= dt)
        ):
            raise _Refused(mem.path, f"tau_syn and tau_mem must exceed dt ({dt:g} s)")
        w_in = 1.0 if node.w_in is None else node.w_in
        a_s = _vec(decay(node.tau_syn, dt, method), size)
        a_m = _vec(decay(node.tau_mem, dt, method), size)
        if method == "euler":
            g_s = dt / _vec(node.tau_syn, size) * _vec(w_in, size)
            g_m = dt / _vec(node.tau_mem, size) * _vec(node.r, size)
        else:
            g_s = (1.0 - a_s) * _vec(w_in, size)
            g_m = (1.0 - a_m) * _vec(node.r, size)
    else:  # LI -> [identity Affine] -> LIF
        syn = steps[0]
        _check_neuron(syn, graph, reset)
        for s in (syn, mem):
            if method == "euler" and np.any(np.asarray(s.node.tau) <= dt):
                raise _Refused(s.path, f"tau <= dt ({dt:g} s)")
        a_s = _vec(decay(syn.node.tau, dt, method), size)
        a_m = _vec(decay(node.tau, dt, method), size)
        if method == "exact":
            g_s, k_m = (1.0 - a_s), (1.0 - a_m)
        else:
            g_s, k_m = dt / _vec(syn.node.tau, size), dt / _vec(node.tau, size)
        g_s = g_s * _vec(syn.node.r, size)
        g_m = k_m * _vec(node.r, size)
        if len(steps) == 3:
            bias = g_m * _vec(steps[1].node.bias, size)
    n = mem.name
    item = Item(
        n,
        "liftorch",
        [s.path for s in steps],
        size,
        size,
        {
            f"{n}.tau_mem": rockpool_tau(a_m, dt).astype(F32),
            f"{n}.tau_syn": rockpool_tau(a_s, dt).astype(F32).reshape(size, 1),
            f"{n}.threshold": strict_threshold(mem, size),
            f"{n}.bias": bias.astype(F32),
        },
        g_m * g_s / a_s,
        neuron_path=mem.path,
        steps=[s.name for s in steps],
        out_step=mem.name,
        max_spikes=_max_spikes(mem),
    )
    if rec is not None:
        item.steps.append(rec.name)
        w = rec.node.weight.astype(np.float64)
        item.tensors[f"{n}.w_rec"] = (item.gain[:, None] * w).T.astype(F32)
        item.has_rec = True
        item.paths.append(rec.path)
    return item


def _roles(plan: GraphPlan, members: list[str]) -> tuple[list[Step], Step] | None:
    """Split a recurrent loop into (the neuron chain, the recurrent Linear), or None.

    The neuron chain is ``[CubaLIF]`` or ``[LI, LIF]`` or ``[LI, identity Affine, LIF]``; the
    recurrent Linear reads the spiking node and feeds the chain's first node.
    """
    steps = [plan.steps[m] for m in members]
    spiking = [s for s in steps if isinstance(s.node, (LIF, CubaLIF))]
    if len(spiking) != 1:
        return None
    mem = spiking[0]
    recs = [
        s for s in steps if isinstance(s.node, Linear) and [x.step for x in s.inputs] == [mem.name]
    ]
    if len(recs) != 1 or recs[0].node.weight.ndim != 2:
        return None
    rec = recs[0]
    rest = [s for s in steps if s is not rec]
    kinds = [type(s.node).__name__ for s in rest]
    if kinds not in (["CubaLIF"], ["LI", "LIF"], ["LI", "Affine", "LIF"]):
        return None
    if len(rest) == 3 and not _is_identity(rest[1].node.weight):
        return None
    if _consumers(plan, rec.name) != [rest[0].name]:
        return None
    return rest, rec


def _recurrent(
    plan: GraphPlan, members: list[str], graph: Graph, dt: float, method: str, reset: str | None
) -> Item:
    """A loop ``neuron -> Linear -> neuron``: rockpool's LIFTorch(has_rec=True)."""
    found = _roles(plan, members)
    if found is None:
        kinds = ", ".join(f"{plan.steps[m].path} ({plan.steps[m].type_name})" for m in members)
        raise _Refused(
            plan.steps[members[0]].path,
            f"a recurrent loop of {kinds}: rockpool has "
            "recurrence only in LIFTorch (a CubaLIF, or LI -> LIF, whose spikes feed "
            "back through one Linear)",
        )
    chain, rec = found
    if isinstance(rec.node, Affine) and np.any(rec.node.bias != 0):  # pragma: no cover
        raise _Refused(rec.path, "the recurrent weights have a bias")  # moved by lower()
    return _liftorch(plan, [s.name for s in chain], rec, graph, dt, method, reset)


def _move_rec_bias(plan: GraphPlan, members: list[str]) -> None:
    """A recurrent Affine's bias is a constant input: add it to the feed-forward Affine.

    (NIR delivers the bias at every step, step 0 included; rockpool feeds back 0 at step 0.)
    """
    found = _roles(plan, members)
    if found is None:
        return  # refused, with the reason, when the loop is lowered
    chain, rec = found
    if not (isinstance(rec.node, Affine) and np.any(rec.node.bias != 0)):
        return
    entry = chain[0]
    ff = [s for s in entry.inputs if s.step != rec.name]
    prod = plan.steps[ff[0].step] if len(ff) == 1 else None
    if (
        prod is None
        or not isinstance(prod.node, Linear)
        or _consumers(plan, prod.name) != [entry.name]
    ):
        raise _Refused(
            rec.path,
            "the recurrent weights have a bias, which rockpool can only "
            "take into a Linear/Affine feeding the neuron",
        )
    old = (
        prod.node.bias
        if isinstance(prod.node, Affine)
        else np.zeros(prod.node.weight.shape[0], dtype=prod.node.weight.dtype)
    )
    new_bias = (old.astype(np.float64) + rec.node.bias.astype(np.float64)).astype(old.dtype)
    prod.node = Affine(prod.node.weight, new_bias, prod.node.metadata)
    rec.node = Linear(rec.node.weight, rec.node.metadata)


def _chain_problems(plan: GraphPlan, items: list[Item]) -> list[Problem]:
    """Rockpool's Sequential is a chain: input -> item -> item -> ... -> output."""
    problems = []
    prev = plan.input
    for it in items:
        members = set(it.steps)
        ext = [s.step for m in it.steps for s in plan.steps[m].inputs if s.step not in members]
        if ext != [prev]:
            problems.append(
                Problem(
                    it.paths[0] or it.name,
                    "fan-in or a branch: rockpool models are chains (Sequential)",
                    kind="unsupported",
                )
            )
        prev = it.out_step
    out = plan.steps[plan.output]
    if [s.step for s in out.inputs] != [prev]:
        problems.append(
            Problem(plan.output_name, "the output is not the end of the chain", kind="unsupported")
        )
    return problems


def _place_gains(items: list[Item]) -> list[Item]:
    """Fold each neuron's input gain into the LinearTorch before it, else insert a diagonal one."""
    out: list[Item] = []
    for it in items:
        g = it.gain
        if g is not None and not np.all(g == 1.0):
            prev = out[-1] if out else None
            if prev is not None and prev.kind == "linear":
                w = prev.tensors[f"{prev.name}.weight"].astype(np.float64)
                prev.tensors[f"{prev.name}.weight"] = (w * g[None, :]).astype(F32)
                if prev.has_bias:
                    b = prev.tensors[f"{prev.name}.bias"].astype(np.float64)
                    prev.tensors[f"{prev.name}.bias"] = (b * g).astype(F32)
            else:
                name = f"{it.name}_gain"
                out.append(
                    Item(
                        name,
                        "linear",
                        [],
                        g.size,
                        g.size,
                        {f"{name}.weight": np.diag(g).astype(F32)},
                    )
                )
        out.append(it)
    return out
