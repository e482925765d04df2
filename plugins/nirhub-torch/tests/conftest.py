"""Shared fixtures of the nirhub-torch tests (run them with the torch environment).

``corpus`` (the NIR paper's graphs) and the registry fixtures come from the test kit.
"""

from __future__ import annotations

import torch

pytest_plugins = ["nirhub.testing.fixtures"]

# The models under test are tiny: one thread avoids the (large) cost of thread hand-offs on
# a shared machine and makes the timings stable.
torch.set_num_threads(1)
