"""norse -> NIR: models built with norse's own defaults and random weights, exported, run in
nirhub's reference simulator (forward Euler at the cells' dt), must spike exactly as norse does.

Tolerance: spikes equal (0 differing spikes measured in every case); non-spiking outputs within
1e-5 (float32 against float64).
"""

from __future__ import annotations

import norse.torch as norse
import numpy as np
import pytest
import torch
from conftest import step_model
from nirhub_norse.plugin import NorseBackend

from nirhub.errors import UnsupportedError
from nirhub.ir.conventions import get_dt, namespace, reset_mode
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS

BACKEND = NorseBackend()


def spikes_in(
    n_steps: int, shape: tuple[int, ...], p: float = 0.3, amp: float = 3.0, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n_steps, 4, *shape)) < p) * amp


def check(model, x: np.ndarray, **options) -> None:
    graph = BACKEND.to_ir(model, **options)
    graph.validate()
    ours = step_model(model, x)
    ref = simulate(graph, x, get_dt(graph), method="euler").outputs["output"]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)
    return graph


@pytest.mark.parametrize("cell", ["LIFBoxCell", "LIFCell", "IAFCell"])
def test_spiking_cells_with_defaults(cell: str) -> None:
    torch.manual_seed(0)
    model = norse.SequentialState(
        torch.nn.Linear(5, 8), getattr(norse, cell)(), torch.nn.Linear(8, 3), norse.LIFCell()
    )
    x = spikes_in(300, (5,))
    graph = check(model, x)
    assert step_model(model, x).sum() > 20
    assert get_dt(graph) == 1e-3 and namespace(graph.metadata)["method"] == "euler"


@pytest.mark.parametrize("cell", ["LIBoxCell", "LICell"])
def test_leaky_integrators_with_defaults(cell: str) -> None:
    torch.manual_seed(1)
    model = norse.SequentialState(torch.nn.Linear(5, 8), getattr(norse, cell)())
    check(model, spikes_in(200, (5,)))


def test_time_constants_are_one_over_tau_inv() -> None:
    """Not norse 1.1.0's dt/tau_inv (norse#411)."""
    model = norse.SequentialState(
        torch.nn.Linear(2, 2),
        norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0)), dt=1e-4),
        torch.nn.Linear(2, 2),
        norse.LIFCell(
            norse.LIFParameters(tau_syn_inv=torch.tensor(200.0), tau_mem_inv=torch.tensor(50.0)),
            dt=1e-4,
        ),
    )
    graph = BACKEND.to_ir(model)
    np.testing.assert_allclose(graph.nodes["1"].tau, 0.01)
    np.testing.assert_allclose(graph.nodes["1"].r, 1.0)
    np.testing.assert_allclose(graph.nodes["3"].tau_syn, 5e-3)
    np.testing.assert_allclose(graph.nodes["3"].tau_mem, 2e-2)
    np.testing.assert_allclose(graph.nodes["3"].w_in, 5e-3 / 1e-4)  # tau_syn / dt
    assert get_dt(graph) == 1e-4


def test_subtractive_reset_and_v_reset_are_recorded() -> None:
    torch.manual_seed(2)
    sub = norse.LIFBoxParameters(reset_method=norse.reset_subtract, v_th=torch.tensor(0.5))
    val = norse.LIFBoxParameters(v_reset=torch.tensor(-0.2), v_th=torch.tensor(0.5))
    model = norse.SequentialState(
        torch.nn.Linear(4, 6), norse.LIFBoxCell(sub), torch.nn.Linear(6, 3), norse.LIFBoxCell(val)
    )
    graph = check(model, spikes_in(300, (4,), amp=4.0))
    assert reset_mode(graph, "1") == "subtract" and graph.nodes["1"].v_reset is None
    assert reset_mode(graph, "3") == "zero"
    np.testing.assert_allclose(graph.nodes["3"].v_reset, -0.2)


def test_recurrent_cell_becomes_a_subgraph() -> None:
    torch.manual_seed(3)
    model = norse.SequentialState(
        norse.LIFRecurrentCell(5, 10), torch.nn.Linear(10, 2), norse.LIFCell()
    )
    x = spikes_in(300, (5,), amp=20.0)
    graph = check(model, x)
    inner = graph.nodes["0"]
    assert sorted(inner.nodes) == ["input", "lif", "output", "w_in", "w_rec"]
    assert ("w_rec", "lif") in inner.edges
    ref = simulate(graph, x, 1e-3, record=["0.lif"])
    assert ref.recorded["0.lif"]["spikes"].sum() > 100


def test_convolutional_model() -> None:
    torch.manual_seed(4)
    model = norse.SequentialState(
        torch.nn.Conv2d(2, 4, 3, stride=2, padding=1),
        norse.LIFBoxCell(),
        torch.nn.AvgPool2d(2),
        torch.nn.LPPool2d(1, 2),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 5),
        norse.LIFCell(),
    )
    x = spikes_in(100, (2, 16, 16), p=0.2, amp=5.0)
    graph = check(model, x, input_shape="2,16,16")
    assert graph.nodes["3"].type_name == "SumPool2d"
    flat = graph.nodes["4"]
    assert (flat.start_dim, flat.end_dim) == (0, -1)  # torch dims minus the batch axis


def test_every_unsupported_module_is_named() -> None:
    model = norse.SequentialState(
        torch.nn.Linear(4, 4),
        torch.nn.ReLU(),
        norse.LSNNCell(),
        torch.nn.Linear(4, 4),
        torch.nn.Tanh(),
    )
    with pytest.raises(UnsupportedError) as info:
        BACKEND.to_ir(model)
    assert {p.where for p in info.value.problems} == {"1", "2", "4"}
    assert "ReLU" in str(info.value) and "LSNNCell" in str(info.value)


def test_round_trip_through_import() -> None:
    """export(import(graph)) behaves like the graph (a Network class with recurrence)."""

    from nirhub.io import read
    from nirhub.testing import behaviour_difference

    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    model = BACKEND.from_ir(graph, dt=1e-4)
    back = BACKEND.to_ir(model)
    assert behaviour_difference(graph, back, steps=100, rtol=1e-4, atol=1e-4) == ""
