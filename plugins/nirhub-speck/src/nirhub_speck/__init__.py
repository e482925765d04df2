"""nirhub plugin for SynSense Speck (2e, 2f): check, discretize, map and simulate NIR graphs.

:mod:`nirhub_speck.plugin` (cheap to import) holds the backend; :mod:`nirhub_speck.layers`
the chip limits (numpy only), :mod:`nirhub_speck.build` the sinabs DynapcnnNetwork
discretization and core mapping, :mod:`nirhub_speck.run` the software simulation,
:mod:`nirhub_speck.artifact` the files. Nothing here imports samna unless SynSense's real samna
is installed (:mod:`nirhub_speck.samna_guard`).
"""

__version__ = "0.1.0"
