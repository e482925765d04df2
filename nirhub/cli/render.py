"""Human-readable rendering of API results (the ``--json`` forms come from ``to_json()``).

Data goes to stdout through ``out.print``/``out.line``; remarks about the data (warnings,
what was written) go to stderr through ``out.info``/``out.warning``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from nirhub._names import printable
from nirhub.cli.output import Output, _isatty, styled

_STATUS_STYLE = {
    "ok": "green",
    "missing-dependency": "yellow",
    "broken": "red",
    "remote": "cyan",
}


def _fmt_shape(shape: Any) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join(str(int(x)) for x in shape) + "]"


def _fmt_num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


# -- --version ----------------------------------------------------------------------------------


def version(out: Output, plugins: list[dict[str, str]], *, disabled: bool = False) -> None:
    from nirhub import __version__

    py = ".".join(str(x) for x in sys.version_info[:3])
    out.line(f"nirhub {__version__} (Python {py})")
    if disabled:
        out.line("plugins: disabled (--no-plugins or NIRHUB_NO_PLUGINS)")
        return
    external = sorted(
        (p for p in plugins if p.get("distribution") != "nirhub"),
        key=lambda p: (p.get("distribution", ""), p.get("module", "")),
    )
    if not external:
        out.line("plugins: none installed")
        return
    out.line("plugins:")
    seen: set[tuple[str, str]] = set()
    for p in external:
        key = (p.get("distribution", ""), p.get("module", ""))
        if key in seen:
            continue
        seen.add(key)
        line = f"  {p.get('distribution')} {p.get('version') or '(version unknown)'}"
        line += f" ({p.get('module')})"
        if p.get("error"):
            line += f" BROKEN: {p['error']}"
        out.line(line)


# -- list-backends ------------------------------------------------------------------------------


def backends(out: Output, rows: list[Any]) -> None:
    headers = ["backend", "kind", "directions", "status", "version", "distribution", "location"]
    cells, styles = [], {}
    for i, row in enumerate(rows):
        name = row.name + (f" ({', '.join(row.aliases)})" if row.aliases else "")
        cells.append(
            [
                name,
                row.kind,
                ", ".join(row.directions) or "-",
                row.status.replace("-", " "),
                row.version or "-",
                row.distribution or "-",
                row.location,
            ]
        )
        styles[(i, 3)] = _STATUS_STYLE.get(row.status, "")
    out.table(headers, cells, styles)
    notes = [r for r in rows if r.status not in ("ok", "remote")]
    for row in notes:
        out.line(f"{row.name}: {row.status.replace('-', ' ')}: {row.reason}")
        if row.install_hint:
            out.line(f"  fix: {row.install_hint}")
    # hardware targets: say plainly what cannot be done on this machine (vendor software,
    # boards); other backends' limitations are in --json and the docs
    for row in rows:
        desc = row.descriptor
        if row.kind == "hardware" and desc is not None and desc.limitations:
            out.line(f"{row.name}: not possible here / limits:")
            for text in desc.limitations:
                out.line(f"  - {text}")


# -- convert ------------------------------------------------------------------------------------


def conversion(out: Output, report: Any) -> None:
    """stdout: the files written (one per line), or the dry run's verdict."""
    if report.dry_run:
        verdict = "possible" if not report.problems else "NOT possible"
        out.line(
            f"{report.source} ({report.source_backend}) -> {report.target_backend}: "
            f"conversion {verdict}"
        )
        for p in report.problems:
            out.line(f"  - {p}")
        if report.passes_applied:
            out.line("  passes: " + ", ".join(report.passes_applied))
        return
    for path in report.outputs:
        out.line(os.fspath(path))


def conversion_messages(out: Output, report: Any, *, show_report: bool = False) -> None:
    """stderr: warnings and a one-line summary of what happened.

    The target's report (``Backend.report``) is shown with ``-v``, or always when
    ``show_report`` (hardware targets: their resource report is the point of converting).
    """
    for text in report.warnings:
        out.warning(text)
    if report.problems and report.dry_run:
        n = len(report.problems)
        out.failure(
            f"{report.target_backend!r} cannot express {_plural(n, 'node')} of {report.source}"
        )
        return
    graph = report.graph
    nodes = sum(1 for _ in graph.walk()) if graph is not None else 0
    if not report.dry_run:
        out.info(
            f"converted {report.source} ({report.source_backend}, {nodes} nodes) to "
            f"{report.target_backend}"
        )
    if report.passes_applied:
        out.detail("passes applied: " + ", ".join(report.passes_applied))
    if show_report and report.report and not out.quiet:
        out.info(f"{report.target_backend} report:")
    for key, value in (report.report or {}).items():
        _detail_tree(out, key, value, "  " if show_report else "", show=show_report)


def _detail_tree(out: Output, key: str, value: Any, indent: str, *, show: bool = False) -> None:
    """One report entry; nested dicts (a hardware backend's per-layer report) indented."""

    def emit(text: str) -> None:
        if show and not out.quiet:
            out.info(text)
        else:
            out.detail(text)

    if isinstance(value, dict):
        emit(f"{indent}{key}:")
        for k, v in value.items():
            _detail_tree(out, str(k), v, indent + "  ", show=show)
    else:
        emit(f"{indent}{key}: {value}")


