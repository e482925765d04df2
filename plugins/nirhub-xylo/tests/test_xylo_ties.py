"""Xylo on quantized networks (issue 14, item 1): what the chip tests, and what nirhub says.

XyloSim (bit-accurate to the chip) is probed on one neuron: it fires at ``v >= threshold``
(NIR: ``v > v_threshold``), subtracts the threshold per spike (hidden neurons:
``floor(v/threshold)`` spikes), and decays by ``v - (v >> dash)`` (at least one unit), which
rounds. So even the matrix's ``dyadic-cubalif`` (weights k/4, synapse and membrane decay 7/8 =
``dash 3``, thresholds 8, binary input, written with ``nir.write``) cannot run exactly: the
conversion warns with the measured effect per population, and nirhub's finer membrane units
(weights shifted left) make the rounding smaller. Zero reset is refused (Xylo subtracts).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from nirhub_xylo import mapping
from nirhub_xylo.chips import get_chip
from nirhub_xylo.effects import RATE, SEED, STEPS
from nirhub_xylo.mapping import import_xylo
from nirhub_xylo.run import run_model

import nirhub
from nirhub.errors import UnsupportedError
from nirhub.hub.backend import ConversionWarning
from nirhub.hub.convert import simulate_with_backend
from nirhub.hub.registry import make_registry
from nirhub.testing.matrix import any_to_any, quantized_model

a2a = any_to_any()
MODEL = "dyadic-cubalif"
Q = next(q for q in a2a.QUANTIZED if q.name == MODEL)
DT = a2a.QDT
XYLO = make_registry(environments=False).get("xylo")
#: measured differing output cells of dyadic-cubalif (subtract) against its exact spikes, of
#: 400: 39 in rockpool's units (threshold 1778), 24 with nirhub's finer units (3556)
DIFF_ROCKPOOL, DIFF_FINER = 39, 24


def one_neuron(w_in: int, threshold: int, x: list[int]) -> dict[str, np.ndarray]:
    """One hidden neuron (dash_syn 1, dash_mem 3) fed by one input channel, in XyloSim."""
    _, _, xylo_sim = import_xylo(get_chip(None))
    one = np.ones(1, np.int64)
    spec = {
        "weights_in": np.array([[[w_in]]]),
        "weights_rec": np.zeros((1, 1, 1), np.int64),
        "weights_out": np.array([[1]]),
        "dash_mem": 3 * one,
        "dash_mem_out": one,
        "dash_syn": one,
        "dash_syn_2": 0 * one,
        "dash_syn_out": one,
        "threshold": threshold * one,
        "threshold_out": 1000 * one,
        "bias": 0 * one,
        "bias_out": 0 * one,
        "weight_shift_in": 0,
        "weight_shift_rec": 0,
        "weight_shift_out": 0,
    }
    sim = xylo_sim.from_specification(**spec, dt=1e-3)
    _, _, rec = sim(np.array(x)[:, None], record=True)
    return {k: np.asarray(rec[k]).ravel() for k in ("Vmem", "Isyn", "Spikes")}


def test_xylosim_fires_at_or_above_the_threshold_and_subtracts_it() -> None:
    """Input 64 through a synapse of shift 1 puts 32 on the membrane in the input's step."""
    at = one_neuron(64, 32, [1, 0, 0, 0])
    assert at["Spikes"][0] == 1 and at["Vmem"][0] == 0  # v = 32 = threshold: a spike (>=)
    above = one_neuron(64, 33, [1, 0, 0, 0])
    assert above["Spikes"][0] == 0 and above["Vmem"][0] == 32  # NIR's > needs T + 1 here
    multi = one_neuron(64, 16, [1, 0, 0, 0])
    assert multi["Spikes"][0] == 2 and multi["Vmem"][0] == 0  # floor(v/thr), thr per spike


def test_xylosim_decays_round() -> None:
    """``v - (v >> 3)`` is ``ceil(7/8 v)`` from 8 up and ``v - 1`` below (``sign(v)`` where
    the shift gives 0): 7/8 exactly only on multiples of 8. The current is 0 from step 4 on,
    so the membrane only decays: 11 -> 10 -> 9 (7/8: 9.625, 8.75) ... 7 -> 6 (6.125)."""
    got = one_neuron(14, 1000, [1] + [0] * 10)
    assert list(got["Isyn"][:5]) == [7, 4, 2, 1, 0]  # 14 -> 7, 7 - (7 >> 1) = 4, ...
    v = got["Vmem"]
    assert list(v[4:]) == [10, 9, 8, 7, 6, 5, 4]  # v - 1 below 8: not 7/8 v
    assert v[3] == 11


