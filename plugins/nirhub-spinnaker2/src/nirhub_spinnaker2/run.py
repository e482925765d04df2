"""``nirhub simulate --backend spinnaker2``: lower, write the artifact (in memory), emulate it.

The emulator runs the network as read back from the artifact's own JSON + arrays, so what is
simulated is exactly what ``load_s2net.py`` would give py-spinnaker2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_graph(
    graph: Any, inputs: Any, dt: float, *, record: tuple[str, ...] = (), **options: Any
) -> Any:
    import json

    from nirhub.backend import SimulationResult
    from nirhub_spinnaker2.artifact import from_doc, to_files
    from nirhub_spinnaker2.emulator import emulate
    from nirhub_spinnaker2.network import lower
    from nirhub_spinnaker2.options import lowering_options

    lowering = lowering_options(options)
    lowering["dt"] = dt
    net = lower(graph, **lowering)
    if net.options.get("rounding") != "none":
        doc, arrays = to_files(net, "network")
        doc = json.loads(json.dumps(doc))
        net = from_doc(doc, arrays, Path("network.json"))
    precision = options.get("precision") or "float32"
    latency = options.get("latency") or "compensated"
    got = emulate(net, inputs, record=tuple(record), precision=precision, latency=latency)
    from nirhub.ir.graph import infer_shapes

    shapes = infer_shapes(graph)
    for name, arr in got["outputs"].items():  # a Flatten before an Output
        shape = shapes.input(name)
        if shape is not None:
            got["outputs"][name] = arr.reshape(
                *arr.shape[: arr.ndim - len(net.populations[net.outputs[name]].shape)], *shape
            )
    shifted = {p: s for p, s in got["shift"].items() if s and p not in net.inputs}
    return SimulationResult(
        outputs=got["outputs"],
        recorded=got["recorded"],
        dt=float(dt),
        method="spinnaker2",
        steps=got["steps"],
        batch_size=got["batch_size"],
        conventions={
            "backend": f"nirhub's emulator of SpiNNaker2's neuron kernels ({precision})",
            "quantization": f"weights {net.options['rounding']} to integers after the "
            f"per-population weight scale ({net.options['weight_scale']}); float32 parameters",
            "integrator": net.options["integrator"],
            "threshold": "v > threshold (strict)",
            "reset": {p.name: p.reset for p in net.populations.values() if p.model != "spike_list"},
            "delay": (
                "one tick per projection, compensated (populations read "
                + ", ".join(f"{p} {s}" for p, s in shifted.items())
                + " tick(s) later)"
                if latency == "compensated"
                else "raw: the chip's time axis (one tick per projection, as the paper's "
                "recordings)"
            ),
            "recorded_v": "chip voltage divided by the population's scale (NIR units), after "
            "the reset",
            "inputs": "spike_list events (0/1)"
            if net.options.get("rounding") != "none"
            else "graded values accepted (rounding=none, emulator only)",
            "initial_state": "v = 0, I = 0",
            "notes": list(net.notes),
        },
    )
