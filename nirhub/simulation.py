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
    inputs: str | os.PathLike[str],
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
    """
    from nirhub._files import resolve_output
    from nirhub.ir.conventions import check_reset, get_dt

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
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: the folder {folder} does not exist")
    resolve_output(target, force=force)  # links and special files, before any work
    check_reset(reset)
    if method is not None and method not in ("euler", "exact"):
        raise UsageError(f"method must be euler or exact; got {method!r}")
    if backend is None and options:
        raise UsageError(
            f"backend options ({', '.join(options)}) need --backend; the reference simulator "
            "takes --method, --reset and --record"
        )

    options = dict(options or {})
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
    )
    if target_desc is not None:
        # as `convert`: each option goes to the backend(s) that declare it (the exporter of a
        # model source, the backend that runs it); an option neither declares is an error
        unknown = [
            k
            for k in options
            if not target_desc.has_option(k)
            and (source_desc is None or not source_desc.has_option(k))
        ]
        if unknown:
            from nirhub.hub.convert import _options_hint

            descs = [d for d in (source_desc, target_desc) if d is not None]
            raise UsageError(
                f"unknown option(s) {', '.join(unknown)} for "
                + " -> ".join(repr(d.name) for d in descs),
                hint=_options_hint(*descs),
            )
        options = {k: v for k, v in options.items() if target_desc.has_option(k)}
    step = dt if dt is not None else get_dt(graph)
    if step is None:
        raise UsageError(
            f"no time step: {os.fspath(source)} does not record one",
            hint="Pass --dt in seconds (the NIR paper's graphs use --dt 1e-4).",
        )

    from nirhub.sim import simulate
    from nirhub.sim.inputs import load_inputs

    signals = load_inputs(inputs, graph.inputs)
    if backend is None:
        result = simulate(graph, signals, step, method=method, reset=reset, record=tuple(record))
        runner = "reference"
    else:
        from nirhub.hub.convert import simulate_with_backend

        extra = dict(options)
        if method is not None:
            extra["method"] = method
        if reset is not None:
            extra["reset"] = reset
        result = simulate_with_backend(
            graph, signals, step, backend, record=tuple(record), registry=registry, **extra
        )
        runner = backend

    written = result.save(target, force=force)
    arrays = [
        (key, tuple(int(x) for x in arr.shape), str(arr.dtype))
        for key, arr in result.to_npz_dict().items()
    ]
    return SimulationRun(
        source=os.fspath(source),
        inputs=os.fspath(inputs),
        output=Path(written),
        runner=runner,
        dt=float(result.dt),
        method=getattr(result, "method", method),
        steps=int(result.steps),
        batch_size=result.batch_size,
        arrays=arrays,
        conventions=dict(getattr(result, "conventions", {}) or {}),
        warnings=warnings,
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
