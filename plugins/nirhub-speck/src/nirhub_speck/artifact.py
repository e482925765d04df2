"""The deployable artifact: the discretized network and its core map, and (with the real samna)
the chip configuration.

Without samna (always written)::

    <stem>.json   description: format, versions, chip, input shape, per layer its core, shapes,
                  kernel/stride/padding/pooling, integer thresholds, reset, memory, NIR nodes
    <stem>.npz    per layer ``layer<i>.weight`` (int8, (out, in, k, k), torch layout) and
                  ``layer<i>.bias`` (int8, (out,)) when the layer has a bias

Each layer also records whether its ties are exact (``ties``: NIR's ``v > v_threshold`` kept
with ``v_threshold_units`` chip units per threshold) and its membrane's ``initial_value`` (-1
for an exact layer that resets by subtraction; sinabs' ``make_config`` writes it as the chip's
``neurons_initial_value``).

With SynSense's real samna also ``<stem>.samna.json`` (the configuration object's JSON).
That branch cannot run on a machine without samna and is untested here.

:func:`rebuild_network` turns the two files back into a sinabs ``DynapcnnNetwork`` with exactly
these integers (``discretize=False``); ``python -m nirhub_speck.samna_config <stem>.json`` does
that and writes the samna configuration on a machine with samna.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import FileFormatError, UsageError, write_atomically
from nirhub_speck.build import SpeckModel, start_at

FORMAT = "nirhub-speck-network"
FORMAT_VERSION = 1


def describe(model: SpeckModel, weights_file: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, (spec, layer) in enumerate(zip(model.plan.layers, model.layers, strict=True)):
        w = layer.conv.weight.detach().double().numpy()
        arrays[f"layer{i}.weight"] = _int8(w, f"layer {i} weights")
        entry = spec.to_json()
        entry["weight_key"] = f"layer{i}.weight"
        if layer.conv.bias is not None:
            arrays[f"layer{i}.bias"] = _int8(layer.conv.bias.detach().double().numpy(), "bias")
            entry["bias_key"] = f"layer{i}.bias"
        entry.update(
            {
                "core": model.core_map[i],
                "threshold_high": int(round(float(layer.spk.spike_threshold))),
                "threshold_low": int(round(float(layer.spk.min_v_mem))),
                "return_to_zero": spec.reset == "zero",
                "destinations": [i + 1] if i + 1 < len(model.plan.layers) else [],
                "scale": model.scales[i],
                "channel_thresholds": [float(v) for v in model.channel_thresholds[i]],
                "weight_rms_error": model.weight_errors[i],
                "initial_value": model.initial_values[i] if model.initial_values else 0,
                "ties": ties_entry(model, i),
            }
        )
        layers.append(entry)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "chip": model.chip,
        "device": model.device,
        "versions": model.versions,
        "dt": model.dt,
        "input_shape": list(model.plan.input_shape),
        "graph_input_shape": list(model.plan.graph_input_shape),
        "output_flat": model.plan.output_flat,
        "weights_file": weights_file,
        "neuron": {
            "model": "IAF (sinabs IAFSqueeze)",
            "spike_fn": "SingleSpike",
            "reset": "per layer: return_to_zero true = MembraneReset, false = MembraneSubtract",
            "fires": "v >= threshold_high",
            "floor": "v is clipped at threshold_low",
            "initial": "v starts at initial_value (-1 where an exact subtract layer counts "
            "v - 1; missing: 0)",
        },
        "layers": layers,
        "make_config": (
            f"python -m nirhub_speck.samna_config <this file> --device {model.device}:0 "
            "-o config.json   (needs SynSense's real samna)"
        ),
    }
    return doc, arrays


def ties_entry(model: SpeckModel, i: int) -> dict[str, Any]:
    """Whether layer ``i`` keeps NIR's ``v > v_threshold`` exactly, and with which scale."""
    from nirhub_speck.ties import ExactLayer

    tie = model.ties[i] if model.ties else "unknown"
    if isinstance(tie, ExactLayer):
        return {"exact": True, "v_threshold_units": tie.units}
    return {"exact": False, "why": tie}


def _int8(values: np.ndarray, what: str) -> np.ndarray:
    r = np.rint(values)
    if np.any(r != values) or r.min(initial=0) < -128 or r.max(initial=0) > 127:
        raise UsageError(f"{what} are not 8-bit integers after discretization (plugin bug)")
    return r.astype(np.int8)


