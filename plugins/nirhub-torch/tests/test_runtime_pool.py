"""Sum and average pooling by strided slices gives ``avg_pool2d``'s exact sums (issue 18)."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from nirhub_torch.runtime import _window_sum

KERNELS = list(itertools.product((1, 2, 3), (1, 2), (1, 2, 3), (1, 2)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_window_sum_identical_to_avg_pool2d(dtype: torch.dtype, layout) -> None:
    gen = torch.Generator().manual_seed(0)
    for (kh, kw, sh, sw), shape in itertools.product(KERNELS, [(3, 4, 9, 11), (2, 5, 8, 8)]):
        # magnitudes spread over many binades: every rounding order would show
        x = torch.randn(shape, generator=gen, dtype=dtype)
        x = x * torch.exp(4 * torch.randn(shape, generator=gen, dtype=dtype))
        x = x.contiguous(memory_format=layout)
        want = F.avg_pool2d(x, (kh, kw), (sh, sw), 0, divisor_override=1)
        got = _window_sum(x, kh, kw, (sh, sw))
        assert got.shape == want.shape
        assert torch.equal(got, want), (kh, kw, sh, sw, shape)
