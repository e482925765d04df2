"""IR -> the source of a standalone Python module that builds a Spyx/Flax model.

The module needs numpy, jax, flax and spyx only. It defines ``build_model(weights=None,
dtype=jnp.float32)`` returning a :class:`~nirhub_spyx.runtime.GraphModel` and ``run(x)``;
the arrays live in an ``.npz`` next to it (or are passed as a dict, which is how the importer
builds the in-memory model from the very same code). Nothing here imports jax.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import (
    Problem,
    UnsupportedError,
    check_euler_decay,
    comment,
    delay_steps,
    make_plan,
    variant_hint,
    variant_problems,
)
from nirhub.backend.codestyle import expression, literal, string, tidy
from nirhub.backend.spec_artifact import embedded_spec_lines, weights_loader_lines
from nirhub.ir.conventions import reset_mode
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLI,
    CubaLIF,
    Delay,
    Flatten,
    I,
    Input,
    Linear,
    Node,
    Output,
    Scale,
    SumPool2d,
    Threshold,
)
from nirhub_spyx.marker import MARKER


@dataclass
class Layer:
    """One node: the runtime class, its array arguments (keys of ``arrays``) and literals."""

    path: str
    cls: str | None  # None: identity (ports, relays)
    arrays: dict[str, str] = field(default_factory=dict)
    literals: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelSpec:
    dt: float
    method: str
    layers: list[Layer]
    edges: list[tuple[str, str]]
    order: list[str]
    back_edges: list[tuple[str, str]]
    breaking: list[str]
    inputs: list[str]
    outputs: list[str]
    shapes: dict[str, tuple[int, ...]]
    in_shapes: dict[str, tuple[int, ...]]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> str:
        data = {
            "dt": self.dt,
            "method": self.method,
            "layers": [
                {"path": la.path, "cls": la.cls, "arrays": la.arrays, "literals": la.literals}
                for la in self.layers
            ],
            "edges": self.edges,
            "order": self.order,
            "back_edges": self.back_edges,
            "breaking": self.breaking,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "shapes": {k: list(v) for k, v in self.shapes.items()},
            "in_shapes": {k: list(v) for k, v in self.in_shapes.items()},
            "arrays": sorted(self.arrays),
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, arrays: dict[str, np.ndarray]) -> ModelSpec:
        d = json.loads(text)
        missing = [k for k in d["arrays"] if k not in arrays]
        if missing:
            raise KeyError(f"the weights file lacks {', '.join(missing[:5])}")
        layers = [Layer(la["path"], la["cls"], la["arrays"], la["literals"]) for la in d["layers"]]
        return cls(
            float(d["dt"]),
            str(d["method"]),
            layers,
            [tuple(e) for e in d["edges"]],
            list(d["order"]),
            [tuple(e) for e in d["back_edges"]],
            list(d["breaking"]),
            list(d["inputs"]),
            list(d["outputs"]),
            {k: tuple(v) for k, v in d["shapes"].items()},
            {k: tuple(v) for k, v in d["in_shapes"].items()},
            {k: arrays[k] for k in d["arrays"]},
        )


def _key(spec: ModelSpec, path: str, name: str, value: Any) -> str:
    key = re.sub(r"[^\w.:-]", "_", f"{path}.{name}")
    base, i = key, 1
    while key in spec.arrays:
        key = f"{base}.{i}"
        i += 1
    spec.arrays[key] = np.asarray(value)
    return key


def lower(graph: Graph, dt: float, *, method: str = "euler", reset: str | None = None) -> ModelSpec:
    """Describe the Spyx model reproducing ``nirhub.simulate(graph, dt, method=method)``."""
    if method not in ("euler", "exact"):
        raise ValueError(f"method must be 'euler' or 'exact', got {method!r}")
    flat = flatten(graph)
    check_euler_decay(flat.nodes.items(), float(dt), method)
    info = infer_shapes(graph)
    ins = {p: tuple(info.inputs[p]) for p in flat.nodes}
    outs = {p: tuple(info.outputs[p]) for p in flat.nodes}
    steps: dict[str, np.ndarray] = {}
    for p, node in flat.nodes.items():
        if isinstance(node, Delay):
            steps[p] = delay_steps(np.broadcast_to(np.asarray(node.delay, np.float64), ins[p]), dt)
    breaking = {p for p, k in steps.items() if int(k.min()) >= 1}
    plan = make_plan(flat, breaking)
    order = [p for u in plan.units for p in u.nodes]
    spec = ModelSpec(
        float(dt),
        method,
        [],
        list(flat.edges),
        order,
        sorted(plan.back_edges),
        sorted(breaking),
        list(flat.inputs),
        list(flat.outputs),
        outs,
        ins,
    )
    # Spyx's neurons: single spikes at v > thr, no lower bound, Euler/coupled synapses
    problems: list[Problem] = variant_problems(graph, (), "spyx", method=method)
    for path in flat.nodes:  # the graph's own order (exports keep it); ORDER is the schedule
        node = flat.nodes[path]
        try:
            spec.layers.append(
                _layer(spec, graph, path, node, ins[path], outs[path], steps, flat.relays, reset)
            )
        except UnsupportedError as exc:
            problems += exc.problems
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise UnsupportedError(
            f"the graph cannot be mapped to Spyx ({len(problems)} problem(s)):\n{listing}",
            problems=problems,
            hint=variant_hint(problems),
        )
    return spec


def _layer(
    spec: ModelSpec,
    graph: Graph,
    path: str,
    node: Node,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    steps: dict[str, np.ndarray],
    relays: set[str],
    reset: str | None,
) -> Layer:
    def arr(name: str, value: Any) -> str:
        return _key(spec, path, name, value)

    if isinstance(node, (Input, Output)) or path in relays:
        return Layer(path, None)
    if isinstance(node, Linear):  # Affine too
        bias = node.bias if isinstance(node, Affine) else None
        cls = "dense" if node.weight.ndim == 2 else "Affine"
        a = {"weight": arr("weight", node.weight)}
        if bias is not None:
            a["bias"] = arr(
                "bias", np.broadcast_to(bias, out_shape[-1:] if cls == "dense" else bias.shape)
            )
        return Layer(path, cls, a)
    if isinstance(node, Scale):
        return Layer(path, "Scale", {"scale": arr("scale", np.broadcast_to(node.scale, out_shape))})
    if isinstance(node, (Conv1d, Conv2d)):
        a = {"weight": arr("weight", node.weight)}
        if node.bias is not None:
            a["bias"] = arr("bias", node.bias)
        pad = node.padding if isinstance(node.padding, str) else list(node.padding)
        return Layer(
            path,
            "Conv",
            a,
            {
                "stride": list(node.stride),
                "padding": pad,
                "dilation": list(node.dilation),
                "groups": node.groups,
            },
        )
    if isinstance(node, (SumPool2d, AvgPool2d)):
        return Layer(
            path,
            "Pool",
            {},
            {
                "kernel_size": list(node.kernel_size),
                "stride": list(node.stride),
                "padding": list(node.padding),
                "average": isinstance(node, AvgPool2d),
            },
        )
    if isinstance(node, Flatten):
        return Layer(path, "Flatten", {}, {"out_shape": list(out_shape)})
    if isinstance(node, Threshold):
        return Layer(
            path,
            "Threshold",
            {"threshold": arr("threshold", np.broadcast_to(node.threshold, out_shape))},
        )
    if isinstance(node, Delay):
        return Layer(path, "Delay", {"steps": arr("steps", steps[path])}, {"shape": list(in_shape)})
    if isinstance(node, (LIF, IF, CubaLIF, LI, CubaLI, I)):
        a = {}
        for name, value in node.params().items():
            if value is None:
                continue
            a[name] = arr(name, np.broadcast_to(value, out_shape))
        lit: dict[str, Any] = {}
        if isinstance(node, (LIF, IF, CubaLIF)):
            lit["reset"] = reset_mode(graph, path, reset)
        if isinstance(node, (LIF, CubaLIF, LI, CubaLI)):
            lit["method"] = "METHOD"
        return Layer(path, node.type_name, a, lit)
    raise UnsupportedError(
        f"{path}: {node.type_name}",
        problems=[Problem(path, f"{node.type_name} is not supported by the Spyx backend")],
    )


# --------------------------------------------------------------------------------------------
# source code
# --------------------------------------------------------------------------------------------


def _runtime_source() -> str:
    """The code of :mod:`nirhub_spyx.runtime` without its docstring (read, not imported)."""
    src = Path(__file__).with_name("runtime.py").read_text(encoding="utf-8")
    return src.split('"""', 2)[2].lstrip("\n")


