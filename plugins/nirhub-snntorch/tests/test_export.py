"""snnTorch -> IR: natively built models, exported, run by nirhub's reference simulator.

Every model here is built with snnTorch's own defaults (reset by subtraction with
``reset_delay=True`` unless a test says otherwise) and random weights, run natively in
snnTorch (float32, one step at a time), exported, and simulated by ``nirhub.simulate`` in
float32 with method ``"euler"``: every spike of every layer must be identical, membrane
potentials within 1e-5.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import snntorch as snn
import torch
from nirhub_snntorch.export import to_ir
from nirhub_snntorch.import_ import from_ir
from snntorch import utils
from torch import nn

from nirhub.errors import UnsupportedError
from nirhub.hub.backend import ConversionWarning
from nirhub.ir.graph import Graph
from nirhub.sim import simulate
from nirhub.testing.corpus import lif_task_input

T, B = 50, 3


def _native(net: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Run a Sequential of init_hidden layers; spikes of every neuron layer by index."""
    utils.reset(net)
    spikes: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, layer in net.named_children():
        if isinstance(layer, snn.SpikingNeuron):

            def hook(mod, args, out, _name=name):
                spk = out[0] if isinstance(out, tuple) else out
                spikes.setdefault(_name, []).append(spk.detach().clone())

            hooks.append(layer.register_forward_hook(hook))
    with torch.no_grad():
        for t in range(x.shape[0]):
            net(x[t])
    for h in hooks:
        h.remove()
    return {k: torch.stack(v).numpy() > 0 for k, v in spikes.items()}


def _agree(net: nn.Module, x: torch.Tensor, **kw) -> dict[str, int]:
    graph = to_ir(net, **kw)
    native = _native(net, x)
    spiking = [p for p, n in graph.walk() if n.type_name in ("IF", "LIF", "CubaLIF")]
    ref = simulate(graph, x.numpy(), record=spiking, dtype=np.float32)
    counts = {}
    for name, spikes in native.items():
        path = (
            name
            if name in graph.nodes and not isinstance(graph.nodes[name], Graph)
            else f"{name}.lif"
        )
        mine = ref.recorded[path]["spikes"]
        assert mine.shape == spikes.shape, (name, mine.shape, spikes.shape)
        differ = int((mine != spikes).sum())
        assert differ == 0, f"layer {name}: {differ} of {spikes.size} cells differ"
        counts[name] = int(spikes.sum())
    return counts


def _inputs(*shape: int, seed: int = 0, scale: float = 2.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(T, B, *shape, generator=g) * scale


def _busy(counts: dict[str, int]) -> None:
    """Each layer must spike, but not on every step (else the test would prove little)."""
    for name, n in counts.items():
        assert n > 0, f"layer {name} never spikes: {counts}"


@pytest.mark.parametrize(
    "reset,delay", [("subtract", True), ("subtract", False), ("zero", True), ("zero", False)]
)
def test_leaky_mlp(reset: str, delay: bool) -> None:
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Linear(5, 16),
        snn.Leaky(beta=0.9, init_hidden=True, reset_mechanism=reset, reset_delay=delay),
        nn.Linear(16, 4),
        snn.Leaky(
            beta=torch.rand(4),
            threshold=torch.rand(4) + 0.2,
            init_hidden=True,
            reset_mechanism=reset,
            reset_delay=delay,
        ),
    )
    with torch.no_grad():
        net[2].weight.mul_(3.0)
    _busy(_agree(net, _inputs(5)))


def test_default_leaky_records_dt_method_and_snntorch_reset() -> None:
    net = nn.Sequential(nn.Linear(3, 2), snn.Leaky(beta=0.8, init_hidden=True))
    graph = to_ir(net, dt=5e-4)
    assert graph.metadata["nirhub"] == {"dt": 5e-4, "method": "euler", "source": "snntorch"}
    lif = graph.nodes["1"]
    assert lif.type_name == "LIF" and lif.v_reset is None
    assert lif.metadata["nirhub"]["reset"] == "subtract-delayed"
    np.testing.assert_allclose(lif.tau, 5e-4 / 0.2, rtol=1e-6)
    np.testing.assert_allclose(lif.r, lif.tau / 5e-4)  # unit input gain


@pytest.mark.parametrize("reset,delay", [("subtract", True), ("subtract", False), ("zero", False)])
def test_synaptic(reset: str, delay: bool) -> None:
    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Linear(5, 16),
        snn.Synaptic(
            alpha=0.8, beta=0.9, init_hidden=True, reset_mechanism=reset, reset_delay=delay
        ),
        nn.Linear(16, 4),
        snn.Synaptic(
            alpha=torch.rand(4),
            beta=torch.rand(4),
            init_hidden=True,
            reset_mechanism=reset,
            reset_delay=delay,
        ),
    )
    _busy(_agree(net, _inputs(5)))


