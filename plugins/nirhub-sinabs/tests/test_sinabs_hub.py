"""The sinabs backend through nirhub's hub: conversion, detection, the run hook."""

from __future__ import annotations

import numpy as np
import sinabs.activation as sa
import sinabs.layers as sl
import torch
from conftest import run_sequence

from nirhub.hub.convert import convert, simulate_with_backend, to_ir
from nirhub.ir.conventions import get_dt
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS, lif_task_input


def test_convert_nir_file_to_a_sinabs_artifact(tmp_path) -> None:
    report = convert(
        CORPUS / "lif" / "lif_norse.nir",
        to="sinabs",
        output=tmp_path / "lif.py",
        dt=1e-4,
        options={"method": "exact"},
    )
    assert sorted(p.name for p in report.outputs) == ["lif.pt", "lif.py"]
    assert report.report["method"] == "exact"
    x = lif_task_input()
    out = run_sequence(report.model, x[:, None], squeeze=True)[:, 0, 0]
    assert np.flatnonzero(out).tolist() == [460, 510, 710, 760]


def test_a_sinabs_object_is_detected_and_exported() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), sl.LIF(tau_mem=20.0, spike_fn=sa.SingleSpike)
    )
    graph = to_ir(model, dt=1e-3)
    assert graph.nodes["1"].type_name == "LIF" and get_dt(graph) == 1e-3
    np.testing.assert_allclose(graph.nodes["1"].tau, 0.02, rtol=1e-6)


def test_simulate_with_backend_matches_reference() -> None:
    from nirhub.io import read

    graph = read(CORPUS / "cnn" / "cnn_sinabs.nir")
    x = np.random.default_rng(0).poisson(0.2, size=(20, 1, 2, 34, 34)).astype(np.float64)
    got = simulate_with_backend(graph, x, 1.0, "sinabs")
    np.testing.assert_array_equal(got.outputs["output"], simulate(graph, x, 1.0).outputs["output"])


def test_a_whole_module_file_loads_without_unpickling_code(tmp_path) -> None:
    """torch.save(model) of a sinabs model: loaded weights-only with the declared classes."""
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), sl.IAFSqueeze(batch_size=1, spike_fn=sa.SingleSpike)
    )
    torch.save(model, tmp_path / "whole.pt")
    graph = to_ir(tmp_path / "whole.pt", dt=1e-3)
    assert graph.nodes["1"].type_name == "IF"
    np.testing.assert_allclose(graph.nodes["1"].r, 1e3)
