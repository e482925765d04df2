"""Neuron variants this backend cannot run are refused by node name, with the reason.

norse's neurons emit single spikes at v > threshold, have no lower bound on v and no staged
zero-order-hold synapse; graphs recording those variants (what Sinabs and Rockpool export by
default, see nirhub.ir.conventions.NeuronVariant) are refused instead of run approximately.
"""

from __future__ import annotations

import numpy as np
import pytest
from nirhub_norse.plugin import NorseBackend

from nirhub.errors import UnsupportedError
from nirhub.ir import LIF, Affine, CubaLIF, Graph, Input, Output
from nirhub.ir.conventions import set_variant

BACKEND = NorseBackend()


def graph_with(neuron) -> Graph:
    rng = np.random.default_rng(0)
    return Graph(
        {
            "input": Input((3,)),
            "fc": Affine(rng.normal(size=(4, 3)), np.zeros(4)),
            "lif": neuron,
            "output": Output(),
        },
        [("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


def lif() -> LIF:
    return LIF(np.full(4, 2e-3), np.ones(4), np.zeros(4), np.ones(4), np.zeros(4))


def cubalif() -> CubaLIF:
    return CubaLIF(
        np.full(4, 1e-3), np.full(4, 2e-3), np.ones(4), np.zeros(4), np.ones(4), np.zeros(4)
    )


@pytest.mark.parametrize(
    "variant, reason",
    [
        ({"spikes": "multi"}, "floor(v/v_threshold) spikes per step"),
        ({"spikes": "multi", "max_spikes": 2}, "floor(v/v_threshold) spikes per step"),
        ({"threshold": ">="}, "spikes at v >= v_threshold"),
        ({"v_min": -1.0}, "clamps v from below"),
    ],
)
def test_variant_is_refused_by_node(variant: dict, reason: str) -> None:
    node = lif()
    set_variant(node.metadata, **variant)
    with pytest.raises(UnsupportedError) as info:
        BACKEND.from_ir(graph_with(node), dt=1e-4)
    assert [p.where for p in info.value.problems] == ["lif"]
    assert reason in str(info.value) and "norse" in str(info.value)
    assert info.value.hint and "threshold=strict" in info.value.hint


def test_staged_cubalif_refused_under_exact_accepted_under_euler() -> None:
    node = cubalif()
    set_variant(node.metadata, discretization="staged")
    with pytest.raises(UnsupportedError) as info:
        BACKEND.from_ir(graph_with(node), dt=1e-4, method="exact")
    assert "lif" in [p.where for p in info.value.problems]
    assert "staged zero-order hold" in str(info.value)
    # under Euler the staged order is NIR's spec order: nothing to refuse
    assert BACKEND.from_ir(graph_with(node), dt=1e-4, method="euler") is not None
