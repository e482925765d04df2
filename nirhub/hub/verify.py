"""``nirhub verify``: run a model on the reference simulator and on backends, sample by sample,
and report how far each backend is from the reference (the Python API behind the command).

The work is split in samples. Each sample runs in :func:`run_sample` (the reference simulator,
then every backend through :func:`nirhub.hub.convert.simulate_with_backend`, worker
environments included) and its result is written at once, atomically, to
``REPORT_DIR/samples/NNNNNN.npz``. So a run can be split over local processes (``workers``) or a
Dask cluster (``scheduler``), and an interrupted run resumes where it stopped: the samples
already in ``REPORT_DIR`` are not run again, provided ``REPORT_DIR/run.json`` describes the same
model, data and settings. ``report.json`` (and ``report.html``,
:mod:`nirhub.hub.verify_report`) are then written from the per-sample files in sample order,
so the numbers do not depend on how the samples were scheduled.

Metrics: :mod:`nirhub.hub.verify_metrics`; data sets: :mod:`nirhub.hub.verify_data`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.errors import (
    BackendUnavailableError,
    ExitCode,
    NirhubError,
    RefusedError,
    UnsupportedError,
    UsageError,
)
from nirhub.hub.verify_data import Samples, open_samples
from nirhub.hub.verify_files import json_default, write_npz_atomically, write_text_atomically
from nirhub.hub.verify_metrics import Aggregate, compare_layer, counts, prediction

REPORT_VERSION = 1
REFERENCE = "reference"
#: the activity similarity a backend must reach by default, per kind (docs/verify.md)
DEFAULT_MIN_SIMILARITY = {"simulator": 0.99, "hardware": 0.95, "format": 0.99}
#: documented figures of the hardware backends (their docs/backends/*.md pages)
HARDWARE_MIN_SIMILARITY = {"xylo": 0.98, "speck": 0.95, "loihi2": 0.95, "spinnaker2": 0.95}
#: how long to wait for a Dask scheduler before giving up
CONNECT_TIMEOUT = "10s"
RUN_FILE = "run.json"
SAMPLES_DIR = "samples"
RASTER_FILE = "raster.npz"


class SchedulerError(NirhubError):
    """The Dask scheduler cannot be reached, or Dask is not installed (exit code 5)."""

    exit_code = ExitCode.BACKEND_UNAVAILABLE


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------


@dataclass
class BackendResult:
    """One backend's verdict."""

    name: str
    kind: str
    location: str
    #: pass | fail | refused | error
    status: str
    min_similarity: float | None = None
    #: the lowest mean per-sample similarity over the compared layers
    similarity: float | None = None
    reason: str = ""
    layers: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, Any] | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "location": self.location,
            "status": self.status,
            "min_similarity": self.min_similarity,
            "similarity": self.similarity,
            "reason": self.reason,
            "layers": self.layers,
            "accuracy": self.accuracy,
            "failures": self.failures,
            "warnings": self.warnings,
        }


@dataclass
class VerifyReport:
    """What :func:`verify` found (``report.json`` is :meth:`to_json`)."""

    source: str
    data: str
    output_dir: Path
    samples: int
    completed: int
    dt: float
    layers: list[str]
    backends: list[BackendResult]
    matrices: dict[str, list[list[float | None]]]
    runners: list[str]
    reference_accuracy: dict[str, Any] | None
    labels: str | None  # "dataset" | "reference" | None
    raster_sample: int
    resumed: int = 0
    failed_samples: list[int] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graph: dict[str, Any] = field(default_factory=dict)
    #: the backends were named (a refusal then fails the gate), not the default selection
    named: bool = False

    @property
    def complete(self) -> bool:
        return self.completed == self.samples

    @property
    def passed(self) -> bool:
        return (
            self.complete
            and not self.failed_samples
            and all(
                b.status == "pass" or (b.status in ("skipped", "refused") and not self.named)
                for b in self.backends
            )
        )

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK if self.passed else ExitCode.FAILED)

    def to_json(self) -> dict[str, Any]:
        return {
            "nirhub_verify": REPORT_VERSION,
            "source": self.source,
            "data": self.data,
            "output_dir": os.fspath(self.output_dir),
            "samples": self.samples,
            "completed": self.completed,
            "complete": self.complete,
            "resumed": self.resumed,
            "passed": self.passed,
            "named_backends": self.named,
            "exit_code": self.exit_code,
            "dt": self.dt,
            "layers": self.layers,
            "labels": self.labels,
            "raster_sample": self.raster_sample,
            "reference": {"accuracy": self.reference_accuracy},
            "backends": [b.to_json() for b in self.backends],
            "matrices": {
                layer: {"runners": self.runners, "values": values}
                for layer, values in self.matrices.items()
            },
            "failed_samples": self.failed_samples,
            "graph": self.graph,
            "files": [os.fspath(f) for f in self.files],
            "warnings": self.warnings,
        }


