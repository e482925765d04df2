"""The ``nirhub`` command: JSON documents, exit codes, error paths, plugin commands, output
hygiene. The human-readable output is covered by the transcripts (test_cli_transcripts.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import nirhub.summary
from nirhub.cli.app import app, parse_key_values
from nirhub.errors import ExitCode, UsageError
from nirhub.hub.backend import Backend
from nirhub.hub.descriptor import BackendDescriptor
from nirhub.hub.hookspecs import hookimpl
from nirhub.testing import isolated_registry

ROOT = Path(__file__).resolve().parent.parent
BRAILLE = ROOT / "examples" / "braille.nir"
BRAILLE_INPUT = ROOT / "examples" / "braille_test0_input.npy"
SUBGRAPH = ROOT / "tests" / "data" / "corpus" / "rnn" / "braille_noDelay_bias_zero_subgraph.nir"
SNNTORCH_ACTIVITY = (
    ROOT / "tests" / "data" / "corpus" / "rnn" / "snntorch_activity_noDelay_bias_zero.npy"
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No worker environments, no forced colour, no plugin selection from the caller."""
    return {
        "NIRHUB_CONFIG": str(tmp_path / "environments.json"),
        "NIRHUB_ENVS_DIR": str(tmp_path / "envs"),
        "NIRHUB_NO_PLUGINS": None,  # type: ignore[dict-item]
        "NIRHUB_PLUGINS": None,  # type: ignore[dict-item]
        "FORCE_COLOR": None,  # type: ignore[dict-item]
        "NO_COLOR": None,  # type: ignore[dict-item]
    }


def invoke(args: list[str], env: dict[str, Any]) -> Any:
    from nirhub.hub.registry import reset_default_registry

    reset_default_registry()
    return CliRunner().invoke(app, args, env=env, prog_name="nirhub", catch_exceptions=False)


# -- a plugin that cannot express spiking neurons, and contributes a command ----------------------


class Tiny(Backend):
    """A target that takes only Affine layers (so the Braille RNN is not convertible)."""

    descriptor = BackendDescriptor(
        name="tiny",
        kind="hardware",
        summary="affine layers only",
        from_ir=frozenset({"Input", "Output", "Affine"}),
        writes=(".tiny",),
    )

    def from_ir(self, graph: Any, **options: Any) -> Any:
        return graph

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        path.write_text("tiny")
        return [path]


def hello(name: str = "world") -> None:
    """Say hello (a command contributed by a plugin)."""
    print(f"hello {name}")


class TinyPlugin:
    @hookimpl
    def nirhub_backends(self) -> list[type[Backend]]:
        return [Tiny]

    @hookimpl
    def nirhub_cli_commands(self) -> list[tuple[str, Any]]:
        return [("hello", hello)]


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = isolated_registry(TinyPlugin())
    monkeypatch.setattr("nirhub.hub.registry.default_registry", lambda: registry)


# -- JSON documents -------------------------------------------------------------------------------


def test_list_backends_json_is_one_document(env: dict[str, str]) -> None:
    result = invoke(["--no-plugins", "list-backends", "--json"], env)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    (row,) = doc["backends"]
    assert row["name"] == "nir" and row["status"] == "ok" and row["location"] == "local"
    assert row["distribution"] == "nirhub" and set(row["directions"]) == {"to-ir", "from-ir"}
    assert result.stderr == ""


def test_inspect_json_counts_and_parameter_statistics(env: dict[str, str]) -> None:
    result = invoke(["inspect", str(BRAILLE), "--json"], env)
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["counts"]["neurons"] == 38 + 7
    assert doc["counts"]["synapses"] == 12 * 38 + 38 * 38 + 38 * 7
    fc1 = next(n for n in doc["nodes"] if n["path"] == "fc1")
    weight = next(p for p in fc1["params"] if p["name"] == "weight")
    from nirhub.io import read

    w = read(BRAILLE).nodes["fc1"].weight
    assert weight["dtype"] == "float32" and weight["shape"] == [38, 12]
    assert weight["min"] == pytest.approx(float(w.min()), abs=0)
    assert weight["max"] == pytest.approx(float(w.max()), abs=0)
    assert weight["mean"] == pytest.approx(float(w.astype(np.float64).mean()), rel=1e-12)
    assert fc1["input_shape"] == [12] and fc1["output_shape"] == [38]


def test_validate_json_lists_every_problem_and_exits_1(env: dict[str, str]) -> None:
    result = invoke(["validate", str(SUBGRAPH), "--json"], env)
    assert result.exit_code == ExitCode.FAILED
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and doc["mode"] == "strict"
    assert [p["kind"] for p in doc["problems"]] == ["dangling-edge"]
    tolerant = json.loads(invoke(["validate", str(SUBGRAPH), "--tolerant", "--json"], env).stdout)
    assert tolerant["valid"] is True and len(tolerant["repaired"]) == 1


