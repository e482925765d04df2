"""A ``nengo.Network`` -> a nirhub graph that reproduces it under ``simulate(method="exact")``.

What is read (after building the network with ``nengo.builder.Model``, so sampled gains,
biases, encoders, decoders and initial voltages are the ones a simulation would use):

* Nodes: without input and with a constant output -> constants; without input otherwise ->
  an ``Input``; passthrough -> a summing junction; a ``nengo.synapses`` filter as output ->
  LI (``Lowpass``), I (integrator), CubaLI (second-order, real poles, e.g. ``Alpha``), Delay
  (digital pure delay), or -- feeding a LIF ensemble -- the synaptic half of a CubaLIF;
  :class:`nirhub_nengo.runtime.Threshold` -> Threshold. Any other Python function is refused.
* Ensembles of ``nengo.LIF`` (``tau_ref=0``, no voltage floor), the runtime's
  ``ResetLIF`` and ``IntegrateAndFire``: LIF / IF on the normalised voltage (threshold 1,
  reset 0, by subtraction or snnTorch's subtraction variants), ``r`` = the gains, ``v_leak``
  = the initial voltage, the rest of the bias as a constant input drive. Spikes of amplitude
  ``A`` are worth ``A/dt`` downstream.
* Connections: Dense / Sparse / Convolution transforms (channels first), slices, decoders and
  encoders of decoded connections, and synapses. A connection synapse runs after the readers
  (Nengo's "update"), so it is a one-step delay on top of its filter: None -> direct, a digital
  pure delay -> Delay, ``Lowpass`` -> LI + Delay.
* Probes (``synapse=None``) on Nodes and neuron outputs -> Output nodes.

Everything else is refused with every offending object named; ``approximate=True`` drops a
refractory period or a voltage floor with a warning instead.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import ConversionWarning, Problem, UnsupportedError, UsageError, cuba_exact
from nirhub.ir.conventions import NAMESPACE, set_dt, set_method
from nirhub.ir.graph import Graph
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

F64 = np.float64


@dataclass
class _Obj:
    """What a Nengo object became: where its output is and where its input goes."""

    kind: str
    size: int
    label: str
    out: str | None = None  # IR node producing the output value
    inp: str | None = None  # IR node (junction) receiving the summed input
    shape: tuple[int, ...] | None = None
    #: output factor: value seen downstream per unit of the IR output (spikes: amplitude/dt)
    factor: float = 1.0
    #: constant added to the output (Threshold offsets)
    offset: np.ndarray | None = None
    #: ensembles: the gains (their r); connections into the neurons are not multiplied again
    gain: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Exporter:
    def __init__(self, net: Any, model: Any, dt: float, approximate: bool) -> None:
        self.net = net
        self.model = model
        self.dt = dt
        self.approximate = approximate
        self.nodes: dict[str, Node] = {}
        self.edges: list[tuple[str, str]] = []
        self.objs: dict[int, _Obj] = {}
        self.problems: list[Problem] = []
        self.biases: dict[str, np.ndarray] = {}  # junction name -> constant input
        self.identity: set[str] = set()
        self.first_input: str | None = None
        self.reset_meta: dict[str, str] = {}
        #: one-step Delays made from connection synapses (candidates for plain back-edges)
        self.step_delays: set[str] = set()
        #: networks nirhub generated say which reference discretisation they reproduce
        self.method = str(getattr(net, "nirhub_method", "exact"))
        if self.method not in ("exact", "euler"):
            self.method = "exact"

    # -- naming --------------------------------------------------------------------------------
    def name(self, label: str) -> str:
        base = re.sub(r"[/\s]+", "_", label.strip()) or "node"
        name, i = base, 1
        while name in self.nodes:
            name = f"{base}_{i}"
            i += 1
        return name

    def add(self, label: str, node: Node) -> str:
        name = self.name(label)
        self.nodes[name] = node
        return name

    def junction(self, label: str, shape: tuple[int, ...]) -> str:
        name = self.add("~" + label, Scale(np.ones(shape)))
        self.identity.add(name)
        return name

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message, kind="unsupported"))

    def approx(self, where: str, message: str) -> bool:
        """An inexpressible detail: a warning with ``approximate``, else a problem."""
        if self.approximate:
            warnings.warn(
                f"{where}: {message} (dropped: approximate=True)", ConversionWarning, stacklevel=3
            )
            return True
        self.problem(where, message + "; pass approximate=True (-O approximate=true) to drop it")
        return False

    def conn_label(self, conn: Any, index: int) -> str:
        """The connection's label; else the object it feeds, when it is that one's only input
        (a junction that disappears, so its name is free); else ``connection<i>``."""
        import nengo

        if conn.label:
            return str(conn.label)
        post = conn.post_obj
        if isinstance(post, nengo.Node) and post.output is None:
            feeding = [c for c in self.net.all_connections if c.post_obj is post]
            if len(feeding) == 1 and post.label and post.label not in self.nodes:
                return str(post.label)
        return f"connection{index}"

    @staticmethod
    def label_of(obj: Any, kind: str, index: int) -> str:
        return str(obj.label) if obj.label else f"{kind}{index}"

    # -- the main pass -------------------------------------------------------------------------
    def run(self) -> Graph:
        import nengo

        net = self.net
        padded = self.pad_junctions()
        try:
            self.shapes = self.infer_shapes(padded["replace"])
        except _Refused as exc:
            raise UnsupportedError(str(exc), problems=[Problem("<network>", str(exc))]) from None
        for i, node in enumerate(net.all_nodes):
            self.node(node, self.label_of(node, "node", i))
        for i, ens in enumerate(net.all_ensembles):
            self.ensemble(ens, self.label_of(ens, "ensemble", i))
        for node in padded["junctions"]:
            obj = self.objs.get(id(node))
            if obj is not None and obj.out:
                self.identity.add(obj.out)
        for i, conn in enumerate(net.all_connections):
            if id(conn) in padded["skip"]:
                continue
            label = self.conn_label(conn, i)
            try:
                self.connection(conn, label, padded["replace"].get(id(conn)))
            except _Refused as exc:
                self.problem(label, str(exc))
        outputs = 0
        for i, probe in enumerate(net.all_probes):
            target = probe.target
            label = probe.label or self.label_of(getattr(target, "ensemble", target), "probe", i)
            if probe.attr not in ("output", "decoded_output"):
                warnings.warn(
                    f"probe {label!r} records {probe.attr!r}, which a NIR graph cannot "
                    "output (spiking nodes output spikes only); ignored",
                    ConversionWarning,
                    stacklevel=2,
                )
                continue
            if probe.synapse is not None:
                self.problem(label, "probes with a synapse are not supported; use synapse=None")
                continue
            if isinstance(target, nengo.Ensemble):
                self.problem(
                    label,
                    "a probe on a decoded Ensemble output is not supported; probe ens.neurons",
                )
                continue
            base = getattr(target, "obj", target)
            if isinstance(base, nengo.ensemble.Neurons):
                base = base.ensemble
            obj = self.objs.get(id(base))
            if obj is None or obj.out is None or not _full(target):
                self.problem(label, "probe target cannot be exported (sliced or unsupported)")
                continue
            out = self.add(label, Output(obj.shape))
            self.edges.append((obj.out, out))
            outputs += 1
        if not outputs and not self.problems:
            raise UsageError(
                "the network has no probe to export as an output",
                hint="Add nengo.Probe(obj, synapse=None) on each output (a Node or ens.neurons).",
            )
        if self.problems:
            listing = "\n".join(f"  - {p}" for p in self.problems)
            raise UnsupportedError(
                f"the Nengo network cannot be expressed in NIR ({len(self.problems)} "
                f"problem(s)):\n{listing}",
                problems=self.problems,
            )
        self.finish_junctions()
        graph = Graph(self.nodes, self.edges)
        graph = _simplify(graph, self.identity)
        graph = _rename_junctions(graph)
        graph = _drop_loop_delays(graph, self.step_delays, self.dt)
        set_dt(graph.metadata, self.dt)
        set_method(graph.metadata, self.method)
        ns = dict(graph.metadata[NAMESPACE])
        ns["source"] = "nengo"
        graph.metadata[NAMESPACE] = ns
        for path, mode in self.reset_meta.items():
            if path in graph.nodes:
                node = graph.nodes[path]
                meta = dict(node.metadata)
                meta[NAMESPACE] = {**dict(meta.get(NAMESPACE, {})), "reset": mode}
                graph.nodes[path] = node.replace(metadata=meta)
        graph.validate()
        return graph

    # -- shapes --------------------------------------------------------------------------------
    def infer_shapes(
        self, padded: dict[int, list[tuple[Any, tuple[int, ...]]]]
    ) -> dict[int, tuple[int, ...]]:
        """Channels-first shapes for objects that convolutions read or write; others flat."""
        import nengo
        from nengo.transforms import Convolution

        shapes: dict[int, tuple[int, ...]] = {}

        def base(o: Any) -> Any:
            o = getattr(o, "obj", o)
            return o.ensemble if isinstance(o, nengo.ensemble.Neurons) else o

        def put(o: Any, shape: tuple[int, ...]) -> None:
            key = id(base(o))
            if key in fixed and len(shape) > 1 and len(shapes[key]) == 1:
                raise _Refused(f"{base(o)} is declared flat but a convolution reads it as {shape}")
            if key in fixed:
                return
            old = shapes.get(key)
            if old is not None and old != shape:
                raise _Refused(f"{base(o)} is used with shapes {old} and {shape}")
            shapes[key] = shape

        conns = list(self.net.all_connections)
        declared = getattr(self.net, "nirhub_shapes", None) or {}
        fixed: set[int] = set()
        for node in self.net.all_nodes:
            shape = declared.get(node.label) if node.size_in == 0 else None
            if shape is not None and math.prod(shape) == node.size_out:
                shapes[id(node)] = tuple(int(x) for x in shape)
                fixed.add(id(node))
        for probe in self.net.all_probes:
            shape = declared.get(probe.label)
            target = base(probe.target)
            if (
                shape is not None
                and isinstance(target, nengo.Node)
                and math.prod(shape) == target.size_out
            ):
                shapes[id(target)] = tuple(int(x) for x in shape)
                fixed.add(id(target))
        for c in conns:
            t = c.transform
            if isinstance(t, Convolution):
                if t.channels_last and t.input_shape.n_channels != 1:
                    self.problem(
                        str(c),
                        "Convolution with channels_last=True: NIR is channels "
                        "first; build it with channels_last=False",
                    )
                    continue
                ins = tuple(t.input_shape.shape)
                outs = tuple(t.output_shape.shape)
                if t.channels_last:
                    ins, outs = (ins[-1], *ins[:-1]), (outs[-1], *outs[:-1])
                if id(c) in padded:
                    for pre, pad in padded[id(c)]:
                        put(pre, (ins[0], *[s - 2 * p for s, p in zip(ins[1:], pad, strict=True)]))
                elif _full(c.pre):
                    put(c.pre, ins)
                if _full(c.post):
                    put(c.post, outs)
        changed = True
        while changed:  # identity connections carry shapes both ways
            changed = False
            for c in conns:
                if not (_is_identity(c) and _full(c.pre) and _full(c.post)):
                    continue
                a, b = shapes.get(id(base(c.pre))), shapes.get(id(base(c.post)))
                if id(base(c.post)) in fixed or id(base(c.pre)) in fixed:
                    if not (a is not None and b is None and id(base(c.post)) not in fixed) and not (
                        b is not None and a is None and id(base(c.pre)) not in fixed
                    ):
                        continue
                if a is not None and b is None:
                    shapes[id(base(c.post))] = a
                    changed = True
                elif b is not None and a is None:
                    shapes[id(base(c.pre))] = b
                    changed = True
        return shapes

    def shape_of(self, obj: Any, size: int) -> tuple[int, ...]:
        shape = self.shapes.get(id(obj))
        return shape if shape is not None and math.prod(shape) == size else (size,)

    # -- objects -------------------------------------------------------------------------------
    def node(self, node: Any, label: str) -> None:
        import nengo

        from nirhub_nengo import runtime

        out = node.output
        if node.size_in == 0:
            if isinstance(out, (np.ndarray, int, float)) and not callable(out):
                value = np.asarray(out, F64).reshape(-1)
                self.objs[id(node)] = _Obj("const", value.size, label, extra={"value": value})
                return
            shape = self.shape_of(node, node.size_out)
            name = self.add(label, Input(shape))
            self.first_input = self.first_input or name
            self.objs[id(node)] = _Obj("input", node.size_out, label, out=name, shape=shape)
            return
        shape = self.shape_of(node, node.size_out)
        if out is None:
            name = self.junction(label, shape)
            self.objs[id(node)] = _Obj(
                "junction", node.size_in, label, out=name, inp=name, shape=shape
            )
            return
        if isinstance(out, nengo.synapses.LinearFilter):
            self.filter_node(node, out, label, shape)
            return
        if (
            type(out).__name__ == "Threshold"
            and hasattr(out, "threshold")
            and hasattr(out, "offset")
            or isinstance(out, runtime.Threshold)
        ):
            thr = np.broadcast_to(np.asarray(out.threshold, F64), (node.size_in,)).reshape(shape)
            inp = self.junction(f"{label}.input", shape)
            name = self.add(label, Threshold(thr.copy()))
            self.edges.append((inp, name))
            offset = -np.broadcast_to(np.asarray(out.offset, F64), (node.size_in,)).copy()
            self.objs[id(node)] = _Obj(
                "threshold",
                node.size_in,
                label,
                out=name,
                inp=inp,
                shape=shape,
                offset=offset if np.any(offset) else None,
            )
            return
        self.problem(
            label,
            f"a Node computing a Python function ({type(out).__name__}) has no NIR equivalent",
        )

    def filter_node(self, node: Any, syn: Any, label: str, shape: tuple[int, ...]) -> None:
        kind, params = _classify_filter(syn, self.dt)
        if kind is None:
            self.problem(label, f"unsupported synapse {syn!r} in a Node: {params}")
            return
        inp = self.junction(f"{label}.input", shape)
        n = node.size_in
        if kind == "delay":
            steps = params["steps"]
            if steps == 0:
                self.objs[id(node)] = _Obj("junction", n, label, out=inp, inp=inp, shape=shape)
                return
            name = self.add(label, Delay(np.full(shape, steps * self.dt)))
        elif kind == "lowpass":
            name = self.add(
                label,
                LI(np.full(shape, params["tau"]), np.full(shape, params["r"]), np.zeros(shape)),
            )
        elif kind == "integrator":
            name = self.add(label, I(np.full(shape, params["r"])))
        elif kind == "cuba":
            name = self.add(
                label,
                CubaLI(
                    np.full(shape, params["tau_syn"]),
                    np.full(shape, params["tau_mem"]),
                    np.full(shape, params["r"]),
                    np.zeros(shape),
                ),
            )
        elif kind == "digital2":  # the Euler CubaLI (generated with method="euler")
            if self.method != "euler" or params["roots"] is None:
                self.problem(
                    label,
                    "a second-order digital filter is only understood in "
                    "networks nirhub generated with method='euler'",
                )
                return
            a_s, a_m = params["roots"]
            g_s, g_m = 1.0 - a_s, 1.0 - a_m
            name = self.add(
                label,
                CubaLI(
                    np.full(shape, self.dt / g_s),
                    np.full(shape, self.dt / g_m),
                    np.full(shape, params["gain"] / (g_s * g_m)),
                    np.zeros(shape),
                ),
            )
        else:  # first order: a CubaLIF synapse if it feeds a LIF ensemble, else an LI
            pole, direct, num1 = params["pole"], params["direct"], params["num1"]
            if self.feeds_lif(node):
                self.objs[id(node)] = _Obj(
                    "digital", n, label, inp=inp, shape=shape, extra={"params": params}
                )
                return
            if num1 != 0.0 or not 0.0 < pole < 1.0:
                self.problem(
                    label,
                    "a first-order digital filter with a delayed term is only "
                    "understood as the synapse of a LIF ensemble (a CubaLIF)",
                )
                return
            tau = -self.dt / math.log(pole) if self.method == "exact" else self.dt / (1 - pole)
            name = self.add(
                label, LI(np.full(shape, tau), np.full(shape, direct / (1 - pole)), np.zeros(shape))
            )
        self.edges.append((inp, name))
        self.objs[id(node)] = _Obj("filter", n, label, out=name, inp=inp, shape=shape)

    def feeds_lif(self, node: Any) -> bool:
        """Is ``node``'s only outgoing connection a plain one into a LIF ensemble's neurons?"""
        import nengo

        outs = [c for c in self.net.all_connections if c.pre_obj is node]
        if len(outs) != 1:
            return False
        c = outs[0]
        post = c.post_obj
        return (
            isinstance(post, nengo.ensemble.Neurons)
            and c.synapse is None
            and _full(c.pre)
            and _full(c.post)
            and isinstance(c.transform, nengo.transforms.NoTransform)
            and isinstance(post.ensemble.neuron_type, nengo.LIF)
        )

    def membrane_tau(self, tau_rc: float) -> float:
        """NIR tau of a Nengo LIF: tau_rc, or the Euler tau whose decay it reproduces."""
        if self.method == "exact":
            return tau_rc
        return self.dt / -math.expm1(-self.dt / tau_rc)

    def ensemble(self, ens: Any, label: str) -> None:
        import nengo

        from nirhub_nengo import runtime

        nt = ens.neuron_type
        built = self.model.params[ens]
        n = ens.n_neurons
        shape = self.shape_of(ens, n)
        gain = np.asarray(built.gain, F64).reshape(-1)
        bias = np.asarray(built.bias, F64).reshape(-1)
        z0 = (
            np.asarray(self.model.sig[ens.neurons]["voltage"].initial_value, F64).reshape(-1)
            if "voltage" in self.model.sig[ens.neurons]
            else np.zeros(n)
        )
        amplitude = float(getattr(nt, "amplitude", 1.0))
        if ens.noise is not None:
            self.problem(label, "ensemble noise has no NIR equivalent")
        # the generated modules carry their own copies of the runtime classes: match by name
        kind = type(nt).__name__
        is_sub_lif = isinstance(nt, runtime.ResetLIF) or (
            kind == "ResetLIF" and isinstance(nt, nengo.LIF)
        )
        is_if = isinstance(nt, runtime.IntegrateAndFire) or (
            kind == "IntegrateAndFire" and hasattr(nt, "reset")
        )
        mode = str(nt.reset) if (is_sub_lif or is_if) else "zero"
        subtract = mode != "zero"
        if isinstance(nt, nengo.LIF):
            ok = True
            if float(nt.tau_ref) != 0.0:
                ok = (
                    self.approx(
                        label,
                        f"refractory period tau_ref={nt.tau_ref:g} s (NIR has none; use tau_ref=0)",
                    )
                    and ok
                )
            if float(nt.min_voltage) > -np.inf:
                ok = (
                    self.approx(
                        label,
                        f"voltage floor min_voltage={nt.min_voltage:g} (NIR "
                        "has none; use min_voltage=-np.inf)",
                    )
                    and ok
                )
            neuron: Node = LIF(
                np.full(shape, self.membrane_tau(float(nt.tau_rc))),
                np.ones(shape),
                z0.reshape(shape),
                np.ones(shape),
                np.zeros(shape),
            )
            drive = bias - z0
        elif is_if:
            # the reference starts an IF at 0: shift the voltage by the initial value
            if subtract and np.any(z0 != 0):
                self.problem(
                    label,
                    f"IntegrateAndFire(reset={mode!r}) with a non-zero "
                    "initial voltage has no NIR equivalent",
                )
            neuron = IF(np.ones(shape), (1.0 - z0).reshape(shape), (-z0).reshape(shape))
            drive = bias
        else:
            self.problem(
                label,
                f"neuron type {type(nt).__name__} has no NIR equivalent "
                "(supported: nengo.LIF, ResetLIF, IntegrateAndFire)",
            )
            return
        if np.any(gain == 0):
            self.problem(label, "a neuron with gain 0 cannot be exported")
            return
        init = getattr(nt, "initial_state", None) or {}
        if "voltage" not in init and isinstance(nt, nengo.LIF) and not is_sub_lif:
            warnings.warn(
                f"{label}: the initial voltages were sampled at random by Nengo "
                "(initial_state not set); the graph reproduces this build's values",
                ConversionWarning,
                stacklevel=3,
            )
        inp = self.junction(f"{label}.input", shape)
        neuron = neuron.replace(r=gain.reshape(shape))
        name = self.add(label, neuron)
        self.edges.append((inp, name))
        if subtract:
            self.reset_meta[name] = mode
        drive = drive / gain
        if np.any(drive != 0):
            self.biases[inp] = self.biases.get(inp, 0) + drive
        self.objs[id(ens)] = _Obj(
            "ensemble",
            n,
            label,
            out=name,
            inp=inp,
            shape=shape,
            factor=amplitude / self.dt,
            gain=gain,
        )

    # -- padding folded back into convolutions -------------------------------------------------
    def pad_junctions(self) -> dict[str, Any]:
        """Sparse zero-padding into a passthrough that only valid convolutions read."""
        from nengo.transforms import Convolution, Sparse

        skip: set[int] = set()
        replace: dict[int, list[tuple[Any, tuple[int, ...]]]] = {}
        junctions: list[Any] = []
        conns = list(self.net.all_connections)
        for node in self.net.all_nodes:
            if node.output is not None or node.size_in == 0:
                continue
            ins = [c for c in conns if c.post_obj is node]
            outs = [c for c in conns if c.pre_obj is node]
            if (
                not ins
                or not outs
                or not all(
                    isinstance(c.transform, Convolution)
                    and c.transform.padding == "valid"
                    and not c.transform.channels_last
                    and _full(c.pre)
                    for c in outs
                )
            ):
                continue
            padded = tuple(outs[0].transform.input_shape.shape)
            pads = []
            for c in ins:
                p = _pad_of(c, padded) if isinstance(c.transform, Sparse) else None
                if p is None or c.synapse is not None:
                    break
                pads.append((c, p))
            else:
                if len({p for _, p in pads}) != 1:
                    continue
                for c in ins:
                    skip.add(id(c))
                for c in outs:
                    replace[id(c)] = [(pc.pre, p) for pc, p in pads]
                junctions.append(node)
        return {"skip": skip, "replace": replace, "junctions": junctions}

    # -- connections ---------------------------------------------------------------------------
    def connection(
        self, conn: Any, label: str, padded: list[tuple[Any, tuple[int, ...]]] | None
    ) -> None:
        if conn.learning_rule_type is not None:
            raise _Refused("learning rules have no NIR equivalent")
        if padded is not None:
            for pre, pad in padded:
                self.one_connection(conn, label, pre, pad)
            return
        self.one_connection(conn, label, conn.pre, None)

    def one_connection(self, conn: Any, label: str, pre: Any, pad: tuple[int, ...] | None) -> None:
        import nengo
        from nengo.transforms import Convolution, Dense, NoTransform, Sparse

        pre_obj = getattr(pre, "obj", pre)
        base_pre = pre_obj.ensemble if isinstance(pre_obj, nengo.ensemble.Neurons) else pre_obj
        post_obj = conn.post_obj
        base_post = post_obj.ensemble if isinstance(post_obj, nengo.ensemble.Neurons) else post_obj
        src = self.objs.get(id(base_pre))
        dst = self.objs.get(id(base_post))
        if src is None or dst is None:
            raise _Refused("connects an object that could not be exported")
        if src.kind == "digital":
            self.cuba_connection(conn, label, src, dst)
            return
        if isinstance(pre_obj, nengo.Ensemble) and conn.solver.weights:
            raise _Refused("decoded connections with weight solvers are not supported")
        if conn.function is not None and not isinstance(pre_obj, nengo.Ensemble):
            raise _Refused("a connection computing a function has no NIR equivalent")
        factor = (
            src.factor if isinstance(pre_obj, (nengo.ensemble.Neurons, nengo.Ensemble)) else 1.0
        )
        n_pre = src.size
        built = self.model.params[conn]
        t = conn.transform
        # 1. the map from the pre object's output to the post object's input (flat)
        conv = None
        diag_only: np.ndarray | None = None
        if isinstance(pre_obj, nengo.Ensemble):  # decoded: decoders (+transform)
            m = np.asarray(built.weights, F64) * factor  # (size_mid_post, n_neurons)
        elif isinstance(t, Convolution):
            if not (_full(pre) and _full(conn.post)):
                raise _Refused("sliced convolution connections are not supported")
            conv = t
            m = None
        else:  # element-wise maps without slices are kept as a vector, not a matrix
            w0 = None
            if isinstance(t, Dense):
                w0 = np.asarray(built.weights, F64)
            if (
                _full(pre)
                and _full(conn.post)
                and not isinstance(post_obj, nengo.Ensemble)
                and src.size == dst.size
            ):
                if isinstance(t, NoTransform):
                    diag_only = np.full(src.size, factor)
                elif w0 is not None and w0.ndim <= 1:
                    diag_only = np.broadcast_to(w0 * factor, (src.size,)).copy()
            if diag_only is not None:
                m = None
            else:
                sel = _selection(conn.pre_slice, n_pre)
                if isinstance(t, NoTransform):
                    core = np.eye(sel.shape[0])
                elif isinstance(t, Sparse):
                    core = _sparse_dense(t, built)
                elif w0 is not None:
                    core = (
                        np.diag(w0)
                        if w0.ndim == 1
                        else (w0 * np.eye(sel.shape[0]) if w0.ndim == 0 else w0)
                    )
                else:
                    raise _Refused(f"transform {type(t).__name__} is not supported")
                m = core @ sel * factor
        if conv is None and m is not None:
            if isinstance(post_obj, nengo.Ensemble) and not isinstance(
                post_obj, nengo.ensemble.Neurons
            ):
                enc = np.asarray(self.model.params[post_obj].scaled_encoders, F64)
                enc = enc / dst.gain[:, None]  # the gain is the neuron's r
                m = _post_selection(conn.post_slice, enc.shape[1]) @ m
                m = enc @ m
            else:
                m = _post_selection(conn.post_slice, dst.size) @ m
            if m.shape[0] == m.shape[1] and np.count_nonzero(m - np.diag(np.diag(m))) == 0:
                diag_only = np.diag(m).copy()
                m = None
        # 2. constants (Nodes with a fixed output) become biases
        if src.kind == "const":
            if conv is not None:
                raise _Refused("a constant into a convolution is not supported")
            value = src.extra["value"]
            value = value * diag_only if diag_only is not None else m @ value
            self.constant_into(dst, value, conn.synapse, label)
            return
        if src.out is None:
            raise _Refused("its source has no output")
        # 3. IR nodes for the map, then the synapse
        head = src.out
        if conv is not None:
            head = self.conv_node(conv, built, label, head, factor, src, pad)
        elif diag_only is not None:
            if src.shape != dst.shape and dst.shape is not None:
                if len(dst.shape) > 1:
                    raise _Refused(
                        f"{dst.label} has shape {dst.shape} but receives a flat "
                        "signal; NIR has no reshape"
                    )
                flat = self.add(f"{label}.flatten", Flatten(src.shape, 0, -1))
                self.edges.append((head, flat))
                head = flat
            if not np.all(diag_only == 1.0):
                shape = dst.shape or (dst.size,)
                name = self.add(f"{label}", Scale(diag_only.reshape(shape)))
                self.edges.append((head, name))
                head = name
        else:
            assert m is not None
            if src.shape is not None and len(src.shape) > 1:
                flat = self.add(f"{label}.flatten", Flatten(src.shape, 0, -1))
                self.edges.append((head, flat))
                head = flat
            if dst.shape is not None and len(dst.shape) > 1:
                raise _Refused(
                    f"a dense map into {dst.label} (shape {dst.shape}) would need "
                    "a reshape, which NIR does not have"
                )
            name = self.add(f"{label}", Linear(m))
            self.edges.append((head, name))
            head = name
        if src.offset is not None:  # Threshold offset through the same map
            if conv is not None:
                raise _Refused("a Threshold node into a convolution is not supported")
            off = src.offset * diag_only if diag_only is not None else m @ src.offset
            self.constant_into(dst, off, conn.synapse, f"{label}.offset")
        head = self.synapse(conn.synapse, label, head, dst)
        if dst.inp is None:
            raise _Refused(f"{dst.label} takes no input")
        self.edges.append((head, dst.inp))

    def conv_node(
        self,
        t: Any,
        built: Any,
        label: str,
        head: str,
        factor: float,
        src: _Obj,
        pad: tuple[int, ...] | None,
    ) -> str:
        kernel = np.asarray(built.weights, F64)
        nd = len(t.kernel_size)
        # (*k, C_in/g, C_out) -> (C_out, C_in/g, *k)
        w = np.moveaxis(kernel, (-1, -2), (0, 1)) * factor
        in_shape = tuple(t.input_shape.shape)
        if t.channels_last:
            in_shape = (in_shape[-1], *in_shape[:-1])
        padding: Any = t.padding if pad is None else pad
        if pad is not None:
            in_shape = (in_shape[0], *[s - 2 * p for s, p in zip(in_shape[1:], pad, strict=True)])
        groups = int(getattr(t, "groups", 1))
        c_in = in_shape[0]
        stride = tuple(int(s) for s in t.strides)
        node: Node
        values = np.unique(w)
        if padding == "valid":
            padding = 0
        if (
            nd == 2
            and groups == c_in == t.n_filters
            and w.shape[1] == 1
            and values.size == 1
            and not isinstance(padding, str)
        ):
            # a depthwise convolution with one repeated weight is pooling (times a scale)
            k = tuple(int(x) for x in t.kernel_size)
            value = float(values[0])
            avg = 1.0 / (k[0] * k[1])
            pool: Node = (
                AvgPool2d(k, stride, padding)
                if np.isclose(value, avg)
                else SumPool2d(k, stride, padding)
            )
            scale = value / avg if isinstance(pool, AvgPool2d) else value
            name = self.add(label, pool)
            self.edges.append((head, name))
            if not np.isclose(scale, 1.0, rtol=1e-12, atol=0):
                out_shape = pool.output_shape(in_shape)
                sc = self.add(f"{label}.scale", Scale(np.full(out_shape, scale)))
                self.edges.append((name, sc))
                name = sc
            return name
        if isinstance(padding, str) and padding == "same" and any(s != 1 for s in stride):
            # nengo's "same" with stride > 1 is TensorFlow's; make it explicit if symmetric
            padding = _tf_same_pads(in_shape[1:], t.kernel_size, stride)
            if padding is None:
                raise _Refused("padding='same' with stride > 1 pads asymmetrically; NIR cannot")
        cls = Conv2d if nd == 2 else Conv1d
        node = cls(tuple(in_shape[1:]), w, stride, padding, 1, groups, None)
        name = self.add(label, node)
        if src.shape is None or tuple(src.shape) != in_shape:
            raise _Refused(f"convolution input shape {in_shape} does not match its source")
        self.edges.append((head, name))
        return name

    def synapse(self, syn: Any, label: str, head: str, dst: _Obj) -> str:
        if syn is None:
            return head
        kind, params = _classify_filter(syn, self.dt)
        shape = dst.shape or (dst.size,)
        if kind == "delay":
            steps = params["steps"] + 1  # the connection's own update step
            name = self.add(f"{label}.synapse", Delay(np.full(shape, steps * self.dt)))
            self.edges.append((head, name))
            if steps == 1:
                self.step_delays.add(name)
            return name
        if kind == "lowpass":
            node: Node = LI(
                np.full(shape, params["tau"]), np.full(shape, params["r"]), np.zeros(shape)
            )
        elif kind == "integrator":
            node = I(np.full(shape, params["r"]))
        elif kind == "cuba":
            node = CubaLI(
                np.full(shape, params["tau_syn"]),
                np.full(shape, params["tau_mem"]),
                np.full(shape, params["r"]),
                np.zeros(shape),
            )
        else:
            raise _Refused(f"connection synapse {syn!r} is not supported ({params})")
        name = self.add(f"{label}.synapse", node)
        delay = self.add(f"{label}.synapse_delay", Delay(np.full(shape, self.dt)))
        self.edges += [(head, name), (name, delay)]
        return delay

    def constant_into(self, dst: _Obj, value: np.ndarray, syn: Any, label: str) -> None:
        if dst.inp is None:
            raise _Refused(f"{dst.label} takes no input")
        value = np.asarray(value, F64).reshape(-1)
        # connection maps already give the neurons' input before their gain (their r)
        if syn is None:
            self.biases[dst.inp] = self.biases.get(dst.inp, 0) + value
            return
        # through a synapse: a constant source (an Affine of zero weights on an Input)
        if self.first_input is None:
            raise _Refused("a constant through a synapse needs an Input node to hang on")
        n_in = math.prod(self.nodes[self.first_input].shape)  # type: ignore[attr-defined]
        if len(self.nodes[self.first_input].shape) > 1:  # type: ignore[attr-defined]
            raise _Refused("a constant through a synapse needs a flat Input node")
        src = self.add(f"{label}.constant", Affine(np.zeros((value.size, n_in)), value))
        self.edges.append((self.first_input, src))
        head = self.synapse(syn, label, src, _Obj("x", value.size, label))
        self.edges.append((head, dst.inp))

    def cuba_connection(self, conn: Any, label: str, filt: _Obj, dst: _Obj) -> None:
        """``digital filter Node -> ens.neurons``: the synaptic half of a CubaLIF (or LI)."""
        import nengo

        if not (
            isinstance(conn.post_obj, nengo.ensemble.Neurons)
            and conn.synapse is None
            and _full(conn.pre)
            and _full(conn.post)
            and dst.kind == "ensemble"
            and isinstance(conn.transform, nengo.transforms.NoTransform)
        ):
            raise _Refused(
                "a digital filter Node must feed all neurons of one ensemble "
                "directly (no transform, no synapse)"
            )
        params = filt.extra["params"]
        lif = self.nodes[dst.out]  # type: ignore[index]
        shape = dst.shape or (dst.size,)
        e_s, a, num1 = params["pole"], params["direct"], params["num1"]
        if not isinstance(lif, LIF) or not 0.0 < e_s < 1.0:
            raise _Refused(
                "a first-order digital filter is only supported as the synapse of a "
                "LIF ensemble (a CubaLIF)"
            )
        if np.any(self.biases.get(dst.inp, 0.0) != 0):  # type: ignore[arg-type]
            raise _Refused(
                "a CubaLIF ensemble with a bias current besides its resting "
                "voltage has no NIR equivalent"
            )
        if self.method == "euler":  # I <- (1 - g) I + g u: an Euler synapse of tau = dt/g
            if num1 != 0.0 or not np.isclose(a, 1.0 - e_s, rtol=1e-9, atol=0):
                raise _Refused("this digital synapse is not the Euler CubaLIF synapse")
            tau_syn = self.dt / (1.0 - e_s)
            self.make_cuba(lif, dst, filt, np.full(shape, tau_syn), shape)
            return
        tau_syn = -self.dt / math.log(e_s)
        tau_mem = float(np.asarray(lif.tau).reshape(-1)[0])
        co = cuba_exact(np.array([tau_syn]), np.array([tau_mem]), np.ones(1), np.zeros(1), self.dt)
        one_m = -math.expm1(-self.dt / tau_mem)
        want_a = 1.0 - float(co.k[0]) / one_m
        want_num1 = float(co.k[0]) / one_m * float(co.b_s[0]) - want_a * e_s
        if not (
            np.isclose(a, want_a, rtol=1e-9, atol=1e-12)
            and np.isclose(num1, want_num1, rtol=1e-9, atol=1e-12)
        ):
            raise _Refused(
                "this digital synapse is not the exact CubaLIF synapse of its "
                "ensemble (nirhub maps only that filter)"
            )
        self.make_cuba(lif, dst, filt, np.full(shape, tau_syn), shape)

    def make_cuba(
        self, lif: LIF, dst: _Obj, filt: _Obj, tau_syn: np.ndarray, shape: tuple[int, ...]
    ) -> None:
        cuba = CubaLIF(
            tau_syn,
            np.asarray(lif.tau),
            np.asarray(lif.r),
            np.asarray(lif.v_leak),
            np.asarray(lif.v_threshold),
            lif.v_reset,
            np.ones(shape),
            metadata=lif.metadata,
        )
        self.nodes[dst.out] = cuba  # type: ignore[index]
        # the filter's input junction now feeds the CubaLIF (whose input junction is unused)
        self.edges.append((filt.inp, dst.inp))  # type: ignore[arg-type]
        filt.out = dst.out

    def finish_junctions(self) -> None:
        for name, bias in self.biases.items():
            node = self.nodes[name]
            shape = node.scale.shape  # type: ignore[attr-defined]
            b = np.broadcast_to(np.asarray(bias, F64), (math.prod(shape),))
            if not np.any(b):
                continue
            if len(shape) > 1:
                per = b.reshape(shape[0], -1)
                if len(shape) > 3 or not np.all(per == per[:, :1]):
                    self.problems.append(
                        Problem(
                            name,
                            "a constant input that varies within a channel of a "
                            f"{len(shape)}-D signal has no NIR equivalent",
                        )
                    )
                    continue
                c = shape[0]
                cls = Conv2d if len(shape) == 3 else Conv1d
                kernel = np.ones((c, 1) + (1,) * (len(shape) - 1))
                self.nodes[name] = cls(shape[1:], kernel, 1, 0, 1, c, per[:, 0].copy())
                self.identity.discard(name)
                continue
            self.nodes[name] = Affine(np.eye(shape[0]), b.copy())
            self.identity.discard(name)
        if self.problems:
            raise UnsupportedError(
                "the Nengo network cannot be expressed in NIR", problems=self.problems
            )


class _Refused(Exception):
    pass


def _full(obj: Any) -> bool:
    sl = getattr(obj, "slice", None)
    if sl is None:
        return True
    size = getattr(getattr(obj, "obj", obj), "size_out", None)
    if isinstance(sl, slice):
        return sl == slice(None) or (size is not None and range(size)[sl] == range(size))
    return False


def _is_identity(c: Any) -> bool:
    from nengo.transforms import Dense, NoTransform

    t = c.transform
    if isinstance(t, NoTransform):
        return True
    return isinstance(t, Dense) and np.ndim(t.init) <= 1 and not hasattr(t.init, "sample")


def _selection(sl: Any, n: int) -> np.ndarray:
    idx = np.arange(n)[sl] if sl is not None else np.arange(n)
    idx = np.atleast_1d(idx)
    m = np.zeros((idx.size, n))
    m[np.arange(idx.size), idx] = 1.0
    return m


def _post_selection(sl: Any, n: int) -> np.ndarray:
    return _selection(sl, n).T


def is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def _sparse_parts(t: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(indices (nnz, 2), values) of a nengo Sparse transform, or None for a scipy matrix."""
    init = t.init
    if hasattr(init, "indices") and hasattr(init, "data") and is_array(init.data):
        idx = np.asarray(init.indices).reshape(-1, 2)
        return idx, np.broadcast_to(np.asarray(init.data, F64), (idx.shape[0],))
    return None