_ORDER = {
    "dense": ("weight", "bias"),
    "Affine": ("weight", "bias"),
    "Scale": ("scale",),
    "Conv": ("weight", "bias"),
    "Threshold": ("threshold",),
    "Delay": ("steps",),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "IF": ("r", "v_threshold", "v_reset"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "LI": ("tau", "r", "v_leak"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "I": ("r",),
}


def _layer_code(la: Layer) -> str:
    if la.cls is None:
        return "None"
    args = []
    if la.cls == "Conv":
        args.append(f"w[{la.arrays['weight']!r}]")
        args.append(f"w[{la.arrays['bias']!r}]" if "bias" in la.arrays else "None")
        lit = la.literals
        pad = lit["padding"] if isinstance(lit["padding"], str) else tuple(lit["padding"])
        args += [
            repr(tuple(lit["stride"])),
            repr(pad),
            repr(tuple(lit["dilation"])),
            repr(lit["groups"]),
            "dtype=dtype",
        ]
        return f"Conv({', '.join(args)})"
    if la.cls == "Pool":
        lit = la.literals
        return (
            f"Pool({tuple(lit['kernel_size'])!r}, {tuple(lit['stride'])!r}, "
            f"{tuple(lit['padding'])!r}, average={lit['average']!r})"
        )
    if la.cls == "Flatten":
        return f"Flatten({tuple(la.literals['out_shape'])!r})"
    if la.cls == "Delay":
        return f"Delay(w[{la.arrays['steps']!r}], {tuple(la.literals['shape'])!r}, dtype=dtype)"
    for name in _ORDER[la.cls]:
        if name in la.arrays:
            args.append(f"{name}=w[{la.arrays[name]!r}]")
    if la.cls in ("LIF", "IF", "CubaLIF", "LI", "CubaLI", "I"):
        args.append("dt=DT")
    if "method" in la.literals:
        args.append("method=METHOD")
    if "reset" in la.literals:
        args.append(f"reset={la.literals['reset']!r}")
    args.append("dtype=dtype")
    return f"{la.cls}({', '.join(args)})"


def generate(
    spec: ModelSpec,
    *,
    source: str = "",
    weights_name: str = "model.npz",
    version: str = "",
    embed_spec: bool = False,
) -> str:
    shapes = {k: tuple(v) for k, v in spec.shapes.items()}
    in_shapes = {k: tuple(v) for k, v in spec.in_shapes.items()}
    one_in = len(spec.inputs) == 1
    lines = [
        MARKER,
        f'"""Spyx/Flax model generated by {version or "nirhub"} from a NIR graph'
        + (f" ({comment(source)})" if source else "")
        + ".",
        "",
        "Needs numpy, jax, flax and spyx only (not nirhub). The weights are in the .npz next",
        "to this file.",
        "",
        "    import model",
        "    net = model.build_model()              # a spyx-style stateful nnx.Module",
        "    out, state = spyx.nn.run(net, x)       # x: (T, B, *shape), channels first"
        if one_in
        else "    out, state = model.run(net, {name: x}) # x: (T, B, *shape), channels first",
        "",
        "Neurons fire in the step whose voltage crosses the threshold (NIR's semantics), and the",
        f"model reproduces nirhub's reference simulator with method={spec.method!r} at DT.",
        '"""',
        "",
        "# --- NIR layers for Spyx (copied from nirhub_spyx.runtime) ---",
        "",
        "import os",
        "",
        _runtime_source().rstrip(),
        "",
        "",
        "# --- the model ---",
        "",
        f"DT = {spec.dt!r}",
        f"METHOD = {spec.method!r}",
        f"INPUTS = {literal(spec.inputs, head=9)}",
        f"OUTPUTS = {literal(spec.outputs, head=10)}",
        f"SHAPES = {literal(shapes, head=9)}",
        f"IN_SHAPES = {literal(in_shapes, head=12)}",
        f"EDGES = {literal([tuple(e) for e in spec.edges], head=8)}",
        f"ORDER = {literal(spec.order, head=8)}",
        f"BACK_EDGES = {literal([tuple(e) for e in spec.back_edges], head=13)}",
        f"BREAKING = {literal(spec.breaking, head=11)}",
        *weights_loader_lines(weights_name),
        "",
        "",
        "def build_model(weights=None, dtype=jnp.float32, record=()):",
        '    """The model. ``weights``: the .npz path or a dict of arrays; ``record``: node names',
        "    whose state to return too (the output is then ``(outputs, recorded)``).",
        '    """',
        "    w = _weights(weights)",
        "    layers = {",
    ]
    for la in spec.layers:
        code = _layer_code(la)
        key = f"{string(la.path)}: "
        lines.append(f"        {key}{expression(code, indent=8, head=len(key), tail=1)},")
    model = (
        "GraphModel(layers, EDGES, ORDER, BACK_EDGES, BREAKING, INPUTS, OUTPUTS, SHAPES, "
        "IN_SHAPES, dt=DT, method=METHOD, record=record, dtype=dtype)"
    )
    lines += ["    }", "    return " + expression(model, indent=4, head=7), ""]
    if not any(re.search(r"\bw\[", line) for line in lines):  # no arrays: w stays unread
        lines[lines.index("    w = _weights(weights)")] = "    _weights(weights)  # reads none"
    if embed_spec:
        lines += embedded_spec_lines("model", spec.to_json())
    return tidy("\n".join(lines))


def count_values(spec: ModelSpec) -> int:
    return int(sum(math.prod(np.shape(a)) for a in spec.arrays.values()))
