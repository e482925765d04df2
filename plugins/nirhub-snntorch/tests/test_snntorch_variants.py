"""Neuron variants this backend cannot run are refused by node name, with the reason.

snnTorch's neurons emit single spikes at v > threshold, have no lower bound on v and no staged
zero-order-hold synapse; graphs recording those variants (what Sinabs and Rockpool export by
default, see nirhub.ir.conventions.NeuronVariant) are refused instead of run approximately.
"""

from nirhub_snntorch.plugin import SnnTorchBackend

from nirhub.testing.variants import VariantRefusals


class TestSnnTorchVariants(VariantRefusals):
    backend_class = SnnTorchBackend
    backend_label = "snnTorch"
