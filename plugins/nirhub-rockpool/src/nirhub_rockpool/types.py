"""The node types rockpool maps: pure data, for the descriptor (:mod:`nirhub_rockpool.plugin`).

Rockpool's torch modules are dense: no convolution, pooling or flatten.
"""

#: node types the exporter produces
EXPORTS = frozenset(
    {"Input", "Output", "Affine", "Linear", "IF", "LI", "LIF", "CubaLIF", "NIRGraph"}
)
#: node types the importer maps (a Scale becomes a diagonal LinearTorch)
IMPORTS = EXPORTS | {"Scale"}
