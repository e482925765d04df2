"""The torch module against nirhub's reference simulator.

Tolerances: neuron updates use the simulator's coefficients and order of operations, so in
float64 every signal that passes only through neurons, Scale, Delay, Threshold, Flatten and
relays is *bit-identical*; matrix products and convolutions (BLAS) may differ in the last bits
(|difference| <= 1e-12 here), and spikes are compared exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nirhub_torch.export import to_ir
from nirhub_torch.import_ import from_ir
from nirhub_torch.run import run

from nirhub.errors import UsageError
from nirhub.io import read
from nirhub.ir.conventions import set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, NEURON_TYPES, Affine, CubaLIF, Delay, Input, Linear, Output
from nirhub.sim import simulate
from nirhub.testing import (
    BRAILLE_GRAPHS,
    DT,
    PRIMITIVES,
    check_braille_paper_activity,
    check_lif_task,
    primitive_graph,
    random_inputs,
)
from nirhub.testing.corpus import CORPUS, braille_input

#: types whose outputs involve no matrix product or convolution (no BLAS rounding)
EXACT_TYPES = {"Scale", "Flatten", "Delay", "Threshold", "NIRGraph", *NEURON_TYPES}


def _torch_run(model, inputs, record=()):
    with torch.no_grad():
        return model.run({k: torch.as_tensor(v) for k, v in inputs.items()}, record=record)


@pytest.mark.parametrize("method", ["euler", "exact"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("type_name", PRIMITIVES)
def test_primitive_matches_simulator(type_name: str, method: str, reset: str) -> None:
    graph = primitive_graph(type_name)
    inputs = random_inputs(graph)
    ref = simulate(graph, inputs, DT, method=method, reset=reset)
    model = from_ir(graph, method=method, reset=reset, dtype="float64")
    out, _ = _torch_run(model, inputs)
    name = graph.outputs[0]
    got, want = out[name].numpy(), ref.outputs[name]
    assert got.shape == want.shape
    exact_exp = method == "euler" or type_name not in {"LI", "LIF", "CubaLI", "CubaLIF", "NIRGraph"}
    if type_name in EXACT_TYPES and exact_exp:
        np.testing.assert_array_equal(got, want)
    else:  # BLAS sums, or exp()/expm1() of torch vs numpy (1 ulp)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reset", ["subtract-delayed", "subtract-guarded"])
@pytest.mark.parametrize("type_name", ["IF", "LIF", "CubaLIF", "NIRGraph"])
def test_snntorch_reset_variants_match_simulator(type_name: str, reset: str) -> None:
    graph = primitive_graph(type_name)
    inputs = random_inputs(graph, steps=40)
    ref = simulate(graph, inputs, DT, reset=reset)
    model = from_ir(graph, reset=reset, dtype="float64")
    out, _ = _torch_run(model, inputs)
    name = graph.outputs[0]
    np.testing.assert_array_equal(out[name].numpy(), ref.outputs[name])
    assert ref.outputs[name].sum() > 0


def test_braille_b_with_snntorch_reset_reproduces_the_paper() -> None:
    """Graph B was trained with snnTorch's reset_delay=False subtraction ("subtract-guarded"):
    with that mode the paper's recorded snnTorch activity is reproduced cell for cell."""
    check_braille_paper_activity(run)


def test_device_option() -> None:
    graph = primitive_graph("LIF")
    model = from_ir(graph, device="cpu")
    assert model._anchor.device.type == "cpu"
    with pytest.raises(UsageError, match="device"):
        from_ir(graph, device="no-such-device")


def test_run_hook_records_like_the_simulator() -> None:
    graph = primitive_graph("CubaLIF")
    inputs = random_inputs(graph, steps=40)
    path = "cubalif"
    ref = simulate(graph, inputs, DT, record=[path, "input"])
    res = run(graph, inputs, DT, record=[path, "input"])
    assert res.steps == 40 and res.batch_size is None
    for var in ("spikes", "v", "I"):
        np.testing.assert_array_equal(res.recorded[path][var], ref.recorded[path][var])
    assert res.recorded[path]["spikes"].dtype == bool
    assert res.recorded[path]["spikes"].sum() > 0
    np.testing.assert_array_equal(res.recorded["input"]["out"], ref.recorded["input"]["out"])


def test_batched_equals_one_by_one() -> None:
    graph = primitive_graph("NIRGraph")
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 2, size=(30, 5, 4))
    model = from_ir(graph, dtype="float64")
    with torch.no_grad():
        batched = model(torch.as_tensor(x)).numpy()
        single = np.stack([model(torch.as_tensor(x[:, b])).numpy() for b in range(5)], axis=1)
    np.testing.assert_array_equal(batched, single)
    assert batched.sum() > 0
    ref = simulate(graph, x, DT)
    np.testing.assert_array_equal(batched, ref.outputs["output"])


