"""nirhub-torch: NIR graphs as plain PyTorch modules (the ``torch`` backend of nirhub).

The plugin module (:mod:`nirhub_torch.plugin`) is cheap to import; torch is imported only when
the backend is used. :mod:`nirhub_torch.runtime` is the self-contained module that runs a graph.
"""

__version__ = "0.1.0"
