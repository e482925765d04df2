"""rockpool model -> NIR graph (the *export* direction).

Rockpool's torch neurons at their ``dt`` (seconds), with ``alpha = exp(-dt/tau_mem)`` and
``beta = exp(-dt/tau_syn)`` (whatever the module's ``leak_mode``)::

    ExpSynTorch     I <- beta*(I + x)
    LIFNeuronTorch  v <- alpha*v + x + bias;  spike at v >= thr;  v <- v - thr
    LIFTorch        I <- beta*(I + x + W_rec.T z_prev);  v <- alpha*v + I + bias;  as above

Exactly NIR's update at step ``dt`` under nirhub's reference simulator with

* method ``"exact"`` (the default: rockpool's decays *are* ``exp(-dt/tau)``): ExpSynTorch ->
  ``LI(tau, r = beta/(1 - beta))``; LIFNeuronTorch -> ``LIF(tau_mem, r = 1/(1 - alpha))``
  (``IF(r = 1/dt)`` when tau_mem is infinite); LIFTorch -> ``CubaLIF(tau_syn, tau_mem,
  r = 1/(1 - alpha), w_in = beta/(1 - beta))`` recording the *staged* zero-order hold (rockpool
  updates the current first and feeds the *new* current to the membrane, each stage exact),
  with ``w_rec`` (a Linear, ``W_rec.T``) from the neuron back to its input when recurrent;
* method ``"euler"``: time constants ``dt/(1 - decay)``; the same nodes (the staged order is
  the spec's Euler order).

A neuron bias ``b`` is a constant input: an identity Affine with bias ``b`` in front of the
membrane (NIR's v_leak would also move the initial state, which rockpool keeps at 0); a
LIFTorch with a bias is then ``syn`` (LI) -> ``bias`` -> ``mem`` (LIF), the same update.
LinearTorch stores ``(in, out)`` weights: NIR gets the transpose. Every neuron resets by
subtraction (recorded in the graph's metadata) and records rockpool's spike rule as a neuron
variant (``nirhub.ir.conventions.set_variant``): the test ``v >= thr`` and, unless
``max_spikes_per_dt = 1``, multi-spike output ``floor(v/thr)`` capped at
``max_spikes_per_dt`` (65536 by default). Refused, by module name: noise, several synapses per
neuron, thresholds <= 0 and anything without an NIR equivalent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import (
    ModuleRefused,
    Problem,
    UsageError,
    export_method,
    raise_export_problems,
    strict_thresholds,
)
from nirhub.backend import check_threshold_option as check_threshold
from nirhub.ir.conventions import NAMESPACE, set_dt, set_reset, set_variant
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import IF, LI, LIF, Affine, CubaLIF, Input, Linear, Node, Output


def _vec(value: Any, n: int) -> np.ndarray:
    """A parameter as a float64 vector of the population size (scalars broadcast)."""
    arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == n:
        arr = arr.reshape(n)
    return np.ascontiguousarray(np.broadcast_to(arr, (n,)))


def _tau(a: np.ndarray, dt: float, method: str) -> np.ndarray:
    if not np.all((a > 0) & (a < 1)):
        raise ModuleRefused(f"decay factors must lie in (0, 1), got {a.min()!r}..{a.max()!r}")
    return dt / (1.0 - a) if method == "euler" else -dt / np.log(a)


def _common(m: Any) -> None:
    import torch

    noise = float(torch.as_tensor(getattr(m, "noise_std", 0.0)))
    if noise != 0.0:
        raise ModuleRefused(f"noise_std={noise:g}: NIR neurons are deterministic")


def _spiking(m: Any, n: int) -> tuple[np.ndarray, dict[str, Any]]:
    """(threshold, variant) of a spiking module.

    Rockpool emits ``(v >= thr)*floor(v/thr)`` spikes, at most ``max_spikes_per_dt`` (default
    65536): recorded as the neuron variant ``threshold=">="`` plus, unless the limit is 1,
    ``spikes="multi"`` with ``max_spikes`` (``nirhub.ir.conventions.set_variant``).
    """
    import torch

    limit = float(torch.as_tensor(m.max_spikes_per_dt))
    if not (limit >= 1 and limit == int(limit)):
        raise ModuleRefused(f"max_spikes_per_dt={limit:g} is not a positive whole number")
    owner = getattr(m.spike_generation_fn, "__self__", None)  # Function.apply -> its class
    if getattr(owner, "__name__", "") not in ("StepPWL", "PeriodicExponential"):
        raise ModuleRefused(
            f"spike_generation_fn {m.spike_generation_fn!r} is not rockpool's "
            "threshold crossing (StepPWL or PeriodicExponential)"
        )
    thr = _vec(m.threshold, n)
    if np.any(thr <= 0):
        raise ModuleRefused("a threshold <= 0")
    variant: dict[str, Any] = {"threshold": ">="}
    if limit != 1:
        variant.update(spikes="multi", max_spikes=int(limit))
    return thr, variant


def _neuron(node: Node, variant: dict[str, Any], **extra: Any) -> Node:
    set_reset(node.metadata, "subtract")
    set_variant(node.metadata, **variant, **extra)
    return node


def _with_bias(mem: Node, bias: np.ndarray, n: int) -> tuple[dict[str, Node], list]:
    if not np.any(bias != 0):
        return {"mem": mem}, []
    return (
        {"bias": Affine(np.eye(n, dtype=np.float32), bias.astype(np.float32)), "mem": mem},
        [("bias", "mem")],
    )


def _subgraph(nodes: dict[str, Node], edges: list, entry: str, n: int) -> Graph:
    all_nodes: dict[str, Node] = {"input": Input((n,)), **nodes, "output": Output((n,))}
    return Graph(all_nodes, [("input", entry), *edges, ("mem", "output")])


def convert_module(m: Any, n_in: int, dt: float, method: str) -> tuple[Node, int]:
    """One rockpool module -> (node, output size); raises ModuleRefused."""
    from rockpool.nn.modules import ExpSynTorch, LIFNeuronTorch, LIFTorch, LinearTorch

    if n_in != m.size_in:
        raise ModuleRefused(f"expects {m.size_in} inputs but receives {n_in}")
    if isinstance(m, LinearTorch):
        w = m.weight.detach().cpu().numpy().T.copy()
        if m.bias is not None:
            return Affine(w, _vec(m.bias, m.size_out).astype(w.dtype)), m.size_out
        return Linear(w), m.size_out
    n = m.size_out
    if isinstance(m, ExpSynTorch):
        _common(m)
        beta = _vec(np.exp(-float(m.dt) / m.tau.detach().cpu().numpy()), n)
        return LI(_tau(beta, dt, method), beta / (1 - beta), np.zeros(n)), n
    if isinstance(m, LIFNeuronTorch):
        _common(m)
        thr, variant = _spiking(m, n)
        alpha = _vec(np.exp(-float(m.dt) / m.tau_mem.detach().cpu().numpy()), n)
        bias = _vec(m.bias, n)
        mem: Node
        if np.all(alpha == 1.0):
            mem = IF(np.full(n, 1.0 / dt), thr)
        else:
            mem = LIF(_tau(alpha, dt, method), 1.0 / (1.0 - alpha), np.zeros(n), thr)
        _neuron(mem, variant)
        if not np.any(bias != 0):
            return mem, n
        nodes, edges = _with_bias(mem, bias, n)
        return _subgraph(nodes, edges, "bias", n), n
    if isinstance(m, LIFTorch):
        _common(m)
        if m.n_synapses != 1:
            raise ModuleRefused(f"{m.n_synapses} synapses per neuron (only one maps to NIR)")
        thr, variant = _spiking(m, n)
        alpha = _vec(m.alpha.detach(), n)
        beta = _vec(m.beta.detach().reshape(-1), n)
        bias = _vec(m.bias, n)
        w_rec = m.w_rec.detach().cpu().numpy().T.copy() if m._has_rec else None
        if not np.any(bias != 0):
            # the current first, then the membrane with the new current: NIR's CubaLIF in
            # the spec order (Euler) or with the staged zero-order hold (exact)
            lif = CubaLIF(
                _tau(beta, dt, method),
                _tau(alpha, dt, method),
                1.0 / (1.0 - alpha),
                np.zeros(n),
                thr,
                None,
                beta / (1.0 - beta),
            )
            _neuron(lif, variant, discretization="staged")
            if w_rec is None:
                return lif, n
            return Graph(
                {"input": Input((n,)), "lif": lif, "w_rec": Linear(w_rec), "output": Output((n,))},
                [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
            ), n
        syn = LI(_tau(beta, dt, method), beta / (1.0 - beta), np.zeros(n))
        mem = _neuron(LIF(_tau(alpha, dt, method), 1.0 / (1.0 - alpha), np.zeros(n), thr), variant)
        nodes, edges = _with_bias(mem, bias, n)
        first = "bias" if "bias" in nodes else "mem"
        nodes = {"syn": syn, **nodes}
        edges = [("syn", first), *edges]
        if w_rec is not None:
            nodes["w_rec"] = Linear(w_rec)
            edges += [("mem", "w_rec"), ("w_rec", "syn")]
        return _subgraph(nodes, edges, "syn", n), n
    raise ModuleRefused(f"{type(m).__module__}.{type(m).__name__} has no NIR equivalent")


def _items(model: Any) -> list[tuple[str, Any]]:
    from rockpool.nn.combinators.sequential import SequentialMixin

    if isinstance(model, SequentialMixin):
        return list(model.modules().items())
    return [(type(model).__name__, model)]


def export_model(model: Any, *, dt: Any = None, method: Any = None, threshold: Any = None) -> Graph:
    """Export a rockpool Sequential (or a single module) of torch modules.

    ``threshold="strict"`` records NIR's test ``v > thr`` instead of rockpool's ``v >= thr``
    (they differ only when v lands exactly on the threshold): such a graph imports into
    backends without the ``>=`` variant."""
    test = check_threshold(threshold)
    how = export_method(model, method)
    items = _items(model)
    dts = {name: float(m.dt) for name, m in items if hasattr(m, "dt")}
    problems: list[Problem] = []
    if len(set(dts.values())) > 1:
        listing = ", ".join(f"{n} (dt={v:g})" for n, v in dts.items())
        problems.append(
            Problem(
                "<model>", f"modules run at different time steps: {listing}", kind="unsupported"
            )
        )
    step = next(iter(dts.values()), None)
    if step is None:
        if dt is None:
            raise UsageError("the model has no neuron with a dt; pass dt (seconds)")
        step = float(dt)
    if not items:
        raise UsageError("the model has no modules")
    size = int(items[0][1].size_in)
    nodes: dict[str, Node] = {"input": Input((size,))}
    names = []
    for name, m in items:
        try:
            node, size = convert_module(m, size, step, how)
        except ModuleRefused as exc:
            problems.append(Problem(name, f"{type(m).__name__}: {exc.why}", kind="unsupported"))
            size = int(getattr(m, "size_out", size) or size)
            continue
        except (ValueError, TypeError) as exc:
            problems.append(Problem(name, f"{type(m).__name__}: {exc}", kind="unsupported"))
            continue
        nodes[name] = node
        names.append(name)
    raise_export_problems(problems, "rockpool")
    nodes["output"] = Output((size,))
    chain = ["input", *names, "output"]
    graph = Graph(nodes, list(zip(chain[:-1], chain[1:], strict=True)))
    set_dt(graph.metadata, step)
    set_reset(graph.metadata, "subtract")
    graph.metadata[NAMESPACE] = {**graph.metadata[NAMESPACE], "method": how, "source": "rockpool"}
    if test == "strict":
        strict_thresholds(graph)
    graph.validate()
    return graph
