"""Neuron dynamics of the reference simulator against closed-form solutions."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.ir import IF, LI, LIF, CubaLI, CubaLIF, Graph, I, Input, Output
from nirhub.sim import simulate


def run(node, x, dt, **kw):
    """Drive a single neuron node directly (Input -> node -> Output) and record it."""
    g = Graph(
        {"in": Input(np.asarray(x).shape[1:]), "n": node, "out": Output()},
        [("in", "n"), ("n", "out")],
    )
    return simulate(g, x, dt, record=["n"], **kw)


# -- LI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_li_step_response(method):
    tau, r, v_leak, amp, dt, steps = 0.02, 2.0, 0.1, 0.5, 1e-3, 200
    x = np.full((steps, 1), amp)
    res = run(LI(tau=[tau], r=[r], v_leak=[v_leak]), x, dt, method=method)
    v = res["out"][:, 0]
    v_inf = v_leak + r * amp
    n = np.arange(1, steps + 1)
    if method == "exact":
        expected = v_inf + (v_leak - v_inf) * np.exp(-n * dt / tau)
        np.testing.assert_allclose(v, expected, rtol=0, atol=1e-12)
    else:
        expected = v_inf + (v_leak - v_inf) * (1 - dt / tau) ** n
        np.testing.assert_allclose(v, expected, rtol=0, atol=1e-12)
    # non-spiking nodes output v, and recording v gives the same trace
    np.testing.assert_array_equal(res.v("n"), res["out"])


def test_li_starts_at_rest():
    res = run(LI(tau=[0.01], r=[1.0], v_leak=[0.7]), np.zeros((5, 1)), 1e-3)
    np.testing.assert_allclose(res["out"][:, 0], 0.7, atol=1e-15)


@pytest.mark.parametrize("tau", [0.005, 0.05])
def test_euler_converges_to_exact_as_dt_shrinks(tau):
    """Euler's error on the LI step response falls like dt (first order); exact stays exact."""
    t_end, amp = 0.1, 1.0
    errors = []
    for dt in (1e-3, 5e-4, 2.5e-4):
        steps = round(t_end / dt)
        res = run(LI(tau=[tau], r=[1.0], v_leak=[0.0]), np.full((steps, 1), amp), dt)
        exact = run(
            LI(tau=[tau], r=[1.0], v_leak=[0.0]), np.full((steps, 1), amp), dt, method="exact"
        )
        t = np.arange(1, steps + 1) * dt
        truth = amp * (1 - np.exp(-t / tau))
        np.testing.assert_allclose(exact["out"][:, 0], truth, atol=1e-12)
        errors.append(np.max(np.abs(res["out"][:, 0] - truth)))
    assert errors[0] > errors[1] > errors[2] > 0
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.1)


# -- I / IF -----------------------------------------------------------------------------------


def test_integrator_ramps():
    dt, r = 1e-3, 3.0
    x = np.full((10, 2), [1.0, -2.0])
    res = run(I(r=[r, r]), x, dt, method="exact")
    n = np.arange(1, 11)[:, None]
    np.testing.assert_allclose(res["out"], n * dt * r * np.array([1.0, -2.0]), atol=1e-12)


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_if_spike_counting_reset_zero(method):
    """Constant drive 0.3 per step, threshold 1: v = 0.3, 0.6, 0.9, 1.2 -> spike every 4th step."""
    x = np.full((40, 1), 0.3)
    res = run(IF(r=[1.0], v_threshold=[1.0]), x, 1.0, method=method)
    s = res["out"][:, 0]
    assert np.flatnonzero(s).tolist() == list(range(3, 40, 4))
    assert set(np.unique(s)) == {0.0, 1.0}  # a spike is the value 1 for one step


def test_if_subtract_keeps_the_excess():
    """With subtraction the excess carries over (0.375 per step is exact in binary)."""
    steps = 100
    x = np.full((steps, 1), 0.375)
    res = run(IF(r=[1.0], v_threshold=[1.0]), x, 1.0, reset="subtract")
    s = res["out"][:, 0]
    total = 0.375 * np.arange(1, steps + 1)
    # after step n, v = total - spikes must lie in (0, 1]: spikes = ceil(total - 1)
    expected = np.ceil(total - 1.0).clip(min=0)
    np.testing.assert_array_equal(np.cumsum(s), expected)
    v = res.v("n")[:, 0]
    np.testing.assert_array_equal(v, total - np.cumsum(s))


