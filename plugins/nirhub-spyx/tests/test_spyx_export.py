"""Export agreement: Spyx models built with Spyx's own layers and defaults (random weights,
random per-neuron decays) -> IR -> nirhub.simulate (Euler), versus spyx.nn.run.

Spyx decides a spike from the previous step's voltage; the export adds a one-step Delay per
spiking layer, so the reference reproduces Spyx's own (late) spike times. Both run in float32
(Spyx's default); tolerance: spikes identical except where a voltage lands within float32
rounding of the threshold (at most 0.5 % of the events; in practice 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from nirhub_spyx.export import export_spyx

import nirhub
from nirhub.errors import UnsupportedError, UsageError
from nirhub.ir.conventions import namespace
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS, lif_task_input
from nirhub.testing.networks import spike_train

DT = 1e-3


def spyx_run(model, x: np.ndarray) -> np.ndarray:
    import jax.numpy as jnp
    import spyx

    out, _ = spyx.nn.run(model, jnp.asarray(x, jnp.float32))
    return np.asarray(out)


def check(model, x: np.ndarray, *, channels_last: bool = False, **kw) -> tuple:
    want = spyx_run(model, x)
    g = export_spyx(model, dt=DT, **kw)
    assert namespace(g.metadata)["method"] == "euler" and namespace(g.metadata)["dt"] == DT
    xr = np.moveaxis(x, -1, 2) if channels_last else x  # (T, B, H, W, C) -> channels first
    got = simulate(g, xr, DT, dtype=np.float32).outputs["output"]
    if got.ndim == want.ndim and channels_last and got.ndim == 5:
        got = np.moveaxis(got, 2, -1)
    spikes = np.isin(want, (0.0, 1.0)).all()
    if spikes:
        assert want.sum() > 10, "the test must make the model spike"
        assert np.count_nonzero(want != got) <= 0.005 * want.sum()
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    return g, want, got


@pytest.fixture
def rngs():
    from flax import nnx

    return nnx.Rngs(1)


def test_cubalif_mlp_with_spyx_defaults(rngs) -> None:
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Linear(10, 20, rngs=rngs),
        spyx.nn.CuBaLIF((20,), rngs=rngs),
        nnx.Linear(20, 5, rngs=rngs),
        spyx.nn.CuBaLIF((5,), rngs=rngs),
    )
    g, want, got = check(model, spike_train((3, 10), 200, 0.3))
    assert np.array_equal(want, got)
    types = [n.type_name for _, n in g.walk()]
    assert types.count("CubaLIF") == 2 and types.count("Delay") == 2


def test_if_network(rngs) -> None:
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Linear(10, 20, rngs=rngs),
        spyx.nn.IF((20,)),
        nnx.Linear(20, 5, rngs=rngs),
        spyx.nn.IF((5,)),
    )
    _, want, got = check(model, spike_train((3, 10), 200, 0.3))
    assert np.array_equal(want, got)


def test_lif_with_spyx_defaults(rngs) -> None:
    """spyx.nn.LIF subtracts the threshold one step late and undecayed: reset mode
    "subtract-delayed" in the reference simulator."""
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Linear(10, 16, rngs=rngs),
        spyx.nn.LIF((16,), rngs=rngs),
        nnx.Linear(16, 4, rngs=rngs),
        spyx.nn.LIF((4,), rngs=rngs),
    )
    g, want, got = check(model, 3.0 * spike_train((2, 10), 200, 0.5))
    assert np.array_equal(want, got)
    lifs = [n for _, n in g.walk() if n.type_name == "LIF"]
    assert all(namespace(n.metadata)["reset"] == "subtract-delayed" for n in lifs)


def test_recurrent_layers_and_non_spiking_readout(rngs) -> None:
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Linear(10, 20, rngs=rngs),
        spyx.nn.RCuBaLIF((20,), rngs=rngs),
        nnx.Linear(20, 8, rngs=rngs),
        spyx.nn.RIF((8,), rngs=rngs),
        nnx.Linear(8, 5, rngs=rngs),
        spyx.nn.LI((5,), rngs=rngs),
    )
    g, _, _ = check(model, spike_train((3, 10), 150, 0.3))
    assert "NIRGraph" in {n.type_name for _, n in g.walk()}


def test_rlif_and_psu_lif(rngs) -> None:
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Linear(10, 12, rngs=rngs),
        spyx.nn.PSU_LIF((12,), rngs=rngs),
        nnx.Linear(12, 6, rngs=rngs),
        spyx.nn.RLIF((6,), rngs=rngs),
    )
    check(model, 2.0 * spike_train((2, 10), 150, 0.4))


def test_conv_pool_flatten_channels_last(rngs) -> None:
    """nnx.Conv and SumPool run channels last; the Flatten of a (H, W, C) tensor is folded
    into the next Linear's weights so that NIR's channels-first flattening matches."""
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Conv(2, 4, (3, 3), padding="SAME", rngs=rngs),
        spyx.nn.IF((12, 12, 4)),
        spyx.nn.SumPool((2, 2), (2, 2), "VALID"),
        spyx.nn.Flatten(),
        nnx.Linear(144, 6, rngs=rngs),
        spyx.nn.CuBaLIF((6,), rngs=rngs),
    )
    g, want, got = check(
        model, spike_train((2, 12, 12, 2), 40, 0.3), channels_last=True, input_shape="2,12,12"
    )
    assert np.array_equal(want, got)
    assert g.nodes["input"].shape == (2, 12, 12)
    assert {"Conv2d", "SumPool2d", "Flatten", "Affine"} <= {n.type_name for _, n in g.walk()}


def test_flatten_at_the_output_keeps_spyx_order(rngs) -> None:
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Conv(2, 4, (3, 3), strides=2, padding="VALID", rngs=rngs),
        spyx.nn.IF((5, 5, 4)),
        spyx.nn.Flatten(),
        spyx.nn.IF((100,)),
    )
    _, want, got = check(
        model,
        2.0 * spike_train((2, 12, 12, 2), 40, 0.4),
        channels_last=True,
        input_shape=(2, 12, 12),
    )
    assert np.array_equal(want, got)


def test_paper_lif_task_spyx_is_one_step_late() -> None:
    """A native Spyx LIF for the paper's task (beta = 1 - dt/tau, threshold 0.1, input gain
    dt/tau) fires at 461, 511, 711, 761 -- one step after NIR's 460, 510, 710, 760, as in the
    paper; its export carries the Delay, so the reference reproduces Spyx exactly, and
    importing the task graph into Spyx (NIR-timed neurons) gives the NIR steps."""
    import jax.numpy as jnp
    import spyx
    from flax import nnx

    dt, tau = 1e-4, 2.5e-3
    x = lif_task_input()[:, None, :]  # (T, 1, 1)
    lin = nnx.Linear(1, 1, use_bias=False, rngs=nnx.Rngs(0))
    lin.kernel[...] = jnp.full((1, 1), dt / tau)
    model = spyx.nn.Sequential(
        lin, spyx.nn.LIF((1,), beta=1 - dt / tau, threshold=0.1, rngs=nnx.Rngs(0))
    )
    out, _ = spyx.nn.run(model, jnp.asarray(x, jnp.float32))
    native = np.flatnonzero(np.asarray(out)[:, 0, 0]).tolist()
    assert native == [461, 511, 711, 761]
    g = export_spyx(model, dt=dt)
    ref = simulate(g, x, dt, dtype=np.float32).outputs["output"]
    assert np.flatnonzero(ref[:, 0, 0]).tolist() == native


def test_refuses_every_inexpressible_layer(rngs) -> None:
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Linear(4, 6, rngs=rngs),
        spyx.nn.ALIF((6,), rngs=rngs),
        nnx.Linear(6, 3, rngs=rngs),
        spyx.nn.LIF((3,), beta=1.0, rngs=rngs),
        nnx.Dropout(0.5, rngs=rngs),
    )
    with pytest.raises(UnsupportedError) as info:
        export_spyx(model, dt=DT)
    where = " ".join(p.where for p in info.value.problems)
    assert "layer 1 (ALIF)" in where and "layer 4 (Dropout)" in where


def test_needs_dt_and_the_input_shape_of_a_conv_model(rngs) -> None:
    import spyx
    from flax import nnx

    with pytest.raises(UsageError, match="time step"):
        export_spyx(spyx.nn.Sequential(nnx.Linear(2, 2, rngs=rngs)), dt=None)
    conv = spyx.nn.Sequential(nnx.Conv(2, 4, (3, 3), rngs=rngs), spyx.nn.IF((8, 8, 4)))
    with pytest.raises(UsageError, match="input_shape"):
        export_spyx(conv, dt=DT)
    g = export_spyx(conv, dt=DT, input_shape="2,8,8")
    assert g.nodes["input"].shape == (2, 8, 8)


def test_round_trip_of_an_imported_graph_keeps_the_graph() -> None:
    """IR -> Spyx GraphModel -> IR: the same nodes, parameters (float32) and edges."""
    from nirhub.hub.convert import from_ir

    g = nirhub.read(CORPUS / "rnn" / "braille_noDelay_bias_zero.nir")
    model = from_ir(g, "spyx", dt=1e-4)
    back = export_spyx(model, dt=None)
    assert set(back.nodes) == set(g.nodes)
    assert sorted(back.edges) == sorted(g.edges)
    for name, node in g.nodes.items():
        for field, value in node.params().items():
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(
                    getattr(back.nodes[name], field), value, rtol=1e-6, err_msg=f"{name}.{field}"
                )
