"""Execution order of a flattened graph: which edges are delayed, which nodes step together.

Rules (also in ``docs/simulator.md``):

* **Immediate edges.** Every edge passes its source's output of step ``t`` to its destination at
  step ``t`` -- except edges into a Delay node all of whose delays round to >= 1 step (a
  *breaking* Delay): its output at ``t`` only depends on inputs before ``t``, so it needs no
  input of step ``t`` to compute it.
* **Back-edges.** A depth-first search over the immediate edges, starting from the top-level
  Input nodes in name order, then from every other not-yet-visited node in name order, and
  visiting successors in name order, marks each edge that reaches a node still on the search
  stack. Those back-edges carry the source's output of the *previous* step (zeros at step 0):
  the one-step delay that makes a recurrent cycle computable. Cycles through a breaking Delay
  need none. The rule only depends on node names and the set of edges, not on the order the
  file or the caller listed them in.
* **Units.** Strongly connected components (over all edges) that contain a cycle are stepped
  together one time step at a time; every other node is a unit of its own and processes a
  whole chunk of time steps at once. Units run in a topological order of the component graph,
  ties broken by the depth-first order above; nodes inside a cyclic unit run in reverse
  post-order of the search.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from nirhub.ir.graph import FlatGraph


@dataclass
class Unit:
    nodes: list[str]
    cyclic: bool


@dataclass
class Plan:
    units: list[Unit]
    #: edges (source, destination) read from the previous step
    back_edges: set[tuple[str, str]] = field(default_factory=set)
    #: reverse post-order position of every node
    rank: dict[str, int] = field(default_factory=dict)


def _successors(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    succ: dict[str, set[str]] = {n: set() for n in nodes}
    for s, d in edges:
        succ[s].add(d)
    return {n: sorted(v) for n, v in succ.items()}


def _dfs(
    roots: list[str], nodes: list[str], succ: dict[str, list[str]]
) -> tuple[set[tuple[str, str]], list[str]]:
    """Iterative DFS: back-edges and post-order."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(nodes, white)
    back: set[tuple[str, str]] = set()
    post: list[str] = []
    for root in [*roots, *nodes]:
        if color[root] != white:
            continue
        color[root] = grey
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack[-1]
            children = succ[node]
            if i < len(children):
                stack[-1] = (node, i + 1)
                child = children[i]
                if color[child] == white:
                    color[child] = grey
                    stack.append((child, 0))
                elif color[child] == grey:
                    back.add((node, child))
            else:
                stack.pop()
                color[node] = black
                post.append(node)
    return back, post


def _sccs(nodes: list[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, i = work[-1]
            children = succ[node]
            if i < len(children):
                work[-1] = (node, i + 1)
                child = children[i]
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    out.append(comp)
    return out


def make_plan(flat: FlatGraph, breaking: set[str]) -> Plan:
    nodes = sorted(flat.nodes)
    edges = [(s, d) for s, d in flat.edges if s in flat.nodes and d in flat.nodes]
    immediate = [(s, d) for s, d in edges if d not in breaking]
    back, post = _dfs(sorted(flat.inputs), nodes, _successors(nodes, immediate))
    rank = {n: i for i, n in enumerate(reversed(post))}

    succ_all = _successors(nodes, edges)
    comps = _sccs(nodes, succ_all)
    comp_of = {n: ci for ci, comp in enumerate(comps) for n in comp}
    self_loops = {s for s, d in edges if s == d}
    indeg = [0] * len(comps)
    comp_succ: list[set[int]] = [set() for _ in comps]
    for s, d in edges:
        a, b = comp_of[s], comp_of[d]
        if a != b and b not in comp_succ[a]:
            comp_succ[a].add(b)
            indeg[b] += 1
    key = [min(rank[n] for n in comp) for comp in comps]
    ready = [(key[ci], ci) for ci in range(len(comps)) if indeg[ci] == 0]
    heapq.heapify(ready)
    units: list[Unit] = []
    while ready:
        _, ci = heapq.heappop(ready)
        comp = sorted(comps[ci], key=rank.__getitem__)
        units.append(Unit(comp, cyclic=len(comp) > 1 or comp[0] in self_loops))
        for cj in comp_succ[ci]:
            indeg[cj] -= 1
            if indeg[cj] == 0:
                heapq.heappush(ready, (key[cj], cj))
    return Plan(units, back, rank)
