"""Helpers for run hooks: the caller's input in, the reference simulator's layout out.

A run hook receives the graph's single input as an array or a one-entry mapping, time first
and the batch axis optional (``(T, *shape)`` or ``(T, B, *shape)``), and returns arrays in
that same layout (:class:`nirhub.sim.SimulationResult`). Frameworks that run batch-major
(sinabs, rockpool) convert back with :func:`to_time_major`; :func:`recordable_steps` resolves
the node paths a caller asked to record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from nirhub.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.backend.graphplan import GraphPlan, Step

__all__ = ["recordable_steps", "single_input", "time_major", "to_time_major"]


def single_input(inputs: Any) -> np.ndarray:
    """The one input array of a single-input graph, given as an array or a one-entry mapping."""
    if isinstance(inputs, Mapping):
        if len(inputs) != 1:
            raise UsageError(f"the graph has one input; got {len(inputs)} arrays")
        return np.asarray(next(iter(inputs.values())))
    return np.asarray(inputs)


def time_major(inputs: Any, in_shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    """The single input as ``(T, B, *in_shape)`` and whether the caller gave a batch axis."""
    arr = single_input(inputs)
    if arr.ndim == len(in_shape) + 1 and arr.shape[1:] == in_shape:
        return arr[:, None], False
    if arr.ndim == len(in_shape) + 2 and arr.shape[2:] == in_shape:
        return arr, True
    raise UsageError(
        f"input of shape {arr.shape} does not fit (T, [B,] {in_shape})", hint="Time is axis 0."
    )


def to_time_major(batch_major: np.ndarray, batched: bool, *, spikes: bool = False) -> np.ndarray:
    """A ``(B, T, ...)`` output in the caller's layout: ``(T, B, ...)``, or ``(T, ...)`` when
    the input had no batch axis; booleans for ``spikes``, else float64."""
    arr = np.swapaxes(batch_major, 0, 1)
    arr = arr.astype(bool) if spikes else arr.astype(np.float64)
    return arr if batched else arr[:, 0]


def recordable_steps(plan: GraphPlan, record: tuple[str, ...], framework: str) -> dict[str, Step]:
    """The plan's step for each node path in ``record``; a path that is no node of the model
    (or is its Input/Output) is a usage error listing what can be recorded."""
    paths = plan.by_path()
    ports = (plan.input_name, plan.output_name)
    steps: dict[str, Step] = {}
    for path in record:
        if path not in paths or path in ports:
            known = ", ".join(sorted(p for p in paths if p not in ports))
            raise UsageError(
                f"cannot record {path!r}: no such node in the {framework} model",
                hint=f"Recordable: {known}.",
            )
        steps[path] = plan.steps[paths[path]]
    return steps
