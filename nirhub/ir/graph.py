"""The graph type: named nodes, directed edges, nested subgraphs.

Semantics (documented in ``docs/ir.md``):

* An edge ``(a, b)`` is an identity connection: ``b`` receives ``a``'s output.
* **Fan-in is summation**: a node with several incoming edges receives the sum of their signals
  (all must have the same shape). Fan-out copies.
* Cycles are allowed. They carry no implied delay in the IR; discrete-time execution reads a
  back-edge from the previous step (see the simulator's conventions).
* A nested :class:`Graph` is a node. An edge naming the subgraph connects to its single
  ``Input`` (as a destination) or its single ``Output`` (as a source); with several ports, name
  the port: ``"sub.in_b"``. Nodes inside subgraphs are addressed ``outer.inner``. A name that
  exists verbatim (real files use names like ``"lif1.lif"``) always wins over the dotted form.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nirhub.errors import IRError, Problem, ShapeError
from nirhub.ir.nodes import (
    NEURON_TYPES,
    NODE_TYPES,
    Input,
    Linear,
    Node,
    Output,
    _copy_metadata,
    _values_equal,
    check_node,
)
from nirhub.ir.params import Shape

Edge = tuple[str, str]


class Graph(Node):
    """A NIR graph (``NIRGraph`` in files); also usable as a node inside another graph."""

    type_name = "NIRGraph"
    fields = ("nodes", "edges")

    def __init__(
        self,
        nodes: dict[str, Node],
        edges: Iterable[Iterable[str]] = (),
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(nodes, dict):
            raise IRError(f"Graph nodes must be a dict of name -> node, got {type(nodes).__name__}")
        self.nodes: dict[str, Node] = {}
        for name, node in nodes.items():
            if not isinstance(name, str) or not name:
                raise IRError(f"node names must be non-empty strings, got {name!r}")
            self.nodes[name] = check_node(node, name)
            if isinstance(node, Graph):
                _check_nesting(node, name)
        self.edges: list[Edge] = []
        for edge in edges:
            pair = tuple(edge)
            if len(pair) != 2 or not all(isinstance(x, str) for x in pair):
                raise IRError(
                    f"an edge must be a (source, destination) pair of names, got {edge!r}"
                )
            self.edges.append((pair[0], pair[1]))
        self.metadata = _copy_metadata(metadata, "NIRGraph")

    @classmethod
    def _from_checked_parts(
        cls,
        nodes: dict[str, Node],
        edges: list[Edge],
        metadata: dict[str, Any] | None = None,
    ) -> Graph:
        """The graph of parts a reader made, which hold what the constructor checks item by
        item (non-empty string names, :class:`Node` values, edges as pairs of strings):
        ``nodes`` and ``edges`` are taken as they are (not copied); subgraph nesting and
        metadata are checked as the constructor does. Anything else takes the constructor."""
        if "" in nodes or type(nodes) is not dict or type(edges) is not list:
            return cls(nodes, edges, metadata)
        graph = cls.__new__(cls)
        for name, node in nodes.items():
            if isinstance(node, Graph):
                _check_nesting(node, name)
        graph.nodes = nodes
        graph.edges = edges
        graph.metadata = _copy_metadata(metadata, "NIRGraph")
        return graph

    # -- construction helpers ---------------------------------------------------------------
    @classmethod
    def from_list(cls, *nodes: Node, metadata: dict[str, Any] | None = None) -> Graph:
        """A chain. Names are the lower-cased type names (``linear``, ``linear_1``, ...).

        An ``Input`` named ``input`` is prepended unless the first node is an Input (its shape is
        the first node's declared input shape), and an ``Output`` named ``output`` appended
        unless the last node is one.
        """
        if len(nodes) == 1 and isinstance(nodes[0], (list, tuple)):
            nodes = tuple(nodes[0])
        items = list(nodes)
        if not items:
            raise IRError("Graph.from_list needs at least one node")
        if not isinstance(items[0], Input):
            shape = items[0].declared_input_shape()
            if shape is None:
                raise IRError(
                    f"cannot add an Input before {items[0].type_name}: its input shape is unknown",
                    hint="Put an explicit Input node first.",
                )
            items.insert(0, Input(shape))
        if not isinstance(items[-1], Output):
            items.append(Output(None))
        named: dict[str, Node] = {}
        counts: dict[str, int] = {}
        for node in items:
            base = node.type_name.lower() if not isinstance(node, Graph) else "graph"
            n = counts.get(base, 0)
            counts[base] = n + 1
            named[base if n == 0 else f"{base}_{n}"] = node
        names = list(named)
        return cls(named, list(zip(names[:-1], names[1:], strict=True)), metadata)

    def copy(self) -> Graph:
        """A shallow structural copy (nodes are shared; dicts and lists are new)."""
        return Graph(dict(self.nodes), list(self.edges), dict(self.metadata))

    def replace(self, **changes: Any) -> Graph:
        kwargs: dict[str, Any] = {
            "nodes": dict(self.nodes),
            "edges": list(self.edges),
            "metadata": dict(self.metadata),
        }
        kwargs.update(changes)
        return Graph(**kwargs)

    # -- queries ----------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (
            self.nodes.keys() == other.nodes.keys()
            and all(self.nodes[k] == other.nodes[k] for k in self.nodes)
            and self.edges == other.edges
            and _values_equal(self.metadata, other.metadata)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Graph({len(self.nodes)} nodes, {len(self.edges)} edges)"

    @property
    def inputs(self) -> list[str]:
        """Names of this graph's Input nodes."""
        return [k for k, v in self.nodes.items() if isinstance(v, Input)]

    @property
    def outputs(self) -> list[str]:
        """Names of this graph's Output nodes."""
        return [k for k, v in self.nodes.items() if isinstance(v, Output)]

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Node]]:
        """Every node, depth first, with its dotted path (subgraphs included)."""
        for name, node in self.nodes.items():
            path = prefix + name
            yield path, node
            if isinstance(node, Graph):
                yield from node.walk(path + ".")

    def find(self, path: str) -> Node:
        """The node at a dotted path (exact names win over dotted nesting)."""
        found = self._lookup(path)
        if found is None:
            raise IRError(f"no node named {path!r} in the graph", node=path)
        return found

    def _lookup(self, path: str) -> Node | None:
        if path in self.nodes:
            return self.nodes[path]
        for i in range(len(path)):
            if path[i] == "." and path[:i] in self.nodes:
                sub = self.nodes[path[:i]]
                if isinstance(sub, Graph):
                    hit = sub._lookup(path[i + 1 :])
                    if hit is not None:
                        return hit
        return None

    def num_neurons(self) -> int:
        """Neurons of every node; a population whose parameters are all scalars (0-d, as
        Norse writes them) counts the neurons of its inferred shape."""
        total = 0
        info: ShapeInfo | None = None
        for path, node in self.walk():
            if isinstance(node, Graph):
                continue
            count = node.num_neurons()
            if not count and node.type_name in NEURON_TYPES and getattr(node, "shape", 0) is None:
                info = info or infer_shapes(self)
                shape = info.inputs.get(path)
                count = math.prod(shape) if shape is not None else 0
            total += count
        return total

    def num_synapses(self) -> int:
        return sum(n.num_synapses() for _, n in self.walk() if not isinstance(n, Graph))

    def declared_input_shape(self) -> Shape | None:
        ins = self.inputs
        if len(ins) == 1:
            return self.nodes[ins[0]].declared_input_shape()
        return None

    def output_shape(self, input_shape: Shape) -> Shape:
        shapes = infer_shapes(
            self, input_shapes={self.inputs[0]: input_shape} if self.inputs else None
        )
        outs = self.outputs
        if len(outs) != 1:
            raise ShapeError(f"subgraph has {len(outs)} outputs; name the port")
        out = shapes.output(outs[0])
        if out is None:
            raise ShapeError("subgraph output shape could not be inferred")
        return out

    # -- editing (explicit, in place) -------------------------------------------------------
    def add_node(self, name: str, node: Node) -> None:
        if name in self.nodes:
            raise IRError(f"a node named {name!r} already exists", node=name)
        self.nodes[name] = check_node(node, name)
        if isinstance(node, Graph):
            try:
                _check_nesting(node, name)
            except IRError:
                del self.nodes[name]
                raise

    def add_edge(self, source: str, destination: str) -> None:
        self.edges.append((source, destination))

    def remove_node(self, name: str) -> None:
        """Remove a node and every edge that touches it."""
        if name not in self.nodes:
            raise IRError(f"no node named {name!r}", node=name)
        del self.nodes[name]
        self.edges = [e for e in self.edges if name not in e]

    def rename_node(self, old: str, new: str) -> None:
        if old not in self.nodes:
            raise IRError(f"no node named {old!r}", node=old)
        if new in self.nodes:
            raise IRError(f"a node named {new!r} already exists", node=new)
        self.nodes = {(new if k == old else k): v for k, v in self.nodes.items()}
        self.edges = [(new if s == old else s, new if d == old else d) for s, d in self.edges]

    # -- validation and shapes --------------------------------------------------------------
    def problems(self) -> list[Problem]:
        """Every structural and shape problem of the graph (empty when valid)."""
        flat = flatten(self)
        problems = list(flat.problems)
        problems += _structure_problems(self, "")
        problems += _infer_flat(flat, None).problems
        return _dedupe(problems)

    def validate(self) -> Graph:
        """Raise :class:`IRError` listing *all* problems, or return the graph unchanged."""
        problems = self.problems()
        if problems:
            listing = "\n".join(f"  - {p}" for p in problems)
            raise IRError(
                f"the graph is invalid ({len(problems)} problem{'s' * (len(problems) > 1)}):\n"
                f"{listing}",
                problems=problems,
            )
        return self

    def infer_shapes(self, *, inplace: bool = False) -> ShapeInfo:
        """Shapes of every node's input and output, without touching the graph.

        With ``inplace=True`` the inferred shapes are also written into fields that hold them
        (``Output.shape``, Conv ``input_shape``, ``Flatten.input_type``); no node or edge is
        ever added. Raises :class:`ShapeError` listing every shape problem.
        """
        info = infer_shapes(self)
        if info.problems:
            listing = "\n".join(f"  - {p}" for p in info.problems)
            raise ShapeError(
                f"shape inference failed ({len(info.problems)} problem(s)):\n{listing}",
                problems=info.problems,
            )
        if inplace:
            apply_shapes(self, info)
        return info

    # structural neuron-count helpers for the CLI
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, node in self.walk():
            counts[node.type_name] = counts.get(node.type_name, 0) + 1
        return counts