# -- inspect ------------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _value_text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    return repr(value)


def _param_text(p: Any) -> str:
    if not p.is_array:
        return f"{p.name} = {_value_text(p.value)}"
    shape = _fmt_shape(p.shape)
    if p.min is None:
        return f"{p.name}  {p.dtype} {shape}"
    if p.min == p.max:
        return f"{p.name}  {p.dtype} {shape}  all {_fmt_num(p.min)}"
    return (
        f"{p.name}  {p.dtype} {shape}  min {_fmt_num(p.min)}  max {_fmt_num(p.max)}  "
        f"mean {_fmt_num(p.mean)}"
    )


#: a tree: (label, bold part of the label, children)
Branch = tuple[str, str, list["Branch"]]


def summary(out: Output, s: Any) -> None:
    version = f", NIR file version {s.file_version}" if s.file_version else ""
    out.line(f"{s.source}{version}")
    types = ", ".join(f"{n} {t}" for t, n in sorted(s.type_counts.items()))
    out.line(
        f"{_plural(len(s.nodes), 'node')} ({types}), {_plural(len(s.edges), 'top-level edge')}, "
        f"{_plural(s.neurons, 'neuron')}, {_plural(s.synapses, 'synapse')}, "
        f"{_plural(s.parameters, 'parameter')}"
    )
    ins = ", ".join(f"{k} {_fmt_shape(v)}" for k, v in s.inputs.items()) or "none"
    outs = ", ".join(f"{k} {_fmt_shape(v)}" for k, v in s.outputs.items()) or "none"
    out.line(f"inputs: {ins}; outputs: {outs}")
    out.line(
        f"dt: {s.dt if s.dt is not None else 'not recorded'}; "
        f"reset: {s.reset if s.reset is not None else 'not recorded (zero is assumed)'}"
    )
    by_path = {n.path: n for n in s.nodes}

    def branch(path: str) -> Branch:
        node = by_path[path]
        name = path.rsplit(".", 1)[-1] if "." in path and path not in s.top_level else path
        label = f" {node.type}  {_fmt_shape(node.input_shape)} -> {_fmt_shape(node.output_shape)}"
        counts = []
        if node.neurons:
            counts.append(_plural(node.neurons, "neuron"))
        if node.synapses:
            counts.append(_plural(node.synapses, "synapse"))
        if counts:
            label += f"  ({', '.join(counts)})"
        leaves: list[Branch] = [(_param_text(p), "", []) for p in node.params]
        if node.metadata:
            leaves.append((f"metadata: {_short(node.metadata)}", "", []))
        return (label, name, leaves + [branch(child) for child in node.children])

    tree(out, ("", "graph", [branch(name) for name in s.top_level]))
    out.line("edges: " + ", ".join(f"{a} -> {b}" for a, b in s.edges))
    if s.metadata:
        out.line(f"metadata: {_short(s.metadata)}")
    for w in s.warnings:
        out.warning(w)
    if s.problems:
        out.warning(f"the graph is not valid ({len(s.problems)} problems); see `nirhub validate`")


def tree(out: Output, root: Branch) -> None:
    """A tree on stdout: rich's (styled, wrapped to the terminal) on a terminal, else plain
    lines with the same guides that are never wrapped."""
    if styled(sys.stdout):
        from rich.markup import escape
        from rich.tree import Tree

        def grow(parent: Any, item: Branch) -> None:
            label, bold, children = item
            label, bold = printable(label), printable(bold)
            node = parent.add(f"[bold]{escape(bold)}[/]{escape(label)}")
            for child in children:
                grow(node, child)

        label, bold, children = root
        label, bold = printable(label), printable(bold)
        rich_tree = Tree(f"[bold]{escape(bold)}[/]{escape(label)}", guide_style="dim")
        for child in children:
            grow(rich_tree, child)
        out.print(rich_tree)
        return

    def lines(items: list[Branch], prefix: str) -> None:
        for i, (label, bold, children) in enumerate(items):
            last = i == len(items) - 1
            out.line(prefix + ("└── " if last else "├── ") + bold + label)
            lines(children, prefix + ("    " if last else "│   "))

    out.line(root[1] + root[0])
    lines(root[2], "")


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- validate -----------------------------------------------------------------------------------


def validation(out: Output, report: Any) -> None:
    if report.valid:
        n_rep = len(report.repaired)
        extra = f" after {n_rep} repair{'s' if n_rep != 1 else ''}" if n_rep else ""
        out.line(
            f"{report.path}: valid ({report.mode}{extra}; {report.nodes} nodes, "
            f"{report.edges} edges)"
        )
    else:
        n = len(report.problems)
        out.line(f"{report.path}: INVALID ({report.mode}), {n} problem{'s' if n != 1 else ''}:")
        for p in report.problems:
            out.line(f"  - {p}")
            if p.tolerant_action:
                out.line(f"    with --tolerant: {p.tolerant_action}")
    if report.repaired:
        out.line("repaired (--tolerant):")
        for p in report.repaired:
            out.line(f"  - {p}")
            out.line(f"    {p.tolerant_action}")


