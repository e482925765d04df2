"""Files and models from the wild (issue 14): each case as the wild builds it.

Real files of the paper's corpus, files written by the reference ``nir`` package (its own
virtual environments, ``tests/_nirvenv.py``) and graphs built the way exporters build them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _nirvenv import run_script
from typer.testing import CliRunner

import nirhub as nh
from nirhub.cli.app import app
from nirhub.errors import FileFormatError, UnsupportedError
from nirhub.hub.simulation import simulate_file
from nirhub.io import read, write
from nirhub.ir.conventions import set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, Input, Linear, Output
from nirhub.summary import summarize
from nirhub.testing.corpus import CORPUS

BRAILLE_SUBTRACT = CORPUS / "rnn" / "braille_noDelay_noBias_subtract.nir"
BRAILLE_INPUT = CORPUS / "rnn" / "derived" / "braille_test0_input.npy"

runner = CliRunner()


def _norse_110_lif(tau: np.ndarray) -> Graph:
    """What Norse 1.1.0's exporter writes for Linear + LIFBoxCell: 0-d parameters, and
    ``tau = dt/tau_mem_inv`` (1e-5 s for tau_mem_inv = 1000 at dt = 0.01 s)."""
    return Graph(
        nodes={
            "input": Input(np.array([3])),
            "0": Linear(np.eye(3)),
            "1": LIF(tau=tau, r=np.array(1.0), v_leak=np.array(0.0), v_threshold=np.array(1.0)),
            "output": Output(np.array([3])),
        },
        edges=[("input", "0"), ("0", "1"), ("1", "output")],
    )


# -- 2: Euler with dt > tau ----------------------------------------------------------------


def test_euler_decay_not_positive_is_refused_naming_node_and_fix():
    graph = _norse_110_lif(np.array(1e-5))
    x = np.ones((20, 3))
    with pytest.raises(UnsupportedError) as info:
        nh.simulate(graph, x, 0.01, method="euler")
    (problem,) = info.value.problems
    assert (problem.where, problem.field) == ("1", "tau")
    assert "-999" in problem.message
    assert "--method exact" in info.value.hint and "Norse" in info.value.hint
    # the exact method's decay exp(-dt/tau) is always in (0, 1): it runs
    out = nh.simulate(graph, x, 0.01, method="exact").outputs["output"]
    assert out.shape == (20, 3)
    # dt == tau is a decay of exactly 0 (the state forgets itself): refused as well
    with pytest.raises(UnsupportedError):
        nh.simulate(_norse_110_lif(np.array(0.01)), x, 0.01, method="euler")


def test_euler_decay_cli_exit_code(tmp_path):
    path = tmp_path / "norse110.nir"
    write(_norse_110_lif(np.array(1e-5)), path)
    np.save(tmp_path / "x.npy", np.ones((5, 3)))
    args = ["simulate", str(path), "-i", str(tmp_path / "x.npy"), "--dt", "0.01"]
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "y.npz")])
    assert res.exit_code == 4, res.output
    assert "1.tau" in res.output and "--method exact" in res.output
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "y.npz"), "--method", "exact"])
    assert res.exit_code == 0, res.output


# -- 3: files older than nir 1.0.6 record no reset ------------------------------------------


def test_unrecorded_reset_is_said_once_with_the_flag(tmp_path):
    run = simulate_file(
        BRAILLE_SUBTRACT, BRAILLE_INPUT, output=tmp_path / "a.npz", dt=1e-4, record=["lif1.lif"]
    )
    notes = [w for w in run.warnings if "record no reset" in w]
    assert len(notes) == 1 and "--reset subtract" in notes[0] and "'lif1.lif'" in notes[0]
    zero = np.load(tmp_path / "a.npz")["lif1.lif.spikes"].sum()
    run = simulate_file(
        BRAILLE_SUBTRACT,
        BRAILLE_INPUT,
        output=tmp_path / "b.npz",
        dt=1e-4,
        reset="subtract",
        record=["lif1.lif"],
    )
    assert not [w for w in run.warnings if "record no reset" in w]
    subtract = np.load(tmp_path / "b.npz")["lif1.lif.spikes"].sum()
    assert zero != subtract  # the choice the warning is about changes the spikes


def test_recorded_reset_gives_no_warning(tmp_path):
    graph = read(BRAILLE_SUBTRACT)
    set_reset(graph.metadata, "subtract")
    write(graph, tmp_path / "g.nir")
    run = simulate_file(tmp_path / "g.nir", BRAILLE_INPUT, output=tmp_path / "a.npz", dt=1e-4)
    assert not [w for w in run.warnings if "record no reset" in w]


# -- 4: convert --tolerant -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["lif/lif_rockpool.nir", "rnn/braille_noDelay_noBias_subtract_subgraph.nir"]
)
def test_convert_tolerant_repairs_real_files(tmp_path, name):
    source = CORPUS / name
    out = tmp_path / "fixed.nir"
    res = runner.invoke(app, ["convert", str(source), "--to", "nir", "-o", str(out)])
    assert res.exit_code == 3 and "--tolerant" in res.output, res.output
    res = runner.invoke(app, ["convert", str(source), "--to", "nir", "-o", str(out), "--tolerant"])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output  # each repair is listed
    read(out).validate()  # the repaired file reads strictly


def test_convert_tolerant_api_refuses_sources_without_repairs(tmp_path):
    from nirhub.hub.convert import convert

    with pytest.raises(FileFormatError):
        convert(CORPUS / "lif" / "lif_rockpool.nir", to="nir", output=tmp_path / "a.nir")
    report = convert(
        CORPUS / "lif" / "lif_rockpool.nir", to="nir", output=tmp_path / "a.nir", tolerant=True
    )
    assert report.ok and any("used the inferred shape" in w for w in report.warnings)


# -- 6: scalar (0-d) neuron parameters -------------------------------------------------------

READ_WITH_NIR = """
import json, sys
import nir
g = nir.read(sys.argv[1])
lif = g.nodes["1"]
print(json.dumps({"tau": list(lif.tau.shape), "type": type(lif).__name__}))
"""


def test_scalar_parameters_are_written_with_the_population_shape(tmp_path):
    graph = _norse_110_lif(np.array(0.02))
    path = tmp_path / "scalar.nir"
    write(graph, path)
    # nir >= 1.0.5 type-checks on read: a 0-d LIF cannot be fed by a [3] Linear
    seen = json.loads(run_script("1.0.8", READ_WITH_NIR, str(path)).strip().splitlines()[-1])
    assert seen == {"tau": [3], "type": "LIF"}
    back = read(path)
    assert back.nodes["1"].tau.shape == (3,)
    # the written values simulate exactly as the scalars did
    x = (np.random.default_rng(0).random((40, 3)) < 0.5).astype(float)
    np.testing.assert_array_equal(
        nh.simulate(graph, x, 1e-3).outputs["output"], nh.simulate(back, x, 1e-3).outputs["output"]
    )


def test_neurons_are_counted_from_inferred_shapes():
    graph = _norse_110_lif(np.array(0.02))
    assert graph.num_neurons() == 3
    summary = summarize(graph)
    assert summary.neurons == 3
    assert next(n for n in summary.nodes if n.path == "1").neurons == 3


# -- 8: nir 1.0.4 and snnTorch's subtraction variants ----------------------------------------


@pytest.mark.parametrize("mode", ["subtract-delayed", "subtract-guarded"])
def test_nir104_names_the_real_reset_variant(tmp_path, mode):
    graph = _norse_110_lif(np.full(3, 0.02))
    node = graph.nodes["1"]
    md = {}
    set_reset(md, mode)
    graph.nodes["1"] = node.replace(metadata=md)
    with pytest.raises(UnsupportedError) as info:
        write(graph, tmp_path / "x.nir", nir_version="1.0.4")
    text = str(info.value)
    assert mode in text and "snnTorch" in text
    assert "v_reset (zero)" not in text and "'zero'" not in text
    assert "set_reset(graph.metadata" not in text  # that would not change the node's mode
    assert not (tmp_path / "x.nir").exists()


# -- 5: mechanical repairs of legacy files, written by nir 1.0.4 as their exporters did -----

WRITE_LEGACY = """
import sys
import numpy as np
import nir

