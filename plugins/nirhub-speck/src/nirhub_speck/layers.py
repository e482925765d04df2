"""A NIR graph -> Speck chip layers, and every chip limit it breaks (numpy only).

A Speck core computes one *chip layer*: a 2-D convolution (8-bit weights, square kernel),
integrate-and-fire neurons with one threshold per layer (16-bit state, reset by subtraction or
to zero) and optional square sum pooling of its output events. A network is a chain of at most
9 such layers, each on its own core, within that core's kernel, neuron and bias memories
(:mod:`nirhub_speck.chip`). In NIR terms a chip layer is::

    [Flatten] (Conv2d | Affine | Linear) -> IF -> [SumPool2d | AvgPool2d]* -> [Flatten]

Affine/Linear become convolutions whose kernel covers the whole input (sinabs'
``convert_linear_to_conv``), so their input must be square in space (a 1-D input is taken as
``(n, 1, 1)``). AvgPool2d is sum pooling whose ``1/k^2`` is folded into the next layer's weights
(sinabs does that), so it cannot end the network; nor can SumPool2d: Speck reports a layer's
output events before pooling.

IF parameters: ``v <- v + dt*r*x`` fires at ``v > v_threshold``. The gain ``dt*r`` and the
threshold are folded into the weights per output channel (``W'[c] = W[c] * dt*r[c] /
v_threshold[c]``, threshold 1), which is exact; so ``r`` and ``v_threshold`` may vary between
output channels, never within one (a convolution shares its weights across positions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import GraphPlan, IRError, Problem, make_graph_plan
from nirhub.ir.conventions import reset_mode
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import IF, Affine, AvgPool2d, Conv2d, Flatten, Linear, SumPool2d
from nirhub_speck import chip
from nirhub_speck.refusals import REFUSED

#: why each NIR type Speck cannot run is refused
WEIGHT_TYPES = (Conv2d, Linear)  # Affine is a Linear subclass
POOL_TYPES = (SumPool2d, AvgPool2d)


@dataclass
class ChipLayer:
    """One Speck core's worth of the network."""

    index: int
    weight: str  #: NIR path of the Conv2d/Linear/Affine
    neuron: str = ""  #: NIR path of the IF
    pools: list[str] = field(default_factory=list)  #: NIR paths of the pooling nodes
    kind: str = "conv"  #: conv | linear
    in_shape: tuple[int, int, int] = (0, 0, 0)  #: (channels, height, width)
    neuron_shape: tuple[int, int, int] = (0, 0, 0)
    kernel: int = 1
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    pool: int = 1  #: total (square) sum pooling after the neurons
    avg_pool: bool = False  #: some of the pooling is AvgPool2d (1/k^2 on the next layer)
    has_bias: bool = False
    reset: str = "zero"
    memory: chip.Memory | None = None

    def to_json(self) -> dict[str, Any]:
        mem = self.memory
        return {
            "index": self.index,
            "nir": {"weight": self.weight, "neuron": self.neuron, "pooling": list(self.pools)},
            "kind": self.kind,
            "in_shape": list(self.in_shape),
            "neuron_shape": list(self.neuron_shape),
            "kernel_size": self.kernel,
            "stride": list(self.stride),
            "padding": list(self.padding),
            "pooling": self.pool,
            "reset": self.reset,
            "has_bias": self.has_bias,
            "memory": None
            if mem is None
            else {"kernel": mem.kernel, "neuron": mem.neuron, "bias": mem.bias},
        }


@dataclass
class LayerPlan:
    plan: GraphPlan
    layers: list[ChipLayer]
    input_shape: tuple[int, int, int]
    graph_input_shape: tuple[int, ...]
    output_flat: bool  #: the graph's output is flattened (Linear layers / final Flatten)
    cores: list[int] | None = None


