"""nirhub plugin for Norse: export norse models to NIR, import NIR graphs into norse.

The backend lives in :mod:`nirhub_norse.plugin` (cheap to import); the mapping in
:mod:`nirhub_norse.export` (norse -> NIR) and :mod:`nirhub_norse.lowering` (NIR -> norse).
"""

__version__ = "0.1.0"
