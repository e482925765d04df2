"""nirhub plugin for SynSense Xylo: chip checks, mapping, quantization and XyloSim."""

__all__ = ["__version__"]
__version__ = "0.1.0"
