"""The any-to-any matrix's quantized models on Xylo (issue 14).

``dyadic-lif`` (LIF, weights k/4, decay 7/8, threshold 1) is a plain LIF network: Xylo takes it
only with ``-O lif=synapse`` (Xylo's shortest synapse, an approximation whose measured
similarity the conversion prints). ``convert`` honoured that option and ``simulate --backend
xylo`` exited 4: the run hook now takes it too, with the same warning. ``int-if`` (IF,
integer weights, thresholds 2 and 3) is refused, saying why. The models are the matrix's
(``tools/any_to_any.py``), written with ``nir.write`` as a user of ``nir`` writes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
from nirhub_xylo.run import run_model

import nirhub
from nirhub.errors import UnsupportedError
from nirhub.hub.backend import ConversionWarning
from nirhub.hub.convert import simulate_with_backend
from nirhub.hub.registry import make_registry

DT = 2.0**-10
STEPS, BATCH, N_IN, N_HID, N_OUT = 50, 2, 8, 16, 4
#: (neuron, thresholds, decay per step, weight values, the matrix's seed index)
MODELS = {
    "int-if": ("if", (2.0, 3.0), 1.0, (-1, 0, 1, 1, 2), 1),
    "dyadic-lif": ("lif", (1.0, 1.0), 0.875, (-0.5, -0.25, 0, 0.25, 0.5, 0.75), 2),
}


def write_model(path: Path, name: str) -> tuple[Path, np.ndarray]:
    """The model (subtracting reset) as ``tools/any_to_any.py`` writes it, and its input."""
    kind, thresholds, beta, values, index = MODELS[name]
    rng = np.random.default_rng([1, index])
    x = (rng.random((STEPS, BATCH, N_IN)) < 0.3).astype(np.float32)
    vals = np.asarray(values, dtype=np.float32)
    w1, w2 = rng.choice(vals, (N_HID, N_IN)), rng.choice(vals, (N_OUT, N_HID))

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
    graph.metadata = {"nirhub": {"reset": "subtract"}}
    nir.write(str(path), graph)
    return path, x


def synapse_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ConversionWarning) and "-O lif=synapse" in str(w.message)
    ]


def test_dyadic_lif_simulates_with_the_shortest_synapse(tmp_path: Path) -> None:
    """The run hook honours ``lif=synapse``: it runs what the conversion builds, spike for
    spike, and says so with the measured similarity (before: exit 4)."""
    path, x = write_model(tmp_path / "dyadic-lif.nir", "dyadic-lif")
    graph = nirhub.read(path)
    with pytest.raises(UnsupportedError) as info:
        simulate_with_backend(graph, x, DT, "xylo")
    assert "-O lif=synapse" in str(info.value)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulate_with_backend(graph, x, DT, "xylo", lif="synapse")
    (note,) = synapse_notes(caught)
    assert "activity similarity" in note and "lif" in note
    out = np.asarray(next(iter(result.outputs.values())))
    assert out.shape == (STEPS, BATCH, N_OUT) and out.sum() > 0

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xylo = make_registry(environments=False).get("xylo")
        converted = xylo.from_ir(graph, dt=DT, lif="synapse")
    assert synapse_notes(caught) == [note]  # the conversion says the same
    direct = run_model(converted, x)["outputs"]
    np.testing.assert_array_equal(next(iter(direct.values())), out)


def test_simulate_command_takes_the_option(tmp_path: Path) -> None:
    """``nirhub simulate model.nir --backend xylo -O lif=synapse`` exits 0 and writes."""
    path, x = write_model(tmp_path / "dyadic-lif.nir", "dyadic-lif")
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npz"
    cmd = [sys.executable, "-m", "nirhub", "simulate", str(path), "--dt", repr(DT)]
    cmd += ["--backend", "xylo", "-O", "lif=synapse", "-i", str(tmp_path / "x.npy")]
    proc = subprocess.run(
        [*cmd, "-o", str(out)], capture_output=True, text=True, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr
    assert "activity similarity" in proc.stderr
    with np.load(out) as got:
        assert got["output"].shape == (STEPS, BATCH, N_OUT)


def test_int_if_is_refused_saying_why(tmp_path: Path) -> None:
    path, x = write_model(tmp_path / "int-if.nir", "int-if")
    graph = nirhub.read(path)
    with pytest.raises(UnsupportedError) as info:
        simulate_with_backend(graph, x, DT, "xylo", lif="synapse")
    message = str(info.value)
    for node in ("if", "if_1"):
        assert f"- {node}: IF" in message
    assert "leaks" in message and "CubaLIF" in message
