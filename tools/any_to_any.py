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
from fractions import Fraction
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

STATUSES = ("pass", "approx", "refused", "fail")
#: the float model of the main table; the quantized models follow
FLOAT_MODEL = "lif"


@dataclass(frozen=True)
class QuantizedModel:
    """A quantized network as hardware users deploy it: ``Linear 8 -> 16``, neuron,
    ``Linear 16 -> 4``, neuron, no biases, weights drawn from ``weights`` (exact in binary),
    binary input spikes. ``beta`` is the decay per step (1: IF), exact in binary."""

    name: str
    title: str
    neuron: str  # "if" | "lif" | "cubalif"
    thresholds: tuple[float, float]
    beta: float
    weights: tuple[float, ...]
    #: the only targets of its NIR graph (None: every target) and whether frameworks build it
    #: natively: a model that checks one target's arithmetic keeps the matrix lean
    targets: tuple[str, ...] | None = None
    natives: bool = True

    def spec(self) -> dict[str, Any]:
        """What ``any_to_any_native`` needs to build it."""
        return {
            "name": self.name,
            "title": self.title,
            "neuron": self.neuron,
            "thresholds": list(self.thresholds),
            "beta": self.beta,
            "dt": QDT,
        }


#: the quantized models: an integer-weight IF network (thresholds 2 and 3: what Speck and Loihi
#: users deploy), a dyadic LIF (weights k/4, decay 7/8 per step: dt/tau = 1/8) and a dyadic
#: CubaLIF (synapse and membrane decay 7/8: what Xylo users deploy; Xylo's arithmetic is what
#: it checks, so it goes to Xylo and to one simulator only)
QUANTIZED = (
    QuantizedModel("int-if", "Integer-weight IF", "if", (2.0, 3.0), 1.0, (-1, 0, 1, 1, 2)),
    QuantizedModel(
        "dyadic-lif", "Dyadic LIF", "lif", (1.0, 1.0), 0.875, (-0.5, -0.25, 0, 0.25, 0.5, 0.75)
    ),
    QuantizedModel(
        "dyadic-cubalif",
        "Dyadic CubaLIF",
        "cubalif",
        (8.0, 8.0),
        0.875,
        (-0.5, -0.25, 0, 0.25, 0.5, 0.75),
        targets=("torch", "xylo"),
        natives=False,
    ),
)
MODELS = (FLOAT_MODEL, *(q.name for q in QUANTIZED))
#: a power of two (s), so that dt/tau and the IF's dt * r = 1 are exact in binary
QDT = 2.0**-10
QSTEPS = 50
#: reset modes of the quantized models (the ones hardware has: Loihi resets to zero, Speck and
#: Xylo subtract)
QVARIANTS = ("zero", "subtract")
#: the source that every target takes: the quantized graph written with ``nir.write``
NIR_SOURCE = "nir"
#: the backend kinds quantized models also go to
QKINDS = ("simulator", "hardware")
#: the export option that records NIR's ``v > thr`` instead of Sinabs'/Rockpool's ``v >= thr``
STRICT = "threshold=strict"
#: options a refusal may name as the user's next step, which the matrix then takes (marked
#: ``*``): the strict threshold test, and Xylo's shortest synapse for a plain LIF (an explicit
#: approximation: its conversion prints the measured similarity)
NEXT_STEPS = (STRICT, "lif=synapse")


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
    #: extra ``-O`` options of the conversion (``NEXT_STEPS``): e.g. ``threshold=strict`` when
    #: the target refused the source's recorded ``v >= thr`` test (Sinabs, Rockpool) and said so
    options: list[str] = field(default_factory=list)
    #: warnings of ``nirhub convert`` and ``nirhub simulate`` (a differing model passes as
    #: ``approx`` only when one of them names the measured effect)
    warnings: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        """The variant's letter, with ``*`` when an option the refusal named was taken."""
        return CODES[self.variant] + ("*" if self.options else "")


@dataclass
class Cell:
    """One (source, target) pair: every variant the source can build."""

    source: str
    target: str
    model: str = FLOAT_MODEL
    attempts: list[Attempt] = field(default_factory=list)
    #: try the variants in order and keep the first the target converts (the others are not
    #: tried: a quantized NIR graph on a simulator, to keep the matrix lean)
    first_accepted: bool = False
    #: a problem before any variant could be tried
    problem: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        found = {a.status for a in self.attempts}
        if self.problem or not self.attempts or "fail" in found:
            return "fail"
        return next(s for s in ("pass", "approx", "refused") if s in found)

    @property
    def label(self) -> str:
        """The text of the matrix cell: variants grouped by result, e.g. ``pass: Z, S;
        refused: D``."""
        if self.problem or not self.attempts:
            return "FAIL"
        groups = []
        for status, word in (
            ("fail", "FAIL"),
            ("pass", "pass"),
            ("approx", "approx"),
            ("refused", "refused"),
        ):
            codes = [a.code for a in self.attempts if a.status == status]
            if codes:
                groups.append(f"{word}: {', '.join(codes)}")
        return "; ".join(groups)


