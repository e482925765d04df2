"""The resource report printed by ``nirhub convert ... --to xylo``."""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub_xylo.mapping import XyloModel


def _rel_error(w_float: np.ndarray, w_int: np.ndarray, scale: np.ndarray) -> float:
    """RMS error of the dequantized weights relative to the weights' RMS (0 for no weights)."""
    back = w_int / scale
    ref = float(np.sqrt(np.mean(w_float**2))) if w_float.size else 0.0
    if ref == 0.0:
        return 0.0
    return float(np.sqrt(np.mean((back - w_float) ** 2)) / ref)


def quantization_errors(model: XyloModel) -> dict[str, Any]:
    f, q = model.float_spec, model.spec
    s_h, s_o = model.scale_hidden, model.scale_out
    w_in = f["weights_in"][:, :, : q["weights_in"].shape[2]]
    w_rec = f["weights_rec"][:, :, : q["weights_rec"].shape[2]]
    # the chip's weight is the int8 value shifted left (weight_shift_*)
    shifted = {
        k: q[f"weights_{k}"] * 2 ** int(q[f"weight_shift_{k}"]) for k in ("in", "rec", "out")
    }
    out: dict[str, Any] = {
        f"input weights ({', '.join(model.weight_paths['in'])})": _rel_error(
            w_in, shifted["in"], s_h[None, : w_in.shape[1], None]
        ),
        f"output weights ({', '.join(model.weight_paths['out'])})": _rel_error(
            f["weights_out"], shifted["out"], s_o[None, :]
        ),
    }
    if np.any(q["weights_rec"]):
        out[f"recurrent weights ({', '.join(model.weight_paths['rec'])})"] = _rel_error(
            w_rec, shifted["rec"], s_h[None, :, None]
        )
    for p in model.populations:
        hid = p.role == "hidden"
        sfx = "" if hid else "_out"
        s = (s_h if hid else s_o)[p.ids]
        thr = f[f"threshold{sfx}"][p.ids]
        out[f"thresholds ({p.path})"] = float(
            np.max(np.abs(q[f"threshold{sfx}"][p.ids] / s - thr) / np.abs(thr))
        )
        for kind in ("mem", "syn"):
            d = f[f"dash_{kind}{sfx}"][p.ids]
            a, a_q = 1 - np.exp2(-d), 1 - np.exp2(-np.round(d))
            out[f"{'membrane' if kind == 'mem' else 'synaptic'} decay ({p.path})"] = float(
                np.max(np.abs(a_q - a))
            )
    return {k: round(v, 4) for k, v in out.items()}


def resource_report(model: XyloModel) -> dict[str, Any]:
    chip, q = model.chip, model.spec
    n_hid = int(q["weights_rec"].shape[0])
    n_out = int(q["weights_out"].shape[1])
    hidden = [p for p in model.populations if p.role == "hidden"]
    used_syn = int(q["weights_in"].shape[2])
    nz = {k: int(np.count_nonzero(q[k])) for k in ("weights_in", "weights_rec", "weights_out")}
    decays = {}
    for p in model.populations:
        sfx = "" if p.role == "hidden" else "_out"
        decays[p.path] = (
            f"dash_mem {sorted({int(v) for v in q[f'dash_mem{sfx}'][p.ids]})}, "
            f"dash_syn {sorted({int(v) for v in q[f'dash_syn{sfx}'][p.ids]})}"
        )
    return {
        "chip": chip.title,
        "dt": model.dt,
        "input channels": f"{model.n_inputs} / {chip.inputs}",
        "hidden neurons": f"{n_hid} / {chip.hidden}"
        + (f" ({', '.join(f'{p.path}: {p.ids.size}' for p in hidden)})" if hidden else ""),
        "output neurons": f"{n_out} / {chip.outputs}",
        "synapses per hidden neuron": f"{used_syn} / {chip.synapses_per_hidden}",
        "weights (non-zero)": f"input {nz['weights_in']}, recurrent {nz['weights_rec']}, "
        f"output {nz['weights_out']}",
        "bit widths": f"weights int{chip.weight_bits} (shifts in/rec/out "
        f"{q['weight_shift_in']}/{q['weight_shift_rec']}/{q['weight_shift_out']}), "
        f"thresholds int{chip.threshold_bits} ({int(q['threshold'].min())}..."
        f"{int(q['threshold'].max())}; out {int(q['threshold_out'].min())}..."
        f"{int(q['threshold_out'].max())}), biases int{chip.bias_bits}",
        "decay shifts": decays,
        "quantization error (relative)": quantization_errors(model),
        "inter-layer delay": f"{model.n_hidden_layers} step(s) from input to output "
        "spikes on the chip (undone by the run hook)",
    }
