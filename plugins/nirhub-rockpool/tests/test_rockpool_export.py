"""rockpool -> NIR: models built with rockpool's own defaults and random weights, exported, run in
nirhub's reference simulator, must spike exactly as rockpool does.

Rockpool's spike rule — ``(v >= thr)*floor(v/thr)`` spikes per step, at most
``max_spikes_per_dt`` (65536 by default) — is recorded per neuron as a variant (multi-spike,
``>=``), LIFTorch's current-first update as a CubaLIF with the staged zero-order hold; the
reference simulator reproduces both. Defaults: tau 20 ms and dt 1 ms, LinearTorch (in, out)
weights, bias, reset by subtraction. Tolerance: spike counts equal (0 differing counts
measured); non-spiking outputs within 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_sequence
from nirhub_rockpool.plugin import RockpoolBackend
from rockpool.nn.combinators import Sequential
from rockpool.nn.modules import ExpSynTorch, LIFNeuronTorch, LIFTorch, LinearTorch

from nirhub.errors import UnsupportedError
from nirhub.ir.conventions import get_dt, get_variant, namespace, reset_mode
from nirhub.sim import simulate

BACKEND = RockpoolBackend()
ONE = {"max_spikes_per_dt": 1}


def events(n_steps: int, n: int, p: float = 0.3, amp: float = 1.0, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n_steps, 3, n)) < p) * amp


def check(model, x: np.ndarray, method: str = "exact"):
    graph = BACKEND.to_ir(model, method=method)
    graph.validate()
    ours = run_sequence(model, x)
    ref = simulate(graph, x, get_dt(graph), method=method).outputs["output"]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)
    return graph, ours


def test_noise_is_refused_by_name() -> None:
    model = Sequential(
        LinearTorch((4, 5)),
        LIFTorch(5, noise_std=0.2),
        LinearTorch((5, 2)),
        LIFNeuronTorch(2),
        ExpSynTorch(2, noise_std=0.1),
    )
    with pytest.raises(UnsupportedError) as info:
        BACKEND.to_ir(model)
    assert {p.where for p in info.value.problems} == {"1_LIFTorch", "4_ExpSynTorch"}
    assert "noise_std=0.1" in str(info.value)


@pytest.mark.parametrize("method", ["exact", "euler"])
@pytest.mark.parametrize(
    "neuron",
    [
        "LIFTorch",
        "LIFTorch(has_rec)",
        "LIFTorch(bias)",
        "LIFNeuronTorch",
        "LIFNeuronTorch(tau_mem=inf)",
        "LIFTorch(max_spikes_per_dt=3)",
    ],
)
def test_rockpool_defaults_export_spike_for_spike(neuron: str, method: str) -> None:
    """Rockpool's own defaults (max_spikes_per_dt = 65536, v >= thr, dt 1 ms, tau 20 ms) with
    random weights: recorded as neuron variants, reproduced count for count."""
    make = {
        "LIFTorch": lambda: LIFTorch(8),
        "LIFTorch(has_rec)": lambda: LIFTorch(8, has_rec=True),
        "LIFTorch(bias)": lambda: LIFTorch(8, bias=0.05),
        "LIFNeuronTorch": lambda: LIFNeuronTorch(8),
        "LIFNeuronTorch(tau_mem=inf)": lambda: LIFNeuronTorch(8, tau_mem=float("inf")),
        "LIFTorch(max_spikes_per_dt=3)": lambda: LIFTorch(8, max_spikes_per_dt=3),
    }[neuron]
    torch.manual_seed(0)
    model = Sequential(LinearTorch((5, 8)), make(), LinearTorch((8, 3)), LIFTorch(3))
    with torch.no_grad():
        model[0].weight.mul_(6.0)  # strong drive: several spikes per step
    x = events(300, 5)
    graph, ours = check(model, x, method)
    assert ours.sum() > 10
    spiking = {p: n for p, n in graph.walk() if n.type_name in ("IF", "LIF", "CubaLIF")}
    for path, node in spiking.items():
        v = get_variant(node, path)
        assert (v.spikes, v.threshold) == ("multi", ">=")
        assert v.max_spikes == (3 if "=3" in neuron and path.startswith("1_") else 65536)
    if neuron in ("LIFTorch", "LIFTorch(max_spikes_per_dt=3)"):
        node = graph.nodes["1_LIFTorch"]
        assert node.type_name == "CubaLIF"
        assert get_variant(node).discretization == "staged"
    first = next(p for p in spiking if p.startswith("1_"))
    ref = simulate(graph, x, get_dt(graph), method=method, record=[first])
    assert ref.recorded[first]["count"].max() >= (3 if "=3" in neuron else 2)


@pytest.mark.parametrize("method", ["exact", "euler"])
@pytest.mark.parametrize(
    "neuron",
    [
        "LIFTorch",
        "LIFTorch(has_rec)",
        "LIFTorch(bias, has_rec)",
        "LIFNeuronTorch",
        "LIFNeuronTorch(bias)",
        "LIFNeuronTorch(tau_mem=inf)",
        "ExpSynTorch",
        "LIFTorch(leak_mode=decays)",
    ],
)
def test_defaults_with_single_spikes_match(neuron: str, method: str) -> None:
    make = {
        "LIFTorch": lambda: LIFTorch(8, **ONE),
        "LIFTorch(has_rec)": lambda: LIFTorch(8, has_rec=True, **ONE),
        "LIFTorch(bias, has_rec)": lambda: LIFTorch(8, has_rec=True, bias=0.02, **ONE),
        "LIFNeuronTorch": lambda: LIFNeuronTorch(8, **ONE),
        "LIFNeuronTorch(bias)": lambda: LIFNeuronTorch(8, bias=0.2, **ONE),
        "LIFNeuronTorch(tau_mem=inf)": lambda: LIFNeuronTorch(8, tau_mem=float("inf"), **ONE),
        "ExpSynTorch": lambda: ExpSynTorch(8),
        "LIFTorch(leak_mode=decays)": lambda: LIFTorch(
            8, leak_mode="decays", alpha=0.9, beta=0.8, **ONE
        ),
    }[neuron]
    torch.manual_seed(0)
    model = Sequential(LinearTorch((5, 8)), make(), LinearTorch((8, 3)), LIFTorch(3, **ONE))
    graph, ours = check(model, events(300, 5), method)
    assert ours.sum() > 10
    meta = namespace(graph.metadata)
    assert meta["method"] == method and get_dt(graph) == 1e-3 and meta["reset"] == "subtract"


def test_time_constants_weights_and_structure() -> None:
    torch.manual_seed(1)
    lif = LIFTorch(4, tau_mem=0.02, tau_syn=0.01, has_rec=True, **ONE)
    model = Sequential(LinearTorch((3, 4)), lif)
    exact = BACKEND.to_ir(model)
    sub = exact.nodes["1_LIFTorch"]
    assert sorted(sub.nodes) == ["input", "lif", "output", "w_rec"]
    np.testing.assert_allclose(sub.nodes["lif"].tau_syn, 0.01, rtol=1e-6)
    np.testing.assert_allclose(sub.nodes["lif"].tau_mem, 0.02, rtol=1e-6)
    np.testing.assert_allclose(sub.nodes["lif"].r, 1 / (1 - np.exp(-1e-3 / 0.02)), rtol=1e-5)
    assert get_variant(sub.nodes["lif"]).discretization == "staged"
    np.testing.assert_array_equal(
        exact.nodes["0_LinearTorch"].weight, model[0].weight.detach().numpy().T
    )  # NIR is (out, in)
    np.testing.assert_array_equal(sub.nodes["w_rec"].weight, lif.w_rec.detach().numpy().T)
    assert reset_mode(exact, "1_LIFTorch.lif") == "subtract"
    euler = BACKEND.to_ir(model, method="euler").nodes["1_LIFTorch"]
    cuba = euler.nodes["lif"]
    assert cuba.type_name == "CubaLIF"
    np.testing.assert_allclose(cuba.tau_syn, 1e-3 / (1 - np.exp(-0.1)), rtol=1e-5)


def test_round_trip_keeps_liftorch() -> None:
    torch.manual_seed(2)
    model = Sequential(
        LinearTorch((5, 8)),
        LIFTorch(8, has_rec=True, bias=0.01, **ONE),
        LinearTorch((8, 3)),
        LIFTorch(3, **ONE),
    )
    x = events(200, 5)
    graph = BACKEND.to_ir(model)
    again = BACKEND.from_ir(graph)
    assert [type(m).__name__ for m in again.modules().values()] == [
        "LinearTorch",
        "LIFTorch",
        "LinearTorch",
        "LIFTorch",
    ]
    np.testing.assert_array_equal(run_sequence(again, x), run_sequence(model, x))