def _sparse_dense(t: Any, built: Any) -> np.ndarray:
    parts = _sparse_parts(t)
    if parts is None:
        init = t.init
        if hasattr(init, "toarray"):
            return np.asarray(init.toarray(), F64)
        return np.asarray(built.weights, F64)
    out = np.zeros(t.shape)
    np.add.at(out, (parts[0][:, 0], parts[0][:, 1]), parts[1])
    return out


def _pad_of(c: Any, padded: tuple[int, ...]) -> tuple[int, ...] | None:
    """The symmetric zero-padding a Sparse 0/1 connection performs into ``padded``."""
    t = c.transform
    parts = _sparse_parts(t)
    if parts is None or np.any(parts[1] != 1):
        return None
    n_in = t.shape[1]
    ch = padded[0]
    spatial = padded[1:]
    # guess the pad from the sizes: prod((s - 2p)) * ch == n_in with one p for all dims
    for p in range(0, max(spatial) // 2 + 1):
        inner = tuple(s - 2 * p for s in spatial)
        if min(inner) < 1 or ch * math.prod(inner) != n_in:
            continue
        src = np.arange(n_in).reshape(ch, *inner)
        dst = np.arange(math.prod(padded)).reshape(padded)
        window = (slice(None), *[slice(p, p + s) for s in inner])
        expect = np.stack([dst[window].reshape(-1), src.reshape(-1)], axis=1)
        got = parts[0]
        if got.shape == expect.shape and np.array_equal(
            got[np.lexsort(got.T[::-1])], expect[np.lexsort(expect.T[::-1])]
        ):
            return (p,) * len(spatial)
    return None


def _tf_same_pads(
    spatial: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...]
) -> tuple[int, ...] | None:
    pads = []
    for n, kk, ss in zip(spatial, k, s, strict=True):
        o = -(-n // ss)
        total = max((o - 1) * ss + kk - n, 0)
        if total % 2:
            return None
        pads.append(total // 2)
    return tuple(pads)


def _classify_filter(syn: Any, dt: float) -> tuple[str | None, dict[str, Any]]:
    """What a Nengo synapse computes, in NIR terms (run in a Node: no extra step)."""
    import nengo

    num = np.atleast_1d(np.asarray(syn.num, F64))
    den = np.atleast_1d(np.asarray(syn.den, F64))
    if isinstance(syn, nengo.Lowpass):
        return "lowpass", {"tau": float(syn.tau), "r": 1.0}
    if syn.analog:
        nz = np.trim_zeros(num, "f")
        if nz.size == 1 and den.size == 2 and den[1] == 0 and den[0] != 0:
            return "integrator", {"r": float(nz[0] / den[0])}  # k/(a s)
        if nz.size == 1 and den.size == 2 and den[1] != 0 and den[0] / den[1] > 0:
            return "lowpass", {"tau": float(den[0] / den[1]), "r": float(nz[0] / den[1])}
        if nz.size == 1 and den.size == 3 and den[2] != 0:
            a2, a1 = den[0] / den[2], den[1] / den[2]
            disc = a1 * a1 - 4 * a2
            if disc >= -1e-18 * a1 * a1 and a2 > 0 and a1 > 0:
                root = math.sqrt(max(disc, 0.0))
                ts, tm = (a1 + root) / 2, (a1 - root) / 2
                return "cuba", {"tau_syn": ts, "tau_mem": tm, "r": float(nz[0] / den[2])}
        return None, {
            "reason": "analog filter that is not a lowpass, integrator or second-order lowpass"
        }
    # digital
    if den[0] == 0:
        return None, {"reason": "digital filter with a zero leading denominator coefficient"}
    num, den = num / den[0], den / den[0]
    nz = np.trim_zeros(num, "f")
    if nz.size == 1 and np.all(den[1:] == 0):
        order = den.size - nz.size  # H(z) = z^-order
        if not np.isclose(nz[0], 1.0):
            return None, {"reason": "a digital delay with a gain"}
        # Nengo runs strictly proper filters one step early
        return "delay", {"steps": max(order - 1, 0)}
    if den.size == 2 and num.size == 2:
        return "digital", {"pole": float(-den[1]), "direct": float(num[0]), "num1": float(num[1])}
    if den.size == 3 and num.size == 3 and num[1] == 0 and num[2] == 0:
        disc = den[1] * den[1] - 4 * den[2]
        roots = None
        if disc >= 0:
            r = math.sqrt(disc)
            roots = ((-den[1] + r) / 2, (-den[1] - r) / 2)
        return "digital2", {"roots": roots, "gain": float(num[0])}
    return None, {"reason": "digital filter of order > 1 that is not a pure delay"}


def _succ(edges: list[tuple[str, str]], name: str) -> list[str]:
    return [d for s, d in edges if s == name]


def _pred(edges: list[tuple[str, str]], name: str) -> list[str]:
    return [s for s, d in edges if d == name]


def _remove_identities(
    nodes: dict[str, Node], edges: list[tuple[str, str]], identity: set[str]
) -> list[tuple[str, str]]:
    for name in [n for n in identity if n in nodes]:
        node = nodes[name]
        if not (isinstance(node, Scale) and np.all(node.scale == 1)):
            continue
        preds, succs = _pred(edges, name), _succ(edges, name)
        if name in preds or name in succs:
            continue
        edges = [e for e in edges if name not in e]
        edges += [(p, s) for p in preds for s in succs]
        del nodes[name]
    return list(dict.fromkeys(edges))


def _reaches(edges: list[tuple[str, str]], start: str, target: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        n = stack.pop()
        for d in _succ(edges, n):
            if d == target:
                return True
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return False


def _generated(name: str) -> bool:
    """A name the exporter made up (not a Nengo object's label)."""
    return name.startswith(("connection", "~")) or name.endswith((".synapse", ".flatten"))


def _fold_once(nodes: dict[str, Node], edges: list[tuple[str, str]]) -> bool:
    """One exact local rewrite (True if something changed)."""
    for a, b in list(edges):
        na, nb = nodes.get(a), nodes.get(b)
        if a == b or na is None or nb is None:
            continue
        single = _succ(edges, a) == [b] and _pred(edges, b) == [a]
        if not single:
            continue
        # Linear(W1) -> Affine/Linear(W2): one node
        if (
            isinstance(na, Linear)
            and isinstance(nb, Linear)
            and na.weight.ndim == 2
            and nb.weight.ndim == 2
        ):
            w = nb.weight @ na.weight
            bias = np.zeros(w.shape[0])
            if isinstance(na, Affine):
                bias = bias + nb.weight @ na.bias
            if isinstance(nb, Affine):
                bias = bias + nb.bias
            merged: Node = Affine(w, bias) if isinstance(nb, Affine) or np.any(bias) else Linear(w)
        # Linear(W) -> Scale(s): scale the rows
        elif (
            isinstance(na, Linear)
            and isinstance(nb, Scale)
            and na.weight.ndim == 2
            and nb.scale.shape == (na.weight.shape[0],)
        ):
            w = nb.scale[:, None] * na.weight
            merged = Affine(w, nb.scale * na.bias) if isinstance(na, Affine) else Linear(w)
        # Scale(s) -> Linear(W): scale the columns
        elif (
            isinstance(na, Scale)
            and isinstance(nb, Linear)
            and nb.weight.ndim == 2
            and na.scale.shape == (nb.weight.shape[1],)
        ):
            w = nb.weight * na.scale[None, :]
            merged = Affine(w, nb.bias) if isinstance(nb, Affine) else Linear(w)
        elif isinstance(na, Scale) and isinstance(nb, Scale) and na.scale.shape == nb.scale.shape:
            merged = Scale(na.scale * nb.scale)
        else:
            continue
        keep, drop = (a, b) if _generated(b) and not _generated(a) else (b, a)
        del nodes[drop]
        nodes[keep] = merged
        edges[:] = [
            (keep if s in (a, b) else s, keep if d in (a, b) else d)
            for s, d in edges
            if (s, d) != (a, b)
        ]
        return True
    # a summing junction that only adds a constant: move the constant into one producer
    for name, node in list(nodes.items()):
        if not (
            isinstance(node, Affine)
            and node.weight.ndim == 2
            and node.weight.shape[0] == node.weight.shape[1]
            and np.array_equal(node.weight, np.eye(node.weight.shape[0]))
        ):
            continue
        preds = _pred(edges, name)
        for p in preds:
            np_ = nodes[p]
            if (
                isinstance(np_, Linear)
                and np_.weight.ndim == 2
                and _succ(edges, p) == [name]
                and not _reaches(edges, name, p)
            ):
                bias = (np_.bias if isinstance(np_, Affine) else 0.0) + node.bias
                nodes[p] = Affine(np_.weight, np.asarray(bias, F64))
                nodes[name] = Scale(np.ones(node.weight.shape[0]))
                edges[:] = _remove_identities(nodes, list(edges), {name})
                return True
    return False


def _simplify(graph: Graph, identity: set[str]) -> Graph:
    """Remove identity junctions and fold Linear/Scale chains and junction constants (exact)."""
    nodes = dict(graph.nodes)
    edges = _remove_identities(nodes, list(dict.fromkeys(graph.edges)), identity)
    while _fold_once(nodes, edges):
        pass
    edges = list(dict.fromkeys(edges))
    return Graph(nodes, edges, dict(graph.metadata))


def _drop_loop_delays(graph: Graph, candidates: set[str], dt: float) -> Graph:
    """Replace the one-step Delays that close recurrent loops by plain edges, when the
    reference simulator would put its own one-step delay on exactly those edges (so the
    graph also converts to backends without a Delay node). Checked by simulation."""
    from nirhub.backend import make_plan, random_inputs, simulate
    from nirhub.ir.graph import flatten

    names = [
        n
        for n in candidates
        if n in graph.nodes and len(_pred(graph.edges, n)) == 1 and len(_succ(graph.edges, n)) == 1
    ]
    if not names:
        return graph
    nodes = dict(graph.nodes)
    edges = list(graph.edges)
    replaced = set()
    for n in names:
        p, s = _pred(edges, n)[0], _succ(edges, n)[0]
        edges = [e for e in edges if n not in e] + [(p, s)]
        replaced.add((p, s))
        del nodes[n]
    candidate = Graph(nodes, edges, dict(graph.metadata))
    if candidate.problems():
        return graph
    flat = flatten(candidate)
    breaking = {p for p, node in flat.nodes.items() if isinstance(node, Delay)}
    if make_plan(flat, breaking).back_edges != replaced:
        return graph
    try:
        x = random_inputs(graph, steps=12, seed=0)
        a = simulate(graph, x, dt, method="exact")
        b = simulate(candidate, x, dt, method="exact")
    except Exception:  # pragma: no cover - keep the Delays when in doubt
        return graph
    if all(np.array_equal(a.outputs[k], b.outputs[k]) for k in graph.outputs):
        return candidate
    return graph


def _rename_junctions(graph: Graph) -> Graph:
    """Junctions that survived (they add a constant) get their object's name back."""
    renames = {}
    taken = set(graph.nodes)
    for name in graph.nodes:
        if name.startswith("~"):
            base = name[1:]
            if base.endswith(".input"):
                base = base[: -len(".input")] + ".bias"
            new, i = base, 1
            while new in taken:
                new = f"{base}_{i}"
                i += 1
            taken.add(new)
            renames[name] = new
    if not renames:
        return graph
    nodes = {renames.get(k, k): v for k, v in graph.nodes.items()}
    edges = [(renames.get(s, s), renames.get(d, d)) for s, d in graph.edges]
    return Graph(nodes, edges, dict(graph.metadata))


def export_network(net: Any, *, dt: float | None = None, approximate: bool = False) -> Graph:
    """Export a ``nengo.Network`` (built with ``nengo.builder.Model`` at ``dt``) to the IR."""
    from nirhub_nengo.quiet import import_nengo

    nengo = import_nengo()

    if not isinstance(net, nengo.Network):
        raise UsageError(
            f"the nengo backend exports nengo.Network objects, got {type(net).__name__}"
        )
    if dt is None:
        dt = getattr(net, "nirhub_dt", None)
    if dt is None:
        raise UsageError(
            "a Nengo network does not know its time step; pass dt (seconds)",
            hint="e.g. nirhub convert model.py:net --from nengo --dt 0.001 ...",
        )
    model = nengo.builder.Model(dt=float(dt), label="nirhub export")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message="Non-finite values detected in `max_rates`")
        model.build(net)
    return _Exporter(net, model, float(dt), approximate).run()
