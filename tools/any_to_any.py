"""The any-to-any conversion matrix: every simulator backend to every other, for real.

For every ordered pair (A, B) of the installed simulator backends:

1. a small model — ``Linear 8 -> 16``, LIF, ``Linear 16 -> 4``, LIF, random weights — is built
   **natively** in framework A (``tools/any_to_any_native.py``, run in A's environment) and
   saved as a model source nirhub reads: a Python model reference ``model.py:build`` with a
   ``--weights`` state dict (``torch``: the backend's own ``net.py`` + ``net.pt``). A runs it on
   a shared random spike input (100 steps, batch 2) and keeps its output spikes;
2. ``nirhub convert SOURCE --from A --to B --dt DT -o OUT.py`` (the real command line, in a
   subprocess) writes B's artifact;
3. the artifact is loaded in B's environment **without nirhub**, as B's users would (import the
   generated module, ``build_model()``, which reads the weights with
   ``torch.load(weights_only=True)``), and run on the same input;
4. ``nirhub simulate SOURCE --from A --backend B`` runs B's run hook on the same input.

A cell **passes** when both (3) and (4) spike exactly like A's own model (0 differing cells of
the ``T x B x 4`` output). The model's reset mode is the first of ``zero``, ``subtract``,
``subtract-delayed``, ``subtract-guarded`` (snnTorch's two subtractions) that A can build and
B accepts; when B refuses every variant A can build, the cell is **refused** with the reasons
of B's ``UnsupportedError`` (an honest result: B cannot express the model). Anything else — a
crash, an artifact that does not load, a single differing spike — is a **failure**.

    python tools/any_to_any.py                  # run, write docs/any-to-any.md
    python tools/any_to_any.py --check          # run, compare with the committed table
    python tools/any_to_any.py --backends torch,norse --keep /tmp/a2a

Run it with the Python where nirhub and the plugins are installed; backends registered as
worker environments (``nirhub env add``) are used there, through the same command line.
``tests/test_any_to_any.py`` runs it in the nox session ``cross-backend`` and checks that the
committed ``docs/any-to-any.md`` has the same result in every cell.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NATIVE = Path(__file__).resolve().parent / "any_to_any_native.py"
DOC = ROOT / "docs" / "any-to-any.md"

sys.path.insert(0, str(NATIVE.parent))
import any_to_any_native as native  # noqa: E402

#: reset modes of the model (every one a source can build is tried), and their codes
VARIANTS = ("zero", "subtract", "subtract-delayed", "subtract-guarded")
CODES = {"zero": "Z", "subtract": "S", "subtract-delayed": "D", "subtract-guarded": "G"}
DT = 1e-3
STEPS, BATCH = 100, 2
INPUT_RATE = 0.3
SEED = 1
#: the backend kinds that take part (formats such as ``nir`` and hardware do not)
KINDS = ("simulator",)

STATUSES = ("pass", "refused", "fail")
#: the export option that records NIR's ``v > thr`` instead of Sinabs'/Rockpool's ``v >= thr``
STRICT = "threshold=strict"


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One model variant of a (source, target) pair."""

    variant: str
    status: str = "fail"  # pass | refused | fail
    #: spikes of A's own model; differing output cells of the artifact and of the run hook
    spikes: int | None = None
    artifact_diff: int | None = None
    simulate_diff: int | None = None
    #: why it was refused, or what failed
    reasons: list[str] = field(default_factory=list)
    #: the artifact written by `nirhub convert` (a working file)
    artifact: Path | None = None
    #: extra ``-O`` options of the conversion: ``threshold=strict`` when the target refused
    #: the source's recorded ``v >= thr`` test (Sinabs, Rockpool) and said so
    options: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        """The variant's letter, with ``*`` when the strict threshold test was asked for."""
        return CODES[self.variant] + ("*" if STRICT in self.options else "")


@dataclass
class Cell:
    """One (source, target) pair: every variant the source can build."""

    source: str
    target: str
    attempts: list[Attempt] = field(default_factory=list)
    #: a problem before any variant could be tried
    problem: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        found = {a.status for a in self.attempts}
        if self.problem or not self.attempts or "fail" in found:
            return "fail"
        return "pass" if "pass" in found else "refused"

    @property
    def label(self) -> str:
        """The text of the matrix cell: variants grouped by result, e.g. ``pass: Z, S;
        refused: D``."""
        if self.problem or not self.attempts:
            return "FAIL"
        groups = []
        for status, word in (("fail", "FAIL"), ("pass", "pass"), ("refused", "refused")):
            codes = [a.code for a in self.attempts if a.status == status]
            if codes:
                groups.append(f"{word}: {', '.join(codes)}")
        return "; ".join(groups)


