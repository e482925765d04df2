"""Node names written to attack code generators (issue 17, item 2).

A NIR node name is any non-empty string. Backends that generate Python source (snnTorch,
Norse, Sinabs, Rockpool, Spyx, Nengo, Lava) must treat names as data: every name here is
Python code that creates the file :data:`MARKER` in the working directory if it ever runs.
:func:`hostile_variants` renames the nodes of a graph with them; the conformance suite
converts, saves, imports and runs the result and checks that the marker never appears.
"""

from __future__ import annotations

from collections.abc import Iterator

from nirhub.ir.graph import Graph

#: the file a payload creates (relative: the tests run in a temporary working directory)
MARKER = "PWNED"

#: printable names: valid in any NIR file; a backend must convert them exactly
PRINTABLE_NAMES: tuple[str, ...] = (
    "\ufb01",  # the ligature "fi": NFKC makes it the same Python name as ...
    "fi",  # ... this one (first, so that they share a graph)
    f'a"]; open("{MARKER}", "w"); b = ["',
    f"c'); open('{MARKER}', 'w'); ('",
    f'd"""; open("{MARKER}", "w"); """',
    "e \\",
    f"# f {MARKER}",
    "class",
    "1x",
    "self",
    "x",
    "\u00e9t\u00e9 \u2603",
    "{g} %(h)s",
    "__import__",
)

#: names with line breaks and control characters: a reader may refuse them (exit 3); if a
#: backend receives them, it must still keep them data
CONTROL_NAMES: tuple[str, ...] = (
    f'i\nopen("{MARKER}", "w")\n#',
    f'j\r\nopen("{MARKER}", "w")',
    f'k\u2028open("{MARKER}", "w")',
    "l\x0cm",
    "n\x1b]52;c;cHduZWQ=\x07",
)


def _paths(graph: Graph, prefix: str = "") -> list[tuple[Graph, str]]:
    out: list[tuple[Graph, str]] = []
    for name, node in graph.nodes.items():
        out.append((graph, name))
        if isinstance(node, Graph):
            out.extend(_paths(node, prefix + name + "."))
    return out


def renamed(graph: Graph, names: list[str]) -> Graph:
    """A copy of ``graph`` whose nodes (nested ones too) take ``names`` in order."""
    import copy

    out = copy.deepcopy(graph)
    slots = _paths(out)
    for (owner, old), new in zip(slots, names, strict=False):
        if new not in owner.nodes:
            owner.rename_node(old, new)
    return out


def hostile_variants(graph: Graph, names: tuple[str, ...] = PRINTABLE_NAMES) -> Iterator[Graph]:
    """Copies of ``graph`` renamed so that every name of ``names`` is used at least once."""
    size = len(_paths(graph))
    for start in range(0, len(names), size):
        chunk = list(names[start : start + size])
        while len(chunk) < size:
            chunk.append(f"pad{len(chunk)}")
        yield renamed(graph, chunk)
