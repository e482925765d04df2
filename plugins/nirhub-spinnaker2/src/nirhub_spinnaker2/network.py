"""Lower a NIR graph to a SpiNNaker2 network in py-spinnaker2's terms (``s2_nir`` rules).

The result, :class:`S2Network`, is what ``from_ir`` returns: populations (py-spinnaker2 neuron
models with float32 parameters), projections (dense, sparse connection lists, conv with fused
sum-pooling) holding the integer weights the chip gets, and the notes of what differs from the
reference simulator. Conversion rules (``docs/backends/spinnaker2.md``):

* integrator: FORWARD (``a = dt/tau``, ``decay = 1 - a``) for graphs recorded with Euler,
  EXPONENTIAL (``a = 1 - exp(-dt/tau)``) for exact ones; ``-O integrator=`` overrides;
* per population weight scale ``w_scale = 127 / max|W|`` over every incoming weight node
  (``-O weight-scale=max|percentile:P|none``), 15 instead of 127 for the delay models;
* LIF/IF -> ``lif_no_delay`` (``lif_conv2d`` after a Conv2d), CubaLIF ->
  ``lif_curr_exp_no_delay``; with ``-O conn-delay=D > 0`` the models with a synapse delay
  field, ``lif`` / ``lif_curr_exp`` (4-bit weights);
* biases of all incoming Affine/Conv2d nodes are summed into ``i_offset``;
* weights are truncated to integers as the chip gets them (``-O rounding=nearest`` rounds).

Nothing of py-spinnaker2 is imported (it is not on PyPI).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nirhub.backend import Problem, UnsupportedError, UsageError, resolve_dt, resolve_method
from nirhub.ir.conventions import reset_mode
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub_spinnaker2.model import (
    MAX_CONN_DELAY,
    WEIGHT_LIMIT,
    Population,
    Projection,
    S2Network,
    Settings,
)
from nirhub_spinnaker2.params import (
    full_param,
    neuron_params,
    quantize,
    voltage_scale,
    weight_scale,
)
from nirhub_spinnaker2.structure import Chain, node_types, structure


# -- options ---------------------------------------------------------------------------------
def parse_max_neurons(value: Any) -> dict[str, int]:
    """``"lif1.lif:10,fc:64"`` (or a dict) -> {population: neurons per PE}."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        items = list(value.items())
    else:
        items = []
        for part in str(value).split(","):
            name, sep, n = part.strip().rpartition(":")
            if not sep or not name:
                raise UsageError(
                    f"max-neurons-per-core takes POP:N[,POP:N...]; got {part!r}",
                    hint="e.g. -O max-neurons-per-core=lif1.lif:10",
                )
            items.append((name, n))
    out = {}
    for name, n in items:
        try:
            out[str(name)] = int(n)
        except (TypeError, ValueError):
            raise UsageError(f"max-neurons-per-core of {name!r} is not an integer: {n!r}") from None
        if out[str(name)] < 1:
            raise UsageError(f"max-neurons-per-core of {name!r} must be >= 1")
    return out


def settings(graph: Graph, options: dict[str, Any]) -> Settings:
    dt = resolve_dt(graph, options.get("dt"))
    integrator = options.get("integrator")
    if integrator is None:
        method = resolve_method(graph, options.get("method"))
        integrator = "forward" if method == "euler" else "exponential"
    if integrator not in ("forward", "exponential"):
        raise UsageError(f"integrator must be forward or exponential, got {integrator!r}")
    scale = str(options.get("weight_scale") or "max")
    if scale.startswith("percentile:"):
        try:
            p = float(scale.split(":", 1)[1])
        except ValueError:
            p = -1.0
        if not 0 < p <= 100:
            raise UsageError(f"weight-scale=percentile:P needs 0 < P <= 100; got {scale!r}")
    elif scale not in ("max", "upstream", "none"):
        raise UsageError(
            f"weight-scale must be max, upstream, percentile:P or none; got {scale!r}",
            hint="max: 127/max|W| per population, or a scale that maps quantized weights "
            "onto integers exactly; upstream: 127/max|W| always (py-spinnaker2's "
            "scale_weights=True).",
        )
    rounding = str(options.get("rounding") or "trunc")
    if rounding not in ("trunc", "nearest", "none"):
        raise UsageError(f"rounding must be trunc, nearest or none; got {rounding!r}")
    delay = int(options.get("conn_delay") or 0)
    if not 0 <= delay <= MAX_CONN_DELAY:
        raise UsageError(
            f"conn-delay must be 0..{MAX_CONN_DELAY} (the synapse word's 3-bit delay field); "
            f"got {delay}"
        )
    return Settings(
        dt=dt,
        integrator=integrator,
        weight_scale=scale,
        rounding=rounding,
        conn_delay=delay,
        reset=options.get("reset"),
        max_neurons=parse_max_neurons(options.get("max_neurons_per_core")),
    )


