"""Neuron variants (multi-spike, ``>=``, staged ZOH, ``v_min``) imported into rockpool.

Rockpool runs multi-spike output (``max_spikes_per_dt``), its own ``v >= thr`` test and the
staged zero-order hold (LIFTorch) natively; ``v_min`` it cannot express and refuses by node.
Tolerances: spike counts identical (0 differing counts measured), membrane potentials within
1e-4 (float32 against float64).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_sequence
from nirhub_rockpool.plugin import RockpoolBackend
from rockpool.nn.combinators import Sequential
from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch

from nirhub.errors import UnsupportedError
from nirhub.ir import LIF, CubaLIF, Graph, Node
from nirhub.ir.conventions import set_reset, set_variant
from nirhub.sim import simulate
from nirhub.testing import affine_mlp

BACKEND = RockpoolBackend()
DT = 1e-4


def mlp(neuron: Node) -> Graph:
    return affine_mlp(neuron, weight_scale=3.0)


def lif() -> LIF:
    node = LIF(np.full(5, 2e-3), np.full(5, 1.0), np.zeros(5), np.full(5, 0.5))
    set_reset(node.metadata, "subtract")
    return node


def cubalif() -> CubaLIF:
    node = CubaLIF(np.full(5, 1e-3), np.full(5, 2e-3), np.ones(5), np.zeros(5), np.full(5, 0.5))
    set_reset(node.metadata, "subtract")
    return node


def compare(graph: Graph, seed: int = 2) -> None:
    x = (np.random.default_rng(seed).random((400, 3, 6)) < 0.4) * 2.0
    got = BACKEND.run(graph, {"input": x}, DT, record=("lif",), method="exact")
    ref = simulate(graph, x, DT, method="exact", record=["lif"])
    assert ref.outputs["output"].sum() > 100
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
    np.testing.assert_allclose(got.recorded["lif"]["v"], ref.recorded["lif"]["v"], atol=1e-4)
    if "count" in ref.recorded["lif"]:
        np.testing.assert_array_equal(got.recorded["lif"]["count"], ref.recorded["lif"]["count"])


@pytest.mark.parametrize(
    "variant",
    [
        {"spikes": "multi", "threshold": ">="},
        {"spikes": "multi", "max_spikes": 2, "threshold": ">="},
        {"threshold": ">="},
    ],
    ids=["multi", "max2", "ge"],
)
def test_variants_match_reference(variant: dict) -> None:
    node = lif()
    set_variant(node.metadata, **variant)
    compare(mlp(node))


def test_staged_cubalif_imports_as_liftorch_under_exact() -> None:
    node = cubalif()
    set_variant(node.metadata, spikes="multi", threshold=">=", discretization="staged")
    graph = mlp(node)
    model = BACKEND.from_ir(graph, dt=DT, method="exact")
    assert [type(m).__name__ for m in model.modules().values()] == ["LinearTorch", "LIFTorch"]
    compare(graph)


def test_coupled_exact_cubalif_still_refused() -> None:
    with pytest.raises(UnsupportedError, match="coupled CubaLIF is not expressible"):
        BACKEND.from_ir(mlp(cubalif()), dt=DT, method="exact")


def test_v_min_is_refused_by_node() -> None:
    node = lif()
    set_variant(node.metadata, v_min=-1.0)
    with pytest.raises(UnsupportedError) as info:
        BACKEND.from_ir(mlp(node), dt=DT)
    assert [p.where for p in info.value.problems] == ["lif"]
    assert "clamps v from below" in str(info.value) and "rockpool" in str(info.value)


def test_default_model_round_trips_through_nir() -> None:
    """rockpool defaults -> NIR (variants recorded) -> rockpool: the same counts."""
    torch.manual_seed(5)
    model = Sequential(
        LinearTorch((4, 8)),
        LIFTorch(8, has_rec=True),
        LinearTorch((8, 3)),
        LIFNeuronTorch(3, max_spikes_per_dt=4),
    )
    with torch.no_grad():
        model[0].weight.mul_(8.0)
    graph = BACKEND.to_ir(model)
    back = BACKEND.from_ir(graph)
    assert [type(m).__name__ for m in back.modules().values()] == [
        "LinearTorch",
        "LIFTorch",
        "LinearTorch",
        "LIFNeuronTorch",
    ]
    x = (np.random.default_rng(4).random((300, 2, 4)) < 0.3) * 1.0
    ours = run_sequence(model, x)
    theirs = run_sequence(back, x)
    assert ours.max() >= 2
    np.testing.assert_array_equal(ours, theirs)


def test_threshold_strict_option_records_nir_test() -> None:
    from nirhub.ir.conventions import get_variant

    model = Sequential(LinearTorch((3, 4)), LIFNeuronTorch(4, max_spikes_per_dt=1))
    default = BACKEND.to_ir(model)
    assert get_variant(default.nodes["1_LIFNeuronTorch"]).names == ("threshold>=",)
    strict = BACKEND.to_ir(model, threshold="strict")
    assert get_variant(strict.nodes["1_LIFNeuronTorch"]).is_default
