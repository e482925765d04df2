"""From a nirhub graph to a Lava network description (numpy only; no Lava import).

The description (:class:`LavaNet`) is what both backends build Lava processes from: the
float simulator (``lava``) directly, the Loihi 2 backend after :mod:`nirhub_lava.fixed`
quantizes it.

Mapping (``docs/backends/lava.md`` has the derivation):

* every spiking neuron node (LIF, CubaLIF, IF) becomes one Lava ``LIF`` population;
* every chain of stateless linear nodes between neuron populations (Affine, Linear, Scale,
  Conv1d/2d, SumPool2d, AvgPool2d, Flatten, subgraph ports) is composed into one weight matrix
  per (source, target) pair: a ``Dense`` when it is dense, a ``Sparse`` when fewer than
  :data:`SPARSE_DENSITY` of its entries are non-zero (convolutions, pooling);
* the biases of Affine/Conv nodes enter through a constant source (always 1) and its own
  synapse, so they go through the synaptic current exactly as in NIR;
* the neuron's input gain (``r``, ``w_in``, ``dt/tau`` of the discretisation) is folded into
  the weights; ``v`` is counted from ``v_reset`` (``v' = v - v_reset``, Lava resets to 0) and
  the threshold is kept as Lava's ``vth = v_threshold - v_reset``, so an integer network stays
  integer and ties at the threshold stay exact. Lava's ``vth`` is one value per LIF process:
  neurons with different thresholds go to different processes (:meth:`Population.groups`);
  only when that would need more than :data:`MAX_GROUPS` processes is the threshold divided
  into the weights instead (``v' = (v - v_reset)/(v_threshold - v_reset)``, ``vth = 1``).

Latency: a Lava synapse delivers what it received at step ``t`` at step ``t + 1``. Each
population ``P`` therefore runs ``lat(P)`` steps behind the reference (the longest chain of
synapses from an input); synapses between populations of different latency get synaptic delays
so that every input arrives aligned, a recurrent back-edge (one step in the reference) needs
no delay inside one population. Populations start in the reference's initial state and stay
there until their first input arrives (the constant drive of ``v_leak`` keeps ``v`` at its rest
value), so the first ``lat(P)`` steps of a population are silent and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import (
    Problem,
    UnsupportedError,
    leak,
    make_op,
    resolve_dt,
    resolve_method,
    variant_problems,
)
from nirhub.ir.conventions import get_variant, reset_mode
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub.ir.nodes import (
    IF,
    LIF,
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLIF,
    Delay,
    Flatten,
    Input,
    Linear,
    Node,
    Output,
    Scale,
    SumPool2d,
)

#: a weight matrix with fewer non-zero entries than this fraction becomes a Sparse process
SPARSE_DENSITY = 0.1
#: largest synaptic delay a Loihi 2 synapse holds (6 bits); also used for the float simulator
MAX_DELAY = 62
LINEAR_TYPES = (Affine, Linear, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten)
NEURON_TYPES = (LIF, CubaLIF, IF)
SUPPORTED = frozenset(
    {
        "Input",
        "Output",
        "Affine",
        "Linear",
        "Scale",
        "Conv1d",
        "Conv2d",
        "SumPool2d",
        "AvgPool2d",
        "Flatten",
        "LIF",
        "CubaLIF",
        "IF",
        "Delay",
        "NIRGraph",
    }
)


@dataclass
class Population:
    """One Lava LIF population (v counted from v_reset: Lava resets to 0)."""

    path: str
    type_name: str
    shape: tuple[int, ...]
    #: per-neuron decays (Lava holds one du/dv per LIF process: neurons with different
    #: decays are split into groups, see :meth:`groups`)
    du: np.ndarray
    dv: np.ndarray
    #: constant drive of v per step (v_leak/v_reset terms), per neuron
    bias: np.ndarray
    #: initial (normalised) v, per neuron
    v_init: np.ndarray
    #: ``v = v_norm * scale + offset`` gives the reference's membrane potential
    scale: np.ndarray
    offset: np.ndarray
    latency: int = 0
    #: Lava's threshold ``vth`` per neuron, in the units of ``v`` here (``v`` fires at
    #: ``v > vth``); ``None`` means 1 (a normalised population)
    vth: np.ndarray | None = None
    #: the float mapping computes what the reference computes, operation for operation, on
    #: integer/dyadic values (see :func:`_keeps_ties`): ties at the threshold stay exact
    exact: bool = False

    def __post_init__(self) -> None:
        if self.vth is None:
            self.vth = np.ones(self.size)
        self.vth = np.broadcast_to(np.asarray(self.vth, np.float64), (self.size,)).copy()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def threshold(self) -> np.ndarray:
        """``vth`` per neuron (always an array)."""
        assert self.vth is not None
        return self.vth

    def groups(self) -> list[np.ndarray]:
        """Indices of the neurons sharing one (du, dv, vth), one array per Lava process."""
        keys = np.stack([self.du, self.dv, self.threshold], axis=1)
        _, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        return [np.flatnonzero(inverse == g) for g in range(int(inverse.max()) + 1)]


#: most (du, dv) groups one population may be split into
MAX_GROUPS = 16


@dataclass
class Synapse:
    """One weight matrix from a source (an Input, a population or the bias source) to a
    population; ``weights`` is (target size, source size), dense or scipy.sparse CSR."""

    source: str
    target: str
    weights: Any
    #: delay in the reference, in steps (back-edges count one; Delay nodes their steps)
    ref_delay: int
    #: synaptic delay in Lava (steps after the one every synapse adds), set by the latency pass
    delay: int = 0
    #: per-element extra delays of a Delay node right before the target / after the source
    row_delay: np.ndarray | None = None
    col_delay: np.ndarray | None = None

    def delays(self, rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> Any:
        """The Lava delay of every synapse (int, or an int matrix when per-element)."""
        if self.row_delay is None and self.col_delay is None:
            return self.delay
        n_t, n_s = self.weights.shape
        r = np.zeros(n_t, np.int64) if self.row_delay is None else self.row_delay
        c = np.zeros(n_s, np.int64) if self.col_delay is None else self.col_delay
        r = r if rows is None else r[rows]
        c = c if cols is None else c[cols]
        return self.delay + r[:, None] + c[None, :]

    @property
    def max_delay(self) -> int:
        extra = 0
        for arr in (self.row_delay, self.col_delay):
            if arr is not None and arr.size:
                extra += int(arr.max())
        return self.delay + extra

    @property
    def sparse(self) -> bool:
        return not isinstance(self.weights, np.ndarray)

    @property
    def nnz(self) -> int:
        if self.sparse:
            return int(self.weights.nnz)
        return int(np.count_nonzero(self.weights))


BIAS_SOURCE = "<bias>"


@dataclass
class LavaNet:
    """A graph mapped onto Lava's neuron and synapse model (float parameters)."""

    dt: float
    method: str
    inputs: dict[str, tuple[int, ...]]
    populations: dict[str, Population]
    synapses: list[Synapse]
    #: Output name -> (population path, output shape)
    outputs: dict[str, tuple[str, tuple[int, ...]]]
    notes: list[str] = field(default_factory=list)

    @property
    def max_latency(self) -> int:
        return max((p.latency for p in self.populations.values()), default=0)

    def sources(self) -> list[str]:
        return [*self.inputs, BIAS_SOURCE]


