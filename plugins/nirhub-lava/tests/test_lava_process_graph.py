"""A Lava network written by hand with lava-nc's processes converts to the IR."""

from __future__ import annotations

import numpy as np
import pytest

import nirhub
from nirhub.errors import UnsupportedError

DT, TAU = 1e-3, 0.01


def _lava_mlp(w1, b1, w2, b2, x):
    """input -> Dense -> LIF(16) -> Dense -> LIF(4), biases through a constant source whose
    synapse onto the second layer waits one step (so both layers start at rest)."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    steps = x.shape[0] + 2
    data = np.zeros((x.shape[1], steps))
    data[:, : x.shape[0]] = x.T
    src = RingBuffer(data=data)
    one = RingBuffer(data=np.ones((1, steps)))
    dv = DT / TAU
    hid = LIF(shape=(16,), du=1.0, dv=dv, vth=1.0, bias_mant=np.zeros(16))
    out = LIF(shape=(4,), du=1.0, dv=dv, vth=1.0, bias_mant=np.zeros(4))
    for s, t, w, d in ((src, hid, w1, 0), (one, hid, b1[:, None], 0), (hid, out, w2, 0),
                       (one, out, b2[:, None], 1)):  # fmt: skip
        syn = (
            DelayDense(weights=w, delays=np.full(w.shape, d), max_delay=d)
            if d
            else Dense(weights=w)
        )
        s.s_out.connect(syn.s_in)
        syn.a_out.connect(t.a_in)
    return src, hid, out


def test_hand_built_lava_network_to_ir(registry):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink

    rng = np.random.default_rng(1)
    w1, b1 = rng.normal(0, 0.9, (16, 8)), rng.normal(0, 0.1, 16)
    w2, b2 = rng.normal(0, 0.8, (4, 16)), rng.normal(0, 0.1, 4)
    x = (rng.random((60, 8)) < 0.3).astype(float)
    src, hid, out = _lava_mlp(w1, b1, w2, b2, x)
    graph = registry.get("lava").to_ir(out, dt=DT)
    graph.validate()
    ref = nirhub.simulate(graph, x)["output"]
    assert ref.sum() > 10

    sink = Sink(shape=(4,), buffer=x.shape[0] + 2)
    out.s_out.connect(sink.a_in)
    out.run(condition=RunSteps(num_steps=x.shape[0] + 2), run_cfg=Loihi2SimCfg())
    try:
        lava = np.asarray(sink.data.get()).T[2:]  # the two layers' latency
    finally:
        out.stop()
    np.testing.assert_array_equal(lava != 0, ref != 0)


def test_unknown_processes_are_named(registry):
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIFReset

    src = RingBuffer(data=np.zeros((2, 5)))
    syn = Dense(weights=np.eye(2))
    lif = LIFReset(shape=(2,), reset_interval=4)
    src.s_out.connect(syn.s_in)
    syn.a_out.connect(lif.a_in)
    with pytest.raises(UnsupportedError) as info:
        registry.get("lava").to_ir(lif, dt=DT)
    assert [p.where for p in info.value.problems] == [lif.name]