NODE_TYPES["NIRGraph"] = Graph


# --------------------------------------------------------------------------------------------
# Flattening: nested graphs -> one level with dotted names
# --------------------------------------------------------------------------------------------


@dataclass
class FlatGraph:
    """A nested graph unrolled into one level; used by shape inference and the simulator.

    Inner Input/Output nodes of subgraphs become *relays* (identity nodes). ``inputs`` and
    ``outputs`` are the top-level port names.
    """

    nodes: dict[str, Node]
    edges: list[Edge]
    inputs: list[str]
    outputs: list[str]
    relays: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    def predecessors(self) -> dict[str, list[str]]:
        pred: dict[str, list[str]] = {n: [] for n in self.nodes}
        for s, d in self.edges:
            if d in pred and s in self.nodes:
                pred[d].append(s)
        return pred


def _port(
    graph: Graph, prefix: str, name: str, as_source: bool, lengths: list[int]
) -> tuple[str | None, str | None]:
    """Resolve an edge endpoint to a flat node path, or (None, reason); ``lengths`` are
    :func:`_name_lengths` of ``graph``."""
    if name in graph.nodes:
        node = graph.nodes[name]
        if isinstance(node, Graph):
            ports = node.outputs if as_source else node.inputs
            kind = "Output" if as_source else "Input"
            if len(ports) == 1:
                return f"{prefix}{name}.{ports[0]}", None
            return None, (
                f"subgraph {prefix}{name!s} has {len(ports)} {kind} nodes; name the port as "
                f"'{name}.<{kind.lower()} name>'"
            )
        return prefix + name, None
    for i in _name_prefixes(graph, name, lengths):
        sub = graph.nodes[name[:i]]
        if not isinstance(sub, Graph):
            continue
        rest = name[i + 1 :]
        if rest in sub.nodes:
            inner = sub.nodes[rest]
            want = Output if as_source else Input
            if isinstance(inner, want):
                return f"{prefix}{name}", None
            return None, (
                f"{prefix}{name} is not an {want.__name__} of subgraph {prefix}{name[:i]}; "
                "edges can only enter a subgraph through its Input nodes and leave through its "
                "Output nodes"
            )
    return None, f"names {prefix}{name!s}, which does not exist"


