"""Graph passes: exact rewrites that make a graph legal for a target backend.

A pass removes node types a target cannot import and may introduce others it can. Every pass
here is *exact*: the rewritten graph computes the same thing as the original under the
reference simulator (up to floating-point rounding of the folded products). A pass that cannot
rewrite a node exactly leaves it alone, and the conversion then reports that node as
unsupported.

The conversion pipeline (:func:`legalize`) only runs a pass when the graph holds a node type the
target lacks and the pass removes that type, and only if every type the pass introduces is one
the target accepts; a graph the target can already take is never touched.

Plugins contribute their own passes through the ``nirhub_passes`` hook; anything with the
attributes of :class:`GraphPass` works.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from nirhub.ir.conventions import NAMESPACE, namespace, reset_mode
from nirhub.ir.graph import Graph, flatten
from nirhub.ir.nodes import SPIKING_TYPES, Affine, Input, Linear, Node, Output, Scale

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.hub.descriptor import BackendDescriptor

#: node types every target accepts: the graph's ports
PORT_TYPES: frozenset[str] = frozenset({"Input", "Output"})


@runtime_checkable
class GraphPass(Protocol):
    """What the conversion pipeline needs from a pass."""

    #: short kebab-case name shown in conversion reports
    name: str
    #: one sentence: what it rewrites, and why that is exact
    description: str
    #: node types the pass can remove
    eliminates: frozenset[str]
    #: node types the pass may introduce
    produces: frozenset[str]
    #: backend names it applies to; empty means every target
    targets: frozenset[str]

    def run(self, graph: Graph) -> tuple[Graph, list[str]]:
        """Return the rewritten graph (a new object) and one note per rewrite.

        No notes means nothing was rewritten (the returned graph is then ignored). The input
        graph is never modified.
        """
        ...


def node_types(graph: Graph) -> set[str]:
    return {node.type_name for _, node in graph.walk()}


def illegal_types(graph: Graph, descriptor: BackendDescriptor) -> set[str]:
    return node_types(graph) - set(descriptor.from_ir) - PORT_TYPES


def legalize(
    graph: Graph, descriptor: BackendDescriptor, passes: Sequence[GraphPass]
) -> tuple[Graph, list[str], list[str]]:
    """Apply the passes that help ``descriptor`` accept ``graph``.

    Returns ``(graph, names of the passes applied, notes)``. The result may still hold illegal
    nodes; :func:`nirhub.hub.convert.check_legality` reports them.
    """
    applied: list[str] = []
    notes: list[str] = []
    accepted = set(descriptor.from_ir) | PORT_TYPES
    for _ in range(len(passes) + 1):
        illegal = illegal_types(graph, descriptor)
        if not illegal:
            break
        progress = False
        for p in passes:
            if p.targets and descriptor.name not in p.targets:
                continue
            if not (set(p.eliminates) & illegal) or not set(p.produces) <= accepted:
                continue
            new, changes = p.run(graph)
            if changes:
                graph = new
                if p.name not in applied:
                    applied.append(p.name)
                notes.extend(f"{p.name}: {c}" for c in changes)
                progress = True
                illegal = illegal_types(graph, descriptor)
        if not progress:
            break
    return graph, applied, notes


# --------------------------------------------------------------------------------------------
# helpers: edit one graph level, recursing into subgraphs
# --------------------------------------------------------------------------------------------


def _each_level(graph: Graph, rewrite, prefix: str = "") -> tuple[Graph, list[str]]:  # noqa: ANN001
    """Apply ``rewrite(graph, prefix) -> (graph, notes)`` to ``graph`` and every subgraph."""
    nodes = dict(graph.nodes)
    notes: list[str] = []
    for name, node in graph.nodes.items():
        if isinstance(node, Graph):
            new, sub_notes = _each_level(node, rewrite, f"{prefix}{name}.")
            if sub_notes:
                nodes[name] = new
                notes += sub_notes
    current = graph.replace(nodes=nodes) if notes else graph
    new, level_notes = rewrite(current, prefix)
    return (new, notes + level_notes) if level_notes else (current, notes)


class _NodeByNode:
    """A pass that rewrites nodes one at a time, on every level: a subclass says how one node
    is replaced (:meth:`replace`); the edges stay as they are."""

    def run(self, graph: Graph) -> tuple[Graph, list[str]]:
        return _each_level(graph, self._level)

    def _level(self, graph: Graph, prefix: str) -> tuple[Graph, list[str]]:
        nodes = dict(graph.nodes)
        notes = []
        for name, node in graph.nodes.items():
            replaced = self.replace(node)
            if replaced is not None:
                nodes[name], done = replaced
                notes.append(f"{prefix}{name}: {done}")
        return (graph.replace(nodes=nodes), notes) if notes else (graph, [])

    def replace(self, node: Node) -> tuple[Node, str] | None:
        """``(the new node, what was done)``, or None to keep ``node``."""
        raise NotImplementedError


def _preds(graph: Graph, name: str) -> list[str]:
    return [s for s, d in graph.edges if d == name]


def _succs(graph: Graph, name: str) -> list[str]:
    return [d for s, d in graph.edges if s == name]


# --------------------------------------------------------------------------------------------
# the built-in passes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldScale:
    """Fold ``Scale(s) -> Linear/Affine(W)`` into one node with weight ``W * s``.

    Exact because ``W (s * x) = (W diag(s)) x``. Only done when the Scale feeds that one node
    and nothing else feeds it (fan-in sums, so another input would be scaled too), and when the
    two are not in a cycle with each other.
    """

    name: str = "fold-scale"
    description: str = "fold a Scale into the Linear/Affine it feeds (W' = W * s)"
    eliminates: frozenset[str] = frozenset({"Scale"})
    produces: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()

    def run(self, graph: Graph) -> tuple[Graph, list[str]]:
        return _each_level(graph, self._level)

    def _level(self, graph: Graph, prefix: str) -> tuple[Graph, list[str]]:
        g = graph.copy()
        notes = []
        for name, node in list(g.nodes.items()):
            if not isinstance(node, Scale):
                continue
            succ = _succs(g, name)
            if len(succ) != 1 or succ[0] not in g.nodes:
                continue
            target_name = succ[0]
            target = g.nodes[target_name]
            if type(target) not in (Linear, Affine) or target.weight.ndim != 2:
                continue
            if _preds(g, target_name) != [name] or target_name in _preds(g, name):
                continue
            n_in = target.weight.shape[1]
            if node.scale.shape not in ((), (n_in,)):
                continue
            weight = (
                target.weight * node.scale[None, ...]
                if node.scale.ndim
                else (target.weight * node.scale)
            )
            g.nodes[target_name] = target.replace(weight=weight)
            g.edges = [
                (s, target_name) if d == name else (s, d)
                for s, d in g.edges
                if (s, d) != (name, target_name)
            ]
            del g.nodes[name]
            notes.append(f"folded Scale {prefix}{name} into {prefix}{target_name}")
        return g, notes


@dataclass(frozen=True)
class LinearToAffine(_NodeByNode):
    """``Linear(W)`` -> ``Affine(W, 0)``, for targets that have Affine but not Linear."""

    name: str = "linear-to-affine"
    description: str = "express Linear(W) as Affine(W, bias=0)"
    eliminates: frozenset[str] = frozenset({"Linear"})
    produces: frozenset[str] = frozenset({"Affine"})
    targets: frozenset[str] = frozenset()

    def replace(self, node: Node) -> tuple[Node, str] | None:
        if type(node) is not Linear:
            return None
        bias = np.zeros(node.declared_output_shape()[-1:], dtype=node.weight.dtype)
        affine = Affine(node.weight, bias, metadata=dict(node.metadata))
        return affine, "Linear -> Affine with zero bias"


@dataclass(frozen=True)
class AffineToLinear(_NodeByNode):
    """``Affine(W, 0)`` -> ``Linear(W)`` when the bias is zero everywhere."""

    name: str = "affine-to-linear"
    description: str = "express Affine(W, bias=0) as Linear(W) (only when the bias is all zero)"
    eliminates: frozenset[str] = frozenset({"Affine"})
    produces: frozenset[str] = frozenset({"Linear"})
    targets: frozenset[str] = frozenset()

    def replace(self, node: Node) -> tuple[Node, str] | None:
        if type(node) is not Affine or np.any(node.bias):
            return None
        return Linear(node.weight, metadata=dict(node.metadata)), "Affine with zero bias -> Linear"


@dataclass(frozen=True)
class InlineSubgraphs:
    """Replace nested graphs by their nodes (named ``outer.inner``), dropping inner ports.

    The inner Input/Output nodes are identities, so connecting every source of a port to every
    destination of it computes the same sums. The reset mode a subgraph sets in its metadata is
    copied onto its spiking nodes. Skipped when a name would clash or an edge would be
    duplicated.
    """

    name: str = "inline-subgraphs"
    description: str = "inline nested graphs (their Input/Output nodes are identities)"
    eliminates: frozenset[str] = frozenset({"NIRGraph"})
    produces: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()

    def run(self, graph: Graph) -> tuple[Graph, list[str]]:
        subgraphs = [n for n, node in graph.nodes.items() if isinstance(node, Graph)]
        if not subgraphs:
            return graph, []
        flat = flatten(graph)
        if flat.problems:
            return graph, []
        nodes = dict(flat.nodes)
        edges = list(flat.edges)
        for relay in sorted(flat.relays):
            preds = [s for s, d in edges if d == relay]
            succs = [d for s, d in edges if s == relay]
            edges = [e for e in edges if relay not in e]
            edges += [(p, s) for p in preds for s in succs]
            del nodes[relay]
        if len(set(edges)) != len(edges) or any(s == d and s in flat.relays for s, d in edges):
            return graph, []
        for path, node in list(nodes.items()):
            if "." in path and node.type_name in SPIKING_TYPES:
                own = namespace(node.metadata).get("reset")
                mode = reset_mode(graph, path)
                if own is None and mode != "zero":
                    meta = dict(node.metadata)
                    meta[NAMESPACE] = {**namespace(meta), "reset": mode}
                    nodes[path] = node.replace(metadata=meta)
        top_ports = [n for n, v in nodes.items() if isinstance(v, (Input, Output))]
        if sorted(top_ports) != sorted(graph.inputs + graph.outputs):
            return graph, []
        new = Graph(nodes, edges, dict(graph.metadata))
        return new, [f"inlined subgraph {name}" for name in subgraphs]


def builtin_passes() -> list[GraphPass]:
    """The passes nirhub itself contributes (through the built-in plugin)."""
    return [FoldScale(), LinearToAffine(), AffineToLinear(), InlineSubgraphs()]


def pass_names(passes: Iterable[GraphPass]) -> list[str]:
    return [p.name for p in passes]