def _staged(node: Node, path: str) -> bool:
    """Does the node record the staged zero-order hold (``nirhub.discretization``)?"""
    return get_variant(node, path).discretization == "staged"


def _variant_problems(graph: Graph, method: str) -> list[Problem]:
    """Neuron variants Lava cannot run (multi-spike, v >= thr, v_min), one Problem per node.

    Lava's LIF emits one spike, tests ``v > vth`` and has no lower bound; the staged variant
    is its own update order (supported).
    """
    return variant_problems(graph, supported={"staged"}, backend="lava", method=method)


def _population(
    path: str,
    node: Node,
    shape: tuple[int, ...],
    dt: float,
    method: str,
    reset: str,
    problems: list[Problem],
) -> tuple[Population, np.ndarray] | None:
    """The population and the per-neuron input gain to fold into incoming weights."""
    full = shape
    f64 = np.float64

    def b(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=f64), full).astype(f64)

    if reset != "zero":
        problems.append(
            Problem(
                path,
                f"reset mode {reset!r}: Lava's LIF resets v to 0 after a spike; a reset by "
                "subtraction cannot be expressed",
                field="reset",
                kind="unsupported",
            )
        )
        return None
    thr = b(node.v_threshold)
    v_reset = b(0.0 if node.v_reset is None else node.v_reset)
    theta = thr - v_reset
    if np.any(theta <= 0):
        problems.append(
            Problem(
                path,
                "v_threshold must be above v_reset for every neuron",
                field="v_threshold",
                kind="unsupported",
            )
        )
        return None
    if isinstance(node, IF):
        gain = b(dt * np.asarray(node.r, f64))
        du, dv = np.ones(full), np.zeros(full)
        v_rest = np.zeros(full)
        bias = np.zeros(full)
    elif isinstance(node, LIF):
        co = leak(b(node.tau), b(node.r), b(node.v_leak), dt, method)
        dv = 1.0 - co.a
        du = np.ones(full)
        gain = co.g
        v_rest = b(node.v_leak)
        bias = co.c - dv * v_reset
    else:  # CubaLIF
        assert isinstance(node, CubaLIF)
        staged = _staged(node, path)
        if method == "exact" and not staged:
            problems.append(
                Problem(
                    path,
                    "CubaLIF with method 'exact': Lava's CUBA neuron updates the current first "
                    "and drives v with the new current (forward Euler's order, or the 'staged' "
                    "variant under exact); the coupled exact solution cannot be expressed",
                    field="method",
                    kind="unsupported",
                )
            )
            return None
        # Euler, or under exact the staged variant: each stage exact for a held input
        stage = "exact" if method == "exact" else "euler"
        w_in = b(1.0 if node.w_in is None else node.w_in)
        syn = leak(b(node.tau_syn), w_in, np.zeros(full), dt, stage)
        mem = leak(b(node.tau_mem), b(node.r), b(node.v_leak), dt, stage)
        du = 1.0 - syn.a
        dv = 1.0 - mem.a
        gain = syn.g * mem.g
        v_rest = b(node.v_leak)
        bias = mem.c - dv * v_reset
    du = np.broadcast_to(du, full).astype(f64).ravel()
    dv = np.broadcast_to(dv, full).astype(f64).ravel()
    for name, value in (("du", du), ("dv", dv)):
        bad = value[(value < 0.0) | (value > 1.0)]
        if bad.size:
            problems.append(
                Problem(
                    path,
                    f"{name} = {float(bad[0]):.4g} is outside [0, 1] (a time constant shorter "
                    "than dt under forward Euler)",
                    field="tau",
                    kind="unsupported",
                )
            )
            return None
    theta = theta.ravel()
    pairs = len(np.unique(np.stack([du, dv], axis=1), axis=0))
    # keep the threshold as Lava's vth (exact ties) unless that needs too many processes
    keep = len(np.unique(np.stack([du, dv, theta], axis=1), axis=0)) <= MAX_GROUPS
    norm = np.ones_like(theta) if keep else theta
    if pairs > MAX_GROUPS:
        problems.append(
            Problem(
                path,
                f"{pairs} different time-constant pairs; Lava's LIF holds one du/dv per process "
                f"and nirhub splits a population into at most {MAX_GROUPS} processes",
                field="tau",
                kind="unsupported",
            )
        )
        return None
    pop = Population(
        path=path,
        type_name=node.type_name,
        shape=full,
        du=du,
        dv=dv,
        bias=np.broadcast_to(bias, full).ravel() / norm,
        v_init=(v_rest - v_reset).ravel() / norm,
        scale=norm,
        offset=v_reset.ravel(),
        vth=theta / norm,
    )
    return pop, np.broadcast_to(gain, full).ravel() / norm