#: most levels of graphs nested in one another (the root graph is one level); the reader's
#: ``ReadLimits.max_depth`` has the same default, so whatever is built can be written and read
MAX_NESTING = 64


def nesting_levels(graph: Graph) -> int:
    """Levels of graphs in ``graph`` (1 for a graph without subgraphs), without recursion."""
    deepest = 0
    stack = [(graph, 1)]
    while stack:
        g, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_NESTING + 1:
            break  # deep enough to refuse; a cycle of graphs would loop here otherwise
        stack.extend((n, level + 1) for n in g.nodes.values() if isinstance(n, Graph))
    return deepest


def _check_nesting(sub: Graph, name: str) -> None:
    levels = nesting_levels(sub) + 1
    if levels > MAX_NESTING:
        raise IRError(
            f"subgraph {name!r} would nest graphs {levels} or more levels deep; at most "
            f"{MAX_NESTING} are supported (files are read up to that depth too)",
            node=name,
        )


def _name_lengths(graph: Graph) -> list[int]:
    """The distinct lengths of ``graph``'s node names, ascending (computed once per graph)."""
    return sorted({len(n) for n in graph.nodes})


def _name_prefixes(graph: Graph, name: str, lengths: list[int]) -> Iterator[int]:
    """Lengths ``i`` (shortest first) for which ``name[:i]`` is a node of ``graph`` followed by
    a dot in ``name``.

    Only the lengths of existing node names are tried, so a hostile endpoint of many dots costs
    one comparison per distinct name length, not one slice per dot (which was quadratic).
    """
    for i in lengths:
        if i >= len(name):
            break
        if name[i] == "." and name[:i] in graph.nodes:
            yield i


