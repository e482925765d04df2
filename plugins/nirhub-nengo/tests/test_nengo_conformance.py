"""nirhub's conformance suite for the nengo backend."""

from nirhub.testing import BackendConformance


class TestNengoConformance(BackendConformance):
    backend_name = "nengo"
    # Nengo computes in float64; its filters are discretised with scipy (last-ulp differences)
    rtol = 1e-9
    atol = 1e-10
