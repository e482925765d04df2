"""Spyx/Flax models -> nirhub graphs, with ``r``, ``v_leak``, ``w_in`` and ``dt`` honoured.

Two kinds of model:

* a :class:`~nirhub_spyx.runtime.GraphModel` (what the importer builds, also after training):
  exported node for node, any graph shape;
* a Spyx model: ``spyx.nn.Sequential`` / ``flax.nnx.Sequential`` (or a single layer) of
  ``nnx.Linear``, ``nnx.Conv``, ``spyx.nn.SumPool``, ``spyx.nn.Flatten`` and Spyx neurons.

Spyx's neurons compute the spike from the *previous* step's voltage, so every spiking layer
becomes its NIR neuron followed by a one-step ``Delay`` (the exact translation; see
``docs/backends/spyx.md``):

* ``IF(threshold)`` -> ``IF(r=1/dt)`` with reset by subtraction, then ``Delay(dt)``;
* ``LIF(beta, threshold)`` -> ``LIF(tau=dt/(1-beta), r=tau/dt)``, reset ``subtract-delayed``
  (the threshold is subtracted one step late and undecayed, as in snnTorch's default), then
  ``Delay(dt)``;
* ``CuBaLIF(alpha, beta)`` -> ``CubaLIF(tau_syn=dt/(1-alpha), tau_mem=dt/(1-beta),
  w_in=tau_syn/dt, r=tau_mem/dt)``, reset by subtraction, then ``Delay(dt)``;
* ``RIF``/``RLIF``/``RCuBaLIF`` -> a subgraph ``neuron <-> Linear(W_rec)``, then ``Delay``;
* ``LI(beta)`` -> ``LI``; ``PSU_LIF`` -> ``LI`` + ``Threshold`` (no delay: it spikes on the new
  voltage).

The graph records ``dt``, ``method="euler"`` (Spyx's updates are forward Euler) and each
node's reset mode in the ``nirhub`` metadata. Spyx runs channels last; NIR shapes are channels
first, and a Spyx ``Flatten`` of a ``(H, W, C)`` tensor is folded into the next layer's weights
(or an explicit permutation) so that the flat order matches.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nirhub.backend import Problem, UnsupportedError, UsageError
from nirhub.ir.conventions import NAMESPACE, set_dt, set_method
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLI,
    CubaLIF,
    Delay,
    Flatten,
    I,
    Input,
    Linear,
    Node,
    Output,
    Scale,
    SumPool2d,
    Threshold,
)

F64 = np.float64


def _value(v: Any) -> np.ndarray:
    """The array inside an nnx Variable (or a plain value)."""
    try:
        return np.asarray(v[...])
    except (TypeError, IndexError):
        return np.asarray(v)


def _meta(node: Node, reset: str | None) -> Node:
    if reset is None or reset == "zero":
        return node
    meta = dict(node.metadata)
    meta[NAMESPACE] = {**dict(meta.get(NAMESPACE, {})), "reset": reset}
    return node.replace(metadata=meta)


def _finish(graph: Graph, dt: float, method: str) -> Graph:
    set_dt(graph.metadata, dt)
    set_method(graph.metadata, method)
    ns = dict(graph.metadata[NAMESPACE])
    ns["source"] = "spyx"
    graph.metadata[NAMESPACE] = ns
    graph.validate()
    return graph


# --------------------------------------------------------------------------------------------
# GraphModel (built by nirhub)
# --------------------------------------------------------------------------------------------


def is_graph_model(model: Any) -> bool:
    return (
        type(model).__name__ == "GraphModel" and hasattr(model, "preds") and hasattr(model, "order")
    )


def export_graph_model(m: Any) -> Graph:
    nodes: dict[str, Node] = {}
    identity: list[str] = []
    for name in m.names:
        layer = m.layers[name] if name in m.layers else None
        if layer is None:
            if name in m.inputs:
                nodes[name] = Input(m.shapes[name])
            elif name in m.outputs:
                nodes[name] = Output(m.shapes[name])
            else:
                identity.append(name)
            continue
        nodes[name] = _graph_node(m, name, layer)
    edges = [(s, d) for d, srcs in m.preds.items() for s in srcs]
    # drop identity relays (flattened subgraph ports) by connecting around them
    for name in identity:
        preds = [s for s, d in edges if d == name]
        succs = [d for s, d in edges if s == name]
        edges = [e for e in edges if name not in e] + [(p, s) for p in preds for s in succs]
    order = {n: i for i, n in enumerate(m.names)}
    edges = sorted(dict.fromkeys(edges), key=lambda e: (order[e[1]], order[e[0]]))
    return _finish(Graph(nodes, edges), m.dt, m.method)


def _graph_node(m: Any, name: str, layer: Any) -> Node:
    kind = type(layer).__name__
    if kind == "Linear":  # flax.nnx.Linear
        w = _value(layer.kernel).T
        if layer.bias is not None:
            return Affine(w, _value(layer.bias))
        return Linear(w)
    if kind == "Affine":
        w = _value(layer.weight)
        return Linear(w) if layer.bias is None else Affine(w, _value(layer.bias))
    if kind == "Scale":
        return Scale(_value(layer.scale))
    if kind == "Conv":
        conv = layer.conv
        w = np.moveaxis(_value(conv.kernel), (-1, -2), (0, 1))
        bias = None if conv.bias is None else _value(conv.bias)
        cls = Conv2d if layer.nd == 2 else Conv1d
        return cls(
            m.in_shapes[name][1:],
            w,
            tuple(conv.strides),
            layer.nir_padding,
            tuple(conv.kernel_dilation),
            int(conv.feature_group_count),
            bias,
        )
    if kind == "Pool":
        cls2 = AvgPool2d if layer.average else SumPool2d
        return cls2(layer.kernel_size, layer.stride, layer.padding)
    if kind == "Flatten":
        a, b = m.in_shapes[name], m.shapes[name]
        start = 0
        while start < min(len(a), len(b)) and a[start] == b[start]:
            start += 1
        start = min(start, len(b) - 1)
        end = start + (len(a) - len(b))
        return Flatten(a, start, end)
    if kind == "Threshold":
        return Threshold(_value(layer.threshold))
    if kind == "Delay":
        return Delay(_value(layer.steps).astype(F64) * m.dt)
    fields: dict[str, Any] = {}
    params = {"LIF": LIF, "IF": IF, "CubaLIF": CubaLIF, "LI": LI, "CubaLI": CubaLI, "I": I}
    if kind not in params:
        raise UnsupportedError(
            f"{name}: layer {kind} cannot be exported",
            problems=[Problem(name, f"layer {kind} has no NIR equivalent", kind="unsupported")],
        )
    cls3 = params[kind]
    for f in cls3.fields:
        if f == "v_reset":
            fields[f] = _value(layer.v_reset) if getattr(layer, "v_reset_given", True) else None
            continue
        fields[f] = _value(getattr(layer, f))
    node = cls3(**fields)
    return _meta(node, getattr(layer, "reset", None))


# --------------------------------------------------------------------------------------------
# Spyx models
# --------------------------------------------------------------------------------------------


class _Walk:
    """Walk a layer sequence, tracking the NIR shape and Spyx's layout of the signal."""

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.nodes: dict[str, Node] = {}
        self.edges: list[tuple[str, str]] = []
        self.head = "input"
        self.shape: tuple[int, ...] | None = None
        #: for a 1-D signal after a channels-last Flatten: spyx index i = NIR index perm[i]
        self.perm: np.ndarray | None = None
        self.problems: list[Problem] = []

    def add(self, name: str, node: Node) -> str:
        base, i = name, 1
        while name in self.nodes:
            name = f"{base}_{i}"
            i += 1
        self.nodes[name] = node
        self.edges.append((self.head, name))
        self.head = name
        return name

    def fail(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message, kind="unsupported"))

    # -- layout helpers -------------------------------------------------------------------------
    def to_nir(self, value: Any, hidden: tuple[int, ...]) -> np.ndarray:
        """A Spyx per-neuron parameter (scalar, or in Spyx's layout) -> NIR layout."""
        a = np.broadcast_to(np.asarray(value, F64), hidden).copy()
        if len(hidden) >= 2:
            a = np.moveaxis(a, -1, 0)
        if self.perm is not None:
            out = np.empty_like(a)
            out[self.perm] = a
            a = out
        return a

    def hidden(self, layer: Any, where: str) -> tuple[int, ...] | None:
        hs = getattr(layer, "hidden_shape", None) or getattr(layer, "layer_shape", None)
        if hs is None:
            return None
        hs = (int(hs),) if isinstance(hs, (int, np.integer)) else tuple(int(s) for s in hs)
        nir = (hs[-1], *hs[:-1]) if len(hs) >= 2 else hs
        if self.shape is None:
            self.shape = nir
        elif tuple(self.shape) != nir:
            self.fail(
                where,
                f"hidden_shape {hs} does not match the incoming signal "
                f"{self.shape} (NIR layout, channels first)",
            )
        return hs

    def decay(self, beta: Any, hidden: tuple[int, ...], where: str, name: str) -> np.ndarray:
        b = np.clip(self.to_nir(_value(beta), hidden), 0.0, 1.0)
        return b


