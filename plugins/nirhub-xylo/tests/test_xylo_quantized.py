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

import numpy as np
import pytest
from nirhub_xylo.run import run_model

import nirhub
from nirhub.errors import UnsupportedError
from nirhub.hub.backend import ConversionWarning
from nirhub.hub.convert import simulate_with_backend
from nirhub.hub.registry import make_registry
from nirhub.testing.matrix import any_to_any, quantized_model

a2a = any_to_any()
DT, STEPS, BATCH, N_OUT = a2a.QDT, a2a.QSTEPS, a2a.BATCH, a2a.native.N_OUT


def synapse_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ConversionWarning) and "-O lif=synapse" in str(w.message)
    ]


def test_dyadic_lif_simulates_with_the_shortest_synapse(tmp_path: Path) -> None:
    """The run hook honours ``lif=synapse``: it runs what the conversion builds, spike for
    spike, and says so with the measured similarity (before: exit 4)."""
    path, x, _ = quantized_model("dyadic-lif", "subtract", tmp_path)
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
    path, x, _ = quantized_model("dyadic-lif", "subtract", tmp_path)
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
    path, x, _ = quantized_model("int-if", "subtract", tmp_path)
    graph = nirhub.read(path)
    with pytest.raises(UnsupportedError) as info:
        simulate_with_backend(graph, x, DT, "xylo", lif="synapse")
    message = str(info.value)
    for node in ("if", "if_1"):
        assert f"- {node}: IF" in message
    assert "leaks" in message and "CubaLIF" in message
