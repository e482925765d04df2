"""NIR Delay nodes become the synapse word's delay field (lif / lif_curr_exp, 4-bit weights)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DT
from nirhub_spinnaker2.artifact import read, save
from nirhub_spinnaker2.emulator import emulate
from nirhub_spinnaker2.network import lower

import nirhub
from nirhub.errors import UnsupportedError
from nirhub.ir.conventions import set_dt
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, Delay, Input, Linear, Output


def delayed(pre_steps: list[int], post_steps: list[int]) -> Graph:
    r = np.random.default_rng(5)
    g = Graph(
        {
            "input": Input((4,)),
            "d_pre": Delay(np.asarray(pre_steps, dtype=float) * DT),
            "fc": Linear(r.uniform(-2, 10, size=(3, 4))),
            "d_post": Delay(np.asarray(post_steps, dtype=float) * DT),
            "lif": LIF(np.full(3, 1e-3), np.ones(3), np.zeros(3), np.ones(3)),
            "output": Output((3,)),
        },
        [
            ("input", "d_pre"),
            ("d_pre", "fc"),
            ("fc", "d_post"),
            ("d_post", "lif"),
            ("lif", "output"),
        ],
    )
    set_dt(g.metadata, DT)
    return g.validate()


def test_delays_are_synapse_delays_and_match_the_reference() -> None:
    g = delayed([0, 1, 2, 3], [0, 2, 1])
    x = (np.random.default_rng(0).random((60, 4)) < 0.4).astype(float)
    ref = nirhub.simulate(g, x, dt=DT).outputs["output"]
    exact = lower(g, rounding="none")
    proj = exact.projections[0]
    assert exact.populations["lif"].model == "lif"
    np.testing.assert_array_equal(proj.delays, np.add.outer([0, 2, 1], [0, 1, 2, 3]))
    got = emulate(exact, x, precision="float64")["outputs"]["output"]
    assert ref.sum() > 5
    np.testing.assert_array_equal(got, ref)
    # the chip's 4-bit weights (scaled to 15): close, and the delays are still exact
    net = lower(g)
    assert np.abs(net.projections[0].weights).max() in (14, 15)  # 15/max|W| * max, truncated
    conns = net.projections[0].connections()
    assert set(conns[:, 3]) <= set(range(6))


def test_delay_survives_the_artifact(tmp_path) -> None:
    g = delayed([0, 1, 2, 3], [0, 2, 1])
    net = lower(g)
    save(net, tmp_path / "d.json")
    back = read(tmp_path / "d.json")
    np.testing.assert_array_equal(back.projections[0].delays, net.projections[0].delays)


def test_delay_beyond_the_synapse_field_is_refused() -> None:
    g = delayed([0, 0, 0, 6], [2, 0, 0])
    with pytest.raises(UnsupportedError) as info:
        lower(g)
    assert "d_pre" in {p.where for p in info.value.problems}
    assert "beyond the synapse field" in str(info.value)