@dataclass
class Matrix:
    #: the simulator backends (sources and targets of the float model)
    backends: list[str]
    #: (model, source, target) -> cell
    cells: dict[tuple[str, str, str], Cell]
    #: name -> framework version, location (hardware targets included)
    versions: dict[str, str]
    locations: dict[str, str]
    #: model -> backend -> variant -> None (built) or the reason it cannot be built
    natives: dict[str, dict[str, dict[str, str | None]]]
    #: installed backends that could not take part, with the reason
    unavailable: dict[str, str]
    date: str
    python: str
    nirhub_version: str
    seconds: float
    #: the models run (the document keeps the others' sections as they were)
    models: tuple[str, ...] = MODELS
    #: the targets of the quantized models: simulators and hardware
    targets: list[str] = field(default_factory=list)

    def statuses(self) -> dict[tuple[str, str, str, str], str]:
        """(model, source, target, variant) -> pass | approx | refused | fail; variant "*" for
        a cell that failed before trying any."""
        found = {}
        for (model, a, b), c in self.cells.items():
            if c.problem or not c.attempts:
                found[(model, a, b, "*")] = "fail"
            for t in c.attempts:
                found[(model, a, b, t.variant)] = t.status
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


def discover(
    only: Iterable[str] | None = None, kinds: tuple[str, ...] = KINDS
) -> tuple[dict, dict[str, str]]:
    """Backends of ``kinds`` that read NIR (simulators: both directions): name -> row of
    ``list-backends --json``; and the ones that are installed but not usable, with the
    reason."""
    code, data, err = cli("list-backends")
    if code != 0 or data is None:
        raise RuntimeError(f"nirhub list-backends failed ({code}): {err.strip()}")
    rows, unavailable = {}, {}
    for row in data["backends"]:
        if row["kind"] not in kinds and row["status"] == "ok":
            continue
        if only is not None and row["name"] not in only:
            continue
        if row["name"] in rows:
            continue  # also offered by a worker environment: the hub uses the first (local) one
        if row["status"] != "ok":
            unavailable[row["name"]] = f"{row['status']}: {row['reason']}"
        elif set(row["directions"]) >= (
            {"to-ir", "from-ir"} if row["kind"] == "simulator" else {"from-ir"}
        ):
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


def float_inputs(workdir: Path) -> tuple[Path, Path]:
    """The float model's input spikes and weights (drawn once, the same for every framework)."""
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
    return x_path, weights_path


def quantized_inputs(q: QuantizedModel, workdir: Path) -> tuple[Path, Path]:
    """A quantized model's binary input spikes and weights (drawn from ``q.weights``)."""
    rng = np.random.default_rng([SEED, MODELS.index(q.name)])
    x = (rng.random((QSTEPS, BATCH, native.N_IN)) < INPUT_RATE).astype(np.float32)
    x_path = workdir / f"input-{q.name}.npy"
    np.save(x_path, x)
    weights_path = workdir / f"weights-{q.name}.npz"
    values = np.asarray(q.weights, dtype=np.float32)
    np.savez(
        weights_path,
        w1=rng.choice(values, (native.N_HID, native.N_IN)),
        w2=rng.choice(values, (native.N_OUT, native.N_HID)),
    )
    return x_path, weights_path


def write_nir_source(path: Path, q: QuantizedModel, variant: str, weights: Path) -> None:
    """The quantized model as a plain NIR graph written with ``nir`` itself (``nir.write``), as
    a user of the ``nir`` package writes one: ``v_reset`` 0; a subtracting reset is recorded
    in the metadata, as nirhub's exports do (NIR has no field for it)."""
    import nir

    with np.load(weights) as w:
        w1, w2 = w["w1"], w["w2"]

    def neuron(n: int, threshold: float) -> Any:
        thr, zero = np.full(n, threshold), np.zeros(n)
        if q.neuron == "if":  # v += dt * r * x: a unit gain
            return nir.IF(r=np.full(n, 1.0 / QDT), v_threshold=thr, v_reset=zero)
        tau = QDT / (1.0 - q.beta)  # Euler: v <- (1 - dt/tau) v + (dt/tau) r x
        if q.neuron == "cubalif":  # I <- beta I + W s, v <- beta v + I (unit gains)
            gain = np.full(n, tau / QDT)
            return nir.CubaLIF(
                tau_syn=np.full(n, tau),
                tau_mem=np.full(n, tau),
                r=gain,
                v_leak=zero,
                v_threshold=thr,
                v_reset=zero,
                w_in=gain,
            )
        return nir.LIF(
            tau=np.full(n, tau), r=np.full(n, tau / QDT), v_leak=zero, v_threshold=thr, v_reset=zero
        )

    graph = nir.NIRGraph.from_list(
        nir.Input(np.array([native.N_IN])),
        nir.Linear(w1),
        neuron(native.N_HID, q.thresholds[0]),
        nir.Linear(w2),
        neuron(native.N_OUT, q.thresholds[1]),
        nir.Output(np.array([native.N_OUT])),
    )
    if variant != "zero":
        graph.metadata = {"nirhub": {"reset": variant}}
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(str(path), graph)