@dataclass
class Matrix:
    backends: list[str]
    cells: dict[tuple[str, str], Cell]
    #: name -> framework version, location
    versions: dict[str, str]
    locations: dict[str, str]
    #: backend -> variant -> None (built) or the reason it cannot be built
    natives: dict[str, dict[str, str | None]]
    #: installed backends that could not take part, with the reason
    unavailable: dict[str, str]
    date: str
    python: str
    nirhub_version: str
    seconds: float

    def statuses(self) -> dict[tuple[str, str, str], str]:
        """(source, target, variant) -> pass | refused | fail; variant "*" for a cell that
        failed before trying any."""
        found = {}
        for (a, b), c in self.cells.items():
            if c.problem or not c.attempts:
                found[(a, b, "*")] = "fail"
            for t in c.attempts:
                found[(a, b, t.variant)] = t.status
        return found


# --------------------------------------------------------------------------------------------
# the command line, and the framework environments
# --------------------------------------------------------------------------------------------


def nirhub_command() -> list[str]:
    """The ``nirhub`` executable of this interpreter's environment."""
    exe = Path(sys.executable).parent / ("nirhub.exe" if os.name == "nt" else "nirhub")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "nirhub"]


def cli(*args: str, timeout: float = 900) -> tuple[int, Any, str]:
    """Run ``nirhub ARGS --json``: (exit code, parsed stdout, stderr)."""
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [*nirhub_command(), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        data = None
    return proc.returncode, data, proc.stderr


def discover(only: Iterable[str] | None = None) -> tuple[dict, dict[str, str]]:
    """Simulator backends with both directions: name -> row of ``list-backends --json``; and
    the ones that are installed but not usable, with the reason."""
    code, data, err = cli("list-backends")
    if code != 0 or data is None:
        raise RuntimeError(f"nirhub list-backends failed ({code}): {err.strip()}")
    rows, unavailable = {}, {}
    for row in data["backends"]:
        if row["kind"] not in KINDS and row["status"] == "ok":
            continue
        if only is not None and row["name"] not in only:
            continue
        if row["name"] in rows:
            continue  # also offered by a worker environment: the hub uses the first (local) one
        if row["status"] != "ok":
            unavailable[row["name"]] = f"{row['status']}: {row['reason']}"
        elif set(row["directions"]) >= {"to-ir", "from-ir"}:
            rows[row["name"]] = row
            unavailable.pop(row["name"], None)
    if only is not None:
        for name in set(only) - set(rows) - set(unavailable):
            unavailable[name] = "not installed (not listed by nirhub list-backends)"
    return rows, unavailable


def interpreters(rows: dict) -> dict[str, str]:
    """The Python interpreter of each backend's environment."""
    envs = {}
    if any(r["location"] != "local" for r in rows.values()):
        code, data, err = cli("env", "list")
        if code != 0 or data is None:
            raise RuntimeError(f"nirhub env list failed ({code}): {err.strip()}")
        envs = {e["name"]: e["python"] for e in data["environments"]}
    found = {}
    for name, row in rows.items():
        loc = row["location"]
        found[name] = sys.executable if loc == "local" else envs.get(loc, loc)
    return found


def run_native(python: str, jobs: list[dict], folder: Path, tag: str) -> list[dict]:
    """Run framework jobs in ``python`` (``any_to_any_native.py``), one process for all."""
    if not jobs:
        return []
    jobs_file, results_file = folder / f"jobs-{tag}.json", folder / f"results-{tag}.json"
    jobs_file.write_text(json.dumps(jobs, indent=1), encoding="utf-8")
    proc = subprocess.run(
        [python, str(NATIVE), str(jobs_file), str(results_file)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        # the framework side must work without nirhub: keep it off the import path
        cwd=folder,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if proc.returncode != 0 or not results_file.exists():
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [{"ok": False, "error": f"{Path(python).name} crashed: {error}"} for _ in jobs]
    return json.loads(results_file.read_text(encoding="utf-8"))


def error_text(data: Any, stderr: str) -> str:
    """The message of a failed command (its JSON error, else its last stderr line)."""
    if isinstance(data, dict) and "error" in data:
        err = data["error"]
        problems = err.get("problems") or []
        if problems:
            # group the nodes that have the same reason: "1, 3: resets to v_reset, ..."
            by_message: dict[str, list[str]] = {}
            for p in problems:
                by_message.setdefault(p["message"], []).append(p["where"])
            return "; ".join(f"{', '.join(w)}: {m}" for m, w in by_message.items())
        return err.get("message", "").strip()
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


# --------------------------------------------------------------------------------------------
# the matrix
# --------------------------------------------------------------------------------------------


def torch_template(folder: Path, variant: str) -> str | None:
    """The ``torch`` backend's native model is its own NIRModel: write the architecture as its
    artifact (placeholder weights; ``any_to_any_native`` sets the real ones natively)."""
    import nirhub as nh
    from nirhub.ir.conventions import set_dt, set_method, set_reset

    n_in, n_hid, n_out = native.N_IN, native.N_HID, native.N_OUT

    def lif(n: int) -> Any:
        return nh.LIF(
            tau=np.full(n, native.TAU),
            r=np.full(n, native.TAU / DT),  # input gain 1, as the other frameworks' models
            v_leak=np.zeros(n),
            v_threshold=np.full(n, native.THRESHOLD),
            v_reset=np.zeros(n) if variant == "zero" else None,
        )

    graph = nh.Graph.from_list(
        nh.Affine(weight=np.zeros((n_hid, n_in)), bias=np.zeros(n_hid)),
        lif(n_hid),
        nh.Affine(weight=np.zeros((n_out, n_hid)), bias=np.zeros(n_out)),
        lif(n_out),
    )
    set_dt(graph.metadata, DT)
    set_method(graph.metadata, "euler")
    set_reset(graph.metadata, variant)
    folder.mkdir(parents=True, exist_ok=True)
    try:  # a setup step, not a conversion under test: the Python API saves a process
        nh.convert(graph, to="torch", output=folder / "net.py", force=True)
    except nh.NirhubError as exc:
        return str(exc)
    return None


class Progress:
    """One line per finished item, ``convert [12/96] norse -> snntorch (plain): converted,
    3.1 s``, so a long run shows where it is (the items finish in worker threads)."""

    def __init__(self, log: Callable[[str], None], phase: str, total: int) -> None:
        self.log, self.phase, self.total = log, phase, total
        self.done = 0
        self.lock = threading.Lock()

    def item(self, label: str, status: str, seconds: float) -> None:
        with self.lock:
            self.done += 1
            self.log(f"{self.phase} [{self.done}/{self.total}] {label}: {status}, {seconds:.1f} s")


def run_matrix(
    workdir: Path,
    *,
    only: Iterable[str] | None = None,
    jobs: int = 2,
    log: Callable[[str], None] = lambda s: None,
) -> Matrix:
    """Run the whole matrix in ``workdir`` (see the module docstring)."""
    start = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    rows, unavailable = discover(None if only is None else set(only))
    names = sorted(rows)
    pythons = interpreters(rows)
    where = [f"{n} ({rows[n]['location']})" for n in names]
    log(f"backends: {', '.join(where)}")

    rng = np.random.default_rng(SEED)
    x = (rng.random((STEPS, BATCH, native.N_IN)) < INPUT_RATE).astype(np.float32)
    x_path = workdir / "input.npy"
    np.save(x_path, x)
    weights_path = workdir / "weights.npz"
    n_in, n_hid, n_out = native.N_IN, native.N_HID, native.N_OUT
    np.savez(
        weights_path,
        w1=(rng.standard_normal((n_hid, n_in)) * native.W1_SCALE).astype(np.float32),
        b1=(rng.standard_normal(n_hid) * native.B1_SCALE).astype(np.float32),
        w2=(rng.standard_normal((n_out, n_hid)) * native.W2_SCALE).astype(np.float32),
        b2=(rng.standard_normal(n_out) * native.B2_SCALE).astype(np.float32),
    )

    # 1. native models, all variants, one process per environment
    natives: dict[str, dict[str, str | None]] = {n: {} for n in names}
    sources: dict[tuple[str, str], dict] = {}
    by_python: dict[str, list[dict]] = {}
    for name in names:
        for variant in VARIANTS:
            folder = workdir / "sources" / f"{name}-{variant}"
            if name == "torch":
                problem = torch_template(folder, variant)
                if problem is not None:
                    natives[name][variant] = f"could not write the template: {problem}"
                    continue
            job = {
                "op": "build",
                "backend": name,
                "variant": variant,
                "dir": str(folder),
                "input": str(x_path),
                "dt": DT,
                "weights": str(weights_path),
            }
            by_python.setdefault(pythons[name], []).append(job)
    for i, (python, batch) in enumerate(by_python.items()):
        log(f"building native models in {python}")
        for job, res in zip(batch, run_native(python, batch, workdir, f"build{i}"), strict=True):
            key = (job["backend"], job["variant"])
            if not res.get("ok"):
                natives[key[0]][key[1]] = f"native build failed: {res.get('error')}"
            elif not res["expressible"]:
                natives[key[0]][key[1]] = res["reason"]
            else:
                natives[key[0]][key[1]] = None
                sources[key] = {**res, "dir": Path(job["dir"])}

    # 2. convert with the command line, every variant the source built
    cells = {(a, b): Cell(a, b) for a in names for b in names}
    for cell in cells.values():
        cell.attempts = [Attempt(v) for v in VARIANTS if (cell.source, v) in sources]
        if not cell.attempts:
            cell.problem = f"{cell.source} could not build the model: " + "; ".join(
                f"{v}: {r}" for v, r in natives[cell.source].items()
            )
    attempts = [(c, t) for c in cells.values() for t in c.attempts]

    def folder(cell: Cell, attempt: Attempt) -> Path:
        path = workdir / "out" / f"{cell.source}-to-{cell.target}-{attempt.variant}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def convert(item: tuple[Cell, Attempt]) -> None:
        cell, attempt = item
        t0 = time.monotonic()
        src = sources[(cell.source, attempt.variant)]
        attempt.spikes = src["spikes"]
        out = folder(cell, attempt) / "model.py"
        args = ["convert", src["source"], "--from", cell.source, "--to", cell.target]
        args += ["--dt", repr(DT), "-o", str(out), "--force"]
        if src["weights"]:
            args += ["--weights", src["weights"]]
        code, data, err = cli(*args)
        if code == 4 and STRICT in error_text(data, err):
            # the target cannot test v >= thr; the refusal names the export option that
            # records NIR's v > thr: a user's next step, so the matrix takes it too
            attempt.options = [STRICT]
            code, data, err = cli(*args, "-O", STRICT)
        if code == 0:
            attempt.artifact = out
        elif code == 4:  # UnsupportedError: the target cannot express this model
            attempt.status = "refused"
            attempt.reasons.append(error_text(data, err))
        else:
            attempt.reasons.append(f"nirhub convert exited {code}: {error_text(data, err)}")
        seconds = time.monotonic() - t0
        cell.seconds += seconds
        status = "converted" if code == 0 else "refused" if code == 4 else f"exit {code}"
        converting.item(f"{cell.source} -> {cell.target} ({attempt.variant})", status, seconds)

    log(f"converting {len(attempts)} models ({len(cells)} pairs)")
    converting = Progress(log, "convert", len(attempts))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(guarded(convert, "converting"), attempts))
    converted = [(c, t) for c, t in attempts if t.artifact is not None]

    # 3. load the artifacts without nirhub, in each target's environment
    by_python = {}
    for i, (cell, attempt) in enumerate(converted):
        assert attempt.artifact is not None
        job = {
            "op": "run-artifact",
            "backend": cell.target,
            "artifact": str(attempt.artifact),
            "input": str(x_path),
            "output": str(attempt.artifact.with_name("artifact-spikes.npy")),
            "index": i,
        }
        by_python.setdefault(pythons[cell.target], []).append(job)

    def load(item: tuple[int, tuple[str, list[dict]]]) -> None:
        i, (python, batch) = item
        t0 = time.monotonic()
        for job, res in zip(batch, run_native(python, batch, workdir, f"art{i}"), strict=True):
            cell, attempt = converted[job["index"]]
            if not res.get("ok"):
                attempt.reasons.append(f"the artifact did not run: {res.get('error')}")
                continue
            try:
                got = np.load(job["output"]).astype(bool)
                attempt.artifact_diff = differing(got, sources[(cell.source, attempt.variant)])
            except (OSError, ValueError) as exc:
                attempt.reasons.append(f"the artifact's output: {exc}")
        loading.item(f"{len(batch)} artifacts in {python}", "done", time.monotonic() - t0)

    log(f"running {len(converted)} artifacts")
    loading = Progress(log, "artifacts", len(by_python))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(load, enumerate(by_python.items())))

    # 4. the target's run hook through `nirhub simulate`
    def simulate(item: tuple[Cell, Attempt]) -> None:
        cell, attempt = item
        t0 = time.monotonic()
        src = sources[(cell.source, attempt.variant)]
        out = folder(cell, attempt) / "simulate.npz"
        args = ["simulate", src["source"], "--from", cell.source, "--backend", cell.target]
        args += ["--dt", repr(DT), "-i", str(x_path), "-o", str(out), "--force"]
        if src["weights"]:
            args += ["--weights", src["weights"]]
        for option in attempt.options:
            args += ["-O", option]
        code, data, err = cli(*args)
        if code != 0:
            attempt.reasons.append(f"nirhub simulate exited {code}: {error_text(data, err)}")
        else:
            with np.load(out) as result:  # one array per Output node; the model has one
                (key,) = result.keys()
                got = result[key] > 0
            attempt.simulate_diff = differing(got, src)
        seconds = time.monotonic() - t0
        cell.seconds += seconds
        status = f"exit {code}" if code != 0 else f"{attempt.simulate_diff} differing cells"
        running.item(f"{cell.source} -> {cell.target} ({attempt.variant})", status, seconds)

    log(f"running {len(converted)} run hooks")
    running = Progress(log, "simulate", len(converted))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(guarded(simulate, "simulating"), converted))

    total = STEPS * BATCH * native.N_OUT
    for cell, attempt in converted:
        diffs = (("artifact", attempt.artifact_diff), ("run hook", attempt.simulate_diff))
        for what, diff in diffs:
            if diff:
                attempt.reasons.append(
                    f"the {what} differs from {cell.source}'s own model in {diff} of {total} "
                    "output cells"
                )
        ok = attempt.artifact_diff == 0 and attempt.simulate_diff == 0 and not attempt.reasons
        attempt.status = "pass" if ok else "fail"

    import nirhub

    return Matrix(
        backends=names,
        cells=cells,
        versions={n: rows[n]["version"] for n in names},
        locations={n: rows[n]["location"] for n in names},
        natives=natives,
        unavailable=unavailable,
        date=datetime.date.today().isoformat(),
        python=platform.python_version(),
        nirhub_version=nirhub.__version__,
        seconds=time.monotonic() - start,
    )


