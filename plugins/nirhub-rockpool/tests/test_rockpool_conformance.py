"""nirhub's conformance suite for the rockpool backend."""

from nirhub.testing import BackendConformance


class TestRockpoolConformance(BackendConformance):
    backend_name = "rockpool"
    # rockpool computes in float32
    rtol = 1e-4
    atol = 1e-5
