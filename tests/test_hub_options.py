"""Options resolved once (nirhub.hub.options): ``--dt`` and ``-O dt`` are one option everywhere,
the value given beats the one recorded, and a backend receives resolved values."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nirhub.backend import (
    Backend,
    BackendDescriptor,
    ConversionWarning,
    Option,
    UsageError,
    hookimpl,
    simulate,
)
from nirhub.hub.convert import convert, from_ir, simulate_with_backend, to_ir
from nirhub.hub.options import DT_HINT, take_conventions
from nirhub.hub.registry import make_registry
from nirhub.hub.simulation import simulate_file
from nirhub.ir.conventions import get_dt, set_dt
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LIF, Affine
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture

RECORDED = 1e-4
GIVEN = 1e-3


class Stepper(Backend):
    """Records the options it receives; runs graphs in the reference simulator."""

    seen: list[dict[str, Any]] = []
    descriptor = BackendDescriptor(
        name="stepper",
        kind="simulator",
        summary="remembers its options",
        from_ir=frozenset({"Affine", "LIF"}),
        writes=(".step",),
        can_run=True,
        options=(
            Option("dt", "float", "time step", default=5e-3),
            Option("method", "choice", "discretisation", choices=("euler", "exact")),
        ),
    )

    def check(self, graph: Graph, **options: Any) -> list[Any]:
        self.seen.append({"hook": "check", **options})
        return []

    def from_ir(self, graph: Graph, **options: Any) -> dict[str, Any]:
        self.seen.append({"hook": "from_ir", **options})
        return {"dt": options.get("dt")}

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        path.write_text(repr(obj))
        return [path]

    def run(self, graph, inputs, dt, *, record=(), **options):  # type: ignore[override]
        self.seen.append({"hook": "run", "dt": dt, **options})
        if options.get("method") == "euler":  # as a run hook says what it cannot keep exact
            warnings.warn(
                "stepper: 0 of 18 cells differ (measured)", ConversionWarning, stacklevel=2
            )
        return simulate(graph, inputs, dt, record=record)


class Plugin:
    @hookimpl
    def nirhub_backends(self):
        return [Stepper]


@pytest.fixture
def registry(nirhub_config):  # noqa: F811
    Stepper.seen = []
    return make_registry(plugins=False, extra=[Plugin()], environments=False)


def graph(dt: float | None = RECORDED) -> Graph:
    n = 3
    g = Graph.from_list(
        Affine(np.eye(n), np.zeros(n)),
        LIF(np.full(n, 1e-2), np.ones(n), np.zeros(n), np.full(n, 0.3), np.zeros(n)),
    )
    if dt is not None:
        set_dt(g.metadata, dt)
    return g


def test_dash_o_dt_is_dt(registry, tmp_path: Path) -> None:
    """Regression: ``convert -O dt=1e-3`` on a graph recording 1e-4 converted with 1e-4."""
    report = convert(
        graph(), to="stepper", output=tmp_path / "a.step", options={"dt": GIVEN}, registry=registry
    )
    assert report.dt == GIVEN and report.model["dt"] == GIVEN
    assert get_dt(report.graph) == GIVEN  # recorded as --dt is
    assert any("records dt=0.0001" in w and "using dt=0.001" in w for w in report.warnings)
    assert all(seen["dt"] == GIVEN for seen in Stepper.seen)
    flag = convert(graph(), to="stepper", output=tmp_path / "b.step", dt=GIVEN, registry=registry)
    assert flag.dt == report.dt and flag.warnings == report.warnings
    # a string (as the command line gives it), and the CLI spelling, are the same option
    both = convert(
        graph(),
        to="stepper",
        output=tmp_path / "c.step",
        dt=GIVEN,
        options={"dt": "1e-3"},
        registry=registry,
    )
    assert both.dt == GIVEN


def test_dt_given_twice_differently_is_refused(registry, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--dt 0.001 and -O dt=2e-3 disagree"):
        convert(
            graph(),
            to="stepper",
            output=tmp_path / "a.step",
            dt=GIVEN,
            options={"dt": "2e-3"},
            registry=registry,
        )
    with pytest.raises(UsageError, match="dt must be a positive number of seconds"):
        convert(graph(), to="stepper", options={"dt": "-1"}, dry_run=True, registry=registry)
    assert not list(tmp_path.iterdir())


def test_convert_method_flag_is_dash_o_method(registry, tmp_path: Path) -> None:
    out = tmp_path / "m.step"
    convert(graph(), to="stepper", output=out, method="exact", dry_run=True, registry=registry)
    convert(
        graph(), to="stepper", output=out, options={"method": "exact"}, dry_run=True,
        registry=registry,
    )  # fmt: skip
    assert [s["method"] for s in Stepper.seen if s["hook"] == "from_ir"] == ["exact", "exact"]
    with pytest.raises(UsageError, match="disagree"):
        convert(
            graph(), to="stepper", output=out, method="euler", options={"method": "exact"},
            registry=registry,
        )  # fmt: skip
    assert not out.exists()


def test_given_else_recorded_else_default(registry) -> None:
    assert from_ir(graph(), "stepper", registry=registry)["dt"] == RECORDED
    assert from_ir(graph(), "stepper", dt=GIVEN, registry=registry)["dt"] == GIVEN
    assert from_ir(graph(), "stepper", registry=registry, **{"dt": GIVEN})["dt"] == GIVEN
    assert from_ir(graph(None), "stepper", registry=registry)["dt"] == 5e-3
    # check and from_ir see the same resolved values
    assert [s["dt"] for s in Stepper.seen] == [RECORDED] * 2 + [GIVEN] * 4 + [5e-3] * 2
    assert get_dt(to_ir(graph(), registry=registry, **{"dt": GIVEN})) == GIVEN


def test_run_hook_takes_dash_o_dt(registry, tmp_path: Path) -> None:
    """Regression (issue 16.8): ``simulate --backend X -O dt=1e-3`` ended with exit 70
    (``simulate_with_backend() got multiple values for argument 'dt'``)."""
    x = np.random.default_rng(0).uniform(0, 2, size=(6, 3))
    res = simulate_with_backend(graph(), x, GIVEN, "stepper", registry=registry)
    assert res.dt == GIVEN and Stepper.seen[-1]["dt"] == GIVEN
    res = simulate_with_backend(graph(), x, None, "stepper", registry=registry)
    assert res.dt == RECORDED
    assert "dt" not in {k for s in Stepper.seen if s["hook"] == "run" for k in s if k != "dt"}
    np.save(tmp_path / "x.npy", x)
    source = _write(graph(), tmp_path / "g.nir")
    run = simulate_file(
        source,
        tmp_path / "x.npy",
        output=tmp_path / "out.npz",
        backend="stepper",
        options={"dt": "1e-3", "method": "exact"},
        registry=registry,
    )
    assert run.dt == GIVEN and Stepper.seen[-1] == {"hook": "run", "dt": GIVEN, "method": "exact"}
    # and the reference simulator takes -O dt as --dt too
    ref = simulate_file(
        source, tmp_path / "x.npy", output=tmp_path / "ref.npz", options={"dt": GIVEN}
    )
    assert ref.dt == GIVEN and ref.runner == "reference"


def test_no_time_step_hint_has_one_spelling(registry, tmp_path: Path) -> None:
    x = np.ones((4, 3))
    with pytest.raises(UsageError, match="no time step") as info:
        simulate_with_backend(graph(None), x, None, "nir", registry=registry)
    assert info.value.hint == DT_HINT and "-O" not in DT_HINT
    from nirhub.backend import resolve_dt

    with pytest.raises(UsageError, match="no time step") as info:
        resolve_dt(graph(None), None)
    assert info.value.hint == DT_HINT


def test_take_conventions() -> None:
    given, rest = take_conventions({"dt": "1e-3", "chips": 2, "method": "exact"}, dt=None)
    assert given == {"dt": 1e-3} and rest == {"chips": 2, "method": "exact"}
    given, rest = take_conventions({"method": "exact"}, dt=1e-3, method=None, reset="zero")
    assert given == {"dt": 1e-3, "method": "exact", "reset": "zero"} and rest == {}
    with pytest.raises(UsageError, match="method must be euler or exact"):
        take_conventions({"method": "rk4"}, method=None)
    with pytest.raises(UsageError, match="disagree"):
        take_conventions({"reset": "zero"}, reset="subtract")


def _write(g: Graph, path: Path) -> Path:
    import nirhub

    nirhub.write(g, path)
    return path


# -- the command line ------------------------------------------------------------------------


def cli(args: list[str], tmp_path: Path) -> Any:
    from typer.testing import CliRunner

    from nirhub.cli.app import app
    from nirhub.hub.registry import reset_default_registry

    reset_default_registry()
    env = {"NIRHUB_CONFIG": str(tmp_path / "environments.json"), "NIRHUB_NO_PLUGINS": "1"}
    return CliRunner().invoke(app, args, env=env, prog_name="nirhub", catch_exceptions=False)


def test_cli_dash_o_dt_equals_dash_dash_dt(tmp_path: Path) -> None:
    import nirhub

    source = _write(graph(), tmp_path / "g.nir")
    convert_ = ["convert", str(source), "--to", "nir", "-o"]
    by_flag = cli([*convert_, str(tmp_path / "a.nir"), "--dt", "1e-3"], tmp_path)
    by_option = cli([*convert_, str(tmp_path / "b.nir"), "-O", "dt=1e-3"], tmp_path)
    assert by_flag.exit_code == by_option.exit_code == 0, by_option.output
    assert get_dt(nirhub.read(tmp_path / "a.nir")) == GIVEN
    assert get_dt(nirhub.read(tmp_path / "b.nir")) == GIVEN
    both = cli([*convert_, str(tmp_path / "c.nir"), "--dt", "1e-3", "-O", "dt=2e-3"], tmp_path)
    assert both.exit_code == 2 and "disagree" in both.output
    assert not (tmp_path / "c.nir").exists()


def test_cli_simulate_backend_dash_o_dt(tmp_path: Path) -> None:
    """Regression (issue 16.8): exit 70 instead of a run."""
    source = _write(graph(None), tmp_path / "g.nir")
    np.save(tmp_path / "x.npy", np.ones((5, 3)))
    args = ["simulate", str(source), "-i", str(tmp_path / "x.npy"), "--backend", "nir"]
    done = cli([*args, "-O", "dt=1e-3", "-o", str(tmp_path / "o.npz"), "--json"], tmp_path)
    assert done.exit_code == 0, done.output
    assert '"dt": 0.001' in done.output
    missing = cli([*args, "-o", str(tmp_path / "p.npz")], tmp_path)
    assert missing.exit_code == 2 and "--dt" in missing.output and "-O dt" not in missing.output


def test_simulate_reports_the_run_hooks_warnings(registry, tmp_path: Path) -> None:
    """A run hook's warning is part of the run's result (the CLI prints it as `convert` does),
    not a raw Python warning with a file name and a source line."""
    np.save(tmp_path / "x.npy", np.ones((6, 3)))
    source = _write(graph(), tmp_path / "g.nir")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes fails the test
        run = simulate_file(
            source,
            tmp_path / "x.npy",
            output=tmp_path / "out.npz",
            backend="stepper",
            options={"method": "euler"},
            registry=registry,
        )
    assert run.warnings.count("stepper: 0 of 18 cells differ (measured)") == 1