def guarded(step: Callable[[Any], None], what: str) -> Callable[[Any], None]:
    """``step`` for one item of a pool; an unexpected exception fails that item only."""

    def run(item: Any) -> None:
        try:
            step(item)
        except Exception as exc:  # noqa: BLE001 - recorded as the attempt's failure
            attempts = [item[1]] if isinstance(item, tuple) and isinstance(item[1], Attempt) else []
            for attempt in attempts:
                attempt.reasons.append(f"{what} failed: {type(exc).__name__}: {exc}")
            if not attempts:
                raise

    return run


def differing(got: np.ndarray, source: dict) -> int:
    want = np.load(source["dir"] / "native.npy").astype(bool)
    if got.shape != want.shape:
        raise ValueError(f"output shape {got.shape}, expected {want.shape}")
    return int((got != want).sum())


# --------------------------------------------------------------------------------------------
# the document
# --------------------------------------------------------------------------------------------

HEADER = """# Any-to-any conversion matrix

<!-- Generated by `python tools/any_to_any.py`; do not edit by hand. The nox session
     `cross-backend` reruns it (tests/test_any_to_any.py) and fails when a cell's result
     differs from this file. -->

Every simulator backend converted to every other one, for real. For each ordered pair
(source A, target B):

1. a small network — `Linear 8→16`, LIF, `Linear 16→4`, LIF (τ = {tau_ms:g} ms, threshold
   {thr:g}, random weights) — is **built natively in framework A** with its own modules
   ([`tools/any_to_any_native.py`](../tools/any_to_any_native.py)), saved as a model source
   (`model.py:build` + `--weights` state dict; for `torch` the backend's own `net.py` + `net.pt`)
   and run by A on a random spike input ({steps} steps, batch {batch}, p = {rate:g});
2. `nirhub convert SOURCE --from A --to B --dt {dt:g} -o OUT.py` writes B's artifact;
3. the artifact is loaded in B **without nirhub** (`import OUT; OUT.build_model()`, weights
   read with `torch.load(weights_only=True)`) and run on the same input;
4. `nirhub simulate SOURCE --from A --backend B` runs B's run hook on the same input.

The model is built in every reset mode A's modules can express: **Z** `zero`, **S**
`subtract`, **D** `subtract-delayed` and **G** `subtract-guarded` (snnTorch's two
subtractions, see [simulator.md](simulator.md)). A cell lists each mode under its result:
**pass** — the artifact and the run hook both spike exactly like A's own model (0 differing
cells of the {cells} output cells); **refused** — B's `UnsupportedError` (the reasons are in the
table below): B cannot express that model, and nirhub says so instead of converting it
approximately; **FAIL** — anything else (an error, an artifact that does not load, one differing
spike). A `*` marks a model converted with `-O threshold=strict`: Sinabs and Rockpool neurons
spike at `v >= threshold`, which their exports record; a target that can only test NIR's
`v > threshold` refuses, naming that option, and the matrix then converts with it (the models
can then differ only where v lands exactly on the threshold — checked as always: 0 differing
cells).
"""


