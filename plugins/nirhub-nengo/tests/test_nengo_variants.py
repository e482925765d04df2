"""Neuron variants this backend cannot run are refused by node name, with the reason.

nengo's neurons emit single spikes at v > threshold, have no lower bound on v and no staged
zero-order-hold synapse; graphs recording those variants (what Sinabs and Rockpool export by
default, see nirhub.ir.conventions.NeuronVariant) are refused instead of run approximately.
"""

from nirhub_nengo.plugin import NengoBackend

from nirhub.testing.variants import VariantRefusals


class TestNengoVariants(VariantRefusals):
    backend_class = NengoBackend
    backend_label = "nengo"
