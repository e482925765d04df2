"""A backend's run against nirhub's reference simulator, in one call."""

from __future__ import annotations

from collections.abc import Callable
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
    rtol: float = 0.0,
    output_atol: float = 0.0,
    method: str | None = None,
    reset: str | None = None,
) -> tuple[SimulationResult, SimulationResult]:
    """Run ``graph`` (one Input) on ``x`` with ``backend`` (a backend, whose ``run`` hook is
    used, or a function with that signature) and with the reference simulator, at the same
    ``dt``, ``method`` and ``reset``. Outputs and recorded variables of spikes must be
    identical; other outputs agree within ``output_atol`` (relative ``rtol``; default 0:
    identical) and the other recorded variables of the nodes in ``record`` within ``atol``
    (default: a float32 framework against the float64 reference). Returns the reference's
    result and the backend's, for the caller to check that the run is not trivial (the neurons
    do fire)."""
    run: Callable[..., SimulationResult] = getattr(backend, "run", backend)
    options = {k: v for k, v in {"method": method, "reset": reset}.items() if v is not None}
    got = run(graph, x, dt, record=record, **options)
    ref = simulate(graph, x, dt, record=list(record), **options)
    assert got.outputs.keys() == ref.outputs.keys()
    for name, expected in ref.outputs.items():
        ours = np.asarray(got.outputs[name])
        assert ours.shape == expected.shape, f"{name}: shape {expected.shape} became {ours.shape}"
        if np.isin(expected, (0.0, 1.0)).all():  # spikes: identical
            np.testing.assert_array_equal(ours, expected, err_msg=f"output {name}")
        else:
            np.testing.assert_allclose(
                ours, expected, rtol=rtol, atol=output_atol, err_msg=f"output {name}"
            )
    for path in record:
        common = got.recorded[path].keys() & ref.recorded[path].keys()
        assert common, f"{path}: the backend recorded none of {sorted(ref.recorded[path])}"
        for var in common:
            ours, theirs = np.asarray(got.recorded[path][var]), ref.recorded[path][var]
            where = f"{path}.{var}"
            if var in ("spikes", "count"):
                np.testing.assert_array_equal(ours, theirs, err_msg=where)
            else:
                np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=where)
    return ref, got
