"""Bad input gets a clear error naming the node, and nothing written; the artifact (json +
npz + load_s2net.py) loads without nirhub and runs in the emulator as written."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import DT, RNN
from nirhub_spinnaker2.artifact import read, save
from nirhub_spinnaker2.emulator import emulate
from nirhub_spinnaker2.network import lower
from typer.testing import CliRunner

import nirhub
from nirhub.cli.app import app
from nirhub.errors import ExitCode, RefusedError, UnsupportedError
from nirhub.ir.conventions import set_dt
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LI, LIF, Affine, Conv2d, Flatten, Input, Linear, Output


def cli(*args: str, tmp_path: Path) -> object:
    env = {"NIRHUB_CONFIG": str(tmp_path / "environments.json")}
    return CliRunner().invoke(app, list(args), env=env, prog_name="nirhub")


def lif(n: int, thr: float = 1.0) -> LIF:
    return LIF(np.full(n, 1e-3), np.ones(n), np.zeros(n), np.full(n, thr))


def bad_graph() -> Graph:
    """Three problems at once: an LI population, a population no PE holds (a 100000-wide dense
    fan-in), and weights that overflow after scaling (weight-scale=none)."""
    r = np.random.default_rng(0)
    g = Graph(
        {
            "input": Input((100_000,)),
            "big_fc": Linear(r.normal(size=(2, 100_000))),
            "hidden": lif(2),
            "readout_fc": Affine(np.full((3, 2), 300.0), np.zeros(3)),
            "readout": LI(np.full(3, 1e-3), np.ones(3), np.zeros(3)),
            "output": Output((3,)),
        },
        [
            ("input", "big_fc"),
            ("big_fc", "hidden"),
            ("hidden", "readout_fc"),
            ("readout_fc", "readout"),
            ("readout", "output"),
        ],
    )
    set_dt(g.metadata, DT)
    return g


def test_unsupported_node_is_named() -> None:
    with pytest.raises(UnsupportedError) as info:
        lower(bad_graph())
    where = {p.where for p in info.value.problems}
    assert "readout" in where
    assert "readout" in str(info.value) and "LI" in str(info.value)


def test_population_too_large_and_weight_overflow_all_at_once() -> None:
    g = bad_graph()
    g.nodes["readout"] = lif(3)
    with pytest.raises(UnsupportedError) as info:
        lower(g, weight_scale="none")
    msgs = {p.where: p.message for p in info.value.problems}
    assert "too large for any PE setting" in msgs["hidden"]
    assert "overflow" in msgs["readout_fc"] and "300" in msgs["readout_fc"]
    assert "-O weight-scale=max" in msgs["readout_fc"]


def test_cli_refuses_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "bad.nir"
    nirhub.write(bad_graph(), src)
    out = tmp_path / "out" / "net.json"
    out.parent.mkdir()
    res = cli("convert", str(src), "--to", "spinnaker2", "-o", str(out), tmp_path=tmp_path)
    assert res.exit_code == ExitCode.UNSUPPORTED, res.output
    assert "readout" in res.output
    assert list(out.parent.iterdir()) == []
    # the chip's limits, all of them, in --dry-run (after the node types pass)
    g = bad_graph()
    g.nodes["readout"] = lif(3)
    nirhub.write(g, tmp_path / "limits.nir")
    args = ("convert", str(tmp_path / "limits.nir"), "--to", "spinnaker2", "--dry-run")
    dry = cli(*args, "-O", "weight-scale=none", tmp_path=tmp_path)
    assert dry.exit_code == ExitCode.UNSUPPORTED, dry.output
    assert "readout_fc" in dry.output and "hidden" in dry.output, dry.output
    assert "too large for any PE setting" in dry.output


def test_max_neurons_per_core_violation_has_the_fix() -> None:
    g = Graph(
        {
            "input": Input((40,)),
            "fc": Linear(np.full((300, 40), 20.0)),
            "wide": lif(300),
            "output": Output((300,)),
        },
        [("input", "fc"), ("fc", "wide"), ("wide", "output")],
    )
    set_dt(g.metadata, DT)
    with pytest.raises(UnsupportedError) as info:
        lower(g, conn_delay=1, weight_scale="none", max_neurons_per_core="wide:300")
    text = str(info.value)
    assert "max-neurons-per-core=wide:256" in text  # the synapse word's 8-bit index
    assert "fc" in text and "4-bit" in text  # lif (with delays) holds weights -15..15
    net = lower(g, conn_delay=1, max_neurons_per_core="wide:256")  # scaled to 15: fits
    assert net.populations["wide"].model == "lif"
    assert np.abs(net.projections[0].weights).max() == 15


def test_flatten_between_neuron_and_weight_is_kept() -> None:
    """Upstream drops a Flatten edge after a neuron; nirhub keeps it as the reshape it is."""
    r = np.random.default_rng(3)
    shape = (2, 2, 3)
    g = Graph(
        {
            "input": Input((1, 2, 3)),
            "conv": Conv2d((2, 3), r.uniform(10, 30, size=(2, 1, 1, 1))),
            "lif1": LIF(np.full(shape, 2e-3), np.ones(shape), np.zeros(shape), np.ones(shape)),
            "flat": Flatten(shape, start_dim=0),
            "fc2": Linear(r.uniform(-5, 20, size=(2, 12))),
            "lif2": lif(2, 0.5),
            "output": Output((2,)),
        },
        [
            ("input", "conv"),
            ("conv", "lif1"),
            ("lif1", "flat"),
            ("flat", "fc2"),
            ("fc2", "lif2"),
            ("lif2", "output"),
        ],
    )
    set_dt(g.metadata, DT)
    g.validate()
    net = lower(g, rounding="none")
    proj = next(p for p in net.projections if p.name == "fc2")
    assert (proj.pre, proj.post, proj.nodes) == ("lif1", "lif2", ("flat", "fc2"))
    assert net.populations["lif1"].model == "lif_conv2d"
    x = (np.random.default_rng(0).random((80, 1, 2, 3)) < 0.7).astype(float)
    got = emulate(net, x, record=("lif2",), precision="float64")["recorded"]["lif2"]["spikes"]
    ref = nirhub.simulate(g, x, dt=DT, record=["lif2"]).spikes("lif2")
    assert got.sum() > 0
    np.testing.assert_array_equal(got, ref)


def test_artifact_loads_without_nirhub_and_round_trips(tmp_path: Path) -> None:
    g = nirhub.read(RNN / "braille_noDelay_noBias_subtract.nir")
    net = lower(g, dt=DT, reset="subtract", max_neurons_per_core="lif1.lif:10")
    written = save(net, tmp_path / "braille.json")
    assert sorted(p.name for p in written) == ["braille.json", "braille.npz", "load_s2net.py"]
    doc = json.loads((tmp_path / "braille.json").read_text())
    assert doc["format"] == "nirhub-spinnaker2-net" and doc["version"] == 1
    assert doc["source_graph_sha256"] == net.graph_hash and len(net.graph_hash) == 64
    assert doc["options"]["reset"] == "subtract"
    pops = {p["name"]: p for p in doc["populations"]}
    assert pops["lif1.lif"]["max_atoms_per_core"] == 10 and pops["lif1.lif"]["pes"] == 4
    with np.load(tmp_path / "braille.npz", allow_pickle=False) as arrays:
        w = arrays[doc["projections"][0]["weights"]]
        assert w.dtype == np.int16
        thr = arrays[pops["lif1.lif"]["params"]["threshold"]]
        assert thr.dtype == np.float32
    back = read(tmp_path / "braille.json")
    for name, pop in net.populations.items():
        for k, v in pop.params.items():
            np.testing.assert_array_equal(back.populations[name].params[k], v)
    for a, b in zip(net.projections, back.projections, strict=True):
        np.testing.assert_array_equal(a.weights, b.weights)
    chip = np.load(RNN / "s2_activity_noDelay_noBias_subtract.npy")
    x = np.load(RNN / "derived" / "braille_test0_input.npy").astype(float)
    got = emulate(back, x, record=("lif1.lif",), latency="raw")["recorded"]["lif1.lif"]["spikes"]
    assert np.count_nonzero(got != chip) == 0
    with pytest.raises(RefusedError):
        save(net, tmp_path / "braille.json")
    save(net, tmp_path / "braille.json", force=True)


def test_load_script_is_static_and_names_no_node(tmp_path: Path) -> None:
    g = nirhub.read(RNN / "braille_noDelay_bias_zero.nir")
    save(lower(g, dt=DT), tmp_path / "net.json")
    text = (tmp_path / "load_s2net.py").read_text()
    tree = ast.parse(text)
    imported = {
        a.name if isinstance(n, ast.Import) else n.module
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    assert "spinnaker2" in imported and not any(m and "nirhub" in m for m in imported)
    for name in ("lif1", "fc1", "fc2", "lif2"):
        assert name not in text
    for api in ("snn.Population(", "snn.Projection(", "snn.Conv2DProjection(", "snn.Network("):
        assert api in text
    assert "set_max_atoms_per_core" in text and "Brian2Backend" in text


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    g = nirhub.read(RNN / "braille_noDelay_bias_zero.nir")
    save(lower(g, dt=DT), tmp_path / "net.json")
    with np.load(tmp_path / "net.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["w0"] = arrays["w0"] * 0 + 500
    np.savez(tmp_path / "net.npz", **arrays)
    with pytest.raises(nirhub.errors.FileFormatError, match="range"):
        read(tmp_path / "net.json")
    os.remove(tmp_path / "net.npz")
    with pytest.raises(nirhub.errors.FileFormatError, match="missing"):
        read(tmp_path / "net.json")


def test_percentile_scale_clips_and_says_so() -> None:
    g = nirhub.read(RNN / "braille_noDelay_noBias_subtract.nir")
    net = lower(g, dt=DT, weight_scale="percentile:99")
    assert all(np.abs(p.weights).max() == 127 for p in net.projections)
    assert any("fc1" in n and "clipped to +-127" in n for n in net.notes)


def test_bad_options_are_usage_errors() -> None:
    g = nirhub.read(RNN / "braille_noDelay_noBias_subtract.nir")
    for bad in (
        {"weight_scale": "mean"},
        {"weight_scale": "percentile:0"},
        {"conn_delay": 8},
        {"max_neurons_per_core": "lif1.lif"},
    ):
        with pytest.raises(nirhub.errors.UsageError):
            lower(g, dt=DT, **bad)
    with pytest.raises(UnsupportedError, match="names no population"):
        lower(g, dt=DT, max_neurons_per_core="nope:4")


def test_two_networks_share_one_folder(tmp_path: Path) -> None:
    """load_s2net.py is the same for every network: a second one in the folder is fine."""
    g = nirhub.read(RNN / "braille_noDelay_bias_zero.nir")
    save(lower(g, dt=DT), tmp_path / "a.json")
    save(lower(g, dt=DT, rounding="nearest"), tmp_path / "b.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.json",
        "a.npz",
        "b.json",
        "b.npz",
        "load_s2net.py",
    ]
    (tmp_path / "load_s2net.py").write_text("# edited by the user\n")
    with pytest.raises(RefusedError, match="load_s2net.py"):
        save(lower(g, dt=DT), tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
