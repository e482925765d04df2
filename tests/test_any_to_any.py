"""The any-to-any conversion matrix, for real (``tools/any_to_any.py``, ``docs/any-to-any.md``).

Collected only where every plugin is installed (the nox session ``cross-backend``; see
``conftest.py``). One run of the matrix (a few minutes: about 100 conversions through the
command line, each artifact loaded without nirhub, each run hook through ``nirhub simulate``)
serves every test here:

* every plugin under ``plugins/`` is reachable and its simulator backend takes part;
* every cell passes or is refused with the target's reasons — a failure names the model, the
  command and the number of differing spikes (tolerance: 0 differing output cells); a cell
  that differs passes as ``approx`` only when the conversion warned with the measured effect;
* the quantized models (integer-weight IF, dyadic LIF; ``nir.write`` graphs and native models)
  reach every target, hardware included, and are never silently different (the dyadic
  CubaLIF, which checks Xylo's arithmetic, goes from its NIR graph to torch and xylo only);
* the matrix's exact evaluation of a quantized NIR graph is the reference simulator's;
* the committed ``docs/any-to-any.md`` shows the same result for every model of every cell
  (regenerate it with ``python tools/any_to_any.py`` when a backend learns something new).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, plugin_distributions

sys.path.insert(0, str(ROOT / "tools"))
import any_to_any as a2a  # noqa: E402

DOC_PAIRS = sorted({key[:3] for key in a2a.parse(a2a.DOC.read_text(encoding="utf-8"))})


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


@pytest.mark.parametrize("pair", DOC_PAIRS, ids=[f"{m}-{a}-to-{b}" for m, a, b in DOC_PAIRS])
def test_cell(matrix: a2a.Matrix, pair: tuple[str, str, str]) -> None:
    model, source, target = pair
    cell = matrix.cells.get(pair)
    assert cell is not None, f"{model}: {source} -> {target} was not run (backend missing?)"
    assert cell.problem is None, cell.problem
    assert cell.attempts, "no model was tried"
    for attempt in cell.attempts:
        what = a2a.label(cell, attempt)
        assert attempt.status != "fail", f"{what}: {' '.join(attempt.reasons)}"
        if attempt.status == "refused":
            assert attempt.reasons, f"{what}: refused without a reason"
            continue
        assert attempt.spikes, f"{what}: the source model never spiked (a vacuous test)"
        on_chip = attempt.artifact is None
        if attempt.status == "pass":
            assert attempt.simulate_diff == 0, what
            assert attempt.artifact_diff == 0 or (on_chip and attempt.artifact_diff is None), what
        else:  # approx: it differs, and the conversion said by how much
            assert attempt.status == "approx", what
            assert attempt.artifact_diff or attempt.simulate_diff, what
            assert a2a.warned(attempt.warnings), f"{what}: differs without a measured warning"


def test_the_committed_matrix_is_current(matrix: a2a.Matrix) -> None:
    assert a2a.parse(a2a.render(matrix)) == matrix.statuses()  # the document round-trips
    problems = a2a.compare(a2a.DOC.read_text(encoding="utf-8"), matrix)
    assert not problems, (
        "docs/any-to-any.md is out of date (run `python tools/any_to_any.py`):\n  "
        + "\n  ".join(problems)
    )


def test_the_matrix_is_not_vacuous(matrix: a2a.Matrix) -> None:
    """Every backend converts to and from at least one other, and refusals are the minority."""
    floats = {(a, b): c for (m, a, b), c in matrix.cells.items() if m == a2a.FLOAT_MODEL}
    for name in matrix.backends:
        out = [c for (a, b), c in floats.items() if a == name and b != name]
        into = [c for (a, b), c in floats.items() if b == name and a != name]
        assert any(c.status == "pass" for c in out), f"{name} converts to nothing"
        assert any(c.status == "pass" for c in into), f"nothing converts to {name}"
    passes = sum(c.status == "pass" for c in floats.values())
    assert passes > len(floats) / 2


def test_the_quantized_models_reach_every_target(matrix: a2a.Matrix) -> None:
    """The NIR graph of each quantized model is tried on every simulator and hardware backend,
    and every hardware backend takes at least one quantized model (IF or LIF)."""
    hardware = [t for t in matrix.targets if t not in matrix.backends]
    assert hardware, "no hardware backend took part"
    for q in a2a.QUANTIZED:
        tried = {b for (m, a, b) in matrix.cells if m == q.name and a == a2a.NIR_SOURCE}
        expected = set(matrix.targets) & set(q.targets or matrix.targets)
        assert tried == expected, (q.name, expected - tried)
        natives = {a for (m, a, _) in matrix.cells if m == q.name and a != a2a.NIR_SOURCE}
        assert bool(natives) == q.natives, f"{q.name}: natives {sorted(natives)}"
    for target in hardware:
        taken = [
            c
            for (m, _, b), c in matrix.cells.items()
            if m != a2a.FLOAT_MODEL and b == target and c.status in ("pass", "approx")
        ]
        assert taken, f"{target} took no quantized model"


@pytest.mark.parametrize("q", a2a.QUANTIZED, ids=[q.name for q in a2a.QUANTIZED])
@pytest.mark.parametrize("variant", a2a.QVARIANTS)
def test_exact_evaluation_is_the_reference_simulators(
    q: a2a.QuantizedModel, variant: str, tmp_path: Path
) -> None:
    """The matrix's rational-arithmetic reading of its ``nir.write`` graph spikes exactly like
    nirhub's reference simulator (float64) reading the same file, and hits the threshold
    exactly (ties are what the quantized models are for)."""
    import nirhub

    x_path, weights = a2a.quantized_inputs(q, tmp_path)
    x = np.load(x_path)
    graph = tmp_path / "model.nir"
    a2a.write_nir_source(graph, q, variant, weights)
    want = a2a.exact_spikes(q, weights, x, variant).astype(bool)
    result = nirhub.simulate(nirhub.read(graph), x, dt=a2a.QDT)
    got = np.asarray(result.outputs["output"]) > 0
    assert want.sum() > 0
    assert (got == want).all(), int((got != want).sum())
    at_or_above = a2a.exact_spikes(q, weights, x, variant, fire_at_threshold=True)
    ties = int((at_or_above.astype(bool) != want).sum())
    if q.neuron == "cubalif":  # both decays 7/8: v is rarely exactly on the threshold
        assert ties == 0, ties
    else:
        assert ties > 0, "no tie changes an output spike"
