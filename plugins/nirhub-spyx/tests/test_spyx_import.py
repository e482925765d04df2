"""Import agreement: NIR graph -> Spyx model (GraphModel), run in JAX, versus nirhub.simulate.

The run hook computes in float64 (``precision="float64"``, the default), like the reference
simulator. Tolerances: spikes identical (0 differing cells); voltages and currents 1e-9.
In float32 (Spyx's default dtype) spikes may flip where a voltage lands within float32
rounding of the threshold; the test allows at most 0.5 % of the spike events to differ.
"""

from __future__ import annotations

import numpy as np
import pytest
from nirhub_spyx.importer import run

import nirhub
from nirhub.hub.convert import from_ir, simulate_with_backend
from nirhub.ir import Graph
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
        run, graph, x, dt, method=method, reset=reset, record=record, atol=V_TOL, rtol=V_TOL
    )


@pytest.mark.parametrize(
    ("method", "reset"),
    [
        ("euler", "zero"),
        ("exact", "subtract"),
        ("euler", "subtract-delayed"),
        ("exact", "subtract-guarded"),
    ],
)
def test_mlp(method: str, reset: str) -> None:
    ref, _ = assert_agree(
        affine_mlp(), spike_train((6,), 300, 0.3), 1e-4, method, reset, record=("lif",)
    )
    assert ref.spikes("lif").sum() > 25


def test_if_network() -> None:
    ref, _ = assert_agree(
        if_network(np.random.default_rng(1)),
        spike_train((8,), 200, 0.4),
        1e-4,
        "euler",
        "zero",
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
    if method == "euler":  # the paper's snnTorch activity, 0 differing cells
        act = np.load(CORPUS / "rnn" / f"snntorch_activity_{name[8:]}.npy")
        assert np.array_equal(res.spikes("lif1.lif"), act.astype(bool))


def test_cnn_sinabs() -> None:
    g = nirhub.read(CORPUS / "cnn" / "cnn_sinabs.nir")
    x = spike_train((2, 2, 34, 34), 25, 0.15, seed=3)  # a batch of 2
    ref, _ = assert_agree(g, x, 1.0, "euler", "subtract", record=("1", "10"))
    assert ref.spikes("1").sum() > 1000 and ref.spikes("10").sum() > 0


@pytest.mark.parametrize("method", METHODS)
def test_paper_lif_task(method: str) -> None:
    """NIR-timed neurons: 460, 510, 710, 760 (Spyx's own LIF is one step late, see export)."""
    g = nirhub.read(CORPUS / "lif" / "lif_norse.nir")
    res = run(g, lif_task_input(), 1e-4, method=method, reset="subtract", record=("1",))
    assert np.flatnonzero(res.outputs[g.outputs[0]][:, 0]).tolist() == [460, 510, 710, 760]
    exact = np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")[:, 1]
    assert np.corrcoef(exact, res.v("1")[:, 0])[0, 1] > 0.999


def test_float32_like_spyx_users_run_it() -> None:
    """Spyx's default dtype: spikes agree within float32 rounding at threshold crossings."""
    g = nirhub.read(CORPUS / "rnn" / "braille_noDelay_bias_zero.nir")
    x = braille_input()
    ref = simulate(g, x, 1e-4, record=("lif1.lif",))
    res = simulate_with_backend(g, x, 1e-4, "spyx", record=("lif1.lif",), precision="float32")
    a, b = ref.spikes("lif1.lif"), res.spikes("lif1.lif")
    assert np.count_nonzero(a != b) <= 0.005 * max(a.sum(), 1)
    assert res.outputs["output"].dtype == np.float32


def test_model_runs_with_spyx_run_and_trains() -> None:
    """The imported model is a Spyx stateful layer: spyx.nn.run scans it, jax.grad trains it."""
    import jax
    import jax.numpy as jnp
    import spyx
    from flax import nnx

    g = affine_mlp(seed=2)
    model = from_ir(g, "spyx", dt=1e-4)
    x = jnp.asarray(spike_train((2, 6), 60, 0.3, seed=1), jnp.float32)
    out, _ = spyx.nn.run(model, x)
    ref = simulate(g, np.asarray(x), 1e-4, dtype=np.float32)
    assert np.count_nonzero(np.asarray(out) != ref.outputs["output"]) <= 2

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p):
        m = nnx.merge(graphdef, p, rest)
        y, _ = spyx.nn.run(m, x)
        return jnp.mean(y)

    grads = jax.grad(loss)(params)
    leaves = jax.tree_util.tree_leaves(grads)
    assert leaves and all(bool(jnp.all(jnp.isfinite(v))) for v in leaves)
    assert any(float(jnp.abs(v).sum()) > 0 for v in leaves)  # surrogate gradients flow


def test_recurrent_delay_and_stateless_primitives() -> None:

    g = stateful_graph()
    x = spike_train((4,), 150, 0.4, seed=2)
    ref = simulate(g, x, 1e-4, record=("cuba",))
    res = run(g, {"in": x}, 1e-4, record=("cuba",))
    assert ref.spikes("cuba").sum() > 10
    assert np.array_equal(ref.outputs["out"], res.outputs["out"])
    np.testing.assert_allclose(res.outputs["out2"], ref.outputs["out2"], rtol=V_TOL, atol=V_TOL)
    assert np.array_equal(ref.spikes("cuba"), res.spikes("cuba"))