def export_spyx(model: Any, *, dt: float | None = None, input_shape: Any = None) -> Graph:
    """Export a Spyx/NNX model (see the module docstring)."""
    from flax import nnx

    if is_graph_model(model):
        return export_graph_model(model)
    if dt is None:
        raise UsageError(
            "a Spyx model does not know its time step; pass dt (seconds)",
            hint="Spyx decays are per step: tau = dt/(1 - beta). E.g. --dt 1e-3.",
        )
    dt = float(dt)
    layers = list(model.layers) if isinstance(model, nnx.Sequential) else [model]
    walk = _Walk(dt)
    if input_shape is not None:
        walk.shape = _parse_shape(input_shape)
    else:
        walk.shape = _first_shape(layers)
        if walk.shape is None:
            raise UsageError(
                "cannot tell the model's input shape: pass input_shape (channels first, e.g. "
                "2,34,34)",
                hint="-O input_shape=2,34,34",
            )
    input_shape_ = walk.shape
    for i, layer in enumerate(layers):
        _layer(walk, layer, i)
    if walk.problems:
        listing = "\n".join(f"  - {p}" for p in walk.problems)
        raise UnsupportedError(
            f"the Spyx model cannot be expressed in NIR ({len(walk.problems)} problem(s)):\n"
            f"{listing}",
            problems=walk.problems,
        )
    if walk.perm is not None:  # put the outputs back in Spyx's order
        n = walk.perm.size
        p = np.zeros((n, n))
        p[np.arange(n), walk.perm] = 1.0
        walk.add("output_order", Linear(p))
    walk.nodes["input"] = Input(input_shape_)
    walk.nodes["output"] = Output(walk.shape)
    walk.edges.append((walk.head, "output"))
    nodes = {"input": walk.nodes.pop("input"), **walk.nodes}
    return _finish(Graph(nodes, walk.edges), dt, "euler")


