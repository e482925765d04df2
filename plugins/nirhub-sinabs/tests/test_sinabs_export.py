"""sinabs -> NIR: models built with sinabs' own defaults and random weights, exported, run in
nirhub's reference simulator, must spike exactly as sinabs does.

Sinabs' defaults beyond NIR's (MultiSpike, the test v >= thr, min_v_mem, LIF(tau_syn)'s staged
update) are recorded per node as neuron variants, which the reference simulator reproduces:
norm_input=True (r = 1), tau in steps (tau = tau_steps*dt), MembraneSubtract (reset
"subtract"). Tolerance: spike counts equal (0 differing counts measured); states and
non-spiking outputs within 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import sinabs.activation as sa
import sinabs.layers as sl
import torch
from conftest import run_sequence
from nirhub_sinabs.plugin import SinabsBackend

from nirhub.errors import UnsupportedError, UsageError
from nirhub.ir.conventions import get_dt, get_variant, namespace, reset_mode
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS

BACKEND = SinabsBackend()
DT = 1e-3


def events(
    n_steps: int, shape: tuple[int, ...], p: float = 0.3, amp: float = 3.0, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n_steps, 3, *shape)) < p) * amp


def check(model, x: np.ndarray, method: str = "exact", squeeze: bool = False, **options):
    graph = BACKEND.to_ir(model, dt=DT, method=method, **options)
    graph.validate()
    ours = run_sequence(model, x, squeeze=squeeze)
    ref = simulate(graph, x, get_dt(graph), method=method).outputs["output"]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)
    return graph, ours


@pytest.mark.parametrize("method", ["exact", "euler"])
@pytest.mark.parametrize(
    "layer",
    [
        "IAF()",
        "LIF(tau_mem)",
        "LIF(tau_mem, tau_syn)",
        "LIF(MaxSpike(3))",
        "IAF(min_v_mem)",
        "LIF(min_v_mem, MembraneReset, norm_input=False)",
        "LIFRecurrent(norm_input=False)",
    ],
)
def test_sinabs_defaults_export_spike_for_spike(layer: str, method: str) -> None:
    """Sinabs' own defaults (MultiSpike, MembraneSubtract, norm_input=True, v >= thr):
    recorded as neuron variants, reproduced by the reference simulator count for count."""
    torch.manual_seed(1)
    make = {
        "IAF()": lambda: sl.IAF(),
        "LIF(tau_mem)": lambda: sl.LIF(tau_mem=10.0),
        "LIF(tau_mem, tau_syn)": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0),
        "LIF(MaxSpike(3))": lambda: sl.LIF(tau_mem=10.0, spike_fn=sa.MaxSpike(3)),
        "IAF(min_v_mem)": lambda: sl.IAF(min_v_mem=-0.5),
        "LIF(min_v_mem, MembraneReset, norm_input=False)": lambda: sl.LIF(
            tau_mem=8.0, min_v_mem=-1.0, reset_fn=sa.MembraneReset(), norm_input=False
        ),
        "LIFRecurrent(norm_input=False)": lambda: sl.LIFRecurrent(
            tau_mem=10.0, rec_connect=torch.nn.Linear(8, 8, bias=False), norm_input=False
        ),
    }[layer]
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), make(), torch.nn.Linear(8, 3), sl.IAF())
    with torch.no_grad():
        # strong drive, several spikes per step (norm_input=True scales the input by 1 - a)
        model[0].weight.mul_(3.0 if "IAF" in layer or "norm" in layer else 25.0)
    graph, ours = check(model, events(300, (5,)), method=method)
    flat = {p: n for p, n in graph.walk() if n.type_name in ("IF", "LIF", "CubaLIF")}
    variants = {p: get_variant(n, p) for p, n in flat.items()}
    assert all(v.threshold == ">=" for v in variants.values())
    if layer == "LIF(MaxSpike(3))":
        assert variants["1"].max_spikes == 3
    elif "MembraneReset" not in layer:
        assert all(v.spikes == "multi" for v in variants.values())
    if "min_v_mem" in layer:
        assert variants["1"].v_min is not None
    if "tau_syn" in layer:
        assert graph.nodes["1"].type_name == "CubaLIF"
        assert variants["1"].discretization == "staged"
    ref = simulate(
        graph,
        events(300, (5,)),
        DT,
        method=method,
        record=["1"] if "Recurrent" not in layer else ["1.neuron"],
    )
    counts = next(iter(ref.recorded.values())).get("count")
    if "MembraneReset" not in layer:
        assert counts is not None and counts.max() >= 2  # really several spikes per step
    assert ours.sum() > 10


def test_sinabs_default_mlp_exports_exactly() -> None:
    """The defaults throughout: Linear, IAF(), Linear, LIF(), Linear, IAF() (MultiSpike)."""
    torch.manual_seed(7)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 12),
        sl.IAF(),
        torch.nn.Linear(12, 10),
        sl.LIF(tau_mem=20.0),
        torch.nn.Linear(10, 4),
        sl.IAF(),
    )
    with torch.no_grad():
        model[2].weight.mul_(40.0)
    x = events(400, (6,), amp=4.0)
    graph, ours = check(model, x)
    ref = simulate(graph, x, DT, record=["1", "3"])
    assert ref.recorded["1"]["count"].max() >= 2 and ref.recorded["3"]["count"].max() >= 2
    assert ours.sum() > 20


@pytest.mark.parametrize("method", ["exact", "euler"])
@pytest.mark.parametrize(
    "layer",
    [
        "IAF",
        "LIF",
        "LIF(norm_input=False)",
        "LIF(tau_syn)",
        "IAF(tau_syn)",
        "ExpLeak",
        "IAF(MembraneReset)",
        "LIF(MaxSpike(1))",
    ],
)
def test_defaults_with_single_spikes_match(layer: str, method: str) -> None:
    single = {"spike_fn": sa.SingleSpike}
    make = {
        "IAF": lambda: sl.IAF(**single),
        "LIF": lambda: sl.LIF(tau_mem=10.0, **single),
        "LIF(norm_input=False)": lambda: sl.LIF(tau_mem=10.0, norm_input=False, **single),
        "LIF(tau_syn)": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, norm_input=False, **single),
        "IAF(tau_syn)": lambda: sl.IAF(tau_syn=4.0, **single),
        "ExpLeak": lambda: sl.ExpLeak(tau_mem=8.0),
        "IAF(MembraneReset)": lambda: sl.IAF(reset_fn=sa.MembraneReset(), **single),
        "LIF(MaxSpike(1))": lambda: sl.LIF(tau_mem=10.0, norm_input=False, spike_fn=sa.MaxSpike(1)),
    }[layer]
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 8), make(), torch.nn.Linear(8, 3), sl.IAF(**single)
    )
    graph, ours = check(model, events(300, (5,)), method=method)
    assert ours.sum() > 10
    assert namespace(graph.metadata)["method"] == method and get_dt(graph) == DT


def test_time_constants_are_steps_times_dt() -> None:
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 2), sl.LIF(tau_mem=25.0, spike_fn=sa.SingleSpike)
    )
    graph = BACKEND.to_ir(model, dt=1e-4)
    np.testing.assert_allclose(graph.nodes["1"].tau, 2.5e-3, rtol=1e-6)
    np.testing.assert_allclose(graph.nodes["1"].r, 1.0)  # norm_input=True
    assert reset_mode(graph, "1") == "subtract" and graph.nodes["1"].v_reset is None
    euler = BACKEND.to_ir(model, dt=1e-4, method="euler")
    np.testing.assert_allclose(euler.nodes["1"].tau, 1e-4 / (1 - np.exp(-1 / 25)), rtol=1e-6)


def test_dt_is_required() -> None:
    with pytest.raises(UsageError, match="sinabs counts time in steps"):
        BACKEND.to_ir(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_recurrent_layer_becomes_a_subgraph() -> None:
    torch.manual_seed(3)
    rec = sl.LIFRecurrent(
        tau_mem=10.0,
        rec_connect=torch.nn.Linear(6, 6, bias=False),
        spike_fn=sa.SingleSpike,
        norm_input=False,
    )
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), rec, torch.nn.Linear(6, 2), sl.IAF(spike_fn=sa.SingleSpike)
    )
    graph, _ = check(model, events(300, (4,)))
    assert set(graph.nodes["1"].nodes) == {"input", "neuron", "rec", "output"}
    ref = simulate(graph, events(300, (4,)), DT, method="exact", record=["1.neuron"])
    assert ref.recorded["1.neuron"]["spikes"].sum() > 50


def test_speck_style_convolutional_model() -> None:
    """Conv2d, IAFSqueeze, SumPool2d, Flatten, Linear: the layout Speck runs (B*T input)."""
    torch.manual_seed(4)
    sq = {"batch_size": 3, "spike_fn": sa.SingleSpike}
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(**sq),
        sl.SumPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 5, bias=False),
        sl.IAFSqueeze(**sq),
    )
    x = events(60, (2, 16, 16), p=0.2, amp=2.0)
    graph, ours = check(model, x, squeeze=True, input_shape="2,16,16")
    assert ours.sum() > 10
    assert graph.nodes["2"].type_name == "SumPool2d"
    assert (graph.nodes["3"].start_dim, graph.nodes["3"].end_dim) == (0, -1)


def test_every_unsupported_module_is_named() -> None:
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 4),
        torch.nn.ReLU(),
        sl.ALIF(tau_mem=5.0, tau_adapt=5.0),
        sl.IAF(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset(reset_value=0.5)),
    )
    with pytest.raises(UnsupportedError) as info:
        BACKEND.to_ir(model, dt=DT)
    assert {p.where for p in info.value.problems} == {"1", "2", "3"}
    assert "sinabs adds reset_value to every neuron" in str(info.value)


def test_round_trip_through_import() -> None:
    from nirhub.io import read
    from nirhub.testing import behaviour_difference

    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    model = BACKEND.from_ir(graph, dt=1e-4)
    back = BACKEND.to_ir(model, dt=1e-4)  # the model says it reproduces method "euler"
    assert namespace(back.metadata)["method"] == "euler"
    assert behaviour_difference(graph, back, steps=100, rtol=1e-4, atol=1e-4) == ""
