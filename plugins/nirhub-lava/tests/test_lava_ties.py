"""Ties at the threshold (issue 14): on a quantized IF network (integer weights, thresholds 2
and 3, binary input: what Loihi users deploy) v lands exactly on the threshold, where NIR does
not fire. Lava (weights divided by the threshold in floating point) and Loihi 2 (127 units per
threshold) do not keep that exact: each conversion says so, per node, with the measured
effect, instead of differing silently."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nirhub.hub.backend import ConversionWarning
from nirhub.ir import IF, Graph, Input, Linear, Output


def integer_if_network() -> Graph:
    rng = np.random.default_rng(0)
    return Graph(
        {
            "input": Input((16,)),
            "fc1": Linear(rng.integers(-1, 3, (32, 16)).astype(float)),
            "if1": IF(np.ones(32), np.full(32, 2.0)),
            "fc2": Linear(rng.integers(-1, 3, (8, 32)).astype(float)),
            "if2": IF(np.ones(8), np.full(8, 3.0)),
            "output": Output(),
        },
        [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"), ("if2", "output")],
    )


@pytest.mark.parametrize("name", ["lava", "loihi2"])
def test_ties_are_said_with_the_measured_effect(registry, name: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.get(name).from_ir(integer_if_network(), dt=1.0)
    notes = [str(w.message) for w in caught if issubclass(w.category, ConversionWarning)]
    notes = [n for n in notes if "exactly on the threshold" in n]
    assert len(notes) == 1, notes
    assert notes[0].startswith(name) and "if1:" in notes[0] and "if2:" in notes[0]