def _parse_shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        parts = [p for p in value.replace("x", ",").split(",") if p.strip()]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise UsageError(f"input_shape must be integers like 2,34,34, got {value!r}") from None
    return tuple(int(v) for v in value)


def _first_shape(layers: list[Any]) -> tuple[int, ...] | None:
    from flax import nnx

    for layer in layers:
        if isinstance(layer, nnx.Linear):
            return (int(layer.in_features),)
        hs = getattr(layer, "hidden_shape", None) or getattr(layer, "layer_shape", None)
        if hs is not None:
            hs = (int(hs),) if isinstance(hs, (int, np.integer)) else tuple(int(s) for s in hs)
            return (hs[-1], *hs[:-1]) if len(hs) >= 2 else hs
        if type(layer).__name__ == "ActivityRegularization":
            continue
        return None
    return None


def _layer(w: _Walk, layer: Any, i: int) -> None:
    import spyx
    from flax import nnx

    kind = type(layer).__name__
    where = f"layer {i} ({kind})"
    name = f"{kind.lower()}_{i}"
    nn = spyx.nn
    if isinstance(layer, nnx.Linear):
        if w.shape is None or len(w.shape) != 1:
            w.fail(where, f"a Linear layer on a {w.shape} signal (flatten it first)")
            return
        k = _value(layer.kernel).astype(F64)  # (in, out)
        weight = np.zeros((k.shape[1], k.shape[0]))
        if w.perm is not None:
            weight[:, w.perm] = k.T
            w.perm = None
        else:
            weight = k.T.copy()
        bias = None if layer.bias is None else _value(layer.bias).astype(F64)
        w.add(name, Linear(weight) if bias is None else Affine(weight, bias))
        w.shape = (weight.shape[0],)
        return
    if isinstance(layer, nnx.Conv):
        _conv(w, layer, name, where)
        return
    if isinstance(layer, nn.SumPool):
        _pool(w, layer, name, where)
        return
    if isinstance(layer, nn.Flatten):
        if w.shape is None or len(w.shape) == 1:
            return
        c, *sp = w.shape
        idx = np.arange(math.prod(w.shape)).reshape(w.shape)  # NIR (C, H, W) flat indices
        perm = np.moveaxis(idx, 0, -1).reshape(-1)  # in Spyx's (H, W, C) order
        w.add(name, Flatten(w.shape, 0, -1))
        w.shape = (int(idx.size),)
        w.perm = None if np.array_equal(perm, np.arange(perm.size)) else perm
        return
    if kind == "ActivityRegularization":
        return  # passes spikes through unchanged
    if isinstance(
        layer, (nn.IF, nn.LIF, nn.CuBaLIF, nn.LI, nn.PSU_LIF, nn.RIF, nn.RLIF, nn.RCuBaLIF)
    ):
        _neuron(w, layer, name, where)
        return
    w.fail(
        where, f"{kind} has no NIR equivalent" + (" (adaptive threshold)" if kind == "ALIF" else "")
    )


