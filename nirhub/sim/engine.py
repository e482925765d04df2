"""The simulation loop: runs a flattened graph over time on numpy arrays.

Time is processed in chunks of steps. Inside a chunk every unit of the plan (see
:mod:`nirhub.sim.plan`) runs once, in order: a node outside any recurrent loop processes the
whole chunk at once (stateless nodes as one array operation, neurons as a loop over the steps
of the chunk), and a recurrent loop steps its nodes together one step at a time. Only the
chunk's signals are kept in memory, so memory does not grow with the number of steps, except
for the outputs and the recorded signals the caller asked for.
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from nirhub.errors import IRError, UsageError
from nirhub.ir.conventions import (
    NeuronVariant,
    check_reset,
    get_dt,
    get_method,
    get_variant,
    reset_mode,
)
from nirhub.ir.graph import FlatGraph, Graph, flatten, infer_shapes
from nirhub.ir.nodes import NEURON_TYPES, SPIKING_TYPES, Delay
from nirhub.ir.params import Shape
from nirhub.sim.blas import local_threads_setter, one_blas_thread
from nirhub.sim.discretize import METHODS, check_euler_decay
from nirhub.sim.inputs import Signals, check_inputs
from nirhub.sim.neurons import Population, make_population
from nirhub.sim.ops import Op, conv_work, make_op
from nirhub.sim.parallel import SERIAL, Splitter
from nirhub.sim.pipeline import MAX_STAGE_SHARE, MIN_CHUNKS, best_cut, run_pipelined, timed_chunk
from nirhub.sim.plan import Plan, make_plan
from nirhub.sim.result import SimulationResult

#: structural findings that do not prevent a simulation (an unused branch, an unfed node)
_HARMLESS = frozenset({"dead-end", "unreachable"})
#: memory budget of one chunk's signals (bytes) and the largest chunk (steps)
CHUNK_BUDGET = 64 * 2**20
MAX_CHUNK = 256
#: with two threads or more, run an acyclic graph as a pipeline over chunks
#: (:mod:`nirhub.sim.pipeline`); False splits its large operations instead
#: (:mod:`nirhub.sim.parallel`), as graphs with recurrent units always do
PIPELINE_ACYCLIC = True


def delay_steps(delay: np.ndarray, dt: float) -> np.ndarray:
    """Delay in seconds -> whole steps: nearest step, halves rounded up."""
    q = np.asarray(delay, dtype=np.float64) / dt
    # a hostile file's 1e300 s must not overflow int64; callers cap delays at the run's length
    q = np.minimum(q, float(2**62))
    return np.floor(q + 0.5 + 1e-9).astype(np.int64)


class DelayLine:
    """Ring buffer of the last ``max(steps) + 1`` inputs of a Delay node."""

    def __init__(self, steps: np.ndarray, shape: Shape, batch: int, dtype: np.dtype) -> None:
        self.shape = tuple(shape)
        self.n = math.prod(self.shape)
        self.steps = np.broadcast_to(steps, self.shape).reshape(-1)
        self.size = int(self.steps.max()) + 1
        self.uniform = bool(np.all(self.steps == self.steps[0]))
        self.buf = np.zeros((self.size, batch, self.n), dtype=dtype)
        self.cols = np.arange(self.n)

    def push(self, x: np.ndarray, t: int) -> None:
        self.buf[t % self.size] = x.reshape(x.shape[0], self.n)

    def read(self, t: int, out: np.ndarray) -> None:
        """Write the input of step ``t - steps`` (zeros before step 0) into ``out``."""
        if self.uniform:
            out[...] = self.buf[(t - int(self.steps[0])) % self.size].reshape(out.shape)
        else:
            rows = (t - self.steps) % self.size
            out[...] = self.buf[rows, :, self.cols].T.reshape(out.shape)


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise UsageError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise UsageError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_threads(threads: Any) -> int:
    if threads is None:
        return 1
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise UsageError(f"threads must be a positive int, got {threads!r}")
    return int(threads)


def _check_dt(dt: Any, graph: Graph) -> float:
    if dt is None:
        dt = get_dt(graph)
        if dt is None:
            raise UsageError(
                "no time step: the graph does not record one (metadata nirhub.dt)",
                hint="Pass dt= (seconds), e.g. dt=1e-4 for the NIR paper's graphs.",
            )
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise UsageError(f"dt must be a number of seconds, got {dt!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"dt must be a positive, finite number of seconds, got {dt!r}")
    return value


def is_missing_input(problem: Any) -> bool:
    """The root graph's "no Input node": fine for a graph driven by its biases alone."""
    return (
        problem.kind == "missing-port"
        and problem.where == "<graph>"
        and "Input" in str(problem.message)
    )


