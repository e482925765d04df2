"""Shared helpers of the norse plugin tests."""

from __future__ import annotations

import numpy as np


def step_model(model, x):
    """Run a per-step norse model over ``x`` (T, B, ...) and stack its outputs (numpy)."""
    import torch

    state = None
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = model(torch.as_tensor(x[t], dtype=torch.float32), state)
            out.append(y)
    return torch.stack(out).numpy().astype(np.float64)
