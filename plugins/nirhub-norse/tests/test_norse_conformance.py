"""nirhub's conformance suite for the norse backend."""

from nirhub.testing import BackendConformance


class TestNorseConformance(BackendConformance):
    backend_name = "norse"
    # norse computes in float32
    rtol = 1e-4
    atol = 1e-5
