"""Conversion routing: source -> IR -> legality and exact rewrites -> target -> artifact.

This is the Python API behind ``nirhub convert`` (the command only parses its arguments and
calls :func:`convert`). The steps, each of which fails with a typed error that says what to do:

1. identify and load the source (:mod:`nirhub.hub.sources`);
2. export it to the IR with the source backend, record ``dt``, validate the graph;
3. legalize for the target: exact rewrites (:mod:`nirhub.passes`) where they help, then collect
   *every* node the target still cannot import, with a hint per node (not only the first);
4. the target's own checks (``backend.check``: chip limits, parameter ranges);
5. import into the target (``backend.from_ir``) and save its artifact atomically: files are
   written into a temporary folder beside the output and moved into place; an existing file is
   only replaced with ``force``.

``dry_run`` does steps 1-4 (and the target's resource report when it can), reports the
problems instead of raising, and writes nothing.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub._files import (
    cannot_write,
    check_output_folder,
    finish_output,
    is_stream,
    make_temp_dir,
    resolve_output,
)
from nirhub.backend.quiet import ignore_framework_noise
from nirhub.errors import (
    BackendUnavailableError,
    IRError,
    NoSuchFileError,
    Problem,
    RefusedError,
    UnsupportedError,
    UsageError,
)
from nirhub.hub.backend import prepared_of
from nirhub.hub.descriptor import BackendDescriptor
from nirhub.hub.options import missing_dt, resolve_dt, resolve_options, take_conventions
from nirhub.hub.registry import BackendStatus, Registry, default_registry
from nirhub.ir.conventions import get_dt, set_dt
from nirhub.ir.graph import Graph
from nirhub.passes import PORT_TYPES, legalize

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.hub.backend import Backend
    from nirhub.sim import SimulationResult


@dataclass
class ConversionReport:
    """What :func:`convert` did (or, on a dry run, would do)."""

    source: str
    source_backend: str
    target_backend: str
    #: the IR that was imported (after the rewrites)
    graph: Graph
    #: files written (empty on a dry run)
    outputs: list[Path]
    #: every problem that makes the conversion impossible (empty when legal)
    problems: list[Problem]
    passes_applied: list[str]
    warnings: list[str]
    #: ``backend.report()``: the target's resource report (neurons, bit widths, ...)
    report: dict[str, Any]
    dry_run: bool
    #: one line per rewrite the passes made
    notes: list[str] = field(default_factory=list)
    #: the time step used (seconds), None when neither given nor recorded
    dt: float | None = None
    #: where the artifact goes (also set on a dry run)
    planned_output: Path | None = None
    #: the imported framework object (Python API only; not in the JSON)
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_backend": self.source_backend,
            "target_backend": self.target_backend,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "outputs": [str(p) for p in self.outputs],
            "planned_output": None if self.planned_output is None else str(self.planned_output),
            "dt": self.dt,
            "graph": graph_summary(self.graph),
            "problems": [problem_to_json(p) for p in self.problems],
            "passes_applied": list(self.passes_applied),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "report": _json_ready(self.report),
        }


def problem_to_json(p: Problem) -> dict[str, Any]:
    return {"where": p.where, "message": p.message, "field": p.field, "kind": p.kind}


def graph_summary(graph: Graph) -> dict[str, Any]:
    return {
        "nodes": graph.summary(),
        "edges": len(graph.edges),
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        "neurons": graph.num_neurons(),
        "synapses": graph.num_synapses(),
    }


def _json_ready(value: Any) -> Any:
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


# --------------------------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------------------------


def backends(registry: Registry | None = None) -> list[BackendStatus]:
    """Every backend nirhub can reach, with its status (``nirhub list-backends``)."""
    return (registry or default_registry()).statuses()


def to_ir(
    model_or_path: Any,
    backend: str | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
    trust_pickle: bool = False,
    dt: float | None = None,
    registry: Registry | None = None,
    **options: Any,
) -> Graph:
    """Export a model (object, file or ``file.py:name`` reference) to a validated graph.

    ``backend`` forces the source backend (else detected). ``dt`` (seconds) is passed to
    backends that take it and recorded in the graph's metadata.
    """
    registry = registry or default_registry()
    given, rest = take_conventions(options, dt=dt)
    graph, _, _ = _export(
        model_or_path, backend, weights, trust_pickle, given.get("dt"), registry, rest, warn=[]
    )
    return graph


def from_ir(
    graph: Graph,
    backend: str,
    *,
    dt: float | None = None,
    registry: Registry | None = None,
    **options: Any,
) -> Any:
    """Import a graph into a backend's framework; returns the framework object.

    Raises :class:`UnsupportedError` listing every node the backend cannot take (after exact
    rewrites), and whatever the backend's own checks find.
    """
    registry = registry or default_registry()
    if not isinstance(graph, Graph):
        raise UsageError(
            f"from_ir needs a nirhub Graph, got {type(graph).__name__}",
            hint="Use nirhub.from_nir() for objects of the nir package.",
        )
    graph.validate()
    given, rest = take_conventions(options, dt=dt)
    desc = registry.descriptor(backend)
    desc.parse_options(rest)  # an unknown or malformed option fails before any work
    legal, _, _, problems = _legalize(graph, desc, registry)
    if problems:
        raise _unsupported(desc, problems)
    opts = resolve_options(desc, legal, rest, given.get("dt"), [])
    be = registry.get(backend)
    checked = be.check(legal, **opts)
    if checked:
        raise _unsupported(desc, list(checked))
    return be.from_ir(legal, **opts, **prepared_of(checked))


def check_legality(graph: Graph, descriptor: BackendDescriptor) -> list[Problem]:
    """Every node ``descriptor``'s backend cannot import, by dotted path, with a hint."""
    problems = []
    accepted = set(descriptor.from_ir) | PORT_TYPES
    if not descriptor.from_ir:
        return [
            Problem(
                "<graph>",
                f"backend {descriptor.name!r} cannot import graphs (it only exports to NIR)",
                kind="unsupported",
            )
        ]
    for path, node in graph.walk():
        t = node.type_name
        if t not in accepted:
            problems.append(
                Problem(
                    path,
                    f"{t} is not supported by {descriptor.name!r}{_hint(t, node, descriptor)}",
                    kind="unsupported",
                )
            )
    return problems


