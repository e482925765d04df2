"""``report.html`` of ``nirhub verify``: one self-contained page (figures embedded as base64
PNG, no script, no network), readable offline and attachable to a CI run.

It shows the verdict per backend, per-layer similarity bars, the runner x runner similarity
heatmap of every layer (as the NIR paper's figures), a raster plot per runner for the chosen
sample, the accuracy table, and a drawing of the graph. matplotlib (``pip install
'nirhub[report]'``) is imported here only, with the non-interactive Agg backend.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.errors import BackendUnavailableError

STATUS_COLOURS = {
    "pass": "#1a7f37",
    "fail": "#cf222e",
    "error": "#cf222e",
    "refused": "#9a6700",
    "skipped": "#6e7781",
}


def html_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def require_matplotlib() -> None:
    if not html_available():
        raise BackendUnavailableError(
            "report.html needs matplotlib, which is not installed",
            hint="pip install 'nirhub[report]' (or pass --no-html: report.json and the table "
            "need nothing more).",
        )


def _figure_png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(uri: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{uri}">'


def _heatmap(layer: str, runners: list[str], values: list[list[float | None]]) -> str:
    import matplotlib.pyplot as plt

    n = len(runners)
    data = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n))
    im = ax.imshow(data, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(n), runners, rotation=45, ha="right")
    ax.set_yticks(range(n), runners)
    for i in range(n):
        for j in range(n):
            if not np.isnan(data[i, j]):
                colour = "black" if data[i, j] > 0.6 else "white"
                ax.text(
                    j, i, f"{data[i, j]:.2f}", ha="center", va="center", color=colour, fontsize=8
                )
    ax.set_title(f"activity similarity: {layer}", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _img(_figure_png(fig), f"similarity heatmap of {layer}")


def _bars(backends: list[dict[str, Any]], layers: list[str]) -> str | None:
    import matplotlib.pyplot as plt

    rows = [b for b in backends if b["layers"]]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(rows) * max(1, len(layers)) * 0.6), 3.0))
    width = 0.8 / max(1, len(layers))
    for k, layer in enumerate(layers):
        xs = [i + k * width for i in range(len(rows))]
        ys = [b["layers"].get(layer, {}).get("similarity_mean", 0.0) for b in rows]
        ax.bar(xs, ys, width=width, label=layer)
    for i, b in enumerate(rows):
        if b.get("min_similarity") is not None:
            ax.hlines(b["min_similarity"], i - 0.1, i + 0.8, colors="red", linestyles="dashed")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))], [b["name"] for b in rows])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean activity similarity")
    ax.legend(fontsize=7, loc="lower right")
    return _img(_figure_png(fig), "per-layer similarity bars")


def _rasters(folder: Path, runners: list[str], layer: str) -> str | None:
    path = folder / "raster.npz"
    if not path.is_file():
        return None
    import matplotlib.pyplot as plt

    with np.load(path, allow_pickle=False) as data:
        trains = {r: data[f"r:{r}:{layer}"] for r in runners if f"r:{r}:{layer}" in data.files}
    if not trains:
        return None
    fig, axes = plt.subplots(
        len(trains), 1, figsize=(7.0, 1.2 + 1.0 * len(trains)), sharex=True, squeeze=False
    )
    for ax, (runner, arr) in zip(axes[:, 0], trains.items(), strict=True):
        a = arr.reshape(arr.shape[0], -1)
        t, n = np.nonzero(a)
        ax.scatter(t, n, s=2, marker="|", color="black")
        ax.set_ylabel(runner, rotation=0, ha="right", fontsize=8)
        ax.set_ylim(-0.5, a.shape[1] - 0.5)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle(f"spikes of {layer}", fontsize=10)
    return _img(_figure_png(fig), f"raster plots of {layer}")


def _graph_svg(graph: dict[str, Any]) -> str:
    """Nodes in columns by their distance from the inputs; edges as lines (inline SVG)."""
    types: dict[str, str] = graph.get("node_types", {})

    def node_of(end: str) -> str:
        """The top-level node of an edge end (``lif1.lif`` may be a node or a port)."""
        while end not in types and "." in end:
            end = end.rsplit(".", 1)[0]
        return end

    edges = [(node_of(a), node_of(b)) for a, b in graph.get("edge_list", [])]
    level: dict[str, int] = {n: 0 for n in graph.get("inputs", [])}
    for _ in range(len(types)):
        for s, d in edges:
            if s in level and s != d and level.get(d, -1) < level[s] + 1 and d not in level:
                level[d] = level[s] + 1
    for n in types:
        level.setdefault(n, max(level.values(), default=0) + 1)
    columns: dict[int, list[str]] = {}
    for n in types:
        columns.setdefault(level[n], []).append(n)
    pos = {}
    for col, names in columns.items():
        for row, n in enumerate(names):
            pos[n] = (20 + col * 150, 20 + row * 60)
    width = 40 + 150 * (max(columns) + 1 if columns else 1)
    height = 40 + 60 * max((len(v) for v in columns.values()), default=1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">'
    ]
    for s, d in edges:
        if s in pos and d in pos and s != d:
            (x1, y1), (x2, y2) = pos[s], pos[d]
            parts.append(
                f'<line x1="{x1 + 120}" y1="{y1 + 18}" x2="{x2}" y2="{y2 + 18}" '
                'stroke="#888" stroke-width="1.2"/>'
            )
    for n, (x, y) in pos.items():
        parts.append(
            f'<rect x="{x}" y="{y}" width="120" height="36" rx="5" fill="#eef3fb" '
            'stroke="#4a6fa5"/>'
            f'<text x="{x + 60}" y="{y + 15}" text-anchor="middle">{html.escape(n[:18])}</text>'
            f'<text x="{x + 60}" y="{y + 29}" text-anchor="middle" fill="#555">'
            f"{html.escape(types[n])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#1f2328}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
th{background:#f6f8fa} td:first-child,th:first-child{text-align:left}
.status{font-weight:bold;color:white;padding:1px 6px;border-radius:4px}
img{max-width:100%;margin:0.5em 0} code{background:#f6f8fa;padding:1px 4px}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
"""


