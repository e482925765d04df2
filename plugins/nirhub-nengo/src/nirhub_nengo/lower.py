"""IR -> a framework-neutral description of a Nengo network (:class:`NetSpec`).

The description lists Nengo objects and connections with plain numbers and arrays; the code
generator (:mod:`nirhub_nengo.codegen`) turns it into a readable Python module, which the
importer executes. Nothing here imports nengo.

How a NIR graph becomes a Nengo network (``docs/backends/nengo.md`` has the derivations):

* Every signal is split into a *varying* part, carried by a Nengo object (the node's *site*),
  and a *constant* part (the signal at rest: biases, ``v_leak`` of non-spiking neurons),
  tracked as a numpy array and added where it is consumed: folded into an ensemble's bias,
  fed by a constant ``nengo.Node`` into filters, added to Output sites. The varying part is 0
  at rest, so delaying it (recurrent back-edges) needs no initial value.
* Stateless nodes (Affine, Linear, Scale, Conv, pooling) become connection transforms into a
  passthrough ``nengo.Node``; Flatten and graph relays are identities (Nengo signals are flat,
  channels first, the order NIR flattens in).
* Spiking neurons are ensembles with explicit ``gain``/``bias`` on a voltage normalised to
  ``z = (v - v0) / (v_threshold - v0)``; LIF uses ``nengo.LIF`` (exact integration, no
  refractory period, no voltage floor), IF and subtractive resets use the neuron types of
  :mod:`nirhub_nengo.runtime`. Output spikes have amplitude ``dt``, i.e. the value 1 for one
  step, as in the reference simulator.
* CubaLIF is ``nengo.LIF`` driven through a first-order *digital* synaptic filter (run in a
  ``nengo.Node``) whose coefficients make the pair the exact zero-order-hold solution of the
  coupled synapse/membrane system; LI, CubaLI and I are exact analog filters in Nodes.
* Delay: a one-step synapse plus a digital pure delay; back-edges of recurrent loops (the
  reference simulator's rule) get a one-step synapse.

Together this reproduces ``nirhub.simulate(..., method="exact")`` step for step.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import (
    Problem,
    UnsupportedError,
    cuba_exact,
    delay_steps,
    make_op,
    make_plan,
    variant_hint,
    variant_problems,
)
from nirhub.ir.conventions import reset_mode
from nirhub.ir.graph import FlatGraph, Graph, flatten, infer_shapes
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
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

_STATEFUL = (LIF, IF, CubaLIF, LI, I, CubaLI, Delay)


# --------------------------------------------------------------------------------------------
# the description
# --------------------------------------------------------------------------------------------


@dataclass
class Obj:
    """One Nengo object. ``kind`` decides the constructor; arrays are keys into ``arrays``."""

    name: str
    kind: str  # input | passthrough | const | filter | threshold | ensemble
    size: int
    label: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conn:
    pre: str
    post: str
    pre_attr: str | None = None  # "neurons" for ensembles
    post_attr: str | None = None
    pre_idx: str | None = None  # array key of an index list (advanced indexing)
    post_idx: str | None = None
    transform: dict[str, Any] | None = None
    #: steps of delay on the connection (a digital synapse); 1 for recurrent back-edges
    delayed: int = 0


@dataclass(frozen=True)
class Site:
    """Where the varying part of a node's output lives: a full-size Nengo object."""

    obj: str
    attr: str | None = None


@dataclass
class Recorder:
    """How to turn probe data back into a recorded node's variables."""

    path: str
    kind: str  # spiking | filter | other
    probes: dict[str, str] = field(default_factory=dict)  # variable -> probe key
    const: np.ndarray | None = None
    shape: tuple[int, ...] = ()
    #: spiking: [(probe key of the group's voltage, index array)]
    voltage_groups: list[tuple[str, np.ndarray]] = field(default_factory=list)
    v0: np.ndarray | None = None
    scale: np.ndarray | None = None
    #: CubaLI/CubaLIF current: [(probe key, index array)]
    current_groups: list[tuple[str, np.ndarray]] = field(default_factory=list)


@dataclass
class NetSpec:
    dt: float
    label: str
    method: str = "exact"
    objects: list[Obj] = field(default_factory=list)
    conns: list[Conn] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    #: top-level Input name -> (object name, NIR shape)
    inputs: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    #: top-level Output name -> (object name, NIR shape)
    outputs: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    #: extra probes: key -> (object name, attribute, probed variable)
    probes: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)
    recorders: dict[str, Recorder] = field(default_factory=dict)
    #: per spiking node: how its voltage was normalised (documentation and export)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _flat(a: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` broadcast to ``shape`` and flattened (C order), float64."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=F64), shape)).reshape(-1)