def _hint(type_name: str, node: Any, desc: BackendDescriptor) -> str:
    types = set(desc.from_ir)
    reason = desc.refusals.get(type_name)
    if reason:
        return f": {reason}"
    if type_name == "Scale" and types & {"Linear", "Affine"}:
        return (
            "; a Scale is folded into a Linear/Affine only when it feeds that node alone "
            "and nothing else feeds it"
        )
    if type_name == "Affine" and "Linear" in types:
        return f"; its bias is non-zero and {desc.name!r} has Linear (no bias) only"
    if type_name == "NIRGraph":
        return "; the nested graph could not be inlined (a name clash or a doubled edge)"
    accepted = ", ".join(sorted(types - PORT_TYPES)) or "nothing"
    return f"; it imports: {accepted}"


def convert(
    source: Any,
    *,
    to: str,
    from_: str | None = None,
    output: str | os.PathLike[str] | None = None,
    dt: float | None = None,
    method: str | None = None,
    reset: str | None = None,
    options: Mapping[str, Any] | None = None,
    force: bool = False,
    dry_run: bool = False,
    weights: str | os.PathLike[str] | None = None,
    trust_pickle: bool = False,
    registry: Registry | None = None,
    tolerant: bool = False,
) -> ConversionReport:
    """Convert a model to backend ``to`` and save its artifact (see the module docstring).

    ``options`` are ``-O key=value`` pairs; each goes to the backend(s) that declare it.
    ``dt``, ``method`` and ``reset`` are the same as the options of those names (given both
    ways, they must agree).
    ``tolerant`` reads a damaged ``.nir`` source anyway, repairing its known defects (each
    repair is listed in the report's warnings), as ``simulate --tolerant`` does.
    Raises :class:`UnsupportedError` (with ``problems`` listing every node) when the target
    cannot take the graph, unless ``dry_run``, which reports them instead.
    """
    registry = registry or default_registry()
    # --dt and -O dt are one option: merged (and checked) here, before any work
    given, options = take_conventions(options, dt=dt, method=method, reset=reset)
    dt = given.pop("dt", None)
    options.update(given)  # --method/--reset go where -O method/reset go
    target = registry.status(to)
    if target.descriptor is None:
        raise registry._unavailable(target)
    desc = target.descriptor
    if not desc.from_ir:
        raise UsageError(f"backend {desc.name!r} cannot import graphs (it only exports to NIR)")
    if tolerant:
        options["tolerant"] = True
    planned = _plan_output(source, output, desc, force, dry_run)
    caught_messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignore_framework_noise()
        graph, src, src_desc = _export(
            source,
            from_,
            weights,
            trust_pickle,
            dt,
            registry,
            options,
            warn=caught_messages,
            target=desc,
        )
        if tolerant and not src_desc.has_option("tolerant"):
            raise UsageError(
                f"--tolerant reads damaged .nir files; the {src_desc.name!r} source has "
                "nothing to repair",
                hint="Drop --tolerant.",
            )
        unknown = [k for k in options if not desc.has_option(k) and not src_desc.has_option(k)]
        if unknown:
            raise UsageError(
                f"unknown option(s) {', '.join(unknown)} for {src_desc.name!r} -> {desc.name!r}",
                hint=_options_hint(src_desc, desc),
            )
        _note_unrecorded_resets(
            graph, desc, {k: v for k, v in options.items() if desc.has_option(k)}, caught_messages
        )
        legal, applied, notes, problems = _legalize(graph, desc, registry)
        own = {k: v for k, v in options.items() if desc.has_option(k)}
        opts = resolve_options(desc, legal, own, dt, caught_messages)
        used_dt = opts["dt"] if "dt" in opts else resolve_dt(dt, legal, None, caught_messages)
        report = ConversionReport(
            source=src.description,
            source_backend=src.backend,
            target_backend=desc.name,
            graph=legal,
            outputs=[],
            problems=problems,
            passes_applied=applied,
            warnings=caught_messages,
            report={},
            dry_run=dry_run,
            notes=notes,
            dt=used_dt,
            planned_output=planned,
        )
        be = _target_backend(registry, desc.name, dry_run, report)
        checked: Any = []
        if be is not None and not problems:
            checked = be.check(legal, **opts)
            report.problems = problems = list(checked)
        if problems and not dry_run:
            raise _unsupported(desc, problems)
        if be is not None and not problems:
            obj = be.from_ir(legal, **opts, **prepared_of(checked))
            report.model = obj
            if dry_run and planned is not None:
                # the artifact's own checks (e.g. netx cannot hold a recurrent layer) run
                # while saving: save into a temporary folder that is then removed
                report.problems = problems = trial_save(be, obj, planned, **opts)
            elif planned is not None:
                report.outputs = save_atomically(be, obj, planned, force=force, **opts)
            report.report = dict(be.report(obj, **opts) or {})
    report.warnings = caught_messages + [str(w.message) for w in caught]
    return report


