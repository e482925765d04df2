"""nirhub plugin for Rockpool: export rockpool torch models to NIR, import NIR graphs into them.

The backend lives in :mod:`nirhub_rockpool.plugin` (cheap to import); the mapping in
:mod:`nirhub_rockpool.export` (rockpool -> NIR) and :mod:`nirhub_rockpool.lowering`
(NIR -> rockpool). rockpool is always imported with samna blocked, and never
``rockpool.devices``.
"""

__version__ = "0.1.0"
