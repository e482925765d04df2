"""From a nirhub Graph to an ordered list of *steps* that code generation turns into modules.

This module is framework-free (numpy and nirhub only) and public: importers that generate
framework code for a whole graph (the norse, sinabs and rockpool plugins) share it, so that each
reproduces the reference simulator's execution order and recurrence rule without copying it.

What it does, in the reference simulator's own terms (``nirhub.sim``):

* flattens nested graphs; inner Input/Output nodes become identity *relays*, aliased away when
  they have a single undelayed input;
* orders the nodes and marks the recurrent back-edges exactly as the reference simulator does
  (:func:`nirhub.sim.plan.make_plan`): a back-edge carries its source's output of the previous
  step, and at step 0 the source's *rest* output (an Affine outputs its bias);
* places the per-neuron input gains a framework mapping needs (``r``, ``w_in`` and ``dt``
  factors): folded into the weights of Linear/Affine/Conv nodes that feed only that neuron,
  otherwise an explicit Scale step is inserted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nirhub.backend import codetext
from nirhub.errors import IRError, Problem, UnsupportedError
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub.ir.nodes import (
    NEURON_TYPES,
    SPIKING_TYPES,
    Affine,
    Conv1d,
    Conv2d,
    Input,
    Linear,
    Node,
    Output,
    Scale,
)
from nirhub.ir.params import Shape

#: structural findings that do not prevent a conversion (mirrors the simulator)
_HARMLESS = frozenset({"dead-end", "unreachable"})


@dataclass(frozen=True)
class Source:
    """One incoming connection of a step."""

    step: str
    #: read the source's output of the *previous* step (a recurrent back-edge)
    delayed: bool = False


@dataclass
class Step:
    """One node of the execution order."""

    name: str  #: a Python identifier, unique in the plan
    path: str  #: the dotted NIR path ("" for steps nirhub inserted)
    node: Node
    inputs: list[Source]
    in_shape: Shape
    out_shape: Shape
    #: the unit of the reference plan this step belongs to (steps of a cycle share one)
    unit: int = 0

    @property
    def type_name(self) -> str:
        return self.node.type_name

    @property
    def identity(self) -> bool:
        return isinstance(self.node, (Input, Output))


@dataclass
class GraphPlan:
    """Steps in execution order, with the graph's single input and output."""

    steps: dict[str, Step]
    input: str
    output: str
    input_name: str  #: the Input node's name in the graph
    output_name: str  #: the Output node's name in the graph
    cyclic_units: dict[int, list[str]] = field(default_factory=dict)

    def consumers(self, name: str) -> list[tuple[str, bool]]:
        return [
            (s.name, src.delayed)
            for s in self.steps.values()
            for src in s.inputs
            if src.step == name
        ]

    def by_path(self) -> dict[str, str]:
        return {s.path: s.name for s in self.steps.values() if s.path}

    @property
    def delayed_sources(self) -> list[str]:
        seen: list[str] = []
        for s in self.steps.values():
            for src in s.inputs:
                if src.delayed and src.step not in seen:
                    seen.append(src.step)
        return seen

    def is_chain(self) -> bool:
        """A single path input -> ... -> output, no fan-in, no fan-out, no cycle."""
        if self.cyclic_units or self.delayed_sources:
            return False
        names = list(self.steps)
        for i, name in enumerate(names):
            step = self.steps[name]
            want = [] if i == 0 else [names[i - 1]]
            if [src.step for src in step.inputs] != want:
                return False
        return names[0] == self.input and names[-1] == self.output

    def insert_before(self, target: str, step: Step) -> None:
        """Put ``step`` (whose inputs are set) right before ``target`` in the order."""
        items = list(self.steps.items())
        i = [k for k, _ in items].index(target)
        items.insert(i, (step.name, step))
        self.steps = dict(items)
        if step.unit in self.cyclic_units:
            unit = self.cyclic_units[step.unit]
            unit.insert(unit.index(target), step.name)


def identifier(path: str, taken: set[str]) -> str:
    """A readable, unique Python identifier for a node path (``lif1.lif`` -> ``lif1_lif``).

    ASCII letters, digits and ``_`` only, whatever the node name holds: see
    :func:`nirhub.backend.codetext.identifier`.
    """
    return codetext.identifier(path, taken)


