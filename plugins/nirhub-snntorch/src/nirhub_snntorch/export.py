"""snnTorch model -> IR.

snnTorch models are ``nn.Module`` objects whose ``forward`` is arbitrary Python (usually a loop
over time steps carrying states), so it cannot be traced generically. This exporter reads the
model's *layers*, in order:

* an ``nn.Sequential`` (nested ones too) in its order;
* any other module as a chain of its children in registration order (the order of the
  ``self.x = ...`` assignments in ``__init__``), recursing into child containers; a module
  that holds parameters of its own (used by a forward we cannot see) is refused. Pass
  ``example_input`` (Python API) to have the order checked: the model is run once with forward
  hooks on every layer and the call order must repeat the chain. Without it, a
  :class:`~nirhub.hub.backend.ConversionWarning` says the order was assumed.

Layers (exact classes): ``nn.Linear`` -> Affine/Linear, ``nn.Conv1d/2d`` -> Conv1d/2d,
``nn.AvgPool2d`` -> AvgPool2d, ``nn.Flatten`` -> Flatten (batch dim removed),
``nn.Identity``/``nn.Dropout`` -> dropped (inference semantics), ``snn.Leaky``/``snn.Lapicque``
-> LIF (IF when beta = 1), ``snn.Synaptic`` -> CubaLIF, ``snn.RLeaky``/``snn.RSynaptic`` with
linear or one-to-one recurrence -> a subgraph ``input -> lif <-> w_rec``, ``lif -> output``.
Everything else is collected and refused at once (:class:`~nirhub.errors.UnsupportedError`
naming every module).

snnTorch has no time step; the model is taken to run at ``dt`` (default 1e-4 s, the NIR
paper's convention) and exported with forward-Euler formulas so that the reference simulator
(method ``"euler"``) reproduces it: ``tau = dt/(1 - beta)``, ``r = tau/dt`` (unit input gain),
``tau_syn = dt/(1 - alpha)``, ``w_in = tau_syn/dt``. ``dt`` and each node's reset mode are
recorded in metadata (``nirhub.dt``, ``nirhub.reset``):

==========================  ===============  ============================================
snnTorch reset              reset_delay      NIR reset mode
==========================  ===============  ============================================
``"zero"``                  either (Leaky)   ``zero`` (``v_reset = 0``)
``"zero"``                  False (others)   ``zero``
``"zero"``                  True (others)    refused: v is held at 0 for the next step
``"subtract"``              True (default)   ``subtract-delayed``
``"subtract"``              False            ``subtract-guarded`` (RSynaptic: delayed, see
                                             the docs)
``"none"``                  -                refused (NIR always resets)
==========================  ===============  ============================================
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import ConversionWarning, Problem, UnsupportedError, UsageError
from nirhub.ir.conventions import NAMESPACE, set_dt, set_method, set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LIF,
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLIF,
    Flatten,
    Input,
    Linear,
    Node,
    Output,
    Scale,
)

DEFAULT_DT = 1e-4


@dataclass
class _Layer:
    name: str
    module: Any


@dataclass
class _Collected:
    layers: list[_Layer] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sequential_only: bool = True


def _kinds() -> dict[type, str]:
    import snntorch as snn
    from torch import nn

    return {
        nn.Linear: "linear",
        nn.Conv1d: "conv",
        nn.Conv2d: "conv",
        nn.AvgPool2d: "avgpool",
        nn.Flatten: "flatten",
        nn.Identity: "drop",
        snn.Leaky: "leaky",
        snn.Synaptic: "synaptic",
        snn.RLeaky: "rleaky",
        snn.RSynaptic: "rsynaptic",
        snn.Lapicque: "lapicque",
    }


def _collect(model: Any) -> _Collected:
    from torch import nn

    kinds = _kinds()
    out = _Collected()

    def walk(module: Any, prefix: str) -> None:
        kind = kinds.get(type(module))
        if kind is None and isinstance(module, nn.modules.dropout._DropoutNd):
            kind = "drop"
        name = prefix or type(module).__name__
        if kind is not None:
            out.layers.append(_Layer(name, module))
            return
        children = list(module.named_children())
        own = [n for n, _ in module.named_parameters(recurse=False)] + [
            n for n, _ in module.named_buffers(recurse=False)
        ]
        if not children or own:
            reason = (
                f"{type(module).__module__}.{type(module).__name__} has no NIR equivalent"
                if not children
                else f"{type(module).__name__} holds its own parameters/buffers "
                f"({', '.join(own)}) used by a forward() that cannot be traced"
            )
            for base in type(module).__mro__[1:]:
                if base in kinds:
                    reason = (
                        f"{type(module).__name__} subclasses {base.__name__}; its "
                        "behaviour may differ, so it is not exported"
                    )
                    break
            out.problems.append(Problem(name, reason, kind="unsupported-module"))
            return
        if type(module) is not nn.Sequential:
            out.sequential_only = False
        for child_name, child in children:
            walk(child, f"{prefix}.{child_name}" if prefix else child_name)

    walk(model, "")
    return out


def _np(value: Any) -> np.ndarray:
    import torch

    return torch.as_tensor(value).detach().cpu().double().numpy()


def _array(value: Any) -> np.ndarray:
    """A weight as numpy, keeping its float dtype."""
    arr = value.detach().cpu().numpy()
    return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)


def _per_neuron(
    value: Any, shape: tuple[int, ...], name: str, what: str, problems: list[Problem]
) -> np.ndarray | None:
    arr = _np(value)
    try:
        return np.ascontiguousarray(np.broadcast_to(arr, shape))
    except ValueError:
        problems.append(
            Problem(
                name,
                f"{what} has shape {arr.shape}, which does not fit the layer's input shape {shape}",
                kind="shape-mismatch",
            )
        )
        return None


class _Exporter:
    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.problems: list[Problem] = []
        self.notes: list[str] = []

    def fail(self, name: str, message: str, kind: str = "unsupported-module") -> None:
        self.problems.append(Problem(name, message, kind=kind))

    # -- neurons -----------------------------------------------------------------------------
    def _common_checks(self, name: str, m: Any) -> bool:
        ok = True
        if getattr(m, "inhibition", False):
            self.fail(name, "inhibition=True (winner-take-all spiking) has no NIR equivalent")
            ok = False
        if getattr(m, "state_quant", False):
            self.fail(name, "state_quant (quantized state) has no NIR equivalent")
            ok = False
        gsf = getattr(m, "graded_spikes_factor", None)
        if gsf is not None and not np.all(_np(gsf) == 1.0):
            self.fail(name, "graded_spikes_factor != 1: NIR spikes have amplitude 1")
            ok = False
        return ok

    def _reset(self, name: str, m: Any, thr: np.ndarray, kind: str) -> str | None:
        mech = m.reset_mechanism
        delay = bool(getattr(m, "reset_delay", True))
        if kind == "lapicque":
            delay = True  # Lapicque always resets from the previous step's membrane
        if kind == "rsynaptic" and not delay:
            self.notes.append(
                f"{name}: snnTorch's RSynaptic ignores reset_delay=False (its code applies the "
                "immediate reset to a local variable), so it was exported as the delayed "
                "subtraction/zeroing it actually computes"
            )
            delay = True
        if mech == "none":
            self.fail(name, "reset_mechanism='none' (no reset after a spike) has no NIR equivalent")
            return None
        if mech == "zero":
            if delay and kind != "leaky":
                self.fail(
                    name,
                    f"reset_mechanism='zero' with reset_delay=True: snnTorch's "
                    f"{type(m).__name__} then holds the membrane at 0 for the step after "
                    "a spike (the input of that step is lost), which NIR cannot express",
                )
                return None
            if not delay and np.any(thr < 0):
                self.fail(
                    name,
                    "reset_mechanism='zero', reset_delay=False with a negative "
                    "threshold: snnTorch's double-reset guard then misbehaves",
                )
                return None
            return "zero"
        return "subtract-delayed" if delay else "subtract-guarded"

    def _leaky_node(
        self, name: str, beta: np.ndarray, thr: np.ndarray, gain: np.ndarray, reset: str
    ) -> Node | None:
        """``mem = beta*mem + gain*x`` as LIF (beta < 1) or IF (beta == 1)."""
        v_reset = np.zeros_like(thr) if reset == "zero" else None
        if np.all(beta == 1.0):
            return IF(gain / self.dt, thr, v_reset)
        if np.any(beta == 1.0):
            self.fail(
                name,
                "beta is 1 for some neurons and < 1 for others; NIR needs one "
                "neuron model per layer (IF or LIF)",
                kind="unsupported-parameter",
            )
            return None
        tau = self.dt / (1.0 - beta)
        return LIF(tau, gain * tau / self.dt, np.zeros_like(tau), thr, v_reset)

    def config(self, layer: _Layer, kind: str) -> str | bool:
        """Shape-independent checks of one layer (run for every layer, so that all problems
        are reported at once). Neurons: their NIR reset mode, or False."""
        name, m = layer.name, layer.module
        if kind in ("leaky", "synaptic", "lapicque", "rleaky", "rsynaptic"):
            ok = self._common_checks(name, m)
            reset = self._reset(name, m, _np(m.threshold), kind)
            if kind in ("rleaky", "rsynaptic") and m.all_to_all and not m.linear_features:
                self.fail(
                    name,
                    "convolutional recurrence (conv2d_channels/kernel_size) is not "
                    "exported; snnTorch pads it with kernel_size//2",
                )
                ok = False
            return reset if (ok and reset is not None) else False
        if kind == "conv" and m.padding_mode != "zeros":
            self.fail(name, f"padding_mode={m.padding_mode!r}: NIR convolutions pad with zeros")
            return False
        if kind == "avgpool":
            bad = []
            if m.ceil_mode:
                bad.append("ceil_mode=True")
            if not m.count_include_pad:
                bad.append("count_include_pad=False")
            if m.divisor_override is not None:
                bad.append(f"divisor_override={m.divisor_override}")
            if bad:
                self.fail(
                    name,
                    f"{', '.join(bad)}: NIR's AvgPool2d divides by the kernel area, "
                    "padded cells included",
                )
                return False
        if kind == "flatten" and (m.start_dim == 0 or m.end_dim == 0):
            self.fail(name, "nn.Flatten over the batch dimension (dim 0)")
            return False
        return True

    def neuron(self, layer: _Layer, kind: str, shape: tuple[int, ...], reset: str) -> Node | None:
        name, m = layer.name, layer.module
        thr = _per_neuron(m.threshold, shape, name, "threshold", self.problems)
        if thr is None:
            return None
        if kind == "lapicque":
            big_r, big_c, step = _np(m.R), _np(m.C), _np(m.time_step)
            decay = 1.0 - step / (big_r * big_c)
            gain = big_r * (1.0 / (big_r * big_c)) * step
            if np.any(decay < 0):
                self.fail(
                    name,
                    "time_step > R*C: the decay 1 - T/(RC) is negative",
                    kind="unsupported-parameter",
                )
                return None
            beta = np.ascontiguousarray(np.broadcast_to(decay, shape))
            node = self._leaky_node(name, beta, thr, np.broadcast_to(gain, shape).copy(), reset)
        elif kind in ("leaky", "rleaky"):
            b = _per_neuron(m.beta, shape, name, "beta", self.problems)
            if b is None:
                return None
            node = self._leaky_node(name, np.clip(b, 0.0, 1.0), thr, np.ones(shape), reset)
        else:
            a = _per_neuron(m.alpha, shape, name, "alpha", self.problems)
            b = _per_neuron(m.beta, shape, name, "beta", self.problems)
            if a is None or b is None:
                return None
            a, b = np.clip(a, 0.0, 1.0), np.clip(b, 0.0, 1.0)
            if np.any(a == 1.0) or np.any(b == 1.0):
                self.fail(
                    name,
                    "alpha or beta equals 1 (a non-leaking current or membrane); "
                    "NIR's CubaLIF needs finite time constants",
                    kind="unsupported-parameter",
                )
                return None
            tau_syn, tau_mem = self.dt / (1.0 - a), self.dt / (1.0 - b)
            v_reset = np.zeros_like(thr) if reset == "zero" else None
            node = CubaLIF(
                tau_syn,
                tau_mem,
                tau_mem / self.dt,
                np.zeros_like(thr),
                thr,
                v_reset,
                tau_syn / self.dt,
            )
        if node is not None:
            set_reset(node.metadata, reset)
        return node

    def recurrent(
        self, layer: _Layer, kind: str, shape: tuple[int, ...], reset: str
    ) -> Node | None:
        name, m = layer.name, layer.module
        inner = self.neuron(layer, kind, shape, reset)
        w_rec: Node | None = None
        if m.all_to_all and m.linear_features:
            if len(shape) != 1 or shape[0] != m.linear_features:
                self.fail(
                    name,
                    f"linear recurrence of size {m.linear_features} on an input of shape {shape}",
                    kind="shape-mismatch",
                )
            else:
                rec = m.recurrent
                w_rec = (
                    Affine(_array(rec.weight), _array(rec.bias))
                    if rec.bias is not None
                    else Linear(_array(rec.weight))
                )
        elif not m.all_to_all:
            v = _per_neuron(m.V, shape, name, "V", self.problems)
            if v is not None:
                w_rec = Scale(v)
        if inner is None or w_rec is None:
            return None
        return Graph(
            {"input": Input(shape), "lif": inner, "w_rec": w_rec, "output": Output(shape)},
            [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        )

    # -- stateless layers --------------------------------------------------------------------
    def stateless(self, layer: _Layer, kind: str, shape: tuple[int, ...]) -> Node | None:
        name, m = layer.name, layer.module
        if kind == "linear":
            if len(shape) != 1:
                self.fail(
                    name,
                    f"nn.Linear on a {len(shape)}-D input {shape}: NIR's Affine "
                    "maps a vector; put an nn.Flatten before it",
                    kind="shape-mismatch",
                )
                return None
            w = _array(m.weight)
            return Affine(w, _array(m.bias)) if m.bias is not None else Linear(w)
        if kind == "conv":
            cls = Conv1d if m.weight.dim() == 3 else Conv2d
            bias = None if m.bias is None else _array(m.bias)
            return cls(None, _array(m.weight), m.stride, m.padding, m.dilation, m.groups, bias)
        if kind == "avgpool":
            stride = m.stride if m.stride is not None else m.kernel_size
            return AvgPool2d(m.kernel_size, stride, m.padding)
        if kind == "flatten":
            start, end = m.start_dim, m.end_dim
            return Flatten(None, start - 1 if start > 0 else start, end - 1 if end > 0 else end)
        raise AssertionError(kind)  # pragma: no cover


def _input_shape(layers: list[_Layer], given: Any) -> tuple[int, ...] | None:
    if given is not None:
        if isinstance(given, str):
            try:
                return tuple(
                    int(v) for v in given.replace("(", "").replace(")", "").split(",") if v.strip()
                )
            except ValueError:
                raise UsageError(f"input_shape must look like 2,34,34; got {given!r}") from None
        return tuple(int(v) for v in given)
    kinds = _kinds()
    for layer in layers:
        kind = kinds.get(type(layer.module))
        if kind is None or kind == "drop":
            continue
        m = layer.module
        if kind == "linear":
            return (int(m.in_features),)
        if kind in ("leaky", "synaptic", "rleaky", "rsynaptic", "lapicque"):
            for attr in ("beta", "threshold", "alpha"):
                value = getattr(m, attr, None)
                if value is not None and hasattr(value, "dim") and value.dim() > 0:
                    return tuple(int(s) for s in value.shape)
            if getattr(m, "linear_features", None):
                return (int(m.linear_features),)
        return None
    return None


def _check_order(model: Any, layers: list[_Layer], example_input: Any) -> tuple[int, ...]:
    """Run the model once with hooks; the layers must be called in chain order."""
    import torch

    calls: list[str] = []
    shapes: list[tuple[int, ...]] = []
    handles = []
    for layer in layers:

        def hook(mod: Any, args: Any, _name: str = layer.name) -> None:
            calls.append(_name)
            if args and hasattr(args[0], "shape"):
                shapes.append(tuple(int(s) for s in args[0].shape))

        handles.append(layer.module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(example_input)
    except Exception as exc:  # noqa: BLE001 - the user's forward; report what happened
        raise UsageError(
            f"running the model on example_input failed: {type(exc).__name__}: {exc}",
            hint="Give an input the model's forward accepts.",
        ) from None
    finally:
        for h in handles:
            h.remove()
    chain = [layer.name for layer in layers]
    n = len(chain)
    if not calls or len(calls) % n or any(calls[i] != chain[i % n] for i in range(len(calls))):
        shown = ", ".join(calls[: 2 * n]) + (" ..." if len(calls) > 2 * n else "")
        raise UnsupportedError(
            f"the model's forward calls its layers in the order [{shown}], not the chain "
            f"[{', '.join(chain)}] that would be exported",
            problems=[
                Problem(
                    "<model>",
                    "forward() is not a chain of its layers in registration order",
                    kind="unsupported-structure",
                )
            ],
            hint="Wrap the layers in an nn.Sequential in the order they are applied.",
        )
    return shapes[0][1:]


def to_ir(
    model: Any,
    *,
    dt: float | None = None,
    input_shape: Any = None,
    example_input: Any = None,
    **_: Any,
) -> Graph:
    """Export an snnTorch model (see the module docstring for what is supported)."""
    from nirhub_snntorch.generated import is_generated
    from nirhub_snntorch.generated import to_ir as generated_to_ir

    if is_generated(model):
        return generated_to_ir(model)
    dt_value = DEFAULT_DT if dt is None else float(dt)
    if not dt_value > 0:
        raise UsageError(f"dt must be > 0 seconds, got {dt!r}")
    collected = _collect(model)
    if collected.problems:
        raise _unsupported(collected.problems)
    layers = [x for x in collected.layers if _kinds().get(type(x.module), "drop") != "drop"]
    all_layers = collected.layers
    if not layers:
        raise UsageError(f"{type(model).__name__} has no layers to export")
    shape = _input_shape(all_layers, input_shape)
    if example_input is not None:
        hooked = _check_order(model, all_layers, example_input)
        shape = shape or hooked
    elif not collected.sequential_only:
        warnings.warn(
            f"{type(model).__name__} is not an nn.Sequential: its layers were exported as a "
            f"chain in registration order ({', '.join(x.name for x in layers)}); pass "
            "example_input to check that forward() applies them in that order",
            ConversionWarning,
            stacklevel=2,
        )
    if shape is None:
        raise UsageError(
            f"cannot tell the input shape of {type(model).__name__} (its first layer "
            f"{layers[0].name!r} does not fix it)",
            hint="Pass input_shape (e.g. -O input_shape=2,34,34), without the batch dimension.",
        )
    exporter = _Exporter(dt_value)
    kinds = _kinds()
    nodes: dict[str, Node] = {"input": Input(shape)}
    edges: list[tuple[str, str]] = []
    prev = "input"
    current: tuple[int, ...] | None = shape
    used = {"input", "output"}
    for layer in layers:
        kind = kinds[type(layer.module)]
        node: Node | None = None
        config = exporter.config(layer, kind)
        if current is not None and config:
            if kind in ("leaky", "synaptic", "lapicque"):
                node = exporter.neuron(layer, kind, current, str(config))
            elif kind in ("rleaky", "rsynaptic"):
                node = exporter.recurrent(layer, kind, current, str(config))
            else:
                node = exporter.stateless(layer, kind, current)
        node_name = layer.name.replace(".", "_")
        while node_name in used:
            node_name += "_"
        used.add(node_name)
        if node is None:
            current = None  # shapes after a refused layer are unknown; keep collecting
            continue
        try:
            current = tuple(node.output_shape(current))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - IRError/ShapeError from the IR
            exporter.fail(layer.name, f"does not fit its input shape: {exc}", kind="shape-mismatch")
            current = None
            continue
        nodes[node_name] = node
        edges.append((prev, node_name))
        prev = node_name
    if exporter.problems:
        raise _unsupported(exporter.problems)
    nodes["output"] = Output(current)
    edges.append((prev, "output"))
    graph = Graph(nodes, edges)
    set_dt(graph.metadata, dt_value)
    set_method(graph.metadata, "euler")  # the formulas above are exact under forward Euler
    graph.metadata[NAMESPACE] = {**graph.metadata[NAMESPACE], "source": "snntorch"}
    for note in exporter.notes:
        warnings.warn(note, ConversionWarning, stacklevel=2)
    graph.infer_shapes(inplace=True)
    return graph.validate()


def _unsupported(problems: list[Problem]) -> UnsupportedError:
    listing = "\n".join(f"  - {p}" for p in problems)
    n = len(problems)
    return UnsupportedError(
        f"cannot export {n} module{'s' if n > 1 else ''} of this snnTorch model to NIR:\n{listing}",
        problems=problems,
        hint="See docs/backends/snntorch.md for what is exported and why.",
    )
