"""Agreement between two runs of the same network (numpy only).

Every function takes two time-major arrays of the same shape, ``(T, *neurons)``: time is axis 0
and all other axes (batch, channels, neurons...) are flattened into "neurons". Spike arrays
may be bool, 0/1, or counts per step (several spikes in one step count as that many). All
arithmetic is in float64.

* :func:`activity_similarity` -- the NIR paper's metric: cosine similarity of per-neuron
  firing rates (time-averaged activity).
* :func:`cell_agreement`, :func:`differing_cells` -- identical (time step, neuron) cells.
* :func:`event_agreement` -- identical spike events among all spike events of either run.
* :func:`spike_count_difference` -- total (or per-neuron) spike count of ``b`` minus ``a``.
* :func:`first_spike_steps`, :func:`first_spike_offset` -- per-neuron first spike, in steps.
* :func:`voltage_correlation` -- Pearson r of two voltage traces.
* :func:`compare` -- all of the above in one :class:`AgreementReport`.

See ``docs/simulator.md`` ("Agreement metrics") for the definitions and edge cases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nirhub.errors import UsageError

__all__ = [
    "AgreementReport",
    "activity_similarity",
    "cell_agreement",
    "compare",
    "differing_cells",
    "event_agreement",
    "first_spike_offset",
    "first_spike_steps",
    "spike_count_difference",
    "voltage_correlation",
]


def _as_float(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:
        raise UsageError(f"{name} cannot be converted to an array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise UsageError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim < 1:
        raise UsageError(f"{name} must have a time axis (axis 0), got a scalar")
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"{name} holds NaN or infinite values")
    return arr


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 ``(T, neurons)``; shapes must agree."""
    x, y = _as_float(a, "a"), _as_float(b, "b")
    if x.shape != y.shape:
        raise UsageError(
            f"the two runs have different shapes: a {x.shape}, b {y.shape}",
            hint="Both must be time-major (T, ...) with the same T and neuron layout; "
            "transpose (neurons, T) arrays first.",
        )
    shape = (x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64)))
    return x.reshape(shape), y.reshape(shape)


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu == 0.0 and nv == 0.0:
        return 1.0
    if nu == 0.0 or nv == 0.0:
        return 0.0
    return float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))


def activity_similarity(a: Any, b: Any) -> float:
    """Cosine similarity of the time-averaged activity per neuron (the NIR paper's metric).

    ``cos(mean_t(a), mean_t(b))`` over all neurons. Blind to spike timing and to overall scale.
    Edge cases: both runs silent -> 1.0 (they agree); exactly one silent -> 0.0.
    """
    x, y = _pair(a, b)
    if x.shape[0] == 0:
        raise UsageError("the runs have no time steps")
    return _cosine(x.mean(axis=0), y.mean(axis=0))


def differing_cells(a: Any, b: Any) -> int:
    """Number of (time step, neuron) cells whose values differ."""
    x, y = _pair(a, b)
    return int(np.count_nonzero(x != y))


def cell_agreement(a: Any, b: Any) -> float:
    """Fraction of (time step, neuron) cells with identical values (1.0 for empty arrays).

    Dominated by the silent cells in sparse activity; see :func:`event_agreement`.
    """
    x, y = _pair(a, b)
    return 1.0 - np.count_nonzero(x != y) / x.size if x.size else 1.0


def event_agreement(a: Any, b: Any) -> float:
    """Fraction of identical spike events: cells where both runs spike equally, among the cells
    where either run spikes (a Jaccard index of the event sets). 1.0 when neither run spikes.
    """
    x, y = _pair(a, b)
    either = (x != 0) | (y != 0)
    n = int(np.count_nonzero(either))
    if n == 0:
        return 1.0
    same = either & (x == y)
    return int(np.count_nonzero(same)) / n


def spike_count_difference(a: Any, b: Any, *, per_neuron: bool = False) -> Any:
    """Spike count of ``b`` minus that of ``a``: a number, or one per neuron (flattened)."""
    x, y = _pair(a, b)
    diff = y.sum(axis=0) - x.sum(axis=0)
    if per_neuron:
        return diff
    total = float(diff.sum())
    return int(total) if total.is_integer() else total