def _square_hw(shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    if len(shape) == 3:
        return (int(shape[0]), int(shape[1]), int(shape[2]))
    if len(shape) == 1:
        return (int(shape[0]), 1, 1)
    return None


def _chain_order(plan: GraphPlan) -> list[str] | None:
    order, seen = [], set()
    cur = plan.input
    while True:
        nxt = [c for c, _ in plan.consumers(cur)]
        if len(nxt) != 1 or nxt[0] in seen:
            return order if not nxt else None
        cur = nxt[0]
        seen.add(cur)
        order.append(cur)


def plan_layers(
    graph: Graph, *, reset: str | None = None
) -> tuple[LayerPlan | None, list[Problem]]:
    """Group the graph into chip layers and collect *every* chip-limit violation."""
    problems: list[Problem] = []

    def bad(where: str, why: str, fld: str | None = None) -> None:
        problems.append(Problem(where, why, field=fld, kind="unsupported"))

    try:
        plan = make_graph_plan(graph, "speck")
    except IRError as exc:
        return None, list(exc.problems) or [Problem("<graph>", str(exc), kind="unsupported")]
    for step in plan.steps.values():
        t = step.type_name
        if t in REFUSED:
            bad(step.path or step.name, f"{t}: {REFUSED[t]}")
    order = _chain_order(plan) if plan.is_chain() else None
    if order is None:
        bad(
            "<graph>",
            "Speck runs a chain of layers from one Input to one Output (no branches, merges or "
            "recurrent edges)",
        )
        return None, problems
    in_step = plan.steps[plan.input]
    start = _square_hw(tuple(in_step.out_shape))
    if start is None:
        bad(
            plan.input_name,
            f"input shape {tuple(in_step.out_shape)}: Speck takes (channels, height, width) "
            "events, or a flat vector (taken as (n, 1, 1))",
        )
        return None, problems

    layers: list[ChipLayer] = []
    cur = start  # spatial shape entering the next weight layer (before any flatten)
    state = "start"  # start | weight | neuron | pool | flatten
    flat_out = len(in_step.out_shape) == 1
    for name in order:
        step = plan.steps[name]
        node = step.node
        where = step.path or step.name
        if step.identity:
            if name == plan.output and state in ("weight", "start"):
                last = layers[-1].weight if layers else plan.input_name
                bad(
                    last,
                    "the network must end in IF neurons: every Speck layer is "
                    "convolution -> IAF neurons (add an IF after it, or drop it)",
                )
            continue
        t = step.type_name
        if t in REFUSED:
            state = "neuron"  # already reported; keep scanning the rest
            continue
        if isinstance(node, WEIGHT_TYPES):
            if state == "weight":
                bad(
                    layers[-1].weight,
                    "a Conv2d/Linear must feed IF neurons directly (a Speck layer is "
                    "convolution -> IAF -> pooling)",
                )
            layer = ChipLayer(len(layers), where, has_bias=_has_bias(node))
            layers.append(layer)
            layer.in_shape = cur
            if isinstance(node, Conv2d):
                if state == "flatten":
                    bad(where, "Conv2d after a Flatten: Speck convolutions need (c, h, w) input")
                _conv_layer(layer, node, tuple(step.out_shape), bad)
            else:
                _linear_layer(layer, node, bad)
            cur = layer.neuron_shape
            flat_out = layer.kind == "linear"
            state = "weight"
        elif isinstance(node, IF):
            if state != "weight":
                bad(
                    where,
                    "IF neurons must be fed by a Conv2d/Linear/Affine (a Speck layer is "
                    "convolution -> IAF)",
                )
                state = "neuron"
                continue
            layer = layers[-1]
            layer.neuron = where
            _check_if(graph, step.path, node, layer, reset, bad, where)
            state = "neuron"
        elif isinstance(node, POOL_TYPES):
            if state not in ("neuron", "pool"):
                bad(
                    where,
                    "pooling must follow IF neurons (Speck pools a layer's output events; "
                    "pooling the input needs the DVS layer, not supported here)",
                )
                continue
            _pool(layers[-1], node, where, bad)
            cur = tuple(int(v) for v in step.out_shape)  # type: ignore[assignment]
            state = "pool"
        elif isinstance(node, Flatten):
            if state == "weight":
                bad(where, "Flatten between a Conv2d/Linear and its IF neurons")
            flat_out = True
            state = "flatten"
        else:  # pragma: no cover - every NIR type is handled above or in REFUSED
            bad(where, f"{t} has no Speck equivalent")
    if layers and layers[-1].pools:
        bad(
            layers[-1].pools[-1],
            "pooling after the last IF layer: Speck reports a layer's output events before "
            "pooling, so the network's output cannot be pooled (drop it, or add a layer)",
        )
    if not layers:
        bad("<graph>", "no Conv2d/Linear -> IF layer: nothing to put on a Speck core")
    _memory_problems(layers, bad)
    cores = _assign_cores(layers, bad) if not problems else None
    result = LayerPlan(
        plan=plan,
        layers=layers,
        input_shape=start,
        graph_input_shape=tuple(int(v) for v in in_step.out_shape),
        output_flat=flat_out,
        cores=cores,
    )
    return result, problems


Bad = Callable[..., None]


def _conv_layer(layer: ChipLayer, node: Conv2d, out_shape: tuple[int, ...], bad: Bad) -> None:
    """A Conv2d as a chip layer's convolution: kernel, stride, padding, neuron shape, memory."""
    where, (c, _, _) = layer.weight, layer.in_shape
    layer.kind = "conv"
    kh, kw = (int(k) for k in node.weight.shape[2:])
    if kh != kw:
        bad(where, f"kernel {kh}x{kw}: Speck kernels must be square", "weight")
    if any(int(d) != 1 for d in node.dilation):
        bad(where, f"dilation {tuple(node.dilation)}: Speck has no dilation")
    if int(node.groups) != 1:
        bad(where, f"groups={node.groups}: Speck has no grouped convolutions")
    if isinstance(node.padding, str):
        bad(where, f"padding {node.padding!r}: give explicit padding in pixels")
        pad = (0, 0)
    else:
        pad = (int(node.padding[0]), int(node.padding[1]))
    if node.weight.shape[1] != c:
        bad(where, f"expects {node.weight.shape[1]} input channels, gets {c}")
    layer.kernel = kh
    layer.stride = (int(node.stride[0]), int(node.stride[1]))
    layer.padding = pad
    out = tuple(int(v) for v in out_shape)
    layer.neuron_shape = (out[0], out[1], out[2]) if len(out) == 3 else (0, 0, 0)
    _layer_memory(layer)


def _linear_layer(layer: ChipLayer, node: Linear, bad: Bad) -> None:
    """A Linear/Affine as a convolution whose kernel covers the whole (square) input."""
    where, (c, h, w) = layer.weight, layer.in_shape
    layer.kind = "linear"
    n_out, n_in = (int(v) for v in node.weight.shape[-2:])
    if node.weight.ndim != 2:
        bad(where, f"weights of shape {node.weight.shape}: need (out, in)")
    if n_in != c * h * w:
        bad(where, f"takes {n_in} inputs, gets {c}x{h}x{w}")
    if h != w:
        bad(
            where,
            f"a Linear on a {c}x{h}x{w} input becomes a {h}x{w} convolution "
            "kernel on Speck, which must be square",
        )
    layer.kernel = h
    layer.neuron_shape = (n_out, 1, 1)
    _layer_memory(layer)


def _layer_memory(layer: ChipLayer) -> None:
    f, nh, nw = layer.neuron_shape
    if f > 0 and nh > 0 and nw > 0:
        kern = (layer.kernel, layer.kernel)
        layer.memory = chip.layer_memory(layer.in_shape[0], kern, f, (nh, nw), layer.has_bias)


def _pool(layer: ChipLayer, node: Any, where: str, bad: Bad) -> None:
    """Pooling after a layer's neurons: square, non-overlapping, unpadded."""
    k = tuple(int(v) for v in node.kernel_size)
    s = tuple(int(v) for v in node.stride)
    if k[0] != k[1]:
        bad(where, f"pooling {k[0]}x{k[1]}: Speck pools with square kernels only")
    if s != k:
        bad(where, f"stride {s} differs from the kernel {k}: Speck pooling does not overlap")
    if any(int(p) != 0 for p in node.padding):
        bad(where, f"padding {tuple(node.padding)}: Speck pooling has no padding")
    layer.pools.append(where)
    layer.pool *= k[0]
    layer.avg_pool = layer.avg_pool or isinstance(node, AvgPool2d)


def _memory_problems(layers: list[ChipLayer], bad: Bad) -> None:
    """Too many layers, or a layer too large for any core."""
    if len(layers) > chip.CORES:
        bad("<graph>", f"{len(layers)} layers: Speck has {chip.CORES} cores, one layer each")
    for layer in layers:
        mem = layer.memory
        if mem is None or mem.cores():
            continue
        most = chip.largest_core()
        over = [
            f"{what} {need} > {lim}"
            for what, need, lim in (
                ("kernel memory", mem.kernel, most.kernel),
                ("neuron memory", mem.neuron, most.neuron),
                ("bias memory", mem.bias, most.bias),
            )
            if need > lim
        ] or [
            f"kernel {mem.kernel}, neuron {mem.neuron} words: no single core has both "
            "(cores with 64K kernel memory have 16K neuron memory)"
        ]
        bad(
            layer.weight,
            f"layer {layer.index} is too large for any Speck core ({'; '.join(over)}); "
            "reduce its channels, kernel size or output size",
        )


def _assign_cores(layers: list[ChipLayer], bad: Bad) -> list[int] | None:
    """One core per layer, each within its core's memories (None when they do not fit)."""
    fits = [layer.memory for layer in layers]
    if not all(m is not None for m in fits):
        return None
    cores = chip.assign_cores(fits)  # type: ignore[arg-type]
    if cores is None:
        listing = ", ".join(
            f"layer {layer.index} ({layer.weight}): cores {layer.memory.cores()}"  # type: ignore[union-attr]
            for layer in layers
        )
        bad(
            "<graph>",
            "every layer fits some core, but not all at once, each on its own core "
            f"({listing}); make the large layers smaller",
        )
    return cores


def _has_bias(node: Any) -> bool:
    if isinstance(node, Affine):
        return True
    return isinstance(node, Conv2d) and node.bias is not None


def _check_if(
    graph: Graph, path: str, node: IF, layer: ChipLayer, reset: str | None, bad: Any, where: str
) -> None:
    try:
        layer.reset = reset_mode(graph, path, reset)
    except Exception as exc:  # an unknown mode recorded in the file
        bad(where, f"reset mode: {exc}")
        return
    if layer.reset not in ("zero", "subtract"):
        bad(
            where,
            f"reset mode {layer.reset!r}: Speck resets to zero or subtracts the threshold, "
            "in the step of the spike",
        )
    if layer.reset == "zero" and node.v_reset is not None and np.any(np.asarray(node.v_reset)):
        bad(where, "a non-zero v_reset: Speck resets to 0 (or subtracts the threshold)", "v_reset")
    thr = np.asarray(node.v_threshold, dtype=np.float64)
    r = np.asarray(node.r, dtype=np.float64)
    if np.any(thr <= 0):
        bad(where, "thresholds must be positive (Speck fires upwards only)", "v_threshold")
        return
    if np.any(r <= 0):
        bad(where, "r must be positive (it is folded into the weights with the threshold)", "r")
        return
    shape = layer.neuron_shape
    full = shape if layer.kind == "conv" else (shape[0],)
    for name, values in (("v_threshold", thr), ("r", r)):
        try:
            per_channel = np.broadcast_to(values, full).reshape(full[0], -1)
        except ValueError:
            continue  # a shape mismatch is the graph validator's to report
        if not np.allclose(per_channel, per_channel[:, :1], rtol=1e-6, atol=0):
            bad(
                where,
                f"{name} varies within a channel: Speck has one threshold per layer and "
                "shares weights across positions, so only per-channel values can be folded "
                "into the weights",
                name,
            )