def _groups(*keys: np.ndarray) -> list[tuple[tuple[float, ...], np.ndarray]]:
    """Indices sharing the same tuple of values, in order of first appearance."""
    n = keys[0].shape[0]
    out: dict[tuple[float, ...], list[int]] = {}
    for i in range(n):
        k = tuple(float(a[i]) for a in keys)
        out.setdefault(k, []).append(i)
    return [(k, np.asarray(v, dtype=np.int64)) for k, v in out.items()]


def digital_coefficients(num: list[float], den: list[float]) -> tuple[list[float], list[float]]:
    """Coefficients for ``nengo.synapses.LinearFilter(num, den, analog=False)``.

    Nengo runs a *strictly proper* digital filter one step early (``y[t] = C x[t]`` with
    ``x[t]`` already updated by ``u[t]``). A strictly proper ``H(z)`` is therefore given as
    ``H(z) / z`` (one more trailing zero in the denominator) so that Nengo computes ``H(z)``.
    """
    num = [float(v) for v in num]
    den = [float(v) for v in den]
    while len(num) > 1 and num[0] == 0.0:
        num = num[1:]
    proper = len(num) == len(den) and num[0] != 0.0
    if len(den) > 1 and not proper:
        den = den + [0.0]
    return num, den


def _phi_kappa(tau_syn: np.ndarray, tau_mem: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    co = cuba_exact(tau_syn, tau_mem, np.ones_like(tau_syn), np.zeros_like(tau_syn), dt)
    return {"e_s": co.e_s, "b_s": co.b_s, "e_m": co.e_m, "kappa": co.k}


def euler_tau(tau: np.ndarray, dt: float) -> np.ndarray:
    """``tau'`` with ``exp(-dt/tau') = 1 - dt/tau``: Nengo's exact LIF then steps like Euler.

    Needs ``dt < tau`` (a positive Euler decay factor).
    """
    return -dt / np.log1p(-dt / np.asarray(tau, F64))


def euler_synapse(tau_syn: float, dt: float) -> tuple[list[float], list[float]]:
    """Digital filter of the forward-Euler synaptic current ``I <- (1 - dt/ts) I + dt/ts u``."""
    g = dt / tau_syn
    return digital_coefficients([g, 0.0], [1.0, -(1.0 - g)])


def cuba_filter(tau_syn: float, tau_mem: float, dt: float) -> tuple[list[float], list[float]]:
    """Digital filter ``u -> J`` that makes ``nengo.LIF(tau_rc=tau_mem)`` an exact CubaLIF.

    The reference's exact CubaLIF step (input ``u = w_in x`` held over the step, old current
    ``I``) is ``v <- e_m v + c + g u + k (I - u)``, ``I <- e_s I + b_s u``. Nengo's LIF does
    ``z <- e_m z + (1 - e_m) J``. With ``J = gain * F(u) + bias`` and ``gain = r/(thr - v0)``
    the two agree when ``F(z) = a + b b_s z^-1 / (1 - e_s z^-1)``, ``a = 1 - kappa/(1 - e_m)``,
    ``b = kappa/(1 - e_m)`` (``k = r kappa``).
    """
    co = _phi_kappa(np.array([tau_syn]), np.array([tau_mem]), dt)
    e_s, b_s, e_m, kappa = (float(co[k][0]) for k in ("e_s", "b_s", "e_m", "kappa"))
    one_m = -math.expm1(-dt / tau_mem)  # 1 - e_m
    a = 1.0 - kappa / one_m
    b = kappa / one_m
    del e_m
    return digital_coefficients([a, b * b_s - a * e_s], [1.0, -e_s])


def _ident(text: str, used: set[str]) -> str:
    # ASCII only: a unicode "letter" may not be valid in a name (a², NFKC look-alikes)
    base = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_").lower()[:60] or "obj"
    if base[0].isdigit():
        base = "n" + base
    if keyword.iskeyword(base) or base in dir(builtins):
        base += "_"
    name = base
    i = 1
    while name in used or name in _RESERVED:
        name = f"{base}_{i}"
        i += 1
    used.add(name)
    return name


_RESERVED = {
    "np",
    "nengo",
    "net",
    "w",
    "inputs",
    "weights",
    "os",
    "DT",
    "build_network",
    "run",
    "IntegrateAndFire",
    "ResetLIF",
    "Threshold",
    "Feeder",
    "Choice",
    "LIF",
    "EnumParam",
    "RESETS",
    "RectifiedLinear",
    "BoolParam",
    "math",
}


# --------------------------------------------------------------------------------------------
# lowering
# --------------------------------------------------------------------------------------------


class _Lowering:
    def __init__(
        self,
        graph: Graph,
        dt: float,
        method: str,
        reset: str | None,
        record: tuple[str, ...],
        label: str,
    ) -> None:
        self.graph = graph
        self.dt = float(dt)
        self.method = method
        self.reset = reset
        self.flat: FlatGraph = flatten(graph)
        info = infer_shapes(graph)
        self.ins: dict[str, tuple[int, ...]] = {p: tuple(info.inputs[p]) for p in self.flat.nodes}
        self.outs: dict[str, tuple[int, ...]] = {p: tuple(info.outputs[p]) for p in self.flat.nodes}
        breaking = set()
        self.delays: dict[str, np.ndarray] = {}
        for p, node in self.flat.nodes.items():
            if isinstance(node, Delay):
                k = delay_steps(np.broadcast_to(np.asarray(node.delay, F64), self.ins[p]), dt)
                self.delays[p] = k.reshape(-1)
                if int(k.min()) >= 1:
                    breaking.add(p)
        self.plan = make_plan(self.flat, breaking)
        self.preds: dict[str, list[str]] = {p: [] for p in self.flat.nodes}
        for s, d in self.flat.edges:
            self.preds[d].append(s)
        self.order = [p for u in self.plan.units for p in u.nodes]
        self.spec = NetSpec(dt=self.dt, label=label, method=method)
        self.used: set[str] = set()
        self.labels: set[str] = set()
        self.sites: dict[str, Site | None] = {}
        self.consts: dict[str, np.ndarray] = {}
        self.record = set(record)
        self.problems: list[Problem] = []
        self.pending: list[tuple[str, dict[str, Any]]] = []

    # -- bookkeeping ---------------------------------------------------------------------------
    def obj(self, kind: str, size: int, label: str, **params: Any) -> str:
        name = _ident(label, self.used)
        base, i = label, 1
        while label in self.labels:
            label = f"{base}#{i}"
            i += 1
        self.labels.add(label)
        self.spec.objects.append(Obj(name, kind, int(size), label, params))
        return name

    def array(self, key: str, value: np.ndarray) -> str:
        key = re.sub(r"[^\w.:-]", "_", key)
        base, i = key, 1
        while key in self.spec.arrays:
            key = f"{base}.{i}"
            i += 1
        self.spec.arrays[key] = np.asarray(value)
        return key

    def connect(
        self,
        site: Site,
        post: str,
        *,
        post_attr: str | None = None,
        post_idx: str | None = None,
        pre_idx: str | None = None,
        transform: dict[str, Any] | None = None,
        delayed: int = 0,
    ) -> None:
        self.spec.conns.append(
            Conn(site.obj, post, site.attr, post_attr, pre_idx, post_idx, transform, delayed)
        )

    def const_node(self, value: np.ndarray, label: str) -> Site:
        key = self.array(f"{label}.value", value.reshape(-1))
        return Site(self.obj("const", value.size, label, value=key))

    # -- constants (signals at rest) -------------------------------------------------------
    def const(self, path: str, stack: tuple[str, ...] = ()) -> np.ndarray:
        if path in self.consts:
            return self.consts[path]
        if path in stack:
            raise UnsupportedError(
                f"{path}: a recurrent loop made only of stateless nodes ({' -> '.join(stack)})",
                problems=[
                    Problem(
                        path,
                        "recurrent loop without any neuron or Delay node; "
                        "Nengo needs state in every loop",
                        kind="unsupported",
                    )
                ],
            )
        node = self.flat.nodes[path]
        shape = self.outs[path]
        if isinstance(node, (LI, CubaLI)):
            value = np.broadcast_to(np.asarray(node.v_leak, F64), shape).copy()
        elif isinstance(node, _STATEFUL) or (isinstance(node, Input) and path in self.flat.inputs):
            value = np.zeros(shape, F64)
        else:
            total = self.const_in(path, stack + (path,))
            value = self.apply(path, total)
        self.consts[path] = value
        return value

    def const_in(self, path: str, stack: tuple[str, ...] = ()) -> np.ndarray:
        total = np.zeros(self.ins[path], F64)
        for s in self.preds[path]:
            total = total + self.const(s, stack).reshape(self.ins[path])
        return total

    def apply(self, path: str, x: np.ndarray) -> np.ndarray:
        node = self.flat.nodes[path]
        if isinstance(node, (Input, Output, Flatten)) or path in self.flat.relays:
            return np.asarray(x, F64).reshape(self.outs[path])
        op = make_op(node, self.ins[path], self.outs[path], np.dtype(F64))
        return np.asarray(op(np.asarray(x, F64)[None]), F64).reshape(self.outs[path])

    def check_carries(self) -> None:
        """Back-edges start from the source's rest output; ours is its constant part."""
        rest: dict[str, np.ndarray] = {}
        for path in self.order:
            node = self.flat.nodes[path]
            if isinstance(node, _STATEFUL) or path in self.flat.inputs:
                rest[path] = self.const(path)
                continue
            total = np.zeros(self.ins[path], F64)
            for s in self.preds[path]:
                if (s, path) not in self.plan.back_edges and s in rest:
                    total = total + rest[s].reshape(self.ins[path])
            rest[path] = self.apply(path, total)
        for s, d in sorted(self.plan.back_edges):
            if not np.allclose(rest[s], self.const(s), rtol=0, atol=0):
                self.problems.append(
                    Problem(
                        s,
                        f"the recurrent edge {s} -> {d} would start from a value that differs "
                        "from the node's constant input; nirhub's Nengo mapping cannot express it",
                        kind="unsupported",
                    )
                )

    # -- inputs of a node ----------------------------------------------------------------------
    def feed(
        self,
        path: str,
        post: str,
        *,
        post_attr: str | None = None,
        post_idx: str | None = None,
        transform: dict[str, Any] | None = None,
        pre_idx: str | None = None,
        delayed: int = 0,
    ) -> None:
        """Connect the varying parts of every predecessor of ``path`` into ``post``.

        Back-edge sources may not be lowered yet; their connections are made at the end.
        """
        for s in self.preds[path]:
            back = int((s, path) in self.plan.back_edges)
            self.pending.append(
                (
                    s,
                    {
                        "post": post,
                        "post_attr": post_attr,
                        "post_idx": post_idx,
                        "pre_idx": pre_idx,
                        "transform": transform,
                        "delayed": delayed + back,
                    },
                )
            )

    def feed_const(
        self,
        path: str,
        value: np.ndarray,
        post: str,
        *,
        post_idx: str | None = None,
        transform: dict[str, Any] | None = None,
        delayed: int = 0,
    ) -> None:
        if np.any(value != 0):
            site = self.const_node(value, f"{path}.const_in")
            self.connect(site, post, post_idx=post_idx, transform=transform, delayed=delayed)

    def idx(self, path: str, name: str, idx: np.ndarray, n: int) -> str | None:
        if idx.size == n and np.array_equal(idx, np.arange(n)):
            return None
        return self.array(f"{path}.{name}", idx)

    # -- the main loop ---------------------------------------------------------------------
    def run(self) -> NetSpec:
        for path in self.order:
            self.const(path)
        self.check_carries()
        # Inputs first, in the graph's order (exports list them in creation order)
        for path in self.flat.inputs:
            self.lower(path, self.flat.nodes[path])
        # Nengo's neurons: single spikes at v > thr, no lower bound, the coupled ZOH synapse
        self.problems.extend(variant_problems(self.graph, (), "nengo", method=self.spec.method))
        for path in self.order:
            node = self.flat.nodes[path]
            if path in self.sites and path in self.flat.inputs:
                continue
            try:
                self.lower(path, node)
            except UnsupportedError as exc:
                self.problems.extend(exc.problems or [Problem(path, exc.message)])
        if self.problems:
            listing = "\n".join(f"  - {p}" for p in self.problems)
            raise UnsupportedError(
                f"the graph cannot be mapped to Nengo ({len(self.problems)} problem(s)):\n"
                f"{listing}",
                problems=self.problems,
                hint=variant_hint(self.problems),
            )
        self.spec.outputs = {
            p: self.spec.outputs[p] for p in self.flat.outputs if p in self.spec.outputs
        }
        for path in sorted(self.record):
            self.add_recorder(path)
        for src, kwargs in self.pending:
            site = self.sites.get(src)
            if site is not None:
                self.connect(site, **kwargs)
        return self.spec

    def lower(self, path: str, node: Node) -> None:
        n = math.prod(self.outs[path])
        top_in = isinstance(node, Input) and path in self.flat.inputs
        top_out = isinstance(node, Output) and path in self.flat.outputs
        if top_in:
            name = self.obj("input", n, path)
            self.spec.inputs[path] = (name, self.outs[path])
            self.sites[path] = Site(name)
        elif top_out:
            name = self.obj("passthrough", n, path)
            self.feed(path, name)
            self.feed_const(path, self.const(path), name)
            self.spec.outputs[path] = (name, self.outs[path])
            self.sites[path] = Site(name)
        elif isinstance(node, (Input, Output, Flatten)) or path in self.flat.relays:
            self.identity(path, n)
        elif isinstance(node, (Linear, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d)):
            self.linear(path, node, n)
        elif isinstance(node, Threshold):
            self.threshold(path, node, n)
        elif isinstance(node, Delay):
            self.delay(path, n)
        elif isinstance(node, (LIF, IF, CubaLIF)):
            self.spiking(path, node, n)
        elif isinstance(node, (LI, I, CubaLI)):
            self.filters(path, node, n)
        else:  # pragma: no cover - the descriptor refuses other types first
            raise UnsupportedError(
                f"{path}: {node.type_name}",
                problems=[Problem(path, f"{node.type_name} is not supported")],
            )

    def identity(self, path: str, n: int) -> None:
        preds = self.preds[path]
        if len(preds) == 1 and (preds[0], path) not in self.plan.back_edges:
            self.sites[path] = self.sites.get(preds[0])
            return
        name = self.obj("passthrough", n, path)
        self.feed(path, name)
        self.sites[path] = Site(name)

    # -- stateless linear maps ---------------------------------------------------------------
    def linear(self, path: str, node: Node, n: int) -> None:
        in_shape, out_shape = self.ins[path], self.outs[path]
        name = self.obj("passthrough", n, path)
        self.sites[path] = Site(name)
        if isinstance(node, (Conv1d, Conv2d, SumPool2d, AvgPool2d)):
            transform, pads = self.conv_transform(path, node, in_shape)
            if pads is not None:
                padded = (
                    in_shape[0],
                    *[s + lo + hi for s, (lo, hi) in zip(in_shape[1:], pads, strict=True)],
                )
                pad_name = self.obj("passthrough", math.prod(padded), f"{path}.pad")
                self.feed(path, pad_name, transform=self.pad_transform(path, in_shape, pads))
                self.connect(Site(pad_name), name, transform=transform)
                return
            self.feed(path, name, transform=transform)
            return
        if isinstance(node, Scale):
            key = self.array(f"{path}.scale", _flat(node.scale, out_shape))
            self.feed(path, name, transform={"kind": "elementwise", "init": key})
            return
        assert isinstance(node, Linear)
        w = np.asarray(node.weight, F64)
        if w.ndim == 2:
            key = self.array(f"{path}.weight", w)
            self.feed(path, name, transform={"kind": "dense", "shape": w.shape, "init": key})
            return
        # leading dimensions: one block per leading index -> a sparse block-diagonal matrix
        lead = w.shape[:-2]
        o, i = w.shape[-2:]
        rows, cols, vals = [], [], []
        for b, idx in enumerate(np.ndindex(*lead)):
            r, c = np.nonzero(np.ones((o, i)))
            rows.append(r + b * o)
            cols.append(c + b * i)
            vals.append(w[idx].reshape(-1))
        indices = np.stack([np.concatenate(rows), np.concatenate(cols)], axis=1)
        self.feed(
            path,
            name,
            transform={
                "kind": "sparse",
                "shape": (math.prod(lead) * o, math.prod(lead) * i),
                "indices": self.array(f"{path}.indices", indices),
                "init": self.array(f"{path}.weight", np.concatenate(vals)),
            },
        )

    def conv_transform(
        self, path: str, node: Node, in_shape: tuple[int, ...]
    ) -> tuple[dict[str, Any], list[tuple[int, int]] | None]:
        """A nengo Convolution spec, and the explicit padding to apply first (or None)."""
        spatial = in_shape[1:]
        nd = len(spatial)
        if isinstance(node, (SumPool2d, AvgPool2d)):
            c = in_shape[0]
            k = tuple(node.kernel_size)
            value = 1.0 / (k[0] * k[1]) if isinstance(node, AvgPool2d) else 1.0
            kernel = np.full((*k, 1, c), value)
            stride, dilation, groups, n_out = tuple(node.stride), (1, 1), c, c
            padding: Any = tuple(node.padding)
        else:
            w = np.asarray(node.weight, F64)  # (C_out, C_in/g, *k)
            stride, dilation, groups = tuple(node.stride), tuple(node.dilation), node.groups
            n_out = w.shape[0]
            if any(d != 1 for d in dilation):  # insert zeros: nengo has no dilation
                k_eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, w.shape[2:], strict=True))
                dil = np.zeros((*w.shape[:2], *k_eff))
                dil[(slice(None), slice(None), *[slice(None, None, d) for d in dilation])] = w
                w = dil
            kernel = np.moveaxis(w, (0, 1), (-1, -2))  # (*k, C_in/g, C_out)
            padding = node.padding
        k_eff = kernel.shape[:nd]
        if padding == "same":
            pads = [((k - 1) // 2, (k - 1) - (k - 1) // 2) for k in k_eff]
        elif padding == "valid":
            pads = [(0, 0)] * nd
        else:
            pads = [(int(p), int(p)) for p in padding]
        mode = "valid"
        explicit: list[tuple[int, int]] | None = None
        if any(p != (0, 0) for p in pads):
            if pads == self._nengo_same(spatial, k_eff, stride):
                mode = "same"
            else:
                explicit = pads
        padded = (
            spatial
            if explicit is None
            else tuple(s + lo + hi for s, (lo, hi) in zip(spatial, explicit, strict=True))
        )
        spec = {
            "kind": "conv",
            "n_filters": int(n_out),
            "input_shape": (in_shape[0], *padded),
            "kernel_size": tuple(int(k) for k in k_eff),
            "strides": tuple(int(s) for s in stride),
            "padding": mode,
            "groups": int(groups),
            "init": self.array(f"{path}.kernel", np.ascontiguousarray(kernel)),
        }
        return spec, explicit

    @staticmethod
    def _nengo_same(
        spatial: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...]
    ) -> list[tuple[int, int]]:
        out = []
        for n, kk, ss in zip(spatial, k, s, strict=True):
            o = -(-n // ss)
            total = max((o - 1) * ss + kk - n, 0)
            out.append((total // 2, total - total // 2))
        return out

    def pad_transform(
        self, path: str, in_shape: tuple[int, ...], pads: list[tuple[int, int]]
    ) -> dict[str, Any]:
        """Sparse 0/1 matrix embedding ``in_shape`` into its zero-padded version."""
        padded = (
            in_shape[0],
            *[s + lo + hi for s, (lo, hi) in zip(in_shape[1:], pads, strict=True)],
        )
        src = np.arange(math.prod(in_shape)).reshape(in_shape)
        dst = np.arange(math.prod(padded)).reshape(padded)
        window = (
            slice(None),
            *[slice(lo, lo + s) for s, (lo, _) in zip(in_shape[1:], pads, strict=True)],
        )
        rows = dst[window].reshape(-1)
        indices = np.stack([rows, src.reshape(-1)], axis=1)
        return {
            "kind": "sparse",
            "shape": (math.prod(padded), math.prod(in_shape)),
            "indices": self.array(f"{path}.pad_indices", indices),
            "init": self.array(f"{path}.pad_values", np.ones(rows.size)),
        }

    # -- Threshold -----------------------------------------------------------------------------
    def threshold(self, path: str, node: Threshold, n: int) -> None:
        thr = _flat(node.threshold, self.outs[path])
        offset = self.const(path).reshape(-1)
        name = self.obj(
            "threshold",
            n,
            path,
            threshold=self.array(f"{path}.threshold", thr),
            offset=self.array(f"{path}.offset", offset),
        )
        self.feed(path, name)
        self.feed_const(path, self.const_in(path).reshape(-1), name)
        self.sites[path] = Site(name)

    # -- Delay ---------------------------------------------------------------------------------
    def delay(self, path: str, n: int) -> None:
        steps = self.delays[path]
        c_in = self.const_in(path).reshape(-1)
        if np.all(steps == 0):
            self.identity(path, n)
            return
        groups = _groups(steps.astype(F64))
        single = len(groups) == 1
        out = None if single else self.obj("passthrough", n, path)
        for (k,), idx in groups:
            k = int(k)
            label = path if single else f"{path}.delay{k}"
            sel = self.idx(path, f"d{k}.idx", idx, n)
            if k == 0:
                # no delay for these elements: straight into the output site
                self.feed(path, out, pre_idx=sel, post_idx=sel)  # type: ignore[arg-type]
                self.feed_const(path, c_in[idx], out, post_idx=sel)  # type: ignore[arg-type]
                continue
            num, den = digital_coefficients([1.0], [1.0] + [0.0] * (k - 1))
            name = self.obj("filter", idx.size, label, synapse="digital", num=num, den=den)
            self.feed(path, name, pre_idx=sel, delayed=1)
            self.feed_const(path, c_in[idx], name, delayed=1)
            if single:
                self.sites[path] = Site(name)
            else:
                self.connect(Site(name), out, post_idx=sel)  # type: ignore[arg-type]
        if not single:
            self.sites[path] = Site(out)  # type: ignore[arg-type]

    # -- neurons -------------------------------------------------------------------------------
    def _fail(self, path: str, message: str, field: str | None = None) -> UnsupportedError:
        return UnsupportedError(
            f"{path}: {message}", problems=[Problem(path, message, field, kind="unsupported")]
        )

    def spiking(self, path: str, node: LIF | IF | CubaLIF, n: int) -> None:
        shape = self.outs[path]
        mode = reset_mode(self.graph, path, self.reset)
        thr = _flat(node.v_threshold, shape)
        if mode == "zero":
            v0 = np.zeros(n) if node.v_reset is None else _flat(node.v_reset, shape)
        else:
            v0 = np.zeros(n)
        scale = thr - v0
        if np.any(scale <= 0):
            what = "v_reset" if mode == "zero" else "0 (reset by subtraction)"
            raise self._fail(
                path,
                f"v_threshold must be above {what} for every neuron "
                "(Nengo's voltage is normalised to fire at 1)",
                "v_threshold",
            )
        r = _flat(node.r, shape)
        c_in = self.const_in(path).reshape(-1)
        if isinstance(node, IF):
            gain = r / scale
            bias = gain * c_in
            z0 = (0.0 - v0) / scale
            groups = [((), np.arange(n))]
        else:
            v_leak = _flat(node.v_leak, shape)
            gain = r / scale
            z0 = (v_leak - v0) / scale
            tau_mem = _flat(node.tau if isinstance(node, LIF) else node.tau_mem, shape)
            tau_rc = self.membrane_tau(path, tau_mem)
            if isinstance(node, LIF):
                bias = z0 + gain * c_in
                groups = _groups(tau_mem, tau_rc)
            else:
                bias = z0.copy()  # the constant input goes through the synaptic filter
                groups = _groups(_flat(node.tau_syn, shape), tau_mem, tau_rc)
        w_in = None
        if isinstance(node, CubaLIF):
            w_in = np.ones(n) if node.w_in is None else _flat(node.w_in, shape)
        single = len(groups) == 1
        out = None if single else self.obj("passthrough", n, f"{path}.spikes")
        rec = Recorder(path, "spiking", shape=shape, v0=v0, scale=scale)
        for gi, (key, idx) in enumerate(groups):
            label = path if single else f"{path}.g{gi}"
            sel = self.idx(path, f"g{gi}.idx", idx, n)
            if isinstance(node, IF):
                neuron = {"type": "IntegrateAndFire", "reset": mode}
            else:
                neuron = {
                    "type": "LIF" if mode == "zero" else "ResetLIF",
                    "reset": mode,
                    "tau_rc": float(key[-1]),
                }
            extra = {}
            if neuron["type"] != "LIF":  # the reset flag starts as "above threshold"
                extra["flag0"] = self.array(f"{label}.flag0", (z0[idx] > 1).astype(F64))
            ens = self.obj(
                "ensemble",
                idx.size,
                label,
                neuron=neuron,
                gain=self.array(f"{label}.gain", gain[idx]),
                bias=self.array(f"{label}.bias", bias[idx]),
                z0=self.array(f"{label}.z0", z0[idx]),
                **extra,
            )
            if isinstance(node, CubaLIF):
                if self.method == "exact":
                    num, den = cuba_filter(key[0], key[1], self.dt)
                else:
                    num, den = euler_synapse(key[0], self.dt)
                filt = self.obj(
                    "filter", idx.size, f"{label}.synapse", synapse="digital", num=num, den=den
                )
                tr = {"kind": "elementwise", "init": self.array(f"{label}.w_in", w_in[idx])}
                self.feed(path, filt, pre_idx=sel, transform=tr)
                self.feed_const(path, c_in[idx], filt, transform=tr)
                self.connect(Site(filt), ens, post_attr="neurons")
            else:
                self.feed(path, ens, post_attr="neurons", pre_idx=sel)
            if single:
                self.sites[path] = Site(ens, "neurons")
            else:
                self.connect(Site(ens, "neurons"), out, post_idx=sel)  # type: ignore[arg-type]
            rec.voltage_groups.append((ens, idx))
        if not single:
            self.sites[path] = Site(out)  # type: ignore[arg-type]
        self.spec.recorders[path] = rec

    def membrane_tau(self, path: str, tau: np.ndarray) -> np.ndarray:
        """``tau_rc`` of the Nengo LIF: ``tau`` (exact), or its Euler equivalent."""
        if self.method == "exact":
            return tau
        if np.any(tau <= self.dt):
            raise self._fail(
                path,
                f"method=euler needs tau > dt ({self.dt:g} s) to map onto Nengo's LIF; "
                f"min tau is {float(tau.min()):g} s (use method=exact or a smaller dt)",
                "tau",
            )
        return euler_tau(tau, self.dt)

    def filters(self, path: str, node: LI | I | CubaLI, n: int) -> None:
        shape = self.outs[path]
        r = _flat(node.r, shape)
        c_in = self.const_in(path).reshape(-1)
        if isinstance(node, I):
            groups = [((), np.arange(n))]
            gain = r
        elif isinstance(node, LI):
            groups = _groups(_flat(node.tau, shape))
            gain = r
        else:
            w_in = np.ones(n) if node.w_in is None else _flat(node.w_in, shape)
            gain = r * w_in
            groups = _groups(_flat(node.tau_syn, shape), _flat(node.tau_mem, shape))
        single = len(groups) == 1
        out = None if single else self.obj("passthrough", n, path)
        for gi, (key, idx) in enumerate(groups):
            label = path if single else f"{path}.g{gi}"
            sel = self.idx(path, f"g{gi}.idx", idx, n)
            if isinstance(node, I):
                params: dict[str, Any] = {"synapse": "analog", "num": [1.0], "den": [1.0, 0.0]}
            elif isinstance(node, LI) and self.method == "exact":
                params = {"synapse": "lowpass", "tau": key[0]}
            elif isinstance(node, LI):
                g = self.dt / key[0]
                num, den = digital_coefficients([g, 0.0], [1.0, -(1.0 - g)])
                params = {"synapse": "digital", "num": num, "den": den}
            elif self.method == "exact":
                ts, tm = key
                params = {"synapse": "analog", "num": [1.0], "den": [ts * tm, ts + tm, 1.0]}
            else:
                gs, gm = self.dt / key[0], self.dt / key[1]
                a_s, a_m = 1.0 - gs, 1.0 - gm
                num, den = digital_coefficients([gs * gm, 0.0, 0.0], [1.0, -(a_s + a_m), a_s * a_m])
                params = {"synapse": "digital", "num": num, "den": den}
            name = self.obj("filter", idx.size, label, **params)
            tr = {"kind": "elementwise", "init": self.array(f"{label}.r", gain[idx])}
            self.feed(path, name, pre_idx=sel, transform=tr)
            self.feed_const(path, c_in[idx], name, transform=tr)
            if single:
                self.sites[path] = Site(name)
            else:
                self.connect(Site(name), out, post_idx=sel)  # type: ignore[arg-type]
        if not single:
            self.sites[path] = Site(out)  # type: ignore[arg-type]

    # -- recording -----------------------------------------------------------------------------
    def add_recorder(self, path: str) -> None:
        node = self.flat.nodes[path]
        shape = self.outs[path]
        site = self.sites.get(path)
        rec = self.spec.recorders.get(path) or Recorder(path, "other", shape=shape)
        rec.const = self.const(path).reshape(-1)
        if isinstance(node, (LIF, IF, CubaLIF)):
            rec.kind = "spiking"
            if site is not None:
                rec.probes["spikes"] = self.probe(site, "output", f"{path}.spikes")
            rec.voltage_groups = [
                (self.probe(Site(ens, "neurons"), "voltage", f"{path}.v{i}"), idx)
                for i, (ens, idx) in enumerate(rec.voltage_groups)
            ]
        else:
            rec.kind = "filter" if isinstance(node, (LI, I, CubaLI)) else "other"
            if site is not None:
                rec.probes["v" if rec.kind == "filter" else "out"] = self.probe(
                    site, "output", f"{path}.out"
                )
        if isinstance(node, (CubaLI, CubaLIF)):
            n = math.prod(shape)
            w_in = np.ones(n) if node.w_in is None else _flat(node.w_in, shape)
            c_in = self.const_in(path).reshape(-1)
            for gi, ((ts,), idx) in enumerate(_groups(_flat(node.tau_syn, shape))):
                sel = self.idx(path, f"i{gi}.idx", idx, n)
                if self.method == "exact":
                    params: dict[str, Any] = {"synapse": "lowpass", "tau": ts}
                else:
                    num, den = euler_synapse(ts, self.dt)
                    params = {"synapse": "digital", "num": num, "den": den}
                name = self.obj("filter", idx.size, f"{path}.current{gi}", **params)
                tr = {
                    "kind": "elementwise",
                    "init": self.array(f"{path}.current{gi}.w_in", w_in[idx]),
                }
                self.feed(path, name, pre_idx=sel, transform=tr)
                self.feed_const(path, c_in[idx], name, transform=tr)
                rec.current_groups.append((self.probe(Site(name), "output", f"{path}.I{gi}"), idx))
        self.spec.recorders[path] = rec

    def probe(self, site: Site, var: str, key: str) -> str:
        self.spec.probes[key] = (site.obj, site.attr, var)
        return key


def lower(
    graph: Graph,
    dt: float,
    *,
    method: str = "exact",
    reset: str | None = None,
    record: tuple[str, ...] = (),
    label: str = "nirhub",
) -> NetSpec:
    """Describe the Nengo network that reproduces ``nirhub.simulate(graph, method=method)``.

    Raises :class:`UnsupportedError` listing every node that cannot be mapped.
    """
    if method not in ("exact", "euler"):
        raise ValueError(f"method must be 'exact' or 'euler', got {method!r}")
    return _Lowering(graph, dt, method, reset, tuple(record), label).run()
