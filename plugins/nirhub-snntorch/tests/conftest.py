"""Shared fixtures of the nirhub-snntorch tests (run them with the torch environment).

The NIR paper's corpus and the shared networks come from :mod:`nirhub.testing`.
"""

from __future__ import annotations

import torch

# The models under test are tiny: one thread avoids the (large) cost of thread hand-offs on
# a shared machine and makes the timings stable.
torch.set_num_threads(1)