@pytest.mark.parametrize("name,reset,hidden", BRAILLE_GRAPHS)
def test_braille_graphs_bit_exact(name: str, reset: str, hidden: int) -> None:
    graph, x = read(CORPUS / "rnn" / f"{name}.nir"), braille_input()
    ref = simulate(graph, x, 1e-4, reset=reset, record=["lif1.lif", "lif2"])
    res = run(graph, x, 1e-4, reset=reset, record=["lif1.lif", "lif2"])
    for path in ("lif1.lif", "lif2"):
        np.testing.assert_array_equal(res.recorded[path]["spikes"], ref.recorded[path]["spikes"])
        for var in ("v", "I"):  # lif2 sits behind a 40-input matrix product (BLAS rounding)
            np.testing.assert_allclose(
                res.recorded[path][var], ref.recorded[path][var], rtol=0, atol=1e-12
            )
    assert int(res.recorded["lif1.lif"]["spikes"].sum()) == hidden
    np.testing.assert_array_equal(res.outputs["output"], ref.outputs["output"])
    # graph A (reset to zero) is the paper's snnTorch activity, cell for cell
    if reset == "zero":
        act = np.load(CORPUS / "rnn" / f"snntorch_activity_{name.split('braille_')[1]}.npy")
        spikes = res.recorded["lif1.lif"]["spikes"]
        assert int((act.reshape(spikes.shape) != spikes).sum()) == 0


def test_braille_float32_state_tolerance() -> None:
    graph = read(CORPUS / "rnn" / "braille_noDelay_bias_zero.nir")
    x = braille_input()
    ref = simulate(graph, x, 1e-4, record=["lif1.lif"], dtype=np.float32)
    res = run(graph, x, 1e-4, record=["lif1.lif"], dtype="float32")
    np.testing.assert_array_equal(
        res.recorded["lif1.lif"]["spikes"], ref.recorded["lif1.lif"]["spikes"]
    )
    np.testing.assert_allclose(
        res.recorded["lif1.lif"]["v"], ref.recorded["lif1.lif"]["v"], atol=1e-4
    )


def test_cnn_sinabs_on_synthetic_events() -> None:
    graph = read(CORPUS / "cnn" / "cnn_sinabs.nir")
    rng = np.random.default_rng(0)
    # Poisson event counts per 1 ms frame on the (2, 34, 34) sensor, batch of 2; dt = 1 so one
    # frame drives the IF neurons by its counts (r = 1, threshold 1), as Sinabs runs it
    x = rng.poisson(0.3, size=(20, 2, 2, 34, 34)).astype(np.float64)
    record = ["1", "3", "6", "10", "12"]
    ref = simulate(graph, x, 1.0, record=record)
    res = run(graph, x, 1.0, record=record)
    for path in record:
        np.testing.assert_array_equal(res.recorded[path]["spikes"], ref.recorded[path]["spikes"])
        np.testing.assert_allclose(
            res.recorded[path]["v"], ref.recorded[path]["v"], rtol=0, atol=1e-9
        )
    assert res.recorded["1"]["spikes"].sum() > 1000  # the first layer is busy
    assert res.recorded["12"]["spikes"].sum() > 0  # and activity reaches the output


def test_lif_task_spike_steps() -> None:
    check_lif_task(run, method=("euler", "exact"), dtype=("float32", "float64"))


def _recurrent_graph() -> Graph:
    rng = np.random.default_rng(3)
    n = 6
    graph = Graph(
        {
            "in": Input((3,)),
            "fc": Affine(rng.normal(size=(n, 3)).astype(np.float32), np.zeros(n, np.float32)),
            "lif": CubaLIF(
                np.full(n, 5e-4),
                np.full(n, 1e-3),
                np.ones(n) * 10,
                np.zeros(n),
                np.full(n, 0.5),
                None,
                np.ones(n) * 5,
            ),
            "rec": Linear(rng.normal(size=(n, n)) * 0.5),
            "delay": Delay(np.array([0.0, 1e-4, 2e-4, 2e-4, 5e-4, 1e-4])),
            "out": Output(None),
        },
        [
            ("in", "fc"),
            ("fc", "lif"),
            ("lif", "rec"),
            ("rec", "delay"),
            ("delay", "lif"),
            ("lif", "out"),
        ],
    )
    set_reset(graph.metadata, "subtract")
    return graph


