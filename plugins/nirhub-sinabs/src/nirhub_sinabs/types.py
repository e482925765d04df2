"""The node types sinabs maps: pure data, shared by the descriptor (:mod:`nirhub_sinabs.plugin`),
the exporter and the importer so that none of them imports another."""

from nirhub.backend import TORCH_LAYER_TYPES

#: node types sinabs maps both ways: the torch layers and every neuron
TYPES = TORCH_LAYER_TYPES | {"I", "IF", "LI", "LIF", "CubaLI", "CubaLIF"}
