"""Graph-level behaviour of the simulator: fan-in, recurrence, Delay, nesting, chunking, API."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from nirhub.errors import IRError, RefusedError, ShapeError, UsageError
from nirhub.ir import LIF, Affine, Delay, Graph, Input, Linear, Output, Scale, set_dt
from nirhub.sim import load_inputs, run_files, simulate

CORPUS = "tests/data/corpus"
RNG = np.random.default_rng(7)


def scale(v):
    return Scale(np.array([float(v)]))


# -- fan-in and recurrence --------------------------------------------------------------------


def test_fan_in_sums_and_fan_out_copies():
    g = Graph(
        {
            "a": Input((2,)),
            "b": Input((2,)),
            "s": Scale(np.ones(2)),
            "o1": Output(),
            "o2": Output(),
        },
        [("a", "s"), ("b", "s"), ("s", "o1"), ("s", "o2"), ("a", "o2")],
    )
    a, b = RNG.standard_normal((4, 2)), RNG.standard_normal((4, 2))
    res = simulate(g, {"a": a, "b": b}, 1.0)
    np.testing.assert_allclose(res["o1"], a + b, rtol=1e-15)
    np.testing.assert_allclose(res["o2"], 2 * a + b, rtol=1e-15)


def test_recurrent_cycle_reads_the_previous_step():
    # A = x + B(prev), B = 0.5 * A  ->  A[t] = x[t] + 0.5 A[t-1]
    g = Graph(
        {"in": Input((1,)), "A": scale(1), "B": scale(0.5), "out": Output()},
        [("in", "A"), ("A", "B"), ("B", "A"), ("A", "out")],
    )
    x = RNG.standard_normal((20, 1))
    res = simulate(g, x, 1.0)
    expected, prev = [], 0.0
    for t in range(20):
        prev = x[t, 0] + 0.5 * prev
        expected.append(prev)
    np.testing.assert_allclose(res["out"][:, 0], expected, rtol=1e-14)
    assert res.conventions["delayed_edges"] == [("B", "A")]


def test_delayed_edge_rule_ignores_edge_and_node_order():
    nodes = {"in": Input((1,)), "A": scale(1), "B": scale(0.5), "out": Output()}
    edges = [("in", "A"), ("A", "B"), ("B", "A"), ("A", "out")]
    x = RNG.standard_normal((10, 1))
    ref = simulate(Graph(nodes, edges), x, 1.0)
    shuffled = Graph(dict(reversed(list(nodes.items()))), list(reversed(edges)))
    res = simulate(shuffled, x, 1.0)
    assert res.conventions["delayed_edges"] == ref.conventions["delayed_edges"]
    np.testing.assert_array_equal(res["out"], ref["out"])


def test_self_loop_and_rest_state_at_step_zero():
    # an Affine feeding itself: y[t] = 0.5*y[t-1] + x[t] + 1; before step 0 it outputs its bias
    g = Graph(
        {
            "in": Input((1,)),
            "A": Affine(np.array([[1.0]]), np.array([1.0])),
            "L": scale(0.5),
            "out": Output(),
        },
        [("in", "A"), ("A", "L"), ("L", "A"), ("A", "out")],
    )
    x = np.zeros((3, 1))
    res = simulate(g, x, 1.0)
    # rest: A(-1) = bias = 1 (input 0, nothing from L); L(-1) = 0.5
    # A(0) = 0 + 0.5 + 1 = 1.5; A(1) = 0.75 + 1 = 1.75; A(2) = 0.875 + 1
    np.testing.assert_allclose(res["out"][:, 0], [1.5, 1.75, 1.875])
    g2 = Graph(
        {"in": Input((1,)), "A": scale(0.5), "out": Output()},
        [("in", "A"), ("A", "A"), ("A", "out")],
    )
    res2 = simulate(g2, np.ones((3, 1)), 1.0)
    # A[t] = 0.5 * (x[t] + A[t-1])
    np.testing.assert_allclose(res2["out"][:, 0], [0.5, 0.75, 0.875])


def test_recurrent_lif_layer_equals_a_hand_written_loop():
    n = 6
    w_in = RNG.standard_normal((n, 3))
    w_rec = RNG.standard_normal((n, n)) * 0.5
    lif = LIF(
        tau=np.full(n, 0.01), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.full(n, 1.0)
    )
    g = Graph(
        {"in": Input((3,)), "fc": Linear(w_in), "lif": lif, "rec": Linear(w_rec), "out": Output()},
        [("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")],
    )
    x = (RNG.random((100, 4, 3)) < 0.3).astype(float)
    res = simulate(g, x, 1e-3, record=["lif"])
    v = np.zeros((4, n))
    s = np.zeros((4, n))
    spikes = []
    for t in range(100):
        drive = x[t] @ w_in.T + s @ w_rec.T
        v = 0.9 * v + (0.1 * 10.0 * drive + 0.0)
        s = (v > 1.0).astype(float)
        v = np.where(s > 0, 0.0, v)
        spikes.append(s)
    np.testing.assert_array_equal(res["out"], np.array(spikes))
    assert res.spikes("lif").dtype == bool
    assert res.conventions["delayed_edges"] == [("rec", "lif")]


# -- Delay ------------------------------------------------------------------------------------


def test_delay_shifts_per_element_and_rounds():
    dt = 1e-3
    # 0, 2.4 -> 2, 2.5 -> 3 (halves up), 3 steps (3e-3/1e-3 is not exact in binary)
    delay = np.array([0.0, 2.4e-3, 2.5e-3, 3e-3])
    g = Graph({"in": Input((4,)), "d": Delay(delay), "out": Output()}, [("in", "d"), ("d", "out")])
    x = RNG.standard_normal((12, 2, 4))
    res = simulate(g, x, dt)
    out = res["out"]
    for i, k in enumerate([0, 2, 3, 3]):
        np.testing.assert_array_equal(out[k:, :, i], x[: 12 - k, :, i])
        np.testing.assert_array_equal(out[:k, :, i], 0.0)
    info = res.conventions["delays"]["d"]
    assert (info["steps_min"], info["steps_max"]) == (0, 3)
    assert info["max_rounding_error_s"] == pytest.approx(0.5e-3)


def test_delay_longer_than_the_run_gives_zeros():
    g = Graph(
        {"in": Input((1,)), "d": Delay(np.array([1.0])), "out": Output()},
        [("in", "d"), ("d", "out")],
    )
    res = simulate(g, np.ones((5, 1)), 1e-3)
    np.testing.assert_array_equal(res["out"], 0.0)


def test_delay_in_a_cycle_needs_no_extra_step():
    # A = x + D, D = A delayed by 2 steps -> A[t] = x[t] + A[t-2]
    g = Graph(
        {"in": Input((1,)), "A": scale(1), "D": Delay(np.array([2.0])), "out": Output()},
        [("in", "A"), ("A", "D"), ("D", "A"), ("A", "out")],
    )
    x = RNG.standard_normal((15, 1))
    for chunk in (None, 1, 4):
        res = simulate(g, x, 1.0, chunk_size=chunk)
        a = np.zeros(15)
        for t in range(15):
            a[t] = x[t, 0] + (a[t - 2] if t >= 2 else 0.0)
        np.testing.assert_allclose(res["out"][:, 0], a, rtol=1e-14)
        assert res.conventions["delayed_edges"] == []


# -- nesting, batching, chunking --------------------------------------------------------------


def layer(n_in, n):
    return Graph(
        {
            "input": Input((n_in,)),
            "fc": Linear(RNG.standard_normal((n, n_in))),
            "lif": LIF(np.full(n, 0.01), np.full(n, 5.0), np.zeros(n), np.full(n, 0.5)),
            "output": Output(),
        },
        [("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


def test_nested_subgraph_equals_its_flat_twin():
    sub = layer(3, 5)
    nested = Graph({"in": Input((3,)), "L": sub, "out": Output()}, [("in", "L"), ("L", "out")])
    flat = Graph(
        {"in": Input((3,)), "fc": sub.nodes["fc"], "lif": sub.nodes["lif"], "out": Output()},
        [("in", "fc"), ("fc", "lif"), ("lif", "out")],
    )
    x = (RNG.random((50, 3)) < 0.4).astype(float)
    a = simulate(nested, x, 1e-3, record=["L.lif"])
    b = simulate(flat, x, 1e-3, record=["lif"])
    np.testing.assert_array_equal(a["out"], b["out"])
    np.testing.assert_array_equal(a.v("L.lif"), b.v("lif"))
    with pytest.raises(UsageError, match="L.lif"):
        simulate(nested, x, 1e-3, record=["L"])


def test_batch_equals_separate_runs_and_chunking_changes_nothing():
    g = Graph(
        {"in": Input((3,)), "L1": layer(3, 8), "L2": layer(8, 4), "out": Output()},
        [("in", "L1"), ("L1", "L2"), ("L2", "out")],
    )
    x = (RNG.random((60, 3, 3)) < 0.4).astype(float)
    batch = simulate(g, x, 1e-3, record=["L1.lif"])
    assert batch["out"].shape == (60, 3, 4) and batch.batch_size == 3
    for b in range(3):
        single = simulate(g, x[:, b], 1e-3, record=["L1.lif"], chunk_size=1)
        assert single["out"].shape == (60, 4) and single.batch_size is None
        np.testing.assert_array_equal(single["out"], batch["out"][:, b])
        np.testing.assert_allclose(single.v("L1.lif"), batch.v("L1.lif")[:, b], rtol=1e-13)
    for chunk in (1, 7, 60):
        again = simulate(g, x, 1e-3, chunk_size=chunk)
        np.testing.assert_array_equal(again["out"], batch["out"])


def test_float32_option():
    g = layer(3, 4)
    x = (RNG.random((20, 3)) < 0.5).astype(np.float32)
    res = simulate(g, x, 1e-3, dtype=np.float32, record=["lif"])
    assert res["output"].dtype == np.float32 and res.v("lif").dtype == np.float32


def test_memory_does_not_grow_with_time_steps():
    g = Graph(
        {"in": Input((50,)), "L1": layer(50, 200), "L2": layer(200, 5), "out": Output()},
        [("in", "L1"), ("L1", "L2"), ("L2", "out")],
    )
    peaks = {}
    for steps in (600, 6000):
        x = (RNG.random((steps, 4, 50)) < 0.1).astype(float)
        tracemalloc.start()
        simulate(g, x, 1e-3)
        peaks[steps] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    outputs_growth = (6000 - 600) * 4 * 5 * 8
    assert peaks[6000] - peaks[600] < outputs_growth + 256 * 1024


# -- inputs, errors, recording ----------------------------------------------------------------


def two_input_graph():
    return Graph(
        {
            "a": Input((2,)),
            "b": Input((3, 2)),
            "fa": scale(1).replace(scale=np.ones(2)),
            "out": Output(),
            "outb": Output(),
        },
        [("a", "fa"), ("fa", "out"), ("b", "outb")],
    )


def test_input_errors_name_the_input():
    g = two_input_graph()
    with pytest.raises(UsageError, match="pass a dict"):
        simulate(g, np.zeros((5, 2)), 1.0)
    with pytest.raises(UsageError, match="missing 'b'"):
        simulate(g, {"a": np.zeros((5, 2))}, 1.0)
    with pytest.raises(UsageError, match="unknown 'c'"):
        simulate(g, {"a": np.zeros((5, 2)), "b": np.zeros((5, 3, 2)), "c": 1}, 1.0)
    with pytest.raises(ShapeError, match="input 'b' has shape"):
        simulate(g, {"a": np.zeros((5, 2)), "b": np.zeros((5, 2, 3))}, 1.0)
    with pytest.raises(ShapeError, match="different numbers of time steps"):
        simulate(g, {"a": np.zeros((5, 2)), "b": np.zeros((6, 3, 2))}, 1.0)
    with pytest.raises(ShapeError, match="batch layout"):
        simulate(g, {"a": np.zeros((5, 4, 2)), "b": np.zeros((5, 3, 2))}, 1.0)
    with pytest.raises(UsageError, match="numeric"):
        simulate(g, {"a": np.array([["x", "y"]]), "b": np.zeros((1, 3, 2))}, 1.0)
    one = layer(3, 2)
    with pytest.raises(ShapeError, match="transposed"):
        simulate(one, np.zeros((3, 100)), 1.0)
    res = simulate(g, {"a": np.ones((5, 2), dtype=bool), "b": np.ones((5, 3, 2), int)}, 1.0)
    assert res["outb"].shape == (5, 3, 2)  # (3, 2) is the Input shape, not a batch of 3


def test_argument_errors():
    g = layer(3, 2)
    x = np.zeros((4, 3))
    with pytest.raises(UsageError, match="no time step"):
        simulate(g, x)
    with pytest.raises(UsageError, match="dt must be"):
        simulate(g, x, -1.0)
    with pytest.raises(UsageError, match="method"):
        simulate(g, x, 1.0, method="rk4")
    with pytest.raises(UsageError, match="reset"):
        simulate(g, x, 1.0, reset="hard")
    with pytest.raises(UsageError, match="dtype"):
        simulate(g, x, 1.0, dtype=np.int32)
    with pytest.raises(UsageError, match="Did you mean lif"):
        simulate(g, x, 1.0, record=["lfi"])
    with pytest.raises(UsageError, match="T = 0"):
        simulate(g, np.zeros((0, 3)), 1.0)
    with pytest.raises(UsageError, match="Graph"):
        simulate({"nodes": {}}, x, 1.0)
    with_dt = g.copy()
    set_dt(with_dt.metadata, 1e-3)
    assert simulate(with_dt, x).dt == 1e-3


def test_invalid_graph_is_refused_with_every_problem():
    g = Graph(
        {"in": Input((3,)), "fc": Linear(np.ones((2, 4))), "out": Output()},
        [("in", "fc"), ("fc", "out"), ("fc", "ghost")],
    )
    with pytest.raises(IRError) as info:
        simulate(g, np.zeros((2, 3)), 1.0)
    text = str(info.value)
    assert "ghost" in text and "shape" in text


def test_result_keys_npz_and_save(tmp_path):
    g = layer(3, 2)
    x = (RNG.random((10, 3)) < 0.5).astype(float)
    res = simulate(g, x, 1e-3, record=["lif", "fc"])
    d = res.to_npz_dict()
    assert set(d) == {"output", "lif.spikes", "lif.v", "fc.out"}
    np.testing.assert_array_equal(res["lif.spikes"], res.spikes("lif"))
    with pytest.raises(KeyError):
        res["nope"]
    with pytest.raises(UsageError, match="not recorded"):
        res.v("fc.x")
    path = tmp_path / "out.npz"
    res.save(path)
    with np.load(path) as f:
        assert set(f.files) == set(d)
        np.testing.assert_array_equal(f["lif.v"], res.v("lif"))
    with pytest.raises(RefusedError):
        res.save(path)
    res.save(path, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]  # no temp file left


def test_load_inputs(tmp_path):
    g = two_input_graph()
    a, b = np.zeros((5, 2)), np.ones((5, 3, 2))
    np.savez(tmp_path / "x.npz", a=a, b=b)
    loaded = load_inputs(tmp_path / "x.npz", g)
    assert set(loaded) == {"a", "b"}
    assert simulate(g, loaded, 1.0)["outb"].sum() == 30
    np.save(tmp_path / "x.npy", a)
    with pytest.raises(UsageError, match="2 Input nodes"):
        load_inputs(tmp_path / "x.npy", g)
    np.savez(tmp_path / "bad.npz", a=a, c=b)
    with pytest.raises(UsageError, match="missing"):
        load_inputs(tmp_path / "bad.npz", g)
    one = layer(3, 2)
    np.savez(tmp_path / "one.npz", whatever=np.zeros((4, 3)))
    assert list(load_inputs(tmp_path / "one.npz", one)) == ["input"]
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    from nirhub.errors import FileFormatError

    with pytest.raises(FileFormatError, match="Python objects"):
        load_inputs(tmp_path / "obj.npy", one)
    with pytest.raises(UsageError, match="does not exist"):
        load_inputs(tmp_path / "missing.npy", one)


def test_run_files(tmp_path):
    ref = np.loadtxt(f"{CORPUS}/lif/lif_exact.csv", delimiter=",")
    np.save(tmp_path / "in.npy", ref[:, :1])
    out = tmp_path / "res.npz"
    res = run_files(f"{CORPUS}/lif/lif_norse.nir", tmp_path / "in.npy", out, dt=1e-4, record=["1"])
    with np.load(out) as f:
        assert set(f.files) == {"output", "1.spikes", "1.v"}
        assert np.flatnonzero(f["output"][:, 0]).tolist() == [460, 510, 710, 760]
    assert res.method == "euler"


def test_run_files_reads_tolerantly_on_request(tmp_path):
    from nirhub.errors import FileFormatError

    model = f"{CORPUS}/rnn/braille_noDelay_bias_zero_subgraph.nir"
    x = np.load(f"{CORPUS}/rnn/derived/braille_test0_input.npy")
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(FileFormatError):
        run_files(model, tmp_path / "x.npy", None, dt=1e-4)
    res = run_files(model, tmp_path / "x.npy", None, dt=1e-4, strict=False, record="lif1.lif1")
    assert int(res.spikes("lif1.lif1").sum()) == 119
    assert list(tmp_path.iterdir()) == [tmp_path / "x.npy"]  # output=None writes nothing


def test_saved_results_get_the_usual_file_mode(tmp_path):
    import os
    import stat

    import nirhub as nh
    from nirhub.sim import simulate

    g = nh.Graph.from_list(nh.Input(2), nh.Scale(np.ones(2)), nh.Output(2))
    res = simulate(g, np.ones((3, 2)), 1e-3)
    old = os.umask(0o022)
    try:
        path = res.save(tmp_path / "out.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
