"""nirhub's conformance suite for the sinabs backend."""

from nirhub.testing import BackendConformance


class TestSinabsConformance(BackendConformance):
    backend_name = "sinabs"
    # sinabs computes in float32
    rtol = 1e-4
    atol = 1e-5