def simulate_with_backend(
    graph: Graph,
    inputs: Mapping[str, np.ndarray] | np.ndarray,
    dt: float | None,
    backend: str,
    *,
    record: tuple[str, ...] | list[str] = (),
    registry: Registry | None = None,
    **options: Any,
) -> SimulationResult:
    """Run ``graph`` with a backend's run hook (``nirhub simulate --backend NAME``).

    ``dt`` may also come as the option ``dt`` (the same thing); ``None`` means the one the
    graph records. Returns a :class:`~nirhub.sim.SimulationResult` with the reference
    simulator's conventions.
    """
    import numpy as np

    registry = registry or default_registry()
    desc = registry.descriptor(backend)
    if not desc.can_run:
        runnable = [s.name for s in registry.statuses() if s.descriptor and s.descriptor.can_run]
        raise UsageError(
            f"backend {desc.name!r} cannot run graphs (no run hook)",
            hint=f"Backends that can: {', '.join(runnable) or 'none'}.",
        )
    if not isinstance(inputs, Mapping):
        if len(graph.inputs) != 1:
            raise UsageError(
                f"the graph has {len(graph.inputs)} inputs; give a dict keyed by Input name"
            )
        inputs = {graph.inputs[0]: np.asarray(inputs)}
    # as the reference simulator: an unused branch or an unfed node does not stop a run
    invalid = [p for p in graph.problems() if p.kind not in ("dead-end", "unreachable")]
    if invalid:
        raise IRError(
            "the graph is invalid:\n" + "\n".join(f"  - {p}" for p in invalid), problems=invalid
        )
    given, rest = take_conventions(options, dt=dt)
    step = resolve_dt(given.get("dt"), graph, None, [])
    if step is None:
        raise missing_dt("the graph")
    desc.parse_options(rest)  # an unknown or malformed option fails before any work
    legal, _, _, problems = _legalize(graph, desc, registry)
    if problems:
        raise _unsupported(desc, problems)
    opts = resolve_options(desc, legal, rest, step, [])
    be = registry.get(backend)
    problems = list(be.check(legal, **opts))
    opts.pop("dt", None)  # the run hook takes the step as its own argument
    if problems:
        raise _unsupported(desc, problems)
    return be.run(legal, dict(inputs), step, record=tuple(record), **opts)


