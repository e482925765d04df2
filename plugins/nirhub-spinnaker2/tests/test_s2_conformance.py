"""nirhub's conformance suite for the spinnaker2 backend.

Single primitives are refused with the node named (a SpiNNaker2 network needs a weight node
between two populations); the one chip-shaped primitive graph (``NIRGraph``: Linear -> LIF) is
run by the emulator against the reference simulator. The suite drives graded (non-spike)
inputs, so it runs the lowering in its analysis mode: float weights (``rounding=none``) and
float64 state; the chip's integer weights and float32 state are tested against the chip's
recordings in test_s2_braille.py and test_s2_lif.py.
"""

from nirhub.testing import BackendConformance


class TestSpiNNaker2Conformance(BackendConformance):
    backend_name = "spinnaker2"
    options = {"rounding": "none", "precision": "float64"}
    #: hostile names are converted and saved: the deployable (default) quantization
    hostile_options: dict = {}