def render_html(doc: dict[str, Any], folder: Path) -> str:
    """The page for ``report.json``'s document ``doc`` (figures read from ``folder``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    runners = next(iter(doc["matrices"].values()), {}).get("runners", ["reference"])
    verdict = "PASSED" if doc["passed"] else "FAILED"
    colour = STATUS_COLOURS["pass" if doc["passed"] else "fail"]
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>nirhub verify: {html.escape(doc['source'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>nirhub verify <span class='status' style='background:{colour}'>{verdict}</span></h1>",
        f"<p>Model <code>{html.escape(doc['source'])}</code>, data <code>"
        f"{html.escape(doc['data'])}</code>: {doc['completed']} of {doc['samples']} samples, "
        f"dt = {doc['dt']:g} s, labels: {html.escape(str(doc['labels'] or 'none'))}.</p>",
    ]
    rows = []
    for b in doc["backends"]:
        badge = (
            f"<span class='status' style='background:{STATUS_COLOURS.get(b['status'], '#888')}'>"
            f"{html.escape(b['status'])}</span>"
        )
        acc = b.get("accuracy") or {}
        rows.append(
            [
                html.escape(b["name"]),
                html.escape(b["kind"]),
                badge,
                _fmt(b.get("similarity")),
                _fmt(b.get("min_similarity"), 2),
                _fmt(acc.get("accuracy")),
                _fmt(acc.get("agreement")),
                str(len(b.get("failures", []))),
                html.escape(b.get("reason", "")),
            ]
        )
    out.append("<h2>Backends</h2>")
    out.append(
        _table(
            [
                "backend",
                "kind",
                "status",
                "similarity",
                "threshold",
                "accuracy",
                "agreement",
                "failed samples",
                "reason",
            ],
            rows,
        )
    )
    layer_rows = []
    for b in doc["backends"]:
        for layer, s in b["layers"].items():
            layer_rows.append(
                [
                    html.escape(b["name"]),
                    html.escape(layer),
                    _fmt(s["similarity_mean"]),
                    _fmt(s["similarity_min"]),
                    f"{s['differing_cells']} / {s['cells']}",
                    _fmt(s["spike_count_ratio"], 3),
                    str(s["latency"]),
                    str(s["differing_cells_aligned"]),
                    _fmt(s["voltage_r_mean"]),
                ]
            )
    if layer_rows:
        out.append("<h2>Per layer</h2>")
        out.append(
            _table(
                [
                    "backend",
                    "layer",
                    "similarity (mean)",
                    "min",
                    "differing cells",
                    "spike-count ratio",
                    "latency",
                    "differing after latency",
                    "voltage r",
                ],
                layer_rows,
            )
        )
        bars = _bars(doc["backends"], doc["layers"])
        if bars:
            out.append(bars)
    ref_acc = (doc.get("reference") or {}).get("accuracy") or {}
    acc_rows = [["reference", _fmt(ref_acc.get("accuracy")), "–", str(ref_acc.get("samples", 0))]]
    for b in doc["backends"]:
        acc = b.get("accuracy") or {}
        if acc:
            acc_rows.append(
                [
                    html.escape(b["name"]),
                    _fmt(acc.get("accuracy")),
                    _fmt(acc.get("agreement")),
                    str(acc.get("samples", 0)),
                ]
            )
    labels = {"dataset": "the data set's labels", "reference": "the reference's predictions"}
    out.append(
        "<h2>Accuracy</h2><p>Prediction: argmax of the output spike counts; labels: "
        f"{labels.get(doc['labels'] or '', 'none (agreement with the reference only)')}.</p>"
    )
    out.append(_table(["runner", "accuracy", "agreement with the reference", "samples"], acc_rows))
    out.append("<h2>Backend × backend similarity</h2><div class='figs'>")
    for layer, m in doc["matrices"].items():
        out.append(_heatmap(layer, m["runners"], m["values"]))
    out.append("</div>")
    out.append(f"<h2>Spikes of sample {doc['raster_sample']}</h2>")
    for layer in doc["layers"]:
        raster = _rasters(folder, runners, layer)
        if raster:
            out.append(raster)
    out.append("<h2>Graph</h2>" + _graph_svg(doc.get("graph", {})))
    failures = [(b["name"], f) for b in doc["backends"] for f in b.get("failures", [])]
    if failures:
        out.append("<h2>Failures</h2>")
        out.append(
            _table(
                ["backend", "sample", "error"],
                [
                    [html.escape(n), str(f["sample"]), html.escape(f"{f['type']}: {f['message']}")]
                    for n, f in failures[:200]
                ],
            )
        )
    warns = [(b["name"], w) for b in doc["backends"] for w in b.get("warnings", [])]
    if warns:
        out.append("<h2>What the backends said</h2><ul>")
        out.extend(f"<li><b>{html.escape(n)}</b>: {html.escape(w)}</li>" for n, w in warns)
        out.append("</ul>")
    out.append(
        "<details><summary>report.json</summary><pre>"
        + html.escape(json.dumps({k: doc[k] for k in ("samples", "completed", "dt", "layers")}))
        + "</pre></details></body></html>"
    )
    return "\n".join(out)


def write_html(report: Any, folder: Path) -> Path:
    from nirhub.hub.verify_files import json_default, write_text_atomically

    doc = json.loads(json.dumps(report.to_json(), default=json_default))
    target = folder / "report.html"
    write_text_atomically(target, render_html(doc, folder))
    return target
