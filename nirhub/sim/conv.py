"""Convolution and pooling in numpy (im2col through stride tricks, then one matrix product).

All functions take a leading sample axis ``N`` (batch, or batch x time steps) followed by the
node's own shape (channels first): ``(N, C, L)`` or ``(N, C, H, W)``.

Padding follows PyTorch: symmetric ints, ``"valid"`` = 0, and ``"same"`` (stride 1 only) pads
``dilation*(k - 1)`` in total, the odd extra cell on the right/bottom.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nirhub.sim.parallel import SERIAL, Splitter


def same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple[int, int]]:
    pads = []
    for k, d in zip(kernel, dilation, strict=True):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return pads


def resolve_padding(
    padding: int | tuple[int, ...] | str, kernel: tuple[int, ...], dilation: tuple[int, ...]
) -> list[tuple[int, int]]:
    """Per spatial dimension ``(before, after)`` padding."""
    if padding == "same":
        return same_padding(kernel, dilation)
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    if isinstance(padding, int):
        return [(padding, padding)] * len(kernel)
    return [(int(p), int(p)) for p in padding]


def windows(
    x: np.ndarray,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pads: list[tuple[int, int]],
) -> np.ndarray:
    """A read-only view ``(N, C, *out, *kernel)`` of the (zero-padded) sliding windows."""
    nd = len(kernel)
    if any(p != (0, 0) for p in pads):
        x = np.pad(x, [(0, 0), (0, 0), *pads])
    spatial = x.shape[2:]
    out = tuple(
        (spatial[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(nd)
    )
    st = x.strides
    shape = (*x.shape[:2], *out, *kernel)
    strides = (
        *st[:2],
        *(st[2 + i] * stride[i] for i in range(nd)),
        *(st[2 + i] * dilation[i] for i in range(nd)),
    )
    return as_strided(x, shape=shape, strides=strides, writeable=False)


# Products ``(M, K) @ (K, N)`` with ``M*N*K`` from this size on take the column-wise im2col.
# Conservative: OpenBLAS's direct small-matrix sgemm (non-transposed operands only, on some
# CPUs) is limited to smaller products; on this project's OpenBLAS both layouts gave equal
# bits at every size measured.
LARGE_GEMM = 28 * 512 * 512
_NO_PADS: list[tuple[int, int]] = []


class ConvOp:
    """A Conv1d/Conv2d with its weight pre-arranged for ``cols @ W``."""

    def __init__(
        self,
        weight: np.ndarray,
        bias: np.ndarray | None,
        stride: tuple[int, ...],
        padding: int | tuple[int, ...] | str,
        dilation: tuple[int, ...],
        groups: int,
        dtype: np.dtype,
        split: Splitter = SERIAL,
    ) -> None:
        self.split = split
        self.c_out = int(weight.shape[0])
        self.c_in_g = int(weight.shape[1])
        self.kernel = tuple(int(k) for k in weight.shape[2:])
        self.stride, self.dilation, self.groups = tuple(stride), tuple(dilation), int(groups)
        self.pads = resolve_padding(padding, self.kernel, self.dilation)
        g, cog = self.groups, self.c_out // self.groups
        kprod = self.c_in_g * math.prod(self.kernel)
        # (G, C_in/G * prod(K), C_out/G): rows ordered (c, k...) like the im2col columns below
        w = np.asarray(weight, dtype=dtype).reshape(g, cog, kprod)
        self.w = np.ascontiguousarray(w.transpose(0, 2, 1))
        self.bias = None if bias is None else np.asarray(bias, dtype=dtype)
        self._pad_buffer: np.ndarray | None = None
        self._buffers: dict[str, np.ndarray] = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, nd, g = x.shape[0], len(self.kernel), self.groups
        win = windows(self._padded(x), self.kernel, self.stride, self.dilation, _NO_PADS)
        out = win.shape[2 : 2 + nd]
        p = math.prod(out)
        # (N, G, Cg, *out, *K); per group -> (N, *out, Cg, *K) -> rows of the im2col matrix
        win = win.reshape(n, g, self.c_in_g, *out, *self.kernel)
        rows, cog = n * p, self.c_out // g
        if g == 1 and x.dtype == self.w.dtype and rows * cog * self.w.shape[1] >= LARGE_GEMM:
            return self._large_single_group(win[:, 0], out)
        order = (0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))
        if g == 1:
            cols = win[:, 0].transpose(order).reshape(rows, -1)
            with self.split.products:
                y = cols @ self.w[0]
        else:
            y = np.empty((rows, g, cog), dtype=self.w.dtype)
            for gi in range(g):
                cols = win[:, gi].transpose(order).reshape(rows, -1)
                with self.split.products:
                    y[:, gi, :] = cols @ self.w[gi]
        y = y.reshape(n, *out, self.c_out)
        if self.bias is not None:
            y += self.bias
        return np.moveaxis(y, -1, 1)

    def _large_single_group(self, win: np.ndarray, out: tuple[int, ...]) -> np.ndarray:
        """The product ``cols @ W`` of ``__call__`` with the im2col matrix built column-wise.

        ``cols`` is the same matrix as the row-wise ``(N*out, C*K)`` copy, stored transposed:
        a ``(C, *K, N, *out)`` copy runs along the long rows of the input, 5-10x faster than
        gathering ``N*out`` short windows (profiled: that copy was most of the simulator's
        time on a conv net). The product reads it as a transposed operand: same values, same
        ``C*K`` order in every dot product, and bit-identical results (tested). It is only
        taken for products large enough (``LARGE_GEMM``) that OpenBLAS runs its general
        kernel; smaller ones keep the row-wise copy and its exact BLAS call.

        ``cols`` and the product live in buffers kept from call to call (fresh memory costs a
        page fault per 4 KiB on its first write); the returned array is new and contiguous
        in ``(N, C_out, *out)``, the bias added while transposing into it (same sums).

        The copy into ``cols`` and the transpose out of the product are split over the
        samples on ``self.split``'s threads (same bits); the product is one BLAS call.
        """
        nd, n = len(self.kernel), win.shape[0]
        rows, p = n * math.prod(out), math.prod(out)
        order = (1, *range(2 + nd, 2 + 2 * nd), 0, *range(2, 2 + nd))
        cols_t = self._scratch("cols", (self.c_in_g, *self.kernel, n, *out))
        windows_t = win.transpose(order)
        lead = (slice(None),) * (1 + nd)  # the (C, *K) axes before the samples

        def copy_windows(lo: int, hi: int) -> None:
            np.copyto(cols_t[(*lead, slice(lo, hi))], windows_t[(*lead, slice(lo, hi))])

        self.split.run(copy_windows, n, cols_t.size)
        y = self._scratch("y", (rows, self.c_out))
        with self.split.products:
            np.matmul(cols_t.reshape(-1, rows).T, self.w[0], out=y)
        result = np.empty((n, self.c_out, *out), dtype=self.w.dtype)
        y_t = y.reshape(n, p, self.c_out).transpose(0, 2, 1)
        flat = result.reshape(n, self.c_out, p)
        bias = None if self.bias is None else self.bias[:, None]

        def transpose_out(lo: int, hi: int) -> None:
            if bias is None:
                np.copyto(flat[lo:hi], y_t[lo:hi])
            else:
                np.add(y_t[lo:hi], bias, out=flat[lo:hi])

        self.split.run(transpose_out, n, result.size)
        return result

    def _scratch(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """A buffer of ``shape`` kept for the next call (one op is not used by two threads)."""
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = np.empty(shape, dtype=self.w.dtype)
        return buf

    def _padded(self, x: np.ndarray) -> np.ndarray:
        """``x`` zero-padded, in a buffer kept from call to call (its border stays 0)."""
        if all(p == (0, 0) for p in self.pads):
            return x
        shape = (
            *x.shape[:2],
            *(s + a + b for s, (a, b) in zip(x.shape[2:], self.pads, strict=True)),
        )
        buf = self._pad_buffer
        if buf is None or buf.shape != shape or buf.dtype != x.dtype:
            buf = self._pad_buffer = np.zeros(shape, dtype=x.dtype)
        inner = (
            slice(None),
            slice(None),
            *(slice(a, a + s) for s, (a, _) in zip(x.shape[2:], self.pads, strict=True)),
        )
        buf[inner] = x
        return buf


def _window_sum(win: np.ndarray, kernel: tuple[int, int], out: np.ndarray) -> None:
    """``win.sum(axis=(-2, -1))`` into ``out`` with whole-array adds, in numpy's own order for
    windows of a C-contiguous array: each kernel row summed left to right, then the rows added
    top to bottom (numpy reduces the contiguous last axis first, sequentially below 8
    elements). The same bits, several times faster than numpy's reduction over a strided
    window view."""
    row = out
    for i in range(kernel[0]):
        if i == 1:
            row = np.empty_like(out)
        if kernel[1] > 1:
            np.add(win[..., i, 0], win[..., i, 1], out=row)
        else:
            np.copyto(row, win[..., i, 0])
        for j in range(2, kernel[1]):
            row += win[..., i, j]
        if i > 0:
            out += row


def pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    average: bool,
    split: Splitter = SERIAL,
) -> np.ndarray:
    """Sum (or mean, padded cells counted: ``count_include_pad``) over each window.

    C-contiguous inputs with windows narrower than 8 are summed in parts of the samples on
    ``split``'s threads (each output element the same sum: same bits).
    """
    pads = [(p, p) for p in padding]
    win = windows(x, kernel, stride, (1, 1), pads)
    area = kernel[0] * kernel[1]
    if not (kernel[1] < 8 and x.flags.c_contiguous):
        # numpy sums other memory layouts in other orders; and pairwise from 8 on
        y = win.sum(axis=(-2, -1))
        if average:
            y /= area
        return y
    y = np.empty(win.shape[:-2], dtype=win.dtype)

    def pool_part(lo: int, hi: int) -> None:
        _window_sum(win[lo:hi], kernel, y[lo:hi])
        if average:
            y[lo:hi] /= area

    split.run(pool_part, x.shape[0], win.size)
    return y
