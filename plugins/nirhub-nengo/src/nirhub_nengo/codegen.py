"""A :class:`~nirhub_nengo.lower.NetSpec` -> the source of a standalone Python module.

The module needs numpy and nengo only. It defines ``build_network(inputs=None, weights=None)``
(a ``nengo.Network`` with ``net.feeders``, ``net.probe_map`` and ``net.by_label``) and
``run(inputs)``; the arrays live in an ``.npz`` next to it (or are passed as a dict, which is
how the importer builds the in-memory network from the very same code).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nirhub.backend import comment
from nirhub.backend.codestyle import literal, statement, tidy
from nirhub.backend.spec_artifact import embedded_spec_lines, weights_loader_lines
from nirhub_nengo.lower import Conn, NetSpec, Obj
from nirhub_nengo.marker import MARKER


def _runtime_source() -> str:
    """The code of :mod:`nirhub_nengo.runtime` without its docstring (read, not imported)."""
    src = Path(__file__).with_name("runtime.py").read_text(encoding="utf-8")
    code = src.split('"""', 2)[2].lstrip("\n")
    # the generated module imports numpy itself, before nengo
    return code.replace("import numpy as np\n", "", 1)


def _num(x: float) -> str:
    return repr(float(x))


def _list(xs: list[float]) -> str:
    return "[" + ", ".join(_num(x) for x in xs) + "]"


def _tuple(xs: Any) -> str:
    xs = [int(x) for x in xs]
    return "(" + ", ".join(map(str, xs)) + ("," if len(xs) == 1 else "") + ")"


def _w(key: str) -> str:
    return f"w[{key!r}]"


def _obj_code(o: Obj) -> str:
    lab = f"label={o.label!r}"
    p = o.params
    if o.kind == "input":
        return (
            f"{o.name} = nengo.Node(Feeder(inputs.get({o.label!r}), DT, {o.size}), "
            f"size_out={o.size}, {lab})"
        )
    if o.kind == "passthrough":
        return f"{o.name} = nengo.Node(size_in={o.size}, {lab})"
    if o.kind == "const":
        return f"{o.name} = nengo.Node({_w(p['value'])}, {lab})"
    if o.kind == "threshold":
        return (
            f"{o.name} = nengo.Node(Threshold({_w(p['threshold'])}, {_w(p['offset'])}), "
            f"size_in={o.size}, size_out={o.size}, {lab})"
        )
    if o.kind == "filter":
        if p["synapse"] == "lowpass":
            syn = f"nengo.synapses.Lowpass({_num(p['tau'])})"
        elif p["synapse"] == "analog":
            syn = f"nengo.synapses.LinearFilter({_list(p['num'])}, {_list(p['den'])})"
        else:
            syn = f"nengo.synapses.LinearFilter({_list(p['num'])}, {_list(p['den'])}, analog=False)"
        return f"{o.name} = nengo.Node({syn}, size_in={o.size}, size_out={o.size}, {lab})"
    if o.kind == "ensemble":
        nt = p["neuron"]
        state = f"'voltage': {_w(p['z0'])}"
        if "flag0" in p:
            state += f", 'flag': {_w(p['flag0'])}"
        init = f"initial_state={{{state}}}"
        if nt["type"] == "LIF":
            neuron = (
                f"nengo.LIF(tau_rc={_num(nt['tau_rc'])}, tau_ref=0.0, "
                f"min_voltage=-np.inf, amplitude=DT, {init})"
            )
        elif nt["type"] == "ResetLIF":
            neuron = (
                f"ResetLIF(tau_rc={_num(nt['tau_rc'])}, reset={nt['reset']!r}, "
                f"amplitude=DT, {init})"
            )
        else:
            neuron = f"IntegrateAndFire(amplitude=DT, reset={nt['reset']!r}, {init})"
        return (
            f"{o.name} = nengo.Ensemble({o.size}, 1, neuron_type={neuron}, "
            f"gain={_w(p['gain'])}, bias={_w(p['bias'])}, {lab})"
        )
    raise ValueError(f"unknown object kind {o.kind!r}")  # pragma: no cover


def _end(name: str, attr: str | None, idx: str | None) -> str:
    ref = name if attr is None else f"{name}.{attr}"
    if idx is not None:
        ref = f"{ref}[{_w(idx)}.tolist()]"
    return ref


