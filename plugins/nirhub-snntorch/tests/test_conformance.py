"""nirhub's conformance suite for the snntorch backend.

Every primitive is imported as a generated snnTorch model and exported back (the generated
model inverts the import formulas); float64 keeps the inversions exact to ~1e-15.
"""

from __future__ import annotations

from nirhub.testing import BackendConformance


class TestSnnTorchConformance(BackendConformance):
    backend_name = "snntorch"
    rtol = 1e-9
    atol = 1e-12
    options = {"dtype": "float64"}
