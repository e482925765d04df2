"""Python source of an snnTorch model for a graph spec (see :mod:`nirhub_snntorch.spec`).

The generated class has explicit state (``init_hidden=False``), runs batched, and steps the
nodes in the reference simulator's order: back-edges read the source's output of the previous
step (``state["prev:<path>"]``, initially the network's output at rest), fan-in sums in edge
order. Its layers are snnTorch neurons and ``torch.nn`` layers; the few primitives snnTorch
has no layer for (Delay, Threshold, Scale, SumPool2d) are plain tensor operations.
"""

from __future__ import annotations

from typing import Any

from nirhub.backend import comment
from nirhub.backend.codestyle import LINE_LENGTH, assign, call, literal, tidy

MARKER = "# nirhub artifact: backend=snntorch format=nirhub-snntorch/1"


def _shape(shape: list[int]) -> str:
    return literal(tuple(int(s) for s in shape))


def _q(path: str, suffix: str = "") -> str:
    """A node path (plus a suffix) as a string literal: names are data, never code."""
    return literal(path + suffix)


def _pad4(p: list[int]) -> str:
    return f"({p[1]}, {p[1]}, {p[0]}, {p[0]})"


def _statement(code: str, comment: str, indent: int = 8) -> list[str]:
    """``code  # comment`` on one line if it fits, else the comment on the line above."""
    pad = " " * indent
    if "\n" not in code and len(pad) + len(code) + 4 + len(comment) <= LINE_LENGTH:
        return [f"{pad}{code}  # {comment}"]
    return [f"{pad}# {comment}", pad + code]