def exact_spikes(
    q: QuantizedModel,
    weights: Path,
    x: np.ndarray,
    variant: str,
    *,
    fire_at_threshold: bool = False,
) -> np.ndarray:
    """What the NIR graph means, in exact rational arithmetic (no float rounding at all):
    ``v <- beta v + W s`` (Euler, unit gain; a CubaLIF: ``I <- beta I + W s``, ``v <- beta v
    + I``), a spike where ``v > threshold`` (``>=`` with ``fire_at_threshold``: Sinabs' and
    Speck's test), then reset to 0 or subtract the threshold, both layers in the same step.
    (T, B, 4) uint8."""
    with np.load(weights) as w:
        layers = [
            ([[Fraction(float(v)) for v in row] for row in w[key]], Fraction(thr))
            for key, thr in (("w1", q.thresholds[0]), ("w2", q.thresholds[1]))
        ]
    beta = Fraction(q.beta)
    steps, batch = x.shape[:2]
    out = np.zeros((steps, batch, native.N_OUT), dtype=np.uint8)
    for b in range(batch):
        state = [[Fraction(0)] * len(weight) for weight, _ in layers]
        current = [[Fraction(0)] * len(weight) for weight, _ in layers]
        for t in range(steps):
            spikes = [bool(s) for s in x[t, b]]
            for k, (weight, thr) in enumerate(layers):
                drive = [
                    sum((wi for wi, s in zip(row, spikes, strict=True) if s), Fraction(0))
                    for row in weight
                ]
                if q.neuron == "cubalif":
                    current[k] = [beta * i + d for i, d in zip(current[k], drive, strict=True)]
                    drive = current[k]
                v = [beta * v0 + d for v0, d in zip(state[k], drive, strict=True)]
                spikes = [vi > thr or (fire_at_threshold and vi == thr) for vi in v]
                after = [Fraction(0) if variant == "zero" else vi - thr for vi in v]
                state[k] = [a if s else vi for vi, a, s in zip(v, after, spikes, strict=True)]
            out[t, b] = spikes
    return out


#: a warning that names the measured effect of an approximation ("566 of 3200 cells",
#: "similarity 0.99"): a differing model with such a warning is an explicit approximation
MEASURED = re.compile(r"\b\d+ of \d+ (?:\w+ )?cells\b|\bsimilarity \d")


def warned(warnings: list[str]) -> bool:
    return any(MEASURED.search(w) for w in warnings)


#: where each framework's own quantized models are deployed (Sinabs to Speck, Lava to Loihi 2,
#: snnTorch and Norse to Xylo and SpiNNaker2): the native sources go there only — every
#: target's arithmetic is checked by the NIR graph, and the matrix stays lean
DEPLOYMENTS = {
    "sinabs": ("speck",),
    "lava": ("loihi2",),
    "snntorch": ("xylo", "spinnaker2"),
    "norse": ("spinnaker2",),
}


def quantized_targets(source: str, targets: list[str], hardware: list[str]) -> list[str]:
    """The NIR graph goes to every target; a framework's own quantized model to the hardware
    its users deploy it on (``DEPLOYMENTS``)."""
    if source == NIR_SOURCE:
        return targets
    return [t for t in hardware if t in DEPLOYMENTS.get(source, ())]