folder = sys.argv[1]
rng = np.random.default_rng(5)
lif = lambda n: nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n),
                        v_threshold=np.ones(n))
# the paper's older scnn_mnist.nir: Flatten dims counted with the batch axis
nir.write(folder + "/flatten_batch.nir", nir.NIRGraph(
    nodes={"input": nir.Input(input_type=np.array([2, 3, 3])),
           "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=1,
                               end_dim=-1),
           "fc": nir.Linear(weight=rng.standard_normal((4, 18))),
           "lif": lif(4), "output": nir.Output(output_type=np.array([4]))},
    edges=[("input", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "output")]))
# a time axis in the Input: [256, 12]
nir.write(folder + "/time_input.nir", nir.NIRGraph(
    nodes={"input": nir.Input(input_type=np.array([256, 12])),
           "fc": nir.Linear(weight=rng.standard_normal((3, 12))),
           "lif": lif(3), "output": nir.Output(output_type=np.array([3]))},
    edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")]))
# the braille.nir of the NIRTorch/Norse/Rockpool tests: the nested Input says [12], gets [38]
inner = nir.NIRGraph(
    nodes={"input": nir.Input(input_type=np.array([12])),
           "lif": lif(38), "lin": nir.Linear(weight=0.1 * rng.standard_normal((38, 38))),
           "output": nir.Output(output_type=np.array([38]))},
    edges=[("input", "lif"), ("lif", "lin"), ("lin", "lif"), ("lif", "output")])
nir.write(folder + "/nested_input.nir", nir.NIRGraph(
    nodes={"input": nir.Input(input_type=np.array([12])),
           "fc1": nir.Affine(weight=rng.standard_normal((38, 12)), bias=np.zeros(38)),
           "rec": inner, "fc2": nir.Linear(weight=rng.standard_normal((7, 38))),
           "out_lif": lif(7), "output": nir.Output(output_type=np.array([7]))},
    edges=[("input", "fc1"), ("fc1", "rec.input"), ("rec.output", "fc2"),
           ("fc2", "out_lif"), ("out_lif", "output")]))
print("ok")
"""


@pytest.fixture(scope="module")
def legacy_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("legacy")
    run_script("1.0.4", WRITE_LEGACY, str(folder))
    return folder


@pytest.mark.parametrize(
    ("name", "kind", "said"),
    [
        ("flatten_batch.nir", "flatten-dims", "count the batch axis"),
        ("time_input.nir", "shape-replaced", "time axis of 256 steps"),
        ("nested_input.nir", "shape-replaced", "of a nested graph declares shape [12]"),
    ],
)
def test_legacy_files_are_repaired(legacy_files, tmp_path, name, kind, said):
    path = legacy_files / name
    with pytest.raises(FileFormatError):
        read(path)
    result = read(path, strict=False)
    assert [w.kind for w in result.warnings] == [kind], result.warnings
    assert said in str(result.warnings[0])
    result.graph.validate()
    (inp,) = result.graph.inputs
    shape = result.graph.nodes[inp].shape
    x = (np.random.default_rng(1).random((30, *shape)) < 0.3).astype(float)
    out = nh.simulate(result.graph, x, 1e-3).outputs["output"]
    assert out.shape[0] == 30


def test_flatten_repair_keeps_the_meaning(legacy_files):
    graph = read(legacy_files / "flatten_batch.nir", strict=False).graph
    flat = graph.nodes["flat"]
    assert (flat.start_dim, flat.end_dim) == (0, -1)


WRITE_FEEDBACK = """
import sys
import numpy as np
import nir

# NIRTorch's feedback_graph.nir: no Input node; a bias drives a recurrent LIF
nir.write(sys.argv[1], nir.NIRGraph(
    nodes={"affine": nir.Affine(weight=np.array([[0.0, -0.5], [0.2, 0.0]]),
                                bias=np.array([1.5, 1.2])),
           "lif": nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2),
                          v_threshold=np.ones(2)),
           "output": nir.Output(output_type=np.array([2]))},
    edges=[("affine", "lif"), ("lif", "affine"), ("lif", "output")]))
