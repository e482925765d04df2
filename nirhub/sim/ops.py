"""Stateless node operations, applied to arrays with a leading sample axis ``(N, *shape)``.

``N`` is the batch size, or batch x time steps when a chunk of steps is processed at once
(stateless nodes outside recurrent loops see whole chunks, so a Linear layer is one large
matrix product per chunk instead of one small one per step).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
    Threshold,
)
from nirhub.ir.params import Shape
from nirhub.sim.conv import ConvOp, pool2d
from nirhub.sim.parallel import SERIAL, Splitter

Op = Callable[[np.ndarray], np.ndarray]


def identity(x: np.ndarray) -> np.ndarray:
    return x


def _linear(node: Linear, dtype: np.dtype, split: Splitter) -> Op:
    w = np.asarray(node.weight, dtype=dtype)
    bias = np.asarray(node.bias, dtype=dtype) if isinstance(node, Affine) else None
    if w.ndim == 2:
        wt = np.ascontiguousarray(w.T)
        n_in = w.shape[1]

        def op(x: np.ndarray) -> np.ndarray:
            rows = x.reshape(-1, n_in)
            with split.products:
                y = rows @ wt
            if bias is not None:

                def add_bias(lo: int, hi: int) -> None:
                    y[lo:hi] += bias

                split.run(add_bias, y.shape[0], y.size)
            return y.reshape(*x.shape[:-1], wt.shape[1])

        return op

    # leading dimensions: weight (*lead, out, in), input (N, *lead, in)
    def op_nd(x: np.ndarray) -> np.ndarray:
        with split.products:
            y = np.matmul(w, x[..., None])[..., 0]
        if bias is not None:
            y += bias
        return y

    return op_nd


def _threshold(node: Threshold, dtype: np.dtype) -> Op:
    thr = np.asarray(node.threshold, dtype=dtype)

    def op(x: np.ndarray) -> np.ndarray:
        return np.greater(x, thr).astype(dtype)

    return op


def make_op(
    node: Node, in_shape: Shape, out_shape: Shape, dtype: np.dtype, split: Splitter = SERIAL
) -> Op:
    """The function computing a stateless node's output from its (summed) input.

    ``split`` runs the element-wise parts and copies of convolutions, pooling and bias adds
    on several threads (same bits; :mod:`nirhub.sim.parallel`)."""
    if isinstance(node, (Input, Output)):
        return identity
    if isinstance(node, Linear):  # Affine too
        return _linear(node, dtype, split)
    if isinstance(node, Scale):
        s = np.asarray(node.scale, dtype=dtype)
        return lambda x: x * s
    if isinstance(node, (Conv1d, Conv2d)):
        return ConvOp(
            node.weight,
            node.bias,
            node.stride,
            node.padding,
            node.dilation,
            node.groups,
            dtype,
            split,
        )
    if isinstance(node, (SumPool2d, AvgPool2d)):
        avg = isinstance(node, AvgPool2d)
        k, s, p = node.kernel_size, node.stride, node.padding
        return lambda x: pool2d(x, k, s, p, avg, split)
    if isinstance(node, Flatten):
        target = tuple(out_shape)
        return lambda x: x.reshape(x.shape[0], *target)
    if isinstance(node, Threshold):
        return _threshold(node, dtype)
    raise TypeError(f"no stateless operation for {node.type_name}")  # pragma: no cover


def conv_work(node: Node, in_shape: Shape, out_shape: Shape) -> int:
    """Elements of the temporary im2col matrix per sample (for chunk sizing)."""
    if isinstance(node, (Conv1d, Conv2d)):
        k = int(np.prod(node.weight.shape[1:]))
        return k * int(np.prod(out_shape[1:])) * node.groups
    if isinstance(node, (SumPool2d, AvgPool2d)):
        return int(np.prod(in_shape)) * 2
    return 0