def run_matrix(
    workdir: Path,
    *,
    only: Iterable[str] | None = None,
    jobs: int = 2,
    log: Callable[[str], None] = lambda s: None,
    models: Iterable[str] = MODELS,
) -> Matrix:
    """Run the matrix in ``workdir`` (see the module docstring): the float model between the
    simulators, the quantized models from the NIR graph to every target and from each
    framework's own model to the hardware."""
    start = time.monotonic()
    models = tuple(m for m in MODELS if m in set(models))
    quantized = [q for q in QUANTIZED if q.name in models]
    workdir.mkdir(parents=True, exist_ok=True)
    kinds = QKINDS if quantized else KINDS
    rows, unavailable = discover(None if only is None else set(only), kinds)
    names = sorted(n for n, r in rows.items() if r["kind"] == "simulator")
    hardware = sorted(n for n, r in rows.items() if r["kind"] != "simulator")
    targets = names + hardware
    pythons = interpreters(rows)
    where = [f"{n} ({rows[n]['location']})" for n in targets]
    log(f"backends: {', '.join(where)}")

    # 1. sources: native models (all models and variants, one process per environment) and
    #    the quantized NIR graphs
    natives: dict[str, dict[str, dict[str, str | None]]] = {
        model: {n: {} for n in names} for model in models
    }
    sources: dict[tuple[str, str, str], dict] = {}
    by_python: dict[str, list[dict]] = {}

    def add_job(model: str, name: str, variant: str, folder: Path, **job: Any) -> None:
        job.update(op="build", backend=name, variant=variant, dir=str(folder), model=model)
        by_python.setdefault(pythons[name], []).append(job)

    if FLOAT_MODEL in models:
        x_path, weights_path = float_inputs(workdir)
        for name in names:
            for variant in VARIANTS:
                folder = workdir / "sources" / f"{name}-{variant}"
                if name == "torch":
                    problem = torch_template(folder, variant)
                    if problem is not None:
                        reason = f"could not write the template: {problem}"
                        natives[FLOAT_MODEL][name][variant] = reason
                        continue
                common = {"input": str(x_path), "dt": DT, "weights": str(weights_path)}
                add_job(FLOAT_MODEL, name, variant, folder, **common)
    for q in quantized:
        x_path, weights_path = quantized_inputs(q, workdir)
        x = np.load(x_path)
        for variant in QVARIANTS:
            folder = workdir / "sources" / f"{q.name}-nir-{variant}"
            graph = folder / "model.nir"
            write_nir_source(graph, q, variant, weights_path)
            spikes = exact_spikes(q, weights_path, x, variant)
            np.save(folder / "native.npy", spikes)
            sources[(q.name, NIR_SOURCE, variant)] = {
                "source": str(graph),
                "weights": None,
                "spikes": int(spikes.sum()),
                "dir": folder,
            }
        for name in names:
            for variant in QVARIANTS:
                if name == "torch":  # its model *is* a NIR graph: the nir source covers it
                    natives[q.name][name][variant] = "torch's model is the NIR graph (see nir)"
                    continue
                if not q.natives:
                    natives[q.name][name][variant] = (
                        "not built: this model checks the targets' arithmetic from its NIR graph"
                    )
                    continue
                folder = workdir / "sources" / f"{q.name}-{name}-{variant}"
                common = {"input": str(x_path), "dt": QDT, "weights": str(weights_path)}
                add_job(q.name, name, variant, folder, spec=q.spec(), **common)

    def build(item: tuple[int, tuple[str, list[dict]]]) -> list[tuple[dict, dict]]:
        i, (python, batch) = item
        t0 = time.monotonic()
        results = run_native(python, batch, workdir, f"build{i}")
        building.item(f"{len(batch)} models in {python}", "done", time.monotonic() - t0)
        return list(zip(batch, results, strict=True))

    building = Progress(log, "native models", len(by_python))
    with ThreadPoolExecutor(max(1, jobs)) as pool:  # one process per environment
        built = [r for rs in pool.map(build, enumerate(by_python.items())) for r in rs]
    for job, res in built:
        model, name, variant = job["model"], job["backend"], job["variant"]
        if not res.get("ok"):
            natives[model][name][variant] = f"native build failed: {res.get('error')}"
        elif not res["expressible"]:
            natives[model][name][variant] = res["reason"]
        else:
            natives[model][name][variant] = None
            sources[(model, name, variant)] = {**res, "dir": Path(job["dir"]), "from": name}
    inputs = {FLOAT_MODEL: (workdir / "input.npy", DT)}
    inputs.update({q.name: (workdir / f"input-{q.name}.npy", QDT) for q in quantized})

    # 2. convert with the command line, every variant the source built
    cells: dict[tuple[str, str, str], Cell] = {}
    if FLOAT_MODEL in models:
        for a in names:
            for b in names:
                cell = Cell(a, b, FLOAT_MODEL)
                cell.attempts = [Attempt(v) for v in VARIANTS if (FLOAT_MODEL, a, v) in sources]
                if not cell.attempts:
                    cell.problem = f"{a} could not build the model: " + "; ".join(
                        f"{v}: {r}" for v, r in natives[FLOAT_MODEL][a].items()
                    )
                cells[(FLOAT_MODEL, a, b)] = cell
    for q in quantized:
        for a in [NIR_SOURCE, *names]:
            built = [v for v in QVARIANTS if (q.name, a, v) in sources]
            if not built:
                continue  # the native-models table says why
            for b in quantized_targets(a, targets, hardware):
                if q.targets is not None and b not in q.targets:
                    continue
                cell = Cell(a, b, q.name, attempts=[Attempt(v) for v in built])
                cell.first_accepted = b in names  # hardware: every reset mode it may have
                cells[(q.name, a, b)] = cell
    attempts = [(c, t) for c in cells.values() for t in c.attempts]
    #: what one worker thread converts in order: a cell's variants until one converts, or
    #: a single variant
    chains = [[(c, t) for t in c.attempts] for c in cells.values() if c.first_accepted]
    chains += [[(c, t)] for c, t in attempts if not c.first_accepted]

    def folder(cell: Cell, attempt: Attempt) -> Path:
        prefix = "" if cell.model == FLOAT_MODEL else f"{cell.model}-"
        path = workdir / "out" / f"{prefix}{cell.source}-to-{cell.target}-{attempt.variant}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def source_args(cell: Cell, attempt: Attempt) -> list[str]:
        """SOURCE [--from A] --dt DT [--weights W]: the model's part of both commands."""
        src = sources[(cell.model, cell.source, attempt.variant)]
        args = [src["source"]]
        if src.get("from"):
            args += ["--from", src["from"]]
        args += ["--dt", repr(inputs[cell.model][1])]
        if src["weights"]:
            args += ["--weights", src["weights"]]
        return args

    converted: list[tuple[Cell, Attempt]] = []

    def convert(item: tuple[Cell, Attempt]) -> None:
        cell, attempt = item
        t0 = time.monotonic()
        src = sources[(cell.model, cell.source, attempt.variant)]
        attempt.spikes = src["spikes"]
        out = folder(cell, attempt) / "model.py"
        args = ["convert", *source_args(cell, attempt), "--to", cell.target]
        args += ["-o", str(out), "--force"]
        code, data, err = cli(*args)
        while code == 4:
            # the refusal names an option (the export option that records NIR's v > thr,
            # Xylo's synapse for a LIF): a user's next step, so the matrix takes it too
            named = [o for o in NEXT_STEPS if o in error_text(data, err)]
            option = next((o for o in named if o not in attempt.options), None)
            if option is None:
                break
            attempt.options.append(option)
            code, data, err = cli(*args, *(a for o in attempt.options for a in ("-O", o)))
        if code == 0:
            attempt.warnings += (data or {}).get("warnings") or []
            if cell.target in names:  # hardware artifacts are not loaded (no chip here)
                attempt.artifact = out
            converted.append(item)
        elif code == 4:  # UnsupportedError: the target cannot express this model
            attempt.status = "refused"
            attempt.reasons.append(error_text(data, err))
        else:
            attempt.reasons.append(f"nirhub convert exited {code}: {error_text(data, err)}")
        seconds = time.monotonic() - t0
        cell.seconds += seconds
        status = "converted" if code == 0 else "refused" if code == 4 else f"exit {code}"
        converting.item(f"{label(cell, attempt)}", status, seconds)

    def convert_chain(chain: list[tuple[Cell, Attempt]]) -> None:
        for i, (cell, attempt) in enumerate(chain):
            guarded(convert, "converting")((cell, attempt))
            if cell.first_accepted and any(t is attempt for _, t in converted):
                # the first variant the target takes is its result; drop the untried ones
                cell.attempts = [t for _, t in chain[: i + 1]]
                break

    log(f"converting up to {len(attempts)} models ({len(cells)} pairs)")
    converting = Progress(log, "convert", len(attempts))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(convert_chain, chains))
    converted.sort(key=lambda item: attempts.index(item))

    # 3. load the artifacts without nirhub, in each target's environment (all models at once)
    by_python = {}
    for i, (cell, attempt) in enumerate(converted):
        if attempt.artifact is None:
            continue
        job = {
            "op": "run-artifact",
            "backend": cell.target,
            "artifact": str(attempt.artifact),
            "input": str(inputs[cell.model][0]),
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
                src = sources[(cell.model, cell.source, attempt.variant)]
                attempt.artifact_diff = differing(got, src)
            except (OSError, ValueError) as exc:
                attempt.reasons.append(f"the artifact's output: {exc}")
        loading.item(f"{len(batch)} artifacts in {python}", "done", time.monotonic() - t0)

    log(f"running {sum(t.artifact is not None for _, t in converted)} artifacts")
    loading = Progress(log, "artifacts", len(by_python))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(load, enumerate(by_python.items())))

    # 4. the target's run hook through `nirhub simulate`
    def simulate(item: tuple[Cell, Attempt]) -> None:
        cell, attempt = item
        t0 = time.monotonic()
        src = sources[(cell.model, cell.source, attempt.variant)]
        out = folder(cell, attempt) / "simulate.npz"
        args = ["simulate", *source_args(cell, attempt), "--backend", cell.target]
        args += ["-i", str(inputs[cell.model][0]), "-o", str(out), "--force"]
        for option in attempt.options:
            args += ["-O", option]
        code, data, err = cli(*args)
        if code != 0:
            attempt.reasons.append(f"nirhub simulate exited {code}: {error_text(data, err)}")
        else:
            attempt.warnings += [
                w for w in (data or {}).get("warnings") or [] if w not in attempt.warnings
            ]
            with np.load(out) as result:  # one array per Output node; the model has one
                (key,) = result.keys()
                got = result[key] > 0
            attempt.simulate_diff = differing(got, src)
        seconds = time.monotonic() - t0
        cell.seconds += seconds
        status = f"exit {code}" if code != 0 else f"{attempt.simulate_diff} differing cells"
        running.item(label(cell, attempt), status, seconds)

    log(f"running {len(converted)} run hooks")
    running = Progress(log, "simulate", len(converted))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(guarded(simulate, "simulating"), converted))

    for cell, attempt in converted:
        steps = STEPS if cell.model == FLOAT_MODEL else QSTEPS
        total = steps * BATCH * native.N_OUT
        broken = bool(attempt.reasons)
        on_chip = attempt.artifact is None  # hardware: the run hook only
        diffs = (("artifact", attempt.artifact_diff), ("run hook", attempt.simulate_diff))
        for what, diff in diffs:
            if diff:
                attempt.reasons.append(
                    f"the {what} differs from {cell.source}'s own model in {diff} of {total} "
                    "output cells"
                )
        ran = (on_chip or attempt.artifact_diff is not None) and attempt.simulate_diff is not None
        if broken or not ran:
            attempt.status = "fail"
        elif not attempt.artifact_diff and not attempt.simulate_diff:
            attempt.status = "pass"
        else:  # differs: an explicit approximation only when the conversion said so
            attempt.status = "approx" if warned(attempt.warnings) else "fail"
            if attempt.status == "fail":
                attempt.reasons.append("no warning of the conversion names this effect")

    import nirhub

    return Matrix(
        backends=names,
        cells=cells,
        versions={n: rows[n]["version"] for n in targets},
        locations={n: rows[n]["location"] for n in targets},
        natives=natives,
        unavailable=unavailable,
        date=datetime.date.today().isoformat(),
        python=platform.python_version(),
        nirhub_version=nirhub.__version__,
        seconds=time.monotonic() - start,
        models=models,
        targets=targets,
    )


