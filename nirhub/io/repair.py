"""Repairs a tolerant read applies to known defects of real ``.nir`` files (spec §2.7, §8).

Each repair is reported as a :class:`~nirhub.io.reader.ReadWarning` saying what was wrong and
what was assumed. Repairs are deliberately narrow; anything else is left as read and reported.

* **Dangling edge endpoints** (the paper's ``*_subgraph.nir`` files name the inner node
  ``"lif"`` where it is called ``"lif1"``): an endpoint that names no node is resolved to the
  *unique* node of the same graph that no edge touches and whose name extends the missing name
  (or is a prefix of it). Without exactly one such node the edge is dropped.
* **Output shape with the right element count but the wrong layout** (``lif_rockpool.nir``:
  Output ``[1, 1, 1]`` after a LIF of shape ``[1]``): the inferred shape is taken.
* **Input shape with a leading batch dimension of 1** (old NIRTorch/snnTorch exports,
  ``[1, N]`` feeding a node that takes ``[N]``): the batch dimension is dropped; so is an
  Output's ``[1, N]`` that a node with scalar parameters took its shape from (Norse 1.1.0).
* **Input shape with a leading time axis** (``[256, 12]`` feeding a node that takes ``[12]``):
  the time axis is dropped (NIR shapes hold neither batch nor time).
* **Input of a nested graph declared with the wrong size** (the ``braille.nir`` of the
  NIRTorch/Norse/Rockpool tests: ``[12]`` where the enclosing graph feeds ``[38]``): the shape
  it receives is taken.
* **Flatten ``start_dim``/``end_dim`` counted with the batch axis** (the paper's older
  ``scnn_mnist.nir``: ``start_dim=1`` on a ``[C, H, W]`` input where ``[C*H*W]`` is expected):
  both are shifted down by one when that makes the output fit the node it feeds.
"""

from __future__ import annotations

import math

from nirhub.io.readwarnings import ReadWarning, problem_location
from nirhub.ir.graph import Graph, flatten, infer_shapes
from nirhub.ir.nodes import Flatten, Input, Node, Output


def repair(graph: Graph, warnings: list[ReadWarning], locations: dict[str, str]) -> None:
    """Apply the repairs in place and append a warning for each, then for what remains."""
    _fix_dangling(graph, "", warnings, locations)
    _fix_shapes(graph, warnings, locations)
    for problem in graph.problems():
        warnings.append(
            ReadWarning(
                problem_location(problem, locations),
                str(problem),
                "kept the graph as read (it is not valid; simulation or conversion may refuse it)",
                problem.kind,
                None if problem.where == "<graph>" else problem.where,
            )
        )


# -- dangling edges -------------------------------------------------------------------------


def _exists(graph: Graph, name: str) -> str | None:
    """The node of this level an endpoint refers to (itself or a subgraph), or None."""
    if name in graph.nodes:
        return name
    for i, ch in enumerate(name):
        if ch == "." and isinstance(graph.nodes.get(name[:i]), Graph):
            sub = graph.nodes[name[:i]]
            assert isinstance(sub, Graph)
            if name[i + 1 :] in sub.nodes:
                return name[:i]
    return None


def _fix_dangling(
    graph: Graph, dotted: str, warnings: list[ReadWarning], locations: dict[str, str]
) -> None:
    for name, node in graph.nodes.items():
        if isinstance(node, Graph):
            _fix_dangling(node, f"{dotted}.{name}" if dotted else name, warnings, locations)
    connected = {b for e in graph.edges for b in map(lambda n: _exists(graph, n), e) if b}
    missing = sorted({n for e in graph.edges for n in e if _exists(graph, n) is None})
    if not missing:
        return
    loc = locations.get(dotted, "/node") + "/edges"
    where = f"graph {dotted!r}" if dotted else "the root graph"
    mapping: dict[str, str] = {}
    for name in missing:
        candidates = [
            n
            for n in graph.nodes
            if n not in connected and (n.startswith(name) or name.startswith(n))
        ]
        if len(candidates) == 1:
            mapping[name] = candidates[0]
            warnings.append(
                ReadWarning(
                    loc,
                    f"edges of {where} name {name!r}, which is not a node",
                    f"connected them to {candidates[0]!r}, the only unconnected node whose "
                    "name matches",
                    "dangling-edge",
                    dotted or None,
                )
            )
    edges: list[tuple[str, str]] = []
    for s, d in graph.edges:
        s2, d2 = mapping.get(s, s), mapping.get(d, d)
        if _exists(graph, s2) is None or _exists(graph, d2) is None:
            bad = s2 if _exists(graph, s2) is None else d2
            warnings.append(
                ReadWarning(
                    loc,
                    f"edge ({s!r} -> {d!r}) of {where} names {bad!r}, which is not a node "
                    "(and no unconnected node matches it uniquely)",
                    "dropped the edge",
                    "dangling-edge",
                    dotted or None,
                )
            )
            continue
        edges.append((s2, d2))
    graph.edges = edges


# -- shapes ---------------------------------------------------------------------------------


def _resolve(graph: Graph, path: str) -> tuple[Graph, str] | None:
    """(parent graph, name) of the node at a dotted path; exact names win, as in the IR."""
    if path in graph.nodes:
        return graph, path
    for i, ch in enumerate(path):
        if ch == "." and isinstance(graph.nodes.get(path[:i]), Graph):
            sub = graph.nodes[path[:i]]
            assert isinstance(sub, Graph)
            hit = _resolve(sub, path[i + 1 :])
            if hit is not None:
                return hit
    return None


