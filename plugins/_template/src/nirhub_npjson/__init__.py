"""nirhub-npjson: NIR graphs stored as a JSON document plus a NumPy ``.npz`` of the arrays.

The backend lives in :mod:`nirhub_npjson.plugin` (cheap to import: the descriptor and the hook
implementations); the format itself in :mod:`nirhub_npjson.format`, imported only when a graph
is actually read or written.
"""

__version__ = "0.1.0"
