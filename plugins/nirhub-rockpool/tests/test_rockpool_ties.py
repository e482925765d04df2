"""Ties at the threshold (issue 14) on the any-to-any matrix's quantized models.

Rockpool fires at ``v >= threshold`` and subtracts the threshold; NIR fires at
``v > threshold``. On integer and dyadic networks the membrane lands exactly on the threshold
all the time, so the import raises each threshold to the next float32 (exact at ties). The
models are the matrix's (``tools/any_to_any.py``): ``Linear 8 -> 16``, neuron, ``Linear 16 ->
4``, neuron, written with ``nir.write`` as a user of ``nir`` writes them, run on binary input
for 50 steps of dt = 2**-10 s, batch 2, and compared with spikes computed in exact rational
arithmetic.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import nir
import numpy as np
import pytest

import nirhub
from nirhub.backend.ties import tie_effects
from nirhub.errors import UnsupportedError
from nirhub.hub.backend import ConversionWarning
from nirhub.hub.convert import simulate_with_backend
from nirhub.ir.conventions import set_variant

#: the matrix's quantized models: (neuron, thresholds, decay per step, weight values)
MODELS = {
    "int-if": ("if", (2.0, 3.0), 1.0, (-1, 0, 1, 1, 2)),
    "dyadic-lif": ("lif", (1.0, 1.0), 0.875, (-0.5, -0.25, 0, 0.25, 0.5, 0.75)),
}
DT = 2.0**-10
STEPS, BATCH, N_IN, N_HID, N_OUT = 50, 2, 8, 16, 4
RATE = 0.3


def weights_and_input(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.asarray(MODELS[name][3], dtype=np.float32)
    rng = np.random.default_rng([1, 1 + list(MODELS).index(name)])  # the matrix's seeds
    x = (rng.random((STEPS, BATCH, N_IN)) < RATE).astype(np.float32)
    return rng.choice(values, (N_HID, N_IN)), rng.choice(values, (N_OUT, N_HID)), x


def write_model(path: Path, name: str, reset: str, w1: np.ndarray, w2: np.ndarray) -> Path:
    """The model as ``tools/any_to_any.py`` writes it with ``nir.write`` (Euler, unit gain; a
    subtracting reset recorded in the graph's metadata)."""
    kind, thresholds, beta, _ = MODELS[name]

    def neuron(n: int, threshold: float) -> nir.NIRNode:
        thr, zero = np.full(n, threshold), np.zeros(n)
        if kind == "if":
            return nir.IF(r=np.full(n, 1.0 / DT), v_threshold=thr, v_reset=zero)
        tau = DT / (1.0 - beta)
        return nir.LIF(
            tau=np.full(n, tau), r=np.full(n, tau / DT), v_leak=zero, v_threshold=thr, v_reset=zero
        )

    graph = nir.NIRGraph.from_list(
        nir.Input(np.array([N_IN])),
        nir.Linear(w1),
        neuron(N_HID, thresholds[0]),
        nir.Linear(w2),
        neuron(N_OUT, thresholds[1]),
        nir.Output(np.array([N_OUT])),
    )
    if reset != "zero":
        graph.metadata = {"nirhub": {"reset": reset}}
    nir.write(str(path), graph)
    return path


def exact_spikes(name: str, w1: np.ndarray, w2: np.ndarray, x: np.ndarray) -> np.ndarray:
    """What the graph means, in rational arithmetic: ``v <- beta v + W s``, a spike where
    ``v > threshold``, then subtract the threshold. (T, B, N_OUT) bool."""
    _, thresholds, beta, _ = MODELS[name]
    layers = [
        ([[Fraction(float(v)) for v in row] for row in w], Fraction(t))
        for w, t in ((w1, thresholds[0]), (w2, thresholds[1]))
    ]
    b_ = Fraction(beta)
    out = np.zeros((STEPS, BATCH, N_OUT), dtype=bool)
    for b in range(BATCH):
        state = [[Fraction(0)] * len(w) for w, _ in layers]
        for t in range(STEPS):
            spikes = [bool(s) for s in x[t, b]]
            for k, (w, thr) in enumerate(layers):
                v = [
                    b_ * v0 + sum((wi for wi, s in zip(row, spikes, strict=True) if s), Fraction(0))
                    for v0, row in zip(state[k], w, strict=True)
                ]
                spikes = [vi > thr for vi in v]
                state[k] = [vi - thr if s else vi for vi, s in zip(v, spikes, strict=True)]
            out[t, b] = spikes
    return out


def tie_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    notes = [str(w.message) for w in caught if issubclass(w.category, ConversionWarning)]
    return [n for n in notes if "exactly on the threshold" in n]


@pytest.mark.parametrize("name", list(MODELS))
def test_quantized_model_runs_exactly(tmp_path: Path, name: str) -> None:
    """The matrix's cells (42 of 400 and 6 of 400 output cells before the fix): none differ,
    and nothing needs saying."""
    w1, w2, x = weights_and_input(name)
    graph = nirhub.read(write_model(tmp_path / f"{name}.nir", name, "subtract", w1, w2))
    # the model is one where ties decide spikes (else this test proves nothing)
    assert sum(e.differing for e in tie_effects(graph, DT)) > 0
    expected = exact_spikes(name, w1, w2, x)
    assert expected.sum() > 20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulate_with_backend(graph, x, DT, "rockpool")
    got = np.asarray(next(iter(result.outputs.values()))) > 0
    assert got.shape == expected.shape
    assert np.count_nonzero(got != expected) == 0
    assert tie_notes(caught) == []


def test_single_neuron_fed_a_sixteenth_spikes_at_step_17() -> None:
    """The issue's own example: an IF neuron fed 0.0625 per step reaches 1.0 at step 16 and
    fires at step 17 under NIR's ``v > 1`` (sinabs fired at 16 before its fix)."""
    graph = nirhub.ir.Graph.from_list(
        nirhub.ir.Input((1,)),
        nirhub.ir.IF(np.ones(1), np.ones(1)),
        nirhub.ir.Output(),
    )
    x = np.full((20, 1), 0.0625)
    result = simulate_with_backend(graph, x, 1.0, "rockpool", reset="subtract")
    spikes = np.asarray(next(iter(result.outputs.values())))[:, 0]
    assert np.flatnonzero(spikes).tolist() == [16]  # step 17, 0-based 16


def test_zero_reset_is_refused_naming_the_option(tmp_path: Path) -> None:
    w1, w2, x = weights_and_input("int-if")
    graph = nirhub.read(write_model(tmp_path / "zero.nir", "int-if", "zero", w1, w2))
    with pytest.raises(UnsupportedError) as info:
        simulate_with_backend(graph, x, DT, "rockpool")
    assert "reset=subtract" in str(info.value)


def test_multi_spike_with_nirs_test_warns_with_the_measured_effect(tmp_path: Path) -> None:
    """Multi-spike output (``floor(v/thr)``) with NIR's ``v > thr``: a raised threshold would
    count ``v = 2 thr`` as one spike, so the threshold stays and the import says what ties
    change, per node."""
    w1, w2, x = weights_and_input("int-if")
    graph = nirhub.read(write_model(tmp_path / "multi.nir", "int-if", "subtract", w1, w2))
    nodes = dict(graph.nodes)
    for name, node in graph.nodes.items():
        if node.type_name == "IF":
            md = dict(node.metadata)
            set_variant(md, spikes="multi")
            nodes[name] = node.replace(metadata=md)
    graph = graph.replace(nodes=nodes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simulate_with_backend(graph, x, DT, "rockpool")
    (note,) = tie_notes(caught)
    spiking = [p for p, n in graph.nodes.items() if n.type_name == "IF"]
    assert all(p in note for p in spiking)
    assert "multi-spike" in note and "cells" in note


def test_thresholds_one_float32_unit_above_unless_the_caller_keeps_them(tmp_path: Path) -> None:
    """The import's thresholds are the next float32 above NIR's; Xylo, which reuses this
    lowering and quantizes thresholds into its own integer units, keeps them as given."""
    from nirhub_rockpool.import_ import lower_graph
    from nirhub_rockpool.lowering import lower

    from nirhub.backend import make_graph_plan

    w1, w2, _ = weights_and_input("int-if")
    graph = nirhub.read(write_model(tmp_path / "m.nir", "int-if", "subtract", w1, w2))

    def thresholds(low) -> list[np.ndarray]:
        return [t for it in low.items for k, t in it.tensors.items() if k.endswith(".threshold")]

    raised = thresholds(lower_graph(graph, DT))
    plan = make_graph_plan(graph, "xylo")
    kept = thresholds(lower(plan, graph, DT, "euler", None, exact_ties=False))
    for r, k, t in zip(raised, kept, (2.0, 3.0), strict=True):
        assert np.all(k == np.float32(t))
        assert np.all(r == np.nextafter(np.float32(t), np.float32(np.inf)))
