"""File to file simulation: the Python API behind ``nirhub simulate``.

``simulate_file`` checks everything it can before doing any work (the output may be written,
a time step is known, the input file matches the graph's Input nodes), then runs the graph in
nirhub's reference simulator (:func:`nirhub.sim.simulate`) or in a backend's run hook
(:func:`nirhub.hub.convert.simulate_with_backend`), and writes one ``.npz`` atomically: one array
per Output node (by name) and ``NODE.spikes`` / ``NODE.v`` / ``NODE.I`` for recorded nodes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nirhub._files import check_output_folder, resolve_output
from nirhub.errors import FileFormatError, RefusedError, UsageError


@dataclass
class SimulationRun:
    """What ``simulate_file`` did: where the results are and what they hold."""

    source: str
    inputs: str
    output: Path
    runner: str  # "reference" or the backend name
    dt: float
    method: str | None
    steps: int
    batch_size: int | None
    #: (key in the .npz, shape, dtype) of every array written
    arrays: list[tuple[str, tuple[int, ...], str]] = field(default_factory=list)
    conventions: dict[str, Any] = field(default_factory=dict)
    #: what a tolerant read repaired, and similar remarks
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "inputs": self.inputs,
            "output": os.fspath(self.output),
            "runner": self.runner,
            "dt": self.dt,
            "method": self.method,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "arrays": [
                {"key": key, "shape": list(shape), "dtype": dtype}
                for key, shape, dtype in self.arrays
            ],
            "warnings": list(self.warnings),
        }


def simulate_file(
    source: str | os.PathLike[str],
    inputs: str | os.PathLike[str] | None,
    *,
    output: str | os.PathLike[str],
    dt: float | None = None,
    method: str | None = None,
    reset: str | None = None,
    record: Sequence[str] = (),
    backend: str | None = None,
    options: Mapping[str, Any] | None = None,
    force: bool = False,
    tolerant: bool = False,
    registry: Any = None,
    source_backend: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    trust_pickle: bool = False,
    steps: int | None = None,
    threads: int | None = None,
) -> SimulationRun:
    """Simulate the model in ``source`` on the signals in ``inputs``; write ``output`` (.npz).

    ``source`` is a ``.nir`` file (read strictly) or any model source the hub can import
    (:func:`nirhub.hub.convert.to_ir`). ``inputs`` is ``.npy`` (one Input node) or ``.npz``
    (one array per Input node, by name), time first. ``dt`` defaults to the time step
    recorded in the model. ``method``/``reset``/``record`` are those of
    :func:`nirhub.sim.simulate`; with ``backend`` they are passed to the backend's run hook
    (with ``options``), which must support them. ``tolerant`` reads a ``.nir`` file
    tolerantly (known defects repaired; each repair is listed in the result's ``warnings``).
    ``source_backend``, ``weights`` and ``trust_pickle`` are those of ``nirhub convert``
    (``--from``, ``--weights``, ``--trust-pickle``) for a model source that is not a ``.nir``
    file; such a source is exported at ``dt`` when it is given, as ``convert`` does.
    ``steps`` runs a graph without Input nodes (driven by its biases alone); ``inputs`` is
    then None. ``threads`` is :func:`nirhub.sim.simulate`'s (reference simulator only).
    """
    from nirhub.hub.options import missing_dt, resolve_dt, take_conventions

    target = _checked_output(output, force)
    if threads is not None and backend is not None:
        raise UsageError(
            "--threads is for nirhub's reference simulator",
            hint=f"Drop --threads, or drop --backend {backend} to run the reference simulator.",
        )
    # --dt/--method/--reset and -O dt/method/reset are one option each: merged and checked here
    given, options = take_conventions(options, dt=dt, method=method, reset=reset)
    dt, method, reset = given.get("dt"), given.get("method"), given.get("reset")
    if inputs is not None and not Path(inputs).is_file():
        raise UsageError(f"input file {os.fspath(inputs)} does not exist")
    if backend is None and options:
        raise UsageError(
            f"backend options ({', '.join(options)}) need --backend; the reference simulator "
            "takes --method, --reset and --record"
        )

    target_desc = None
    if backend is not None:
        from nirhub.hub.registry import default_registry

        registry = registry or default_registry()
        target_desc = registry.descriptor(backend)
    graph, warnings, source_desc = _load_graph(
        source,
        registry,
        tolerant,
        dt=dt,
        backend=source_backend,
        weights=weights,
        trust_pickle=trust_pickle,
        options=options,
        target=target_desc,
        steps=steps,
    )
    if target_desc is not None:
        options = _runner_options(options, target_desc, source_desc)
    if reset is None:
        from nirhub.ir.legacy import unrecorded_reset_warning

        note = unrecorded_reset_warning(graph, "--reset subtract")
        if note is not None:
            warnings.append(note)
    step = resolve_dt(dt, graph, None, [])
    if step is None:
        raise missing_dt(os.fspath(source))

    from nirhub.sim.inputs import input_shapes_of, load_inputs

    if inputs is None:
        if graph.inputs:
            raise UsageError(
                f"the graph has Input nodes ({', '.join(graph.inputs)}): give their signals",
                hint="Pass --input FILE (.npy or .npz, time first).",
            )
        if steps is None:
            raise UsageError(
                "the graph has no Input node: say how many steps to run it",
                hint="Pass --steps T.",
            )
        if backend is not None:
            raise UsageError("--steps (a graph without Input nodes) runs in the reference only")
        signals: dict[str, Any] = {}
    else:
        if steps is not None:
            raise UsageError(
                "--steps is for graphs without Input nodes; the input file sets the steps"
            )
        signals = load_inputs(inputs, graph.inputs, input_shapes_of(graph))
    conventions: dict[str, Any] = {
        k: v for k, v in (("method", method), ("reset", reset)) if v is not None
    }
    if steps is not None:
        conventions["steps"] = steps
    if threads is not None:
        conventions["threads"] = threads  # (the reference simulator's; checked above)
    result = _run(
        graph, signals, step, backend, tuple(record), registry, options, conventions, warnings
    )

    written = result.save(target, force=force)
    arrays = [
        (key, tuple(int(x) for x in arr.shape), str(arr.dtype))
        for key, arr in result.to_npz_dict().items()
    ]
    return SimulationRun(
        source=os.fspath(source),
        inputs=os.fspath(inputs) if inputs is not None else f"none ({steps} steps)",
        output=Path(written),
        runner=backend or "reference",
        dt=float(result.dt),
        method=getattr(result, "method", method),
        steps=int(result.steps),
        batch_size=result.batch_size,
        arrays=arrays,
        conventions=dict(getattr(result, "conventions", {}) or {}),
        warnings=warnings,
    )


def _checked_output(output: str | os.PathLike[str], force: bool) -> Path:
    """The ``.npz`` to write, checked before any work: its suffix, no silent overwrite, an
    existing folder."""
    target = Path(output)
    if target.suffix.lower() != ".npz":
        raise UsageError(
            f"the output file must end in .npz, got {target.name!r}",
            hint="Results are one array per Output node and recorded variable, in an .npz.",
        )
    if target.exists() and not force:
        raise RefusedError(
            f"{target} already exists; not overwriting it",
            hint="Pass --force (force=True) to overwrite it.",
        )
    resolve_output(target, force=force)  # links and special files, before any work
    check_output_folder(target)
    return target


def _runner_options(options: dict[str, Any], target: Any, source: Any) -> dict[str, Any]:
    """As ``convert``: each option goes to the backend(s) that declare it (the exporter of a
    model source, the backend that runs it); an option neither declares is an error. Returns
    the runner's own."""
    unknown = [
        k
        for k in options
        if not target.has_option(k) and (source is None or not source.has_option(k))
    ]
    if unknown:
        from nirhub.hub.convert import _options_hint

        descs = [d for d in (source, target) if d is not None]
        raise UsageError(
            f"unknown option(s) {', '.join(unknown)} for "
            + " -> ".join(repr(d.name) for d in descs),
            hint=_options_hint(*descs),
        )
    return {k: v for k, v in options.items() if target.has_option(k)}


def _run(
    graph: Any,
    signals: dict[str, Any],
    step: float,
    backend: str | None,
    record: tuple[str, ...],
    registry: Any,
    options: dict[str, Any],
    conventions: dict[str, Any],
    notes: list[str],
) -> Any:
    """Run in the reference simulator, or in ``backend``'s run hook (which must support the
    ``method``/``reset`` given in ``conventions``). The backend's warnings (a run hook's
    measured inexactness, say) join ``notes``, as ``convert`` reports them."""
    if backend is None:
        from nirhub.sim import simulate

        return simulate(graph, signals, step, record=record, **conventions)
    import warnings

    from nirhub.backend.quiet import ignore_framework_noise
    from nirhub.hub.convert import simulate_with_backend

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignore_framework_noise()
        result = simulate_with_backend(
            graph,
            signals,
            step,
            backend,
            record=record,
            registry=registry,
            **options,
            **conventions,
        )
    notes += [t for t in dict.fromkeys(str(w.message) for w in caught) if t not in notes]
    return result


def _only_inputless(problems: Any) -> bool:
    """Whether a graph's only problems are having no Input node (and so, nodes no Input
    reaches): a graph driven by its biases alone."""
    from nirhub.sim.engine import is_missing_input

    return bool(problems) and all(
        is_missing_input(p) or p.kind in ("unreachable", "dead-end") for p in problems
    )


def _load_graph(
    source: str | os.PathLike[str],
    registry: Any,
    tolerant: bool,
    *,
    dt: float | None = None,
    backend: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    trust_pickle: bool = False,
    options: dict[str, Any] | None = None,
    target: Any = None,
    steps: int | None = None,
) -> Any:
    """The graph to run, the warnings of a tolerant read, and the descriptor of the backend
    that exported it (None for a ``.nir`` file). ``options`` that the exporting backend
    declares are passed to it (``target``: the backend that will run the graph, whose own
    options are not the exporter's business)."""
    path = Path(source)
    if path.suffix.lower() == ".nir":
        given = [
            flag
            for flag, value in (("--from", backend), ("--weights", weights))
            if value is not None
        ]
        if given and backend != "nir":
            raise UsageError(
                f"{' and '.join(given)} {'are' if len(given) > 1 else 'is'} for model sources "
                f"(a Python model reference, a .pt file); {path.name} is a .nir graph",
            )
        from nirhub.io import read

        if not path.exists():
            raise UsageError(f"{os.fspath(source)}: no such file", hint="Check the path.")
        if tolerant:
            result = read(path, strict=False)
            return result.graph, [f"{path}: {w}" for w in result.warnings], None
        try:
            return read(path), [], None
        except FileFormatError as exc:
            if _only_inputless(getattr(exc, "problems", None)):
                if steps is not None:
                    return read(path, strict=False).graph, [], None  # run for --steps
                exc.hint = (
                    "A graph driven by its biases alone (no Input node) runs for a number of "
                    "steps: pass --steps T (steps=T)."
                )
                raise
            if getattr(exc, "problems", None):  # a readable file with an invalid graph
                exc.hint = (
                    "Pass --tolerant (tolerant=True) to repair the known defects of real files; "
                    "`nirhub validate` lists them."
                )
            raise
    from nirhub.hub.convert import _export
    from nirhub.hub.registry import default_registry

    export_options = dict(options or {})
    if tolerant:
        export_options["tolerant"] = True
    messages: list[str] = []
    graph, _, desc = _export(
        os.fspath(source),
        backend,
        weights,
        trust_pickle,
        dt,
        registry or default_registry(),
        export_options,
        warn=messages,
        target=target,
    )
    return graph, messages, desc