def test_errors_in_json_mode_are_a_json_document(env: dict[str, str]) -> None:
    result = invoke(["inspect", "no/such/file.nir", "--json"], env)
    assert result.exit_code == ExitCode.USAGE
    doc = json.loads(result.stdout)
    assert doc["error"]["exit_code"] == 2 and "no such file" in doc["error"]["message"]
    assert result.stderr.startswith("error: ")


# -- exit codes and error paths -------------------------------------------------------------------


def test_unsupported_conversion_lists_every_node_and_exits_4(
    env: dict[str, str], tiny: None, tmp_path: Path
) -> None:
    out = tmp_path / "braille.tiny"
    result = invoke(["convert", str(BRAILLE), "--to", "tiny", "-o", str(out)], env)
    assert result.exit_code == ExitCode.UNSUPPORTED
    assert "lif1.lif" in result.stderr and "lif2" in result.stderr
    assert result.stdout == "" and not out.exists()

    dry = invoke(["convert", str(BRAILLE), "--to", "tiny", "-o", str(out), "--dry-run"], env)
    assert dry.exit_code == ExitCode.UNSUPPORTED
    assert "conversion NOT possible" in dry.stdout
    assert "lif1.lif" in dry.stdout and "lif2" in dry.stdout and not out.exists()

    doc = json.loads(
        invoke(["convert", str(BRAILLE), "--to", "tiny", "--dry-run", "--json"], env).stdout
    )
    assert doc["ok"] is False and {p["where"] for p in doc["problems"]} >= {"lif1.lif", "lif2"}


def test_refused_overwrite_exits_6_and_names_the_file_and_force(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out.npz"
    out.write_bytes(b"precious")
    args = ["simulate", str(BRAILLE), "-i", str(BRAILLE_INPUT), "--dt", "1e-4", "-o", str(out)]
    result = invoke(args, env)
    assert result.exit_code == ExitCode.REFUSED
    assert str(out) in result.stderr and "--force" in result.stderr
    assert out.read_bytes() == b"precious"
    assert invoke([*args, "--force"], env).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no temporary files left


def test_unexpected_exception_is_exit_70_without_traceback(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(nirhub.summary, "summarize", broken)
    result = invoke(["inspect", str(BRAILLE)], env)
    assert result.exit_code == ExitCode.INTERNAL == 70
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "--traceback" in result.stderr and "Traceback" not in result.stderr

    shown = invoke(["--traceback", "inspect", str(BRAILLE)], env)
    assert shown.exit_code == 70
    assert "Traceback (most recent call last)" in shown.stderr and "RuntimeError: boom" in (
        shown.stderr
    )
    doc = json.loads(invoke(["inspect", str(BRAILLE), "--json"], env).stdout)
    assert doc["error"]["exit_code"] == 70 and doc["error"]["type"] == "RuntimeError"


def test_nirhub_errors_keep_their_exit_code(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(source: Any) -> Any:
        raise UsageError("bad thing", hint="do the other thing")

    monkeypatch.setattr(nirhub.summary, "summarize", refuse)
    result = invoke(["inspect", str(BRAILLE)], env)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: bad thing", "hint: do the other thing"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--no-plugins", "list-backends"], 0),
        (["validate", str(SUBGRAPH)], 1),
        (["convert", str(BRAILLE)], 2),  # missing --to
        (["no-such-command"], 2),
        (["simulate", str(ROOT / "pyproject.toml"), "-i", str(BRAILLE_INPUT), "-o", "x.npz"], 2),
        (["--no-plugins", "convert", str(BRAILLE), "--to", "nosuch"], 5),
    ],
)
def test_exit_codes_of_the_real_entry_point(
    args: list[str], code: int, env: dict[str, Any], tmp_path: Path
) -> None:
    script = Path(sys.executable).parent / "nirhub"
    assert script.is_file(), "the nirhub console script must be installed (pip install -e .)"
    full = {k: v for k, v in os.environ.items() if k not in env}
    full.update({k: v for k, v in env.items() if v is not None})
    proc = subprocess.run(
        [str(script), *args], cwd=tmp_path, env=full, capture_output=True, text=True
    )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr


# -- output hygiene -------------------------------------------------------------------------------