@pytest.mark.parametrize("reset,delay", [("subtract", True), ("subtract", False), ("zero", False)])
def test_rleaky_linear_and_one_to_one(reset: str, delay: bool) -> None:
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Linear(5, 16),
        snn.RLeaky(
            beta=0.9, linear_features=16, init_hidden=True, reset_mechanism=reset, reset_delay=delay
        ),
        nn.Linear(16, 4),
        snn.RLeaky(
            beta=0.8,
            all_to_all=False,
            V=torch.rand(4),
            init_hidden=True,
            reset_mechanism=reset,
            reset_delay=delay,
        ),
    )
    with torch.no_grad():
        net[2].weight.mul_(3.0)
    counts = _agree(net, _inputs(5))
    _busy(counts)
    graph = to_ir(net)
    sub = graph.nodes["1"]
    assert isinstance(sub, Graph) and sub.edges[1:3] == [("lif", "w_rec"), ("w_rec", "lif")]
    assert sub.nodes["w_rec"].type_name == "Affine"  # nn.Linear's recurrent bias is kept
    assert graph.nodes["3"].nodes["w_rec"].type_name == "Scale"


def test_rsynaptic_default_then_synaptic() -> None:
    torch.manual_seed(4)
    net = nn.Sequential(
        nn.Linear(5, 16),
        snn.RSynaptic(alpha=0.7, beta=0.9, linear_features=16, init_hidden=True),
        nn.Linear(16, 4),
        snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True),
    )
    with torch.no_grad():
        net[2].weight.mul_(3.0)
    _busy(_agree(net, _inputs(5)))


def test_rsynaptic_ignores_reset_delay_false() -> None:
    """snnTorch 1.0's RSynaptic applies reset_delay=False to a local variable only (and needs
    the previous spikes passed in): it computes the delayed subtraction, and is exported so."""
    torch.manual_seed(11)
    layer = snn.RSynaptic(alpha=0.7, beta=0.9, linear_features=6, reset_delay=False)
    net = nn.Sequential(nn.Linear(4, 6), layer)
    with pytest.warns(ConversionWarning, match="ignores reset_delay=False"):
        graph = to_ir(net)
    assert graph.nodes["1"].nodes["lif"].metadata["nirhub"]["reset"] == "subtract-delayed"
    x = _inputs(4)
    spk, syn, mem = torch.zeros(B, 6), torch.zeros(B, 6), torch.zeros(B, 6)
    native = []
    with torch.no_grad():
        for t in range(T):
            spk, syn, mem = layer(net[0](x[t]), spk, syn, mem)
            native.append(spk.numpy() > 0)
    ref = simulate(graph, x.numpy(), record=["1.lif"], dtype=np.float32)
    assert np.sum(native) > 0
    np.testing.assert_array_equal(ref.recorded["1.lif"]["spikes"], np.stack(native))


def test_lapicque_and_integrate_and_fire() -> None:
    torch.manual_seed(5)
    net = nn.Sequential(
        nn.Linear(5, 16),
        snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, init_hidden=True),
        nn.Linear(16, 8),
        snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism="zero"),
        nn.Linear(8, 4),
        snn.Lapicque(beta=0.9, init_hidden=True),
    )
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.mul_(4.0)
        net[4].weight.mul_(40.0)  # Lapicque(beta=0.9) has an input gain T/C of about 0.1
    graph = to_ir(net)
    assert graph.nodes["3"].type_name == "IF"  # beta = 1 is an integrator
    _busy(_agree(net, _inputs(5, scale=3.0)))


def test_conv_pool_flatten_dropout() -> None:
    torch.manual_seed(6)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(4 * 6 * 6, 5),
        snn.Leaky(beta=0.9, init_hidden=True),
    ).eval()
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[5].weight.mul_(6.0)
    x = (_inputs(2, 12, 12, seed=7, scale=1.0) < 0.4).float()
    counts = _agree(net, x, input_shape="2,12,12")
    _busy(counts)
    graph = to_ir(net, input_shape=(2, 12, 12))
    assert [n.type_name for n in graph.nodes.values()] == [
        "Input",
        "Conv2d",
        "LIF",
        "AvgPool2d",
        "Flatten",
        "Affine",
        "LIF",
        "Output",
    ]
    assert graph.nodes["0"].input_shape == (12, 12)
    assert graph.nodes["3"].start_dim == 0 and graph.nodes["3"].input_type == (4, 6, 6)


def test_round_trip_through_the_importer() -> None:
    """snnTorch model -> NIR -> generated snnTorch model: the same spikes."""
    torch.manual_seed(8)
    net = nn.Sequential(
        nn.Linear(5, 12),
        snn.Synaptic(alpha=0.6, beta=0.85, init_hidden=True),
        nn.Linear(12, 3),
        snn.Leaky(beta=0.7, init_hidden=True),
    )
    with torch.no_grad():
        net[2].weight.mul_(3.0)
    x = _inputs(5)
    native = _native(net, x)["3"]
    model = from_ir(to_ir(net))
    with torch.no_grad():
        again = model(x).numpy() > 0
    assert native.sum() > 0
    np.testing.assert_array_equal(again, native)


