"""``nirhub verify``: the API, the command, the report folder, data sets, workers, resume, Dask,
and what bad input does.

The model is the NIR paper's Braille RNN (graph A) on the paper's test sample 0 and on small
data sets made from it. Its reference run fires the same 119 hidden spikes as the paper's own
snnTorch recording; the backends here are the built-in ``nir`` backend (nirhub's reference
simulator through the run hook) and three backends of this file that change the reference's
spikes in known ways (a one-step delay, silenced neurons, a crash on one sample), so that
every metric and verdict is checked against a known answer. Real frameworks are verified in
``test_verify_backends.py`` (cross-backend session).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from nirhub.cli.app import app
from nirhub.errors import ExitCode, NirhubError, RefusedError
from nirhub.hub.backend import Backend
from nirhub.hub.descriptor import ALL_NODE_TYPES, BackendDescriptor
from nirhub.hub.hookspecs import hookimpl
from nirhub.hub.verify import verify
from nirhub.hub.verify_data import _npz_members
from nirhub.hub.verify_metrics import best_latency
from nirhub.testing import isolated_registry

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus" / "rnn"
GRAPH_A = CORPUS / "braille_noDelay_bias_zero.nir"
SAMPLE0 = CORPUS / "derived" / "braille_test0_input.npy"
SNNTORCH_A = CORPUS / "snntorch_activity_noDelay_bias_zero.npy"
DT = 1e-4
HIDDEN = "lif1.lif.spikes"


# -- backends that change the reference's spikes in known ways -------------------------------


def _reference(graph: Any, inputs: dict[str, np.ndarray], dt: float, record: tuple[str, ...]):
    from nirhub.sim import simulate

    return simulate(graph, inputs, dt, record=record)


def _descriptor(name: str, kind: str = "simulator") -> BackendDescriptor:
    return BackendDescriptor(
        name=name, kind=kind, summary="a test backend", from_ir=ALL_NODE_TYPES, can_run=True
    )


class Delayed(Backend):
    """The reference, every spike one step later (as Lava's one step per synapse)."""

    descriptor = _descriptor("delayed")

    def from_ir(self, graph: Any, **options: Any) -> Any:
        return graph

    def run(self, graph, inputs, dt, *, record=(), **options):
        result = _reference(graph, inputs, dt, record)
        for variables in result.recorded.values():
            for var, arr in variables.items():
                shifted = np.zeros_like(arr)
                shifted[1:] = arr[:-1]
                variables[var] = shifted
        return result


class Silenced(Backend):
    """Hardware whose first half of every layer never fires."""

    descriptor = _descriptor("silenced", kind="hardware")

    def from_ir(self, graph: Any, **options: Any) -> Any:
        return graph

    def run(self, graph, inputs, dt, *, record=(), **options):
        result = _reference(graph, inputs, dt, record)
        for variables in result.recorded.values():
            if "spikes" in variables:
                arr = variables["spikes"].copy()
                arr[:, : arr.shape[1] // 2] = 0
                variables["spikes"] = arr
        return result


class Crashing(Backend):
    """Crashes on the samples whose first time step holds a spike in taxel 0."""

    descriptor = _descriptor("crashing")

    def from_ir(self, graph: Any, **options: Any) -> Any:
        return graph

    def run(self, graph, inputs, dt, *, record=(), **options):
        (x,) = inputs.values()
        if x[0, 0]:
            raise RuntimeError("the device fell over")
        return _reference(graph, inputs, dt, record)


class AffineOnly(Backend):
    """Takes only Affine layers: refuses the RNN."""

    descriptor = BackendDescriptor(
        name="affine-only",
        kind="hardware",
        summary="affine layers only",
        from_ir=frozenset({"Input", "Output", "Affine"}),
        can_run=True,
    )

    def from_ir(self, graph: Any, **options: Any) -> Any:
        return graph


class Plugin:
    @hookimpl
    def nirhub_backends(self) -> list[type[Backend]]:
        return [Delayed, Silenced, Crashing, AffineOnly]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Any:
    reg = isolated_registry(Plugin())
    monkeypatch.setattr("nirhub.hub.registry.default_registry", lambda: reg)
    return reg


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four samples: sample 0 and three shifted/rolled variants of it."""
    folder = tmp_path_factory.mktemp("data")
    x0 = np.load(SAMPLE0)
    xs = [x0] + [np.roll(np.roll(x0, 7 * k, axis=0), k, axis=1) for k in range(1, 4)]
    x = np.stack(xs).astype(np.uint8)
    y = np.array([1, 1, 2, 3])
    np.savez(folder / "set.npz", x=x, y=y)
    np.savez_compressed(folder / "set_compressed.npz", x=x, y=y)
    samples = folder / "samples"
    samples.mkdir()
    for i, xi in enumerate(x):
        np.save(samples / f"s{i:02d}.npy", xi)
    (samples / "labels.csv").write_text(
        "file,label\n" + "".join(f"s{i:02d}.npy,{v}\n" for i, v in enumerate(y))
    )
    return folder


def _run(tmp_path: Path, name: str = "r", **kwargs: Any):
    kwargs.setdefault("input", SAMPLE0)
    kwargs.setdefault("dt", DT)
    kwargs.setdefault("record", ("lif1.lif",))
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("html", False)  # matplotlib takes seconds: the page is tested on its own
    return verify(GRAPH_A, output_dir=tmp_path / name, **kwargs)


def _numbers(report: Any) -> dict[str, Any]:
    """The report without the fields that name files or say how the run was scheduled."""
    doc = report.to_json()
    for key in ("output_dir", "files", "resumed"):
        doc.pop(key)
    return doc


# -- one sample --------------------------------------------------------------------------------


def test_one_sample_reference_backend_is_identical_and_matches_the_paper(
    tmp_path: Path, registry: Any
) -> None:
    report = _run(tmp_path, backends=["nir"])
    (nir,) = report.backends
    assert nir.status == "pass" and nir.min_similarity == 0.99
    hidden = nir.layers[HIDDEN]
    assert hidden["similarity_mean"] == 1.0 and hidden["differing_cells"] == 0
    assert hidden["cells"] == 256 * 38 and hidden["latency"] == 0
    # the reference fires the paper's snnTorch spikes, cell for cell
    paper = np.load(SNNTORCH_A)
    assert hidden["spikes_ref"] == paper.sum() == 119
    with np.load(tmp_path / "r" / "raster.npz") as raster:
        np.testing.assert_array_equal(raster[f"r:reference:{HIDDEN}"], paper)
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["passed"] and doc["exit_code"] == 0 and doc["completed"] == 1
    assert doc["matrices"][HIDDEN]["runners"] == ["reference", "nir"]
    assert doc["matrices"][HIDDEN]["values"] == [[1.0, 1.0], [1.0, 1.0]]


def test_latency_and_what_is_left_after_it(tmp_path: Path, registry: Any) -> None:
    report = _run(tmp_path, backends=["delayed"])
    hidden = report.backends[0].layers[HIDDEN]
    assert hidden["latency"] == 1
    # a shift moves the spikes of the last step out of the recording, nothing else
    assert hidden["differing_cells"] > 0 and hidden["differing_cells_aligned"] == 0
    assert hidden["similarity_mean"] > 0.99


def test_best_latency_finds_a_negative_shift_and_prefers_zero_on_ties() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random((50, 6)) < 0.2).astype(float)
    early = np.zeros_like(a)
    early[:-2] = a[2:]
    assert best_latency(a, early) == (-2, 0)
    assert best_latency(np.zeros((5, 2)), np.zeros((5, 2))) == (0, 0)


def test_a_backend_under_its_threshold_fails_the_gate(tmp_path: Path, registry: Any) -> None:
    report = _run(tmp_path, backends=["silenced"])
    (b,) = report.backends
    assert b.kind == "hardware" and b.min_similarity == 0.95  # the hardware default
    assert b.status == "fail" and b.similarity < 0.95 and report.exit_code == 1
    relaxed = _run(tmp_path, "r2", backends=["silenced"], min_similarity={"silenced": 0.1})
    assert relaxed.backends[0].status == "pass" and relaxed.exit_code == 0


def test_default_backends_list_refusals_without_failing(tmp_path: Path, registry: Any) -> None:
    report = _run(tmp_path, min_similarity={"silenced": 0.0})
    by_name = {b.name: b for b in report.backends}
    assert set(by_name) == {"delayed", "silenced", "crashing", "affine-only"}  # not the format
    assert by_name["affine-only"].status == "refused"
    assert "LIF" in by_name["affine-only"].reason or "CubaLIF" in by_name["affine-only"].reason
    assert by_name["crashing"].status == "pass"  # sample 0 has no spike in taxel 0 at t=0


# -- data sets -----------------------------------------------------------------------------------


def test_dataset_forms_stream_the_same_samples(
    tmp_path: Path, registry: Any, dataset: Path
) -> None:
    plain = _run(tmp_path, "a", input=None, dataset=dataset / "set.npz", backends=["nir"])
    packed = _run(
        tmp_path, "b", input=None, dataset=dataset / "set_compressed.npz", backends=["nir"]
    )
    folder = _run(tmp_path, "c", input=None, dataset=dataset / "samples", backends=["nir"])
    assert plain.samples == 4 and plain.labels == "dataset"
    assert _numbers(plain)["backends"] == _numbers(packed)["backends"]
    assert _numbers(plain)["backends"] == _numbers(folder)["backends"]
    acc = plain.backends[0].accuracy
    ref = plain.reference_accuracy
    assert acc["agreement"] == 1.0 and acc["accuracy"] == ref["accuracy"]
    # the reference's prediction for sample 0 is the paper's label (1: letter 'A')
    assert ref["samples"] == 4 and 0 < ref["accuracy"] <= 1


def test_dataset_rows_are_read_one_at_a_time(dataset: Path) -> None:
    x = np.load(dataset / "set.npz")["x"]
    for name in ("set.npz", "set_compressed.npz"):
        member = _npz_members(dataset / name)["x"]
        assert member.shape == x.shape
        for i in (0, 3, 2):
            np.testing.assert_array_equal(member.row(i), x[i])


def test_labels_from_output(tmp_path: Path, registry: Any, dataset: Path) -> None:
    report = _run(
        tmp_path, input=None, dataset=dataset / "set.npz", backends=["nir"], labels_from_output=True
    )
    assert report.labels == "reference" and report.reference_accuracy["accuracy"] == 1.0


# -- workers, resume, Dask ------------------------------------------------------------------------


def test_two_processes_give_the_serial_numbers(tmp_path: Path, dataset: Path) -> None:
    kwargs = {"input": None, "dataset": dataset / "set.npz", "backends": ["nir"]}
    serial = _run(tmp_path, "serial", **kwargs)
    parallel = _run(tmp_path, "parallel", **{**kwargs, "workers": 2})
    assert _numbers(serial) == _numbers(parallel)


def test_dask_local_cluster_gives_the_serial_numbers(tmp_path: Path, dataset: Path) -> None:
    import dask.distributed as distributed  # in the test extra: a missing dask fails

    kwargs = {"input": None, "dataset": dataset / "set.npz", "backends": ["nir"]}
    serial = _run(tmp_path, "serial", **kwargs)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = _run(tmp_path, "dask", scheduler=client, **kwargs)
        by_address = _run(tmp_path, "dask2", scheduler=cluster.scheduler_address, **kwargs)
    assert _numbers(serial) == _numbers(on_dask) == _numbers(by_address)


def test_an_interrupted_run_keeps_its_samples_and_resumes(
    tmp_path: Path, registry: Any, dataset: Path
) -> None:
    kwargs = {"input": None, "dataset": dataset / "set.npz", "backends": ["nir", "delayed"]}
    full = _run(tmp_path, "full", **kwargs)

    def stop_after_three(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "cut", on_progress=stop_after_three, **kwargs)
    partial = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert partial["completed"] == 2 and not partial["complete"] and not partial["passed"]
    resumed = _run(tmp_path, "cut", **kwargs)
    assert resumed.resumed == 2 and resumed.complete
    assert _numbers(resumed) == _numbers(full)


def test_other_settings_in_the_report_folder_need_force(tmp_path: Path, registry: Any) -> None:
    _run(tmp_path, backends=["nir"])
    with pytest.raises(RefusedError, match="another model"):
        _run(tmp_path, backends=["delayed"])
    report = _run(tmp_path, backends=["delayed"], force=True)
    assert report.resumed == 0 and [b.name for b in report.backends] == ["delayed"]
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(RefusedError, match="not empty"):
        _run(tmp_path, "stranger", backends=["nir"], force=True)
    assert (stranger / "notes.txt").read_text() == "mine"


# -- bad input --------------------------------------------------------------------------------


def test_a_backend_that_crashes_on_one_sample_is_a_failure_entry(
    tmp_path: Path, registry: Any, dataset: Path
) -> None:
    x = np.load(dataset / "set.npz")["x"].copy()
    x[3, 0, 0] = 1  # sample 3 makes the backend crash
    np.savez(tmp_path / "bad.npz", x=x)
    report = _run(tmp_path, input=None, dataset=tmp_path / "bad.npz", backends=["crashing", "nir"])
    crashing, nir = report.backends
    assert crashing.status == "error" and [f["sample"] for f in crashing.failures] == [3]
    assert crashing.failures[0]["message"] == "the device fell over"
    assert crashing.layers[HIDDEN]["samples"] == 3  # the other samples are compared
    assert nir.status == "pass" and report.complete and report.exit_code == 1


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: np.savez(d / "x.npz", x=np.zeros((3, 10, 11))), r"\(T, 12\)"),
        (lambda d: np.savez(d / "x.npz", x=np.zeros((3, 10, 12)), y=np.zeros(4)), "4 labels"),
        (lambda d: np.savez(d / "x.npz", data=np.zeros((3, 10, 12))), "no array 'x'"),
        (lambda d: (d / "x.npz").write_text("not a zip"), "not an .npz"),
    ],
)
def test_bad_datasets_fail_before_any_work(
    tmp_path: Path, registry: Any, make: Any, match: str
) -> None:
    make(tmp_path)
    with pytest.raises(NirhubError, match=match) as info:
        _run(tmp_path, input=None, dataset=tmp_path / "x.npz", backends=["nir"])
    assert info.value.exit_code == ExitCode.INVALID_INPUT
    assert not (tmp_path / "r").exists()


def test_an_unreachable_scheduler_is_exit_5(
    tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask.distributed  # noqa: F401 - in the test extra: a missing dask fails

    monkeypatch.setattr("nirhub.hub.verify.CONNECT_TIMEOUT", "1s")
    with pytest.raises(NirhubError, match="cannot reach the Dask scheduler") as info:
        _run(tmp_path, backends=["nir"], scheduler="tcp://127.0.0.1:1")
    assert info.value.exit_code == ExitCode.BACKEND_UNAVAILABLE


def test_without_matplotlib_the_json_is_written_and_html_says_what_to_install(
    tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("nirhub.hub.verify_report.html_available", lambda: False)
    report = _run(tmp_path, backends=["nir"], html=None)
    assert (tmp_path / "r" / "report.json").is_file() and not (
        tmp_path / "r" / "report.html"
    ).exists()
    assert any("nirhub[report]" in w for w in report.warnings)
    with pytest.raises(NirhubError, match="matplotlib") as info:
        _run(tmp_path, "r2", backends=["nir"], html=True)
    assert info.value.exit_code == ExitCode.BACKEND_UNAVAILABLE


# -- the command --------------------------------------------------------------------------------


def _cli(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, prog_name="nirhub", catch_exceptions=False)


def test_cli_table_json_html_and_exit_codes(tmp_path: Path, registry: Any) -> None:
    base = ["verify", str(GRAPH_A), "--input", str(SAMPLE0), "--dt", "1e-4", "-r", "lif1.lif"]
    ok = _cli([*base, "-b", "nir,delayed", "-o", str(tmp_path / "ok"), "-j", "1"])
    assert ok.exit_code == 0, ok.stderr
    assert "lif1.lif.spikes" in ok.stdout and "pass" in ok.stdout
    page = (tmp_path / "ok" / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4  # bars, heatmaps, rasters
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    gated = _cli([*base, "-b", "silenced", "-o", str(tmp_path / "gate"), "--json", "--no-html"])
    assert gated.exit_code == 1
    doc = json.loads(gated.stdout)
    assert (
        doc["backends"][0]["status"] == "fail" and not (tmp_path / "gate" / "report.html").exists()
    )
    usage = _cli([*base, "-b", "nir", "-o", str(tmp_path / "u"), "--min-similarity", "2"])
    assert usage.exit_code == 2
    unknown = _cli([*base, "-b", "no-such-backend", "-o", str(tmp_path / "u2")])
    assert unknown.exit_code == 5
    both = _cli(["verify", str(GRAPH_A), "--dt", "1e-4", "-o", str(tmp_path / "u3")])
    assert both.exit_code == 2 and "--input" in both.stderr


def test_a_folder_whose_labels_do_not_match_its_samples(tmp_path: Path, registry: Any) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", np.zeros((10, 12), dtype=np.uint8))
    (folder / "labels.txt").write_text("1\n2\n")
    with pytest.raises(NirhubError, match="2 labels for 3 samples") as info:
        _run(tmp_path, input=None, dataset=folder, backends=["nir"])
    assert info.value.exit_code == ExitCode.INVALID_INPUT
    (folder / "labels.txt").write_text("1\n2\n0\n")
    report = _run(tmp_path, input=None, dataset=folder, backends=["nir"])
    assert report.samples == 3 and report.labels == "dataset"