class _Gen:
    def __init__(self, spec: dict[str, Any], class_name: str) -> None:
        self.spec = spec
        self.cls = class_name
        self.nodes = spec["nodes"]
        self.back = {tuple(e) for e in spec["back_edges"]}
        self.breaking = set(spec["breaking"])
        self.preds: dict[str, list[str]] = {p: [] for p in self.nodes}
        for s, d in spec["edges"]:
            self.preds[d].append(s)
        self.init: list[str] = []
        self.state0: list[str] = []
        self.step: list[str] = []
        self.late: list[str] = []

    # -- helpers -----------------------------------------------------------------------------
    def key(self, path: str) -> str:
        return self.nodes[path]["key"]

    def inp(self, path: str, signals: str = "y", rest: bool = False) -> str:
        terms = []
        for s in self.preds[path]:
            if (s, path) in self.back:
                if rest:
                    continue
                terms.append(f"state[{_q('prev:' + s)}]")
            else:
                terms.append(f"{signals}[{_q(s)}]")
        if not terms:
            return f"self._zeros(batch, {_shape(self.nodes[path]['in_shape'])}, device)"
        return terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"

    def buffer(self, name: str, shape: list[int], comment: str, dtype: str = "dtype") -> None:
        args = [f'"{name}"', f"torch.zeros({_shape(shape)}, dtype={dtype})"]
        self.init += _statement(call("self.register_buffer", args, indent=8), comment)

    def start_at(self, path: str, field: str, sh: str, buffer: str) -> None:
        """``initial_state``: the state ``<path><field>`` starts at the buffer ``buffer``."""
        target = f"state[{_q(path, field)}]"
        value = f"self._zeros(batch, {sh}, device) + self.{buffer}"
        self.state0.append("        " + assign(target, value, indent=8))

    # -- stateless ---------------------------------------------------------------------------
    def op(self, path: str, x: str) -> str:
        """Expression of a stateless node's output from its input expression ``x``."""
        e = self.nodes[path]
        t, k, st = e["type"], e["key"], e["static"]
        if t in ("Input", "Output"):
            return x
        if t in ("Linear", "Affine"):
            if len(e["arrays"]["weight"]["shape"]) == 2:
                return f"self.{k}({x})"
            y = f"torch.matmul(self.{k}_weight, {x}.unsqueeze(-1)).squeeze(-1)"
            return f"({y} + self.{k}_bias)" if t == "Affine" else y
        if t == "Scale":
            return f"{x} * self.{k}_scale"
        if t in ("Conv1d", "Conv2d", "Flatten"):
            return f"self.{k}({x})"
        if t in ("SumPool2d", "AvgPool2d"):
            (ph, pw), (kh, kw), (sh, sw) = st["padding"], st["kernel_size"], st["stride"]
            if t == "AvgPool2d" and 2 * ph <= kh and 2 * pw <= kw:
                return f"self.{k}({x})"
            xin = f"F.pad({x}, {_pad4(st['padding'])})" if (ph or pw) else x
            y = f"F.avg_pool2d({xin}, ({kh}, {kw}), ({sh}, {sw}), divisor_override=1)"
            return f"{y} / {kh * kw}" if t == "AvgPool2d" else y
        if t == "Threshold":
            return f"SPIKE({x} - self.{k}_threshold).to({x}.dtype)"
        raise TypeError(f"no code for {t}")  # pragma: no cover

    def declare_stateless(self, path: str) -> None:
        e = self.nodes[path]
        t, k, st = e["type"], e["key"], e["static"]
        arrays = e["arrays"]
        head = f"        # {comment(path)}: {t} {e['in_shape']} -> {e['out_shape']}"
        if t in ("Linear", "Affine"):
            w = arrays["weight"]["shape"]
            self.init.append(head)
            if len(w) == 2:
                self.init.append(
                    f"        self.{k} = nn.Linear({w[1]}, {w[0]}, "
                    f"bias={t == 'Affine'}, dtype=dtype)"
                )
            else:
                self.init.append(
                    f"        self.{k}_weight = nn.Parameter(torch.zeros({_shape(w)}, dtype=dtype))"
                )
                if t == "Affine":
                    self.init.append(
                        f"        self.{k}_bias = nn.Parameter(torch.zeros("
                        f"{_shape(arrays['bias']['shape'])}, dtype=dtype))"
                    )
        elif t == "Scale":
            self.init.append(head)
            self.init.append(
                f"        self.{k}_scale = nn.Parameter(torch.zeros("
                f"{_shape(arrays['scale']['shape'])}, dtype=dtype))"
            )
        elif t in ("Conv1d", "Conv2d"):
            w = arrays["weight"]["shape"]
            pad = st["padding"]
            pad_s = repr(pad) if isinstance(pad, str) else str(tuple(pad))
            self.init.append(head)
            args = [str(w[1] * st["groups"]), str(w[0]), str(tuple(w[2:]))]
            args += [f"stride={tuple(st['stride'])}", f"padding={pad_s}"]
            args += [f"dilation={tuple(st['dilation'])}", f"groups={st['groups']}"]
            args += [f"bias={'bias' in arrays}", "dtype=dtype"]
            self.init.append("        " + call(f"self.{k} = nn.{t}", args, indent=8))
        elif t == "AvgPool2d":
            (ph, pw), (kh, kw) = st["padding"], st["kernel_size"]
            if 2 * ph <= kh and 2 * pw <= kw:
                self.init.append(head + " (padded cells count in the divisor)")
                self.init.append(
                    f"        self.{k} = nn.AvgPool2d({tuple(st['kernel_size'])}, "
                    f"{tuple(st['stride'])}, {tuple(st['padding'])})"
                )
        elif t == "Flatten":
            n = len(e["in_shape"])
            start = st["start_dim"] + n if st["start_dim"] < 0 else st["start_dim"]
            end = st["end_dim"] + n if st["end_dim"] < 0 else st["end_dim"]
            self.init.append(head + " (torch dims count the batch)")
            self.init.append(f"        self.{k} = nn.Flatten({start + 1}, {end + 1})")
        elif t == "Threshold":
            self.init.append(head)
            self.buffer(
                f"{k}_threshold", arrays["threshold"]["shape"], "spike where input > threshold"
            )

    # -- delay -------------------------------------------------------------------------------
    def declare_delay(self, path: str) -> None:
        e = self.nodes[path]
        k, shape = e["key"], e["in_shape"]
        steps = e["steps"]
        kmax = max(steps) if steps else 0
        self.init.append(f"        # {comment(path)}: Delay {shape}, in steps of dt: up to {kmax}")
        self.buffer(
            f"{k}_delay",
            e["arrays"]["delay"]["shape"],
            "seconds (kept for export)",
            "torch.float64",
        )
        self.init.append(
            f'        self.register_buffer("{k}_steps", torch.tensor({steps}, dtype=torch.int64))'
        )
        if kmax:
            self.state0.append(
                f"        state[{_q(path, '.hist')}] = self._zeros(batch, "
                f"{_shape([kmax, *shape])}, device).transpose(0, 1)"
            )
        x = self.inp(path)
        if kmax == 0:
            self.step.append(f"        y[{_q(path)}] = {x}")
            return
        if path in self.breaking:
            self.step.append(
                f"        y[{_q(path)}] = self._delayed(state[{_q(path, '.hist')}], "
                f"self.{k}_steps - 1)"
            )
            self.late.append(
                f"        s[{_q(path, '.hist')}] = torch.cat([{x}.unsqueeze(0), "
                f"state[{_q(path, '.hist')}][:-1]])"
            )
        else:
            self.step.append(
                f"        stacked = torch.cat([{x}.unsqueeze(0), state[{_q(path, '.hist')}]])"
            )
            self.step.append(f"        y[{_q(path)}] = self._delayed(stacked, self.{k}_steps)")
            self.step.append(f"        s[{_q(path, '.hist')}] = stacked[:-1]")

    # -- neurons -----------------------------------------------------------------------------
    def declare_neuron(self, path: str) -> None:
        e = self.nodes[path]
        k, t, shape = e["key"], e["type"], e["out_shape"]
        m = e["snn"]
        method = self.spec["method"]
        layer = m["layer"]
        spiking = m["spiking"]
        sh = _shape(shape)
        reset_doc = {
            None: "",
            "zero": ", reset written out below",
            "subtract": ", reset by subtraction written out below",
        }[m["explicit"]]
        self.init.append(
            f"        # {comment(path)}: {t} {shape} as snn.{layer} ({method}, "
            f"reset_mechanism={m['reset_mechanism']!r}{reset_doc})"
        )
        decay = [f"beta=torch.zeros({sh}, dtype=dtype)"]
        learn = ["learn_beta=learn", "learn_threshold=learn"]
        if layer == "Synaptic":
            decay.insert(0, f"alpha=torch.zeros({sh}, dtype=dtype)")
            learn.insert(0, "learn_alpha=learn")
        args = [*decay, f"threshold=torch.ones({sh}, dtype=dtype)", *learn]
        args += [f"reset_mechanism={m['reset_mechanism']!r}", f"reset_delay={m['reset_delay']!r}"]
        args.append("init_hidden=False")
        self.init.append(" " * 8 + call(f"self.{k} = snn.{layer}", args, indent=8))
        x = self.inp(path)
        self.step.append(f"        # {comment(path)}: {t}")
        if layer == "Leaky":
            self.buffer(f"{k}_gain", shape, "input gain, dt*r (I/IF) or (dt/tau)*r")
            if t in ("LI", "LIF"):
                self.buffer(f"{k}_bias", shape, "constant drive (dt/tau)*v_leak")
                self.buffer(f"{k}_v0", shape, "initial membrane potential v_leak")
                self.step.append(f"        cur = {x} * self.{k}_gain + self.{k}_bias")
                self.start_at(path, ".mem", sh, f"{k}_v0")
            else:
                self.step.append(f"        cur = {x} * self.{k}_gain")
                self.state0.append(
                    f"        state[{_q(path, '.mem')}] = self._zeros(batch, {sh}, device)"
                )
            self.step.append(f"        spk, mem = self.{k}(cur, state[{_q(path, '.mem')}])")
        else:
            self.buffer(f"{k}_v0", shape, "initial membrane potential v_leak")
            self.buffer(f"{k}_c_mem", shape, "(dt/tau_mem)*v_leak; the current starts there")
            self.start_at(path, ".mem", sh, f"{k}_v0")
            self.start_at(path, ".syn", sh, f"{k}_c_mem")
            if method == "euler":
                self.buffer(f"{k}_g_syn", shape, "(dt/tau_syn)*w_in")
                self.buffer(f"{k}_g_mem", shape, "(dt/tau_mem)*r")
                cur = f"{x} * self.{k}_g_syn * self.{k}_g_mem"
                self.step.append("        " + assign("cur", cur, indent=8))
                self.step.append(f"        cur = cur + self.{k}_c_mem * (1 - self.{k}.alpha)")
            else:
                for name, doc in (
                    ("w_in", "w_in"),
                    ("p", "weight of u[t]"),
                    ("q", "weight of u[t-1]"),
                    ("c_syn", "constant drive"),
                    ("b_s", "1 - exp(-dt/tau_syn)"),
                    ("r", "r (kept for export)"),
                ):
                    self.buffer(f"{k}_{name}", shape, doc)
                self.state0.append(
                    f"        state[{_q(path, '.u')}] = self._zeros(batch, {sh}, device)"
                )
                self.state0.append(
                    f"        state[{_q(path, '.I')}] = self._zeros(batch, {sh}, device)"
                )
                self.step.append(f"        u = {x} * self.{k}_w_in")
                self.step.append(
                    f"        cur = u * self.{k}_p + state[{_q(path, '.u')}] * self.{k}_q "
                    f"+ self.{k}_c_syn"
                )
                self.step.append(f"        s[{_q(path, '.u')}] = u")
                self.step.append(
                    f"        s[{_q(path, '.I')}] = state[{_q(path, '.I')}] * self.{k}.alpha + "
                    f"self.{k}_b_s * u  # NIR's current I (recorded only)"
                )
            self.step.append(
                f"        spk, syn, mem = self.{k}(cur, state[{_q(path, '.syn')}], "
                f"state[{_q(path, '.mem')}])"
            )
            self.step.append(f"        s[{_q(path, '.syn')}] = syn")
        if m["explicit"] == "zero":
            self.buffer(f"{k}_v_reset", shape, "v_reset")
            self.step.append(f"        mem = torch.where(spk > 0, self.{k}_v_reset, mem)")
        elif m["explicit"] == "subtract":
            self.step.append(f"        mem = mem - spk.detach().to(mem.dtype) * self.{k}.threshold")
        self.step.append(f"        s[{_q(path, '.mem')}] = mem")
        out = "spk.to(mem.dtype)" if spiking else "mem"
        self.step.append(f"        y[{_q(path)}] = {out}")

    # -- rest outputs (what back-edges carry at step 0) --------------------------------------
    def rest_code(self) -> None:
        needed: set[str] = set()
        stack = [s for s, _ in self.back]
        while stack:
            p = stack.pop()
            if p in needed:
                continue
            needed.add(p)
            stack += [s for s in self.preds[p] if (s, p) not in self.back]
        if not needed:
            return
        self.state0.append(
            "        # outputs of the network at rest (back-edges carry them at step 0)"
        )
        self.state0.append("        r = {}")
        for path in self.spec["order"]:
            if path not in needed:
                continue
            e = self.nodes[path]
            sh = _shape(e["out_shape"])
            if (
                e["type"] in ("IF", "LIF", "CubaLIF")
                or e["type"] == "Delay"
                or (path in self.spec["inputs"])
            ):
                self.state0.append(f"        r[{_q(path)}] = self._zeros(batch, {sh}, device)")
            elif "snn" in e:
                self.state0.append(f"        r[{_q(path)}] = state[{_q(path, '.mem')}]")
            else:
                x = self.inp(path, "r", rest=True)
                self.state0.append(f"        r[{_q(path)}] = {self.op(path, x)}")
        for s, _ in sorted(self.back):
            self.state0.append(f"        state[{_q('prev:' + s)}] = r[{_q(s)}]")

    # -- assembly ----------------------------------------------------------------------------
    def build(self) -> str:
        for path in self.spec["order"]:
            e = self.nodes[path]
            t = e["type"]
            if "snn" in e:
                self.declare_neuron(path)
                continue
            if t == "Delay":
                self.declare_delay(path)
                continue
            self.declare_stateless(path)
            if path in self.spec["inputs"]:
                self.step.append(f"        y[{_q(path)}] = x[{_q(path)}]")
            else:
                self.step.append(f"        y[{_q(path)}] = {self.op(path, self.inp(path))}")
        self.rest_code()
        for s, _ in sorted(self.back):
            self.late.append(f"        s[{_q('prev:' + s)}] = y[{_q(s)}]")
        return self.render()

    def render(self) -> str:
        spec = self.spec
        ins = {n: tuple(spec["nodes"][n]["out_shape"]) for n in spec["inputs"]}
        outs = {n: tuple(spec["nodes"][n]["out_shape"]) for n in spec["outputs"]}
        anchor = '        self.register_buffer("_anchor", torch.zeros((), dtype=dtype))'
        lines = [
            f"class {self.cls}(nn.Module):",
            f'    """snnTorch model of a NIR graph at dt = {spec["dt"]!r} s '
            f"({spec['method']} discretisation).",
            "",
            "    ``model(x)`` runs a whole sequence, ``x`` of shape (T, B, *input shape) (a dict",
            "    by input name if there are several), and returns the output(s) over time.",
            "    ``model.step(x_t, state)`` advances one step: ``state`` comes from",
            "    ``model.initial_state(batch_size)``; it returns (outputs, new state, every",
            "    node's output by NIR path).",
            '    """',
            "",
            f"    INPUTS = {literal(ins, indent=4, head=13)}",
            f"    OUTPUTS = {literal(outs, indent=4, head=14)}",
            f"    DT = {spec['dt']!r}",
            f"    METHOD = {spec['method']!r}",
            "",
            "    def __init__(self, dtype: torch.dtype = torch.float32, learn: bool = False)"
            " -> None:",
            "        super().__init__()",
            anchor,
            *self.init,
            "",
            "    @property",
            "    def dtype(self) -> torch.dtype:",
            "        return self._anchor.dtype",
            "",
            "    def _zeros(self, batch: int, shape: tuple, device=None) -> torch.Tensor:",
            "        return torch.zeros(",
            "            (batch, *shape),",
            "            dtype=self.dtype,",
            "            device=self._anchor.device if device is None else device,",
            "        )",
            "",
            "    @staticmethod",
            "    def _delayed(stacked: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:",
            '        """Element i of the output is stacked[steps[i]] (stacked: (K, B, *shape))."""',
            "        k, b = stacked.shape[0], stacked.shape[1]",
            "        flat = stacked.reshape(k, b, -1)",
            "        index = steps.to(flat.device).view(1, 1, -1).expand(1, b, flat.shape[2])",
            "        return flat.gather(0, index).reshape(stacked.shape[1:])",
            "",
            "    def initial_state(self, batch: int, device=None) -> dict[str, torch.Tensor]:",
            '        """The network at rest: v = v_leak (0 for I/IF), synaptic currents 0."""',
            "        state: dict[str, torch.Tensor] = {}",
            *self.state0,
            "        return state",
            "",
            "    def step(self, x: dict[str, torch.Tensor], state: dict[str, torch.Tensor]):",
            '        """One time step; x: {input name: (B, *shape)}."""',
            "        batch = next(iter(x.values())).shape[0]",
            "        device = self._anchor.device",
            "        y: dict[str, torch.Tensor] = {}",
            "        s: dict[str, torch.Tensor] = {}",
            *self.step,
            *self.late,
            "        del batch, device",
            "        return {name: y[name] for name in self.OUTPUTS}, s, y",
            "",
            "    def forward(self, x):",
            '        """Run a whole sequence from the rest state (time first)."""',
            "        xs = x if isinstance(x, dict) else {next(iter(self.INPUTS)): x}",
            "        xs = {",
            "            k: torch.as_tensor(v).to(device=self._anchor.device, dtype=self.dtype)",
            "            for k, v in xs.items()",
            "        }",
            "        name0 = next(iter(xs))",
            "        batched = xs[name0].dim() == len(self.INPUTS[name0]) + 2",
            "        if not batched:  # (T, *shape): one sample",
            "            xs = {k: v.unsqueeze(1) for k, v in xs.items()}",
            "        first = xs[name0]",
            "        state = self.initial_state(first.shape[1])",
            "        outs: dict[str, list] = {name: [] for name in self.OUTPUTS}",
            "        for t in range(first.shape[0]):",
            "            out, state, _ = self.step({k: v[t] for k, v in xs.items()}, state)",
            "            for name, value in out.items():",
            "                outs[name].append(value)",
            "        result = {",
            "            name: torch.stack(v) if batched else torch.stack(v)[:, 0] "
            "for name, v in outs.items()",
            "        }",
            "        return next(iter(result.values())) if len(result) == 1 else result",
        ]
        return "\n".join(lines) + "\n"


