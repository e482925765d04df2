"""The worker side of :mod:`nirhub.hub.workers`: ``python -m nirhub.hub.worker OP [request]``.

``describe`` prints this environment's backends as JSON on stdout. Every other operation
reads a JSON request file, does one thing with one local backend, and writes a JSON response
file (and any result files) where the request says; errors are written into the response as
data (type, message, hint, problems), never as a traceback on stdout.

Operations: ``to_ir`` (source -> .nir), ``check`` (.nir -> problems), ``save`` (.nir ->
from_ir -> artifact files + report), ``report`` (.nir -> from_ir -> report), ``run`` (.nir +
inputs .npz -> results .npz).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from nirhub.backend.quiet import ignore_framework_noise
from nirhub.errors import UsageError

OPS = ("describe", "to_ir", "check", "save", "report", "run")


def describe() -> dict[str, Any]:
    import nirhub
    from nirhub.hub.registry import make_registry
    from nirhub.hub.workers import PROTOCOL

    registry = make_registry(environments=False)
    return {
        "protocol": PROTOCOL,
        "nirhub": nirhub.__version__,
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "executable": sys.executable,
        # where this interpreter finds distributions: the caller fingerprints these folders to
        # know when its cached copy of this answer is stale (the working directory excluded)
        "paths": _search_paths(),
        "backends": [s.to_json() for s in registry.statuses()],
        "clashes": registry.clashes(),
    }


def _search_paths() -> list[str]:
    cwd = os.getcwd()
    out = []
    for entry in sys.path:
        if not entry:
            continue
        folder = os.path.abspath(entry)
        if folder != cwd and os.path.isdir(folder) and folder not in out:
            out.append(folder)
    return out


def _backend(request: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    from nirhub.hub.registry import make_registry

    registry = make_registry(environments=False)
    be = registry.get(request["backend"])
    opts = be.descriptor.parse_options(dict(request.get("options") or {}))
    return registry, be, opts


def _graph(request: dict[str, Any]) -> Any:
    from nirhub.io import read

    return read(request["graph"])


def op_to_ir(request: dict[str, Any]) -> dict[str, Any]:
    from nirhub.hub.convert import to_ir
    from nirhub.io import write

    registry, _, _ = _backend(request)
    options = dict(request.get("options") or {})
    dt = options.pop("dt", None)
    graph = to_ir(
        request["source"],
        request["backend"],
        weights=request.get("weights"),
        trust_pickle=bool(request.get("trust_pickle")),
        dt=dt,
        registry=registry,
        **options,
    )
    write(graph, request["graph_out"], overwrite=True)
    return {}


def op_check(request: dict[str, Any]) -> dict[str, Any]:
    _, be, opts = _backend(request)
    problems = be.check(_graph(request), **opts)
    return {
        "problems": [
            {"where": p.where, "message": p.message, "field": p.field, "kind": p.kind}
            for p in problems
        ]
    }


def op_save(request: dict[str, Any]) -> dict[str, Any]:
    from nirhub.hub.convert import _json_ready

    _, be, opts = _backend(request)
    obj = be.from_ir(_graph(request), **opts)
    force = bool(request.get("force", False))  # the user's --force, not a declared option
    files = be.save(obj, Path(request["output"]), **opts, force=force)
    report = be.report(obj, **opts)
    return {"files": [str(f) for f in files or []], "report": _json_ready(report or {})}


def op_report(request: dict[str, Any]) -> dict[str, Any]:
    from nirhub.hub.convert import _json_ready

    _, be, opts = _backend(request)
    obj = be.from_ir(_graph(request), **opts)
    return {"report": _json_ready(be.report(obj, **opts) or {})}


def op_run(request: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from nirhub.hub.convert import _json_ready

    _, be, opts = _backend(request)
    with np.load(request["inputs_file"], allow_pickle=False) as data:
        inputs = {name: data[key] for name, key in request["inputs"].items()}
    result = be.run(
        _graph(request),
        inputs,
        float(request["dt"]),
        record=tuple(request.get("record") or ()),
        **opts,
    )
    arrays: dict[str, Any] = {}
    outputs = {}
    for name, arr in result.outputs.items():
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(arr)
        outputs[name] = key
    recorded: dict[str, dict[str, str]] = {}
    for node, variables in result.recorded.items():
        for var, arr in variables.items():
            key = f"a{len(arrays)}"
            arrays[key] = np.asarray(arr)
            recorded.setdefault(node, {})[var] = key
    np.savez(request["result"], **arrays)
    return {
        "result": {
            "outputs": outputs,
            "recorded": recorded,
            "dt": result.dt,
            "method": result.method,
            "steps": result.steps,
            "batch_size": result.batch_size,
            "conventions": _json_ready(result.conventions),
        }
    }


_HANDLERS = {
    "to_ir": op_to_ir,
    "check": op_check,
    "save": op_save,
    "report": op_report,
    "run": op_run,
}


def _write_json(path: str, data: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in OPS:
        print(
            f"usage: python -m nirhub.hub.worker {{{','.join(OPS)}}} [request.json]",
            file=sys.stderr,
        )
        return 2
    op = args[0]
    if op == "describe":
        json.dump(describe(), sys.stdout)
        sys.stdout.write("\n")
        return 0
    if len(args) != 2:
        print(f"usage: python -m nirhub.hub.worker {op} request.json", file=sys.stderr)
        return 2
    request = json.loads(Path(args[1]).read_text(encoding="utf-8"))
    from nirhub.hub.workers import PROTOCOL, error_to_json

    try:
        if request.get("protocol") != PROTOCOL:
            raise UsageError(
                f"worker protocol mismatch: request {request.get('protocol')}, worker {PROTOCOL}",
                hint="Install the same nirhub version in both environments.",
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ignore_framework_noise()
            response = _HANDLERS[op](request)
        response["warnings"] = [str(w.message) for w in caught]
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as data
        if isinstance(exc, KeyboardInterrupt):
            raise
        response = {"error": error_to_json(exc)}
    _write_json(request["response"], response)
    return 0


if __name__ == "__main__":
    sys.exit(main())
