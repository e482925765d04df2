"""Stateless nodes of the reference simulator against slow, obviously correct loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nirhub.ir import (
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Flatten,
    Graph,
    Input,
    Linear,
    Output,
    Scale,
    SumPool2d,
    Threshold,
    infer_shapes,
)
from nirhub.sim import simulate

RNG = np.random.default_rng(1234)


def run_node(node, x, in_shape):
    """Input(in_shape) -> node -> Output, one run over a (T, B, *in_shape) batch."""
    g = Graph({"in": Input(in_shape), "n": node, "out": Output()}, [("in", "n"), ("n", "out")])
    out = simulate(g, x, 1.0)["out"]
    expected_shape = infer_shapes(g).output("n")
    assert out.shape == (*x.shape[:2], *expected_shape)
    return out


def ref_conv(x, w, b, stride, pad, dilation, groups):
    """Direct loop over output positions: x (C, *S) with explicit (before, after) padding."""
    nd = x.ndim - 1
    xp = np.pad(x, [(0, 0), *pad])
    c_out, c_in_g = w.shape[:2]
    k = w.shape[2:]
    out_size = [
        (xp.shape[1 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)
    ]
    y = np.zeros((c_out, *out_size))
    per_group = c_out // groups
    for co in range(c_out):
        g = co // per_group
        for pos in itertools.product(*[range(n) for n in out_size]):
            acc = 0.0 if b is None else b[co]
            for ci in range(c_in_g):
                for kk in itertools.product(*[range(n) for n in k]):
                    idx = tuple(pos[i] * stride[i] + kk[i] * dilation[i] for i in range(nd))
                    acc += w[(co, ci, *kk)] * xp[(g * c_in_g + ci, *idx)]
            y[(co, *pos)] = acc
    return y


CONV2D_CASES = [
    # (c_in, c_out, kernel, stride, padding, dilation, groups, hw)
    (3, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, (7, 6)),
    (2, 6, (3, 5), (2, 1), (0, 2), (1, 1), 1, (9, 8)),  # non-square kernel, mixed stride
    (4, 6, (3, 3), (1, 2), (2, 1), (2, 1), 2, (10, 9)),  # groups + dilation
    (4, 4, (2, 2), (1, 1), "same", (1, 1), 4, (5, 6)),  # depthwise, even kernel: pad right
    (3, 2, (4, 3), (1, 1), "same", (2, 3), 1, (11, 10)),  # same + dilation
    (2, 3, (3, 3), (1, 1), "valid", (1, 1), 1, (5, 5)),
]


@pytest.mark.parametrize("case", CONV2D_CASES)
def test_conv2d_matches_direct_loop(case):
    c_in, c_out, k, stride, padding, dilation, groups, hw = case
    w = RNG.standard_normal((c_out, c_in // groups, *k))
    b = RNG.standard_normal(c_out)
    x = RNG.standard_normal((3, 2, c_in, *hw))  # T=3, B=2
    node = Conv2d(hw, w, stride, padding, dilation, groups, b)
    out = run_node(node, x, (c_in, *hw))
    if padding == "same":
        pads = [
            ((d * (kk - 1)) // 2, d * (kk - 1) - (d * (kk - 1)) // 2)
            for kk, d in zip(k, dilation, strict=True)
        ]
    elif padding == "valid":
        pads = [(0, 0), (0, 0)]
    else:
        pads = [(p, p) for p in padding]
    for t, bi in itertools.product(range(3), range(2)):
        expected = ref_conv(x[t, bi], w, b, stride, pads, dilation, groups)
        np.testing.assert_allclose(out[t, bi], expected, rtol=1e-10, atol=1e-10)
    if padding == "same":
        assert out.shape[-2:] == hw


@pytest.mark.parametrize(
    "c_in,c_out,k,stride,padding,dilation,groups,n",
    [(2, 3, 3, 2, 1, 1, 1, 10), (4, 2, 4, 1, "same", 2, 2, 9), (3, 3, 1, 3, 0, 1, 3, 8)],
)
def test_conv1d_matches_direct_loop(c_in, c_out, k, stride, padding, dilation, groups, n):
    w = RNG.standard_normal((c_out, c_in // groups, k))
    x = RNG.standard_normal((2, 3, c_in, n))
    node = Conv1d(n, w, stride, padding, dilation, groups, None)
    out = run_node(node, x, (c_in, n))
    if padding == "same":
        total = dilation * (k - 1)
        pads = [(total // 2, total - total // 2)]
    else:
        pads = [(padding, padding)]
    for t, bi in itertools.product(range(2), range(3)):
        expected = ref_conv(x[t, bi], w, None, (stride,), pads, (dilation,), groups)
        np.testing.assert_allclose(out[t, bi], expected, rtol=1e-10, atol=1e-10)


def ref_pool(x, k, s, p, average):
    xp = np.pad(x, [(0, 0), (p[0], p[0]), (p[1], p[1])])
    ho = (xp.shape[1] - k[0]) // s[0] + 1
    wo = (xp.shape[2] - k[1]) // s[1] + 1
    y = np.zeros((x.shape[0], ho, wo))
    for c, i, j in itertools.product(range(x.shape[0]), range(ho), range(wo)):
        window = xp[c, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]]
        y[c, i, j] = window.sum() / (k[0] * k[1] if average else 1)
    return y


@pytest.mark.parametrize("cls", [SumPool2d, AvgPool2d])
@pytest.mark.parametrize(
    "k,s,p", [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 0)), ((3, 3), (2, 2), (1, 1))]
)
def test_pooling(cls, k, s, p):
    x = RNG.standard_normal((2, 2, 3, 7, 6))
    out = run_node(cls(k, s, p), x, (3, 7, 6))
    for t, b in itertools.product(range(2), range(2)):
        expected = ref_pool(x[t, b], k, s, p, cls is AvgPool2d)
        np.testing.assert_allclose(out[t, b], expected, rtol=1e-12, atol=1e-12)


def test_avgpool_counts_padded_cells():
    # a 2x2 image of ones, 3x3 window, padding 1: the corner window covers 4 real cells of 9
    x = np.ones((1, 1, 1, 2, 2))
    out = run_node(AvgPool2d((3, 3), (1, 1), (1, 1)), x, (1, 2, 2))
    np.testing.assert_allclose(out[0, 0, 0], np.full((2, 2), 4 / 9))


def test_linear_affine_scale_threshold_flatten():
    w = RNG.standard_normal((4, 3))
    b = RNG.standard_normal(4)
    x = RNG.standard_normal((5, 2, 3))
    np.testing.assert_allclose(run_node(Linear(w), x, (3,)), x @ w.T, rtol=1e-12)
    np.testing.assert_allclose(run_node(Affine(w, b), x, (3,)), x @ w.T + b, rtol=1e-12)
    s = np.array([2.0, -1.0, 0.5])
    np.testing.assert_array_equal(run_node(Scale(s), x, (3,)), x * s)
    thr = np.array([0.0, 0.5, -0.5])
    out = run_node(Threshold(thr), x, (3,))
    np.testing.assert_array_equal(out, (x > thr).astype(float))
    x4 = RNG.standard_normal((2, 3, 2, 3, 4))
    np.testing.assert_array_equal(
        run_node(Flatten((2, 3, 4), 0, -1), x4, (2, 3, 4)), x4.reshape(2, 3, 24)
    )
    np.testing.assert_array_equal(
        run_node(Flatten((2, 3, 4)), x4, (2, 3, 4)), x4.reshape(2, 3, 2, 12)
    )


def test_threshold_is_strict_and_a_level():
    x = np.array([[0.0], [1.0], [1.0 + 1e-12], [2.0], [2.0], [0.5]])
    out = run_node(Threshold(np.array([1.0])), x[:, None], (1,))
    assert out[:, 0, 0].tolist() == [0, 0, 1, 1, 1, 0]  # held while above, not one event


def test_linear_with_leading_dimensions():
    w = RNG.standard_normal((2, 4, 3))  # (lead, out, in)
    x = RNG.standard_normal((3, 2, 2, 3))
    out = run_node(Linear(w), x, (2, 3))
    np.testing.assert_allclose(out, np.einsum("loi,tbli->tblo", w, x), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_sums_are_bit_identical_to_numpys_window_reduction(dtype):
    """pool2d adds whole strided slices instead of reducing the window view (several times
    faster); the bits must be those of ``windows(...).sum(axis=(-2, -1))``, whatever the
    kernel, stride, padding and memory layout (random magnitudes make any change of the
    summation order visible)."""
    from nirhub.sim.conv import pool2d, windows

    rng = np.random.default_rng(7)
    cases = [
        ((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 0)),
        ((5, 5), (3, 3), (2, 2)), ((1, 4), (1, 4), (0, 0)), ((4, 1), (2, 1), (0, 0)),
        ((2, 7), (1, 2), (1, 3)), ((1, 1), (1, 1), (0, 0)), ((2, 9), (2, 3), (0, 1)),
    ]  # fmt: skip
    for kernel, stride, padding in cases:
        shape = (5, 3, 12, 13)
        x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 6, shape)).astype(dtype)
        channels_last = np.moveaxis(np.moveaxis(x, 1, -1).copy(), -1, 1)
        for data in (x, channels_last):
            pads = [(p, p) for p in padding]
            expected = windows(data, kernel, stride, (1, 1), pads).sum(axis=(-2, -1))
            for average in (False, True):
                want = expected / (kernel[0] * kernel[1]) if average else expected
                got = pool2d(data, kernel, stride, padding, average)
                assert got.dtype == want.dtype
                assert np.array_equal(
                    np.ascontiguousarray(got).view(np.uint8),
                    np.ascontiguousarray(want).view(np.uint8),
                ), (kernel, stride, padding, average)


def _row_wise_conv(op, x):
    """The row-wise im2col product: a ``(N*out, C*K)`` copy of the windows times the weight."""
    from nirhub.sim.conv import windows

    nd = len(op.kernel)
    win = windows(x, op.kernel, op.stride, op.dilation, op.pads)
    out = win.shape[2 : 2 + nd]
    order = (0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))
    y = win.transpose(order).reshape(x.shape[0] * int(np.prod(out)), -1) @ op.w[0]
    y = y.reshape(x.shape[0], *out, op.c_out)
    if op.bias is not None:
        y += op.bias
    return np.moveaxis(y, -1, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_convs_are_bit_identical_to_the_row_wise_im2col_product(dtype):
    """Large single-group convolutions build the im2col matrix column-wise (faster) and hand
    it to the matrix product transposed; the bits must be those of the row-wise copy, for
    strides, dilations, asymmetric padding, with and without bias, on any input layout
    (random magnitudes make any change of the summation order visible)."""
    from nirhub.sim.conv import LARGE_GEMM, ConvOp

    rng = np.random.default_rng(11)
    cases = [
        # (c_in, c_out, kernel, stride, padding, dilation, n, spatial, bias)
        (2, 16, (5, 5), (1, 1), 1, (1, 1), 16, (34, 34), True),
        (16, 32, (3, 3), (2, 2), 1, (1, 1), 48, (16, 16), False),
        (3, 8, (4, 3), (1, 2), "same", (2, 1), 160, (20, 21), True),
        (4, 16, (3,), (1,), 2, (2,), 64, (700,), True),
    ]  # fmt: skip
    for c_in, c_out, k, stride, padding, dilation, n, spatial, with_bias in cases:
        w = (rng.standard_normal((c_out, c_in, *k)) * 10.0 ** rng.integers(-3, 3)).astype(dtype)
        bias = rng.standard_normal(c_out).astype(dtype) if with_bias else None
        op = ConvOp(w, bias, stride, padding, dilation, 1, np.dtype(dtype))
        shape = (n, c_in, *spatial)
        x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 4, shape)).astype(dtype)
        channels_last = np.moveaxis(np.moveaxis(x, 1, -1).copy(), -1, 1)
        rows = n * int(np.prod(_row_wise_conv(op, x[:1]).shape[2:]))
        assert rows * c_out * w[0].size >= LARGE_GEMM, "the case must take the column-wise path"
        for data in (x, channels_last):
            want = _row_wise_conv(op, data)
            got = op(data)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(
                np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8)
            ), (c_in, c_out, k, stride, padding, dilation)


def test_conv_results_do_not_share_the_ops_buffers():
    """ConvOp keeps scratch buffers from call to call; what it returns must stay intact."""
    from nirhub.sim.conv import ConvOp

    rng = np.random.default_rng(5)
    op = ConvOp(rng.standard_normal((16, 2, 5, 5)), None, (1, 1), 1, (1, 1), 1, np.dtype("f8"))
    first_in = rng.standard_normal((16, 2, 34, 34))
    first = op(first_in)
    kept = first.copy()
    op(rng.standard_normal((16, 2, 34, 34)))
    op(rng.standard_normal((3, 2, 34, 34)))  # another shape: new buffers
    assert np.array_equal(first, kept)
    assert np.array_equal(op(first_in), kept)
