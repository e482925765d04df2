"""nirhub plugin for Spyx: NIR graphs to and from Spyx/Flax NNX models."""

__version__ = "0.1.0"