def make_graph_plan(graph: Graph, backend: str) -> GraphPlan:
    """Order ``graph`` for execution; refuse what no torch-style model can take."""
    from nirhub.sim.plan import make_plan

    problems = [p for p in graph.problems() if p.kind not in _HARMLESS]
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise IRError(
            f"cannot import an invalid graph into {backend}:\n{listing}", problems=problems
        )
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedError(
            f"{backend} models built by nirhub take one input and give one output; this graph "
            f"has {len(graph.inputs)} Input and {len(graph.outputs)} Output nodes",
            problems=[
                Problem(
                    "<graph>", "needs exactly one Input and one Output node", kind="unsupported"
                )
            ],
        )
    flat = flatten(graph)
    info = infer_shapes(graph)
    plan = make_plan(flat, set())
    taken: set[str] = set()
    names = {path: identifier(path, taken) for path in flat.nodes}
    preds: dict[str, list[Source]] = {p: [] for p in flat.nodes}
    for s, d in flat.edges:
        preds[d].append(Source(names[s], (s, d) in plan.back_edges))
    steps: dict[str, Step] = {}
    cyclic: dict[int, list[str]] = {}
    for u, unit in enumerate(plan.units):
        for path in unit.nodes:
            shape_in, shape_out = info.inputs.get(path), info.outputs.get(path)
            if shape_in is None or shape_out is None:  # pragma: no cover - a graph problem
                raise IRError(f"the shape of {path} could not be inferred", node=path)
            steps[names[path]] = Step(
                names[path],
                path,
                flat.nodes[path],
                preds[path],
                tuple(shape_in),
                tuple(shape_out),
                u,
            )
        if unit.cyclic:
            cyclic[u] = [names[p] for p in unit.nodes]
    gp = GraphPlan(
        steps,
        names[flat.inputs[0]],
        names[flat.outputs[0]],
        flat.inputs[0],
        flat.outputs[0],
        cyclic,
    )
    _alias_relays(gp)
    return gp


def _alias_relays(gp: GraphPlan) -> None:
    """Remove identity relays with one undelayed input: consumers read that input directly."""
    changed = True
    while changed:
        changed = False
        for name, step in list(gp.steps.items()):
            if not step.identity or name in (gp.input, gp.output):
                continue
            if len(step.inputs) != 1 or step.inputs[0].delayed:
                continue
            src = step.inputs[0].step
            for other in gp.steps.values():
                other.inputs = [
                    Source(src, s.delayed) if s.step == name else s for s in other.inputs
                ]
            del gp.steps[name]
            for unit in gp.cyclic_units.values():
                if name in unit:
                    unit.remove(name)
            changed = True
    for u in [u for u, unit in gp.cyclic_units.items() if not _has_cycle(gp, unit)]:
        del gp.cyclic_units[u]


def _has_cycle(gp: GraphPlan, unit: list[str]) -> bool:
    members = set(unit)
    return any(src.step in members for n in unit for src in gp.steps[n].inputs)


# --------------------------------------------------------------------------------------------
# input gains
# --------------------------------------------------------------------------------------------


def _foldable(gp: GraphPlan, step: Step, gain: np.ndarray) -> bool:
    """Can ``gain`` be multiplied into every producer of ``step``'s input?"""
    if not step.inputs:
        return False
    for src in step.inputs:
        prod = gp.steps[src.step]
        if not isinstance(prod.node, (Linear, Conv1d, Conv2d)):
            return False
        if [c for c, _ in gp.consumers(prod.name)] != [step.name]:
            return False
        if isinstance(prod.node, Linear) and prod.node.weight.ndim != 2:
            return False
        if isinstance(prod.node, (Conv1d, Conv2d)):
            full = np.broadcast_to(gain, step.in_shape)
            per_channel = full.reshape(full.shape[0], -1)
            if not np.all(per_channel == per_channel[:, :1]):
                return False
    return True


