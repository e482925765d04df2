"""The saved artifact: a readable module + .npz that Nengo users load without nirhub."""

from __future__ import annotations

import json

import numpy as np
import pytest
from nirhub_nengo.artifact import load_network, save_network

import nirhub
from nirhub.errors import FileFormatError, RefusedError
from nirhub.hub.convert import convert, from_ir, to_ir
from nirhub.sim import simulate
from nirhub.testing import behaviour_difference
from nirhub.testing.corpus import CORPUS, braille_input
from nirhub.testing.networks import affine_mlp
from nirhub.testing.standalone import forbid_running, run_without_nirhub


def test_convert_writes_a_module_that_runs_without_nirhub(tmp_path) -> None:
    src = CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir"
    # the file records no reset: choosing one leaves nirhub nothing to warn about
    report = convert(src, to="nengo", output=tmp_path / "braille.py", dt=1e-4, reset="zero")
    py, npz = tmp_path / "braille.py", tmp_path / "braille.npz"
    assert sorted(report.outputs) == sorted([py, npz])
    assert not report.warnings, report.warnings
    text = py.read_text()
    assert text.startswith("# nirhub artifact: backend=nengo")
    assert "def build_network(" in text and "import nirhub" not in text
    np.save(tmp_path / "x.npy", braille_input())
    code = (
        "import json, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "import numpy as np, braille\n"
        "out = braille.run({'input': np.load('x.npy')})\n"
        "print(json.dumps(out['output'].sum(0).tolist()))\n"
    )
    counts = json.loads(run_without_nirhub(code, folder=tmp_path).splitlines()[-1])
    ref = simulate(nirhub.read(src), braille_input(), 1e-4).outputs["output"].sum(0)
    assert counts == ref.tolist()


def test_load_does_not_run_the_file_and_round_trips(tmp_path) -> None:
    g = nirhub.read(CORPUS / "cnn" / "cnn_sinabs.nir")
    net = from_ir(g, "nengo", dt=1.0)
    path = tmp_path / "cnn.py"
    save_network(net, path)
    forbid_running(path)
    back = to_ir(path, "nengo")
    assert behaviour_difference(g, back, dt=1.0, steps=6) == ""
    assert {"Conv2d", "SumPool2d", "Flatten", "IF"} <= {n.type_name for _, n in back.walk()}


def test_save_refuses_to_overwrite_and_load_checks_the_files(tmp_path) -> None:
    net = from_ir(affine_mlp(), "nengo", dt=1e-4)
    save_network(net, tmp_path / "a.py")
    with pytest.raises(RefusedError):
        save_network(net, tmp_path / "a.py")
    save_network(net, tmp_path / "a.py", force=True)
    (tmp_path / "plain.py").write_text("x = 1\n")
    with pytest.raises(FileFormatError, match="not a network module"):
        load_network(tmp_path / "plain.py")
    (tmp_path / "a.npz").unlink()
    with pytest.raises(FileFormatError, match="weights"):
        load_network(tmp_path / "a.py")


def test_a_users_own_network_saves_through_the_ir(tmp_path) -> None:
    import nengo
    from nirhub_nengo.runtime import Feeder

    x = (np.random.default_rng(1).random((80, 3)) < 0.4) * 50.0
    with nengo.Network(seed=4) as net:
        inp = nengo.Node(Feeder(x, 1e-3, 3), size_out=3, label="input")
        ens = nengo.Ensemble(
            8,
            1,
            neuron_type=nengo.LIF(
                tau_ref=0, min_voltage=-np.inf, initial_state={"voltage": np.zeros(8)}
            ),
        )
        nengo.Connection(
            inp, ens.neurons, transform=np.random.default_rng(2).normal(0, 1, (8, 3)), synapse=None
        )
        p = nengo.Probe(ens.neurons, synapse=None, label="spikes")
    save_network(net, tmp_path / "mine.py", dt=1e-3)
    loaded = load_network(tmp_path / "mine.py")
    with nengo.Simulator(net, dt=1e-3, progress_bar=False) as sim:
        sim.run_steps(80)
    loaded.feeders["input"].data = x
    with nengo.Simulator(loaded, dt=1e-3, progress_bar=False) as sim2:
        sim2.run_steps(80)
    a = sim.data[p] > 0
    b = sim2.data[loaded.probe_map["spikes"]] > 0
    assert a.sum() > 10 and np.array_equal(a, b)
