"""sinabs model -> NIR graph (the *export* direction).

Sinabs counts time in steps; ``dt`` (seconds per step, an option: sinabs has no notion of it)
turns steps into NIR seconds. Per step, with ``a = exp(-1/tau_mem)`` (``alpha_mem``) and
``k = 1 - a`` when ``norm_input=True`` (sinabs' default for LIF), else ``k = 1``::

    LIF      v <- a v + k x          IAF  v <- v + x          ExpLeak  v <- a v + k x
    tau_syn  i <- a_s (i + x) feeds the membrane instead of x

That is exactly NIR's update at step ``dt`` under nirhub's reference simulator with

* method ``"exact"`` (the default; sinabs' decay *is* the zero-order-hold ``exp(-dt/tau)``):
  ``tau = -dt/ln(a)`` (= tau_mem * dt), ``r = k/(1 - a)`` (1 with ``norm_input=True``);
* method ``"euler"``: ``tau = dt/(1 - a)``, same ``r``;
* IAF: ``IF(r = 1/dt)`` under both; a synaptic current (``tau_syn``) becomes a leaky integrator
  ``LI(tau_syn, r = a_s/(1 - a_s))`` in front of the neuron (a subgraph ``syn -> neuron``);
* LIFRecurrent/IAFRecurrent: a subgraph whose ``rec`` node feeds the neuron's input back.

What sinabs computes beyond NIR's defaults is recorded per neuron node as a variant
(``nirhub.ir.conventions.set_variant``), which the reference simulator reproduces: the spike
test ``v >= thr`` (every spike function), ``MultiSpike`` (the default) and ``MaxSpike(k)`` as
multi-spike output (``floor(v/thr)`` spikes, at most k), ``min_v_mem`` as ``v_min``, and a LIF
with ``tau_syn`` as a CubaLIF with the staged zero-order hold (IAF with ``tau_syn`` keeps the
``LI -> IF`` subgraph). Refused, by module name: ``MembraneReset`` to a non-zero value (sinabs
adds it to every neuron), ALIF and anything else without an NIR equivalent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nirhub.backend import (
    ModuleRefused,
    UsageError,
    check_threshold_option,
    edge_modules,
    export_method,
    modules_to_nodes,
    parse_shape,
    population_array,
    raise_export_problems,
    strict_thresholds,
    torch_layer_node,
)
from nirhub.ir.conventions import NAMESPACE, set_dt, set_reset, set_variant
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    CubaLI,
    CubaLIF,
    I,
    Input,
    Node,
    Output,
)

# --------------------------------------------------------------------------------------------
# torch layers
# --------------------------------------------------------------------------------------------


def convert_layer(m: Any, shape: tuple[int, ...]) -> tuple[Node | None, tuple[int, ...]]:
    """A stateless torch layer -> (node or None for identity, output shape)."""
    import sinabs.layers as sl
    import torch

    if isinstance(m, (torch.nn.Identity, sl.FlattenTime, sl.UnflattenTime)):
        return None, shape
    layer = torch_layer_node(m, shape)
    if layer is not None:
        return layer
    raise ModuleRefused(f"{type(m).__module__}.{type(m).__name__} has no NIR equivalent")


# --------------------------------------------------------------------------------------------
# sinabs neuron layers
# --------------------------------------------------------------------------------------------


def _is_neuron(m: Any) -> bool:
    import sinabs.layers as sl

    return isinstance(m, (sl.LIF, sl.ALIF))


def _spikes(m: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, str, dict[str, Any]] | None:
    """(threshold, reset mode, variant) of a spiking layer, None for a non-spiking one.

    The variant (``nirhub.ir.conventions.set_variant`` keywords) records what sinabs computes:
    ``SingleSpike`` spikes at ``v - thr >= 0`` (``threshold=">="``); ``MultiSpike`` (the
    default) and ``MaxSpike(k)`` emit ``(v > 0)*trunc(v/thr)`` spikes (at most k), which for
    ``thr > 0`` is ``floor(v/thr)`` where ``v >= thr``.
    """
    import sinabs.activation as sa

    fn = m.spike_fn
    if fn is None:
        return None
    variant: dict[str, Any] = {"threshold": ">="}
    cap = fn.max_num_spikes_per_bin if isinstance(fn, sa.MaxSpike) else None
    if fn is sa.MultiSpike or (isinstance(fn, sa.MaxSpike) and cap != 1):
        variant["spikes"] = "multi"
        if cap is not None:
            variant["max_spikes"] = int(cap)
    elif not (fn is sa.SingleSpike or isinstance(fn, sa.MaxSpike)):
        name = getattr(fn, "__name__", type(fn).__name__)
        raise ModuleRefused(
            f"spike_fn={name} is not one of sinabs' SingleSpike/MultiSpike/MaxSpike"
        )
    thr = population_array(m.spike_threshold, shape)
    if variant.get("spikes") == "multi" and np.any(thr <= 0):
        raise ModuleRefused("multi-spike output with a threshold <= 0")
    reset = m.reset_fn
    if isinstance(reset, sa.MembraneSubtract):
        if reset.subtract_value is not None and np.any(
            population_array(reset.subtract_value, shape) != thr
        ):
            raise ModuleRefused("MembraneSubtract(subtract_value) differs from the threshold")
        return thr, "subtract", variant
    if isinstance(reset, sa.MembraneReset):
        if reset.reset_value != 0:
            raise ModuleRefused(
                f"MembraneReset(reset_value={reset.reset_value}): sinabs adds reset_value to "
                "every neuron, not only to those that spiked; only 0 is expressible"
            )
        return thr, "zero", variant
    raise ModuleRefused(
        f"reset_fn {type(reset).__name__} is neither MembraneSubtract nor MembraneReset"
    )


def _tau(a: np.ndarray, dt: float, method: str) -> np.ndarray:
    if not np.all((a > 0) & (a < 1)):
        raise ModuleRefused(f"decay factors must lie in (0, 1), got {a.min()!r}..{a.max()!r}")
    return dt / (1.0 - a) if method == "euler" else -dt / np.log(a)


def convert_neuron(m: Any, shape: tuple[int, ...], dt: float, method: str) -> Node:
    """A sinabs neuron layer -> LIF/IF/LI/I, or a subgraph with its synapse / recurrence."""
    import sinabs.layers as sl

    if isinstance(m, sl.ALIF):
        raise ModuleRefused("ALIF (adaptive threshold) has no NIR equivalent")
    integrate = isinstance(m, (sl.IAF, sl.IAFRecurrent))
    norm = bool(getattr(m, "norm_input", False)) and not integrate
    spiking = _spikes(m, shape)
    if m.min_v_mem is not None:
        if spiking is None:
            raise ModuleRefused(
                "min_v_mem on a layer without spike_fn: sinabs outputs v before clamping it, "
                "NIR's LI/I output the state itself"
            )
        spiking[2]["v_min"] = population_array(m.min_v_mem, shape)
    neuron: Node
    if integrate:
        r = np.full(shape, 1.0 / dt)
        if spiking is None:
            neuron = I(r)
        else:
            thr, mode, _ = spiking
            neuron = IF(r, thr) if mode == "subtract" else IF(r, thr, np.zeros(shape))
    else:
        a = population_array(m.alpha_mem_calculated, shape)
        tau = _tau(a, dt, method)
        r = np.ones(shape) if norm else 1.0 / (1.0 - a)
        if spiking is None:
            neuron = LI(tau, r, np.zeros(shape))
        else:
            thr, mode, _ = spiking
            if mode == "subtract":
                neuron = LIF(tau, r, np.zeros(shape), thr)
            else:
                neuron = LIF(tau, r, np.zeros(shape), thr, np.zeros(shape))
    if spiking is not None:
        set_reset(neuron.metadata, spiking[1])
        set_variant(neuron.metadata, **spiking[2])
    syn = None
    if m.alpha_syn_calculated is not None:
        a_s = population_array(m.alpha_syn_calculated, shape)
        if isinstance(neuron, (LIF, LI)):
            # i <- a_s (i + x); v <- a v + k i: NIR's CubaLIF/CubaLI, the synapse stage first
            # (exact under "exact" with the staged variant, and the spec order under Euler)
            w_in = a_s / (1.0 - a_s)
            tau_s = _tau(a_s, dt, method)
            if isinstance(neuron, LIF):
                cuba: Node = CubaLIF(
                    tau_s,
                    neuron.tau,
                    neuron.r,
                    neuron.v_leak,
                    neuron.v_threshold,
                    neuron.v_reset,
                    w_in,
                    metadata=dict(neuron.metadata),
                )
            else:
                cuba = CubaLI(tau_s, neuron.tau, neuron.r, neuron.v_leak, w_in)
            set_variant(cuba.metadata, discretization="staged")
            neuron = cuba
        else:
            syn = LI(_tau(a_s, dt, method), a_s / (1.0 - a_s), np.zeros(shape))
    rec = None
    if isinstance(m, sl.LIFRecurrent):
        rec, rec_shape = convert_layer(m.rec_connect, shape)
        if rec is None or rec_shape != shape:
            raise ModuleRefused(f"rec_connect must map the population {shape} onto itself")
        bias = getattr(rec, "bias", None)
        if bias is not None and np.any(bias != 0):
            raise ModuleRefused(
                "rec_connect has a bias: sinabs feeds back 0 at the first step, NIR the bias"
            )
    if syn is None and rec is None:
        return neuron
    nodes: dict[str, Node] = {"input": Input(shape)}
    edges = []
    entry = "neuron"
    if syn is not None:
        nodes["syn"] = syn
        edges.append(("syn", "neuron"))
        entry = "syn"
    nodes["neuron"] = neuron
    edges += [("input", entry), ("neuron", "output")]
    if rec is not None:
        nodes["rec"] = rec
        edges += [("neuron", "rec"), ("rec", entry)]
    nodes["output"] = Output(shape)
    return Graph(nodes, edges)


# --------------------------------------------------------------------------------------------
# the whole model
# --------------------------------------------------------------------------------------------


def _chain_items(module: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    import sinabs.layers as sl
    import torch

    if isinstance(module, sl.Repeat):
        yield from _chain_items(module.module, prefix)
        return
    if isinstance(module, torch.nn.Sequential):
        for name, child in module.named_children():
            yield from _chain_items(child, f"{prefix}{name}_")
        return
    yield (prefix.rstrip("_") or type(module).__name__.lower(), module)


def _first_shape(items: list[tuple[str, Any]]) -> tuple[int, ...] | None:
    import torch

    for _, m in items:
        if isinstance(m, torch.nn.Linear):
            return (m.in_features,)
        if not isinstance(m, torch.nn.Identity):
            return None
    return None


def export_model(
    model: Any,
    *,
    dt: Any = None,
    input_shape: Any = None,
    method: Any = None,
    threshold: Any = None,
) -> Graph:
    """Export a sinabs model: an nn.Sequential chain (Squeeze layers included), a single
    layer, or a nirhub-generated ``Network`` (modules plus its ``EDGES``).

    ``threshold="strict"`` records NIR's test ``v > thr`` instead of sinabs' ``v >= thr``
    (they differ only when v lands exactly on the threshold): such a graph imports into
    backends without the ``>=`` variant."""
    test = check_threshold_option(threshold)
    if dt is None:
        raise UsageError(
            "sinabs counts time in steps: give dt, the seconds one step stands for",
            hint="Pass --dt in seconds, e.g. --dt 1e-3.",
        )
    step = float(dt)
    if not step > 0 or not np.isfinite(step):
        raise UsageError(f"dt must be a positive number of seconds, got {dt!r}")
    how = export_method(model, method)
    edges_attr = getattr(type(model), "EDGES", None)
    if edges_attr is not None:
        items = [(n, getattr(model, n)) for n in edge_modules(edges_attr)]
        edges = list(edges_attr)
    else:
        items = list(_chain_items(model))
        names = [n for n, _ in items]
        edges = list(zip(["input", *names], [*names, "output"], strict=True))
    declared = getattr(model, "nir_input_shape", None)
    shape = (
        parse_shape(input_shape)
        or (tuple(declared) if declared is not None else None)
        or _first_shape(items)
    )
    if shape is None:
        raise UsageError(
            "cannot tell the model's input shape (it does not start with a Linear layer)",
            hint="Pass input_shape, e.g. -O input_shape=2,34,34 (no batch or time axis).",
        )
    graph = _build(items, edges, tuple(shape), step, how)
    if test == "strict":
        strict_thresholds(graph)
    return graph


def _build(
    items: list[tuple[str, Any]],
    edges: list[tuple[str, str]],
    in_shape: tuple[int, ...],
    dt: float,
    method: str,
) -> Graph:
    def convert(name: str, m: Any, shape: tuple[int, ...]) -> tuple[Node | None, tuple[int, ...]]:
        if _is_neuron(m):
            return convert_neuron(m, shape, dt, method), shape
        return convert_layer(m, shape)

    converted = modules_to_nodes(items, edges, in_shape, convert)
    raise_export_problems(converted.problems, "sinabs")
    graph = Graph(converted.nodes, converted.edges)
    set_dt(graph.metadata, dt)
    set_reset(graph.metadata, "zero")
    graph.metadata[NAMESPACE] = {**graph.metadata[NAMESPACE], "method": method, "source": "sinabs"}
    graph.validate()
    return graph
