"""The deployable artifact: ``NAME.json`` + ``NAME.npz`` + ``load_s2net.py``.

``NAME.json`` (format ``nirhub-spinnaker2-net``, version 1) describes the network in
py-spinnaker2's terms and loads without nirhub::

    {"format": "nirhub-spinnaker2-net", "version": 1, "nirhub": "0.1.0",
     "arrays": "NAME.npz", "source_graph_sha256": "...", "options": {...}, "dt": 0.0001,
     "inputs": [population, ...], "outputs": {output node: population},
     "populations": [{"name", "model", "shape", "size", "reset", "w_scale",
                      "max_atoms_per_core", "pes", "record", "params": {param: npz key},
                      "v_scale": npz key}],
     "projections": [{"name", "kind": "dense"|"sparse"|"conv", "pre", "post", "delay",
                      "weights": npz key, "delays": npz key (NIR Delay steps per synapse,
                      optional), "nir_nodes": [...],
                      conv only: "stride", "padding", "pool"}]}

``NAME.npz`` (no pickles: ``np.load(path, allow_pickle=False)``) holds the arrays under
neutral keys (``p3_threshold``, ``w0``; node names never become keys or code): per-neuron
float32 parameters in CHW order, integer weights as ``(post, pre)`` matrices (dense/sparse)
or ``(C_out, C_in, kH, kW)`` int8 kernels (conv). ``load_s2net.py`` rebuilds the network with
py-spinnaker2's public API (``snn.Population``, ``snn.Projection``, ``snn.Conv2DProjection``,
``snn.Network``) and runs it on a chip or on its Brian2 backend; it reads both files and never
contains node names.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import FileFormatError, RefusedError, UsageError, write_atomically
from nirhub_spinnaker2.limits import place
from nirhub_spinnaker2.model import Population, Projection, S2Network

FORMAT = "nirhub-spinnaker2-net"
VERSION = 1
SCRIPT = "load_s2net.py"
#: refuse artifacts larger than this (one chip holds far less)
MAX_BYTES = 256 << 20
MODELS = (
    "spike_list",
    "lif_no_delay",
    "lif_curr_exp_no_delay",
    "lif_conv2d",
    "lif",
    "lif_curr_exp",
)


def to_files(net: S2Network, stem: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(JSON document, npz arrays) of a network."""
    from nirhub.backend import __version__

    arrays: dict[str, np.ndarray] = {}
    pes = {pl.population: pl for pl in place(net)}
    pops = []
    for i, pop in enumerate(net.populations.values()):
        params = {}
        for k, v in pop.params.items():
            arrays[f"p{i}_{k}"] = np.asarray(v, dtype=np.float32)
            params[k] = f"p{i}_{k}"
        entry: dict[str, Any] = {
            "name": pop.name,
            "model": pop.model,
            "source": pop.source,
            "shape": list(pop.shape),
            "size": pop.size,
            "reset": pop.reset,
            "w_scale": pop.w_scale,
            "max_atoms_per_core": pes[pop.name].per_pe,
            "pes": pes[pop.name].pes,
            "record": list(pop.record),
            "params": params,
        }
        if pop.v_scale is not None:
            arrays[f"p{i}_v_scale"] = np.asarray(pop.v_scale, dtype=np.float64)
            entry["v_scale"] = f"p{i}_v_scale"
        pops.append(entry)
    projs = []
    for j, p in enumerate(net.projections):
        w = np.asarray(p.weights)
        arrays[f"w{j}"] = w.astype(np.int8) if p.kind == "conv" else w.astype(np.int16)
        entry = {
            "name": p.name,
            "kind": p.kind,
            "pre": p.pre,
            "post": p.post,
            "delay": int(p.delay),
            "weights": f"w{j}",
            "nir_nodes": list(p.nodes),
        }
        if p.delays is not None:
            arrays[f"d{j}"] = np.asarray(p.delays, dtype=np.int8)
            entry["delays"] = f"d{j}"
        if p.kind == "conv":
            entry.update(stride=list(p.stride), padding=list(p.padding))
            entry["pool"] = list(p.pool) if p.pool else None
        projs.append(entry)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "nirhub": __version__,
        "arrays": f"{stem}.npz",
        "source_graph_sha256": net.graph_hash,
        "options": net.options,
        "dt": net.dt,
        "inputs": list(net.inputs),
        "outputs": dict(net.outputs),
        "populations": pops,
        "projections": projs,
        "notes": list(net.notes),
        "run": "python load_s2net.py NAME.json INPUT.npy [--brian2] (needs py-spinnaker2)",
    }
    return doc, arrays


def save(net: S2Network, path: Path, *, force: bool = False) -> list[Path]:
    """Write NAME.json, NAME.npz and load_s2net.py next to them; all or nothing."""
    if net.options.get("rounding") == "none":
        raise UsageError(
            "-O rounding=none keeps float weights: an emulator-only analysis mode, not deployable",
            hint="Use rounding=trunc (what the chip gets) or rounding=nearest.",
        )
    path = Path(path)
    json_path = path.with_suffix(".json")
    npz_path = path.with_suffix(".npz")
    script = path.parent / SCRIPT
    targets = [json_path, npz_path, script]
    text = load_script()
    # the script is the same for every network: an identical copy is not a conflict
    same_script = script.is_file() and script.read_text(encoding="utf-8") == text
    if not force:
        existing = [str(t) for t in targets if t.exists() and not (t == script and same_script)]
        if existing:
            raise RefusedError(
                f"{', '.join(existing)} already exist(s); nothing was written",
                hint="Pass --force to overwrite.",
            )
    doc, arrays = to_files(net, path.stem)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_atomically(npz_path, buf.getvalue(), force=True)
    write_atomically(json_path, (json.dumps(doc, indent=1) + "\n").encode(), force=True)
    if not same_script:
        write_atomically(script, text.encode(), force=True)
    return targets