# -- simulate -----------------------------------------------------------------------------------


def simulation(out: Output, run: Any) -> None:
    """stdout: the file written; stderr: what was run and what the file holds."""
    for text in run.warnings:
        out.warning(text)
    out.line(os.fspath(run.output))
    how = run.runner if run.method is None else f"{run.runner}, {run.method}"
    batch = "" if run.batch_size is None else f" x {run.batch_size} samples"
    out.info(f"simulated {run.steps} steps of {run.dt:g} s{batch} ({how}); the file holds:")
    for key, shape, dtype in run.arrays:
        out.info(f"  {key}: {dtype} {_fmt_shape(shape)}")


# -- env ----------------------------------------------------------------------------------------


def environment_json(env: Any) -> dict[str, Any]:
    data = env.to_json() if hasattr(env, "to_json") else {"python": os.fspath(env.python)}
    return {"name": env.name, **data}


def environments(out: Output, envs: list[Any]) -> None:
    if not envs:
        out.info("no environments configured; add one with `nirhub env add NAME PYTHON`")
        return
    for env in envs:
        made = "\tcreated by nirhub" if getattr(env, "created", False) else ""
        out.line(f"{env.name}\t{os.fspath(env.python)}{made}")


def refreshed(out: Output, found: dict[str, list[Any]]) -> None:
    """One line per environment: its backends, or why it cannot be asked."""
    if not found:
        out.info("no environments configured; add one with `nirhub env add NAME PYTHON`")
        return
    for name, rows in found.items():
        dead = [r for r in rows if r.name == name and r.kind == "unknown" and not r.ok]
        if dead:
            out.line(f"{name}\tbroken: {dead[0].reason}")
            continue
        listed = ", ".join(f"{r.name} ({r.status.replace('-', ' ')})" for r in rows) or "none"
        out.line(f"{name}\t{listed}")


def environment_added(out: Output, env: Any) -> None:
    out.line(f"{env.name}\t{os.fspath(env.python)}")


# -- verify -------------------------------------------------------------------------------------


@contextmanager
def verify_progress(out: Output, description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (a terminal only, not with -q or --json); yields the
    ``on_progress(done, total)`` callback of :func:`nirhub.hub.verify.verify`."""
    if out.quiet or out.json_mode or not _isatty(sys.stderr):
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out.stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def verification(out: Output, report: Any) -> None:
    """stdout: one row per backend and layer; stderr: where the report is, what went wrong."""
    for text in report.warnings:
        out.warning(text)
    headers = [
        "backend",
        "status",
        "layer",
        "similarity",
        "min",
        "diff cells",
        "spikes ratio",
        "latency",
        "diff after",
        "voltage r",
        "accuracy",
        "agreement",
    ]
    rows: list[list[str]] = []
    styles: dict[tuple[int, int], str] = {}
    colour = {"pass": "green", "fail": "bold red", "error": "bold red", "refused": "yellow"}
    ref = report.reference_accuracy or {}
    if ref.get("accuracy") is not None:
        rows.append(
            ["reference", "-", "-", "-", "-", "-", "-", "-", "-", "-", _num(ref["accuracy"]), "-"]
        )
    for b in report.backends:
        acc = b.accuracy or {}
        layers = list(b.layers.items()) or [("-", None)]
        for k, (layer, s) in enumerate(layers):
            first = k == 0
            cells = [b.name if first else "", b.status if first else "", layer]
            if s is None:
                cells += ["-"] * 7
            else:
                cells += [
                    _num(s["similarity_mean"]),
                    _num(s["similarity_min"]),
                    f"{s['differing_cells']}/{s['cells']}",
                    _num(s["spike_count_ratio"], 3),
                    str(s["latency"]),
                    str(s["differing_cells_aligned"]),
                    _num(s["voltage_r_mean"]),
                ]
            cells += [
                _num(acc.get("accuracy")) if first else "",
                _num(acc.get("agreement")) if first else "",
            ]
            if first and b.status in colour:
                styles[(len(rows), 1)] = colour[b.status]
            rows.append(cells)
    out.table(headers, rows, styles)
    for b in report.backends:
        if b.status in ("fail", "error", "refused", "skipped") and b.reason:
            out.info(f"{b.name}: {b.status}: {b.reason}")
        for w in b.warnings:
            out.detail(f"{b.name}: {w}")
    done = f"{report.completed} of {report.samples} samples"
    if report.resumed:
        done += f" ({report.resumed} from an earlier run)"
    out.info(f"{done}; report: {', '.join(str(f) for f in report.files)}")
    if report.failed_samples:
        out.failure(
            f"{len(report.failed_samples)} sample(s) could not run on the reference simulator: "
            f"{', '.join(map(str, report.failed_samples[:10]))}"
        )
    if not report.passed:
        out.failure("verification failed (see the rows above)")
