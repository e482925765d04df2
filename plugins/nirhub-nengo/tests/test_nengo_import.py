"""Import agreement: NIR graph -> Nengo network, run in Nengo, versus nirhub.simulate.

Nengo runs in float64 like the reference simulator. Tolerances: spikes must be identical
(0 differing cells); voltages and currents agree to 1e-9 (Nengo discretises its filters with
scipy's matrix exponential and computes ``exp`` through ``expm1``, so the last bits differ).
"""

from __future__ import annotations

import numpy as np
import pytest
from nirhub_nengo.importer import build_network, run

import nirhub
from nirhub.hub.convert import from_ir, simulate_with_backend
from nirhub.ir import IF, LIF, Affine, Graph
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS, braille_input, lif_task_input
from nirhub.testing.networks import affine_mlp, if_network, spike_train, stateful_graph
from nirhub.testing.reference import assert_runs_like_reference

METHODS = ("euler", "exact")
V_TOL = 1e-9


def assert_agree(
    graph: Graph, x, dt: float, method: str, reset: str | None = None, record: tuple[str, ...] = ()
) -> tuple:
    """``run`` against the reference, to this file's tolerances; returns both results."""
    return assert_runs_like_reference(
        run,
        graph,
        x,
        dt,
        method=method,
        reset=reset,
        record=record,
        atol=V_TOL,
        rtol=V_TOL,
        output_atol=V_TOL,
    )


RESETS = ["zero", "subtract", "subtract-delayed", "subtract-guarded"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reset", RESETS)
def test_mlp(method: str, reset: str) -> None:
    g = affine_mlp()
    ref, _ = assert_agree(g, spike_train((6,), 300, 0.3), 1e-4, method, reset, record=("lif",))
    assert ref.spikes("lif").sum() > 25  # the test is not vacuous


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reset", RESETS)
def test_if_network(method: str, reset: str) -> None:
    ref, _ = assert_agree(
        if_network(np.random.default_rng(1)),
        spike_train((8,), 200, 0.4),
        1e-4,
        method,
        reset,
        record=("if1", "if2"),
    )
    assert ref.spikes("if1").sum() > 25


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
def test_braille(name: str, method: str) -> None:
    g = nirhub.read(CORPUS / "rnn" / f"{name}.nir")
    # how each graph was trained (the file does not say): graph B with snnTorch's subtraction
    reset = "zero" if name.endswith("zero") else "subtract-guarded"
    ref, res = assert_agree(g, braille_input(), 1e-4, method, reset, record=("lif1.lif", "lif2"))
    assert ref.spikes("lif1.lif").sum() > 90
    if method == "euler":
        # the paper's snnTorch activity, reproduced through Nengo (0 differing cells)
        act = np.load(CORPUS / "rnn" / f"snntorch_activity_{name[8:]}.npy")
        assert np.array_equal(res.spikes("lif1.lif"), act.astype(bool))


def test_braille_subgraph_file() -> None:
    """The nested-subgraph twin (read tolerantly) gives the flat graph's spikes."""
    flat = nirhub.read(CORPUS / "rnn" / "braille_noDelay_bias_zero.nir")
    nested = nirhub.read(
        CORPUS / "rnn" / "braille_noDelay_bias_zero_subgraph.nir", strict=False
    ).graph
    x = braille_input()
    a = run(flat, x, 1e-4).outputs["output"]
    b = run(nested, x, 1e-4).outputs[nested.outputs[0]]
    assert np.array_equal(a, b)


@pytest.mark.parametrize("method", METHODS)
def test_cnn_sinabs(method: str) -> None:
    """The paper CNN on synthetic events, dt = 1 (Sinabs counts steps: v += x)."""
    g = nirhub.read(CORPUS / "cnn" / "cnn_sinabs.nir")
    x = spike_train((2, 34, 34), 25, 0.15, seed=3)
    ref, _ = assert_agree(g, x, 1.0, method, "subtract", record=("1", "10"))
    assert ref.spikes("1").sum() > 1000 and ref.spikes("10").sum() > 0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_paper_lif_task(method: str, reset: str) -> None:
    """lif_norse.nir on the paper's input: spikes at steps 460, 510, 710, 760."""
    g = nirhub.read(CORPUS / "lif" / "lif_norse.nir")
    res = run(g, lif_task_input(), 1e-4, method=method, reset=reset, record=("1",))
    steps = np.flatnonzero(res.outputs[g.outputs[0]][:, 0])
    assert steps.tolist() == [460, 510, 710, 760]
    exact = np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")[:, 1]
    r = np.corrcoef(exact, res.v("1")[:, 0])[0, 1]
    assert r > 0.999


def test_batch_and_hub_run_hook() -> None:
    """A batch runs sample by sample; the hub's simulate_with_backend gives the same."""
    g = affine_mlp(seed=4)
    x = spike_train((3, 6), 120, 0.3, seed=5)  # (T, B, 6)
    ref = simulate(g, x, 1e-4)
    res = simulate_with_backend(g, x, 1e-4, "nengo")
    assert res.outputs["output"].shape == (120, 3, 5)
    assert np.array_equal(ref.outputs["output"], res.outputs["output"])
    assert res.method == "euler" and res.batch_size == 3


def test_primitives_with_state_and_delays() -> None:
    """Delay, Threshold, LI, CubaLI, I and a recurrent Delay loop in one graph."""

    g = stateful_graph()
    x = spike_train((4,), 150, 0.4, seed=2)
    for method in METHODS:
        ref, _ = assert_agree(g, x, 1e-4, method, record=("cuba", "li", "cli", "i", "th"))
        assert ref.spikes("cuba").sum() > 10


def test_from_ir_returns_a_nengo_network() -> None:
    import nengo

    one_tau = LIF(np.full(5, 2e-3), np.ones(5), np.zeros(5), np.full(5, 0.3), np.zeros(5))
    net = from_ir(affine_mlp(one_tau), "nengo", dt=1e-4)
    assert isinstance(net, nengo.Network)
    assert net.nirhub_dt == 1e-4 and net.nirhub_method == "euler"
    lif = net.by_label["lif"]  # (a LIF of several time constants has one ensemble per tau)
    assert isinstance(lif.neuron_type, nengo.LIF) and lif.neuron_type.tau_ref == 0
    assert lif.neuron_type.amplitude == pytest.approx(1e-4)  # a spike is 1 for one step


def test_exact_method_uses_the_time_constant_itself() -> None:
    import nengo

    g = affine_mlp()
    net = build_network(g, 1e-4, method="exact")
    taus = sorted(e.neuron_type.tau_rc for e in net.all_ensembles)
    assert np.allclose(taus, np.unique(g.nodes["lif"].tau))
    assert all(isinstance(e.neuron_type, nengo.LIF) for e in net.all_ensembles)


def test_refuses_a_threshold_below_the_reset_value() -> None:
    from nirhub.errors import UnsupportedError

    g = Graph.from_list(
        Affine(np.ones((2, 2)), np.zeros(2)),
        LIF(np.full(2, 1e-3), np.ones(2), np.zeros(2), np.array([1.0, -0.5]), np.zeros(2)),
        Affine(np.ones((2, 2)), np.zeros(2)),
        IF(np.ones(2), np.array([-1.0, 1.0]), np.zeros(2)),
    )
    with pytest.raises(UnsupportedError) as info:
        build_network(g, 1e-4)
    where = {p.where for p in info.value.problems}
    assert where == {"lif", "if"}  # both offending nodes, in one error
