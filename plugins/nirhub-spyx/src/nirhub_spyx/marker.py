"""The first line of every model module this plugin generates: how ``claims`` and the loader
recognise one (a module of its own so that the descriptor and the code generator share it
without importing each other)."""

MARKER = "# nirhub artifact: backend=spyx format=spyx-graph-v1"
