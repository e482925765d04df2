"""The any-to-any conversion matrix, for real (``tools/any_to_any.py``, ``docs/any-to-any.md``).

Collected only where every plugin is installed (the nox session ``cross-backend``; see
``conftest.py``). One run of the matrix (a few minutes: about 100 conversions through the
command line, each artifact loaded without nirhub, each run hook through ``nirhub simulate``)
serves every test here:

* every plugin under ``plugins/`` is reachable and its simulator backend takes part;
* every cell passes or is refused with the target's reasons — a failure names the model, the
  command and the number of differing spikes (tolerance: 0 differing output cells);
* the committed ``docs/any-to-any.md`` shows the same result for every model of every cell
  (regenerate it with ``python tools/any_to_any.py`` when a backend learns something new).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, plugin_distributions

sys.path.insert(0, str(ROOT / "tools"))
import any_to_any as a2a  # noqa: E402

DOC_PAIRS = sorted({(a, b) for a, b, _ in a2a.parse(a2a.DOC.read_text(encoding="utf-8"))})


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> a2a.Matrix:
    """The matrix, with a line per pair on the terminal as it runs (past pytest's capture:
    the run takes many minutes, and a silent CI log looks hung)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    lock = threading.Lock()  # lines come from the matrix's worker threads

    def log(line: str) -> None:
        with lock, capture.global_and_fixture_disabled():
            print(f"any-to-any: {line}", file=sys.stderr, flush=True)

    return a2a.run_matrix(tmp_path_factory.mktemp("any-to-any"), jobs=2, log=log)


def test_every_plugin_is_reachable_and_in_the_matrix(matrix: a2a.Matrix) -> None:
    proc = subprocess.run(
        [*a2a.nirhub_command(), "list-backends", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(proc.stdout)["backends"]
    usable = {r["distribution"]: r for r in rows if r["status"] == "ok"}
    missing = [d for d in plugin_distributions() if d not in usable]
    assert not missing, f"plugins not installed or not usable: {missing}"
    simulators = {r["name"] for r in usable.values() if r["kind"] in a2a.KINDS}
    assert simulators <= set(matrix.backends), simulators - set(matrix.backends)
    assert not matrix.unavailable, matrix.unavailable


@pytest.mark.parametrize("pair", DOC_PAIRS, ids=[f"{a}-to-{b}" for a, b in DOC_PAIRS])
def test_cell(matrix: a2a.Matrix, pair: tuple[str, str]) -> None:
    cell = matrix.cells.get(pair)
    assert cell is not None, f"{pair[0]} -> {pair[1]} was not run (backend missing?)"
    assert cell.problem is None, cell.problem
    assert cell.attempts, "no model was tried"
    for attempt in cell.attempts:
        what = f"{pair[0]} -> {pair[1]} ({attempt.variant})"
        assert attempt.status != "fail", f"{what}: {' '.join(attempt.reasons)}"
        if attempt.status == "refused":
            assert attempt.reasons, f"{what}: refused without a reason"
        else:
            assert attempt.artifact_diff == 0 and attempt.simulate_diff == 0, what
            assert attempt.spikes, f"{what}: the source model never spiked (a vacuous test)"


def test_the_committed_matrix_is_current(matrix: a2a.Matrix) -> None:
    assert a2a.parse(a2a.render(matrix)) == matrix.statuses()  # the document round-trips
    problems = a2a.compare(a2a.DOC.read_text(encoding="utf-8"), matrix)
    assert not problems, (
        "docs/any-to-any.md is out of date (run `python tools/any_to_any.py`):\n  "
        + "\n  ".join(problems)
    )


def test_the_matrix_is_not_vacuous(matrix: a2a.Matrix) -> None:
    """Every backend converts to and from at least one other, and refusals are the minority."""
    for name in matrix.backends:
        out = [c for (a, b), c in matrix.cells.items() if a == name and b != name]
        into = [c for (a, b), c in matrix.cells.items() if b == name and a != name]
        assert any(c.status == "pass" for c in out), f"{name} converts to nothing"
        assert any(c.status == "pass" for c in into), f"nothing converts to {name}"
    passes = sum(c.status == "pass" for c in matrix.cells.values())
    assert passes > len(matrix.cells) / 2
