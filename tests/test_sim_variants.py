"""Neuron variants (multi-spike, ``>=``, ``v_min``, staged ZOH): metadata API, simulator, files.

Every expected value below is computed by hand: an IF with ``r = 1/dt`` integrates ``v += x``
exactly (dyadic inputs, no rounding), so the spike counts and membrane values are exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.errors import IRError, UsageError
from nirhub.io import read, write
from nirhub.ir import IF, LI, LIF, CubaLI, CubaLIF, Graph, Input, Linear, Output
from nirhub.ir.conventions import (
    NeuronVariant,
    clear_variant,
    get_variant,
    set_reset,
    set_variant,
)
from nirhub.sim import simulate

X = np.array([2.5, 0.25, 1.0, 0.25, 3.5])[:, None]


def if_graph(reset: str = "subtract", v_reset=None, weight=None, **variant) -> Graph:
    node = IF(r=[1.0], v_threshold=[1.0], v_reset=v_reset)
    set_reset(node.metadata, reset)
    if variant:
        set_variant(node.metadata, **variant)
    nodes = {"in": Input((1,)), "n": node, "out": Output()}
    edges = [("in", "n"), ("n", "out")]
    if weight is not None:
        nodes["w"] = Linear(np.array([[weight]]))
        edges = [("in", "n"), ("n", "w"), ("w", "out")]
    return Graph(nodes, edges)


def run(graph: Graph, x=X, **kw):
    return simulate(graph, x, 1.0, record=["n"], **kw)


# -- multi-spike --------------------------------------------------------------------------------


def test_multi_spike_subtract_ge():
    res = run(if_graph(spikes="multi", threshold=">="))
    np.testing.assert_array_equal(res["out"][:, 0], [2, 0, 1, 1, 3])
    np.testing.assert_array_equal(res.v("n")[:, 0], [0.5, 0.75, 0.75, 0.0, 0.5])
    rec = res.recorded["n"]
    np.testing.assert_array_equal(rec["count"][:, 0], [2, 0, 1, 1, 3])
    np.testing.assert_array_equal(rec["spikes"][:, 0], [True, False, True, True, True])


def test_multi_spike_capped():
    res = run(if_graph(spikes="multi", max_spikes=2, threshold=">="))
    np.testing.assert_array_equal(res["out"][:, 0], [2, 0, 1, 1, 2])
    assert res.v("n")[4, 0] == 1.5  # 3.5 - 2*1


def test_multi_spike_strict_threshold():
    res = run(if_graph(spikes="multi"))
    np.testing.assert_array_equal(res["out"][:, 0], [2, 0, 1, 0, 4])
    np.testing.assert_array_equal(res.v("n")[:, 0], [0.5, 0.75, 0.75, 1.0, 0.5])


def test_multi_spike_zero_reset():
    res = run(if_graph("zero", v_reset=[0.0], spikes="multi", threshold=">="))
    np.testing.assert_array_equal(res["out"][:, 0], [2, 0, 1, 0, 3])
    np.testing.assert_array_equal(res.v("n")[:, 0], [0.0, 0.25, 0.0, 0.25, 0.0])


def test_counts_feed_downstream_weights():
    res = simulate(if_graph(weight=2.0, spikes="multi", threshold=">="), X, 1.0)
    np.testing.assert_array_equal(res["out"][:, 0], [4, 0, 2, 2, 6])


# -- threshold test ---------------------------------------------------------------------------


def test_threshold_ge_single_spike():
    res = run(if_graph(threshold=">="))
    np.testing.assert_array_equal(res["out"][:, 0], [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(res.v("n")[:, 0], [1.5, 0.75, 0.75, 0.0, 2.5])
    strict = run(if_graph())
    np.testing.assert_array_equal(strict["out"][:, 0], [1, 1, 1, 0, 1])
    np.testing.assert_array_equal(strict.v("n")[:, 0], [1.5, 0.75, 0.75, 1.0, 3.5])


def test_threshold_ge_with_snntorch_variant():
    """The flag of "subtract-delayed" uses the same test: v = 1 exactly spikes with >=."""
    x = np.array([1.0, 0.0, 0.0])[:, None]
    res = run(if_graph("subtract-delayed", threshold=">="), x)
    np.testing.assert_array_equal(res["out"][:, 0], [1, 0, 0])
    np.testing.assert_array_equal(res.v("n")[:, 0], [1.0, 0.0, 0.0])


# -- v_min --------------------------------------------------------------------------------------


def test_v_min_clamps_after_update():
    x = np.array([-1.0, 0.25, 1.0])[:, None]
    res = run(if_graph(v_min=-0.5), x)
    np.testing.assert_array_equal(res.v("n")[:, 0], [-0.5, -0.25, 0.75])
    free = run(if_graph(), x)
    np.testing.assert_array_equal(free.v("n")[:, 0], [-1.0, -0.75, 0.25])


def test_v_min_clamps_after_reset():
    x = np.array([1.5, 0.25])[:, None]
    res = run(if_graph("zero", v_reset=[-2.0], v_min=-0.5), x)
    np.testing.assert_array_equal(res["out"][:, 0], [1, 0])
    np.testing.assert_array_equal(res.v("n")[:, 0], [-0.5, -0.25])


def test_v_min_per_neuron():
    node = IF(r=np.ones(2), v_threshold=np.ones(2))
    set_variant(node.metadata, v_min=np.array([-0.5, -np.inf]))
    g = Graph({"in": Input((2,)), "n": node, "out": Output()}, [("in", "n"), ("n", "out")])
    res = simulate(g, np.array([[-1.0, -1.0]]), 1.0, record=["n"])
    np.testing.assert_array_equal(res.v("n")[0], [-0.5, -1.0])


# -- staged zero-order hold ----------------------------------------------------------------------


def hand_staged(x, dt, tau_syn, tau_mem, r, v_leak, w_in, thr):
    e_s, e_m = np.exp(-dt / tau_syn), np.exp(-dt / tau_mem)
    i, v = 0.0, v_leak
    out, vs, cur = [], [], []
    for u in x:
        i = e_s * i + (1 - e_s) * w_in * u
        v = e_m * v + (1 - e_m) * (v_leak + r * i)
        s = v > thr
        if s:
            v -= thr
        out.append(float(s))
        vs.append(v)
        cur.append(i)
    return np.array(out), np.array(vs), np.array(cur)


def cuba_graph(discretization="staged", spiking=True) -> Graph:
    if spiking:
        node = CubaLIF(
            tau_syn=[2e-3], tau_mem=[5e-3], r=[3.0], v_leak=[0.1], v_threshold=[1.0], w_in=[2.0]
        )
        set_reset(node.metadata, "subtract")
    else:
        node = CubaLI(tau_syn=[2e-3], tau_mem=[5e-3], r=[3.0], v_leak=[0.1], w_in=[2.0])
    set_variant(node.metadata, discretization=discretization)
    return Graph({"in": Input((1,)), "n": node, "out": Output()}, [("in", "n"), ("n", "out")])


def test_staged_cubalif_matches_hand_loop():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1.5, size=(300, 1))
    dt = 1e-3
    res = simulate(cuba_graph(), x, dt, method="exact", record=["n"])
    s, v, i = hand_staged(x[:, 0], dt, 2e-3, 5e-3, 3.0, 0.1, 2.0, 1.0)
    assert s.sum() > 20
    np.testing.assert_array_equal(res["out"][:, 0], s)
    np.testing.assert_allclose(res.v("n")[:, 0], v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.recorded["n"]["I"][:, 0], i, rtol=0, atol=1e-12)
    coupled = simulate(cuba_graph("coupled"), x, dt, method="exact", record=["n"])
    assert np.max(np.abs(coupled.v("n")[:, 0] - v)) > 1e-3  # really a different scheme


def test_staged_cubali_and_euler_unaffected():
    x = np.linspace(0, 1, 50)[:, None]
    dt = 1e-3
    res = simulate(cuba_graph(spiking=False), x, dt, method="exact")
    e_s, e_m = np.exp(-dt / 2e-3), np.exp(-dt / 5e-3)
    i, v, want = 0.0, 0.1, []
    for u in x[:, 0]:
        i = e_s * i + (1 - e_s) * 2.0 * u
        v = e_m * v + (1 - e_m) * (0.1 + 3.0 * i)
        want.append(v)
    np.testing.assert_allclose(res["out"][:, 0], want, rtol=0, atol=1e-12)
    # under Euler "staged" is the spec order already: identical to the plain node
    a = simulate(cuba_graph("staged"), x, dt, method="euler")["out"]
    b = simulate(cuba_graph("coupled"), x, dt, method="euler")["out"]
    np.testing.assert_array_equal(a, b)


# -- API and validation ------------------------------------------------------------------------


def test_get_set_clear():
    node = LIF(tau=[1e-3], r=[1.0], v_leak=[0.0], v_threshold=[1.0])
    assert get_variant(node).is_default
    set_variant(node.metadata, spikes="multi", max_spikes=4, threshold=">=", v_min=-1.0)
    set_reset(node.metadata, "subtract")
    v = get_variant(node, "lif")
    assert (v.spikes, v.max_spikes, v.threshold, float(v.v_min)) == ("multi", 4, ">=", -1.0)
    assert v.names == ("multi-spike", "threshold>=", "v-min")
    assert v.describe() == "multi-spike (max 4), v >= thr, v_min -1"
    clear_variant(node.metadata)
    assert get_variant(node).is_default
    assert node.metadata == {"nirhub": {"reset": "subtract"}}
    assert isinstance(NeuronVariant(), NeuronVariant)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spikes": "many"}, "nirhub.spikes must be one of single, multi"),
        ({"max_spikes": 2}, "needs nirhub.spikes = 'multi'"),
        ({"spikes": "multi", "max_spikes": 0}, "positive integer"),
        ({"spikes": "multi", "max_spikes": 1.5}, "positive integer"),
        ({"threshold": "=>"}, "nirhub.threshold must be one of"),
        ({"v_min": "low"}, "nirhub.v_min must be a number"),
        ({"v_min": np.nan}, "NaN"),
        ({"discretization": "split"}, "must be one of coupled, staged"),
    ],
)
def test_set_variant_rejects_bad_values(kwargs, message):
    with pytest.raises(UsageError, match=message):
        set_variant({}, **kwargs)


@pytest.mark.parametrize(
    "node, meta, message",
    [
        (LI(tau=[1.0], r=[1.0], v_leak=[0.0]), {"spikes": "multi"}, "spiking neurons only"),
        (LI(tau=[1.0], r=[1.0], v_leak=[0.0]), {"threshold": ">="}, "spiking neurons only"),
        (IF(r=[1.0], v_threshold=[1.0]), {"discretization": "staged"}, "CubaLI/CubaLIF only"),
        (IF(r=[1.0], v_threshold=[-1.0]), {"spikes": "multi"}, "needs v_threshold > 0"),
        (IF(r=[1.0], v_threshold=[1.0]), {"spikes": "once"}, "must be one of"),
        (IF(r=[1.0, 1.0], v_threshold=[1.0, 1.0]), {"v_min": [0.0, 0.0, 0.0]}, "broadcast"),
    ],
)
def test_invalid_variants_name_the_node(node, meta, message):
    node.metadata["nirhub"] = meta
    g = Graph(
        {
            "in": Input(node.v_leak.shape if hasattr(node, "v_leak") else node.r.shape),
            "bad": node,
            "out": Output(),
        },
        [("in", "bad"), ("bad", "out")],
    )
    with pytest.raises(IRError, match=message) as err:
        simulate(g, np.zeros((2, *node.r.shape)), 0.1)
    assert err.value.node == "bad"


def test_multi_spike_refuses_snntorch_resets():
    with pytest.raises(IRError, match="multi-spike output combines with reset"):
        run(if_graph("subtract-guarded", spikes="multi"))


# -- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine_comp", [None, "gzip"])
def test_variants_survive_a_file_round_trip(tmp_path, engine_comp):
    g = if_graph(spikes="multi", max_spikes=3, threshold=">=", v_min=np.array([-0.5]))
    inner = cuba_graph()
    outer = Graph(
        {"in": Input((1,)), "sub": inner, "if": g.nodes["n"], "o1": Output(), "o2": Output()},
        [("in", "sub"), ("in", "if"), ("sub", "o1"), ("if", "o2")],
    )
    path = tmp_path / "v.nir"
    write(outer, path, compression=engine_comp)
    back = read(path)
    assert back == outer
    v = get_variant(back.nodes["if"], "if")
    assert (v.spikes, v.max_spikes, v.threshold) == ("multi", 3, ">=")
    np.testing.assert_array_equal(v.v_min, [-0.5])
    assert get_variant(back.nodes["sub"].nodes["n"]).discretization == "staged"
    x = np.random.default_rng(1).uniform(0, 3000, size=(40, 1))
    a = simulate(outer, x, 1e-3, method="exact")
    b = simulate(back, x, 1e-3, method="exact")
    for name in ("o1", "o2"):
        np.testing.assert_array_equal(a[name], b[name])
    assert a["o2"].max() == 3  # counts, capped at max_spikes
