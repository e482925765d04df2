"""The paper's LIF task on SpiNNaker2 (``lif_spinnaker2.csv``, py-spinnaker2's Brian2 backend).

The paper's script multiplied the Affine weight and the threshold by 102.02 and converted with
weight scaling off, reset to zero, forward Euler, conn_delay 0; it ran T + 1 ticks, dropped the
first (latency) tick and divided the voltage by 102.02.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DT
from nirhub_spinnaker2.network import lower

import nirhub
from nirhub.hub.convert import simulate_with_backend
from nirhub.testing.corpus import CORPUS

SCALE = 102.02
PAPER = {"reset": "zero", "weight_scale": "none", "integrator": "forward", "conn_delay": 0}


@pytest.fixture(scope="module")
def task() -> tuple[nirhub.Graph, np.ndarray]:
    graph = nirhub.read(CORPUS / "lif" / "lif_norse.nir")
    affine, lif = graph.nodes["0"], graph.nodes["1"]
    graph.nodes["0"] = affine.replace(weight=affine.weight * SCALE, bias=affine.bias * SCALE)
    graph.nodes["1"] = lif.replace(v_threshold=lif.v_threshold * SCALE)
    csv = np.loadtxt(CORPUS / "lif" / "lif_spinnaker2.csv", delimiter=",")
    return graph, csv


def test_spikes_after_the_latency(task: tuple[nirhub.Graph, np.ndarray]) -> None:
    graph, csv = task
    x = csv[:, :1]
    raw = simulate_with_backend(graph, x, DT, "spinnaker2", latency="raw", **PAPER)
    assert np.nonzero(raw.outputs["output"][:, 0])[0].tolist() == [461, 511, 711, 761]
    comp = simulate_with_backend(graph, x, DT, "spinnaker2", **PAPER)
    assert np.nonzero(comp.outputs["output"][:, 0])[0].tolist() == [460, 510, 710, 760]
    assert np.nonzero(csv[:, 2])[0].tolist() == [460, 510, 710, 760]


def test_voltage_trace_float64(task: tuple[nirhub.Graph, np.ndarray]) -> None:
    graph, csv = task
    net = lower(graph, dt=DT, **PAPER)
    pop = net.populations["1"]
    assert net.projections[0].weights.tolist() == [[102]]  # 102.02 truncated
    assert pop.params["alpha_decay"][0] == np.float32(0.96)
    assert float(pop.params["threshold"][0]) == pytest.approx(0.1 * SCALE / 0.04, rel=1e-6)
    x = np.concatenate([csv[:, :1], np.zeros((1, 1))])  # the script ran T + 1 ticks
    run = simulate_with_backend(
        graph, x, DT, "spinnaker2", record=("1",), latency="raw", precision="float64", **PAPER
    )
    chip_v = run.v("1")[:, 0] * pop.v_scale[0]  # back to the chip's units
    v = chip_v[1:] / SCALE
    np.testing.assert_allclose(v, csv[:, 1], rtol=0, atol=1e-9)
    # float32 (the ARM cores) stays close but is not the Brian2 trace
    f32 = simulate_with_backend(graph, x, DT, "spinnaker2", record=("1",), latency="raw", **PAPER)
    assert np.abs(f32.v("1")[1:, 0] * pop.v_scale[0] / SCALE - csv[:, 1]).max() < 1e-5
