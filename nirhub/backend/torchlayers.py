"""NIR's stateless nodes as PyTorch layers, for the plugins that generate PyTorch code.

Norse and Sinabs import a graph as a generated module whose layers are built from a weights
file ``p``. Their neurons differ; their stateless layers do not: ``Linear``/``Affine`` and
``Conv1d``/``Conv2d`` through the helpers of :mod:`nirhub.backend.torchcode`, the pools as
``torch.nn.AvgPool2d`` (a sum: ``divisor_override=1``), ``Flatten`` as ``torch.nn.Flatten`` and
``Scale`` as the ``Scale`` helper. :func:`torch_layer` writes one such layer;
:func:`refuse_torch_layer` is the check those layers need. What each exporter or importer maps
besides (its neurons) it adds to :data:`TORCH_LAYER_TYPES`.

The export direction is shared too: :func:`torch_layer_node` turns those torch layers back
into nodes, refusing (:class:`ModuleRefused`) what NIR cannot express; torch is imported
there, when a model is exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nirhub.backend.torchcode import TORCH_LAYER_TYPES
from nirhub.errors import Problem, UnsupportedError
from nirhub.ir.nodes import (
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Flatten,
    Input,
    Linear,
    Node,
    Output,
    Scale,
    SumPool2d,
)

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.backend.graphplan import GraphPlan, Step

__all__ = [
    "TORCH_LAYER_TYPES",
    "ModuleGraph",
    "ModuleRefused",
    "TorchLayer",
    "float32_tensor",
    "generated_tensors",
    "int_tuple",
    "modules_to_nodes",
    "population_array",
    "raise_export_problems",
    "refuse_torch_layer",
    "tensor_array",
    "torch_layer",
    "torch_layer_node",
]


@dataclass
class TorchLayer:
    """One layer's constructor source (reading ``p[...]``), its tensors and its comment."""

    ctor: str
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    comment: str = ""


