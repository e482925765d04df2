"""nirhub's conformance suite for the rockpool backend.

Rockpool neurons reset by subtraction only, so spiking graphs are imported with
``reset="subtract"`` and must be compared with a reference simulation that subtracts too:
``reference_options`` (requested from nirhub.testing, notes/core-requests.md R2). Until the
suite passes it to the reference simulator, test_primitive[IF/LIF/CubaLIF/NIRGraph] fail.
"""

from nirhub.testing import BackendConformance


class TestRockpoolConformance(BackendConformance):
    backend_name = "rockpool"
    options = {"reset": "subtract"}
    reference_options = {"reset": "subtract"}
    # rockpool computes in float32
    rtol = 1e-4
    atol = 1e-5
