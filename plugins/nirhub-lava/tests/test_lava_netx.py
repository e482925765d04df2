"""The loihi2 netx artifact and lava-dl's own netx files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nirhub
from nirhub import metrics
from nirhub.errors import UnsupportedError
from nirhub.testing.corpus import CORPUS


def run_netx(path: Path, x: np.ndarray, extra: int) -> np.ndarray:
    """Load ``path`` with lava-dl's own netx loader, run it fixed_pt, return (T+extra, n)."""
    from lava.lib.dl.netx import hdf5
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    net = hdf5.Network(net_config=str(path))
    steps = x.shape[0] + extra
    data = np.zeros((x.shape[1], steps), dtype=np.int32)
    data[:, : x.shape[0]] = x.T
    src = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=steps)
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        return np.asarray(sink.data.get()).T
    finally:
        net.stop()


def test_loihi2_artifact_runs_in_netx(registry, lif_task, tmp_path):
    """Saved by loihi2, loaded by lava-dl's netx: the same spikes as nirhub's process graph."""
    from nirhub.hub.convert import simulate_with_backend

    graph, x = lif_task
    be = registry.get("loihi2")
    obj = be.from_ir(graph, dt=1e-4)
    (path,) = be.save(obj, tmp_path / "lif.net")
    assert path.suffix == ".net" and path.is_file()
    own = simulate_with_backend(graph, x, 1e-4, "loihi2", registry=registry)["output"]
    raw = run_netx(path, x, extra=1)
    # netx has the same one-step synapse latency as nirhub's graph (documented)
    assert not raw[0].any()
    np.testing.assert_array_equal(raw[1:] != 0, own != 0)
    assert np.nonzero(raw[1:, 0])[0].tolist() == [460, 510, 710, 760]
    report = be.report(obj)
    assert report["neurons"] == 1 and report["neuro-cores (estimate)"] == 1
    assert report["quantization"]["1"]["dv"] == 164  # round(4096 * 1e-4 / 2.5e-3)


def test_netx_refuses_recurrent(registry, tmp_path):
    graph = nirhub.read(CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir")
    be = registry.get("loihi2")
    obj = be.from_ir(graph, dt=1e-4)
    with pytest.raises(UnsupportedError, match="recurrent"):
        be.save(obj, tmp_path / "braille.net")
    assert not (tmp_path / "braille.net").exists()


def test_slayer_netx_to_ir_matches_reference(registry, tmp_path):
    """A netx file exported by lava-dl's slayer converts to the IR; the reference simulator
    gives netx's own fixed-point spikes (after netx's two-layer latency)."""
    import h5py
    import lava.lib.dl.slayer as slayer
    import torch

    torch.manual_seed(0)
    params = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.1,
              "requires_grad": False}  # fmt: skip
    blocks = [
        slayer.block.cuba.Dense(params, 20, 30, weight_scale=2, weight_norm=False),
        slayer.block.cuba.Dense(params, 30, 10, weight_scale=2, weight_norm=False),
    ]
    h = (torch.rand(1, 20, 8) < 0.3).float()
    for b in blocks:
        h = b(h)  # slayer knows its shapes only after a forward pass
    path = tmp_path / "slayer.net"
    with h5py.File(path, "w") as fh:
        layer = fh.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layer.create_group(str(i)))
    graph = registry.get("lava").to_ir(path, dt=1e-3)
    graph.validate()
    x = (np.random.default_rng(1).random((100, 20)) < 0.3).astype(float)
    ref = nirhub.simulate(graph, x)
    raw = run_netx(path, x, extra=2)
    assert ref["output"].sum() > 50
    assert metrics.activity_similarity(ref["output"], raw[2:]) >= 0.99
    assert metrics.differing_cells(ref["output"], raw[2:] != 0) <= 5


def test_netx_reader_refuses_external_links(registry, tmp_path):
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as fh:
        fh.create_dataset("w", data=np.ones((2, 2)))
    bad = tmp_path / "bad.net"
    with h5py.File(bad, "w") as fh:
        g = fh.create_group("layer/0")
        g["weight"] = h5py.ExternalLink(str(other), "w")
    from nirhub.errors import FileFormatError

    with pytest.raises(FileFormatError, match="ExternalLink"):
        registry.get("lava").to_ir(bad)


