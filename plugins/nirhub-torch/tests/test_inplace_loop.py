"""The inference fast paths of the torch runtime give the step loop's exact results (issue 18).

Without autograd, a neuron node runs its recurrence in place (``runtime.run_in_place``) and a
graph without cycles or delays runs window by window (``NIRModel.chunk_steps``). With autograd
the model steps every neuron through ``Neuron.step`` over the whole input at once, the path the
rest of the suite checks against the reference simulator. Here both paths run the same graphs
and every output and recorded variable must be bit-identical (``torch.equal``), for each neuron
type, discretization, reset mode and variant, in float32 and float64, and the reference
simulator must agree on the spikes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from nirhub_torch.import_ import from_ir
from nirhub_torch.runtime import Neuron, NIRModel, runs_in_place

from nirhub.ir.conventions import set_reset, set_variant
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    Affine,
    Conv2d,
    CubaLI,
    CubaLIF,
    Flatten,
    I,
    Input,
    Output,
    SumPool2d,
)
from nirhub.sim import simulate

DT = 1e-4
N = 6


def neuron(kind: str, rng: np.random.Generator):
    def spread(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, N)

    if kind == "I":
        return I(spread(1e4, 3e4))
    if kind == "IF":
        return IF(spread(1e4, 3e4), spread(0.4, 0.8), spread(-0.1, 0.1))
    if kind == "LI":
        return LI(spread(1e-3, 3e-3), spread(0.5, 2), spread(-0.1, 0.1))
    if kind == "LIF":
        return LIF(
            spread(1e-3, 3e-3), spread(0.5, 2), spread(-0.1, 0.1), spread(0.3, 0.6), np.zeros(N)
        )
    if kind == "CubaLI":
        return CubaLI(spread(5e-4, 1e-3), spread(1e-3, 3e-3), spread(0.5, 2), spread(-0.1, 0.1))
    return CubaLIF(
        spread(5e-4, 1e-3),
        spread(1e-3, 3e-3),
        spread(0.5, 2),
        spread(-0.1, 0.1),
        spread(0.3, 0.6),
        spread(-0.2, 0.0),
    )


def chain(node, rng: np.random.Generator) -> Graph:
    """input -> Affine -> node -> Affine -> LIF -> output (a second, plain LIF downstream)."""
    w1, w2 = 3 * rng.normal(size=(N, 5)), 2 * rng.normal(size=(4, N))
    plain = LIF(np.full(4, 2e-3), np.ones(4), np.zeros(4), np.full(4, 0.5), np.zeros(4))
    nodes = {
        "input": Input((5,)),
        "fc1": Affine(w1, 0.1 * rng.normal(size=N)),
        "n": node,
        "fc2": Affine(w2, np.zeros(4)),
        "lif": plain,
        "output": Output(),
    }
    names = list(nodes)
    return Graph(nodes, list(zip(names[:-1], names[1:], strict=True)))


def both_paths(model: NIRModel, x: torch.Tensor, record: list[str], window: int | None = None):
    """(in place, in windows of ``window`` steps, step by step with autograd in one window)
    results of the same model."""
    with torch.no_grad():
        if window is None:
            fast = model.run(x, record=record)
        else:
            per_step = x.shape[1] * max(
                max(math.prod(m.in_shape), math.prod(m.out_shape)) for m in model.nodes.values()
            )
            model.WINDOW_ELEMENTS = window * per_step  # (an instance attribute)
            assert model.chunk_steps(x.shape[0], x.shape[1]) == window
            fast = model.run(x, record=record)
            del model.WINDOW_ELEMENTS
    with torch.enable_grad():
        assert model.chunk_steps(x.shape[0], x.shape[1]) == x.shape[0]
        slow = model.run(x, record=record)
    return fast, slow


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values, NaN where NaN (infinities compared as values)."""
    nan = torch.isnan(a)
    return torch.equal(nan, torch.isnan(b)) and torch.equal(a[~nan], b[~nan])


def assert_identical(fast, slow) -> None:
    (out_f, rec_f), (out_s, rec_s) = fast, slow
    assert out_f.keys() == out_s.keys()
    for name in out_f:
        assert same(out_f[name], out_s[name].detach()), name
    assert rec_f.keys() == rec_s.keys()
    for path in rec_f:
        assert rec_f[path].keys() == rec_s[path].keys(), path
        for var in rec_f[path]:
            a, b = rec_f[path][var], rec_s[path][var].detach()
            assert a.dtype == b.dtype and a.shape == b.shape, (path, var)
            assert same(a, b), (path, var)