def test_quiet_keeps_results_and_errors(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "q.npz"
    args = ["simulate", str(BRAILLE), "-i", str(BRAILLE_INPUT), "--dt", "1e-4", "-o", str(out)]
    loud = invoke(args, env)
    assert loud.stdout.strip() == str(out) and "simulated 256 steps" in loud.stderr
    quiet = invoke(["-q", *args, "--force"], env)
    assert quiet.stdout.strip() == str(out) and quiet.stderr == ""
    failed = invoke(["-q", *args], env)
    assert failed.exit_code == 6 and failed.stderr.startswith("error: ")


def test_no_color_turns_off_all_styling(env: dict[str, str]) -> None:
    forced = {**env, "FORCE_COLOR": "1"}
    assert "\x1b[" in invoke(["--no-plugins", "list-backends"], forced).stdout
    plain = invoke(["--no-plugins", "list-backends"], {**forced, "NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout and "nir (nir-file)" in plain.stdout


def test_no_progress_display_when_not_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "p.npz"
    result = invoke(
        ["simulate", str(BRAILLE), "-i", str(BRAILLE_INPUT), "--dt", "1e-4", "-o", str(out)], env
    )
    assert result.exit_code == 0
    assert "\x1b[" not in result.stderr and "\r" not in result.stderr


# -- plugin commands and --no-plugins -------------------------------------------------------------


def test_plugin_commands_are_added_and_no_plugins_hides_them(
    env: dict[str, str], tiny: None
) -> None:
    assert invoke(["hello", "--name", "nir"], env).stdout == "hello nir\n"
    assert "hello" in invoke(["--help"], env).stdout
    hidden = invoke(["--no-plugins", "hello"], env)
    assert hidden.exit_code == 2 and "No such command 'hello'" in hidden.stderr
    listed = json.loads(invoke(["list-backends", "--json"], env).stdout)
    assert [r["name"] for r in listed["backends"]] == ["nir", "tiny"]


# -- the shipped example, end to end --------------------------------------------------------------


def test_simulating_the_example_reproduces_the_papers_snntorch_activity(
    env: dict[str, str], tmp_path: Path
) -> None:
    """examples/README.md's command: the hidden layer's spikes equal snnTorch's recording."""
    out = tmp_path / "braille.npz"
    result = invoke(
        ["simulate", str(BRAILLE), "--input", str(BRAILLE_INPUT), "--dt", "1e-4",
         "--record", "lif1.lif", "-o", str(out)],
        env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with np.load(out) as data:
        assert sorted(data) == ["lif1.lif.I", "lif1.lif.spikes", "lif1.lif.v", "output"]
        spikes = data["lif1.lif.spikes"]
        assert data["output"].shape == (256, 7)
    reference = np.load(SNNTORCH_ACTIVITY)
    assert spikes.shape == reference.shape == (256, 38)
    assert int(spikes.sum()) == 119
    assert int(np.count_nonzero(spikes != reference.astype(bool))) == 0


# -- small pieces ---------------------------------------------------------------------------------


def test_parse_key_values() -> None:
    assert parse_key_values(["a=1", "b = x=y", "c="]) == {"a": "1", "b": " x=y", "c": ""}
    assert parse_key_values(None) == {}
    for bad in (["novalue"], ["=1"]):
        with pytest.raises(UsageError):
            parse_key_values(bad)


# -- option spellings, warnings naming the output, missing inputs ---------------------------------


@pytest.mark.parametrize("key", ["nir-version", "nir_version"])
def test_backend_options_in_either_spelling(env: dict[str, str], tmp_path: Path, key: str) -> None:
    from nirhub.io import read_version

    out = tmp_path / "legacy.nir"
    args = ["--no-plugins", "convert", str(BRAILLE), "--to", "nir", "-O", f"{key}=1.0.4"]
    result = invoke([*args, "-o", str(out)], env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n" and read_version(out) == "1.0.4"
    # the legacy layout's warnings name the file written, not the temporary one
    assert f"warning: {out}: lif1.lif: " in result.stderr and ".nirhub-" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "{missing}"],
        ["validate", "{missing}"],
        ["convert", "{missing}", "--to", "nir"],
        ["simulate", "{missing}", "-i", str(BRAILLE_INPUT), "-o", "{tmp}/out.npz"],
    ],
)
def test_a_missing_input_exits_2_like_the_python_api(
    env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "missing.nir"
    filled = [a.format(missing=missing, tmp=tmp_path) for a in args]
    result = invoke(["--no-plugins", *filled], env)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "no such file" in result.stderr
    with pytest.raises(UsageError) as info:
        nirhub.read(missing)
    assert info.value.exit_code == result.exit_code


def test_simulate_threads_reach_the_reference_simulator_and_keep_its_results(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--threads is simulate(threads=): the Braille RNN (loops: split element-wise work, same
    bits) gives the same .npz; with --backend, or below 1, it is a usage error (exit 2)."""
    import nirhub.sim

    base = ["simulate", str(BRAILLE), "-i", str(BRAILLE_INPUT), "--dt", "1e-4"]
    seen: list[Any] = []
    real = nirhub.sim.simulate

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("threads"))
        return real(*args, **kwargs)

    monkeypatch.setattr(nirhub.sim, "simulate", spy)
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    assert invoke([*base, "-o", str(one)], env).exit_code == 0
    result = invoke([*base, "--threads", "2", "-r", "lif1.lif", "-o", str(two)], env)
    assert result.exit_code == 0, result.stderr
    assert seen == [None, 2]
    with np.load(one) as a, np.load(two) as b:
        assert a["output"].tobytes() == b["output"].tobytes()
    for bad in (["--threads", "0"], ["--threads", "2", "--backend", "nir"]):
        result = invoke([*base, *bad, "-o", str(tmp_path / "bad.npz")], env)
        assert result.exit_code == ExitCode.USAGE, (bad, result.stderr)
        assert "threads" in result.stderr