def _transform(t: dict[str, Any] | None) -> str | None:
    if t is None:
        return None
    kind = t["kind"]
    if kind in ("dense", "elementwise"):
        return _w(t["init"])
    if kind == "sparse":
        return (
            f"nengo.transforms.Sparse({_tuple(t['shape'])}, indices={_w(t['indices'])}, "
            f"init={_w(t['init'])})"
        )
    if kind == "conv":
        shape = f"nengo.transforms.ChannelShape({_tuple(t['input_shape'])}, channels_last=False)"
        return (
            f"nengo.transforms.Convolution({t['n_filters']}, {shape}, "
            f"kernel_size={_tuple(t['kernel_size'])}, strides={_tuple(t['strides'])}, "
            f"padding={t['padding']!r}, channels_last=False, init={_w(t['init'])}, "
            f"groups={t['groups']})"
        )
    raise ValueError(f"unknown transform {kind!r}")  # pragma: no cover


def synapse_code(steps: int) -> str:
    """A connection synapse that delays by ``steps`` (>= 1) time steps exactly."""
    den = [1.0] if steps == 1 else [1.0] + [0.0] * steps
    return f"nengo.synapses.LinearFilter([1.0], {_list(den)}, analog=False)"


def _conn_code(c: Conn) -> str:
    pre = _end(c.pre, c.pre_attr, c.pre_idx)
    post = _end(c.post, c.post_attr, c.post_idx)
    args = [pre, post]
    tr = _transform(c.transform)
    if tr is not None:
        args.append(f"transform={tr}")
    args.append("synapse=None" if not c.delayed else f"synapse={synapse_code(c.delayed)}")
    return f"nengo.Connection({', '.join(args)})"


def spec_to_json(spec: NetSpec) -> str:
    """The parts of a spec that rebuild the network (arrays are in the .npz), as JSON."""
    import json

    def conv(v: Any) -> Any:
        if isinstance(v, tuple):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if hasattr(v, "item"):
            return v.item()
        return v

    data = {
        "dt": spec.dt,
        "label": spec.label,
        "method": spec.method,
        "objects": [conv(vars(o)) for o in spec.objects],
        "conns": [conv(vars(c)) for c in spec.conns],
        "inputs": {k: [o, list(s)] for k, (o, s) in spec.inputs.items()},
        "outputs": {k: [o, list(s)] for k, (o, s) in spec.outputs.items()},
        "arrays": sorted(spec.arrays),
    }
    return json.dumps(data, separators=(",", ":"))


def spec_from_json(text: str, arrays: dict[str, Any]) -> NetSpec:
    """Inverse of :func:`spec_to_json`; ``arrays`` come from the .npz."""
    import json

    data = json.loads(text)
    spec = NetSpec(
        dt=float(data["dt"]), label=str(data["label"]), method=str(data.get("method", "exact"))
    )
    for o in data["objects"]:
        spec.objects.append(Obj(**o))
    for c in data["conns"]:
        if c.get("transform"):
            c["transform"] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in c["transform"].items()
            }
        spec.conns.append(Conn(**c))
    spec.inputs = {k: (v[0], tuple(v[1])) for k, v in data["inputs"].items()}
    spec.outputs = {k: (v[0], tuple(v[1])) for k, v in data["outputs"].items()}
    missing = [k for k in data["arrays"] if k not in arrays]
    if missing:
        raise KeyError(f"the weights file lacks {', '.join(missing[:5])}")
    spec.arrays = {k: arrays[k] for k in data["arrays"]}
    return spec