def render(m: Matrix) -> str:
    out = [
        HEADER.format(
            tau_ms=native.TAU * 1e3,
            thr=native.THRESHOLD,
            steps=STEPS,
            batch=BATCH,
            rate=INPUT_RATE,
            dt=DT,
            cells=STEPS * BATCH * native.N_OUT,
        )
    ]
    versions = ", ".join(
        f"{n} {m.versions[n] or '?'}"
        + ("" if m.locations[n] == "local" else f" (worker environment {m.locations[n]})")
        for n in m.backends
    )
    out.append(
        f"Last run: {m.date}, nirhub {m.nirhub_version}, Python {m.python}; {versions}. "
        f"{len(m.cells)} pairs in {m.seconds / 60:.0f} min."
    )
    counts = {s: sum(c.status == s for c in m.cells.values()) for s in STATUSES}
    models = [t for c in m.cells.values() for t in c.attempts]
    by_model = {s: sum(t.status == s for t in models) for s in STATUSES}
    out.append(
        f"Result: {counts['pass']} pairs pass, {counts['refused']} refused, {counts['fail']} "
        f"FAIL; of the {len(models)} models converted, {by_model['pass']} spike exactly like "
        f"their source, {by_model['refused']} were refused, {by_model['fail']} FAIL.\n"
    )
    out.append("| source ↓ · target → | " + " | ".join(m.backends) + " |")
    out.append("|---" * (len(m.backends) + 1) + "|")
    for a in m.backends:
        row = [m.cells[(a, b)].label for b in m.backends]
        out.append(f"| **{a}** | " + " | ".join(row) + " |")
    out.append("\n## Native models\n")
    out.append("Which reset modes each framework's own modules can build (the source side):\n")
    out.append("| framework | " + " | ".join(f"`{v}`" for v in VARIANTS) + " |")
    out.append("|---" * (len(VARIANTS) + 1) + "|")
    notes = []
    for a in m.backends:
        row = []
        for v in VARIANTS:
            reason = m.natives[a].get(v)
            if reason is None:
                row.append("yes")
            else:
                if reason not in notes:
                    notes.append(reason)
                row.append(f"no [{notes.index(reason) + 1}]")
        out.append(f"| {a} | " + " | ".join(row) + " |")
    out.append("")
    out += [f"[{i}] {r}  " for i, r in enumerate(notes, 1)]
    out.append("\n## Cells\n")
    out.append(
        "Every model converted: the spikes of A's own model, the differing output cells of B's "
        "artifact and of B's run hook (Δ), and why a conversion was refused or failed.\n"
    )
    out.append(
        "| source | target | model | result | spikes of A | Δ artifact | Δ run hook | reasons |"
    )
    out.append("|---|---|---|---|---:|---:|---:|---|")
    for (a, b), c in m.cells.items():
        if c.problem or not c.attempts:
            out.append(f"| {a} | {b} | – | FAIL | – | – | – | {_cell_text([c.problem or ''])} |")
        for t in c.attempts:
            result = "FAIL" if t.status == "fail" else t.status
            model = f"`{t.variant}`" + "".join(f" `-O {o}`" for o in t.options)
            out.append(
                f"| {a} | {b} | {model} | {result} | {_num(t.spikes)} | "
                f"{_num(t.artifact_diff)} | {_num(t.simulate_diff)} | {_cell_text(t.reasons)} |"
            )
    if m.unavailable:
        out.append("\n## Not in the matrix\n")
        out += [f"* `{n}`: {r}" for n, r in sorted(m.unavailable.items())]
    return "\n".join(out) + "\n"


