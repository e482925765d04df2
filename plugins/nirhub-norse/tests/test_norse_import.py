"""NIR -> norse: the imported model against nirhub's reference simulator.

Tolerances: norse computes in float32, the reference in float64. Spikes are compared for exact
equality (each test below measured 0 differing spikes); membrane potentials within 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
from nirhub_norse.plugin import NorseBackend

from nirhub.errors import UnsupportedError, UsageError
from nirhub.io import read
from nirhub.ir import IF, CubaLIF, Delay, Graph, I, Input, Output, Threshold
from nirhub.ir.conventions import set_dt
from nirhub.sim import simulate
from nirhub.testing import affine_mlp, assert_runs_like_reference, if_network
from nirhub.testing.corpus import CORPUS, braille_input, lif_task_input

BACKEND = NorseBackend()


@pytest.mark.parametrize("method", ["euler", "exact"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_affine_lif_mlp_matches_reference(method: str, reset: str) -> None:
    graph = affine_mlp()
    x = (np.random.default_rng(2).random((500, 3, 6)) < 0.4) * 2.0
    ref, _ = assert_runs_like_reference(
        BACKEND, graph, x, 1e-4, record=("lif",), method=method, reset=reset
    )
    assert ref.outputs["output"].sum() > 100  # the neurons do fire


@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_braille_graphs_match_reference(name: str, reset: str) -> None:
    """CubaLIF with a recurrent Affine/Linear; reset by subtraction via LIBoxCell+LIFBoxCell."""
    graph = read(CORPUS / "rnn" / f"{name}.nir")
    x = braille_input()
    ref, _ = assert_runs_like_reference(BACKEND, graph, x, 1e-4, record=("lif1.lif",), reset=reset)
    assert ref.recorded["lif1.lif"]["spikes"].sum() > 50


def test_braille_subgraph_file_imports() -> None:
    """The hand-built subgraph variant (read tolerantly: its inner edges dangle)."""
    graph = read(CORPUS / "rnn" / "braille_noDelay_bias_zero_subgraph.nir", strict=False).graph
    x = braille_input()
    got = BACKEND.run(graph, {"input": x}, 1e-4)
    ref = simulate(graph, x, 1e-4)
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])


def test_if_network_matches_reference() -> None:
    rng = np.random.default_rng(3)
    graph = if_network(rng)
    x = (rng.random((300, 2, 8)) < 0.3) * 1.0
    got = BACKEND.run(graph, x, 1e-3, record=("if1",))
    ref = simulate(graph, x, 1e-3, record=["if1"])
    assert ref.recorded["if1"]["spikes"].sum() > 100
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])
    np.testing.assert_array_equal(got.recorded["if1"]["spikes"], ref.recorded["if1"]["spikes"])


def test_cnn_sinabs_graph_on_synthetic_events() -> None:
    """The paper CNN (Conv2d, IF, SumPool2d, Flatten, Affine) on random event counts.

    The file was written by Sinabs with IF r = 1 meaning "v += x per step", i.e. dt = 1 s.
    """
    graph = read(CORPUS / "cnn" / "cnn_sinabs.nir")
    x = np.random.default_rng(4).poisson(0.15, size=(40, 2, 2, 34, 34)).astype(np.float64)
    got = BACKEND.run(graph, x, 1.0, record=("1", "10"))
    ref = simulate(graph, x, 1.0, record=["1", "10"])
    assert ref.recorded["1"]["spikes"].sum() > 1000
    assert ref.recorded["10"]["spikes"].sum() > 10
    for node in ("1", "10"):
        np.testing.assert_array_equal(got.recorded[node]["spikes"], ref.recorded[node]["spikes"])
    np.testing.assert_array_equal(got.outputs["output"], ref.outputs["output"])


def test_paper_lif_task() -> None:
    """lif_norse.nir, input column 0 of lif_exact.csv, dt = 1e-4: spikes at 460, 510, 710, 760."""
    graph = read(CORPUS / "lif" / "lif_norse.nir")
    x = lif_task_input()
    model = BACKEND.from_ir(graph, dt=1e-4)
    from conftest import step_model

    out = step_model(model, x[:, None])[:, 0, 0]
    assert np.flatnonzero(out).tolist() == [460, 510, 710, 760]
    ref = simulate(graph, x, 1e-4)
    np.testing.assert_array_equal(out, ref.outputs["output"][:, 0])


def test_unsupported_nodes_are_all_named() -> None:
    graph = Graph(
        {
            "input": Input((3,)),
            "delay": Delay(np.full(3, 1e-3)),
            "thr": Threshold(np.ones(3)),
            "integ": I(np.ones(3)),
            "output": Output(),
        },
        [("input", "delay"), ("delay", "thr"), ("thr", "integ"), ("integ", "output")],
    )
    with pytest.raises(UnsupportedError) as info:
        BACKEND.from_ir(graph, dt=1e-4)
    assert {p.where for p in info.value.problems} == {"delay", "thr", "integ"}
    for name in ("delay", "thr", "integ"):
        assert name in str(info.value)


def test_exact_cubalif_and_subtracting_if_are_refused() -> None:
    cuba = CubaLIF(np.full(2, 5e-4), np.full(2, 1e-3), np.ones(2), np.zeros(2), np.ones(2))
    graph = Graph(
        {"input": Input((2,)), "c": cuba, "i": IF(np.ones(2), np.ones(2)), "output": Output()},
        [("input", "c"), ("c", "i"), ("i", "output")],
    )
    with pytest.raises(UnsupportedError) as info:
        BACKEND.from_ir(graph, dt=1e-4, method="exact", reset="subtract")
    text = str(info.value)
    assert "c: norse integrates CubaLIF's synaptic current with forward Euler" in text
    assert "i: norse's IAFCell resets to a value only" in text


def test_dt_comes_from_option_or_metadata() -> None:
    graph = affine_mlp()
    with pytest.raises(UsageError, match="no time step"):
        BACKEND.from_ir(graph)
    set_dt(graph.metadata, 2e-4)
    model = BACKEND.from_ir(graph)
    assert model[1].dt == 2e-4
