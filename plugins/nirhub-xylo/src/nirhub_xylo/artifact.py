"""The deployable artifact: a quantized Xylo specification (.npz), or with SynSense's real samna
the chip configuration (.json, samna's ``XyloConfiguration.to_json()``).

Specification file (``nirhub-xylo-spec``, version 1): a NumPy ``.npz`` (no pickles; load with
``np.load(path, allow_pickle=False)``) holding rockpool's specification keys as integer
arrays — ``weights_in (Nin, Nhid, 1)``, ``weights_rec (Nhid, Nhid, 1)``, ``weights_out
(Nhid, Nout)``, ``dash_mem, dash_syn, dash_syn_2, threshold, bias (Nhid,)``, ``dash_mem_out,
dash_syn_out, threshold_out, bias_out (Nout,)``, ``weight_shift_in/rec/out ()`` — plus
``meta``, a JSON string: format, version, chip, part, dt, the NIR node of every population and
its neuron indices, the quantization scales, and the command that turns the file into the
chip configuration on a machine with the real samna::

    nirhub xylo-config model.npz -o model.json

Without nirhub: ``spec = dict(np.load(path)); spec.pop("meta");
config, ok, msg = rockpool.devices.xylo.syns61201.config_from_specification(**spec,
bias_hidden=spec.pop("bias"))``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import BackendUnavailableError, FileFormatError, UsageError, write_atomically
from nirhub_xylo.chips import get_chip
from nirhub_xylo.mapping import SPEC_ARRAYS, SPEC_SCALARS, XyloModel

FORMAT = "nirhub-xylo-spec"
VERSION = 1
#: refuse to read spec files larger than this (a full Xylo spec is < 3 MB)
MAX_BYTES = 64 << 20


def spec_meta(model: XyloModel) -> dict[str, Any]:
    from nirhub.backend import __version__

    return {
        "format": FORMAT,
        "version": VERSION,
        "chip": model.chip.name,
        "part": model.chip.part,
        "dt": model.dt,
        "nirhub": __version__,
        "input": model.input_name,
        "output": model.output_name,
        "populations": [
            {"path": p.path, "role": p.role, "ids": p.ids.tolist(), "depth": p.depth}
            for p in model.populations
        ],
        "weights": model.weight_paths,
        "scale_hidden": model.scale_hidden.tolist(),
        "scale_out": model.scale_out.tolist(),
        "config_command": "nirhub xylo-config SPEC.npz -o CONFIG.json (needs SynSense's samna)",
    }


def write_spec(model: XyloModel, path: Path, *, force: bool = False) -> Path:
    arrays = {k: np.asarray(model.spec[k], dtype=np.int64) for k in SPEC_ARRAYS}
    for k in SPEC_SCALARS:
        arrays[k] = np.asarray(int(model.spec[k]), dtype=np.int64)
    arrays["meta"] = np.asarray(json.dumps(spec_meta(model), indent=1))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_atomically(path, buf.getvalue(), force=force)


def read_spec(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, meta) of a specification file, checked (no pickles, sizes bounded)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    if path.stat().st_size > MAX_BYTES:
        raise FileFormatError(f"{path} is larger than any Xylo specification", path=str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = {k: data[k] for k in data.files}
    except Exception as exc:
        raise FileFormatError(
            f"{path} is not a nirhub Xylo specification (.npz): {exc}", path=str(path)
        ) from None
    missing = [k for k in (*SPEC_ARRAYS, *SPEC_SCALARS, "meta") if k not in raw]
    if missing:
        raise FileFormatError(
            f"{path} lacks {', '.join(missing)}: not a {FORMAT} file", path=str(path)
        )
    try:
        meta = json.loads(str(raw.pop("meta")))
    except ValueError:
        raise FileFormatError("meta is not JSON", path=str(path)) from None
    if meta.get("format") != FORMAT or int(meta.get("version", 0)) > VERSION:
        raise FileFormatError(
            f"format {meta.get('format')!r} version {meta.get('version')!r} is not "
            f"{FORMAT} <= {VERSION}",
            path=str(path),
        )
    chip = get_chip(meta.get("chip"))
    spec: dict[str, Any] = {}
    for k in SPEC_ARRAYS:
        arr = raw[k]
        if arr.dtype.kind not in "iu":
            raise FileFormatError(f"{k} is not an integer array", path=str(path))
        spec[k] = arr.astype(np.int64)
    for k in SPEC_SCALARS:
        spec[k] = int(raw[k])
    for k in ("weights_in", "weights_rec", "weights_out"):
        if np.any(np.abs(spec[k]) > chip.weight_max + 1):
            raise FileFormatError(f"{k} exceeds int{chip.weight_bits}", path=str(path))
    return spec, meta


def write_config(spec: dict[str, Any], meta: dict[str, Any], path: Path, *, force: bool) -> Path:
    """The chip configuration (samna JSON), built by rockpool's config_from_specification.

    Needs SynSense's real samna (never the PyPI stub). Not tested in nirhub's CI, which has no
    real samna: written from rockpool's documented ``config_from_specification`` and
    ``save_config`` (``config.to_json()``).
    """
    from nirhub.backend import samna_status

    info = samna_status()
    if not info.real:
        raise BackendUnavailableError(
            f"writing a Xylo chip configuration needs SynSense's samna; found: {info.detail}",
            hint="Install samna from SynSense (the PyPI package is a stub), or keep the "
            ".npz specification and run `nirhub xylo-config SPEC.npz -o CONFIG.json` on a "
            "machine that has it.",
        )
    import importlib

    chip = get_chip(meta.get("chip"))
    mod = importlib.import_module(f"rockpool.devices.xylo.{chip.part}")
    args = dict(spec)
    args["bias_hidden"] = args.pop("bias")  # rockpool's spec calls it "bias": would be dropped
    config, ok, message = mod.config_from_specification(**args)
    if not ok:
        raise UsageError(f"samna rejected the Xylo configuration: {message}")
    text = config.to_json()
    return write_atomically(path, text.encode("utf-8"), force=force)


def save(
    model: XyloModel, path: Path, *, write: str | None = None, force: bool = False
) -> list[Path]:
    path = Path(path)
    if write == "config" or path.suffix == ".json":
        spec = {k: model.spec[k] for k in (*SPEC_ARRAYS, *SPEC_SCALARS)}
        return [write_config(spec, spec_meta(model), path, force=force)]
    return [write_spec(model, path, force=force)]
