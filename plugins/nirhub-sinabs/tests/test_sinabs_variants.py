"""Neuron variants (multi-spike, ``>=``, ``v_min``, staged ZOH) imported into sinabs.

Sinabs runs every variant natively (MultiSpike/MaxSpike(k), its own ``v - thr >= 0`` test,
``min_v_mem``, LIF(tau_syn)'s staged update). Tolerances: spike counts identical (0 differing
counts measured), membrane potentials within 1e-4 (float32 against float64).
"""

from __future__ import annotations

import numpy as np
import pytest
import sinabs.activation as sa
import sinabs.layers as sl
import torch
from conftest import run_sequence
from nirhub_sinabs.plugin import SinabsBackend

from nirhub.ir import LIF, CubaLIF, Graph, Node
from nirhub.ir.conventions import set_reset, set_variant
from nirhub.sim import simulate
from nirhub.testing import affine_mlp

BACKEND = SinabsBackend()
DT = 1e-4


def mlp(neuron: Node) -> Graph:
    return affine_mlp(neuron, weight_scale=3.0)


def lif() -> LIF:
    return LIF(np.full(5, 2e-3), np.full(5, 1.0), np.zeros(5), np.full(5, 0.5))


def cubalif() -> CubaLIF:
    return CubaLIF(np.full(5, 1e-3), np.full(5, 2e-3), np.ones(5), np.zeros(5), np.full(5, 0.5))


VARIANTS = {
    "multi": {"spikes": "multi", "threshold": ">="},
    "multi-strict": {"spikes": "multi"},
    "max2": {"spikes": "multi", "max_spikes": 2, "threshold": ">="},
    "ge": {"threshold": ">="},
    "v_min": {"v_min": -0.3},
    "multi+v_min": {"spikes": "multi", "threshold": ">=", "v_min": np.linspace(-1, 0, 5)},
}


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_match_reference(variant: str, reset: str) -> None:
    node = lif()
    set_reset(node.metadata, reset)
    set_variant(node.metadata, **VARIANTS[variant])
    graph = mlp(node)
    x = (np.random.default_rng(2).random((400, 3, 6)) < 0.4) * 2.0
    got = BACKEND.run(graph, {"input": x}, DT, record=("lif",), method="exact")
    ref = simulate(graph, x, DT, method="exact", record=["lif"])
    assert ref.outputs["output"].sum() > 100
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
    np.testing.assert_allclose(got.recorded["lif"]["v"], ref.recorded["lif"]["v"], atol=1e-4)
    if "multi" in variant or "max" in variant:
        assert ref.outputs["output"].max() >= 2


def test_staged_cubalif_imports_under_exact() -> None:
    node = cubalif()
    set_reset(node.metadata, "subtract")
    set_variant(node.metadata, spikes="multi", threshold=">=", discretization="staged")
    graph = mlp(node)
    x = (np.random.default_rng(3).random((400, 2, 6)) < 0.4) * 2.0
    got = BACKEND.run(graph, {"input": x}, DT, record=("lif",), method="exact")
    ref = simulate(graph, x, DT, method="exact", record=["lif"])
    assert ref.outputs["output"].sum() > 100
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
    np.testing.assert_allclose(got.recorded["lif"]["v"], ref.recorded["lif"]["v"], atol=1e-4)


def test_generated_layers_use_sinabs_own_spike_functions() -> None:
    node = lif()
    set_variant(node.metadata, spikes="multi", max_spikes=3, v_min=-1.0)
    model = BACKEND.from_ir(mlp(node), dt=DT, method="exact")
    layer = next(m for m in model.modules() if isinstance(m, sl.LIF))
    assert isinstance(layer.spike_fn, sa.MaxSpike) and layer.spike_fn.max_num_spikes_per_bin == 3
    assert float(torch.as_tensor(layer.min_v_mem).reshape(-1)[0]) == -1.0


def test_default_model_round_trips_through_nir() -> None:
    """sinabs defaults -> NIR (variants recorded) -> sinabs: the same counts."""
    torch.manual_seed(5)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        sl.LIF(tau_mem=10.0, tau_syn=4.0, min_v_mem=-2.0),
        torch.nn.Linear(8, 3),
        sl.IAF(spike_fn=sa.MaxSpike(2)),
    )
    with torch.no_grad():
        model[0].weight.mul_(20.0)
    graph = BACKEND.to_ir(model, dt=1e-3)
    back = BACKEND.from_ir(graph)
    x = (np.random.default_rng(4).random((300, 2, 4)) < 0.3) * 3.0
    ours = run_sequence(model, x)
    theirs = run_sequence(back, x, squeeze=True)
    assert ours.max() >= 2
    np.testing.assert_array_equal(ours, theirs)


def test_threshold_strict_option_records_nir_test() -> None:
    from nirhub.errors import UsageError
    from nirhub.ir.conventions import get_variant

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), sl.IAF(spike_fn=sa.SingleSpike))
    default = BACKEND.to_ir(model, dt=1e-3)
    assert get_variant(default.nodes["1"]).threshold == ">="
    strict = BACKEND.to_ir(model, dt=1e-3, threshold="strict")
    assert get_variant(strict.nodes["1"]).is_default
    assert get_variant(
        BACKEND.to_ir(sl.IAF(), dt=1e-3, input_shape=4, threshold="strict").nodes["iaf"]
    ).names == ("multi-spike",)
    with pytest.raises(UsageError, match="threshold must be one of"):
        BACKEND.to_ir(model, dt=1e-3, threshold=">")