def exact_and_warning(tmp_path: Path, **options: str) -> tuple[np.ndarray, np.ndarray, str]:
    path, x, weights = quantized_model(MODEL, "subtract", tmp_path)
    want = a2a.exact_spikes(Q, weights, x, "subtract").astype(bool)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulate_with_backend(nirhub.read(path), x, DT, "xylo", **options)
    notes = [
        str(w.message)
        for w in caught
        if issubclass(w.category, ConversionWarning) and "integer arithmetic" in str(w.message)
    ]
    assert len(notes) == 1, [str(w.message) for w in caught]
    return want, np.asarray(result.outputs["output"]) > 0, notes[0]


def test_dyadic_cubalif_differs_and_the_conversion_says_by_how_much(tmp_path: Path) -> None:
    """The measured effect names both populations, and its numbers are what XyloSim and the
    reference simulator give on the warning's input."""
    want, got, note = exact_and_warning(tmp_path)
    assert (got != want).sum() == DIFF_FINER
    path, _, _ = quantized_model(MODEL, "subtract", tmp_path)
    graph = nirhub.read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = XYLO.from_ir(graph, dt=DT)
    x = (np.random.default_rng(SEED).random((STEPS, 8)) < RATE).astype(np.float64)
    ref = nirhub.simulate(graph, x, DT, record=["cubalif", "cubalif_1"])
    chip = run_model(model, x, record=("cubalif", "cubalif_1"))["recorded"]
    for path, n in (("cubalif", 16), ("cubalif_1", 4)):
        differing = int(np.count_nonzero(ref.recorded[path]["spikes"] != chip[path]["spikes"]))
        assert differing > 0
        assert re.search(rf"\b{path}: {differing} of {STEPS * n} cells differ", note), note
    assert "v >= threshold" in note and "rounds" in note


def test_finer_membrane_units_round_less(tmp_path: Path) -> None:
    """Weights shifted left by one bit (thresholds up to 3556 instead of 1778): the same
    int8 weights, fewer differing cells; ``-O units=rockpool`` keeps rockpool's units."""
    path, _, _ = quantized_model(MODEL, "subtract", tmp_path)
    graph = nirhub.read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finer = XYLO.from_ir(graph, dt=DT)
        coarse = XYLO.from_ir(graph, dt=DT, units="rockpool")
    assert finer.spec["weight_shift_in"] == finer.spec["weight_shift_out"] == 1
    assert finer.spec["threshold"].max() <= mapping.RESOLUTION_THRESHOLD
    assert coarse.spec["weight_shift_in"] == coarse.spec["weight_shift_out"] == 0
    np.testing.assert_array_equal(finer.spec["weights_in"], coarse.spec["weights_in"])
    # twice the units, each threshold rounded at the finer scale
    assert np.abs(finer.spec["threshold"] - 2 * coarse.spec["threshold"]).max() <= 1
    assert finer.spec["threshold"].max() == 3556 and coarse.spec["threshold"].max() == 1778

    want, got, _ = exact_and_warning(tmp_path)
    assert (got != want).sum() == DIFF_FINER
    want, got, _ = exact_and_warning(tmp_path, units="rockpool")
    assert (got != want).sum() == DIFF_ROCKPOOL > DIFF_FINER


def test_zero_reset_is_refused_and_accepted_with_the_option(tmp_path: Path) -> None:
    path, x, _ = quantized_model(MODEL, "zero", tmp_path)
    graph = nirhub.read(path)
    with pytest.raises(UnsupportedError) as info:
        simulate_with_backend(graph, x, DT, "xylo")
    message = str(info.value)
    assert "cubalif" in message and "cubalif_1" in message and "-O reset=subtract" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        XYLO.from_ir(graph, dt=DT, reset="subtract")
    notes = [str(w.message) for w in caught]
    assert any("recorded reset mode 'zero' replaced" in n for n in notes)
    assert any("integer arithmetic" in n and "cubalif_1: " in n for n in notes)