def _cell_text(reasons: list[str]) -> str:
    text = " ".join(r if r.endswith(".") else f"{r}." for r in reasons if r)
    return text.replace("|", "\\|").replace("\n", " ")


def _num(value: int | None) -> str:
    return "–" if value is None else str(value)


_ROW = re.compile(r"^\| \*\*(?P<source>[\w.-]+)\*\* \| (?P<cells>.*) \|$")
_HEAD = re.compile(r"^\| source ↓ · target → \| (?P<names>.*) \|$")
_GROUP = re.compile(r"^(?P<word>pass|refused|FAIL): (?P<codes>[A-Z]\*?(?:, [A-Z]\*?)*)$")


def parse(text: str) -> dict[tuple[str, str, str], str]:
    """(source, target, variant) -> pass | refused | fail, from a rendered matrix."""
    variants = {code: v for v, code in CODES.items()}
    names: list[str] = []
    found = {}
    for line in text.splitlines():
        head = _HEAD.match(line)
        if head:
            names = [n.strip() for n in head["names"].split("|")]
            continue
        row = _ROW.match(line)
        if not (row and names):
            continue
        labels = [c.strip() for c in row["cells"].split("|")]
        for target, label in zip(names, labels, strict=True):
            key = (row["source"], target)
            if label == "FAIL":
                found[(*key, "*")] = "fail"
                continue
            for group in label.split("; "):
                match = _GROUP.match(group)
                if match is None:
                    raise ValueError(f"cannot read the cell {label!r} ({key[0]} -> {key[1]})")
                status = "fail" if match["word"] == "FAIL" else match["word"]
                for code in match["codes"].split(", "):
                    found[(*key, variants[code.rstrip("*")])] = status
    return found


