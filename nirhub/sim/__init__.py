"""nirhub's reference simulator: runs any valid NIR graph in numpy.

Public API::

    simulate(graph, inputs, dt=None, *, method=None, reset=None, record=(),
             dtype=np.float64, chunk_size=None) -> SimulationResult
    load_inputs(path, graph) -> dict[str, np.ndarray]
    run_files(model, inputs, output, *, dt=None, method=None, reset=None, record=(),
              strict=True, force=False, dtype=np.float64) -> SimulationResult

Every convention NIR leaves open (spike amplitude, delays on recurrent edges, rounding of
Delay, reset, update order, initial state) is documented in ``docs/simulator.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nirhub.ir.graph import Graph
from nirhub.sim.discretize import METHODS
from nirhub.sim.engine import simulate
from nirhub.sim.inputs import input_shapes_of
from nirhub.sim.inputs import load_inputs as _load_inputs
from nirhub.sim.result import SimulationResult

__all__ = ["METHODS", "SimulationResult", "load_inputs", "run_files", "simulate"]


def load_inputs(
    path: str | os.PathLike[str], graph: Graph | Sequence[str]
) -> dict[str, np.ndarray]:
    """Read input signals for ``graph`` from ``.npy`` (one-input graphs) or ``.npz``.

    ``graph`` is the graph to drive, or the names of its top-level Input nodes. An ``.npz``
    must hold one array per Input node, keyed by name (a single array feeds a one-input graph
    whatever its key). Nothing is unpickled. Given a graph, every array's header is checked
    against its Input node's shape and a size limit before the array is read
    (:func:`nirhub.sim.inputs.load_inputs`); the arrays are returned as stored.
    """
    if isinstance(graph, Graph):
        return _load_inputs(path, list(graph.inputs), input_shapes_of(graph))
    return _load_inputs(path, list(graph))


def run_files(
    model: str | os.PathLike[str],
    inputs: str | os.PathLike[str],
    output: str | os.PathLike[str] | None,
    *,
    dt: float | None = None,
    method: str | None = None,
    reset: str | None = None,
    record: str | Iterable[str] | None = (),
    strict: bool = True,
    force: bool = False,
    dtype: Any = np.float64,
) -> SimulationResult:
    """Read a ``.nir`` file and an input file, simulate, and write the results to ``output``.

    The ``.npz`` written (atomically; an existing file only with ``force=True``) holds one
    array per Output node under its name and ``NODE.spikes``/``NODE.v``/``NODE.I`` for each
    recorded node (``NODE.out`` for non-neuron nodes). ``strict=False`` reads the model
    tolerantly (known file defects repaired). ``output=None`` writes nothing.
    """
    from nirhub.io import read

    if strict:
        graph = read(model, strict=True)
    else:
        graph = read(model, strict=False).graph
    signals = load_inputs(inputs, graph)
    result = simulate(graph, signals, dt, method=method, reset=reset, record=record, dtype=dtype)
    if output is not None:
        result.save(output, force=force)
    return result
