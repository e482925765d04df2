"""Golden transcripts of the ``nirhub`` command (pandoc-style command tests).

Each ``tests/cli/*.md`` file holds fenced code blocks that pair one command with its expected
output and exit code::

    % nirhub validate examples/braille.nir        <- runs in-process (typer's CliRunner)
    examples/braille.nir: valid (strict; ...)      <- expected stdout line
    2> warning: ...                                <- expected stderr line
    ? 0                                            <- expected exit code

A command starting with ``$`` instead of ``%`` runs the installed ``nirhub`` script in a
subprocess (the real entry point, its real exit code). ``{tmp}`` is a temporary folder shared
by the blocks of one file (they run in order); ``{*}`` in a line matches any text, and a line
``...`` matches any number of lines. Commands run from the repository root with ``NO_COLOR=1``
and no worker environments configured. Every mismatch of a file is reported at once.

After an intended change of output, ``NIRHUB_ACCEPT_TRANSCRIPTS=1 pytest
tests/test_cli_transcripts.py`` rewrites the blocks that differ (wildcards in them are lost);
review the diff.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = sorted((Path(__file__).parent / "cli").glob("*.md"))


@dataclass
class Case:
    file: Path
    line: int
    command: str
    subprocess: bool
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    exit_code: int | None = None


def parse(path: Path) -> list[Case]:
    cases: list[Case] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    inside = False
    case: Case | None = None
    for number, text in enumerate(lines, start=1):
        if text.startswith("```"):
            if inside and case is not None:
                if case.exit_code is None:
                    raise ValueError(f"{path}:{case.line}: block has no '? EXIT_CODE' line")
                cases.append(case)
            inside, case = not inside, None
            continue
        if not inside:
            continue
        if case is None:
            if not text.startswith(("% nirhub", "$ nirhub")):
                raise ValueError(f"{path}:{number}: a block must start with '% nirhub' or '$ '")
            case = Case(path, number, text[2:], text.startswith("$"))
        elif text.startswith("? "):
            case.exit_code = int(text[2:])
        elif text.startswith("2> ") or text == "2>":
            case.stderr.append(text[3:])
        else:
            case.stdout.append(text)
    if inside:
        raise ValueError(f"{path}: unclosed code block")
    return cases


def _line_matches(pattern: str, actual: str) -> bool:
    if "{*}" not in pattern:
        return pattern == actual
    regex = ".*".join(re.escape(part) for part in pattern.split("{*}"))
    return re.fullmatch(regex, actual) is not None


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line comparison with ``...`` (any lines) and ``{*}`` (any text) wildcards."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and _line_matches(head, actual[0]) and matches(rest, actual[1:])


def _clean(text: str, tmp: Path) -> list[str]:
    lines = [line.rstrip() for line in text.replace(str(tmp), "{tmp}").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _environment(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NIRHUB_NO_PLUGINS", "NIRHUB_PLUGINS", "FORCE_COLOR")
    }
    env.update(
        NO_COLOR="1",
        COLUMNS="100",
        TERM="dumb",
        NIRHUB_CONFIG=str(tmp / "environments.json"),
        NIRHUB_ENVS_DIR=str(tmp / "envs"),
    )
    return env


def nirhub_script() -> Path:
    script = Path(sys.executable).parent / "nirhub"
    if not script.is_file():
        raise AssertionError(
            f"the nirhub console script is not installed next to {sys.executable}; "
            "install the project (pip install -e .)"
        )
    return script


def run_in_process(args: list[str], env: dict[str, str]) -> tuple[str, str, int]:
    from typer.testing import CliRunner

    from nirhub.cli.app import app
    from nirhub.hub.registry import reset_default_registry

    reset_default_registry()  # the environment (NIRHUB_CONFIG) differs from test to test
    runner = CliRunner()
    result = runner.invoke(app, args, env=env, prog_name="nirhub", catch_exceptions=False)
    return result.stdout, result.stderr, result.exit_code


def run_subprocess(args: list[str], env: dict[str, str]) -> tuple[str, str, int]:
    proc = subprocess.run(
        [str(nirhub_script()), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.stdout, proc.stderr, proc.returncode


def report(case: Case, stdout: list[str], stderr: list[str], code: int) -> str:
    def block(prefix: str, lines: list[str]) -> str:
        return "\n".join(prefix + line for line in lines)

    return (
        f"{case.file.name}:{case.line}: {case.command}\n"
        f"--- expected (exit {case.exit_code})\n"
        f"{block('', case.stdout)}\n{block('2> ', case.stderr)}\n"
        f"--- actual (exit {code})\n"
        f"{block('', stdout)}\n{block('2> ', stderr)}\n"
    )


def accept(path: Path, actual: dict[int, tuple[list[str], list[str], int]]) -> None:
    """Rewrite the blocks that differ with the actual output (``NIRHUB_ACCEPT_TRANSCRIPTS=1``;
    review the result with ``git diff`` before committing it)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    skipping = False
    for number, text in enumerate(lines, start=1):
        if number in actual:
            stdout, stderr, code = actual[number]
            out.append(text)
            out += stdout + [f"2> {x}".rstrip() for x in stderr] + [f"? {code}"]
            skipping = True
            continue
        if skipping and text.startswith("```"):
            skipping = False
        if not skipping:
            out.append(text)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.name)
def test_transcript(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = parse(path)
    assert cases, f"{path} holds no command blocks"
    monkeypatch.chdir(ROOT)
    env = _environment(tmp_path)
    failures = []
    actual: dict[int, tuple[list[str], list[str], int]] = {}
    for case in cases:
        args = shlex.split(case.command.replace("{tmp}", str(tmp_path)))[1:]
        run = run_subprocess if case.subprocess else run_in_process
        out, err, code = run(args, env)
        stdout, stderr = _clean(out, tmp_path), _clean(err, tmp_path)
        if not (
            code == case.exit_code and matches(case.stdout, stdout) and matches(case.stderr, stderr)
        ):
            failures.append(report(case, stdout, stderr, code))
            actual[case.line] = (stdout, stderr, code)
    if failures and os.environ.get("NIRHUB_ACCEPT_TRANSCRIPTS") == "1":
        accept(path, actual)
    assert not failures, f"{len(failures)} of {len(cases)} commands differ:\n\n" + "\n".join(
        failures
    )


def test_transcripts_exist() -> None:
    names = {p.name for p in TRANSCRIPTS}
    assert {"basics.md", "inspect-validate.md", "convert.md", "simulate.md"} <= names


def test_wildcards() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert not matches(["a", "...", "d"], ["a", "b"])
    assert matches(["nirhub {*} (Python {*})"], ["nirhub 0.1.0 (Python 3.11.7)"])
    assert not matches(["x{*}y"], ["x-z"])
