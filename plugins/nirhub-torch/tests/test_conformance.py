"""nirhub's conformance suite for the torch backend (every primitive round-trips)."""

from __future__ import annotations

from nirhub.testing import BackendConformance


class TestTorchConformance(BackendConformance):
    backend_name = "torch"
    # the run hook and the round trip compute in float64 like the reference simulator
    rtol = 1e-9
    atol = 1e-12
    options = {"dtype": "float64"}
