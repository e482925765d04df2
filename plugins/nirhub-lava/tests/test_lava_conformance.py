"""nirhub's conformance suite for the float backend: every primitive runs like the reference
simulator (spikes are compared exactly: atol below one spike) or is refused by name."""

from __future__ import annotations

import numpy as np

from nirhub.testing import BackendConformance


class TestLavaConformance(BackendConformance):
    backend_name = "lava"
    # Lava's float LIF computes in float64 like the reference; the normalisation of v and the
    # folding of r*dt/tau into the weights reorder the float operations
    rtol = 1e-9
    atol = 1e-9


class TestLoihi2Conformance(BackendConformance):
    """The fixed-point backend on the same primitive graphs. Quantization (8-bit weights and
    graded inputs, 12-bit decays) may move a spike that sits within one quantum of the
    threshold, so the run hook is held to a spike bound instead of float tolerances: at most
    one differing cell per output neuron over the 25 steps and activity similarity >= 0.95."""

    backend_name = "loihi2"

    def _check_run(self, graph, registry):  # noqa: ANN001, ANN202
        from nirhub import metrics
        from nirhub.hub.convert import simulate_with_backend
        from nirhub.testing.graphs import DT, random_inputs, simulate_outputs

        inputs = random_inputs(graph)
        result = simulate_with_backend(graph, inputs, DT, self.backend_name, registry=registry)
        expected = simulate_outputs(graph, inputs, DT)
        for name, ref in zip(graph.outputs, expected, strict=True):
            got = result.outputs[name]
            assert got.shape == ref.shape
            assert ref.sum() > 0, "the primitive graph must spike"
            neurons = int(np.prod(ref.shape[1:]))
            assert metrics.differing_cells(ref, got) <= neurons, (name, ref.sum(), got.sum())
            assert metrics.activity_similarity(ref, got) >= 0.95