def _check_graph(
    graph: Any, inputless: bool = False
) -> tuple[FlatGraph, dict[str, Shape], dict[str, Shape]]:
    if not isinstance(graph, Graph):
        raise UsageError(
            f"simulate() needs a nirhub Graph, got {type(graph).__name__}",
            hint="Read a file with nirhub.read(); convert nir objects with nirhub.from_nir().",
        )
    problems = [
        p
        for p in graph.problems()
        if p.kind not in _HARMLESS and not (inputless and is_missing_input(p))
    ]
    if problems and all(is_missing_input(p) for p in problems):
        raise UsageError(
            "the graph has no Input node, so there is nothing to drive it with",
            hint="A graph driven by its biases alone runs for a number of steps: pass "
            "steps=T (--steps T on the command line).",
        )
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise IRError(
            f"cannot simulate an invalid graph ({len(problems)} problem(s)):\n{listing}",
            problems=problems,
            hint="Run `nirhub validate` for details.",
        )
    flat = flatten(graph)
    info = infer_shapes(graph)
    ins: dict[str, Shape] = {}
    outs: dict[str, Shape] = {}
    for path in flat.nodes:
        a, b = info.inputs.get(path), info.outputs.get(path)
        if a is None or b is None:  # pragma: no cover - reported as a problem above
            raise IRError(f"shape of {path} could not be inferred", node=path)
        ins[path], outs[path] = tuple(a), tuple(b)
    return flat, ins, outs


def resolve_record(record: str | Iterable[str] | None, flat: FlatGraph) -> list[str]:
    """The node paths ``record=`` names (one path or several), checked against ``flat``.

    A subgraph or an unknown name is a :class:`~nirhub.errors.UsageError` naming the node (with
    close matches); run hooks use this so that ``--record`` means the same on every backend.
    """
    if record is None:
        return []
    items = [record] if isinstance(record, str) else list(record)
    paths: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"record= takes node paths (strings), got {item!r}")
        if item in flat.nodes:
            if item not in paths:
                paths.append(item)
            continue
        inner = [p for p in flat.nodes if p.startswith(item + ".")]
        if inner:
            raise UsageError(
                f"{item!r} is a subgraph; record one of its nodes: {', '.join(sorted(inner))}"
            )
        close = difflib.get_close_matches(item, list(flat.nodes), n=3, cutoff=0.5)
        hint = f"Did you mean {', '.join(close)}?" if close else None
        raise UsageError(f"cannot record {item!r}: no such node in the graph", hint=hint)
    return paths


#: largest signal one node may produce per step (bytes, batch included); a file declaring
#: Conv padding 10**6 would otherwise make numpy try to allocate terabytes
MAX_SIGNAL_BYTES = 2 * 2**30


def _check_signal_sizes(
    flat: FlatGraph, ins: dict[str, Shape], outs: dict[str, Shape], batch: int, dtype: np.dtype
) -> None:
    """Refuse a graph whose shapes make one step's signals larger than MAX_SIGNAL_BYTES."""
    for path in flat.nodes:
        for where, shape in (("input", ins.get(path)), ("output", outs.get(path))):
            if shape is None:
                continue
            nbytes = math.prod(shape) * batch * dtype.itemsize
            if nbytes > MAX_SIGNAL_BYTES:
                raise IRError(
                    f"node {path!r} has the {where} shape {list(shape)}: one step of it takes "
                    f"{nbytes:,} bytes, more than the simulator's limit of "
                    f"{MAX_SIGNAL_BYTES:,} bytes (check its padding, stride and shapes)",
                    node=path,
                )


