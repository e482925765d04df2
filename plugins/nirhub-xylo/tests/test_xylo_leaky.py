"""snnTorch's ``Leaky`` (a LIF without synapse), the model most users have, to Xylo.

No Xylo neuron is exactly a LIF (``nirhub_xylo.lif_synapse``): shift 0 clears the synaptic
current before the membrane sees it, shift 1 spreads the input over the following steps. So
the conversion is refused with the way out named, and ``-O lif=synapse`` maps it with Xylo's
shortest synapse, printing the measured similarity.
"""

from __future__ import annotations

import numpy as np
import pytest
import snntorch as snn
import torch
from nirhub_xylo.lif_synapse import measure, shortest_tau_syn, with_shortest_synapse
from torch import nn

import nirhub
from nirhub.errors import UnsupportedError
from nirhub.hub.convert import convert
from nirhub.ir.nodes import LIF, CubaLIF
from nirhub.metrics import activity_similarity

DT = 1e-3


def _leaky_model() -> nn.Module:
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Linear(12, 16, bias=False),
        snn.Leaky(beta=0.9, init_hidden=True, reset_mechanism="subtract"),
        nn.Linear(16, 4, bias=False),
        snn.Leaky(beta=0.9, init_hidden=True, reset_mechanism="subtract", output=True),
    )
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.mul_(3.0)
    return net


@pytest.fixture(scope="module")
def leaky_graph():
    return nirhub.to_ir(_leaky_model(), "snntorch", dt=DT)


def test_leaky_is_refused_naming_the_option(leaky_graph, tmp_path) -> None:
    with pytest.raises(UnsupportedError) as info:
        convert(leaky_graph, to="xylo", output=tmp_path / "x.npz", options={"reset": "subtract"})
    assert "-O lif=synapse" in str(info.value)
    assert not (tmp_path / "x.npz").exists()


def test_leaky_maps_with_the_shortest_synapse_and_says_how_close(leaky_graph, tmp_path) -> None:
    report = convert(
        leaky_graph,
        to="xylo",
        output=tmp_path / "x.npz",
        options={"reset": "subtract", "lif": "synapse"},
    )
    assert report.ok and (tmp_path / "x.npz").is_file()
    (note,) = [w for w in report.warnings if w.startswith("-O lif=synapse")]
    assert "not exact" in note and "activity similarity" in note
    # the similarity printed is the one measured here
    approx, paths = with_shortest_synapse(leaky_graph, DT, "euler")
    assert len(paths) == 2
    for result in measure(leaky_graph, approx, paths, DT, "euler"):
        assert result.spikes_lif > 0
        assert f"activity similarity {result.similarity:.3f}" in note
        assert 0.5 < result.similarity < 1.0  # close, and honestly not exact


def test_shortest_synapse_is_xylos_shift_one(leaky_graph) -> None:
    approx, paths = with_shortest_synapse(leaky_graph, DT, "euler")
    for path in paths:
        before, after = leaky_graph.find(path), approx.find(path)
        assert isinstance(before, LIF) and isinstance(after, CubaLIF)
        # forward Euler: synaptic decay 1 - dt/tau_syn = 1/2, i.e. I -= I >> 1
        np.testing.assert_allclose(1 - DT / after.tau_syn, 0.5)
        np.testing.assert_array_equal(after.tau_mem, before.tau)
    assert shortest_tau_syn(DT, "exact") == pytest.approx(DT / np.log(2))
    # the DC gain is kept: a constant drive settles at the same membrane potential
    x = np.ones((400, 12))
    a = nirhub.simulate(leaky_graph, x, DT, record=[paths[0]]).recorded[paths[0]]["spikes"]
    b = nirhub.simulate(approx, x, DT, record=[paths[0]]).recorded[paths[0]]["spikes"]
    assert activity_similarity(a, b) > 0.95
