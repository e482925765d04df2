"""Export agreement: networks built with Nengo's own objects -> IR -> nirhub.simulate.

A network is simulated by Nengo itself; its export runs in the reference simulator with
``method="exact"`` (recorded in the graph's metadata). Spikes must be identical.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from nirhub_nengo.export import export_network

from nirhub.errors import UnsupportedError, UsageError
from nirhub.hub.backend import ConversionWarning
from nirhub.ir.conventions import namespace
from nirhub.sim import simulate

DT = 1e-3


def play(data: np.ndarray):
    """Node output playing ``data`` (T, n) one row per step (Nengo's first step is t = dt)."""

    def out(t: float) -> np.ndarray:
        k = int(round(t / DT)) - 1
        return data[k] if 0 <= k < len(data) else np.zeros(data.shape[1])

    return out


def nengo_run(net, probes, steps: int) -> list[np.ndarray]:
    import nengo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:
            sim.run_steps(steps)
    return [sim.data[p] for p in probes]


def compare(net, probes, x: np.ndarray, **kw) -> tuple:
    steps = x.shape[0]
    want = nengo_run(net, probes, steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        g = export_network(net, dt=DT, **kw)
    assert namespace(g.metadata)["method"] == "exact"
    res = simulate(g, x, DT, method="exact")
    got = [res.outputs[name] for name in g.outputs]
    return g, want, got


def test_mlp_with_nengo_defaults_for_gains_and_initial_voltages() -> None:
    """LIF ensembles whose gains, biases and initial voltages Nengo samples itself; a Dense
    connection, a Lowpass synapse (LI + one-step delay) and spikes of amplitude 1/dt."""
    import nengo

    rng = np.random.default_rng(0)
    x = (rng.random((300, 5)) < 0.2).astype(float) * 30.0
    lif = nengo.LIF(tau_rc=0.02, tau_ref=0.0, min_voltage=-np.inf)
    with nengo.Network(seed=1) as net:
        inp = nengo.Node(play(x), size_out=5, label="stimulus")
        a = nengo.Ensemble(20, 1, neuron_type=lif, label="hidden")
        b = nengo.Ensemble(6, 1, neuron_type=lif, label="readout")
        nengo.Connection(inp, a.neurons, transform=rng.normal(0, 1, (20, 5)), synapse=None)
        nengo.Connection(
            a.neurons,
            b.neurons,
            transform=rng.normal(0.01, 0.02, (6, 20)),
            synapse=nengo.Lowpass(0.005),
        )
        probes = [
            nengo.Probe(b.neurons, synapse=None, label="out"),
            nengo.Probe(a.neurons, synapse=None, label="hidden_out"),
        ]
    g, want, got = compare(net, probes, x)
    for w_, g_ in zip(want, got, strict=True):
        assert np.allclose(w_[w_ > 0], 1 / DT)  # Nengo spikes have amplitude 1/dt
        assert (w_ > 0).sum() > 20
        assert np.array_equal(w_ > 0, g_ > 0.5)
    types = {n.type_name for _, n in g.walk()}
    assert {"LIF", "LI", "Delay", "Input", "Output"} <= types


def test_decoded_connection_and_subtractive_types() -> None:
    """A decoded Ensemble -> Ensemble connection (decoders x transform x encoders), the
    runtime's IntegrateAndFire and ResetLIF, a digital one-step synapse and a bias."""
    import nengo
    from nirhub_nengo.runtime import IntegrateAndFire, ResetLIF

    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (250, 2))
    with nengo.Network(seed=3) as net:
        inp = nengo.Node(play(x), size_out=2)
        a = nengo.Ensemble(30, 2, neuron_type=nengo.LIF(tau_ref=0, min_voltage=-np.inf), label="a")
        b = nengo.Ensemble(10, 1, neuron_type=ResetLIF(tau_rc=0.01), label="b")
        c = nengo.Ensemble(
            4,
            1,
            neuron_type=IntegrateAndFire(reset="subtract-delayed"),
            gain=np.full(4, 20.0),
            bias=np.array([0.0, 1.0, 2.0, 5.0]),
            label="c",
        )
        const = nengo.Node([0.3])
        nengo.Connection(inp, a, synapse=None)
        nengo.Connection(a, b, transform=[[1.0, -0.5]], synapse=None)
        nengo.Connection(const, b, synapse=None)
        nengo.Connection(
            b.neurons,
            c.neurons,
            transform=rng.normal(0.002, 0.002, (4, 10)),
            synapse=nengo.synapses.LinearFilter([1.0], [1.0], analog=False),
        )
        probes = [
            nengo.Probe(b.neurons, synapse=None, label="b_out"),
            nengo.Probe(c.neurons, synapse=None, label="c_out"),
        ]
    g, want, got = compare(net, probes, x)
    for w_, g_ in zip(want, got, strict=True):
        assert (w_ > 0).sum() > 5
        assert np.array_equal(w_ > 0, g_ > 0.5)


def test_convolution_pooling_and_shapes() -> None:
    """A channels-first Convolution into IF neurons, a sum-pooling convolution, flat readout."""
    import nengo
    from nengo.transforms import ChannelShape, Convolution
    from nirhub_nengo.runtime import IntegrateAndFire

    rng = np.random.default_rng(5)
    x = (rng.random((40, 2 * 8 * 8)) < 0.3).astype(float) * 40.0
    conv = Convolution(
        3,
        ChannelShape((2, 8, 8), channels_last=False),
        kernel_size=(3, 3),
        padding="same",
        channels_last=False,
        init=rng.normal(0, 1, (3, 3, 2, 3)),
    )
    pool = Convolution(
        3,
        ChannelShape((3, 8, 8), channels_last=False),
        kernel_size=(2, 2),
        strides=(2, 2),
        channels_last=False,
        groups=3,
        init=np.ones((2, 2, 1, 3)),
    )
    with nengo.Network(seed=2) as net:
        inp = nengo.Node(play(x), size_out=128, label="events")
        a = nengo.Ensemble(
            192,
            1,
            neuron_type=IntegrateAndFire(),
            gain=np.ones(192),
            bias=np.zeros(192),
            label="conv_if",
        )
        pooled = nengo.Node(size_in=48, label="pooled")
        b = nengo.Ensemble(
            5,
            1,
            neuron_type=nengo.LIF(
                tau_ref=0, min_voltage=-np.inf, initial_state={"voltage": nengo.dists.Choice([0])}
            ),
            gain=np.ones(5),
            bias=np.zeros(5),
            label="readout",
        )
        nengo.Connection(inp, a.neurons, transform=conv, synapse=None)
        nengo.Connection(a.neurons, pooled, transform=pool, synapse=None)
        nengo.Connection(
            pooled, b.neurons, transform=rng.normal(0.005, 0.01, (5, 48)), synapse=None
        )
        probes = [
            nengo.Probe(b.neurons, synapse=None, label="out"),
            nengo.Probe(a.neurons, synapse=None, label="conv_spikes"),
        ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        g = export_network(net, dt=DT)
    assert g.nodes["events"].shape == (2, 8, 8)
    assert {n.type_name for _, n in g.walk()} >= {"Conv2d", "SumPool2d", "IF", "LIF"}
    want = nengo_run(net, probes, x.shape[0])
    res = simulate(g, x.reshape(-1, 2, 8, 8), DT, method="exact")
    assert (want[1] > 0).sum() > 20
    assert np.array_equal(want[0] > 0, res.outputs["out"] > 0.5)
    assert np.array_equal((want[1] > 0).reshape(-1, 3, 8, 8), res.outputs["conv_spikes"] > 0.5)


@pytest.mark.filterwarnings("ignore::nirhub.hub.backend.ConversionWarning")
def test_refuses_every_inexpressible_piece_at_once() -> None:
    import nengo

    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.sin, size_out=1, label="stimulus")
        fn = nengo.Node(lambda t, x: x**2, size_in=1, label="square")
        a = nengo.Ensemble(5, 1, label="default_lif")  # tau_ref 2 ms, voltage floor at 0
        b = nengo.Ensemble(5, 1, neuron_type=nengo.Sigmoid(), label="rate")
        nengo.Connection(inp, fn, synapse=None)
        nengo.Connection(fn, a, synapse=None)
        nengo.Connection(a, b, synapse=None)
        nengo.Probe(b.neurons, synapse=None)
    with pytest.raises(UnsupportedError) as info:
        export_network(net, dt=DT)
    where = {p.where for p in info.value.problems}
    assert {"square", "default_lif", "rate"} <= where
    text = str(info.value)
    assert "tau_ref" in text and "min_voltage" in text


def test_approximate_drops_refractory_period_with_a_warning() -> None:
    import nengo

    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(2), label="zeros")  # a constant: becomes a bias
        stim = nengo.Node(play(np.ones((5, 1))), size_out=1, label="stimulus")
        a = nengo.Ensemble(4, 1, label="a")
        nengo.Connection(stim, a, synapse=None)
        nengo.Connection(inp, a, transform=[[1.0, 1.0]], synapse=None)
        nengo.Probe(a.neurons, synapse=None, label="out")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = export_network(net, dt=DT, approximate=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConversionWarning)]
    assert any("tau_ref" in m for m in messages) and any("min_voltage" in m for m in messages)
    assert "LIF" in {n.type_name for _, n in g.walk()}


def test_needs_dt_and_probes() -> None:
    import nengo

    with nengo.Network() as net:
        nengo.Node([1.0])
    with pytest.raises(UsageError, match="time step"):
        export_network(net)
    with nengo.Network() as net2:
        s = nengo.Node(play(np.ones((3, 1))), size_out=1)
        n = nengo.Node(size_in=1)
        nengo.Connection(s, n, synapse=None)
    with pytest.raises(UsageError, match="probe"):
        export_network(net2, dt=DT)