# --------------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------------


def _option_names(desc: BackendDescriptor) -> list[str]:
    """The declared option names (as the backend receives them)."""
    return [o.name for o in desc.options]


def _options_hint(*descs: BackendDescriptor) -> str:
    """Each backend's options (CLI spelling), every backend named once."""
    unique = {desc.name: desc for desc in descs}
    return (
        "; ".join(
            f"{name} options: {', '.join(desc.option_names()) or 'none'}"
            for name, desc in unique.items()
        )
        + "."
    )


def _export(
    source: Any,
    backend: str | None,
    weights: Any,
    trust_pickle: bool,
    dt: float | None,
    registry: Registry,
    options: dict[str, Any],
    *,
    warn: list[str],
    target: BackendDescriptor | None = None,
) -> tuple[Graph, Any, BackendDescriptor]:
    from nirhub.hub.sources import resolve_source

    src = resolve_source(
        source,
        registry=registry,
        backend=backend,
        weights=weights,
        trust_pickle=trust_pickle,
        options=options,
    )
    be = registry.get(src.backend)
    desc = be.descriptor
    if not desc.to_ir:
        raise UsageError(f"backend {desc.name!r} cannot export to NIR (it only imports)")
    own = {k: v for k, v in options.items() if desc.has_option(k)}
    if target is None:
        unknown = [k for k in options if k not in own]
        if unknown:
            raise UsageError(
                f"backend {desc.name!r} has no option(s) {', '.join(unknown)}",
                hint=f"Its options: {', '.join(desc.option_names()) or 'none'}.",
            )
    opts = desc.parse_options(own)
    if dt is not None and desc.has_option("dt"):
        opts["dt"] = dt
    graph = be.to_ir(src.model, **opts)
    if not isinstance(graph, Graph):
        raise IRError(
            f"backend {desc.name!r} returned a {type(graph).__name__} from to_ir, not a Graph",
            hint="This is a bug in the plugin; report it to its authors.",
        )
    recorded = get_dt(graph)
    if dt is not None:
        if recorded is not None and not math.isclose(recorded, dt, rel_tol=1e-9):
            warn.append(f"the model records dt={recorded:g} s; using dt={dt:g} s as given")
        if recorded != dt:
            graph = graph.replace()
            set_dt(graph.metadata, dt)
    graph.validate()
    return graph, src, desc