def compare(committed: str, m: Matrix) -> list[str]:
    """Every model whose result differs from the committed document, and missing ones."""
    old = parse(committed)
    new = m.statuses()
    problems = []
    for key in sorted(set(old) | set(new)):
        what = f"{key[0]} -> {key[1]} ({key[2]})"
        if key not in new:
            problems.append(f"{what}: {old[key]} in the document, not tried in this run")
        elif key not in old:
            problems.append(f"{what}: {new[key]} in this run, not in the document")
        elif old[key] != new[key]:
            problems.append(f"{what}: {old[key]} in the document, {new[key]} in this run")
    return problems


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", help="comma-separated backends (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="commands run at once (default 2)")
    parser.add_argument("--keep", type=Path, help="working folder to keep (default: temporary)")
    parser.add_argument("--output", type=Path, default=DOC, help="document to write")
    parser.add_argument(
        "--check", action="store_true", help="compare with the document instead of writing it"
    )
    args = parser.parse_args(argv)
    only = args.backends.split(",") if args.backends else None
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="nirhub-any-to-any-"))
    try:
        m = run_matrix(workdir, only=only, jobs=args.jobs, log=lambda s: print(s, file=sys.stderr))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for c in m.cells.values():
        if c.problem:
            print(f"FAIL {c.source} -> {c.target}: {c.problem}", file=sys.stderr)
        for t in c.attempts:
            if t.status == "fail":
                why = " ".join(t.reasons)
                print(f"FAIL {c.source} -> {c.target} ({t.variant}): {why}", file=sys.stderr)
    if args.check:
        problems = compare(args.output.read_text(encoding="utf-8"), m)
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems or m.unavailable else 0
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(render(m), encoding="utf-8")
    os.replace(tmp, args.output)
    print(args.output)
    return 1 if any(c.status == "fail" for c in m.cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