# -- lowering --------------------------------------------------------------------------------
def _delay_steps(node: Any, shape: tuple[int, ...], dt: float) -> np.ndarray:
    """A Delay node's steps per element (the reference simulator's rounding), flattened."""
    from nirhub.backend import delay_steps

    return delay_steps(full_param(node.delay, shape), dt)


def _pool_matrix(in_shape: tuple[int, ...], kernel: tuple[int, int]) -> np.ndarray:
    """The 0/1 matrix of a SumPool2d (kernel == stride, padding 0) on a CHW vector."""
    c, h, w = in_shape
    kh, kw = kernel
    oh, ow = h // kh, w // kw
    m = np.zeros((c * oh * ow, c * h * w))
    for ci in range(c):
        for y in range(oh * kh):
            for x in range(ow * kw):
                m[ci * oh * ow + (y // kh) * ow + x // kw, ci * h * w + y * w + x] = 1.0
    return m


def lower(graph: Graph, **options: Any) -> S2Network:
    """The SpiNNaker2 network of ``graph``; raises UnsupportedError with every problem."""
    net, problems = lower_with_problems(graph, options)
    if problems or net is None:
        raise UnsupportedError(
            f"the graph cannot run on SpiNNaker2 ({len(problems)} problem(s)):\n"
            + "\n".join(f"  {p}" for p in problems),
            problems=problems,
            hint="Each line names the node and the fix; `nirhub convert --dry-run` lists them "
            "all without writing anything.",
        )
    return net


def lower_with_problems(
    graph: Graph, options: dict[str, Any]
) -> tuple[S2Network | None, list[Problem]]:
    from nirhub_spinnaker2.limits import check_limits

    s = settings(graph, options)
    flat = flatten(graph)
    chains, outputs, problems = structure(flat)
    if problems:
        return None, problems
    shapes = infer_shapes(graph)
    types = node_types(flat)
    notes: list[str] = []

    def out_shape(path: str) -> tuple[int, ...]:
        shp = shapes.output(path)
        if shp is None:
            shp = getattr(flat.nodes[path], "shape", None)
        return tuple(int(x) for x in shp) if shp is not None else ()

    pops: dict[str, Population] = {}
    for path in flat.inputs:
        pops[path] = Population(
            path, "spike_list", out_shape(path), source="Input", w_scale=1.0, reset=""
        )

    incoming: dict[str, list[Chain]] = {}
    for c in chains:
        incoming.setdefault(c.post, []).append(c)
    raw: dict[int, np.ndarray] = {}  # chain index -> float weights as a (post, pre) or kernel
    for i, c in enumerate(chains):
        node = flat.nodes[c.weight] if c.weight else None
        if node is None:
            raw[i] = np.ones(1)
        else:
            raw[i] = np.asarray(node.weight, dtype=np.float64)

    projections: list[Projection] = []
    for post, ins in incoming.items():
        node = flat.nodes[post]
        kind = types[post]
        idx = [chains.index(c) for c in ins]
        shape = out_shape(post) or (1,)
        bias = np.zeros(shape)
        conv = any(c.weight and types[c.weight] == "Conv2d" for c in ins)
        delayed = any(types[b] == "Delay" for c in ins for b in (*c.between, *c.after))
        fmt = "delay" if s.conn_delay > 0 or (delayed and not conv) else "no_delay"
        limit = WEIGHT_LIMIT[fmt]
        w_scale, scale_rule = weight_scale([raw[i] for i in idx], s.weight_scale, limit)
        for c in ins:
            b = getattr(flat.nodes[c.weight], "bias", None) if c.weight else None
            if b is not None:
                b = np.asarray(b, dtype=np.float64)
                bias = bias + (b.reshape(-1, 1, 1) if conv and b.ndim == 1 else b)
        if kind == "CubaLIF":
            model = "lif_curr_exp" if fmt == "delay" else "lif_curr_exp_no_delay"
        elif conv:
            model = "lif_conv2d"
        else:
            model = "lif" if fmt == "delay" else "lif_no_delay"
        if conv and s.conn_delay:
            problems.append(
                Problem(post, "conv projections (lif_conv2d) take no delay: use -O conn-delay=0")
            )
        mode = reset_mode(graph, post, s.reset)
        if mode in ("subtract-delayed", "subtract-guarded"):
            notes.append(
                f"{post}: recorded reset {mode!r} runs as reset_by_subtraction (in the spike "
                "step); spikes may differ where v exceeds 2x threshold"
            )
        pops[post] = Population(
            post,
            model,
            shape,
            neuron_params(node, kind, w_scale, bias, s, shape),
            reset="reset_to_v_reset" if mode == "zero" else "reset_by_subtraction",
            w_scale=w_scale,
            scale_rule=scale_rule,
            source=kind,
            max_atoms_per_core=s.max_neurons.get(post, 0),
            v_scale=voltage_scale(node, kind, w_scale, s, shape),
        )
        if kind == "IF" and s.dt != 1.0:
            notes.append(
                f"{post}: IF scaled with dt = {s.dt:g} (NIR's v += dt R I); py-spinnaker2's "
                "s2_nir leaves dt out of IF populations, so its own conversion of this graph "
                "would integrate 1/dt times faster"
            )
        if kind == "CubaLIF" and np.any(bias != 0):
            notes.append(
                f"{post}: the Affine biases enter the membrane as i_offset at their synaptic "
                "steady state (py-spinnaker2's rule), not through the synaptic current: the "
                "first ~tau_syn/dt steps differ from the reference"
            )

        def clipped(wf: np.ndarray, name: str, post: str, limit: int) -> np.ndarray:
            """Quantized; with a percentile scale, clipped to the model's range (noted)."""
            q = quantize(wf, s.rounding)
            if s.weight_scale.startswith("percentile:"):
                over = int(np.count_nonzero(np.abs(q) > limit))
                if over:
                    q = np.clip(q, -limit, limit)
                    notes.append(
                        f"{name}: {over} of {q.size} weights clipped to +-{limit} by "
                        f"weight-scale={s.weight_scale} (into {post})"
                    )
            return q

        for c in ins:
            name = c.weight or c.between[-1]
            pre_shape = pops[c.pre].shape if c.pre in pops else out_shape(c.pre)
            w = raw[chains.index(c)]
            delay_nodes = [b for b in (*c.between, *c.after) if types[b] == "Delay"]
            if c.weight and types[c.weight] == "Conv2d":
                if delay_nodes:
                    problems.append(
                        Problem(
                            delay_nodes[0],
                            "conv projections (lif_conv2d) have no synapse delays; move the "
                            "Delay next to a dense projection or remove it",
                            kind="unsupported",
                        )
                    )
                    continue
                wnode = flat.nodes[c.weight]
                pools = [b for b in c.between if types[b] == "SumPool2d"]
                pool = None
                if pools:
                    pn = flat.nodes[pools[-1]]
                    k = tuple(int(x) for x in pn.kernel_size)
                    if tuple(int(x) for x in pn.stride) != k or any(int(x) for x in pn.padding):
                        problems.append(
                            Problem(
                                pools[-1],
                                "a SumPool2d fused into a conv projection needs kernel == "
                                "stride and padding 0",
                            )
                        )
                        continue
                    pool = k  # type: ignore[assignment]
                pad = wnode.padding
                if isinstance(pad, str):
                    problems.append(
                        Problem(c.weight, f"padding {pad!r}: give explicit symmetric padding")
                    )
                    continue
                if any(int(d) != 1 for d in wnode.dilation) or int(wnode.groups) != 1:
                    problems.append(
                        Problem(c.weight, "dilation and groups are not supported by lif_conv2d")
                    )
                    continue
                wf = w * w_scale
                projections.append(
                    Projection(
                        name,
                        c.pre,
                        post,
                        "conv",
                        wf,
                        clipped(wf, name, post, limit),
                        0,
                        stride=tuple(int(x) for x in wnode.stride),  # type: ignore[arg-type]
                        padding=tuple(int(x) for x in pad),  # type: ignore[arg-type]
                        pool=pool,  # type: ignore[arg-type]
                        nodes=(*c.between, c.weight),
                    )
                )
                continue
            # dense or sparse: compose flatten (identity on the CHW vector) and sum-pools
            mat: np.ndarray | None = None  # None: the identity
            cur_shape = pre_shape
            sparse = False
            pre_steps = np.zeros(int(math.prod(pre_shape)), dtype=np.int64)
            for b in c.between:
                if types[b] == "Delay":
                    if mat is not None:
                        problems.append(
                            Problem(
                                b,
                                "a Delay after a SumPool2d cannot become synapse delays; put "
                                "it before the pooling or after the weight node",
                                kind="unsupported",
                            )
                        )
                        break
                    pre_steps = pre_steps + _delay_steps(flat.nodes[b], cur_shape, s.dt)
                elif types[b] == "SumPool2d":
                    pn = flat.nodes[b]
                    k = tuple(int(x) for x in pn.kernel_size)
                    if tuple(int(x) for x in pn.stride) != k or any(int(x) for x in pn.padding):
                        problems.append(
                            Problem(b, "SumPool2d needs kernel == stride and padding 0")
                        )
                        break
                    pool_m = _pool_matrix(cur_shape, k)  # type: ignore[arg-type]
                    mat = pool_m if mat is None else pool_m @ mat
                    cur_shape = out_shape(b)
                    sparse = True
                elif types[b] == "Flatten":
                    cur_shape = out_shape(b)
            else:
                if c.weight:
                    full = w if mat is None else w @ mat
                else:
                    full = mat if mat is not None else np.eye(int(math.prod(pre_shape)))
                wf = full * w_scale
                steps = None
                if delay_nodes:
                    post_steps = np.zeros(wf.shape[0], dtype=np.int64)
                    for b in c.after:
                        post_steps = post_steps + _delay_steps(flat.nodes[b], shape, s.dt)
                    steps = post_steps[:, None] + pre_steps[None, :]
                    field_max = s.conn_delay + int(steps.max(initial=0))
                    if field_max > MAX_CONN_DELAY:
                        problems.append(
                            Problem(
                                delay_nodes[0],
                                f"delay beyond the synapse field: {int(steps.max())} step(s) "
                                f"of {', '.join(delay_nodes)} + conn-delay {s.conn_delay} > "
                                f"{MAX_CONN_DELAY} (3-bit delay field); shorten the delay or "
                                "raise dt",
                                kind="limit",
                            )
                        )
                        continue
                projections.append(
                    Projection(
                        name,
                        c.pre,
                        post,
                        "sparse" if sparse else "dense",
                        wf,
                        clipped(wf, name, post, limit),
                        s.conn_delay,
                        nodes=(*c.between, *([c.weight] if c.weight else []), *c.after),
                        delays=steps,
                    )
                )
    net = S2Network(
        populations=pops,
        projections=projections,
        inputs=list(flat.inputs),
        outputs=outputs,
        dt=s.dt,
        options={
            "dt": s.dt,
            "integrator": s.integrator,
            "weight_scale": s.weight_scale,
            "rounding": s.rounding,
            "conn_delay": s.conn_delay,
            "reset": s.reset,
            "max_neurons_per_core": s.max_neurons,
        },
        notes=notes,
        graph_hash=graph_hash(graph),
        graph=graph,
    )
    depth = net.depth()  # populations in the order spikes reach them
    net.populations = dict(sorted(pops.items(), key=lambda kv: depth.get(kv[0], 1 << 30)))
    problems += check_limits(net, list(flat.nodes))
    return net, problems


def graph_hash(graph: Graph) -> str:
    """sha256 of the graph's nodes, parameters and edges (stable across file layouts)."""
    import hashlib

    h = hashlib.sha256()
    for path, node in sorted(graph.walk(), key=lambda x: x[0]):
        h.update(f"{path}:{node.type_name}".encode())
        for k in node.fields:
            v = getattr(node, k, None)
            if isinstance(v, np.ndarray):
                h.update(np.ascontiguousarray(v, dtype=np.float64).tobytes())
            else:
                h.update(repr(v).encode())
    for e in sorted(graph.edges):
        h.update(repr(e).encode())
    return h.hexdigest()
