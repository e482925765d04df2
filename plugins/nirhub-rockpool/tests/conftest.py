"""Shared helpers of the rockpool plugin tests."""

from __future__ import annotations

import numpy as np

from nirhub.backend.samna import block_samna_stub

# rockpool probes samna at import; the PyPI samna is a stub that pip-installs software
block_samna_stub()


def run_sequence(model, x):
    """Run a rockpool model over ``x`` (T, B, N) from its reset state; time-major numpy out."""
    import torch

    model.reset_state()
    xb = torch.as_tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1)), dtype=torch.float32)
    with torch.no_grad():
        y, _, _ = model(xb)
    return np.swapaxes(y.numpy(), 0, 1).astype(np.float64)
