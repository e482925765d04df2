"""nirhub plugin for Sinabs: export sinabs models to NIR, import NIR graphs into sinabs.

The backend lives in :mod:`nirhub_sinabs.plugin` (cheap to import); the mapping in
:mod:`nirhub_sinabs.export` (sinabs -> NIR) and :mod:`nirhub_sinabs.lowering` (NIR -> sinabs).
Nothing here imports ``sinabs.backend.dynapcnn`` (it imports samna).
"""

__version__ = "0.1.0"