def _legalize(
    graph: Graph, desc: BackendDescriptor, registry: Registry
) -> tuple[Graph, list[str], list[str], list[Problem]]:
    passes = registry.passes(loaded_only=True)
    legal, applied, notes = legalize(graph, desc, passes)
    return legal, applied, notes, check_legality(legal, desc)


def _note_unrecorded_resets(
    graph: Graph, desc: BackendDescriptor, opts: Mapping[str, Any], warn: list[str]
) -> None:
    """Say once that spiking nodes without a recorded reset run with reset to zero (files
    older than nir 1.0.6), unless the target takes no reset or one was chosen."""
    if desc.kind == "format" or not desc.has_option("reset") or opts.get("reset") is not None:
        return
    from nirhub.ir.legacy import unrecorded_reset_warning

    note = unrecorded_reset_warning(graph, "-O reset=subtract")
    if note is not None:
        warn.append(note)


def _unsupported(desc: BackendDescriptor, problems: list[Problem]) -> UnsupportedError:
    listing = "\n".join(f"  - {p}" for p in problems)
    n = len(problems)
    return UnsupportedError(
        f"backend {desc.name!r} cannot take this graph ({n} problem{'s' if n > 1 else ''}):\n"
        f"{listing}",
        problems=problems,
        hint="Run with --dry-run to see the full report, or pick another target "
        "(`nirhub list-backends`).",
    )


def _target_backend(
    registry: Registry, name: str, dry_run: bool, report: ConversionReport
) -> Backend | None:
    if not dry_run:
        return registry.get(name)
    try:
        return registry.get(name)
    except BackendUnavailableError as exc:
        report.warnings.append(
            f"{exc.message} Only the node types were checked (no backend checks, no resource "
            "report)."
        )
        return None


def default_output(source: Any, desc: BackendDescriptor) -> Path:
    """Where the artifact goes when no output is given: ``./<source stem><suffix>``."""
    if not desc.writes:
        raise UsageError(f"backend {desc.name!r} writes no files")
    suffix = desc.writes[0]
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        path = Path(text)
        if path.is_file():
            return Path.cwd() / (path.stem + suffix)
        if ":" in text:
            return Path.cwd() / (text.rsplit(":", 1)[1].split(".")[-1] + suffix)
        if not path.exists():  # say so, rather than "no output given" (the source is checked later)
            from nirhub.hub.sources import MISSING_SOURCE_HINT

            raise NoSuchFileError(text, hint=MISSING_SOURCE_HINT)
    raise UsageError(
        "no output given for an in-memory model",
        hint="Pass output=PATH (-o PATH).",
    )


def _plan_output(
    source: Any, output: Any, desc: BackendDescriptor, force: bool, dry_run: bool
) -> Path | None:
    if not desc.writes:
        if output is not None:
            raise UsageError(
                f"backend {desc.name!r} writes no files, so -o/output cannot be used",
                hint="Use the Python API (nirhub.from_ir) to get the framework object.",
            )
        return None
    path = Path(output) if output is not None else default_output(source, desc)
    if isinstance(source, (str, os.PathLike)) and Path(source).is_file():
        if path.resolve() == Path(source).resolve():
            raise UsageError(
                f"the output {path} is the source file itself",
                hint="Give another output path with -o.",
            )
    if path.is_dir():
        raise UsageError(f"the output {path} is a directory; give a file name")
    if not dry_run:
        resolve_output(path, force=force)  # existing files, links, devices: before any work
        check_output_folder(path)
    return path


