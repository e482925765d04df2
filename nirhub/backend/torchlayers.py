"""NIR's stateless nodes as PyTorch layers, for the plugins that generate PyTorch code.

Norse and Sinabs import a graph as a generated module whose layers are built from a weights
file ``p``. Their neurons differ; their stateless layers do not: ``Linear``/``Affine`` and
``Conv1d``/``Conv2d`` through the helpers of :mod:`nirhub.backend.torchcode`, the pools as
``torch.nn.AvgPool2d`` (a sum: ``divisor_override=1``), ``Flatten`` as ``torch.nn.Flatten`` and
``Scale`` as the ``Scale`` helper. :func:`torch_layer` writes one such layer;
:func:`refuse_torch_layer` is the check those layers need. What each exporter or importer maps
besides (its neurons) it adds to :data:`TORCH_LAYER_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from nirhub.backend.torchcode import TORCH_LAYER_TYPES
from nirhub.ir.nodes import Affine, AvgPool2d, Conv1d, Conv2d, Flatten, Linear, Scale, SumPool2d

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.backend.graphplan import Step
    from nirhub.ir.nodes import Node

__all__ = [
    "TORCH_LAYER_TYPES",
    "TorchLayer",
    "float32_tensor",
    "int_tuple",
    "refuse_torch_layer",
    "torch_layer",
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
