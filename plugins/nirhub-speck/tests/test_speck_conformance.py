"""The shared conformance suite.

Speck runs only whole chip layers (Conv2d/Linear -> IF [-> pooling]), so every single-primitive
graph of the suite must be refused, each with the node named; the numerical checks of the
backend are in test_speck_cnn.py (similarity bound) and test_speck_layers.py (exact agreement
where discretization is exact).
"""

from nirhub.testing import BackendConformance


class TestSpeckConformance(BackendConformance):
    backend_name = "speck"