def test_loihi2_artifact_multilayer_matches_own_graph(registry, tmp_path):
    """A 3-layer LIF/CubaLIF chain with per-layer time constants: netx's network built from
    the artifact and nirhub's own fixed-point process graph spike identically."""
    from nirhub.hub.convert import simulate_with_backend
    from nirhub.ir.conventions import set_dt
    from nirhub.ir.graph import Graph
    from nirhub.ir.nodes import LIF, CubaLIF, Input, Linear, Output

    rng = np.random.default_rng(7)
    sizes = [16, 24, 12, 5]
    nodes = {"input": Input((sizes[0],)), "output": Output((sizes[-1],))}
    edges, prev = [], "input"
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        nodes[f"fc{i}"] = Linear(rng.normal(0.35, 0.6, (b, a)))
        ones = np.ones(b)
        nodes[f"n{i}"] = (
            CubaLIF(ones * 3e-4, ones * 1e-3, ones * 10, ones * 0, ones * 1.0, w_in=ones * 3)
            if i == 1
            else LIF(ones * (1e-3 + i * 5e-4), ones * 10, ones * 0, ones * 1.0)
        )
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"n{i}")]
        prev = f"n{i}"
    edges.append((prev, "output"))
    graph = Graph(nodes, edges)
    set_dt(graph.metadata, 1e-4)
    x = (rng.random((80, sizes[0])) < 0.3).astype(float)
    be = registry.get("loihi2")
    (path,) = be.save(be.from_ir(graph), tmp_path / "chain.net")
    own = simulate_with_backend(graph, x, 1e-4, "loihi2", registry=registry)["output"]
    assert own.sum() > 10
    raw = run_netx(path, x, extra=3)
    assert not raw[:3].any()
    np.testing.assert_array_equal(raw[3:] != 0, own != 0)
    ref = nirhub.simulate(graph, x)["output"]
    assert metrics.activity_similarity(ref, own) >= 0.95


def test_dry_run_says_what_the_real_conversion_says(registry, tmp_path):
    """Issue 14: `convert --to loihi2 --dry-run` said "possible" on the paper's Braille graph
    and the real conversion then exited 4 (netx cannot hold the recurrent layer)."""
    from nirhub.hub.convert import convert

    source = CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir"
    out = tmp_path / "braille.net"
    with pytest.raises(UnsupportedError, match="recurrent"):
        convert(source, to="loihi2", output=out, dt=1e-4, registry=registry)
    report = convert(source, to="loihi2", output=out, dt=1e-4, dry_run=True, registry=registry)
    assert not report.ok and any("recurrent" in p.message for p in report.problems)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_netx_dt_comes_from_the_hub_never_a_hidden_default(registry, tmp_path):
    """Issue 15: a netx file records no time step, and the NIR neurons' time constants depend
    on it. Given: used as given; recorded (nirhub's loihi2 artifact writes
    it): used; neither: a usage error naming --dt, not a silent 1e-3."""
    import h5py

    from nirhub.errors import UsageError
    from nirhub.hub.convert import to_ir
    from nirhub.ir.conventions import get_dt
    from nirhub.ir.graph import Graph
    from nirhub.ir.nodes import IF, Input, Linear, Output

    graph = Graph(
        {
            "input": Input((4,)),
            "fc": Linear(np.array([[1.0, 2.0, -1.0, 1.0], [2.0, 1.0, 1.0, -1.0]])),
            "if": IF(np.full(2, 1024.0), np.full(2, 3.0)),  # dt*r = 1 at dt = 2**-10
            "output": Output(),
        },
        [("input", "fc"), ("fc", "if"), ("if", "output")],
    )
    be = registry.get("loihi2")
    (path,) = be.save(be.from_ir(graph, dt=2**-10), tmp_path / "int.net")
    recorded = to_ir(path, "lava", registry=registry)
    assert get_dt(recorded) == 2**-10
    given = to_ir(path, "lava", dt=5e-4, registry=registry)
    assert get_dt(given) == pytest.approx(5e-4)
    node = recorded.nodes["lif0"]
    np.testing.assert_array_equal(node.v_threshold, [3.0, 3.0])  # the network's own integers
    np.testing.assert_allclose(node.r, 1024.0)

    with h5py.File(path, "a") as fh:  # as lava-dl writes it: no dt
        del fh.attrs["dt"]
    with pytest.raises(UsageError, match="no time step") as info:
        to_ir(path, "lava", registry=registry)
    assert "--dt" in (info.value.hint or "")
    assert get_dt(to_ir(path, "lava", dt=1e-3, registry=registry)) == pytest.approx(1e-3)