def _scaled(node: Node, gain: np.ndarray, in_shape: Shape) -> Node:
    full = np.broadcast_to(np.asarray(gain, dtype=np.float64), in_shape)
    if isinstance(node, Linear):  # Affine too
        g = full.reshape(-1)
        w = node.weight
        changes: dict[str, object] = {"weight": (w.astype(np.float64) * g[:, None]).astype(w.dtype)}
        if isinstance(node, Affine):
            changes["bias"] = (node.bias.astype(np.float64) * g).astype(node.bias.dtype)
        return node.replace(**changes)
    assert isinstance(node, (Conv1d, Conv2d))
    g = full.reshape(full.shape[0], -1)[:, 0]
    w = node.weight
    shape = (-1,) + (1,) * (w.ndim - 1)
    changes = {"weight": (w.astype(np.float64) * g.reshape(shape)).astype(w.dtype)}
    if node.bias is not None:
        changes["bias"] = (node.bias.astype(np.float64) * g).astype(node.bias.dtype)
    return node.replace(**changes)


def place_gains(gp: GraphPlan, gains: dict[str, np.ndarray], *, fold: bool = True) -> list[str]:
    """Apply each neuron step's input gain; return the names of inserted Scale steps.

    ``gains`` maps step names to arrays broadcastable to the step's input shape. Gains equal to
    1 everywhere are dropped. A gain is folded into the producers' weights when every producer
    is a Linear/Affine/Conv feeding only this step (per output channel for convolutions);
    otherwise a Scale step named ``<step>_gain`` is inserted in front of the step.
    """
    inserted = []
    taken = set(gp.steps)
    for name, gain in gains.items():
        step = gp.steps[name]
        g = np.asarray(gain, dtype=np.float64)
        if np.all(g == 1.0):
            continue
        if fold and _foldable(gp, step, g):
            for src in step.inputs:
                prod = gp.steps[src.step]
                prod.node = _scaled(prod.node, g, step.in_shape)
            continue
        full = np.ascontiguousarray(np.broadcast_to(g, step.in_shape))
        new = Step(
            identifier(f"{name}_gain", taken),
            "",
            Scale(full),
            list(step.inputs),
            step.in_shape,
            step.in_shape,
            step.unit,
        )
        step.inputs = [Source(new.name)]
        gp.insert_before(name, new)
        inserted.append(new.name)
    return inserted


# --------------------------------------------------------------------------------------------
# rest outputs (what a back-edge delivers at step 0)
# --------------------------------------------------------------------------------------------


def rest_outputs(gp: GraphPlan) -> dict[str, np.ndarray]:
    """Each delayed source's output at step -1, the network at rest (batch of one).

    The reference simulator's rule: inputs are 0; spiking neurons emit nothing; other neurons
    output their initial v (``v_leak``; 0 for I); stateless nodes apply their function to the
    rest of their undelayed inputs (an Affine outputs its bias).
    """
    from nirhub.sim.ops import make_op

    wanted = set(gp.delayed_sources)
    if not wanted:
        return {}
    rest: dict[str, np.ndarray] = {}
    for name, step in gp.steps.items():
        shape = (1, *step.out_shape)
        node = step.node
        if node.type_name in NEURON_TYPES:
            if node.type_name in SPIKING_TYPES or node.type_name == "I":
                value = np.zeros(shape)
            else:
                value = np.broadcast_to(np.asarray(node.v_leak, np.float64), shape).copy()
        elif name == gp.input:
            value = np.zeros(shape)
        else:
            total = np.zeros((1, *step.in_shape))
            for src in step.inputs:
                if not src.delayed and src.step in rest:
                    total = total + rest[src.step]
            if step.identity:
                value = total
            else:
                op = make_op(node, step.in_shape, step.out_shape, np.dtype(np.float64))
                value = np.asarray(op(total), dtype=np.float64).reshape(shape)
        rest[name] = value
    return {k: v[0] for k, v in rest.items() if k in wanted}


def flatten_dims(node: Node, in_shape: Shape) -> tuple[int, int]:
    """NIR Flatten dims (no batch axis) as torch dims (batch axis 0): norse#438."""
    start, end = node.dims(len(in_shape))  # type: ignore[attr-defined]
    return start + 1, end + 1