def test_unsupported_modules_are_all_reported() -> None:
    net = nn.Sequential(
        nn.Linear(4, 8),
        nn.ReLU(),
        snn.Leaky(beta=0.9, reset_mechanism="none", init_hidden=True),
        snn.Synaptic(alpha=0.5, beta=0.5, reset_mechanism="zero", init_hidden=True),
        snn.Alpha(alpha=0.9, beta=0.8, init_hidden=True),
        nn.MaxPool1d(2),
    )
    with pytest.raises(UnsupportedError) as info:
        to_ir(net)
    where = {p.where for p in info.value.problems}
    assert {"1", "4", "5"} <= where  # unknown modules: ReLU, Alpha, MaxPool1d
    text = str(info.value)
    for name in ("ReLU", "Alpha", "MaxPool1d"):
        assert name in text
    # once those are gone, the neuron configurations NIR cannot express are reported together
    net2 = nn.Sequential(net[0], net[2], net[3])
    with pytest.raises(UnsupportedError) as info2:
        to_ir(net2)
    assert {p.where for p in info2.value.problems} == {"1", "2"}
    assert "reset_mechanism='none'" in str(info2.value)
    assert "holds the membrane at 0" in str(info2.value)


class _Net(nn.Module):
    """The snnTorch tutorial's style: explicit states, a loop over time in forward()."""

    def __init__(self, order_ok: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 10)
        self.lif1 = snn.Leaky(beta=0.9)
        self.fc2 = nn.Linear(10, 3)
        self.lif2 = snn.Leaky(beta=0.8)
        self.order_ok = order_ok

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        out = []
        for t in range(x.shape[0]):
            if self.order_ok:
                spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            else:
                spk2, mem2 = self.lif2(self.fc2(torch.zeros(x.shape[1], 10)), mem2)
                spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            out.append(spk2)
        return torch.stack(out)


def test_custom_module_in_registration_order() -> None:
    torch.manual_seed(9)
    net = _Net()
    with torch.no_grad():
        net.fc2.weight.mul_(3.0)
    x = _inputs(5)
    with pytest.warns(ConversionWarning, match="registration order"):
        graph = to_ir(net)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked = to_ir(net, example_input=x)  # the order is verified: no warning
    assert checked == graph
    with torch.no_grad():
        native = net(x).numpy() > 0
    ref = simulate(graph, x.numpy(), dtype=np.float32)
    assert native.sum() > 0
    np.testing.assert_array_equal(ref.outputs["output"] > 0, native)
    with pytest.raises(UnsupportedError, match="not the chain"):
        to_ir(_Net(order_ok=False), example_input=x)


def test_fine_tuned_generated_model_exports_what_it_computes() -> None:
    torch.manual_seed(10)
    net = nn.Sequential(
        nn.Linear(5, 12),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(12, 3),
        snn.Synaptic(alpha=0.5, beta=0.8, init_hidden=True),
    )
    model = from_ir(to_ir(net), learn=True)
    x = _inputs(5)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(3):
        opt.zero_grad()
        loss = (model(x).mean() - 0.5) ** 2
        loss.backward()
        opt.step()
    assert model.n_1.beta.requires_grad and model.n_1.beta.grad is not None
    tuned = to_ir(model)
    with torch.no_grad():
        mine = model(x).numpy()
    ref = simulate(tuned, x.numpy(), dtype=np.float32)
    np.testing.assert_array_equal(ref.outputs["output"], mine)


@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", True), ("subtract", False)])
def test_paper_lif_task_built_in_snntorch(reset: str, delay: bool) -> None:
    """The paper's LIF task as an snnTorch user writes it (beta = 1 - dt/tau = 0.96, the input
    gain dt/tau = 0.04 in the weight): exported, the reference simulator spikes at the paper's
    steps 460, 510, 710, 760, like snnTorch itself."""
    net = nn.Sequential(
        nn.Linear(1, 1, bias=False),
        snn.Leaky(
            beta=0.96, threshold=0.1, init_hidden=True, reset_mechanism=reset, reset_delay=delay
        ),
    )
    with torch.no_grad():
        net[0].weight.fill_(0.04)
    x = lif_task_input()
    xt = torch.as_tensor(x, dtype=torch.float32)[:, None]  # (T, B=1, 1)
    native = np.flatnonzero(_native(net, xt)["1"][:, 0, 0]).tolist()
    graph = to_ir(net)
    np.testing.assert_allclose(graph.nodes["1"].tau, [2.5e-3], rtol=1e-6)
    ref = simulate(graph, x, dtype=np.float32)
    steps = np.flatnonzero(ref.outputs["output"][:, 0]).tolist()
    assert native == steps == [460, 510, 710, 760]
