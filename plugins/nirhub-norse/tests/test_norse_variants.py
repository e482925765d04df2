"""Neuron variants this backend cannot run are refused by node name, with the reason.

norse's neurons emit single spikes at v > threshold, have no lower bound on v and no staged
zero-order-hold synapse; graphs recording those variants (what Sinabs and Rockpool export by
default, see nirhub.ir.conventions.NeuronVariant) are refused instead of run approximately.
"""

from nirhub_norse.plugin import NorseBackend

from nirhub.testing.variants import VariantRefusals


class TestNorseVariants(VariantRefusals):
    backend_class = NorseBackend
    backend_label = "norse"
