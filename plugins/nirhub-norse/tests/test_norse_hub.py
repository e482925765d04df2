"""The norse backend through nirhub's hub: conversion, detection, the run hook."""

from __future__ import annotations

import norse.torch as norse
import numpy as np
import torch
from conftest import step_model

from nirhub.hub.convert import convert, simulate_with_backend, to_ir
from nirhub.ir.conventions import get_dt
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS, braille_input, lif_task_input


def test_convert_nir_file_to_a_norse_artifact(tmp_path) -> None:
    report = convert(
        CORPUS / "lif" / "lif_norse.nir", to="norse", output=tmp_path / "lif.py", dt=1e-4
    )
    assert sorted(p.name for p in report.outputs) == ["lif.pt", "lif.py"]
    assert report.report["structure"] == "SequentialState"
    x = lif_task_input()
    out = step_model(report.model, x[:, None])[:, 0, 0]
    assert np.flatnonzero(out).tolist() == [460, 510, 710, 760]


def test_a_norse_object_is_detected_and_exported() -> None:
    torch.manual_seed(0)
    model = norse.SequentialState(torch.nn.Linear(3, 4), norse.LIFCell())
    graph = to_ir(model)
    assert graph.nodes["1"].type_name == "CubaLIF" and get_dt(graph) == 1e-3


def test_simulate_with_backend_matches_reference() -> None:
    from nirhub.io import read

    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    x = braille_input()
    got = simulate_with_backend(graph, x, 1e-4, "norse")
    np.testing.assert_array_equal(got.outputs["output"], simulate(graph, x, 1e-4).outputs["output"])