def float32_tensor(value: object, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` broadcast to ``shape`` as a contiguous float32 array (rounded once, from
    float64)."""
    wide = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
    return np.ascontiguousarray(wide).astype(np.float32)


def int_tuple(values: tuple[int, ...]) -> str:
    """A tuple of ints as Python source: ``(3, 3)``, ``(2,)``."""
    return "(" + ", ".join(str(int(v)) for v in values) + ("," if len(values) == 1 else "") + ")"


def refuse_torch_layer(node: Node) -> str | None:
    """Why ``node`` (one of :data:`TORCH_LAYER_TYPES`) has no PyTorch layer, else None."""
    if isinstance(node, Linear) and node.weight.ndim != 2:
        return (
            f"{node.type_name} weights with leading dimensions {node.weight.shape} have no "
            "torch.nn.Linear equivalent"
        )
    return None


def torch_layer(step: Step, origin: str) -> TorchLayer | None:
    """The PyTorch layer of ``step``'s stateless node named ``step.name`` in ``p``, commented
    with ``origin``; None for a neuron (the plugin's own)."""
    node, n = step.node, step.name
    if isinstance(node, Linear):
        has_bias = isinstance(node, Affine)
        tensors = {f"{n}.weight": node.weight.astype(np.float32)}
        if has_bias:
            tensors[f"{n}.bias"] = float32_tensor(node.bias, (node.weight.shape[0],))
        size = f"{node.weight.shape[1]} -> {node.weight.shape[0]}"
        return TorchLayer(f'linear(p, "{n}", bias={has_bias})', tensors, f"{origin} {size}")
    if isinstance(node, (Conv1d, Conv2d)):
        d = 1 if isinstance(node, Conv1d) else 2
        tensors = {f"{n}.weight": node.weight.astype(np.float32)}
        if node.bias is not None:
            tensors[f"{n}.bias"] = node.bias.astype(np.float32)
        pad = repr(node.padding) if isinstance(node.padding, str) else int_tuple(node.padding)
        ctor = (
            f'conv{d}d(p, "{n}", stride={int_tuple(node.stride)}, padding={pad}, '
            f"dilation={int_tuple(node.dilation)}, groups={node.groups}, "
            f"bias={node.bias is not None})"
        )
        return TorchLayer(ctor, tensors, origin)
    if isinstance(node, (SumPool2d, AvgPool2d)):
        extra = ", divisor_override=1" if isinstance(node, SumPool2d) else ""
        ctor = (
            f"torch.nn.AvgPool2d({int_tuple(node.kernel_size)}, "
            f"stride={int_tuple(node.stride)}, padding={int_tuple(node.padding)}{extra})"
        )
        why = " (a sum: divisor 1)" if isinstance(node, SumPool2d) else ""
        return TorchLayer(ctor, {}, origin + why)
    if isinstance(node, Flatten):
        from nirhub.backend.graphplan import flatten_dims

        start, end = flatten_dims(node, step.in_shape)
        return TorchLayer(f"torch.nn.Flatten({start}, {end})", {}, origin)
    if isinstance(node, Scale):
        scale = {f"{n}.scale": float32_tensor(node.scale, step.in_shape)}
        return TorchLayer(f'Scale(p["{n}.scale"])', scale, origin)
    return None


# --------------------------------------------------------------------------------------------
# export: torch layers -> NIR nodes
# --------------------------------------------------------------------------------------------


class ModuleRefused(Exception):
    """A framework module with no exact NIR equivalent; ``why`` says what (an exporter reports
    it under the module's name, every refused module at once)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def population_array(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter (tensor, array or number) broadcast to the population ``shape``, float64."""
    arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    arr = np.asarray(arr, dtype=np.float64)
    try:
        return np.ascontiguousarray(np.broadcast_to(arr, shape))
    except ValueError:
        raise ModuleRefused(
            f"parameter of shape {arr.shape} does not fit the population shape {shape}"
        ) from None


def tensor_array(tensor: Any) -> np.ndarray:
    """A torch tensor's values as a numpy array of its own dtype (a copy)."""
    return tensor.detach().cpu().numpy().copy()


def torch_layer_node(m: Any, shape: tuple[int, ...]) -> tuple[Node, tuple[int, ...]] | None:
    """A stateless torch layer receiving ``shape`` (no batch axis) as an NIR node and its output
    shape; None when ``m`` is none of them. Raises :class:`ModuleRefused` for a setting NIR
    cannot express.

    ``torch.nn.Linear`` -> ``Affine``/``Linear``; ``Conv1d``/``Conv2d``; ``Flatten(s, e)`` ->
    ``Flatten(s - 1, e - 1)`` (NIR shapes have no batch axis); ``AvgPool2d`` -> ``AvgPool2d``,
    or ``SumPool2d`` with ``divisor_override=1``; ``LPPool2d(norm_type=1)`` -> ``SumPool2d``;
    the ``Scale`` gain layer of nirhub's generated code -> ``Scale``.
    """
    import torch

    if isinstance(m, torch.nn.Linear):
        if len(shape) != 1 or shape[0] != m.in_features:
            raise ModuleRefused(f"expects {m.in_features} inputs but receives shape {shape}")
        w = tensor_array(m.weight)
        node: Node = Affine(w, tensor_array(m.bias)) if m.bias is not None else Linear(w)
        return node, (m.out_features,)
    if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)):
        if m.padding_mode != "zeros":
            raise ModuleRefused(f"padding_mode={m.padding_mode!r} (NIR pads with zeros only)")
        cls = Conv1d if isinstance(m, torch.nn.Conv1d) else Conv2d
        bias = None if m.bias is None else tensor_array(m.bias)
        weight = tensor_array(m.weight)
        node = cls(tuple(shape[1:]), weight, m.stride, m.padding, m.dilation, m.groups, bias)
        return node, node.output_shape(shape)
    if isinstance(m, torch.nn.Flatten):
        if m.start_dim == 0:
            raise ModuleRefused("flattens the batch axis (start_dim=0)")
        start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
        end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
        node = Flatten(shape, start, end)
        return node, node.output_shape(shape)
    if isinstance(m, torch.nn.AvgPool2d):
        if m.ceil_mode:
            raise ModuleRefused("ceil_mode=True (NIR pooling floors)")
        if m.divisor_override not in (None, 1):
            raise ModuleRefused(f"divisor_override={m.divisor_override}")
        if not m.count_include_pad and np.any(np.asarray(m.padding) != 0):
            raise ModuleRefused("count_include_pad=False with padding (NIR counts padded cells)")
        pool = SumPool2d if m.divisor_override == 1 else AvgPool2d
        stride = m.kernel_size if m.stride is None else m.stride
        node = pool(m.kernel_size, stride, m.padding)
        return node, node.output_shape(shape)
    if isinstance(m, torch.nn.LPPool2d):  # sinabs.layers.SumPool2d too
        if float(m.norm_type) != 1.0 or m.ceil_mode:
            raise ModuleRefused("only LPPool2d(norm_type=1, ceil_mode=False), a sum pool, maps")
        stride = m.kernel_size if m.stride is None else m.stride
        node = SumPool2d(m.kernel_size, stride, 0)
        return node, node.output_shape(shape)
    if type(m).__name__ == "Scale" and hasattr(m, "gain"):  # nirhub's generated gain layer
        return Scale(population_array(m.gain, shape)), shape
    return None


def generated_tensors(layers: Iterable[Any], plan: GraphPlan) -> dict[str, np.ndarray]:
    """Every tensor a generated ``build_model`` reads, by key: each layer's ``tensors`` and, for
    a network (not a chain), each source's rest output as ``rest.<name>`` (what a recurrent
    back-edge reads at step 0)."""
    out: dict[str, np.ndarray] = {}
    for layer in layers:
        out.update(layer.tensors)
    if not plan.is_chain():
        from nirhub.backend.graphplan import rest_outputs

        for name, value in rest_outputs(plan).items():
            out[f"rest.{name}"] = np.asarray(value, dtype=np.float32)
    return out


@dataclass
class ModuleGraph:
    """A model's modules as NIR nodes (:func:`modules_to_nodes`): ``nodes`` with ``input`` and
    ``output``, ``edges`` routed around the modules that are identities, and the ``problems``
    of every module that has no node (the nodes are complete only when there is none)."""

    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    problems: list[Problem]


def modules_to_nodes(
    items: list[tuple[str, Any]],
    edges: list[tuple[str, str]],
    in_shape: tuple[int, ...],
    convert: Callable[[str, Any, tuple[int, ...]], tuple[Node | None, tuple[int, ...]]],
) -> ModuleGraph:
    """Convert the modules ``items`` (name, module) connected by ``edges`` (``input`` and
    ``output`` are the ports) in data-flow order, each receiving its first source's shape.

    ``convert(name, module, shape)`` returns the module's node (None for an identity, which is
    dropped) and output shape, or raises :class:`ModuleRefused` (or ValueError/TypeError, a
    shape that does not fit): every refused module is a problem, by name, all at once.
    """
    modules = dict(items)
    preds: dict[str, list[str]] = {n: [] for n in [*modules, "output"]}
    for s, d in edges:
        preds[d].append(s)
    out_shapes: dict[str, tuple[int, ...]] = {"input": in_shape}
    nodes: dict[str, Node] = {"input": Input(in_shape)}
    problems: list[Problem] = []
    skipped: set[str] = set()
    pending = list(modules)
    while pending:
        progress = False
        for name in list(pending):
            known = [out_shapes[s] for s in preds[name] if s in out_shapes]
            if not known and preds[name]:
                continue
            pending.remove(name)
            progress = True
            shape = known[0] if known else in_shape
            m = modules[name]
            out_shapes[name] = shape
            try:
                node, out_shapes[name] = convert(name, m, shape)
            except ModuleRefused as exc:
                problems.append(Problem(name, f"{type(m).__name__}: {exc.why}", kind="unsupported"))
                continue
            except (ValueError, TypeError) as exc:  # a shape that does not fit, say
                problems.append(Problem(name, f"{type(m).__name__}: {exc}", kind="unsupported"))
                continue
            if node is None:
                skipped.add(name)
            else:
                nodes[name] = node
        if not progress:
            for name in pending:
                problems.append(Problem(name, "is not connected to the input", kind="unsupported"))
            break
    final = preds["output"]
    if not problems:  # else the output's shape may be unknown
        nodes["output"] = Output(out_shapes[final[0]] if final else in_shape)
    from nirhub.backend.lowering import resolve_skipped

    kept = [
        (src, d) for s, d in edges if d not in skipped for src in resolve_skipped(s, edges, skipped)
    ]
    return ModuleGraph(nodes, list(dict.fromkeys(kept)), problems)


def raise_export_problems(problems: list[Problem], framework: str) -> None:
    """Raise one :class:`UnsupportedError` listing every module that cannot be exported
    (nothing when there is none)."""
    if not problems:
        return
    listing = "\n".join(f"  - {p}" for p in problems)
    raise UnsupportedError(
        f"cannot export {len(problems)} module(s) of this {framework} model to NIR:\n{listing}",
        problems=problems,
    )