def generate(
    spec: NetSpec,
    *,
    source: str = "",
    weights_name: str = "model.npz",
    version: str = "",
    embed_spec: bool = False,
) -> str:
    """The module's source code (``embed_spec``: append the JSON spec for ``load``)."""
    ins = {k: tuple(int(x) for x in s) for k, (_, s) in spec.inputs.items()}
    outs = {k: tuple(int(x) for x in s) for k, (_, s) in spec.outputs.items()}
    lines = [
        MARKER,
        f'"""Nengo network generated by {version or "nirhub"} from a NIR graph'
        + (f" ({comment(source)})" if source else "")
        + ".",
        "",
        "Needs numpy and nengo only (not nirhub). The weights are in the .npz next to this file.",
        "",
        "    import model                       # this file",
        "    out = model.run({'input': x})      # x: (T, *shape) per Input; time step DT",
        "",
        "or build it yourself: ``net = model.build_network({'input': x})``, then",
        "``nengo.Simulator(net, dt=model.DT)``; ``net.probe_map[name]`` holds each output.",
        "",
        "Conventions (see nirhub's docs/backends/nengo.md): spikes have amplitude DT (the",
        "value 1 for one step); voltages are normalised to fire at 1; the network reproduces",
        f"nirhub's reference simulator with method={spec.method!r} step for step.",
        '"""',
        "",
        "import os",
        "import warnings",
        "",
        "import numpy as np",
        "",
        "with warnings.catch_warnings():  # nengo 4.1 touches numpy.core, deprecated in numpy 2",
        "    warnings.simplefilter('ignore', DeprecationWarning)",
        "    import nengo",
        "",
        "# --- neuron types and node functions NIR needs (copied from nirhub_nengo.runtime) ---",
        "",
        _runtime_source().rstrip(),
        "",
        "",
        "# --- the network ---",
        "",
        f"DT = {_num(spec.dt)}",
        f"METHOD = {spec.method!r}",
        f"LABEL = {spec.label!r}",
        f"INPUTS = {literal(ins, head=9)}",
        f"OUTPUTS = {literal(outs, head=10)}",
        *weights_loader_lines(weights_name),
        "",
        "",
        "def build_network(inputs=None, weights=None, probes=True):",
        '    """The network. ``inputs``: {Input name: (T, *shape) array} (zeros if absent);',
        "    ``weights``: path of the .npz or a dict of arrays. Each Input is a Node playing",
        "    its array (``net.feeders[name].data`` can be replaced between runs).",
        '    """',
        "    w = _weights(weights)",
        "    inputs = dict(inputs or {})",
        "    net = nengo.Network(label=LABEL)",
        "    net.nirhub_dt = DT  # the step the network was made for (read by nirhub's export)",
        "    net.nirhub_method = METHOD  # the reference discretisation it reproduces",
        "    net.nirhub_shapes = {**INPUTS, **OUTPUTS}  # NIR shapes of the flat Nengo signals",
        "    net.feeders = {}",
        "    net.probe_map = {}",
        "    net.by_label = {}",
        "    with net:",
    ]
    for o in spec.objects:
        lines += statement(_obj_code(o), indent=8)
    lines.append("")
    for c in spec.conns:
        lines += statement(_conn_code(c), indent=8)
    lines.append("")
    lines.append("        if probes:")
    for name, (obj, _) in spec.outputs.items():
        code = f"net.probe_map[{name!r}] = nengo.Probe({obj}, synapse=None, label={name!r})"
        lines += statement(code, indent=12)
    if not spec.outputs:
        lines.append("            pass")
    for key, (obj, attr, var) in spec.probes.items():
        target = obj if attr is None else f"{obj}.{attr}"
        code = f"net.probe_map[{key!r}] = nengo.Probe({target}, {var!r}, synapse=None)"
        lines += statement(code, indent=12)
    lines.append("")
    for name, (obj, _) in spec.inputs.items():
        lines += statement(f"net.feeders[{name!r}] = {obj}.output", indent=4)
    by_label = ", ".join(f"{o.label!r}: {o.name}" for o in spec.objects)
    lines += statement(f"net.by_label.update({{{by_label}}})", indent=4)
    # a network without arrays (e.g. a Flatten) must not assign w and leave it unused
    if not any(re.search(r"\bw\[", line) for line in lines):
        lines[lines.index("    w = _weights(weights)")] = "    _weights(weights)  # reads none"
    lines += [
        "    return net",
        "",
        "",
        "def run(inputs, steps=None, weights=None):",
        '    """Simulate ``inputs`` ({name: (T, *shape)}); returns {output: (T, *shape)}."""',
        "    inputs = {k: np.asarray(v) for k, v in inputs.items()}",
        "    if steps is None:",
        "        steps = max(v.shape[0] for v in inputs.values())",
        "    net = build_network(inputs, weights)",
        "    with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:",
        "        sim.run_steps(steps)",
        "    return {k: sim.data[net.probe_map[k]].reshape(steps, *OUTPUTS[k]) for k in OUTPUTS}",
        "",
    ]
    if embed_spec:
        lines += embedded_spec_lines("network", spec_to_json(spec))
    return tidy("\n".join(lines))