# --------------------------------------------------------------------------------------------
# one sample
# --------------------------------------------------------------------------------------------


@dataclass
class Context:
    """Everything a sample needs besides its inputs (sent once to every worker process)."""

    graph: Any
    dt: float
    record: tuple[str, ...]
    backends: tuple[str, ...]
    options: dict[str, dict[str, Any]]
    raster_sample: int
    #: the reference simulator's method and reset mode (None: the graph's); also given to
    #: every backend (``-O method=... reset=...``), which refuses what it cannot do
    method: str | None = None
    reset: str | None = None


def run_sample(
    context: Context,
    index: int,
    inputs: Mapping[str, np.ndarray],
    label: int | None,
    registry: Any = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run one sample on the reference and every backend; compare.

    Returns the sample's JSON-ready result and its arrays (per-neuron counts ``c:RUNNER:LAYER``
    and, for the raster sample, the spike trains ``r:RUNNER:LAYER``). A backend that fails on
    this sample gets an ``error`` entry; nothing is raised for it.
    """
    from nirhub.hub.convert import simulate_with_backend
    from nirhub.sim import simulate

    result: dict[str, Any] = {"index": index, "label": label, "runs": {}}
    arrays: dict[str, np.ndarray] = {}
    keep_raster = index == context.raster_sample
    try:
        ref = simulate(
            context.graph,
            dict(inputs),
            context.dt,
            record=context.record,
            **_conventions(context),
        )
        ref_arrays = ref.to_npz_dict()
    except Exception as exc:  # the sample itself is bad: every run of it fails
        result["runs"][REFERENCE] = {"error": _error(exc)}
        return result, arrays
    layers = _layers(context.graph, ref_arrays)
    result["layers"] = layers
    result["runs"][REFERENCE] = _entry(context.graph, ref_arrays, layers, None, arrays, REFERENCE)
    if keep_raster:
        _raster(arrays, REFERENCE, ref_arrays)
    for name in context.backends:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                run = simulate_with_backend(
                    context.graph,
                    dict(inputs),
                    context.dt,
                    name,
                    record=context.record,
                    registry=registry,
                    **{**_conventions(context), **context.options.get(name, {})},
                )
                run_arrays = run.to_npz_dict()
            except (UnsupportedError, UsageError) as exc:
                # cannot take this graph, or not with the asked conventions (--reset, -O)
                result["runs"][name] = {"refused": exc.message}
                continue
            except Exception as exc:
                result["runs"][name] = {"error": _error(exc)}
                continue
        entry = _entry(context.graph, run_arrays, layers, ref_arrays, arrays, name)
        entry["warnings"] = sorted({str(w.message) for w in caught})
        result["runs"][name] = entry
        if keep_raster:
            _raster(arrays, name, run_arrays)
    return result, arrays


def _conventions(context: Context) -> dict[str, str]:
    return {
        k: v for k, v in (("method", context.method), ("reset", context.reset)) if v is not None
    }


def _layers(graph: Any, arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The compared signals: the Output nodes, then every recorded ``NODE.spikes``."""
    outs = [k for k in graph.outputs if k in arrays]
    return outs + sorted(k for k in arrays if k.endswith(".spikes") and k not in outs)


