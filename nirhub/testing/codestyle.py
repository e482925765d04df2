"""``assert_ruff_clean``: generated code passes ``ruff check`` and ``ruff format --check``
with nirhub's own settings (``pyproject.toml``: line length 100, rules E F W I B UP, E741
ignored), wherever the file was written (``--isolated``: a temporary folder has no
``pyproject.toml`` to take them from)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

#: the project's ruff settings, as command-line options (kept equal to pyproject.toml's by
#: tests/test_codestyle.py)
RUFF_SETTINGS = ("--line-length", "100", "--target-version", "py310")
RUFF_RULES = ("--select", "E,F,W,I,B,UP", "--ignore", "E741")


def ruff_command() -> list[str]:
    """``ruff`` of this environment (the test extra installs it), else the one on PATH."""
    here = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    if here.is_file():
        return [str(here)]
    found = shutil.which("ruff")
    if found is None:
        raise AssertionError("ruff is not installed (pip install 'nirhub[test]' installs it)")
    return [found]


def ruff_findings(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """What ``ruff check`` and ``ruff format --check --diff`` say about ``paths`` (empty: clean)."""
    files = [os.fspath(p) for p in paths]
    if not files:
        raise AssertionError("no files to check")
    ruff = ruff_command()
    findings = []
    check = subprocess.run(
        [*ruff, "check", "--isolated", "--no-cache", *RUFF_SETTINGS, *RUFF_RULES,
         "--output-format", "concise", *files],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if check.returncode != 0:
        findings.append(f"ruff check:\n{check.stdout}{check.stderr}")
    fmt = subprocess.run(
        [*ruff, "format", "--isolated", "--no-cache", *RUFF_SETTINGS, "--check", "--diff", *files],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if fmt.returncode != 0:
        findings.append(f"ruff format --check:\n{fmt.stdout}{fmt.stderr}")
    return findings


def assert_ruff_clean(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Fail with ruff's findings (and the diff ``ruff format`` would apply) on any."""
    findings = ruff_findings(paths)
    assert not findings, "\n".join(findings)


def repository_models() -> list[Path]:
    """The ``.nir`` models of nirhub's repository a code generator is linted on: the README's
    Braille RNN and the NIR paper's corpus (``tests/data/corpus``)."""
    root = Path(__file__).resolve().parents[2]
    found = [root / "examples" / "braille.nir"]
    found += sorted((root / "tests" / "data" / "corpus").glob("**/*.nir"))
    return [p for p in found if p.is_file()]


def generated_files(
    backend: str,
    folder: str | os.PathLike[str],
    *,
    dt: float = 1e-4,
    options: dict[str, str] | None = None,
    suffix: str = ".py",
) -> list[Path]:
    """Convert :func:`repository_models` and every primitive graph of
    :func:`nirhub.testing.primitive_graphs` to ``backend``, as ``nirhub convert`` does
    (refusals are skipped; corpus files are read tolerantly); return the Python files
    written."""
    from nirhub.errors import UnsupportedError
    from nirhub.hub.convert import convert
    from nirhub.testing.graphs import primitive_graphs

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    from nirhub.io import read

    # the corpus holds files of older nir versions: read them as `nirhub convert` would
    sources: list[tuple[str, object]] = [
        (p.stem, read(p, strict=False).graph) for p in repository_models()
    ]
    sources += [(f"primitive_{name.lower()}", g) for name, g in primitive_graphs().items()]
    written: list[Path] = []
    for stem, source in sources:
        target = out / f"{stem}{suffix}"
        try:
            report = convert(source, to=backend, output=target, dt=dt, options=options, force=True)
        except UnsupportedError:
            continue
        written += [Path(p) for p in report.outputs if Path(p).suffix == ".py"]
    return written