def test_if_threshold_is_strict_and_v_reset_is_used():
    # drive of exactly 1.0 with threshold 1.0: no spike (v > thr is strict) until 2.0
    x = np.full((4, 1), 1.0)
    res = run(IF(r=[1.0], v_threshold=[1.0], v_reset=[-0.5]), x, 1.0)
    assert res["out"][:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert res.v("n")[:, 0].tolist() == [1.0, -0.5, 0.5, -0.5]


def test_lif_reset_modes_from_metadata_and_override():
    node = LIF(
        tau=[0.01],
        r=[1.0],
        v_leak=[0.0],
        v_threshold=[0.1],
        metadata={"nirhub": {"reset": "subtract"}},
    )
    x = np.zeros((50, 1))
    x[::5] = 30.0  # big kicks: v jumps far above the threshold
    by_meta = run(node, x, 1e-3)
    assert by_meta.conventions["reset"] == {"n": "subtract"}
    forced = run(node, x, 1e-3, reset="zero")
    assert forced.conventions["reset"] == {"n": "zero"}
    # after a spike with subtraction v stays above 0; with zero it is exactly 0
    spikes = np.flatnonzero(forced["out"][:, 0])
    assert np.all(forced.v("n")[spikes, 0] == 0.0)
    assert np.all(by_meta.v("n")[np.flatnonzero(by_meta["out"][:, 0]), 0] > 0.0)


# -- CubaLI / CubaLIF -------------------------------------------------------------------------


def two_exponential(t, tau_s, tau_m, r, w_in, amp):
    """v(t) of tau_m v' = -v + r I, tau_s I' = -I + w_in amp, from v = I = 0 (step input)."""
    i_inf = w_in * amp
    return (
        r
        * i_inf
        * (1 - (tau_s * np.exp(-t / tau_s) - tau_m * np.exp(-t / tau_m)) / (tau_s - tau_m))
    )


@pytest.mark.parametrize("tau_s", [0.003, 0.01, 0.01 + 1e-12])
def test_cubali_exact_matches_two_exponential_response(tau_s):
    tau_m, r, w_in, amp, dt, steps = 0.01, 1.5, 2.0, 0.4, 1e-3, 100
    node = CubaLI(tau_syn=[tau_s], tau_mem=[tau_m], r=[r], v_leak=[0.0], w_in=[w_in])
    res = run(node, np.full((steps, 1), amp), dt, method="exact")
    t = np.arange(1, steps + 1) * dt
    if abs(tau_s - tau_m) < 1e-9:  # the equal-time-constant limit
        expected = r * w_in * amp * (1 - np.exp(-t / tau_m) * (1 + t / tau_m))
    else:
        expected = two_exponential(t, tau_s, tau_m, r, w_in, amp)
    np.testing.assert_allclose(res["out"][:, 0], expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        res.recorded["n"]["I"][:, 0], w_in * amp * (1 - np.exp(-t / tau_s)), atol=1e-12
    )


def test_cubalif_euler_uses_the_updated_current():
    """Spec §1.8: I is updated first and v integrates the *new* I in the same step."""
    dt, tau_s, tau_m, r, w_in = 1e-3, 4e-3, 5e-3, 2.0, 3.0
    node = CubaLIF(
        tau_syn=[tau_s], tau_mem=[tau_m], r=[r], v_leak=[0.0], v_threshold=[100.0], w_in=[w_in]
    )
    x = np.zeros((6, 1))
    x[0] = 1.0
    res = run(node, x, dt)
    current = res.recorded["n"]["I"][:, 0]
    v = res.v("n")[:, 0]
    # step 0: I = (dt/tau_s) w_in, and v already sees it
    assert current[0] == pytest.approx(dt / tau_s * w_in, rel=1e-14)
    assert v[0] == pytest.approx(dt / tau_m * r * current[0], rel=1e-14)
    i_ref, v_ref = 0.0, 0.0
    for t in range(6):
        i_ref = (1 - dt / tau_s) * i_ref + dt / tau_s * w_in * x[t, 0]
        v_ref = (1 - dt / tau_m) * v_ref + dt / tau_m * r * i_ref
        assert current[t] == pytest.approx(i_ref, rel=1e-12)
        assert v[t] == pytest.approx(v_ref, rel=1e-12)


def test_cubalif_does_not_reset_the_current():
    node = CubaLIF(
        tau_syn=[0.002], tau_mem=[0.002], r=[1.0], v_leak=[0.0], v_threshold=[0.2], w_in=[1.0]
    )
    x = np.full((30, 1), 1.0)
    res = run(node, x, 1e-3)
    spikes = np.flatnonzero(res["out"][:, 0])
    assert spikes.size > 0
    current = res.recorded["n"]["I"][:, 0]
    assert np.all(np.diff(current) > 0)  # monotone rise despite the spikes
    assert np.all(res.v("n")[spikes, 0] == 0.0)


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_population_parameters_are_per_neuron_and_scalars_broadcast(method):
    node = LIF(tau=np.array([0.01, 0.02, 0.04]), r=1.0, v_leak=0.0, v_threshold=0.5)
    x = np.full((50, 3), 1.0)
    res = run(node, x, 1e-3, method=method)
    counts = res["out"].sum(axis=0)
    assert counts[0] > counts[1] > counts[2] > 0  # faster membrane, more spikes


def _lif_graph(v_leak: float = 0.0):
    import nirhub as nh

    return nh.Graph.from_list(
        nh.Input(1),
        nh.LIF(
            tau=np.full(1, 1e-3),
            r=np.full(1, 10.0),
            v_leak=np.full(1, v_leak),
            v_threshold=np.ones(1),
        ),
        nh.Output(1),
    )


def _hand_snntorch(x, beta, thr, delayed):
    """snnTorch Leaky, reset_mechanism="subtract", written out step by step."""
    mem, spikes, mems = 0.0, [], []
    prev = mem
    for xt in x:
        reset = float(prev - thr > 0)
        if delayed:
            mem = (beta * mem + xt) - reset * thr
            spk = float(mem - thr > 0)
        else:
            mem = (beta * mem + xt) - reset * thr
            spk = float(mem - thr > 0)
            mem = mem - (spk - reset) * thr
        spikes.append(spk)
        mems.append(mem)
        prev = mem
    return np.array(spikes), np.array(mems)


@pytest.mark.parametrize("mode, delayed", [("subtract-delayed", True), ("subtract-guarded", False)])
def test_snntorch_subtraction_variants_match_a_hand_written_loop(mode, delayed):
    from nirhub.sim import simulate

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1.6, size=(200, 1))  # strong drive: v often stays above threshold
    dt, tau, r = 1e-4, 1e-3, 10.0
    beta = 1 - dt / tau
    res = simulate(_lif_graph(), x, dt, reset=mode, record=["lif"])
    want_s, want_v = _hand_snntorch(x[:, 0] * (dt / tau) * r, beta, 1.0, delayed)
    np.testing.assert_array_equal(res["output"][:, 0], want_s)
    np.testing.assert_allclose(res.v("lif")[:, 0], want_v, rtol=0, atol=1e-12)
    plain = simulate(_lif_graph(), x, dt, reset="subtract")
    assert not np.array_equal(plain["output"][:, 0], want_s)  # the variants really differ


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lif_fast_paths_give_the_bits_of_the_general_arithmetic(dtype):
    """An LIF whose input gain is 1 adds ``c`` to its input without multiplying by ``g``, and a
    reset to +0.0 clears the bits of ``v`` instead of ``np.copyto(where=)``: the same bits
    as the general arithmetic, also for inputs of +-0, +-inf, NaN and huge values."""
    from nirhub.sim.neurons import make_population

    n, dt, tau = 60, 2.0**-10, 2.0**-7
    rng = np.random.default_rng(8)
    node = LIF(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=rng.uniform(-0.1, 0.1, n),
               v_threshold=np.ones(n))  # fmt: skip
    x = rng.standard_normal((50, 3, n)) * 10.0 ** rng.integers(-3, 3, (50, 3, n))
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, -1e300, 5e-324]
    special = rng.random(x.shape) < 0.05
    x[special] = rng.choice(specials, int(special.sum()))
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    pops = []
    for fast in (True, False):
        pop = make_population(node, (n,), dt=dt, method="euler", reset="zero", batch=3,
                              dtype=np.dtype(dtype), steps=50, record=True)  # fmt: skip
        assert pop.unit_gain and pop._zero_mask is not None
        if not fast:
            pop.unit_gain, pop._zero_mask = False, None
        out = np.empty_like(x)
        with np.errstate(all="ignore"):  # inf - inf, overflow: on purpose
            pop.run(x[:30], 0, out[:30])
            for t in range(30, 50):
                pop.step(x[t], t, out[t])
        pops.append((pop, out))
    (fast, out_fast), (slow, out_slow) = pops
    assert out_fast.any() and np.isnan(slow.rec["v"]).any()
    assert out_fast.tobytes() == out_slow.tobytes()
    for var in ("v", "spikes"):
        assert fast.rec[var].tobytes() == slow.rec[var].tobytes(), var
