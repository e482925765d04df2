"""A Sinabs state dict saved after running the model (issue 14): it holds the layers' state
buffers (``v_mem`` with the batch shape of that run), which are not weights. Loading it into
the model reference used to fail ("size mismatch for 1.v_mem"); they are skipped, and said."""

from __future__ import annotations

import warnings

import numpy as np
import torch

import nirhub
from nirhub.hub.backend import ConversionWarning
from nirhub.hub.convert import convert

MODEL = """
import sinabs.activation as sa
import sinabs.layers as sl
import torch


def build():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        sl.LIF(tau_mem=20.0, spike_fn=sa.SingleSpike),
        torch.nn.Linear(6, 2),
        sl.IAF(spike_fn=sa.SingleSpike),
    )
"""


def test_state_buffers_of_a_run_model_are_skipped(tmp_path) -> None:
    model_py = tmp_path / "model.py"
    model_py.write_text(MODEL, encoding="utf-8")
    namespace: dict = {}
    exec(compile(MODEL, str(model_py), "exec"), namespace)
    trained = namespace["build"]()
    with torch.no_grad():
        trained[0].weight.mul_(3.0)  # "trained": other weights than build() makes
        trained(torch.rand(5, 10, 4))  # (batch, time, features): v_mem now has shape (5, 6)
    state = trained.state_dict()
    assert tuple(state["1.v_mem"].shape) == (5, 6)  # what users' files hold
    fresh = namespace["build"]()
    assert tuple(fresh.state_dict()["1.v_mem"].shape) != (5, 6)  # hence "size mismatch"
    torch.save(state, tmp_path / "w.pt")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = convert(
            f"{model_py}:build",
            to="nir",
            output=tmp_path / "m.nir",
            weights=tmp_path / "w.pt",
            dt=1e-3,
        )
    said = [str(w.message) for w in caught if issubclass(w.category, ConversionWarning)]
    said += report.warnings
    assert any("1.v_mem" in s and "state buffer" in s for s in said), said
    graph = nirhub.read(tmp_path / "m.nir")
    weights = [n for _, n in graph.walk() if n.type_name in ("Linear", "Affine")]
    np.testing.assert_allclose(
        weights[0].weight, trained[0].weight.detach().numpy(), rtol=1e-6
    )  # the weights were loaded