def flatten(graph: Graph) -> FlatGraph:
    flat = FlatGraph({}, [], list(graph.inputs), list(graph.outputs))
    _flatten_into(graph, "", flat, top=True)
    return flat


def _flatten_into(graph: Graph, prefix: str, flat: FlatGraph, top: bool) -> None:
    for name, node in graph.nodes.items():
        path = prefix + name
        if isinstance(node, Graph):
            _flatten_into(node, path + ".", flat, top=False)
        else:
            flat.nodes[path] = node
            if not top and isinstance(node, (Input, Output)):
                flat.relays.add(path)
    lengths = _name_lengths(graph)
    nodes = graph.nodes
    where = prefix.rstrip(".") or "<graph>"
    for s, d in graph.edges:
        # (the usual edge: two nodes of this level, neither a subgraph; as _port resolves it)
        a, b = nodes.get(s), nodes.get(d)
        if (
            a is not None
            and b is not None
            and not isinstance(a, Graph)
            and not isinstance(b, Graph)
        ):
            flat.edges.append((prefix + s, prefix + d))
            continue
        src, why_s = _port(graph, prefix, s, True, lengths)
        dst, why_d = _port(graph, prefix, d, False, lengths)
        if src is None:
            flat.problems.append(
                Problem(where, f"edge ({s!r} -> {d!r}) source {why_s}", kind="dangling-edge")
            )
        if dst is None:
            flat.problems.append(
                Problem(where, f"edge ({s!r} -> {d!r}) destination {why_d}", kind="dangling-edge")
            )
        if src is not None and dst is not None:
            flat.edges.append((src, dst))