def save_model(model: SpeckModel, path: Path, *, force: bool = False) -> list[Path]:
    from nirhub_speck.samna_guard import real_samna

    path = Path(path)
    stem = path.name[: -len(path.suffix)] if path.suffix in (".json", ".npz") else path.name
    folder = path.parent
    weights = folder / f"{stem}.npz"
    doc, arrays = describe(model, weights.name)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    written = [
        write_atomically(weights, buf.getvalue(), force=force),
        write_atomically(
            folder / f"{stem}.json", (json.dumps(doc, indent=1) + "\n").encode(), force=force
        ),
    ]
    if real_samna():  # pragma: no cover - needs SynSense's samna (not installable here)
        written.append(write_samna_config(model, folder / f"{stem}.samna.json", force=force))
    return written


def write_samna_config(model: Any, target: Path, *, force: bool = False) -> Path:
    """The samna configuration of ``model`` (a SpeckModel or a rebuilt DynapcnnNetwork).

    UNTESTED here: needs SynSense's real samna. Written from sinabs' documented API:
    ``DynapcnnNetwork.make_config(layer2core_map=..., device=...)`` returns a samna
    configuration object, which samna serialises with ``to_json()``.
    """
    from nirhub.backend import BackendUnavailableError
    from nirhub_speck.samna_guard import real_samna

    if not real_samna():
        raise BackendUnavailableError(
            "writing the Speck configuration needs SynSense's real samna (pip's samna is a "
            "stub; nirhub never imports it)",
            hint="Run this on a machine with samna installed from SynSense.",
        )
    net = model.network if isinstance(model, SpeckModel) else model[0]
    core_map = model.core_map if isinstance(model, SpeckModel) else model[1]
    device = model.device if isinstance(model, SpeckModel) else model[2]
    config = net.make_config(layer2core_map=core_map, device=device)
    return write_atomically(target, config.to_json().encode(), force=force)


def load_artifact(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The description and the integer arrays of an artifact (``<stem>.json``)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"cannot read {path}: {exc}", path=str(path)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FileFormatError(f"{path} is not a {FORMAT} file", path=str(path))
    if doc.get("format_version") != FORMAT_VERSION:
        raise FileFormatError(
            f"{path}: format version {doc.get('format_version')} (this reader: {FORMAT_VERSION})",
            path=str(path),
        )
    weights = path.parent / doc["weights_file"]
    with np.load(weights, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return doc, arrays


def rebuild_network(path: str | Path) -> tuple[Any, dict[int, int], str]:
    """``(DynapcnnNetwork, layer2core_map, device)`` with exactly the artifact's integers."""
    import sinabs
    import sinabs.layers as sl
    import torch

    from nirhub_speck.samna_guard import import_dynapcnn

    doc, arrays = load_artifact(path)
    dynapcnn = import_dynapcnn()
    seq = torch.nn.Sequential()
    for entry in doc["layers"]:
        w = torch.as_tensor(arrays[entry["weight_key"]].astype(np.float32))
        has_bias = "bias_key" in entry
        conv = torch.nn.Conv2d(
            w.shape[1],
            w.shape[0],
            kernel_size=int(entry["kernel_size"]),
            stride=tuple(entry["stride"]),
            padding=tuple(entry["padding"]),
            bias=has_bias,
        )
        with torch.no_grad():
            conv.weight.copy_(w)
            if has_bias:
                conv.bias.copy_(torch.as_tensor(arrays[entry["bias_key"]].astype(np.float32)))
        seq.append(conv)
        seq.append(
            sl.IAFSqueeze(
                spike_threshold=float(entry["threshold_high"]),
                min_v_mem=float(entry["threshold_low"]),
                spike_fn=sinabs.activation.SingleSpike,
                reset_fn=sinabs.activation.MembraneReset()
                if entry["return_to_zero"]
                else sinabs.activation.MembraneSubtract(),
                batch_size=1,
            )
        )
        if int(entry["pooling"]) > 1:
            seq.append(sl.SumPool2d(int(entry["pooling"])))
    with torch.no_grad():
        net = dynapcnn.DynapcnnNetwork(
            seq, input_shape=tuple(doc["input_shape"]), batch_size=1, discretize=False
        )
    for i, entry in enumerate(doc["layers"]):  # make_config writes it as neurons_initial_value
        shape = tuple(int(v) for v in entry["neuron_shape"])
        start_at(net.dynapcnn_layers[i].spk, shape, 1, int(entry.get("initial_value", 0)))
    core_map = {int(e["index"]): int(e["core"]) for e in doc["layers"]}
    return net, core_map, str(doc["device"])


def initial_values(doc: dict[str, Any]) -> list[int]:
    """Per layer: the membrane's initial value recorded in an artifact's description."""
    return [int(e.get("initial_value", 0)) for e in doc["layers"]]