def label(cell: Cell, attempt: Attempt) -> str:
    """``norse -> snntorch (zero)``, with the model when it is a quantized one."""
    model = "" if cell.model == FLOAT_MODEL else f"{cell.model}: "
    return f"{model}{cell.source} -> {cell.target} ({attempt.variant})"


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
cells of the {cells} output cells); **approx** — B spikes differently, and its conversion warned
with the measured effect (an explicit approximation); **refused** — B's `UnsupportedError` (the
reasons are in the table below): B cannot express that model, and nirhub says so instead of
converting it approximately; **FAIL** — anything else (an error, an artifact that does not load,
one differing spike that no warning announced). A `*` marks a model converted with an option
the refusal named: `-O threshold=strict` (Sinabs and Rockpool neurons spike at
`v >= threshold`, which their exports record; a target that can only test NIR's
`v > threshold` refuses, naming that option, and the matrix then converts with it: the models
can then differ only where v lands exactly on the threshold — which the quantized models below
make common) or `-O lif=synapse` (Xylo runs a plain LIF through its shortest synapse).

The quantized models (integer weights, dyadic decays) follow the float model's tables, with the
hardware backends as targets: see [Quantized models](#quantized-models).
"""


QUANTIZED_HEADER = """## Quantized models

Hardware users deploy quantized networks: integer weights and thresholds, binary input spikes,
decays that are powers of two. There every membrane potential is exact in binary and lands
*on* the threshold often, so a backend that tests `v >= threshold` instead of NIR's
`v > threshold`, or rescales the weights in a way that breaks their integer ratios, spikes
differently — where a float-weight network almost never does. Three such networks (`Linear
8→16`, neuron, `Linear 16→4`, neuron, no biases; dt = 2^-10 s; {steps} steps, batch {batch},
input p = {rate:g}):

* **`int-if`** — integer-weight IF: weights in {{−1, 0, 1, 2}}, thresholds 2 (hidden) and 3
  (output), `v ← v + W·s`;
* **`dyadic-lif`** — dyadic LIF: weights k/4 in [−0.5, 0.75], threshold 1, τ = 8·dt (Euler:
  `v ← 7/8·v + W·s`);
* **`dyadic-cubalif`** — dyadic CubaLIF, what Xylo users deploy: weights k/4 in [−0.5, 0.75],
  threshold 8, τ_syn = τ_mem = 8·dt, gains 8 (Euler: `I ← 7/8·I + W·s`, `v ← 7/8·v + I`);
  it checks Xylo's arithmetic (bit-shift decays of 7/8), so its NIR graph goes to `xylo` and
  to `torch` only, and no framework builds it natively (the matrix stays lean). See
  [Xylo: ties and integer arithmetic](backends/xylo.md#ties-and-integer-arithmetic).

Sources: the network as a **plain NIR graph written with `nir.write`** (row `nir`; reset to
zero, or subtract recorded in the `nirhub` metadata), whose spikes are computed by the matrix
in exact rational arithmetic — this source goes to **every** target: to each hardware backend
in both reset modes (through its run hook: no chip is needed), to each simulator in the first
mode it converts (zero, else subtract; the matrix stays lean); and the network built natively
where a framework has such neurons (snnTorch `Leaky` with β = 1 or 7/8, Sinabs `IAF`, Norse
`LIFBoxCell`, Lava `LIF` processes), converted to the hardware its users deploy it on (Sinabs
→ Speck, Lava → Loihi 2, snnTorch → Xylo and SpiNNaker2, Norse → SpiNNaker2). Each cell is
**pass** (0 differing cells, artifact and run hook), **approx** — the target spikes
differently and its conversion *warned* with the measured effect (`N of M cells`), an
explicit approximation —, **refused**, or **FAIL**: an error, or a differing model whose
conversion said nothing (silently different: a bug). `–`: not tried. Hardware targets are
checked through their run hooks only (`Δ artifact` is `–`).
"""

MODEL_TITLES = {q.name: q.title for q in QUANTIZED}


def render(m: Matrix, previous: str | None = None) -> str:
    """The document. Models not run in ``m`` keep their section of ``previous``."""
    old = sections(previous or "")
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
    for model in MODELS:
        if model == MODELS[1]:
            out.append(QUANTIZED_HEADER.format(steps=QSTEPS, batch=BATCH, rate=INPUT_RATE))
        if model in m.models:
            body = render_float(m) if model == FLOAT_MODEL else render_quantized(m, model)
            out.append(f"<!-- model: {model} -->\n{body.rstrip()}\n<!-- end model: {model} -->\n")
        elif model in old:
            out.append(old[model])
    return "\n".join(out).rstrip("\n") + "\n"


def sections(text: str) -> dict[str, str]:
    """model -> its section of a rendered document, markers included (a document from before
    the quantized models: its float section runs from ``Last run:`` to the end)."""
    found = {}
    for match in _SECTION.finditer(text):
        found[match["model"]] = match[0] + "\n"
    if not found and "\nLast run:" in text:
        body = text[text.index("\nLast run:") + 1 :].rstrip()
        found[FLOAT_MODEL] = f"<!-- model: {FLOAT_MODEL} -->\n{body}\n<!-- end model: lif -->\n"
    return found


_SECTION = re.compile(r"<!-- model: (?P<model>[\w-]+) -->\n.*?<!-- end model: (?P=model) -->", re.S)


def last_run(m: Matrix, names: list[str], pairs: int) -> str:
    versions = ", ".join(
        f"{n} {m.versions[n] or '?'}"
        + ("" if m.locations[n] == "local" else f" (worker environment {m.locations[n]})")
        for n in names
    )
    return (
        f"Last run: {m.date}, nirhub {m.nirhub_version}, Python {m.python}; {versions}. "
        f"{pairs} pairs in {m.seconds / 60:.0f} min."
    )


def result_line(cells: list[Cell]) -> str:
    counts = {s: sum(c.status == s for c in cells) for s in STATUSES}
    models = [t for c in cells for t in c.attempts]
    by_model = {s: sum(t.status == s for t in models) for s in STATUSES}
    return (
        f"Result: {counts['pass']} pairs pass, {counts['approx']} approx (warned), "
        f"{counts['refused']} refused, {counts['fail']} FAIL; of the {len(models)} models "
        f"converted, {by_model['pass']} spike exactly like their source, {by_model['approx']} "
        f"differ with a warning that measures it, {by_model['refused']} were refused, "
        f"{by_model['fail']} FAIL.\n"
    )


def matrix_table(m: Matrix, model: str, rows: list[str], columns: list[str]) -> list[str]:
    out = ["| source ↓ · target → | " + " | ".join(columns) + " |"]
    out.append("|---" * (len(columns) + 1) + "|")
    for a in rows:
        labels = [
            m.cells[(model, a, b)].label if (model, a, b) in m.cells else "–" for b in columns
        ]
        out.append(f"| **{a}** | " + " | ".join(labels) + " |")
    return out


def natives_table(m: Matrix, model: str, variants: tuple[str, ...]) -> list[str]:
    out = ["| framework | " + " | ".join(f"`{v}`" for v in variants) + " |"]
    out.append("|---" * (len(variants) + 1) + "|")
    notes: list[str] = []
    for a in m.backends:
        row = []
        for v in variants:
            reason = m.natives[model][a].get(v)
            if reason is None:
                row.append("yes")
            else:
                if reason not in notes:
                    notes.append(reason)
                row.append(f"no [{notes.index(reason) + 1}]")
        out.append(f"| {a} | " + " | ".join(row) + " |")
    out.append("")
    out += [f"[{i}] {r}  " for i, r in enumerate(notes, 1)]
    return out


def cells_table(m: Matrix, model: str) -> list[str]:
    out = [
        "| source | target | model | result | spikes of A | Δ artifact | Δ run hook | reasons |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for (cell_model, a, b), c in m.cells.items():
        if cell_model != model:
            continue
        if c.problem or not c.attempts:
            out.append(f"| {a} | {b} | – | FAIL | – | – | – | {_cell_text([c.problem or ''])} |")
        for t in c.attempts:
            result = "FAIL" if t.status == "fail" else t.status
            variant = f"`{t.variant}`" + "".join(f" `-O {o}`" for o in t.options)
            reasons = list(t.reasons)
            if t.status in ("approx", "fail") and t.warnings:
                reasons += [f"warned: {w}" for w in t.warnings]
            out.append(
                f"| {a} | {b} | {variant} | {result} | {_num(t.spikes)} | "
                f"{_num(t.artifact_diff)} | {_num(t.simulate_diff)} | {_cell_text(reasons)} |"
            )
    return out


def render_float(m: Matrix) -> str:
    cells = [c for (model, _, _), c in m.cells.items() if model == FLOAT_MODEL]
    out = [last_run(m, m.backends, len(cells)), result_line(cells)]
    out += matrix_table(m, FLOAT_MODEL, m.backends, m.backends)
    out.append("\n## Native models\n")
    out.append("Which reset modes each framework's own modules can build (the source side):\n")
    out += natives_table(m, FLOAT_MODEL, VARIANTS)
    out.append("\n## Cells\n")
    out.append(
        "Every model converted: the spikes of A's own model, the differing output cells of B's "
        "artifact and of B's run hook (Δ), and why a conversion was refused or failed.\n"
    )
    out += cells_table(m, FLOAT_MODEL)
    if m.unavailable:
        out.append("\n## Not in the matrix\n")
        out += [f"* `{n}`: {r}" for n, r in sorted(m.unavailable.items())]
    return "\n".join(out) + "\n"


def render_quantized(m: Matrix, model: str) -> str:
    cells = [c for (cell_model, _, _), c in m.cells.items() if cell_model == model]
    sources = [a for a in [NIR_SOURCE, *m.backends] if any(c.source == a for c in cells)]
    out = [f"### {MODEL_TITLES[model]} (`{model}`)\n"]
    out += [last_run(m, m.targets, len(cells)), result_line(cells)]
    out += matrix_table(m, model, sources, m.targets)
    out.append(f"\n#### Native `{model}` models\n")
    out += natives_table(m, model, QVARIANTS)
    out.append(f"\n#### Cells of `{model}`\n")
    out += cells_table(m, model)
    return "\n".join(out) + "\n"


def _cell_text(reasons: list[str]) -> str:
    text = " ".join(r if r.endswith(".") else f"{r}." for r in reasons if r)
    return text.replace("|", "\\|").replace("\n", " ")


def _num(value: int | None) -> str:
    return "–" if value is None else str(value)


_ROW = re.compile(r"^\| \*\*(?P<source>[\w.-]+)\*\* \| (?P<cells>.*) \|$")
_HEAD = re.compile(r"^\| source ↓ · target → \| (?P<names>.*) \|$")
_GROUP = re.compile(r"^(?P<word>pass|approx|refused|FAIL): (?P<codes>[A-Z]\*?(?:, [A-Z]\*?)*)$")
_MODEL = re.compile(r"^<!-- model: (?P<model>[\w-]+) -->$")


def parse(text: str) -> dict[tuple[str, str, str, str], str]:
    """(model, source, target, variant) -> pass | approx | refused | fail, from a rendered
    matrix."""
    variants = {code: v for v, code in CODES.items()}
    names: list[str] = []
    model = FLOAT_MODEL
    found = {}
    for line in text.splitlines():
        marker = _MODEL.match(line)
        if marker:
            model, names = marker["model"], []
            continue
        head = _HEAD.match(line)
        if head:
            names = [n.strip() for n in head["names"].split("|")]
            continue
        row = _ROW.match(line)
        if not (row and names):
            continue
        labels = [c.strip() for c in row["cells"].split("|")]
        for target, label in zip(names, labels, strict=True):
            key = (model, row["source"], target)
            if label == "–":
                continue
            if label == "FAIL":
                found[(*key, "*")] = "fail"
                continue
            for group in label.split("; "):
                match = _GROUP.match(group)
                if match is None:
                    raise ValueError(f"cannot read the cell {label!r} ({key[1]} -> {key[2]})")
                status = "fail" if match["word"] == "FAIL" else match["word"]
                for code in match["codes"].split(", "):
                    found[(*key, variants[code.rstrip("*")])] = status
    return found


def compare(committed: str, m: Matrix) -> list[str]:
    """Every model whose result differs from the committed document, and missing ones (of the
    models run)."""
    old = {k: v for k, v in parse(committed).items() if k[0] in m.models}
    new = m.statuses()
    problems = []
    for key in sorted(set(old) | set(new)):
        model = "" if key[0] == FLOAT_MODEL else f"{key[0]}: "
        what = f"{model}{key[1]} -> {key[2]} ({key[3]})"
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
    parser.add_argument(
        "--models",
        help=f"comma-separated models (default: all of {', '.join(MODELS)}); the document "
        "keeps the other models' sections",
    )
    args = parser.parse_args(argv)
    only = args.backends.split(",") if args.backends else None
    models = args.models.split(",") if args.models else MODELS
    unknown = set(models) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {', '.join(MODELS)}")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="nirhub-any-to-any-"))
    try:
        m = run_matrix(
            workdir,
            only=only,
            jobs=args.jobs,
            log=lambda s: print(s, file=sys.stderr),
            models=models,
        )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for c in m.cells.values():
        if c.problem:
            print(f"FAIL {c.source} -> {c.target}: {c.problem}", file=sys.stderr)
        for t in c.attempts:
            if t.status == "fail":
                why = " ".join(t.reasons)
                print(f"FAIL {label(c, t)}: {why}", file=sys.stderr)
    if args.check:
        problems = compare(args.output.read_text(encoding="utf-8"), m)
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems or m.unavailable else 0
    previous = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(render(m, previous), encoding="utf-8")
    os.replace(tmp, args.output)
    print(args.output)
    return 1 if any(c.status == "fail" for c in m.cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