VARIANTS = {"plain": {}, "ge": {"threshold": ">="}, "v_min": {"v_min": -0.05}}


KINDS_METHODS = [
    (kind, method)
    for kind in ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF")
    for method in ("euler", "exact", "staged")
    if method != "staged" or kind.startswith("Cuba")  # staged exists for Cuba neurons only
]


@pytest.mark.parametrize(("dtype", "window"), [("float32", None), ("float64", 7)])
@pytest.mark.parametrize(("kind", "method"), KINDS_METHODS)
def test_every_neuron_type_identical(kind: str, method: str, dtype: str, window) -> None:
    rng = np.random.default_rng(len(kind))
    node = neuron(kind, rng)
    if method == "staged":
        set_variant(node.metadata, discretization="staged")
    graph = chain(node, rng)
    model = from_ir(graph, dt=DT, method="euler" if method == "euler" else "exact", dtype=dtype)
    x = torch.as_tensor((rng.random((120, 3, 5)) < 0.4) * 1.5)
    fast, slow = both_paths(model, x, ["n", "fc2", "lif"], window)
    assert_identical(fast, slow)
    n = fast[1]["n"]
    assert (n["spikes"].sum() > 10) if "spikes" in n else (n["v"].abs().max() > 0.1)
    assert fast[0]["output"].sum() > 0  # the downstream LIF fires


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("reset", ["zero", "subtract", "subtract-delayed", "subtract-guarded"])
@pytest.mark.parametrize("kind", ["IF", "LIF", "CubaLIF"])
def test_every_reset_and_variant_identical(kind: str, reset: str, variant: str) -> None:
    """(in windows of 16 steps: the state, the delayed reset's flag... carry over)"""
    rng = np.random.default_rng(7)
    node = neuron(kind, rng)
    set_reset(node.metadata, reset)
    set_variant(node.metadata, **VARIANTS[variant])
    graph = chain(node, rng)
    model = from_ir(graph, dt=DT, method="exact", dtype="float32")
    x = torch.as_tensor((rng.random((150, 2, 5)) < 0.4) * 2.0)
    fast, slow = both_paths(model, x, ["n"], window=16)
    assert_identical(fast, slow)
    assert fast[1]["n"]["spikes"].sum() > 20
    # the reference simulator agrees on every spike (float32: same operations, same order)
    ref = simulate(graph, x.numpy(), DT, method="exact", dtype=np.float32, record=["n"])
    np.testing.assert_array_equal(fast[1]["n"]["spikes"].numpy(), ref.spikes("n"))


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("kind", ["IF", "LIF", "CubaLIF"])
def test_infinite_and_nan_inputs_identical(kind: str, reset: str) -> None:
    """Inputs that overflow float32 (v = +inf above the threshold, inf - inf = NaN): the
    reset by arithmetic would turn inf*0 into NaN, so the runtime must see it and reset with
    ``torch.where`` (the step loop's operation)."""
    rng = np.random.default_rng(13)
    node = neuron(kind, rng)
    set_reset(node.metadata, reset)
    model = from_ir(chain(node, rng), dt=DT, method="exact", dtype="float32")
    x = (rng.random((60, 2, 5)) < 0.4) * 2.0
    x[20:23] *= 1.7e38  # three steps of huge inputs, then normal ones again
    x = torch.as_tensor(x, dtype=torch.float32)
    fast, slow = both_paths(model, x, ["n", "lif"], window=8)
    assert_identical(fast, slow)
    v = fast[1]["n"]["v"]
    assert bool(torch.isinf(v).any() or torch.isnan(v).any())  # the case is exercised
    if kind != "CubaLIF":  # (a NaN synaptic current stays NaN)
        assert fast[1]["n"]["spikes"][30:].sum() > 0  # neurons reset from +inf fire again


def test_multi_spike_and_guarded_reset_take_the_step_loop() -> None:
    rng = np.random.default_rng(3)
    multi, guarded = neuron("LIF", rng), neuron("LIF", rng)
    set_variant(multi.metadata, spikes="multi")
    set_reset(guarded.metadata, "subtract-guarded")
    for node in (multi, guarded):
        model = from_ir(chain(node, rng), dt=DT, dtype="float32")
        mod = model.node("n")
        assert isinstance(mod, Neuron)
        x = torch.zeros((4, 2, N))
        state = mod.initial_state(2, torch.float32, x.device)
        co = mod.coefficients(DT, model.method, torch.float32)
        with torch.no_grad():
            assert not runs_in_place(mod, x, state, co)
    plain = from_ir(chain(neuron("LIF", rng), rng), dt=DT, dtype="float32").node("n")
    state = plain.initial_state(2, torch.float32, x.device)
    co = plain.coefficients(DT, "euler", torch.float32)
    with torch.no_grad():
        assert runs_in_place(plain, x, state, co)
    assert not runs_in_place(plain, x, state, co)  # autograd on: the differentiable step