def _conv(w: _Walk, layer: Any, name: str, where: str) -> None:
    kernel = _value(layer.kernel).astype(F64)  # (*k, C_in/g, C_out)
    nd = kernel.ndim - 2
    if w.shape is None or len(w.shape) != nd + 1:
        w.fail(where, f"a {nd}-D convolution on a {w.shape} signal")
        return
    if any(int(d) != 1 for d in np.atleast_1d(layer.input_dilation or 1)):
        w.fail(where, "input_dilation (transposed convolution) has no NIR equivalent")
        return
    stride = tuple(int(s) for s in np.broadcast_to(np.asarray(layer.strides or 1), (nd,)))
    dil = tuple(int(d) for d in np.broadcast_to(np.asarray(layer.kernel_dilation or 1), (nd,)))
    k_eff = tuple(d * (k - 1) + 1 for d, k in zip(dil, kernel.shape[:nd], strict=True))
    pad = _padding(layer.padding, w.shape[1:], k_eff, stride)
    if pad is None:
        w.fail(
            where,
            f"padding {layer.padding!r} is asymmetric (or not zero padding); NIR "
            "padding is symmetric",
        )
        return
    weight = np.moveaxis(kernel, (-1, -2), (0, 1))
    bias = None if layer.bias is None else _value(layer.bias).astype(F64)
    cls = Conv2d if nd == 2 else Conv1d
    node = cls(w.shape[1:], weight, stride, pad, dil, int(layer.feature_group_count), bias)
    w.add(name, node)
    w.shape = node.output_shape(w.shape)