def test_recurrence_with_delays_and_fan_in() -> None:
    graph = _recurrent_graph()
    x = np.random.default_rng(4).uniform(0, 2, size=(60, 2, 3))
    ref = simulate(graph, x, 1e-4, record=["lif", "delay"])
    res = run(graph, x, 1e-4, record=["lif", "delay"])
    np.testing.assert_array_equal(res.recorded["lif"]["spikes"], ref.recorded["lif"]["spikes"])
    np.testing.assert_allclose(res.recorded["lif"]["v"], ref.recorded["lif"]["v"], atol=1e-12)
    np.testing.assert_allclose(
        res.recorded["delay"]["out"], ref.recorded["delay"]["out"], atol=1e-12
    )
    assert res.recorded["lif"]["spikes"].sum() > 20


def test_gradients_flow_to_every_parameter_kind() -> None:
    graph = _recurrent_graph()
    model = from_ir(graph, dt=1e-4)  # float32, the default for training
    x = torch.as_tensor(
        np.random.default_rng(5).uniform(0, 2, size=(40, 4, 3)), dtype=torch.float32
    )
    out = model(x)
    loss = ((out.mean(dim=0) - 0.3) ** 2).sum()
    loss.backward()
    for name in (
        "fc.weight",
        "fc.bias",
        "rec.weight",
        "lif.tau_mem",
        "lif.tau_syn",
        "lif.v_threshold",
        "lif.w_in",
        "lif.r",
    ):
        key, field = name.split(".")
        grad = getattr(model.node(key), field).grad
        assert grad is not None, name
        assert torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name


def test_fine_tuned_parameters_are_exported() -> None:
    graph = primitive_graph("NIRGraph")
    model = from_ir(graph, dtype="float64")
    # time constants are in seconds (1e-3): train them with their own, much smaller step
    opt = torch.optim.SGD(
        [
            {"params": model.synaptic_parameters(), "lr": 0.05},
            {"params": model.neuron_parameters(), "lr": 1e-9},
        ]
    )
    x = torch.as_tensor(random_inputs(graph, steps=30)["input"])
    for _ in range(3):
        opt.zero_grad()
        loss = (model(x).mean() - 0.8) ** 2
        loss.backward()
        opt.step()
    tuned = to_ir(model)
    tuned.validate()
    w0 = graph.nodes["sub"].nodes["linear"].weight
    w1 = tuned.nodes["sub"].nodes["linear"].weight
    assert w1.dtype == w0.dtype and not np.array_equal(w0, w1)
    tau0, tau1 = graph.nodes["sub"].nodes["lif"].tau, tuned.nodes["sub"].nodes["lif"].tau
    assert not np.array_equal(tau0, tau1) and np.all(tau1 > 0)
    with torch.no_grad():
        mine = model(x).numpy()
    ref = simulate(tuned, x.numpy(), DT)
    np.testing.assert_allclose(mine, ref.outputs["output"], atol=1e-12)


def test_round_trip_keeps_dtypes_metadata_and_records_dt_and_reset() -> None:
    graph = read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    model = from_ir(graph, dt=1e-4, reset="subtract")
    back = to_ir(model)
    assert back.metadata["nirhub"]["dt"] == 1e-4
    lif = back.nodes["lif1.lif"]
    assert lif.metadata["nirhub"]["reset"] == "subtract"
    stripped = back.nodes["lif1.lif"].replace(metadata={})
    assert stripped == graph.nodes["lif1.lif"]  # values and dtypes (float64 params) unchanged
    assert back.nodes["fc1"] == graph.nodes["fc1"]  # float32 weights unchanged
    assert back.edges == graph.edges


def test_lif_v_leak_and_v_reset() -> None:
    n = 4
    graph = Graph.from_list(
        Linear(np.eye(n)),
        LIF(
            np.full(n, 2e-3),
            np.ones(n),
            np.array([0.0, 0.5, 1.2, -0.3]),
            np.ones(n),
            np.array([0.0, -0.2, 0.3, 0.1]),
        ),
    )
    x = np.random.default_rng(0).uniform(0, 3, size=(50, n))
    for method in ("euler", "exact"):
        ref = simulate(graph, x, 1e-4, method=method, record=["lif"])
        res = run(graph, x, 1e-4, method=method, record=["lif"])
        np.testing.assert_array_equal(res.recorded["lif"]["spikes"], ref.recorded["lif"]["spikes"])
        np.testing.assert_allclose(res.recorded["lif"]["v"], ref.recorded["lif"]["v"], atol=1e-12)
        assert res.recorded["lif"]["spikes"][:, 2].sum() > 0  # v_leak above threshold fires
