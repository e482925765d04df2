"""nirhub's conformance suite for the xylo backend.

Xylo runs only one network shape (input weights -> CubaLIF hidden -> output weights -> CubaLIF
outputs), so every single-primitive graph of the suite must be *refused* by ``check`` with the
node named (that is what the suite checks for them); the numerical agreement of the mapped,
quantized network is tested on the Braille graphs in test_xylo_braille.py with the documented
activity-similarity bound.
"""

from nirhub.testing import BackendConformance


class TestXyloConformance(BackendConformance):
    backend_name = "xylo"
    options = {"reset": "subtract"}
    reference_options = {"reset": "subtract"}