"""


def test_bias_driven_graph_without_input_runs_for_steps(tmp_path):
    path = tmp_path / "feedback_graph.nir"
    run_script("1.0.4", WRITE_FEEDBACK, str(path))
    graph = read(path, strict=False).graph
    with pytest.raises(nh.UsageError, match="steps"):
        nh.simulate(graph, {}, 1e-3)
    out = nh.simulate(graph, {}, 1e-3, steps=200).outputs["output"]
    assert out.shape == (200, 2) and out[:, 0].sum() > 0
    res = runner.invoke(
        app,
        ["simulate", str(path), "--steps", "200", "--dt", "1e-3", "-o", str(tmp_path / "o.npz")],
    )
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(np.load(tmp_path / "o.npz")["output"], out)
    res = runner.invoke(app, ["simulate", str(path), "--dt", "1e-3", "-o", str(tmp_path / "p.npz")])
    assert res.exit_code == 3 and "--steps T" in res.output, res.output


# -- 11: --dry-run runs every check the conversion runs --------------------------------------


def test_dry_run_runs_the_checks_made_while_saving(tmp_path):
    """nir 1.0.4's layout cannot hold a reset-to-zero node; the writer finds out while saving.
    The dry run must say "not possible" like the real conversion (as loihi2's netx file for
    the paper's Braille graph), and write nothing."""
    graph = read(BRAILLE_SUBTRACT)
    set_reset(graph.metadata, "zero")
    source = tmp_path / "zero.nir"
    write(graph, source)
    out = tmp_path / "legacy.nir"
    args = ["convert", str(source), "--to", "nir", "-O", "nir-version=1.0.4", "-o", str(out)]
    real = runner.invoke(app, args)
    assert real.exit_code == 4, real.output
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 4, dry.output
    assert "lif1.lif" in dry.output and "subtraction" in dry.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["zero.nir"]
    # a possible conversion stays possible, and its dry run writes nothing either
    ok = runner.invoke(app, ["convert", str(source), "--to", "nir", "-o", str(out), "--dry-run"])
    assert ok.exit_code == 0, ok.output
    assert not out.exists()


# -- 1: ties at the threshold, measured for targets that cannot keep them --------------------


def _integer_if_network() -> Graph:
    """A quantized IF network as Speck and Loihi users deploy: integer weights, thresholds 2
    and 3, binary input."""
    from nirhub.ir import IF

    rng = np.random.default_rng(0)
    return Graph(
        {
            "input": Input((16,)),
            "fc1": Linear(rng.integers(-1, 3, (32, 16)).astype(float)),
            "if1": IF(np.ones(32), np.full(32, 2.0)),
            "fc2": Linear(rng.integers(-1, 3, (8, 32)).astype(float)),
            "if2": IF(np.ones(8), np.full(8, 3.0)),
            "output": Output(),
        },
        [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"), ("if2", "output")],
    )


def test_tie_effect_is_measured_per_node():
    from nirhub.backend.ties import tie_effects, tie_warning

    graph = _integer_if_network()
    effects = {e.path: e for e in tie_effects(graph, 1.0)}
    assert set(effects) == {"if1", "if2"}
    assert all(e.differing > 0 and e.spikes > 0 for e in effects.values())
    text = tie_warning(graph, 1.0, "speck", "fires at >=")
    assert text is not None and "if1:" in text and "if2:" in text and "speck" in text
    # float weights never land on the threshold: nothing to say
    rng = np.random.default_rng(1)
    floats = graph.replace(
        nodes={
            **graph.nodes,
            "fc1": Linear(rng.normal(size=(32, 16))),
            "fc2": Linear(rng.normal(size=(8, 32))),
        }
    )
    assert tie_warning(floats, 1.0, "speck", "fires at >=") is None
