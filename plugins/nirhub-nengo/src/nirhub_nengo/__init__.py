"""nirhub plugin for Nengo: NIR graphs to and from ``nengo.Network`` objects."""

__version__ = "0.1.0"
