"""Conversion routing: legality (every problem at once), rewrites, dt, safe output writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nirhub
from nirhub.errors import (
    BackendUnavailableError,
    FileFormatError,
    Problem,
    RefusedError,
    UnsupportedError,
    UsageError,
)
from nirhub.hub.backend import Backend, ConversionWarning
from nirhub.hub.convert import check_legality, convert, from_ir, simulate_with_backend, to_ir
from nirhub.hub.descriptor import BackendDescriptor, DescriptorError, Option, Requirement
from nirhub.hub.hookspecs import hookimpl
from nirhub.hub.registry import make_registry
from nirhub.ir.conventions import get_dt, set_dt
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, Affine, Delay, Input, Linear, Output, Scale, Threshold
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture
from nirhub.testing.graphs import DT, behaviour_difference, primitive_graph

RNG = np.random.default_rng(11)


class Chip(Backend):
    """A target with Affine + LIF only, a neuron limit, and a two-file artifact."""

    descriptor = BackendDescriptor(
        name="chip",
        kind="hardware",
        summary="a tiny chip",
        from_ir=frozenset({"Affine", "LIF"}),
        writes=(".chip",),
        refusals={"Delay": "the chip has no synaptic delays; remove the Delay"},
        options=(
            Option("dt", "float", "time step", default=1e-3),
            Option("max_neurons", "int", "neurons on the chip", default=100),
            Option("fail", "bool", "fail while saving", default=False),
        ),
    )

    def check(self, graph: Graph, **options: Any) -> list[Problem]:
        n = graph.num_neurons()
        if n > options.get("max_neurons", 100):
            return [
                Problem(
                    "<graph>",
                    f"needs {n} neurons, the chip has {options['max_neurons']}",
                    kind="limit",
                )
            ]
        return []

    def from_ir(self, graph: Graph, **options: Any) -> dict[str, Any]:
        return {"graph": graph, "dt": options.get("dt")}

    def save(self, obj: dict[str, Any], path: Path, **options: Any) -> list[Path]:
        path.write_text(json.dumps({"dt": obj["dt"], "nodes": list(obj["graph"].nodes)}))
        meta = path.with_suffix(".meta")
        meta.write_text("meta")
        if options.get("fail"):
            raise OSError("disk full")
        return [path, meta]

    def report(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        return {"neurons": obj["graph"].num_neurons(), "weights": np.zeros(2)}


class Missing(Backend):
    descriptor = BackendDescriptor(
        name="missing",
        kind="simulator",
        summary="framework not installed",
        from_ir=frozenset({"LIF"}),
        requires=(Requirement("no-such-framework-zzz"),),
    )


class Plugin:
    @hookimpl
    def nirhub_backends(self):
        return [Chip, Missing]


@pytest.fixture
def registry(nirhub_config):  # noqa: F811
    return make_registry(plugins=False, extra=[Plugin()], environments=False)


def lif(n: int) -> LIF:
    return LIF(np.full(n, 1e-3), np.ones(n), np.zeros(n), np.full(n, 0.3), np.zeros(n))


def graph_of(*items: tuple[str, Any], shape=(4,), dt: float | None = DT) -> Graph:
    nodes = {"input": Input(shape), **dict(items), "output": Output(None)}
    names = list(nodes)
    g = Graph(nodes, list(zip(names[:-1], names[1:], strict=True)))
    if dt is not None:
        set_dt(g.metadata, dt)
    return g


def bad_graph() -> Graph:
    return graph_of(
        ("aff", Affine(RNG.normal(size=(3, 4)), RNG.normal(size=3))),
        ("d", Delay(np.zeros(3))),
        ("t", Threshold(np.full(3, 0.5))),
        ("s", Scale(np.ones(3))),
        ("lif", lif(3)),
    )


def test_every_unsupported_node_is_reported(registry, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError) as info:
        convert(bad_graph(), to="chip", output=tmp_path / "x.chip", registry=registry)
    where = [p.where for p in info.value.problems]
    assert where == ["d", "t", "s"]
    text = str(info.value)
    for name in ("d: Delay", "t: Threshold", "s: Scale"):
        assert name in text
    assert "it imports: Affine, LIF" in text  # Threshold: the generic hint
    assert "Delay is not supported by 'chip': the chip has no synaptic delays" in text
    assert "folded into a Linear/Affine only when" in text
    assert info.value.exit_code == 4
    assert list(tmp_path.iterdir()) == []


def test_dry_run_reports_and_writes_nothing(registry, tmp_path: Path) -> None:
    report = convert(
        bad_graph(), to="chip", output=tmp_path / "x.chip", dry_run=True, registry=registry
    )
    assert report.dry_run and not report.ok and report.outputs == []
    assert [p.where for p in report.problems] == ["d", "t", "s"]
    assert report.planned_output == tmp_path / "x.chip"
    json.dumps(report.to_json())
    assert list(tmp_path.iterdir()) == []
    good = graph_of(("lin", Linear(RNG.normal(size=(3, 4)))), ("lif", lif(3)))
    report = convert(good, to="chip", output=tmp_path / "y.chip", dry_run=True, registry=registry)
    assert report.ok and report.report["neurons"] == 3 and report.outputs == []
    assert list(tmp_path.iterdir()) == []


def test_exact_rewrites_make_a_graph_legal(registry, tmp_path: Path) -> None:
    g = graph_of(
        ("s", Scale(np.full(4, 0.5))), ("lin", Linear(RNG.normal(size=(3, 4)))), ("lif", lif(3))
    )
    report = convert(g, to="chip", output=tmp_path / "m.chip", registry=registry)
    assert report.passes_applied == ["fold-scale", "linear-to-affine"]
    assert set(report.graph.nodes) == {"input", "lin", "lif", "output"}
    assert isinstance(report.graph.nodes["lin"], Affine)
    assert not behaviour_difference(g, report.graph, rtol=1e-12, atol=1e-12)
    assert report.outputs == [tmp_path / "m.chip", tmp_path / "m.meta"]
    assert json.loads((tmp_path / "m.chip").read_text())["nodes"] == [
        "input",
        "lin",
        "lif",
        "output",
    ]
    data = report.to_json()
    assert data["report"]["weights"] == [0.0, 0.0] and data["ok"]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_neurons": "2"}, UnsupportedError, "needs 3 neurons, the chip has 2"),
        ({"max_neurons": "many"}, UsageError, "expects a int"),
        ({"colour": "red"}, UsageError, "unknown option"),
    ],
)
def test_backend_checks_are_reported(
    registry, tmp_path: Path, options: dict[str, str], error: type[Exception], message: str
) -> None:
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    with pytest.raises(error, match=message):
        convert(g, to="chip", output=tmp_path / "m.chip", options=options, registry=registry)


def test_dt_is_recorded_passed_and_never_invented(registry, tmp_path: Path) -> None:
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    report = convert(g, to="chip", output=tmp_path / "a.chip", registry=registry)
    assert report.dt == DT and report.model["dt"] == DT and not report.warnings
    report = convert(g, to="chip", output=tmp_path / "b.chip", dt=2e-4, registry=registry)
    assert report.dt == 2e-4 and get_dt(report.graph) == 2e-4
    assert any("records dt=0.0001" in w for w in report.warnings)
    no_dt = graph_of(
        ("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)), dt=None
    )
    report = convert(no_dt, to="chip", output=tmp_path / "c.chip", registry=registry)
    assert report.dt == 1e-3 and any("uses its default dt=0.001" in w for w in report.warnings)
    report = convert(no_dt, to="nir", output=tmp_path / "c.nir", registry=registry)
    assert report.dt is None and get_dt(nirhub.read(tmp_path / "c.nir")) is None
    with pytest.raises(UsageError, match="dt must be"):
        convert(g, to="chip", output=tmp_path / "d.chip", dt=-1.0, registry=registry)


def test_outputs_are_never_overwritten_without_force(registry, tmp_path: Path) -> None:
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    out = tmp_path / "m.chip"
    out.write_text("old")
    with pytest.raises(RefusedError, match="--force"):
        convert(g, to="chip", output=out, registry=registry)
    assert out.read_text() == "old"
    # the second file of the artifact exists: refused after writing, nothing is replaced
    out.unlink()
    (tmp_path / "m.meta").write_text("old meta")
    with pytest.raises(RefusedError, match="m.meta"):
        convert(g, to="chip", output=out, registry=registry)
    assert not out.exists() and (tmp_path / "m.meta").read_text() == "old meta"
    report = convert(g, to="chip", output=out, force=True, registry=registry)
    assert report.outputs == [out, tmp_path / "m.meta"]
    assert (tmp_path / "m.meta").read_text() == "meta"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.chip", "m.meta"]


def test_a_failing_save_leaves_nothing(registry, tmp_path: Path) -> None:
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    with pytest.raises(OSError, match="disk full"):
        convert(
            g, to="chip", output=tmp_path / "m.chip", options={"fail": "yes"}, registry=registry
        )
    assert list(tmp_path.iterdir()) == []


def test_nir_files_convert_and_default_output(
    registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = src_dir / "model.nir"
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    nirhub.write(g, src)
    monkeypatch.chdir(tmp_path)
    report = convert(src, to="chip", registry=registry)
    assert report.outputs == [tmp_path / "model.chip", tmp_path / "model.meta"]
    assert report.source == str(src) and report.source_backend == "nir"
    with pytest.raises(UsageError, match="is the source file itself"):
        convert(src, to="nir", output=src, force=True, registry=registry)
    # -O options reach the target: the legacy layout refuses what it cannot express
    with pytest.raises(UnsupportedError, match="1.0.4"):
        convert(src, to="nir", options={"nir_version": "1.0.4"}, registry=registry)
    assert not (tmp_path / "model.nir").exists()
    report = convert(src, to="nir", options={"compression": "gzip"}, registry=registry)
    assert report.outputs == [tmp_path / "model.nir"]
    assert nirhub.read(tmp_path / "model.nir") == g
    with pytest.raises(UsageError, match="no output given"):
        convert(g, to="chip", registry=registry)


def test_source_detection_errors(registry, tmp_path: Path) -> None:
    fake = tmp_path / "fake.nir"
    fake.write_text("not hdf5")
    with pytest.raises(FileFormatError, match="not an HDF5 file"):
        to_ir(fake, registry=registry)
    other = tmp_path / "model.xyz"
    other.write_text("?")
    with pytest.raises(UsageError, match=r"no backend reads \.xyz files") as info:
        to_ir(other, registry=registry)
    assert ".nir" in str(info.value)
    with pytest.raises(UsageError, match="cannot tell which backend"):
        to_ir(object(), registry=registry)
    with pytest.raises(UsageError, match="cannot export to NIR"):
        to_ir(object(), "chip", registry=registry)


def test_model_references_and_objects(registry, tmp_path: Path) -> None:
    script = tmp_path / "build.py"
    script.write_text(
        "import numpy as np\n"
        "from nirhub import Graph, LIF\n"
        "from helper_mod import weights\n"  # a neighbour module of the script
        "def make():\n"
        "    n = len(weights())\n"
        "    return Graph.from_list(LIF(np.full(n, 1e-3), np.ones(n), np.zeros(n), "
        "np.ones(n), np.zeros(n)))\n"
        "graph = make()\n"
    )
    (tmp_path / "helper_mod.py").write_text("def weights():\n    return [1, 2, 3]\n")
    from_factory = to_ir(f"{script}:make", registry=registry)
    assert from_factory == to_ir(f"{script}:graph", registry=registry)
    assert from_factory.nodes["lif"].tau.shape == (3,)
    assert to_ir(from_factory, registry=registry) is from_factory  # a Graph object is "nir"


def test_from_ir_and_unavailable_targets(registry) -> None:
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    obj = from_ir(g, "chip", registry=registry)
    assert obj["dt"] == DT
    with pytest.raises(BackendUnavailableError, match="no-such-framework-zzz"):
        from_ir(primitive_graph("LIF"), "missing", registry=registry)
    report = convert(primitive_graph("LIF"), to="missing", dry_run=True, registry=registry)
    assert report.ok and any("Only the node types were checked" in w for w in report.warnings)
    with pytest.raises(BackendUnavailableError, match="unknown backend"):
        convert(g, to="nope", registry=registry)
    assert check_legality(g, Chip.descriptor) == []


def test_conversion_warnings_are_collected(tmp_path: Path, nirhub_config) -> None:  # noqa: F811
    import warnings

    class Lossy(Chip):
        descriptor = BackendDescriptor(
            name="lossy",
            kind="format",
            summary="lossy",
            from_ir=frozenset({"Affine", "LIF"}),
            writes=(".l",),
        )

        def from_ir(self, graph, **options):
            warnings.warn("rounded the weights to 8 bits", ConversionWarning, stacklevel=2)
            return {"graph": graph, "dt": None}

    class P:
        @hookimpl
        def nirhub_backends(self):
            return [Lossy]

    reg = make_registry(plugins=False, extra=[P()], environments=False)
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    report = convert(g, to="lossy", output=tmp_path / "m.l", registry=reg)
    assert "rounded the weights to 8 bits" in report.warnings


def test_simulate_with_backend(registry) -> None:
    g = primitive_graph("CubaLIF")
    x = RNG.uniform(0, 2, size=(30, 3))
    result = simulate_with_backend(g, x, DT, "nir", registry=registry)
    expected = nirhub.simulate(g, x, DT)
    np.testing.assert_array_equal(result.outputs["output"], expected.outputs["output"])
    with pytest.raises(UsageError, match="cannot run graphs"):
        simulate_with_backend(g, x, DT, "chip", registry=registry)


def test_files_of_a_shared_suffix_are_routed(tmp_path: Path, nirhub_config) -> None:  # noqa: F811
    def reader(name: str, magic: str | None) -> type[Backend]:
        class Reader(Backend):
            descriptor = BackendDescriptor(
                name=name, kind="format", summary=name, to_ir=frozenset({"LIF"}), reads=(".art",)
            )

            def claims(self, path: Path) -> bool | None:
                return None if magic is None else path.read_text().startswith(magic)

            def load(self, path, **options):
                return name

            def to_ir(self, model, **options):
                return primitive_graph("LIF")

        return Reader

    class P:
        @hookimpl
        def nirhub_backends(self):
            return [reader("aa", "AA"), reader("bb", None), reader("cc", None)]

    reg = make_registry(plugins=False, extra=[P()], environments=False)
    marked = tmp_path / "m.art"
    marked.write_text("# nirhub artifact: backend=cc format=module\nAA\n")
    assert convert(marked, to="nir", output=tmp_path / "a.nir", registry=reg).source_backend == "cc"
    sniffed = tmp_path / "s.art"
    sniffed.write_text("AA...")
    assert convert(sniffed, to="nir", output=tmp_path / "b.nir", registry=reg).source_backend == (
        "aa"
    )
    unknown = tmp_path / "u.art"
    unknown.write_text("??")
    with pytest.raises(UsageError, match="several backends read .art files: aa, bb, cc"):
        convert(unknown, to="nir", output=tmp_path / "c.nir", registry=reg)


# -- option spelling, warnings naming the real output, missing inputs ---------------------------


def test_options_are_accepted_in_either_spelling(registry, tmp_path: Path) -> None:
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", lif(3)))
    for key in ("max_neurons", "max-neurons"):
        with pytest.raises(UnsupportedError, match="needs 3 neurons, the chip has 2"):
            convert(g, to="chip", output=tmp_path / "m.chip", options={key: "2"}, registry=registry)
    # the backend receives the declared name, with the value parsed
    parsed = Chip.descriptor.parse_options({"max-neurons": "7", "dt": "1e-4"})
    assert parsed == {"dt": 1e-4, "max_neurons": 7, "fail": False}
    assert Chip.descriptor.parse_options({"max-neurons": "7"}, defaults=False) == {"max_neurons": 7}
    with pytest.raises(UsageError, match="'max-neurons' is given twice"):
        Chip.descriptor.parse_options({"max_neurons": "1", "max-neurons": "2"})
    # messages echo the spelling used; option lists use the command line's
    with pytest.raises(UsageError, match="option 'max_neurons' expects a int"):
        Chip.descriptor.parse_options({"max_neurons": "many"})
    with pytest.raises(UsageError, match="option 'max-neurons' expects a int"):
        Chip.descriptor.parse_options({"max-neurons": "many"})
    with pytest.raises(UsageError) as info:
        convert(
            g, to="chip", output=tmp_path / "m.chip", options={"colour": "1"}, registry=registry
        )
    assert "chip options: dt, max-neurons, fail" in str(info.value)
    with pytest.raises(DescriptorError, match="declares an option twice"):
        BackendDescriptor(
            name="twice",
            kind="format",
            summary="x",
            options=(Option("a_b", "int", "x"), Option("a-b", "int", "x")),
        )
    # a source option in the other spelling reaches the source backend, parsed: "false" is False
    src = tmp_path / "m.nir"
    nirhub.write(g, src)
    report = convert(src, to="nir", output=tmp_path / "o.nir", options={"tolerant": "false"})
    assert report.ok and report.warnings == []
    for key in ("nir-version", "nir_version"):
        out = tmp_path / f"legacy-{key}.nir"
        convert(primitive_graph("Affine"), to="nir", output=out, options={key: "1.0.4"})
        assert nirhub.io.read_version(out) == "1.0.4"


def test_same_backend_options_are_listed_once(registry, tmp_path: Path) -> None:
    src = tmp_path / "m.nir"
    nirhub.write(primitive_graph("LIF"), src)
    with pytest.raises(UsageError) as info:
        convert(src, to="nir", output=tmp_path / "o.nir", options={"x": "1"}, registry=registry)
    assert info.value.hint == "nir options: tolerant, nir-version, compression, method, reset."
    # two backends: both listed
    with pytest.raises(UsageError) as info:
        convert(src, to="chip", output=tmp_path / "o.chip", options={"x": "1"}, registry=registry)
    assert info.value.hint.count(" options: ") == 2


@pytest.mark.parametrize("relative", [False, True])
def test_warnings_name_the_real_output_not_the_temporary_file(
    registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    # LIF without v_reset and without a recorded reset: the legacy layout warns, naming the file
    no_reset = LIF(np.full(3, 1e-3), np.ones(3), np.zeros(3), np.full(3, 0.3))
    g = graph_of(("aff", Affine(RNG.normal(size=(3, 4)), np.zeros(3))), ("lif", no_reset))
    out = tmp_path / "legacy.nir"
    if relative:
        monkeypatch.chdir(tmp_path)
        out = Path("legacy.nir")
    report = convert(g, to="nir", output=out, options={"nir-version": "1.0.4"}, registry=registry)
    assert report.outputs == [out]
    (warning,) = [w for w in report.warnings if "reset" in w]
    assert warning.startswith(f"{out}: lif: "), warning
    assert ".nirhub-" not in warning


def test_retarget_replaces_every_spelling_of_the_temporary_folder(tmp_path: Path) -> None:
    from nirhub.hub.convert import _retarget

    tmp = tmp_path / ".nirhub-abc"
    text = f"{tmp}/a.nir and {tmp.resolve()}/b.npz and {tmp}"
    assert _retarget(text, tmp, tmp_path) == (
        f"{tmp_path}/a.nir and {tmp_path.resolve()}/b.npz and {tmp_path}"
    )
    rel = Path(".nirhub-abc")
    assert _retarget(".nirhub-abc/out.nir: lif: x", rel, Path(".")) == "out.nir: lif: x"


def test_a_missing_input_is_a_usage_error_everywhere(registry, tmp_path: Path) -> None:
    from nirhub.errors import ExitCode, NoSuchFileError

    missing = tmp_path / "missing.nir"
    calls = [
        lambda: nirhub.read(missing),
        lambda: nirhub.read(missing, strict=False),
        lambda: to_ir(missing, registry=registry),
        lambda: convert(missing, to="nir", output=tmp_path / "o.nir", registry=registry),
    ]
    for call in calls:
        with pytest.raises(NoSuchFileError) as info:
            call()
        exc = info.value
        assert exc.exit_code == ExitCode.USAGE == 2
        # one type for every way of catching it
        assert isinstance(exc, UsageError) and isinstance(exc, FileNotFoundError)
        assert isinstance(exc, FileFormatError)  # what nirhub.read raised before
        assert exc.filename == str(missing) and "no such file" in exc.message


def test_refusal_reasons_name_known_node_types_and_survive_json() -> None:
    with pytest.raises(DescriptorError, match="unknown node types"):
        BackendDescriptor(name="x", kind="hardware", summary="x", refusals={"Neuron": "no"})
    desc = Chip.descriptor
    assert BackendDescriptor.from_json(desc.to_json()).refusals == desc.refusals