def _retarget(text: str, tmp: Path, parent: Path) -> str:
    """``text`` with every spelling of the temporary folder ``tmp`` replaced by ``parent``.

    Longest spellings first, so an absolute ``/abs/.nirhub-x/out.nir`` is not half-replaced
    through its relative form ``.nirhub-x``.
    """
    pairs = {
        os.fspath(tmp.resolve()): os.fspath(parent.resolve()),
        os.fspath(tmp.absolute()): os.fspath(parent.absolute()),
    }
    if os.fspath(parent) == ".":  # ".nirhub-x/out.nir" -> "out.nir", as the user wrote it
        pairs[os.fspath(tmp) + os.sep] = ""
    pairs.setdefault(os.fspath(tmp), os.fspath(parent))
    for old in sorted(pairs, key=len, reverse=True):
        text = text.replace(old, pairs[old])
    return text


def trial_save(be: Backend, obj: Any, path: Path, **opts: Any) -> list[Problem]:
    """What saving ``obj`` as ``path`` would refuse (a dry run's last check); writes nothing
    that outlives the call. The save's warnings are re-issued naming ``path``."""
    tmp = Path(tempfile.mkdtemp(prefix=".nirhub-dry-run-"))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                be.save(obj, tmp / path.name, **opts)
            except UnsupportedError as exc:
                return list(exc.problems) or [Problem("<graph>", exc.message, kind="unsupported")]
        parent = path.parent if str(path.parent) else Path(".")
        for w in caught:
            warnings.warn_explicit(
                _retarget(str(w.message), tmp, parent), w.category, w.filename, w.lineno
            )
        return []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_atomically(be: Backend, obj: Any, path: Path, *, force: bool, **opts: Any) -> list[Path]:
    """Let the backend write into a temporary folder beside ``path``, then move files in.

    Nothing is left behind when saving fails, and no existing file is replaced without
    ``force`` (checked for every file the backend wrote, not only ``path``).
    """
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {parent} does not exist")
    real = resolve_output(path, force=force)  # a link's file; a device or FIFO as it is
    tmp = make_temp_dir(real.parent, real)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ignore_framework_noise()
            written = be.save(obj, tmp / path.name, **{**opts, "force": force})
        # the backend wrote into the temporary folder and its warnings name it: re-issue them
        # naming the files the user asked for
        for w in caught:
            warnings.warn_explicit(
                _retarget(str(w.message), tmp, parent),
                w.category,
                w.filename,
                w.lineno,
                source=w.source,
            )
        files = [Path(f) for f in (written or [])]
        if not files:
            files = [f for f in tmp.rglob("*") if f.is_file()]
        finals = []
        for f in files:
            try:
                rel = f.resolve().relative_to(tmp.resolve())
            except ValueError:
                raise UsageError(
                    f"backend {be.descriptor.name!r} wrote {f} outside the folder it was given",
                    hint="This is a bug in the plugin; report it to its authors.",
                ) from None
            if not f.is_file():
                raise UsageError(
                    f"backend {be.descriptor.name!r} reported {f} but did not write it"
                )
            # the artifact's other files sit beside the file it is written to (a link's target)
            finals.append((f, real if rel == Path(path.name) else real.parent / rel))
        if is_stream(real) and len(finals) > 1:
            raise UsageError(
                f"backend {be.descriptor.name!r} writes {len(finals)} files, so the output "
                f"cannot be the device or FIFO {real}",
                hint="Give a regular file name with -o.",
            )
        existing = [
            str(final) for _, final in finals if final != real and os.path.lexists(final)
        ]  # a dangling link counts: writing through it needs --force too
        if existing and not force:
            raise RefusedError(
                f"{', '.join(existing)} already exist(s)", hint="Pass --force to overwrite."
            )
        for f, final in finals:
            dest = real
            if final != real:
                try:
                    final.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise cannot_write(final, exc) from None
                dest = resolve_output(final, force=True)  # existing files were checked above
            finish_output(f, dest)
        return [path if final == real else final for _, final in finals]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