def _entry(
    graph: Any,
    run: Mapping[str, np.ndarray],
    layers: list[str],
    ref: Mapping[str, np.ndarray] | None,
    arrays: dict[str, np.ndarray],
    runner: str,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"layers": {}}
    for layer in layers:
        if layer not in run:
            entry["layers"][layer] = {"error": f"the run did not record {layer}"}
            continue
        arrays[f"c:{runner}:{layer}"] = counts(run[layer])
        if ref is not None:
            v_key = layer[: -len(".spikes")] + ".v" if layer.endswith(".spikes") else None
            entry["layers"][layer] = compare_layer(
                ref[layer], run[layer], ref.get(v_key or ""), run.get(v_key or "")
            )
    if graph.outputs and graph.outputs[0] in run:
        entry["prediction"] = prediction(run[graph.outputs[0]])
    if ref is None:
        del entry["layers"]
    return entry


def _raster(arrays: dict[str, np.ndarray], runner: str, run: Mapping[str, np.ndarray]) -> None:
    """Every signal of the raster sample (spikes for the plots, voltages for the curious)."""
    for key, value in run.items():
        arrays[f"r:{runner}:{key}"] = np.asarray(value, dtype=np.float32)


def _error(exc: BaseException) -> dict[str, str]:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return {"type": type(exc).__name__, "message": message}


# --------------------------------------------------------------------------------------------
# the report folder: run.json, samples/NNNNNN.npz
# --------------------------------------------------------------------------------------------


def _sample_path(folder: Path, index: int) -> Path:
    return folder / SAMPLES_DIR / f"{index:06d}.npz"


def save_sample(folder: Path, result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Write one sample's result atomically (a reader never sees half a file)."""
    target = _sample_path(folder, result["index"])
    payload = {"result": np.array(json.dumps(result, default=json_default))}
    payload.update({k: v for k, v in arrays.items() if not k.startswith("r:")})
    write_npz_atomically(target, payload)
    raster = {k: v for k, v in arrays.items() if k.startswith("r:")}
    if raster:
        write_npz_atomically(folder / RASTER_FILE, raster)


def load_sample(folder: Path, index: int) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    path = _sample_path(folder, index)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            result = json.loads(str(data["result"]))
            arrays = {k: data[k] for k in data.files if k != "result"}
    except Exception:  # a damaged file (disk full, ...) is run again
        return None
    return result, arrays


def graph_digest(graph: Any) -> str:
    """A digest of the graph's structure and parameters (a resumed run must be the same model)."""
    h = hashlib.sha256()
    for path, node in graph.walk():
        h.update(f"{path}:{node.type_name}".encode())
        for name in getattr(node, "fields", ()):
            value = getattr(node, name, None)
            h.update(name.encode())
            h.update(
                np.ascontiguousarray(value).tobytes() if _is_array(value) else repr(value).encode()
            )
    h.update(repr(sorted(graph.edges)).encode())
    return h.hexdigest()


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biufc"


def _prepare_folder(folder: Path, fingerprint: dict[str, Any], force: bool) -> int:
    """Create or reuse ``folder``; return how many sample results it already holds."""
    run_file = folder / RUN_FILE
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file; the report goes into a folder (-o REPORT_DIR)")
    if run_file.is_file():
        try:
            previous = json.loads(run_file.read_text())
        except (OSError, ValueError):
            previous = None
        same = previous == json.loads(json.dumps(fingerprint, default=json_default))
        if not same and not force:
            raise RefusedError(
                f"{folder} holds a verify run of another model, data set or settings",
                hint="Pass --force to start it over (its results are deleted), or choose "
                "another -o REPORT_DIR.",
            )
        if not same:
            shutil.rmtree(folder / SAMPLES_DIR, ignore_errors=True)
            for name in (RASTER_FILE, "report.json", "report.html"):
                (folder / name).unlink(missing_ok=True)
    elif folder.is_dir() and any(folder.iterdir()):
        raise RefusedError(
            f"{folder} is not empty and holds no verify run",
            hint="Give a new or empty folder with -o (nirhub verify never deletes files it "
            "did not write).",
        )
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomically(run_file, json.dumps(fingerprint, indent=2, default=json_default))
    done = folder / SAMPLES_DIR
    return len(list(done.glob("*.npz"))) if done.is_dir() else 0


# --------------------------------------------------------------------------------------------
# scheduling: serial, local processes, Dask
# --------------------------------------------------------------------------------------------

_WORKER_CONTEXT: dict[str, Context] = {}


def _init_process(context: Context) -> None:
    _WORKER_CONTEXT["context"] = context


def _run_in_process(
    index: int, inputs: Mapping[str, np.ndarray], label: int | None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return run_sample(_WORKER_CONTEXT["context"], index, inputs, label)


def _run_on_dask(
    context: Context, index: int, inputs: Mapping[str, np.ndarray], label: int | None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return run_sample(context, index, inputs, label)


def _connect(scheduler: Any) -> tuple[Any, bool]:
    """A Dask client: the one given, or a new one for an address (and whether we own it)."""
    if not isinstance(scheduler, str):
        return scheduler, False
    try:
        from dask.distributed import Client
    except ImportError:
        raise SchedulerError(
            "--scheduler needs Dask distributed, which is not installed",
            hint="pip install 'nirhub[dask]'",
        ) from None
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT), True
    except Exception as exc:
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}: {exc})",
            hint="Check the address (tcp://host:port) and that `dask scheduler` runs there; "
            "nothing was computed.",
        ) from None