def first_spike_steps(spikes: Any) -> np.ndarray:
    """Step of each neuron's first spike (flattened neurons); ``T`` for a silent neuron."""
    x = _as_float(spikes, "spikes")
    t = x.shape[0]
    x = x.reshape(t, int(np.prod(x.shape[1:], dtype=np.int64))) != 0
    if t == 0:
        return np.zeros(x.shape[1], dtype=np.int64)
    any_spike = x.any(axis=0)
    first = np.argmax(x, axis=0)
    return np.where(any_spike, first, t).astype(np.int64)


def first_spike_offset(a: Any, b: Any) -> np.ndarray:
    """Per neuron, first spike step in ``b`` minus in ``a`` (positive: ``b`` is later).

    A silent neuron counts as first spiking at step ``T`` (just after the recording), so
    neurons silent in both runs get 0, and a neuron that spikes in only one run gets the
    distance from its spike to the end of the recording: a lower bound on the true offset.
    """
    x, y = _pair(a, b)
    return first_spike_steps(y) - first_spike_steps(x)


def voltage_correlation(a: Any, b: Any, *, per_neuron: bool = False) -> Any:
    """Pearson correlation of two voltage traces (scale-free: units may differ).

    Over all cells by default, or one value per neuron. A constant trace has no defined
    correlation; then the result is 1.0 if both traces are identical and 0.0 otherwise.
    """
    x, y = _pair(a, b)
    if per_neuron:
        return np.array([_pearson(x[:, i], y[:, i]) for i in range(x.shape[1])])
    return _pearson(x.ravel(), y.ravel())


def _pearson(u: np.ndarray, v: np.ndarray) -> float:
    du, dv = u - u.mean(), v - v.mean()
    nu, nv = float(np.linalg.norm(du)), float(np.linalg.norm(dv))
    if nu == 0.0 or nv == 0.0:
        return 1.0 if np.array_equal(u, v) else 0.0
    return float(np.clip(np.dot(du, dv) / (nu * nv), -1.0, 1.0))


@dataclass(frozen=True)
class AgreementReport:
    """Summary of how two runs agree (``a`` is the reference)."""

    activity_similarity: float
    cell_agreement: float
    differing_cells: int
    event_agreement: float
    spikes_a: float
    spikes_b: float
    spike_count_difference: float
    #: over neurons that spike in at least one run; 0.0 when none does
    mean_abs_first_spike_offset: float
    max_abs_first_spike_offset: int
    #: Pearson r of the voltages, when both were given
    voltage_r: float | None = None

    @property
    def identical(self) -> bool:
        return self.differing_cells == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        text = (
            f"activity similarity {self.activity_similarity:.4f}, "
            f"{self.differing_cells} differing cells ({self.cell_agreement:.2%} identical), "
            f"event agreement {self.event_agreement:.2%}, spikes {self.spikes_a:g} vs "
            f"{self.spikes_b:g}, first-spike offset mean {self.mean_abs_first_spike_offset:.2f} "
            f"max {self.max_abs_first_spike_offset} steps"
        )
        if self.voltage_r is not None:
            text += f", voltage r {self.voltage_r:.4f}"
        return text


def compare(a: Any, b: Any, *, v_a: Any = None, v_b: Any = None) -> AgreementReport:
    """Every spike metric of ``b`` against ``a``, plus voltage correlation if both are given."""
    x, y = _pair(a, b)
    offsets = np.abs(first_spike_offset(x, y))
    active = ((x != 0).any(axis=0)) | ((y != 0).any(axis=0))
    voltage_r = None
    if v_a is not None and v_b is not None:
        voltage_r = voltage_correlation(v_a, v_b)
    elif (v_a is None) != (v_b is None):
        raise UsageError("pass both v_a and v_b, or neither")
    return AgreementReport(
        activity_similarity=activity_similarity(x, y) if x.shape[0] else 1.0,
        cell_agreement=cell_agreement(x, y),
        differing_cells=differing_cells(x, y),
        event_agreement=event_agreement(x, y),
        spikes_a=float(x.sum()),
        spikes_b=float(y.sum()),
        spike_count_difference=float(y.sum() - x.sum()),
        mean_abs_first_spike_offset=float(offsets[active].mean()) if active.any() else 0.0,
        max_abs_first_spike_offset=int(offsets.max()) if offsets.size else 0,
        voltage_r=voltage_r,
    )
