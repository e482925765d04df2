"""The rockpool backend through nirhub's hub: conversion, detection, the run hook."""

from __future__ import annotations

import numpy as np
import torch
from conftest import run_sequence
from rockpool.nn.combinators import Sequential
from rockpool.nn.modules import LIFTorch, LinearTorch

from nirhub.hub.convert import convert, simulate_with_backend, to_ir
from nirhub.ir.conventions import get_dt
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS, braille_input, lif_task_input


def test_convert_nir_file_to_a_rockpool_artifact(tmp_path) -> None:
    report = convert(
        CORPUS / "lif" / "lif_norse.nir",
        to="rockpool",
        output=tmp_path / "lif.py",
        dt=1e-4,
        options={"reset": "subtract", "method": "exact"},
    )
    assert sorted(p.name for p in report.outputs) == ["lif.json", "lif.pt", "lif.py"]
    x = lif_task_input()
    out = run_sequence(report.model, x[:, None])[:, 0, 0]
    assert np.flatnonzero(out).tolist() == [460, 510, 710, 760]


def test_a_rockpool_object_is_detected_and_exported() -> None:
    torch.manual_seed(0)
    model = Sequential(LinearTorch((3, 4)), LIFTorch(4))
    graph = to_ir(model)
    assert get_dt(graph) == 1e-3
    assert graph.nodes["1_LIFTorch"].type_name == "CubaLIF"  # staged zero-order hold


def test_simulate_with_backend_matches_reference() -> None:
    from nirhub.io import read

    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    x = braille_input()
    got = simulate_with_backend(graph, x, 1e-4, "rockpool", reset="subtract")
    ref = simulate(graph, x, 1e-4, reset="subtract")
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
