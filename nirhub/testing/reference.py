"""A backend's run hook against nirhub's reference simulator, in one call."""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.ir.graph import Graph
from nirhub.sim import SimulationResult, simulate

__all__ = ["assert_runs_like_reference"]


def assert_runs_like_reference(
    backend: Any,
    graph: Graph,
    x: np.ndarray,
    dt: float,
    *,
    record: tuple[str, ...] = (),
    atol: float = 1e-4,
    method: str | None = None,
    reset: str | None = None,
) -> SimulationResult:
    """Run ``graph`` (one Input) on ``x`` with ``backend.run`` and with the reference simulator,
    at the same ``dt``, ``method`` and ``reset``: every output must be identical, and for each
    node in ``record`` the spikes identical and every other recorded variable within ``atol``
    (a float32 framework against the float64 reference). Returns the reference's result, for
    the caller to check that it is not trivial (the neurons do fire)."""
    options = {k: v for k, v in {"method": method, "reset": reset}.items() if v is not None}
    (input_name,) = [n for n, node in graph.nodes.items() if node.type_name == "Input"]
    got = backend.run(graph, {input_name: x}, dt, record=record, **options)
    ref = simulate(graph, x, dt, record=list(record), **options)
    assert got.outputs.keys() == ref.outputs.keys()
    for name, expected in ref.outputs.items():
        np.testing.assert_array_equal(got.outputs[name], expected, err_msg=f"output {name}")
    for path in record:
        for var in got.recorded[path].keys() & ref.recorded[path].keys():
            ours, theirs = got.recorded[path][var], ref.recorded[path][var]
            where = f"{path}.{var}"
            if var in ("spikes", "count"):
                np.testing.assert_array_equal(ours, theirs, err_msg=where)
            else:
                np.testing.assert_allclose(ours, theirs, atol=atol, err_msg=where)
    return ref