def load_script() -> str:
    """The text of ``load_s2net.py`` (a static script: no node names, no generated code)."""
    from importlib.resources import files

    return (files("nirhub_spinnaker2") / "templates" / SCRIPT).read_text(encoding="utf-8")


def _fail(path: Path, msg: str) -> FileFormatError:
    return FileFormatError(msg, path=str(path))


def read(path: Path) -> S2Network:
    """An artifact back as an S2Network (checked: format, sizes, models, weight ranges)."""

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    if path.stat().st_size > MAX_BYTES:
        raise _fail(path, "larger than any SpiNNaker2 network description")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(path, f"not a {FORMAT} file")
    if int(doc.get("version", 0)) > VERSION:
        raise _fail(path, f"version {doc.get('version')} is newer than {VERSION}")
    npz = path.parent / Path(str(doc.get("arrays", ""))).name
    if not npz.is_file() or npz.stat().st_size > MAX_BYTES:
        raise _fail(path, f"its arrays file {npz.name} is missing or too large")
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise _fail(npz, f"not a readable .npz: {exc}") from None
    return from_doc(doc, arrays, path)


def from_doc(doc: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> S2Network:
    """The network of a parsed artifact (``path`` names it in errors)."""
    from nirhub_spinnaker2.limits import WEIGHT_RANGE

    npz = Path(str(doc.get("arrays", "")))

    def arr(key: Any) -> np.ndarray:
        if key not in arrays:
            raise _fail(path, f"array {key!r} is missing from {npz.name}")
        return arrays[key]

    try:
        pops: dict[str, Population] = {}
        for e in doc["populations"]:
            if e["model"] not in MODELS:
                raise _fail(path, f"population {e['name']!r}: unknown model {e['model']!r}")
            shape = tuple(int(x) for x in e["shape"])
            pop = Population(
                str(e["name"]),
                str(e["model"]),
                shape,
                {k: arr(v).astype(np.float32) for k, v in e["params"].items()},
                reset=str(e["reset"]),
                w_scale=float(e["w_scale"]),
                source=str(e.get("source", "")),
                max_atoms_per_core=int(e["max_atoms_per_core"]),
                record=tuple(e.get("record", ("spikes",))),
                v_scale=arr(e["v_scale"]).astype(np.float64) if "v_scale" in e else None,
            )
            if any(v.shape != (pop.size,) for v in pop.params.values()):
                raise _fail(path, f"population {pop.name!r}: parameters do not fit its size")
            pops[pop.name] = pop
        projs = []
        for e in doc["projections"]:
            if e["pre"] not in pops or e["post"] not in pops:
                raise _fail(path, f"projection {e['name']!r} connects unknown populations")
            w = arr(e["weights"])
            if w.dtype.kind not in "iu":
                raise _fail(path, f"projection {e['name']!r}: weights are not integers")
            post = pops[e["post"]]
            if w.size and np.max(np.abs(w.astype(np.int64))) > WEIGHT_RANGE[post.model]:
                raise _fail(path, f"projection {e['name']!r}: weights outside {post.model}'s range")
            pre = pops[e["pre"]]
            if e["kind"] == "conv":
                if w.ndim != 4 or w.shape[1] != pre.shape[0]:
                    raise _fail(path, f"projection {e['name']!r}: kernel does not fit {pre.name}")
            elif w.shape != (post.size, pre.size):
                raise _fail(path, f"projection {e['name']!r}: weights do not fit the populations")
            delays = arr(e["delays"]).astype(np.int64) if e.get("delays") else None
            if delays is not None and (
                delays.shape != w.shape or delays.min() < 0 or int(e["delay"]) + delays.max() > 7
            ):
                raise _fail(path, f"projection {e['name']!r}: delays outside the 3-bit field")
            projs.append(
                Projection(
                    str(e["name"]),
                    pre.name,
                    post.name,
                    str(e["kind"]),
                    w.astype(np.float64),
                    w.astype(np.int64),
                    int(e["delay"]),
                    stride=tuple(e.get("stride") or (1, 1)),  # type: ignore[arg-type]
                    padding=tuple(e.get("padding") or (0, 0)),  # type: ignore[arg-type]
                    pool=tuple(e["pool"]) if e.get("pool") else None,  # type: ignore[arg-type]
                    nodes=tuple(e.get("nir_nodes", ())),
                    delays=delays,
                )
            )
        return S2Network(
            populations=pops,
            projections=projs,
            inputs=[str(x) for x in doc["inputs"]],
            outputs={str(k): str(v) for k, v in doc["outputs"].items()},
            dt=float(doc["dt"]),
            options=dict(doc.get("options", {})),
            notes=list(doc.get("notes", [])),
            graph_hash=str(doc.get("source_graph_sha256", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"malformed network description: {exc!r}") from None
