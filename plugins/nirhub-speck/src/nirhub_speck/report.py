"""The resource report ``nirhub convert ... --to speck`` prints."""

from __future__ import annotations

from typing import Any

from nirhub.backend import samna_status
from nirhub_speck import chip
from nirhub_speck.build import SpeckModel
from nirhub_speck.samna_guard import real_samna
from nirhub_speck.ties import ExactLayer


def _ties(tie: ExactLayer | str | None) -> str:
    if isinstance(tie, ExactLayer):
        start = ", v starts at -1 (subtract reset)" if tie.initial else ""
        return (
            f"exact: scale {tie.units} chip units per v_threshold, fires at "
            f"v >= {tie.threshold}{start}"
        )
    return f"not exact: {tie}" if tie else "unknown"


def resource_report(model: SpeckModel) -> dict[str, Any]:
    if not isinstance(model, SpeckModel):
        return {}
    layers: dict[str, Any] = {}
    for i, (spec, layer) in enumerate(zip(model.plan.layers, model.layers, strict=True)):
        core = model.core_map[i]
        mem = layer.memory_summary()
        w = layer.conv.weight.detach()
        pools = f", sum pool {spec.pool}x{spec.pool}" if spec.pool > 1 else ""
        layers[f"layer {i} (NIR {spec.weight} -> {spec.neuron}{pools})"] = {
            "core": core,
            "kernel memory": f"{int(mem['kernel'])} / {chip.KERNEL_MEMORY[core]}",
            "neuron memory": f"{int(mem['neuron'])} / {chip.NEURON_MEMORY[core]}",
            "bias memory": f"{int(mem['bias'])} / {chip.BIAS_MEMORY[core]}",
            "weights": f"int8 {int(w.min())}..{int(w.max())}",
            "threshold": f"{int(round(float(layer.spk.spike_threshold)))} "
            f"(floor {int(round(float(layer.spk.min_v_mem)))}, 16-bit)",
            "scale": f"{model.scales[i]:.6g} per threshold",
            "weight error": f"{100 * model.weight_errors[i]:.2f} % (relative RMS)",
            "reset": "to zero" if spec.reset == "zero" else "subtract threshold",
            "ties": _ties(model.ties[i] if model.ties else None),
        }
    inexact = model.inexact_neurons() if model.ties else {}
    return {
        "chip": f"{model.chip} (samna device {model.device})",
        "ties": "exact in every layer (NIR's v > v_threshold: integer chip units, the chip "
        "threshold one unit above)"
        if not inexact
        else f"not exact at {', '.join(sorted(inexact))} (the chip fires at v >= threshold; "
        "see the conversion warning for the measured effect)",
        "cores used": f"{len(model.core_map)} of {chip.CORES}",
        "layers": layers,
        "samna": "real: the configuration is written"
        if real_samna()
        else f"real samna not installed (found: {samna_status().status}, never imported): "
        "the artifact is the discretized "
        "network + core map; make the configuration with python -m nirhub_speck.samna_config",
        "sinabs": model.versions.get("sinabs", ""),
    }
