"""nirhub-snntorch: the ``snntorch`` backend of nirhub (export snnTorch models to NIR, import NIR
graphs as generated snnTorch modules).

The plugin module (:mod:`nirhub_snntorch.plugin`) is cheap to import; torch and snnTorch are
imported only when the backend is used.
"""

__version__ = "0.1.0"