def _padding(
    padding: Any, spatial: tuple[int, ...], k: tuple[int, ...], stride: tuple[int, ...]
) -> Any:
    """Flax padding -> NIR padding (ints, or "same" with stride 1), None if inexpressible."""
    if isinstance(padding, str):
        p = padding.upper()
        if p == "VALID":
            return 0
        if p != "SAME":
            return None
        if all(s == 1 for s in stride) and all((kk - 1) % 2 == 0 for kk in k):
            return tuple((kk - 1) // 2 for kk in k)
        if all(s == 1 for s in stride):
            return "same"
        pads = []
        for n, kk, ss in zip(spatial, k, stride, strict=True):
            o = -(-n // ss)
            total = max((o - 1) * ss + kk - n, 0)
            if total % 2:
                return None
            pads.append(total // 2)
        return tuple(pads)
    if isinstance(padding, (int, np.integer)):
        return int(padding)
    pairs = [
        (int(p), int(p)) if isinstance(p, (int, np.integer)) else tuple(int(x) for x in p)
        for p in padding
    ]
    if any(lo != hi for lo, hi in pairs):
        return None
    return tuple(lo for lo, _ in pairs)


def _pool(w: _Walk, layer: Any, name: str, where: str) -> None:
    if w.shape is None or len(w.shape) != 3:
        w.fail(where, f"sum pooling on a {w.shape} signal (needs channels-last (H, W, C))")
        return
    if layer.channel_axis not in (-1, 3):
        w.fail(where, "SumPool with channel_axis other than -1")
        return

    def spatial(v: Any) -> tuple[int, int] | None:
        if isinstance(v, (int, np.integer)):
            return (int(v), int(v))
        v = tuple(int(x) for x in v)
        if len(v) == 2:
            return v  # type: ignore[return-value]
        if len(v) == 4 and v[0] == 1 and v[3] == 1:
            return (v[1], v[2])
        return None

    k, s = spatial(layer.window_shape), spatial(layer.strides)
    if k is None or s is None:
        w.fail(where, f"window {layer.window_shape} / strides {layer.strides} are not spatial")
        return
    pad = _padding(layer.padding, w.shape[1:], k, s)
    if pad is None or pad == "same":
        w.fail(where, f"padding {layer.padding!r} is asymmetric; NIR pooling pads symmetrically")
        return
    node = SumPool2d(k, s, pad)
    w.add(name, node)
    w.shape = node.output_shape(w.shape)


def _neuron(w: _Walk, layer: Any, name: str, where: str) -> None:
    import spyx

    nn = spyx.nn
    dt = w.dt
    hidden = w.hidden(layer, where)
    if hidden is None or w.shape is None:
        w.fail(where, "cannot tell the neuron layer's shape")
        return
    shape = w.shape
    ones = np.ones(shape)
    thr = (
        w.to_nir(np.asarray(getattr(layer, "threshold", 1.0), F64), hidden)
        if hasattr(layer, "threshold")
        else None
    )
    recurrent = isinstance(layer, (nn.RIF, nn.RLIF, nn.RCuBaLIF))
    if recurrent and len(shape) != 1:
        w.fail(where, "recurrent layers must be 1-D")
        return
    reset = "subtract"
    if isinstance(layer, (nn.IF, nn.RIF)):
        node: Node = IF(ones / dt, thr, None)
    elif isinstance(layer, (nn.LIF, nn.RLIF)):
        beta = w.decay(layer.beta, hidden, where, "beta")
        if np.all(beta == 1.0):  # no leak: an IF (undecayed = decayed subtraction)
            node = IF(ones / dt, thr, None)
        elif np.any(beta == 1.0):
            w.fail(
                where,
                "beta = 1 (no leak) for some neurons but not all; NIR's LIF needs a finite tau",
            )
            return
        else:
            tau = dt / (1.0 - beta)
            node = LIF(tau, tau / dt, np.zeros(shape), thr, None)
            reset = "subtract-delayed"
    elif isinstance(layer, (nn.CuBaLIF, nn.RCuBaLIF)):
        alpha = w.decay(layer.alpha, hidden, where, "alpha")
        beta = w.decay(layer.beta, hidden, where, "beta")
        if np.any(alpha == 1.0) or np.any(beta == 1.0):
            w.fail(where, "alpha or beta = 1 (no decay) has no finite NIR time constant")
            return
        tau_syn, tau_mem = dt / (1.0 - alpha), dt / (1.0 - beta)
        node = CubaLIF(tau_syn, tau_mem, tau_mem / dt, np.zeros(shape), thr, None, tau_syn / dt)
    elif isinstance(layer, nn.PSU_LIF):
        beta = w.decay(layer.beta, hidden, where, "beta")
        if np.any(beta == 1.0):
            w.fail(where, "beta = 1 (no leak) in a PSU_LIF")
            return
        tau = dt / (1.0 - beta)
        w.add(name, LI(tau, tau / dt, np.zeros(shape)))
        w.add(f"{name}_threshold", Threshold(thr))
        return
    else:  # LI: outputs the new voltage (no spike, no delay)
        beta = w.decay(layer.beta, hidden, where, "beta")
        if np.all(beta == 1.0):
            w.add(name, I(ones / dt))
        elif np.any(beta == 1.0):
            w.fail(where, "beta = 1 for some neurons but not all")
        else:
            tau = dt / (1.0 - beta)
            w.add(name, LI(tau, tau / dt, np.zeros(shape)))
        return
    node = _meta(node, reset)
    if recurrent:
        n = shape[0]
        wrec = _value(layer.recurrent_w).astype(F64).reshape(n, n)  # spikes @ W: (in, out)
        if w.perm is not None:
            w.fail(where, "a recurrent layer right after a channels-last Flatten")
            return
        sub = Graph(
            {
                "input": Input(shape),
                "neuron": node,
                "w_rec": Linear(wrec.T.copy()),
                "output": Output(shape),
            },
            [("input", "neuron"), ("neuron", "w_rec"), ("w_rec", "neuron"), ("neuron", "output")],
        )
        w.add(name, sub)
    else:
        w.add(name, node)
    # Spyx decides the spike from the previous step's voltage: one step later than NIR
    w.add(f"{name}_delay", Delay(np.full(shape, dt)))


def export_model(model: Any, *, dt: float | None = None, input_shape: Any = None) -> Graph:
    return export_spyx(model, dt=dt, input_shape=input_shape)