def _power_of_two(x: np.ndarray) -> bool:
    """Is every value a positive power of two (so multiplying by it rounds nothing)?"""
    x = np.asarray(x, np.float64)
    return bool(np.all(x > 0) and np.all(np.frexp(x)[0] == 0.5))


def _keeps_ties(pop: Population, factor: np.ndarray, synapses: list[Synapse]) -> bool:
    """Does Lava's float update repeat the reference's arithmetic exactly?

    For a population without leak (IF: ``du = 1``, ``dv = 0``) the reference adds
    ``g * (W @ x)`` to ``v`` and Lava adds ``((g/n)*W) @ x`` to ``v/n`` (``g`` the input gain,
    ``n`` the threshold normalisation, 1 when the threshold is kept). These are the same
    numbers, rounded the same way, when ``n`` and ``g/n`` are powers of two, or when every
    neuron receives a single term whose weight is a power of two (an Input or a one-to-one
    map straight into the neurons); both then test ``v > vth`` on the same ``v``, and a
    membrane that lands exactly on the threshold does so in both. A leak (``v*(1 - dv)``
    against the reference's ``a*v``) or a gain such as ``dt/tau`` folded into summed weights
    rounds differently, which matters only where ``v`` meets the threshold exactly.
    """
    if not (np.all(pop.du == 1.0) and np.all(pop.dv == 0.0)):
        return False
    if not _power_of_two(pop.scale):
        return False
    if _power_of_two(factor):
        return True
    terms = np.zeros(pop.size, np.int64)
    for syn in synapses:
        w = syn.weights
        if isinstance(w, np.ndarray):
            rows, cols = np.nonzero(w)
            values = w[rows, cols]
        else:
            coo = w.tocoo()
            rows, values = coo.row, coo.data
        np.add.at(terms, rows, 1)
        unscaled = values / factor[rows]
        if not (_power_of_two(np.abs(unscaled)) and np.all(unscaled * factor[rows] == values)):
            return False
    return bool(np.all(terms <= 1))


