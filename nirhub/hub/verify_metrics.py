"""Metrics of ``nirhub verify``: one sample (a backend's run against the reference), and the
aggregation over a test set.

Per sample and compared signal ("layer": an Output node, or ``NODE.spikes`` of a recorded
node), against the reference simulator's run of the same sample:

* ``similarity``: the NIR paper's activity similarity (cosine of per-neuron mean rates,
  :func:`nirhub.metrics.activity_similarity`);
* ``differing_cells``: (time step, neuron) cells that differ;
* ``spikes_ref``, ``spikes``: total spike counts (their ratio is the spike-count ratio);
* ``latency``: the constant delay, in steps, that best aligns the backend's train with the
  reference (Lava's one step per synapse, SpiNNaker2's tick), searched in ``[-L, L]`` with
  ``L = min(MAX_LATENCY, T - 1)``; ``differing_cells_aligned``: the cells that still differ
  after shifting by it (over the overlapping steps only);
* ``voltage_r``: Pearson r of ``NODE.v`` when both runs recorded it.

The per-neuron spike counts of every runner are summed over the samples; the backend x backend
similarity matrix of a layer is the cosine of those sums (as the paper's matrices, which sum
the activity of its samples). All arithmetic is in float64 and deterministic, so a run split
over processes or a Dask cluster aggregates to the same numbers as a serial run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nirhub.metrics import activity_similarity, voltage_correlation

#: the largest latency searched, in steps
MAX_LATENCY = 8


def flat(arr: np.ndarray) -> np.ndarray:
    """``(T, ...)`` as float64 ``(T, neurons)``."""
    a = np.asarray(arr, dtype=np.float64)
    return a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)


def best_latency(ref: np.ndarray, run: np.ndarray, max_shift: int = MAX_LATENCY) -> tuple[int, int]:
    """The shift ``s`` (``run[t + s]`` against ``ref[t]``) with the fewest differing cells over
    the overlapping steps, and that number. Ties go to the smallest ``|s|``, then to ``s > 0``.
    """
    t = ref.shape[0]
    best = (int(np.count_nonzero(ref != run)), 0)
    limit = min(max_shift, t - 1)
    for s in sorted(range(-limit, limit + 1), key=lambda k: (abs(k), -k)):
        if s == 0:
            continue
        if s > 0:
            diff = int(np.count_nonzero(ref[: t - s] != run[s:]))
        else:
            diff = int(np.count_nonzero(ref[-s:] != run[: t + s]))
        if diff < best[0]:
            best = (diff, s)
    return best[1], best[0]


def compare_layer(
    ref: np.ndarray,
    run: np.ndarray,
    v_ref: np.ndarray | None = None,
    v_run: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every per-sample metric of one layer (module docstring)."""
    x, y = flat(ref), flat(run)
    if x.shape != y.shape:
        return {
            "error": f"shape {tuple(run.shape)} differs from the reference's {tuple(ref.shape)}"
        }
    latency, aligned = best_latency(x, y)
    same = bool(np.array_equal(x, y))
    out: dict[str, Any] = {
        # identical runs are exactly 1.0, not 1 - 1e-16 (a gate at 1.0 must pass them)
        "similarity": 1.0 if same else activity_similarity(x, y),
        "differing_cells": int(np.count_nonzero(x != y)),
        "cells": int(x.size),
        "spikes_ref": float(x.sum()),
        "spikes": float(y.sum()),
        "latency": latency,
        "differing_cells_aligned": aligned,
        "voltage_r": None,
    }
    if v_ref is not None and v_run is not None and np.shape(v_ref) == np.shape(v_run):
        out["voltage_r"] = voltage_correlation(flat(v_ref), flat(v_run))
    return out


def counts(arr: np.ndarray) -> np.ndarray:
    """Per-neuron spike counts of one run of a layer (float64, flattened)."""
    return flat(arr).sum(axis=0)


def prediction(output: np.ndarray) -> int:
    """The predicted class: argmax of the output's spike counts (first class on a tie)."""
    return int(np.argmax(counts(output)))


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    """As :func:`nirhub.metrics.activity_similarity` on per-neuron counts."""
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if np.array_equal(u, v):
        return 1.0
    if nu == 0.0 or nv == 0.0:
        return 0.0
    return float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))


