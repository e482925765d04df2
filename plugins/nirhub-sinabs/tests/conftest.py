"""Shared helpers of the sinabs plugin tests."""

from __future__ import annotations

import numpy as np


def run_sequence(model, x, *, squeeze: bool = False):
    """Run a sinabs model over ``x`` (T, B, ...) from a fresh state; time-major numpy out.

    ``squeeze``: the model takes (B*T, ...) batch-major (sinabs Squeeze layers).
    """
    import sinabs
    import torch

    sinabs.reset_states(model)
    xb = torch.as_tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1)), dtype=torch.float32)
    with torch.no_grad():
        if squeeze:
            for m in model.modules():
                if hasattr(m, "batch_size") and hasattr(m, "num_timesteps"):
                    m.batch_size = xb.shape[0]
            y = model(xb.flatten(0, 1)).unflatten(0, xb.shape[:2])
        else:
            y = model(xb)
    return np.swapaxes(y.numpy(), 0, 1).astype(np.float64)
