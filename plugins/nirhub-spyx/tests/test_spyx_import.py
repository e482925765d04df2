"""Import agreement: NIR graph -> Spyx model (GraphModel), run in JAX, versus nirhub.simulate.

The run hook computes in float64 (``precision="float64"``, the default), like the reference
simulator. Tolerances: spikes identical (0 differing cells); voltages and currents 1e-9.
In float32 (Spyx's default dtype) spikes may flip where a voltage lands within float32
rounding of the threshold; the test allows at most 0.5 % of the spike events to differ.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import braille_input, lif_task_input, spikes_in
from nirhub_spyx.importer import run

import nirhub
from nirhub.hub.convert import from_ir, simulate_with_backend
from nirhub.ir import IF, LIF, Affine, Graph, set_dt
from nirhub.sim import simulate

METHODS = ("euler", "exact")
V_TOL = 1e-9


def mlp(seed: int = 0) -> Graph:
    r = np.random.default_rng(seed)
    g = Graph.from_list(
        Affine(r.normal(0.8, 0.6, (10, 6)), r.normal(0, 0.1, 10)),
        LIF(
            r.uniform(1e-3, 5e-3, 10),
            r.uniform(0.8, 1.5, 10),
            r.normal(0, 0.05, 10),
            r.uniform(0.5, 1.0, 10),
            np.zeros(10),
        ),
        Affine(r.normal(0.5, 0.5, (4, 10)), np.zeros(4)),
        LIF(np.full(4, 2e-3), np.ones(4), np.zeros(4), np.full(4, 0.3), np.zeros(4)),
    )
    set_dt(g.metadata, 1e-4)
    return g


def if_net(seed: int = 1) -> Graph:
    r = np.random.default_rng(seed)
    g = Graph.from_list(
        Affine(r.normal(0.5, 1.0, (8, 5)), r.normal(0, 0.1, 8)),
        IF(np.full(8, 2000.0), r.uniform(0.5, 1.5, 8)),
        Affine(r.normal(0.5, 1.0, (3, 8)), np.zeros(3)),
        IF(np.full(3, 1000.0), np.ones(3), np.zeros(3)),
    )
    set_dt(g.metadata, 1e-4)
    return g


def assert_agree(
    graph: Graph, x, dt: float, method: str, reset: str | None = None, record: tuple[str, ...] = ()
) -> tuple:
    ref = simulate(graph, x, dt, method=method, reset=reset, record=record)
    res = run(graph, x, dt, method=method, reset=reset, record=record)
    for name in graph.outputs:
        a, b = ref.outputs[name], res.outputs[name]
        assert a.shape == b.shape
        assert np.count_nonzero(a != b) == 0, f"{name}: spikes differ"
    for path in record:
        for var, a in ref.recorded[path].items():
            b = res.recorded[path][var]
            if var == "spikes":
                assert np.array_equal(a, b), f"{path}.spikes differ"
            else:
                np.testing.assert_allclose(b, a, rtol=V_TOL, atol=V_TOL, err_msg=f"{path}.{var}")
    return ref, res


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
        mlp(), spikes_in((6,), 300, 0.3), 1e-4, method, reset, record=("lif", "lif_1")
    )
    assert ref.spikes("lif").sum() > 50


def test_if_network() -> None:
    ref, _ = assert_agree(
        if_net(), spikes_in((5,), 200, 0.4), 1e-4, "euler", "zero", record=("if", "if_1")
    )
    assert ref.spikes("if").sum() > 50


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
def test_braille(name: str, method: str, corpus) -> None:
    g = nirhub.read(corpus / "rnn" / f"{name}.nir")
    # how each graph was trained (the file does not say): graph B with snnTorch's subtraction
    reset = "zero" if name.endswith("zero") else "subtract-guarded"
    ref, res = assert_agree(g, braille_input(), 1e-4, method, reset, record=("lif1.lif", "lif2"))
    assert ref.spikes("lif1.lif").sum() > 90
    if method == "euler":  # the paper's snnTorch activity, 0 differing cells
        act = np.load(corpus / "rnn" / f"snntorch_activity_{name[8:]}.npy")
        assert np.array_equal(res.spikes("lif1.lif"), act.astype(bool))


def test_cnn_sinabs(corpus) -> None:
    g = nirhub.read(corpus / "cnn" / "cnn_sinabs.nir")
    x = spikes_in((2, 2, 34, 34), 25, 0.15, seed=3)  # a batch of 2
    ref, _ = assert_agree(g, x, 1.0, "euler", "subtract", record=("1", "10"))
    assert ref.spikes("1").sum() > 1000 and ref.spikes("10").sum() > 0


@pytest.mark.parametrize("method", METHODS)
def test_paper_lif_task(method: str, corpus) -> None:
    """NIR-timed neurons: 460, 510, 710, 760 (Spyx's own LIF is one step late, see export)."""
    g = nirhub.read(corpus / "lif" / "lif_norse.nir")
    res = run(g, lif_task_input(), 1e-4, method=method, reset="subtract", record=("1",))
    assert np.flatnonzero(res.outputs[g.outputs[0]][:, 0]).tolist() == [460, 510, 710, 760]
    exact = np.loadtxt(corpus / "lif" / "lif_exact.csv", delimiter=",")[:, 1]
    assert np.corrcoef(exact, res.v("1")[:, 0])[0, 1] > 0.999


def test_float32_like_spyx_users_run_it(corpus) -> None:
    """Spyx's default dtype: spikes agree within float32 rounding at threshold crossings."""
    g = nirhub.read(corpus / "rnn" / "braille_noDelay_bias_zero.nir")
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

    g = mlp(seed=2)
    model = from_ir(g, "spyx")
    x = jnp.asarray(spikes_in((2, 6), 60, 0.3, seed=1), jnp.float32)
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
    from nirhub.ir import LI, CubaLI, CubaLIF, Delay, I, Input, Linear, Output, Scale, Threshold

    r = np.random.default_rng(9)
    n = 4
    nodes = {
        "in": Input((n,)),
        "w": Affine(r.normal(1, 0.5, (n, n)), r.normal(0, 0.2, n)),
        "d": Delay(np.array([0.0, 1e-4, 2e-4, 5e-4])),
        "cuba": CubaLIF(
            np.full(n, 3e-4),
            np.full(n, 1e-3),
            np.full(n, 5.0),
            np.zeros(n),
            np.full(n, 0.5),
            None,
            np.full(n, 2.0),
        ),
        "loop": Delay(np.full(n, 3e-4)),
        "lw": Linear(r.normal(0, 0.5, (n, n))),
        "li": LI(np.full(n, 2e-3), np.ones(n), np.full(n, 0.2)),
        "cli": CubaLI(np.full(n, 1e-3), np.full(n, 1e-3), np.ones(n), np.zeros(n)),
        "i": I(np.full(n, 50.0)),
        "th": Threshold(np.full(n, 0.4)),
        "sc": Scale(np.array([1.0, -2.0, 0.5, 3.0])),
        "out": Output(None),
        "out2": Output(None),
    }
    edges = [
        ("in", "w"),
        ("w", "d"),
        ("d", "cuba"),
        ("cuba", "loop"),
        ("loop", "lw"),
        ("lw", "cuba"),
        ("cuba", "li"),
        ("li", "th"),
        ("th", "sc"),
        ("sc", "out"),
        ("w", "cli"),
        ("cli", "i"),
        ("i", "out2"),
    ]
    g = Graph(nodes, edges)
    x = spikes_in((n,), 150, 0.4, seed=2)
    ref = simulate(g, x, 1e-4, record=("cuba",))
    res = run(g, {"in": x}, 1e-4, record=("cuba",))
    assert ref.spikes("cuba").sum() > 10
    assert np.array_equal(ref.outputs["out"], res.outputs["out"])
    np.testing.assert_allclose(res.outputs["out2"], ref.outputs["out2"], rtol=V_TOL, atol=V_TOL)
    assert np.array_equal(ref.spikes("cuba"), res.spikes("cuba"))
