"""The node types norse maps: pure data, shared by the descriptor (:mod:`nirhub_norse.plugin`),
the exporter and the importer so that none of them imports another."""

from nirhub.backend import TORCH_LAYER_TYPES

#: node types norse maps both ways: the torch layers and every neuron but I (norse has no
#: non-spiking integrator)
TYPES = TORCH_LAYER_TYPES | {"IF", "LI", "LIF", "CubaLI", "CubaLIF"}