def conv_net(rng: np.random.Generator) -> Graph:
    def lif(shape):
        return LIF(
            np.full(shape, 2e-3), np.full(shape, 20.0), np.zeros(shape), np.ones(shape), None
        )

    return Graph(
        {
            "input": Input((2, 12, 12)),
            "conv1": Conv2d((12, 12), rng.normal(0.1, 1.0, (4, 2, 3, 3)), padding=1),
            "lif1": lif((4, 12, 12)),
            "pool": SumPool2d(2),
            "conv2": Conv2d((6, 6), rng.normal(0.0, 1.0, (8, 4, 3, 3)), stride=2, padding=1),
            "lif2": lif((8, 3, 3)),
            "flat": Flatten((8, 3, 3), 0),
            "fc": Affine(rng.normal(0.0, 1.0, (5, 72)), np.zeros(5)),
            "lif3": lif((5,)),
            "output": Output(),
        },
        [
            ("input", "conv1"),
            ("conv1", "lif1"),
            ("lif1", "pool"),
            ("pool", "conv2"),
            ("conv2", "lif2"),
            ("lif2", "flat"),
            ("flat", "fc"),
            ("fc", "lif3"),
            ("lif3", "output"),
        ],
    )


@pytest.mark.parametrize(
    ("dtype", "window"), [("float64", 1), ("float64", 7), ("float64", None), ("float32", 7)]
)
def test_windows_identical_to_one_pass(dtype: str, window: int | None) -> None:
    """Window by window (any window length, the last one shorter) = all steps at once; in
    float32 too (the convolutions of a window and of all steps sum in the same order)."""
    rng = np.random.default_rng(11)
    graph = conv_net(rng)
    model = from_ir(graph, dt=DT, dtype=dtype)
    x = torch.as_tensor((rng.random((40, 3, 2, 12, 12)) < 0.3) * 1.0, dtype=getattr(torch, dtype))
    record = ["lif1", "pool", "lif2", "lif3"]
    fast, slow = both_paths(model, x, record, window)
    assert_identical(fast, slow)
    assert fast[0]["output"].sum() > 10
    if dtype == "float64":
        ref = simulate(graph, x.numpy(), DT, record=record)
        np.testing.assert_array_equal(fast[0]["output"].numpy(), ref.outputs["output"])
        for path in ("lif1", "lif2"):
            np.testing.assert_array_equal(fast[1][path]["spikes"].numpy(), ref.spikes(path))


def test_one_sample_layout_and_window_state() -> None:
    """Unbatched input (T, *shape) and two runs of the same model: the state starts at rest."""
    rng = np.random.default_rng(5)
    model = from_ir(conv_net(rng), dt=DT, dtype="float32")
    x = torch.as_tensor((rng.random((30, 2, 12, 12)) < 0.3) * 1.0, dtype=torch.float32)
    with torch.no_grad():
        first, again = model(x), model(x)
    with torch.enable_grad():
        slow = model(x).detach()
    assert first.shape == (30, 5)
    assert torch.equal(first, again) and torch.equal(first, slow)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unit_gain_without_leak_identical(dtype: str) -> None:
    """r = tau/dt and v_leak = 0 under Euler (snnTorch's export): g = 1 and c = 0 exactly, so
    the in-place loop uses the input as the drive; same results as the step loop."""
    dt = 2.0**-10
    lif = LIF(np.full(N, 8 * dt), np.full(N, 8.0), np.zeros(N), np.full(N, 0.75), np.zeros(N))
    rng = np.random.default_rng(17)
    model = from_ir(chain(lif, rng), dt=dt, method="euler", dtype=dtype)
    co = model.node("n").coefficients(dt, "euler", getattr(torch, dtype))
    assert bool((co["g"] == 1).all()) and bool((co["c"] == 0).all())
    x = torch.as_tensor((rng.random((90, 2, 5)) < 0.4) * 1.0, dtype=getattr(torch, dtype))
    fast, slow = both_paths(model, x, ["n", "lif"], window=11)
    assert_identical(fast, slow)
    assert fast[1]["n"]["spikes"].sum() > 20
