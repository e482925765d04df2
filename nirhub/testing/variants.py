"""Shared tests for a backend that runs none of the neuron variants (nirhub.ir.conventions).

A backend whose neurons emit single spikes at ``v > threshold``, have no lower bound on v and no
staged zero-order-hold synapse must refuse graphs that record those variants (what Sinabs and
Rockpool export by default) by node name, with the reason, instead of running them
approximately. Subclass :class:`VariantRefusals` in a ``Test*`` class and set
``backend_class`` (and ``backend_label``, the name the refusal uses)::

    class TestNorseVariants(VariantRefusals):
        backend_class = NorseBackend
        backend_label = "norse"
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from nirhub.backend import UnsupportedError
from nirhub.ir import LIF, Affine, CubaLIF, Graph, Input, Output
from nirhub.ir.conventions import set_variant


def graph_with(neuron: Any) -> Graph:
    """Input(3) -> Affine -> ``neuron`` (4 neurons, named ``lif``) -> Output."""
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


class VariantRefusals:
    """Every variant is refused by node; staged CubaLIF only under the exact method."""

    backend_class: ClassVar[type]
    #: how the refusal names the backend (its descriptor name, or the framework's spelling)
    backend_label: ClassVar[str]

    @pytest.fixture
    def backend(self) -> Any:
        return self.backend_class()

    @pytest.mark.parametrize(
        "variant, reason",
        [
            ({"spikes": "multi"}, "floor(v/v_threshold) spikes per step"),
            ({"spikes": "multi", "max_spikes": 2}, "floor(v/v_threshold) spikes per step"),
            ({"threshold": ">="}, "spikes at v >= v_threshold"),
            ({"v_min": -1.0}, "clamps v from below"),
        ],
    )
    def test_variant_is_refused_by_node(self, backend: Any, variant: dict, reason: str) -> None:
        node = lif()
        set_variant(node.metadata, **variant)
        with pytest.raises(UnsupportedError) as info:
            backend.from_ir(graph_with(node), dt=1e-4)
        assert [p.where for p in info.value.problems] == ["lif"]
        assert reason in str(info.value) and self.backend_label in str(info.value)
        assert info.value.hint and "threshold=strict" in info.value.hint

    def test_staged_cubalif_refused_under_exact_accepted_under_euler(self, backend: Any) -> None:
        node = cubalif()
        set_variant(node.metadata, discretization="staged")
        with pytest.raises(UnsupportedError) as info:
            backend.from_ir(graph_with(node), dt=1e-4, method="exact")
        assert "lif" in [p.where for p in info.value.problems]
        assert "staged zero-order hold" in str(info.value)
        # under Euler the staged order is NIR's spec order: nothing to refuse
        assert backend.from_ir(graph_with(node), dt=1e-4, method="euler") is not None