class Aggregate:
    """Totals over the samples, filled one sample result at a time (in sample order)."""

    def __init__(self, runners: list[str], layers: list[str]) -> None:
        self.runners = runners
        self.layers = layers
        self.samples = 0
        self.failed_samples: list[int] = []
        self.counts: dict[str, dict[str, np.ndarray]] = {r: {} for r in runners}
        self.layer_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.failures: dict[str, list[dict[str, Any]]] = {r: [] for r in runners}
        self.predictions: dict[str, list[int | None]] = {r: [] for r in runners}
        self.labels: list[int | None] = []

    def add(self, result: Mapping[str, Any], sample_counts: Mapping[str, Any]) -> None:
        """One sample's result (``run_sample``'s JSON) and per-neuron counts per runner/layer."""
        self.samples += 1
        self.labels.append(result.get("label"))
        for runner in self.runners:
            entry = result["runs"].get(runner)
            if entry is None or "error" in entry:
                if entry is not None:
                    self.failures[runner].append({"sample": result["index"], **entry["error"]})
                self.predictions[runner].append(None)
                continue
            self.predictions[runner].append(entry.get("prediction"))
            for layer in self.layers:
                c = sample_counts.get(f"c:{runner}:{layer}")
                if c is None:
                    continue
                total = self.counts[runner].get(layer)
                self.counts[runner][layer] = c.astype(np.float64) if total is None else total + c
                if runner != "reference" and layer in entry.get("layers", {}):
                    self.layer_rows.setdefault((runner, layer), []).append(entry["layers"][layer])
        if "reference" in result["runs"] and "error" in result["runs"]["reference"]:
            self.failed_samples.append(result["index"])

    # -- summaries ------------------------------------------------------------------------
    def layer_summary(self, runner: str, layer: str) -> dict[str, Any] | None:
        rows = [r for r in self.layer_rows.get((runner, layer), []) if "error" not in r]
        if not rows:
            return None
        sims = np.array([r["similarity"] for r in rows])
        spikes_ref = sum(r["spikes_ref"] for r in rows)
        spikes = sum(r["spikes"] for r in rows)
        latencies = [r["latency"] for r in rows]
        values, freq = np.unique(latencies, return_counts=True)
        vr = [r["voltage_r"] for r in rows if r.get("voltage_r") is not None]
        return {
            "samples": len(rows),
            "similarity_mean": float(sims.mean()),
            "similarity_min": float(sims.min()),
            "similarity_total": self.matrix(layer)[self.runners.index("reference")][
                self.runners.index(runner)
            ],
            "differing_cells": int(sum(r["differing_cells"] for r in rows)),
            "cells": int(sum(r["cells"] for r in rows)),
            "identical_samples": int(sum(r["differing_cells"] == 0 for r in rows)),
            "spikes_ref": spikes_ref,
            "spikes": spikes,
            "spike_count_ratio": (spikes / spikes_ref) if spikes_ref else None,
            "latency": int(values[np.argmax(freq)]),
            "differing_cells_aligned": int(sum(r["differing_cells_aligned"] for r in rows)),
            "voltage_r_mean": float(np.mean(vr)) if vr else None,
        }

    def matrix(self, layer: str) -> list[list[float | None]]:
        """Runner x runner cosine of the per-neuron counts summed over the samples."""
        out: list[list[float | None]] = []
        for a in self.runners:
            row: list[float | None] = []
            for b in self.runners:
                ca, cb = self.counts[a].get(layer), self.counts[b].get(layer)
                row.append(None if ca is None or cb is None else cosine(ca, cb))
            out.append(row)
        return out

    def accuracy(self, runner: str) -> dict[str, Any] | None:
        preds = self.predictions[runner]
        ref = self.predictions.get("reference", [])
        pairs = [(p, y) for p, y in zip(preds, self.labels, strict=True) if p is not None]
        labelled = [(p, y) for p, y in pairs if y is not None]
        agree = [
            (p, r) for p, r in zip(preds, ref, strict=False) if p is not None and r is not None
        ]
        if not pairs:
            return None
        return {
            "samples": len(pairs),
            "accuracy": (sum(p == y for p, y in labelled) / len(labelled)) if labelled else None,
            "agreement": (sum(p == r for p, r in agree) / len(agree)) if agree else None,
        }