def _set(graph: Graph, path: str, node: Node) -> bool:
    hit = _resolve(graph, path)
    if hit is None:
        return False
    parent, name = hit
    parent.nodes[name] = node
    return True


def _batch_counted_flatten(node: Flatten, shape_in: object, want: object) -> bool:
    """Whether shifting the Flatten's dims down by one (batch axis removed) gives ``want``."""
    if shape_in is None or want is None or node.start_dim <= 0:
        return False
    shifted = node.replace(
        start_dim=node.start_dim - 1, end_dim=node.end_dim - 1 if node.end_dim > 0 else node.end_dim
    )
    try:
        return tuple(shifted.output_shape(tuple(shape_in))) == tuple(want)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - an impossible range is simply not this defect
        return False


def _fix_shapes(graph: Graph, warnings: list[ReadWarning], locations: dict[str, str]) -> None:
    for _ in range(8):  # each pass fixes what the previous one revealed; real files need one
        flat = flatten(graph)
        info = infer_shapes(graph)
        changed = False
        for s, d in flat.edges:
            got, want = info.outputs.get(s), info.inputs.get(d)
            if got is None or want is None or tuple(got) == tuple(want):
                continue
            src, dst = flat.nodes[s], flat.nodes[d]
            if (
                isinstance(dst, Output)
                and dst.shape is not None
                and math.prod(got) == math.prod(dst.shape)
            ):
                if _replace_shape(
                    graph,
                    warnings,
                    locations,
                    d,
                    dst.replace(shape=tuple(got)),
                    f"Output {d!r} declares shape {list(dst.shape)} but receives "
                    f"{list(got)} from {s!r} (same number of elements)",
                    f"used the inferred shape {list(got)}",
                ):
                    changed = True
            elif (
                isinstance(src, Input)
                and len(src.shape) == len(want) + 1
                and tuple(src.shape[1:]) == tuple(want)
            ):
                what = (
                    "a leading batch dimension (old exporters added one)"
                    if src.shape[0] == 1
                    else f"a leading time axis of {src.shape[0]} steps (NIR shapes have none)"
                )
                if _replace_shape(
                    graph,
                    warnings,
                    locations,
                    s,
                    src.replace(shape=tuple(want)),
                    f"Input {s!r} declares shape {list(src.shape)} but {d!r} takes "
                    f"{list(want)}: {what}",
                    f"dropped it and used {list(want)}",
                ):
                    changed = True
            elif tuple(want) == (1, *got) and _batched_outputs(flat, got):
                # a node with scalar parameters takes its shape from the Output it feeds, and
                # that Output kept the exporter's batch dimension (Norse 1.1.0: [1, N])
                for name in _batched_outputs(flat, got):
                    out = flat.nodes[name]
                    if _replace_shape(
                        graph,
                        warnings,
                        locations,
                        name,
                        out.replace(shape=tuple(got)),
                        f"Output {name!r} declares shape {list(out.shape)}, a leading "
                        f"batch dimension (old exporters added one) on the {list(got)} "
                        f"that {s!r} gives",
                        f"dropped it and used {list(got)}",
                    ):
                        changed = True
            elif isinstance(dst, Input) and "." in d and dst.shape is not None:
                if _replace_shape(
                    graph,
                    warnings,
                    locations,
                    d,
                    dst.replace(shape=tuple(got)),
                    f"Input {d!r} of a nested graph declares shape {list(dst.shape)} "
                    f"but receives {list(got)} from {s!r}",
                    f"used the shape it receives, {list(got)}",
                ):
                    changed = True
            elif isinstance(src, Flatten) and _batch_counted_flatten(src, info.inputs.get(s), want):
                fixed = src.replace(
                    start_dim=src.start_dim - 1 if src.start_dim > 0 else src.start_dim,
                    end_dim=src.end_dim - 1 if src.end_dim > 0 else src.end_dim,
                )
                if _set(graph, s, fixed):
                    warnings.append(
                        ReadWarning(
                            locations.get(s, "/node") + "/start_dim",
                            f"Flatten {s!r} (start_dim={src.start_dim}, end_dim={src.end_dim}) "
                            f"gives {list(got)} but {d!r} takes {list(want)}: its dimensions "
                            "count the batch axis (older exporters did)",
                            f"used start_dim={fixed.start_dim}, end_dim={fixed.end_dim}",
                            "flatten-dims",
                            s,
                        )
                    )
                    changed = True
        if not changed:
            return


def _batched_outputs(flat: Graph, got: tuple[int, ...]) -> list[str]:
    """Output nodes declaring ``[1, *got]``: an exporter's batch dimension."""
    return [
        name
        for name, node in flat.nodes.items()
        if isinstance(node, Output)
        and node.shape is not None
        and tuple(node.shape) == (1, *tuple(got))
    ]


def _replace_shape(
    graph: Graph,
    warnings: list[ReadWarning],
    locations: dict[str, str],
    name: str,
    node: Node,
    message: str,
    assumed: str,
) -> bool:
    """Put ``node`` (a shape repair) in place of ``name`` and report it; False if it is not
    there to replace."""
    if not _set(graph, name, node):
        return False
    where = locations.get(name, "/node") + "/shape"
    warnings.append(ReadWarning(where, message, assumed, "shape-replaced", name))
    return True