def _schedule(
    todo: list[int],
    samples: Samples,
    context: Context,
    *,
    workers: int,
    scheduler: Any,
    registry: Any,
    labels: Callable[[int], int | None],
) -> Iterator[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """Run the samples ``todo``; yield each result as it arrives (in any order).

    At most two samples per worker are in flight, so memory does not grow with the set.
    """
    if scheduler is not None:  # a dask.distributed.Client
        yield from _schedule_on_dask(todo, samples, context, scheduler, labels)
        return
    if workers <= 1 or len(todo) <= 1:
        for index in todo:
            yield run_sample(context, index, samples[index], labels(index), registry)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_process, initargs=(context,)
    ) as pool:
        pending = iter(todo)
        running = {
            pool.submit(_run_in_process, i, samples[i], labels(i))
            for i in _take(pending, 2 * workers)
        }
        try:
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
                    running |= {
                        pool.submit(_run_in_process, i, samples[i], labels(i))
                        for i in _take(pending, 1)
                    }
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _schedule_on_dask(
    todo: list[int],
    samples: Samples,
    context: Context,
    client: Any,
    labels: Callable[[int], int | None],
) -> Iterator[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    from dask.distributed import as_completed

    remote = client.scatter(context, broadcast=True)
    window = 2 * max(1, sum(client.nthreads().values()))
    pending = iter(todo)
    queue = as_completed()

    def submit(index: int) -> Any:
        return client.submit(_run_on_dask, remote, index, samples[index], labels(index), pure=False)

    for index in _take(pending, window):
        queue.add(submit(index))
    for future in queue:
        yield future.result()
        for index in _take(pending, 1):
            queue.add(submit(index))


def _take(iterator: Iterator[int], n: int) -> list[int]:
    out = []
    for _ in range(n):
        try:
            out.append(next(iterator))
        except StopIteration:
            break
    return out


# --------------------------------------------------------------------------------------------
# the API
# --------------------------------------------------------------------------------------------


def verify(
    source: Any,
    *,
    output_dir: str | os.PathLike[str],
    input: str | os.PathLike[str] | None = None,
    dataset: str | os.PathLike[str] | None = None,
    backends: Sequence[str] | None = None,
    dt: float | None = None,
    method: str | None = None,
    reset: str | None = None,
    record: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
    min_similarity: float | Mapping[str, float] | None = None,
    labels_from_output: bool = False,
    workers: int | None = None,
    scheduler: Any = None,
    raster_sample: int = 0,
    html: bool | None = None,
    force: bool = False,
    from_: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    trust_pickle: bool = False,
    tolerant: bool = False,
    registry: Any = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Run ``source`` on the reference simulator and on ``backends``; write the report.

    ``source``: a ``.nir`` file or anything ``convert`` accepts (with ``from_``, ``weights``,
    ``trust_pickle``). ``method``/``reset``: as for ``nirhub simulate`` (the reference's
    discretisation and reset mode, also asked of every backend). Exactly one of ``input`` (one
    sample) and ``dataset`` (``.npz`` with ``x``/``y`` or a folder of ``.npy``;
    :mod:`nirhub.hub.verify_data`). ``backends``: names;
    ``None`` takes every installed backend that can run graphs (simulators and hardware,
    worker environments included); a backend that refuses the graph is listed as ``refused``
    with its reason. ``record``: nodes whose spikes (and voltages) are compared besides the
    Output nodes. ``options``: ``-O`` pairs, each passed to the backends that declare it.
    ``min_similarity``: one number for every backend or ``{backend: number}``; the default is
    :data:`DEFAULT_MIN_SIMILARITY` / :data:`HARDWARE_MIN_SIMILARITY`. ``labels_from_output``:
    without labels, take the reference's predictions as the labels. ``workers``: local
    processes (default: the cores); ``scheduler``: a Dask scheduler address or a
    ``dask.distributed.Client``. ``html``: ``None`` writes ``report.html`` when matplotlib is
    installed (else a warning), ``True`` requires it, ``False`` skips it.

    The report folder keeps every finished sample; running the same command again resumes.
    With ``force``, a folder holding another run is started over.
    """
    from nirhub.hub.registry import default_registry

    registry = registry or default_registry()
    if html:
        from nirhub.hub.verify_report import require_matplotlib

        require_matplotlib()
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if dt is not None and not (isinstance(dt, (int, float)) and dt > 0 and math.isfinite(dt)):
        raise UsageError(f"dt must be a positive number of seconds, got {dt!r}")
    notes: list[str] = []
    graph = _load(source, from_, weights, trust_pickle, dt, tolerant, registry, notes)
    from nirhub.ir.conventions import get_dt

    step = dt if dt is not None else get_dt(graph)
    if step is None:
        raise UsageError(
            f"no time step: {source} does not record one",
            hint="Pass --dt in seconds (the NIR paper's graphs use --dt 1e-4).",
        )
    _check_record(graph, record)
    samples = open_samples(graph=graph, input=input, dataset=dataset)
    if not 0 <= raster_sample < len(samples):
        raise UsageError(f"the raster sample {raster_sample} is not in 0..{len(samples) - 1}")
    if labels_from_output and samples.labels is not None:
        notes.append("--labels-from-output: the data set's labels are ignored")
    chosen, skipped = _select_backends(backends, registry, graph)
    per_backend = _split_options(dict(options or {}), chosen, registry)
    from nirhub.ir.conventions import check_reset

    check_reset(reset)
    if method is not None and method not in ("euler", "exact"):
        raise UsageError(f"method must be euler or exact; got {method!r}")
    context = Context(
        graph,
        float(step),
        tuple(record),
        tuple(chosen),
        per_backend,
        raster_sample,
        method=method,
        reset=reset,
    )
    folder = Path(output_dir)
    fingerprint = {
        "nirhub_verify": REPORT_VERSION,
        "source": os.fspath(source) if isinstance(source, (str, os.PathLike)) else repr(source),
        "graph": graph_digest(graph),
        "data": samples.fingerprint(),
        "dt": float(step),
        "record": list(record),
        "backends": list(chosen),
        "options": per_backend,
        "raster_sample": raster_sample,
        "method": method,
        "reset": reset,
    }
    # an unreachable scheduler fails now, before any work and before the folder is made
    client, owned = _connect(scheduler) if scheduler is not None else (None, False)
    try:
        resumed = _prepare_folder(folder, fingerprint, force)
        return _run_and_report(
            folder,
            samples,
            context,
            client,
            workers,
            registry,
            labels_from_output,
            on_progress,
            backends is not None,
            skipped,
            min_similarity,
            source,
            resumed,
            notes,
            html,
        )
    finally:
        if owned:
            client.close()


def _run_and_report(
    folder: Path,
    samples: Samples,
    context: Context,
    client: Any,
    workers: int | None,
    registry: Any,
    labels_from_output: bool,
    on_progress: Callable[[int, int], None] | None,
    named: bool,
    skipped: list[BackendResult],
    min_similarity: Any,
    source: Any,
    resumed: int,
    notes: list[str],
    html: bool | None,
) -> VerifyReport:
    """Run the samples not in ``folder`` yet; write and return the report (also when
    interrupted: then the report of what was computed is written and the error raised)."""
    scheduler = client

    todo = [i for i in range(len(samples)) if load_sample(folder, i) is None]
    done = len(samples) - len(todo)
    total = len(samples)
    if on_progress:
        on_progress(done, total)
    labels = samples.label if not labels_from_output and samples.labels is not None else None
    n_workers = workers or os.cpu_count() or 1
    interrupted: BaseException | None = None
    try:
        # the first sample runs here: a backend that refuses the graph is not asked again
        run_context = context
        if todo:
            first = todo.pop(0)
            result, arrays = run_sample(
                context, first, samples[first], labels(first) if labels else None, registry
            )
            save_sample(folder, result, arrays)
            done += 1
            if on_progress:
                on_progress(done, total)
            refused = {n for n, e in result["runs"].items() if "refused" in e}
            run_context = dataclasses.replace(
                context, backends=tuple(b for b in context.backends if b not in refused)
            )
        for result, arrays in _schedule(
            todo,
            samples,
            run_context,
            workers=n_workers,
            scheduler=scheduler,
            registry=registry,
            labels=labels or (lambda _i: None),
        ):
            save_sample(folder, result, arrays)
            done += 1
            if on_progress:
                on_progress(done, total)
    except BaseException as exc:  # Ctrl-C, a lost cluster: keep what was computed, then raise
        interrupted = _lost(exc, folder, scheduler)
    report = _summarize(
        named,
        folder,
        samples,
        context,
        skipped,
        min_similarity,
        labels_from_output,
        source,
        registry,
        resumed,
        notes,
    )
    _write(report, folder, html)
    if interrupted is not None:
        raise interrupted
    return report


def _lost(exc: BaseException, folder: Path, scheduler: Any) -> BaseException:
    """A lost worker process or Dask worker is not a bug: say so, and how to resume."""
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, NirhubError) or not isinstance(exc, Exception):
        return exc
    if isinstance(exc, BrokenProcessPool) or scheduler is not None:
        where = "a Dask worker" if scheduler is not None else "a worker process"
        return SchedulerError(
            f"{where} was lost ({type(exc).__name__}: {exc})",
            hint=f"The samples computed so far are kept in {folder}; rerun the same command "
            "to resume.",
        )
    return exc


def _load(
    source: Any,
    from_: str | None,
    weights: Any,
    trust_pickle: bool,
    dt: float | None,
    tolerant: bool,
    registry: Any,
    notes: list[str],
) -> Any:
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() == ".nir":
        from nirhub.io import read

        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{path}: no such file", hint="Check the path.")
        if tolerant:
            result = read(path, strict=False)
            notes.extend(f"{path}: {w}" for w in result.warnings)
            return result.graph
        return read(path)
    from nirhub.hub.convert import to_ir

    return to_ir(
        source, from_, weights=weights, trust_pickle=trust_pickle, dt=dt, registry=registry
    )


def _check_record(graph: Any, record: Sequence[str]) -> None:
    names = {path for path, _ in graph.walk()}
    unknown = [r for r in record if r not in names]
    if unknown:
        raise UsageError(
            f"--record names no node of the graph: {', '.join(unknown)}",
            hint="`nirhub inspect MODEL` lists the node paths (e.g. lif1.lif).",
        )


def default_backends(registry: Any) -> tuple[list[str], list[BackendResult]]:
    """What ``verify`` runs when no backend is named: every installed simulator or hardware
    backend that can run graphs; and the others, listed as skipped with the reason."""
    chosen: list[str] = []
    skipped: list[BackendResult] = []
    for row in registry.statuses():
        desc = row.descriptor
        if desc is None or desc.kind not in ("simulator", "hardware"):
            continue
        if not desc.can_run:
            why = "cannot run graphs (no run hook)"
        elif row.status not in ("ok", "remote"):
            why = f"{row.status}: {row.reason}".strip()
        else:
            chosen.append(row.name)
            continue
        skipped.append(BackendResult(row.name, desc.kind, row.location, "skipped", reason=why))
    return chosen, skipped


def _select_backends(
    names: Sequence[str] | None, registry: Any, graph: Any
) -> tuple[list[str], list[BackendResult]]:
    """The backends to run, and those listed without running (not runnable, not installed)."""
    if names is None:
        return default_backends(registry)
    skipped: list[BackendResult] = []
    chosen = []
    for name in names:
        desc = registry.descriptor(name)  # unknown names: BackendUnavailableError, exit 5
        if not desc.can_run:
            raise UsageError(
                f"backend {desc.name!r} cannot run graphs (no run hook)",
                hint="`nirhub list-backends --json` shows which backends can (can_run).",
            )
        row = registry.status(desc.name)
        if row.status not in ("ok", "remote"):
            raise (
                registry._unavailable(row)
                if hasattr(registry, "_unavailable")
                else (BackendUnavailableError(f"backend {desc.name!r} is not usable: {row.reason}"))
            )
        if desc.name not in chosen:
            chosen.append(desc.name)
    return chosen, skipped


def _split_options(
    options: dict[str, Any], chosen: list[str], registry: Any
) -> dict[str, dict[str, Any]]:
    per: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for name in chosen:
        desc = registry.descriptor(name)
        own = {k: v for k, v in options.items() if desc.has_option(k)}
        used |= set(own)
        per[name] = desc.parse_options(own) if own else {}
    unknown = [k for k in options if k not in used]
    if unknown:
        raise UsageError(
            f"no backend to verify declares the option(s) {', '.join(unknown)}",
            hint="`nirhub list-backends --json` lists each backend's options.",
        )
    return per


def threshold_for(
    name: str, kind: str, given: float | Mapping[str, float] | None, documented: Any = None
) -> float:
    """The similarity a backend must reach: ``--min-similarity``, else the figure its plugin
    documents (``BackendDescriptor.extra["min_similarity"]``), else the default of its kind."""
    if isinstance(given, (int, float)):
        return float(given)
    if isinstance(given, Mapping) and name in given:
        return float(given[name])
    if isinstance(documented, (int, float)):
        return float(documented)
    if kind == "hardware":
        return HARDWARE_MIN_SIMILARITY.get(name, DEFAULT_MIN_SIMILARITY["hardware"])
    return DEFAULT_MIN_SIMILARITY.get(kind, 0.99)


def _summarize(
    named: bool,
    folder: Path,
    samples: Samples,
    context: Context,
    skipped: list[BackendResult],
    min_similarity: Any,
    labels_from_output: bool,
    source: Any,
    registry: Any,
    resumed: int,
    notes: list[str],
) -> VerifyReport:
    runners = [REFERENCE, *context.backends]
    layers: list[str] = []
    loaded = []
    for index in range(len(samples)):
        found = load_sample(folder, index)
        if found is None:
            continue
        loaded.append(index)
        for layer in found[0].get("layers", []):
            if layer not in layers:
                layers.append(layer)
    agg = Aggregate(runners, layers)
    refused: dict[str, str] = {}
    warned: dict[str, list[str]] = {name: [] for name in context.backends}
    for index in loaded:
        result, arrays = load_sample(folder, index)  # type: ignore[misc]
        if labels_from_output:
            ref = result["runs"].get(REFERENCE, {})
            result["label"] = ref.get("prediction")
        for name, entry in result["runs"].items():
            if "refused" in entry:
                refused.setdefault(name, entry["refused"])
            for w in entry.get("warnings", []):
                if w not in warned.get(name, []):
                    warned.setdefault(name, []).append(w)
        clean = {
            "index": result["index"],
            "label": result.get("label"),
            "runs": {k: v for k, v in result["runs"].items() if "refused" not in v},
        }
        agg.add(clean, arrays)
    results = []
    for name in context.backends:
        row = registry.status(name)
        kind = row.kind
        extra = row.descriptor.extra if row.descriptor is not None else {}
        threshold = threshold_for(name, kind, min_similarity, extra.get("min_similarity"))
        res = BackendResult(name, kind, row.location, "pass", min_similarity=threshold)
        res.warnings = warned.get(name, [])
        res.failures = agg.failures[name]
        if name in refused:
            res.status, res.reason = "refused", refused[name]
            results.append(res)
            continue
        for layer in layers:
            summary = agg.layer_summary(name, layer)
            if summary is not None:
                res.layers[layer] = summary
        res.accuracy = agg.accuracy(name)
        sims = [s["similarity_mean"] for s in res.layers.values()]
        res.similarity = min(sims) if sims else None
        if res.failures:
            res.status = "error"
            n = len(res.failures)
            res.reason = f"failed on {n} sample{'s' if n > 1 else ''}: {res.failures[0]['message']}"
        elif res.similarity is None:
            res.status, res.reason = "error", "no sample could be compared"
        elif res.similarity < threshold:
            res.status = "fail"
            res.reason = f"similarity {res.similarity:.4f} < {threshold:g}"
        results.append(res)
    results.extend(skipped)
    label_kind = (
        "reference" if labels_from_output else ("dataset" if samples.labels is not None else None)
    )
    from nirhub.hub.convert import graph_summary

    return VerifyReport(
        source=os.fspath(source) if isinstance(source, (str, os.PathLike)) else repr(source),
        data=samples.description,
        output_dir=folder,
        samples=len(samples),
        completed=len(loaded),
        dt=context.dt,
        layers=layers,
        backends=results,
        matrices={layer: agg.matrix(layer) for layer in layers},
        runners=runners,
        reference_accuracy=agg.accuracy(REFERENCE),
        labels=label_kind,
        raster_sample=context.raster_sample,
        resumed=resumed,
        failed_samples=agg.failed_samples,
        warnings=notes,
        graph=_graph_json(context.graph, graph_summary),
        named=named,
    )


def _graph_json(graph: Any, summary: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    doc = summary(graph)
    doc["node_types"] = {name: node.type_name for name, node in graph.nodes.items()}
    doc["edge_list"] = [list(e) for e in graph.edges]
    return doc


def _write(report: VerifyReport, folder: Path, html: bool | None) -> None:
    files = [folder / "report.json"]
    if html is not False:
        from nirhub.hub.verify_report import html_available, write_html

        if html_available():
            files.append(write_html(report, folder))
        else:
            report.warnings.append(
                "report.html not written: the figures need matplotlib "
                "(pip install 'nirhub[report]'); report.json is complete"
            )
    report.files = files
    write_text_atomically(
        folder / "report.json", json.dumps(report.to_json(), indent=2, default=json_default)
    )