def _chunk_size(requested: int | None, steps: int, batch: int, dtype: np.dtype, work: int) -> int:
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)):
            raise UsageError(f"chunk_size must be a positive int, got {requested!r}")
        if requested < 1:
            raise UsageError(f"chunk_size must be >= 1, got {requested}")
        return int(min(requested, steps))
    per_step = max(1, 2 * batch * work * dtype.itemsize)
    return int(max(1, min(steps, MAX_CHUNK, CHUNK_BUDGET // per_step)))


class _Run:
    """State of one simulation: node runtimes, chunk signals, outputs, recordings."""

    def __init__(
        self,
        flat: FlatGraph,
        ins: dict[str, Shape],
        outs: dict[str, Shape],
        plan: Plan,
        delays: dict[str, np.ndarray],
        signals: Signals,
        dt: float,
        method: str,
        resets: dict[str, str],
        record: list[str],
        dtype: np.dtype,
        variants: dict[str, NeuronVariant] | None = None,
        split: Splitter = SERIAL,
    ) -> None:
        self.flat, self.ins, self.outs, self.plan = flat, ins, outs, plan
        self.split = split
        #: the larger stage's share of a chunk when run(pipeline=True) timed one (else None)
        self.pipeline_share: float | None = None
        # batch parts of each population, made once (see _run_population)
        self.pop_parts: dict[tuple[str, int, int], Population] = {}
        self.dtype, self.batch, self.steps = dtype, signals.batch, signals.steps
        self.signals = signals.arrays
        self.top_inputs = set(flat.inputs)
        self.top_outputs = set(flat.outputs)
        # incoming edges per node, in edge order (fan-in sums in this order)
        self.preds: dict[str, list[str]] = {p: [] for p in flat.nodes}
        for s, d in flat.edges:
            self.preds[d].append(s)
        self.pops: dict[str, Population] = {}
        self.ops: dict[str, Op] = {}
        self.lines: dict[str, DelayLine] = {}
        self.breaking = {p for p, k in delays.items() if int(k.min()) >= 1}
        recorded = set(record)
        for path, node in flat.nodes.items():
            if node.type_name in NEURON_TYPES:
                self.pops[path] = make_population(
                    node,
                    ins[path],
                    dt=dt,
                    method=method,
                    reset=resets.get(path, "zero"),
                    batch=self.batch,
                    dtype=dtype,
                    steps=self.steps,
                    record=path in recorded,
                    variant=(variants or {}).get(path),
                    name=path,
                )
            elif isinstance(node, Delay):
                self.lines[path] = DelayLine(delays[path], ins[path], self.batch, dtype)
            else:
                self.ops[path] = make_op(node, ins[path], outs[path], dtype, split)
        self.outputs = {
            name: np.zeros((self.steps, self.batch, *outs[name]), dtype=dtype)
            for name in flat.outputs
        }
        self.rec_out: dict[str, np.ndarray] = {
            p: np.zeros((self.steps, self.batch, *outs[p]), dtype=dtype)
            for p in record
            if p not in self.pops
        }
        self.record = record
        # sources of back-edges keep their last output across chunk boundaries; before step 0
        # that is their output in the rest state
        rest = self._rest_outputs()
        self.carry: dict[str, np.ndarray] = {s: rest[s] for s, _ in plan.back_edges}

    # -- helpers -----------------------------------------------------------------------------
    def _rest_outputs(self) -> dict[str, np.ndarray]:
        """Every node's output at step -1, the network at rest.

        Inputs are 0, neurons are in their initial state (spiking ones emit nothing, others
        output their initial v), Delay buffers hold 0, and stateless nodes apply their function
        to that (an Affine outputs its bias). Back-edges read this at step 0.
        """
        rest: dict[str, np.ndarray] = {}
        for unit in self.plan.units:
            for p in unit.nodes:
                shape = (self.batch, *self.outs[p])
                if p in self.pops:
                    pop = self.pops[p]
                    value = np.zeros(shape, self.dtype) if pop.spiking else pop.v.copy()
                elif p in self.lines or p in self.top_inputs:
                    value = np.zeros(shape, self.dtype)
                else:
                    total = np.zeros((self.batch, *self.ins[p]), self.dtype)
                    for s in self.preds[p]:
                        if s in rest and (s, p) not in self.plan.back_edges:
                            total = total + rest[s]
                    value = np.asarray(self.ops[p](total)).reshape(shape)
                rest[p] = value
        return rest

    def _zeros(self, c: int, path: str) -> np.ndarray:
        return np.zeros((c, self.batch, *self.ins[path]), dtype=self.dtype)

    def _chunk_input(self, path: str, chunk: dict[str, np.ndarray], c: int) -> np.ndarray:
        """Sum of the incoming signals over the whole chunk (acyclic units only)."""
        preds = self.preds[path]
        if not preds:
            return self._zeros(c, path)
        total = chunk[preds[0]]
        for s in preds[1:]:
            total = total + chunk[s]
        return total

    def _step_input(self, path: str, chunk: dict[str, np.ndarray], i: int) -> np.ndarray:
        """Sum of the incoming signals at chunk step ``i`` (back-edges read step ``i - 1``)."""
        total: np.ndarray | None = None
        for s in self.preds[path]:
            if (s, path) in self.plan.back_edges:
                value = chunk[s][i - 1] if i > 0 else self.carry[s]
            else:
                value = chunk[s][i]
            total = value if total is None else total + value
        if total is None:
            return np.zeros((self.batch, *self.ins[path]), dtype=self.dtype)
        return total

    # -- units -------------------------------------------------------------------------------
    def _run_node_chunk(self, path: str, chunk: dict[str, np.ndarray], t0: int, c: int) -> None:
        if path in self.top_inputs:
            y = self.signals[path][t0 : t0 + c]
        else:
            x = self._chunk_input(path, chunk, c)
            if path in self.pops:
                y = np.empty((c, self.batch, *self.outs[path]), dtype=self.dtype)
                self._run_population(path, x, t0, y)
            elif path in self.lines:
                line = self.lines[path]
                y = np.empty((c, self.batch, *self.outs[path]), dtype=self.dtype)
                for i in range(c):
                    line.push(x[i], t0 + i)
                    line.read(t0 + i, y[i])
            else:
                n = c * self.batch
                y = self.ops[path](x.reshape(n, *self.ins[path]))
                y = y.reshape(c, self.batch, *self.outs[path])
        chunk[path] = y
        if path in self.top_outputs:
            self.outputs[path][t0 : t0 + c] = y
        if path in self.rec_out:
            self.rec_out[path][t0 : t0 + c] = y

    def _run_population(self, path: str, x: np.ndarray, t0: int, y: np.ndarray) -> None:
        """A neuron node over a whole chunk, its batch in parts on the splitter's threads."""
        pop = self.pops[path]
        ranges = self.split.ranges(self.batch, x.size)
        if len(ranges) == 1:
            pop.run(x, t0, y)
            return
        for lo, hi in ranges:
            if (path, lo, hi) not in self.pop_parts:
                self.pop_parts[path, lo, hi] = pop.batch_part(lo, hi)

        def run_part(lo: int, hi: int) -> None:
            self.pop_parts[path, lo, hi].run(x[:, lo:hi], t0, y[:, lo:hi])

        self.split.run(run_part, self.batch, x.size)

    def _run_cyclic(self, nodes: list[str], chunk: dict[str, np.ndarray], t0: int, c: int) -> None:
        for p in nodes:
            chunk[p] = np.empty((c, self.batch, *self.outs[p]), dtype=self.dtype)
        late = [p for p in nodes if p in self.breaking]
        for i in range(c):
            t = t0 + i
            for p in nodes:
                out = chunk[p][i]
                if p in self.breaking:
                    self.lines[p].read(t, out)
                    continue
                x = self._step_input(p, chunk, i)
                if p in self.pops:
                    self.pops[p].step(x, t, out)
                elif p in self.lines:
                    self.lines[p].push(x, t)
                    self.lines[p].read(t, out)
                else:
                    out[...] = self.ops[p](x).reshape(out.shape)
            for p in late:
                self.lines[p].push(self._step_input(p, chunk, i), t)
        for p in nodes:
            if p in self.rec_out:
                self.rec_out[p][t0 : t0 + c] = chunk[p]
        for s, _ in self.plan.back_edges:
            if s in chunk:
                self.carry[s] = chunk[s][c - 1].copy()

    def _run_unit(self, index: int, chunk: dict[str, np.ndarray], t0: int, c: int) -> None:
        unit = self.plan.units[index]
        if unit.cyclic:
            self._run_cyclic(unit.nodes, chunk, t0, c)
        else:
            self._run_node_chunk(unit.nodes[0], chunk, t0, c)

    def run(
        self, chunk_size: int, pipeline: bool = False, one_thread_products: bool = False
    ) -> None:
        """Every chunk in order; with ``pipeline``, an acyclic graph's chunks run on two
        threads when that balances (:mod:`nirhub.sim.pipeline`; same bits). With
        ``one_thread_products`` (the caller already runs on one BLAS thread) the helper
        stage's products run on one BLAS thread too."""
        starts = [(t0, min(chunk_size, self.steps - t0)) for t0 in range(0, self.steps, chunk_size)]
        n_units = len(self.plan.units)
        if pipeline and len(starts) > MIN_CHUNKS:
            # chunk 0 warms the buffers up (first writes fault pages in); chunk 1 is timed
            for t0, c in starts[:2]:
                costs = timed_chunk(self._run_unit, n_units, t0, c)
            cut, share = best_cut(costs)
            self.pipeline_share = share
            if share <= MAX_STAGE_SHARE:
                run_pipelined(self._run_unit, n_units, cut, starts[2:], one_thread_products)
                return
            starts = starts[2:]
        for t0, c in starts:
            chunk: dict[str, np.ndarray] = {}
            for u in range(n_units):
                self._run_unit(u, chunk, t0, c)


def simulate(
    graph: Graph,
    inputs: Any,
    dt: float | None = None,
    *,
    method: str | None = None,
    reset: str | None = None,
    record: str | Iterable[str] | None = (),
    dtype: Any = np.float64,
    chunk_size: int | None = None,
    steps: int | None = None,
    threads: int | None = None,
) -> SimulationResult:
    """Run ``graph`` on ``inputs`` for ``T`` steps of ``dt`` seconds.

    Args:
        graph: a valid graph (nested subgraphs, recurrent cycles and fan-in allowed).
        inputs: ``(T, *shape)`` (one sample) or ``(T, B, *shape)`` (a batch), time first; a bare
            array for a one-input graph, else ``{input name: array}``.
        dt: time step in seconds; defaults to the graph's recorded ``nirhub.dt``.
        method: ``"euler"`` (forward Euler, as snnTorch/Norse) or ``"exact"`` (exact
            integration with the input held constant over each step); ``None`` takes the
            graph's recorded ``nirhub.method``, else ``"euler"``.
        reset: ``"zero"`` (to ``v_reset``, 0 when absent) or ``"subtract"`` for every spiking
            node; ``None`` takes each node's mode from the ``nirhub`` metadata (node, then
            enclosing graphs), defaulting to ``"zero"``. Neuron variants (multi-spike, ``>=``,
            ``v_min``, staged ZOH) always come from each node's metadata
            (:func:`nirhub.ir.conventions.get_variant`).
        record: dotted node paths whose state to keep over time (``"lif1.lif"``).
        dtype: ``float64`` (default) or ``float32``.
        chunk_size: steps per chunk (default: chosen from a 64 MiB budget, at most 256).
        steps: how long to run a graph without Input nodes (driven by its biases alone;
            ``inputs`` is then ``{}`` or None).
        threads: 2 or more runs a graph without recurrent loops as a two-stage pipeline
            over chunks (:mod:`nirhub.sim.pipeline`), each stage's matrix products on one
            BLAS thread where the BLAS allows it (:mod:`nirhub.sim.blas`: results then
            bit-identical to a one-thread run with ``OPENBLAS_NUM_THREADS=1``); a recurrent
            graph splits the copies and element-wise work of its large nodes instead
            (:mod:`nirhub.sim.parallel`, bit-identical). Default 1: one thread, the products
            on the BLAS's own threads.

    Returns:
        a :class:`SimulationResult` with every Output node's signal in the inputs' layout.
    """
    if method is not None and method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    override = check_reset(reset)
    dtype = _check_dtype(dtype)
    n_threads = _check_threads(threads)
    flat, ins, outs = _check_graph(graph, inputless=steps is not None)
    if method is None:
        method = get_method(graph) or "euler"
    dt_value = _check_dt(dt, graph)
    input_shapes = {name: ins[name] for name in flat.inputs}
    signals = check_inputs(inputs, input_shapes, dtype, steps)
    _check_signal_sizes(flat, ins, outs, signals.batch, dtype)
    record_paths = resolve_record(record, flat)
    check_euler_decay(flat.nodes.items(), dt_value, method)

    delays: dict[str, np.ndarray] = {}
    delay_info: dict[str, dict[str, Any]] = {}
    for path, node in flat.nodes.items():
        if isinstance(node, Delay):
            raw = np.broadcast_to(np.asarray(node.delay, dtype=np.float64), ins[path])
            k = delay_steps(raw, dt_value)
            err = float(np.max(np.abs(k * dt_value - raw))) if raw.size else 0.0
            delays[path] = np.minimum(k, signals.steps)
            delay_info[path] = {
                "steps_min": int(k.min()),
                "steps_max": int(k.max()),
                "max_rounding_error_s": err,
            }
    breaking = {p for p, k in delays.items() if int(k.min()) >= 1}
    plan = make_plan(flat, breaking)
    # two threads or more: an acyclic graph runs as a two-stage pipeline over chunks (one
    # wake-up per chunk); a graph with recurrent units splits its large operations instead
    pipeline = PIPELINE_ACYCLIC and n_threads >= 2 and not any(u.cyclic for u in plan.units)
    # each stage's products on one BLAS thread where the BLAS allows it (nirhub.sim.blas),
    # else one product at a time on the BLAS's own threads
    one_thread_products = pipeline and local_threads_setter() is not None
    if not pipeline:
        split = Splitter(n_threads)
    elif one_thread_products:
        split = Splitter(1)
    else:
        split = Splitter(1, products=threading.Lock())
    resets = {
        p: reset_mode(graph, p, override)
        for p, n in flat.nodes.items()
        if n.type_name in SPIKING_TYPES
    }
    variants = {p: get_variant(n, p) for p, n in flat.nodes.items() if n.type_name in NEURON_TYPES}
    work = sum(math.prod(outs[p]) + conv_work(n, ins[p], outs[p]) for p, n in flat.nodes.items())
    size = _chunk_size(chunk_size, signals.steps, signals.batch, dtype, work)

    run = _Run(
        flat,
        ins,
        outs,
        plan,
        delays,
        signals,
        dt_value,
        method,
        resets,
        record_paths,
        dtype,
        variants,
        split,
    )
    if one_thread_products:
        with one_blas_thread():
            run.run(size, pipeline=True, one_thread_products=True)
    else:
        run.run(size, pipeline=pipeline)

    def layout(arr: np.ndarray) -> np.ndarray:
        return arr if signals.batched else arr[:, 0]

    recorded: dict[str, dict[str, np.ndarray]] = {}
    for p in record_paths:
        if p in run.pops:
            recorded[p] = {k: layout(v) for k, v in run.pops[p].rec.items()}
        else:
            recorded[p] = {"out": layout(run.rec_out[p])}
    conventions = {
        "spike": "a spike is the value 1 during one step",
        "threshold": "v > v_threshold (strict)",
        "reset": resets,
        "variants": {p: v.describe() for p, v in variants.items() if not v.is_default},
        "recorded_v": "after the reset of the step",
        "initial_state": "v = v_leak (0 for I/IF), I = 0",
        "delayed_edges": sorted(plan.back_edges),
        "delays": delay_info,
        "avgpool_divisor": "kernel area (padded cells count)",
        "chunk_size": size,
        "dtype": str(dtype),
    }
    return SimulationResult(
        outputs={k: layout(v) for k, v in run.outputs.items()},
        recorded=recorded,
        dt=dt_value,
        method=method,
        steps=signals.steps,
        batch_size=signals.batch if signals.batched else None,
        conventions=conventions,
    )
