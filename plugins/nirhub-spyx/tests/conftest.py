"""Shared helpers of the spyx plugin tests (the networks and inputs they share with other
plugins' tests are in :mod:`nirhub.testing.networks` and :mod:`nirhub.testing.corpus`)."""

from __future__ import annotations

import os

# XLA's CPU compiler dominates these tests' time (every model is compiled once); its lowest
# optimisation level halves it and computes the same float operations (less fusion)
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