def render_class(spec: dict[str, Any], class_name: str = "Net") -> str:
    return _Gen(spec, class_name).build()


def render_module(spec: dict[str, Any], *, stem: str = "model", class_name: str = "Net") -> str:
    """A complete module: imports, the class, ``NIR_SPEC`` and ``build_model()``."""
    from nirhub_snntorch import __version__

    ins = ", ".join(f"{comment(n)} {tuple(spec['nodes'][n]['out_shape'])}" for n in spec["inputs"])
    outs = ", ".join(
        f"{comment(n)} {tuple(spec['nodes'][n]['out_shape'])}" for n in spec["outputs"]
    )
    stem = comment(stem)
    has_neurons = any("snn" in e for e in spec["nodes"].values())
    neuron_import = "import snntorch as snn\n" if has_neurons else ""
    head = (
        f'{MARKER}\n"""snnTorch model generated by nirhub-snntorch {__version__} from a NIR '
        "graph.\n\n"
        f"Inputs: {ins}. Outputs: {outs}. dt = {spec['dt']!r} s ({spec['method']}).\n\n"
        "Usage (needs torch and snntorch, not nirhub)::\n\n"
        f"    from {stem} import build_model\n\n"
        "    model = build_model()  # the weights: the .pt file next to this module\n"
        "    y = model(x)  # x: (T, B, *input shape), time first\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "import os\n\n"
        f"{neuron_import}"
        "import torch\n"
        "import torch.nn.functional as F  # noqa: F401 (used by pooling nodes)\n"
        "from snntorch import surrogate\n"
        "from torch import nn\n\n"
        "#: spike function of Threshold nodes: x > 0, arctan surrogate gradient (snnTorch's "
        "default)\n"
        "SPIKE = surrogate.atan()\n\n\n"
    )
    tail = (
        "\n\n# What the model was generated from (used by nirhub to export it back to NIR).\n"
        f"NIR_SPEC = {literal(spec, head=11)}\n"
        f"{class_name}.NIR_SPEC = NIR_SPEC\n\n\n"
        "def build_model(\n"
        "    weights: str | None = None,\n"
        "    *,\n"
        "    device: str | None = None,\n"
        "    dtype: torch.dtype | None = None,\n"
        "    learn: bool = False,\n"
        f") -> {class_name}:\n"
        '    """Rebuild the model; weights default to the ``.pt`` file next to this module."""\n'
        "    path = weights or os.path.splitext(os.path.abspath(__file__))[0] + '.pt'\n"
        "    state = torch.load(path, map_location='cpu', weights_only=True)\n"
        f"    model = {class_name}(dtype=dtype or state['_anchor'].dtype, learn=learn)\n"
        "    model.load_state_dict(state)\n"
        "    if device is not None:\n"
        "        model.to(device)\n"
        "    return model\n"
    )
    return tidy(head + render_class(spec, class_name) + tail)
