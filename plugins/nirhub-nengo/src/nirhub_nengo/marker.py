"""The first line of every network module this plugin generates: how ``claims`` and the loader
recognise one (a module of its own so that the descriptor and the code generator share it
without importing each other)."""

MARKER = "# nirhub artifact: backend=nengo format=nengo-network-v1"
