"""nirhub's conformance suite for the spyx backend."""

from nirhub.testing import BackendConformance


class TestSpyxConformance(BackendConformance):
    backend_name = "spyx"
    # the imported model holds float32 parameters (Spyx's default), which the round trip keeps
    rtol = 1e-4
    atol = 1e-5