def _apply_chain(
    nodes: list[tuple[str, Node]], shapes: Any, x: np.ndarray, with_bias: bool
) -> np.ndarray:
    """Push a batch ``x`` (N, *shape) through stateless nodes; biases only if asked."""
    for path, node in nodes:
        if isinstance(node, Delay):
            continue  # a pure time shift, handled as a synaptic delay
        in_shape = tuple(shapes.input(path))
        out_shape = tuple(shapes.output(path))
        if not with_bias and isinstance(node, (Affine, Conv1d, Conv2d)) and node.bias is not None:
            node = node.replace(bias=np.zeros_like(np.asarray(node.bias)))
        op = make_op(node, in_shape, out_shape, np.float64)
        x = op(x.reshape(x.shape[0], *in_shape))
    return x.reshape(x.shape[0], -1)


def _chain_matrix(
    chain: list[tuple[str, Node]], shapes: Any, src_shape: tuple[int, ...], n_out: int
) -> Any:
    """The composite linear map of a chain as a (n_out, n_src) matrix (dense or CSR)."""
    import scipy.sparse as sp

    n_src = int(np.prod(src_shape))
    if not chain:
        return sp.identity(n_src, format="csr")
    blocks = []
    step = max(1, min(n_src, 2_000_000 // max(n_out, 1)))
    for start in range(0, n_src, step):
        stop = min(n_src, start + step)
        basis = np.zeros((stop - start, n_src))
        basis[np.arange(stop - start), np.arange(start, stop)] = 1.0
        out = _apply_chain(chain, shapes, basis.reshape(-1, *src_shape), with_bias=False)
        blocks.append(sp.csr_matrix(out.T))
    mat = sp.hstack(blocks).tocsr()
    mat.eliminate_zeros()
    return mat


def build_net(
    graph: Graph,
    *,
    dt: float | None = None,
    method: str | None = None,
    reset: str | None = None,
) -> LavaNet:
    """Map ``graph`` onto Lava populations and synapses; refuse with every problem at once."""
    step = resolve_dt(graph, dt)
    how = resolve_method(graph, method)
    flat = flatten(graph)
    problems = _unsupported_nodes(flat)
    if problems:
        raise UnsupportedError(_message(problems), problems=problems)
    problems += _variant_problems(graph, how)
    info = infer_shapes(graph)
    if info.problems:
        raise UnsupportedError(_message(info.problems), problems=list(info.problems))
    wiring = _Wiring(flat, info, step, problems)
    populations: dict[str, Population] = {}
    gains: dict[str, np.ndarray] = {}
    for path, node in flat.nodes.items():
        if isinstance(node, NEURON_TYPES):
            shape = tuple(int(s) for s in info.output(path))
            mode = reset_mode(graph, path, reset)
            made = _population(path, node, shape, step, how, mode, problems)
            if made is not None:
                populations[path], gains[path] = made
    synapses: list[Synapse] = []
    for path, pop in populations.items():
        into = wiring.synapses_into(path, pop, gains[path])
        pop.exact = _keeps_ties(pop, gains[path], into)
        synapses += into
    outputs = wiring.outputs(populations)
    if problems:
        raise UnsupportedError(_message(problems), problems=problems)

    net = LavaNet(
        step, how, {n: tuple(info.output(n)) for n in flat.inputs}, populations, synapses, outputs
    )
    _assign_latency(net, problems)
    if problems:
        raise UnsupportedError(_message(problems), problems=problems)
    return net


def _unsupported_nodes(flat: Any) -> list[Problem]:
    return [
        Problem(
            path,
            f"{node.type_name} has no Lava equivalent here (Lava's LIF process is the "
            "only neuron model mapped; it spikes and resets to 0)",
            kind="unsupported-node",
        )
        for path, node in flat.nodes.items()
        if node.type_name not in SUPPORTED
    ]


class _Wiring:
    """How the populations connect: every path through stateless nodes (weights, Delays,
    subgraph ports) from a neuron or Input to a neuron becomes a synapse, every bias on the way
    a synapse from :data:`BIAS_SOURCE`. Problems are appended to ``problems``."""

    def __init__(self, flat: Any, info: Any, step: float, problems: list[Problem]) -> None:
        from nirhub.backend import delay_steps, make_plan

        self.flat, self.info, self.problems = flat, info, problems
        self.steps_of: dict[str, np.ndarray] = {}
        for p_, n_ in flat.nodes.items():
            if isinstance(n_, Delay):
                shape_ = tuple(int(x) for x in info.input(p_))
                raw = np.broadcast_to(np.asarray(n_.delay, dtype=np.float64), shape_)
                self.steps_of[p_] = delay_steps(raw, step).ravel()
        breaking = {p_ for p_, k in self.steps_of.items() if k.size and int(k.min()) >= 1}
        self.back = make_plan(flat, breaking).back_edges
        self.preds = flat.predecessors()

    def is_relay(self, path: str) -> bool:
        node = self.flat.nodes[path]
        return isinstance(node, (Input, Output)) and path not in self.flat.inputs

    def paths_into(self, target: str) -> tuple[list[Any], list[Any]]:
        """Every (source, chain, ref_delay, element delays) path feeding ``target`` through
        stateless nodes, and every bias on the way (with the Delay steps after it)."""
        flat, problems = self.flat, self.problems
        found: list[tuple[str, list[tuple[str, Node]], int, list[Any]]] = []
        biases: list[tuple[str, list[tuple[str, Node]], int, bool]] = []

        def walk(
            node: str,
            suffix: list[tuple[str, Node]],
            delay: int,
            held: int,
            elems: list[Any],
            seen: set[str],
        ) -> None:
            for src in self.preds.get(node, []):
                d = delay + (1 if (src, node) in self.back else 0)
                n = flat.nodes[src]
                if src in flat.inputs or isinstance(n, NEURON_TYPES):
                    found.append((src, suffix, d, elems))
                elif self.is_relay(src) or isinstance(n, (*LINEAR_TYPES, Delay)):
                    if src in seen:
                        problems.append(
                            Problem(
                                src,
                                "a loop through stateless nodes only (no neuron on it) cannot "
                                "be mapped",
                                kind="unsupported",
                            )
                        )
                        continue
                    chain = [(src, n), *suffix]
                    d2, h2, e2 = d, held, elems
                    if isinstance(n, Delay):
                        k = self.steps_of[src]
                        base = int(k.min()) if k.size else 0
                        d2, h2 = d + base, held + base
                        if k.size and np.any(k != base):
                            e2 = [*elems, (src, k - base)]
                    bias = getattr(n, "bias", None)
                    if isinstance(n, (Affine, Conv1d, Conv2d)) and bias is not None:
                        if np.any(np.asarray(bias) != 0):
                            biases.append((src, chain, held, bool(elems)))
                    walk(src, chain, d2, h2, e2, seen | {src})
                else:
                    problems.append(
                        Problem(
                            src, f"{n.type_name} cannot feed a Lava synapse", kind="unsupported"
                        )
                    )

        walk(target, [], 0, 0, [], {target})
        return found, biases

    def synapses_into(self, path: str, pop: Population, gain: np.ndarray) -> list[Synapse]:
        """The synapses feeding population ``path`` (weights and biases, gain folded in)."""
        info, problems = self.info, self.problems
        found, biases = self.paths_into(path)
        synapses: list[Synapse] = []
        merged: dict[tuple[str, int], Any] = {}
        for src, chain, d, elems in found:
            src_shape = tuple(int(s) for s in info.output(src))
            mat = _chain_matrix(chain, info, src_shape, pop.size)
            if not elems:
                key = (src, d)
                merged[key] = mat if key not in merged else merged[key] + mat
                continue
            syn = Synapse(src, path, _finish(mat, gain), d)
            for delay_path, offsets in elems:
                names = [c[0] for c in chain]
                if names[0] == delay_path and syn.col_delay is None:
                    syn.col_delay = offsets
                elif names[-1] == delay_path and syn.row_delay is None:
                    syn.row_delay = offsets
                else:
                    problems.append(
                        Problem(
                            delay_path,
                            "a Delay with different delays per element must sit right after a "
                            "neuron/Input or right before a neuron (Lava delays synapses, "
                            "not signals between stateless nodes)",
                            kind="unsupported",
                        )
                    )
            synapses.append(syn)
        for (src, d), mat in merged.items():
            synapses.append(Synapse(src, path, _finish(mat, gain), d))
        for held, vec in self.bias_into(biases).items():
            if np.any(vec != 0):
                synapses.append(Synapse(BIAS_SOURCE, path, (vec * gain)[:, None], held))
        return synapses

    def bias_into(self, biases: list[Any]) -> dict[int, np.ndarray]:
        """The biases reaching a population, summed per number of steps they are held back."""
        info, flat = self.info, self.flat
        total_bias: dict[int, np.ndarray] = {}
        for node_path, chain, held, elementwise in biases:
            if elementwise:
                self.problems.append(
                    Problem(
                        node_path,
                        "its bias passes a Delay with different delays per element",
                        kind="unsupported",
                    )
                )
                continue
            node = flat.nodes[node_path]
            in_shape = tuple(int(s) for s in info.input(node_path))
            b0 = _apply_chain([(node_path, node)], info, np.zeros((1, *in_shape)), with_bias=True)
            vec = _apply_chain(chain[1:], info, b0, with_bias=False) if chain[1:] else b0
            # a back-edge passes the bias from step 0 on (the rest output of the Affine); a
            # Delay holds 0 for its first steps
            total_bias[held] = total_bias.get(held, 0) + vec.reshape(-1)
        return total_bias

    def outputs(self, populations: dict[str, Population]) -> dict[str, Any]:
        """Each Output node's population (through Flatten and subgraph ports)."""
        flat, preds = self.flat, self.preds
        outputs: dict[str, tuple[str, tuple[int, ...]]] = {}
        for name in flat.outputs:
            src = name
            seen = set()
            while True:
                ps = preds.get(src, [])
                if len(ps) != 1:
                    break
                cand = ps[0]
                n = flat.nodes[cand]
                if cand in populations:
                    src = cand
                    break
                if (self.is_relay(cand) or isinstance(n, Flatten)) and cand not in seen:
                    seen.add(cand)
                    src = cand
                    continue
                src = cand
                break
            if src in populations:
                outputs[name] = (src, tuple(int(s) for s in self.info.output(name)))
            elif isinstance(flat.nodes.get(src), NEURON_TYPES):
                pass  # its own problem is already reported
            else:
                self.problems.append(
                    Problem(
                        name,
                        "an Output must be fed by one spiking neuron node (directly or through "
                        "Flatten/subgraph ports): Lava's outputs are spikes",
                        kind="unsupported",
                    )
                )
        return outputs


def _finish(mat: Any, gain: np.ndarray) -> Any:
    """Fold the per-neuron gain into the rows; choose dense or sparse storage."""
    import scipy.sparse as sp

    if sp.issparse(mat):
        mat = sp.diags(gain) @ mat
        mat = sp.csr_matrix(mat)
        mat.eliminate_zeros()
        n = mat.shape[0] * mat.shape[1]
        if n and mat.nnz / n >= SPARSE_DENSITY:
            return np.asarray(mat.todense())
        return mat
    return np.asarray(mat) * gain[:, None]


def _assign_latency(net: LavaNet, problems: list[Problem]) -> None:
    """lat(P) = max(1, max over incoming synapses of lat(src) + 1 - ref_delay); inputs are
    at 0. A synapse then needs the Lava delay lat(P) - lat(src) - 1 + ref_delay >= 0."""
    # every population is fed through at least one synapse: one step at least
    lat = dict.fromkeys(net.populations, 1)
    src_lat = lambda s: lat[s] if s in lat else 0  # noqa: E731
    for _ in range(len(net.populations) + 2):
        changed = False
        for syn in net.synapses:
            if syn.source == BIAS_SOURCE:
                continue
            need = src_lat(syn.source) + 1 - syn.ref_delay
            if need > lat[syn.target]:
                lat[syn.target] = need
                changed = True
        if not changed:
            break
    else:
        problems.append(
            Problem(
                "<graph>",
                "a recurrent loop runs through more synapses than the reference delays it by: "
                "each Lava synapse adds one step, so the loop cannot be aligned with the "
                "reference (loops must close through a single synapse onto one population)",
                kind="unsupported",
            )
        )
        return
    for path, pop in net.populations.items():
        pop.latency = lat[path]
    for syn in net.synapses:
        s = 0 if syn.source in net.inputs or syn.source == BIAS_SOURCE else lat[syn.source]
        if syn.source in net.populations:
            s = net.populations[syn.source].latency
        syn.delay = net.populations[syn.target].latency - s - 1 + syn.ref_delay
        if syn.source == BIAS_SOURCE:
            syn.delay = net.populations[syn.target].latency - 1 + syn.ref_delay
        if syn.delay < 0 or syn.max_delay > MAX_DELAY:
            problems.append(
                Problem(
                    syn.target,
                    f"needs a synaptic delay of {syn.max_delay} steps from {syn.source} "
                    f"(Lava/Loihi 2 synapses hold 0..{MAX_DELAY})",
                    kind="unsupported",
                )
            )


def _message(problems: list[Problem]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"the graph cannot be mapped onto Lava ({len(problems)} problem(s)):\n{lines}"