def _structure_problems(graph: Graph, prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    where = prefix.rstrip(".") or "<graph>"
    ins, outs = graph.inputs, graph.outputs
    if not ins:
        problems.append(Problem(where, "has no Input node", kind="missing-port"))
    if not outs:
        problems.append(Problem(where, "has no Output node", kind="missing-port"))
    edges = graph.edges
    nodes = graph.nodes
    # the loop below finds nothing in a graph without duplicate edges, edges into an Input or
    # out of an Output: checked with sets first
    suspect = (
        len(set(map(tuple, edges))) != len(edges)
        or not set(ins).isdisjoint([d for _, d in edges])
        or not set(outs).isdisjoint([s for s, _ in edges])
    )
    seen: set[Edge] = set()
    for s, d in edges if suspect else ():
        if (s, d) in seen:
            problems.append(
                Problem(
                    where,
                    f"duplicate edge ({s!r} -> {d!r}); fan-in sums, so it would count twice",
                    kind="duplicate-edge",
                )
            )
        seen.add((s, d))
        if isinstance(graph.nodes.get(d), Input):
            problems.append(
                Problem(
                    prefix + d,
                    f"is an Input but has an incoming edge from {prefix + s!r}",
                    kind="edge-into-input",
                )
            )
        if isinstance(graph.nodes.get(s), Output):
            problems.append(
                Problem(
                    prefix + s,
                    f"is an Output but has an outgoing edge to {prefix + d!r}",
                    kind="edge-from-output",
                )
            )
    # reachability within this level (edges that resolve at this level)
    # (lists: a name listed twice is visited once by _reach)
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    pred: dict[str, list[str]] = {n: [] for n in graph.nodes}

    lengths = _name_lengths(graph)

    def base(name: str) -> str | None:
        if name in graph.nodes:
            return name
        i = next(_name_prefixes(graph, name, lengths), None)
        return None if i is None else name[:i]

    for s, d in edges:
        if s in nodes and d in nodes:  # (what base() returns for them)
            succ[s].append(d)
            pred[d].append(s)
            continue
        bs, bd = base(s), base(d)
        if bs is not None and bd is not None:
            succ[bs].append(bd)
            pred[bd].append(bs)
    fwd = _reach(ins, succ)
    bwd = _reach(outs, pred)
    # (both hold node names only: when one holds them all, its loop below finds nothing)
    if ins and len(fwd) < len(nodes):
        for n in graph.nodes:
            if n not in fwd:
                problems.append(
                    Problem(prefix + n, "is not reachable from any Input", kind="unreachable")
                )
    if outs and len(bwd) < len(nodes):
        for n in graph.nodes:
            if n not in bwd and n in fwd:
                problems.append(
                    Problem(
                        prefix + n,
                        "has no path to any Output (its result is unused)",
                        kind="dead-end",
                    )
                )
    for name, node in graph.nodes.items():
        if isinstance(node, Graph):
            problems += _structure_problems(node, prefix + name + ".")
    return problems


def _reach(starts: list[str], adj: dict[str, list[str]]) -> set[str]:
    seen = set(starts)
    stack = list(starts)
    while stack:
        n = stack.pop()
        for m in adj.get(n, ()):
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def _dedupe(problems: list[Problem]) -> list[Problem]:
    out, seen = [], set()
    for p in problems:
        key = (p.where, p.field, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Shape inference
# --------------------------------------------------------------------------------------------


@dataclass
class ShapeInfo:
    """Input and output shape of every node, keyed by dotted path (subgraph ports included)."""

    inputs: dict[str, Shape | None]
    outputs: dict[str, Shape | None]
    problems: list[Problem] = field(default_factory=list)

    def input(self, path: str) -> Shape | None:
        return self.inputs.get(path)

    def output(self, path: str) -> Shape | None:
        return self.outputs.get(path)

    def __getitem__(self, path: str) -> tuple[Shape | None, Shape | None]:
        if path not in self.inputs:
            raise KeyError(path)
        return self.inputs[path], self.outputs[path]


def infer_shapes(graph: Graph, input_shapes: dict[str, Shape] | None = None) -> ShapeInfo:
    """Infer every node's shapes; problems are collected in the result, never raised."""
    flat = flatten(graph)
    info = _infer_flat(flat, input_shapes)
    info.problems = _dedupe(flat.problems + info.problems)
    return info


def _shape_preserving(node: Node, path: str, flat: FlatGraph) -> bool:
    return node.elementwise or isinstance(node, Output) or path in flat.relays


def _infer_flat(flat: FlatGraph, input_shapes: dict[str, Shape] | None) -> ShapeInfo:
    ins: dict[str, Shape | None] = {n: None for n in flat.nodes}
    outs: dict[str, Shape | None] = {n: None for n in flat.nodes}
    problems: list[Problem] = []
    failed: set[str] = set()

    def compute(path: str) -> None:
        node = flat.nodes[path]
        shape = ins[path]
        if shape is None or outs[path] is not None or path in failed:
            return
        try:
            outs[path] = tuple(node.output_shape(shape))
        except IRError as exc:
            failed.add(path)
            problems.append(Problem(path, exc.message, kind="shape"))

    for path, node in flat.nodes.items():
        declared = node.declared_input_shape()
        if input_shapes and path in input_shapes:
            declared = tuple(input_shapes[path])
        if declared is not None:
            ins[path] = tuple(declared)
        if isinstance(node, Linear):
            outs[path] = node.declared_output_shape()
        elif isinstance(node, Input):
            outs[path] = ins[path]
        else:
            compute(path)

    changed = True
    while changed:
        changed = False
        for s, d in flat.edges:
            out = outs[s]
            if out is not None and ins[d] is None:
                ins[d] = out
                compute(d)
                changed = True
                out = outs[s]  # (compute(d) sets it when s is d)
            if (
                out is None
                and ins[d] is not None
                and _shape_preserving(flat.nodes[s], s, flat)
                and (ins[s] is None or ins[s] == ins[d])
            ):
                outs[s] = ins[d]
                if ins[s] is None:
                    ins[s] = ins[d]
                changed = True

    for s, d in flat.edges:
        a, b = outs[s], ins[d]
        if a is not None and b is not None and a != b and tuple(a) != tuple(b):
            problems.append(
                Problem(
                    d,
                    f"shape mismatch on edge {s} -> {d}: {s} outputs {list(a)}, {d} expects "
                    f"{list(b)}",
                    kind="shape-mismatch",
                )
            )
    for path in flat.nodes:
        if path in failed:
            continue
        if ins[path] is None or outs[path] is None:
            problems.append(
                Problem(
                    path,
                    "shape could not be inferred (no Input reaches it with a known "
                    "shape, and its parameters do not fix it)",
                    kind="shape-unknown",
                )
            )
    _add_subgraph_shapes(flat, ins, outs)
    return ShapeInfo(ins, outs, problems)


def _add_subgraph_shapes(
    flat: FlatGraph, ins: dict[str, Shape | None], outs: dict[str, Shape | None]
) -> None:
    """Give every subgraph path the shape of its single Input / Output relay."""
    groups: dict[str, dict[str, list[str]]] = {}
    for relay in flat.relays:
        parent = relay.rsplit(".", 1)[0]
        kind = "in" if isinstance(flat.nodes[relay], Input) else "out"
        groups.setdefault(parent, {"in": [], "out": []})[kind].append(relay)
    for parent, ports in groups.items():
        if len(ports["in"]) == 1:
            ins[parent] = ins[ports["in"][0]]
        else:
            ins.setdefault(parent, None)
        if len(ports["out"]) == 1:
            outs[parent] = outs[ports["out"][0]]
        else:
            outs.setdefault(parent, None)


def apply_shapes(graph: Graph, info: ShapeInfo, prefix: str = "") -> None:
    """Write inferred shapes into the fields that hold them (in place, nodes replaced)."""
    from nirhub.ir.nodes import Flatten, _Conv

    for name, node in list(graph.nodes.items()):
        path = prefix + name
        if isinstance(node, Graph):
            apply_shapes(node, info, path + ".")
        elif isinstance(node, Output) and node.shape is None and info.inputs.get(path):
            graph.nodes[name] = node.replace(shape=info.inputs[path])
        elif isinstance(node, _Conv) and node.input_shape is None and info.inputs.get(path):
            graph.nodes[name] = node.replace(input_shape=info.inputs[path][1:])  # type: ignore[index]
        elif isinstance(node, Flatten) and node.input_type is None and info.inputs.get(path):
            graph.nodes[name] = node.replace(input_type=info.inputs[path])
