"""Generated code that reads like code a person wrote: the layout ``ruff format`` gives it.

The code generators of the plugins (snnTorch, Norse, Sinabs, Rockpool, Nengo, Spyx, torch,
Lava, the template) write their modules line by line in ruff's layout (line length 100,
double quotes, magic trailing commas, two blank lines between top-level definitions); this
module holds what they share:

* :func:`literal`: a Python literal (dicts, lists, tuples, strings, numbers) laid out as
  ``ruff format`` lays it out: on one line when it fits, else one element per line with a
  trailing comma, recursively;
* :func:`call`: ``name(arg, arg, ...)`` on one line, or its arguments on an indented line, or
  one per line, whichever fits first (ruff's order);
* :func:`expression` and :func:`statement`: an expression (a statement, with its comment)
  that the generator spelled on one line, split at its own brackets as ruff splits it;
* :func:`assign`: ``target = expr``, the expression parenthesized on its own line when long;
* :func:`comment_lines`: data embedded in comments, cut to the line length;
* :func:`tidy`: the last pass over a whole generated file: double quotes for string
  literals that need no escaping to switch (what ``ruff format`` does), no trailing spaces,
  one newline at the end. It changes how a literal is spelled, never its value.

Each plugin's tests run ``ruff check`` and ``ruff format --check`` on files of real
conversions (``nirhub.testing.codestyle.assert_ruff_clean``).
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from collections.abc import Sequence
from typing import Any

#: the project's line length (``pyproject.toml``, ``[tool.ruff]``)
LINE_LENGTH = 100
INDENT = "    "


def _flat(obj: Any) -> str:
    """``obj`` as a one-line literal, double-quoted strings, ruff's spacing."""
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ", ".join(_flat(v) for v in obj) + "]"
    if isinstance(obj, tuple):
        if len(obj) == 1:
            return f"({_flat(obj[0])},)"
        return "(" + ", ".join(_flat(v) for v in obj) + ")"
    if isinstance(obj, str):
        return string(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return f'float("{obj}")'
    if isinstance(obj, (bool, int, float)) or obj is None:
        return repr(obj)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return _flat(obj.tolist())
    raise TypeError(f"no literal for {type(obj).__name__}")


def string(text: str) -> str:
    """``repr(text)`` in double quotes when that needs no more escapes (ruff's choice)."""
    spelled = repr(text)
    if spelled.startswith("'") and '"' not in text:
        spelled = '"' + spelled[1:-1].replace("\\'", "'") + '"'
    return spelled


def literal(obj: Any, *, indent: int = 0, head: int = 0, tail: int = 0) -> str:
    """``obj`` as ruff lays it out, starting at column ``indent + head`` (``head``: the
    characters before it on its first line, e.g. ``NAME = ``) and followed by ``tail``
    characters on its last line (``,`` or ``)``). Lines after the first are indented
    ``indent`` spaces; the result has no trailing newline."""
    flat = _flat(obj)
    if indent + head + len(flat) + tail <= LINE_LENGTH or not _is_collection(obj) or not obj:
        return flat
    inner = indent + len(INDENT)
    pad = " " * inner
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            key = _flat(k) + ": "
            items.append(pad + key + literal(v, indent=inner, head=len(key), tail=1) + ",")
        opening, closing = "{", "}"
    else:
        items = [pad + literal(v, indent=inner, tail=1) + "," for v in obj]
        opening, closing = ("[", "]") if isinstance(obj, list) else ("(", ")")
    return opening + "\n" + "\n".join(items) + "\n" + " " * indent + closing


def _is_collection(obj: Any) -> bool:
    return isinstance(obj, (dict, list, tuple))


def call(name: str, args: Sequence[str], *, indent: int = 0, head: int = 0, tail: int = 0) -> str:
    """``name(args...)`` laid out by ruff's rules: one line if it fits; else the arguments on
    one indented line; else one argument per line with a trailing comma. ``args`` are
    already-spelled expressions (one line each); ``head``/``tail`` as for :func:`literal`."""
    one = f"{name}({', '.join(args)})"
    if indent + head + len(one) + tail <= LINE_LENGTH or not args:
        return one
    pad = " " * (indent + len(INDENT))
    joined = ", ".join(args)
    close = " " * indent + ")"
    if len(pad) + len(joined) <= LINE_LENGTH:
        return f"{name}(\n{pad}{joined}\n{close}"
    return f"{name}(\n" + "".join(f"{pad}{a},\n" for a in args) + close


def assign(target: str, expr: str, *, indent: int = 0) -> str:
    """``target = expr``; when too long, the expression in parentheses on its own line (what
    ruff does with a right-hand side that has no brackets of its own to split)."""
    line = f"{target} = {expr}"
    if indent + len(line) <= LINE_LENGTH:
        return line
    pad = " " * (indent + len(INDENT))
    return f"{target} = (\n{pad}{expr}\n{' ' * indent})"


def expression(
    source: str, *, indent: int = 0, head: int = 0, tail: int = 0, top: bool = True
) -> str:
    """A one-line expression laid out as ruff would: unchanged when it fits, else split at
    its own brackets: a call's arguments (all on one indented line, else one per line, each
    laid out again), a list/tuple/dict's elements. ``top``: the right-hand side of an
    assignment, where a conditional expression is parenthesized and split at ``if``/``else``.
    Other expressions that do not fit are left as they are (the generators keep those short).
    """
    if indent + head + len(source) + tail <= LINE_LENGTH:
        return source
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return source
    pad = " " * (indent + len(INDENT))
    close = " " * indent

    def seg(n: ast.AST) -> str:
        return ast.get_source_segment(source.strip(), n) or ""

    if isinstance(node, ast.Call):
        parts: list[tuple[str, str]] = [("", seg(a)) for a in node.args]
        for kw in node.keywords:
            parts.append((f"{kw.arg}=" if kw.arg else "**", seg(kw.value)))
        if not parts:
            return source
        joined = ", ".join(k + v for k, v in parts)
        if len(pad) + len(joined) <= LINE_LENGTH:
            return f"{seg(node.func)}(\n{pad}{joined}\n{close})"
        lines = [
            pad + k + expression(v, indent=len(pad), head=len(k), tail=1, top=False) + ","
            for k, v in parts
        ]
        return f"{seg(node.func)}(\n" + "\n".join(lines) + f"\n{close})"
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts and source.strip()[0] in "[(":
        opening, closing = ("[", "]") if isinstance(node, ast.List) else ("(", ")")
        lines = [
            pad + expression(seg(e), indent=len(pad), tail=1, top=False) + "," for e in node.elts
        ]
        return opening + "\n" + "\n".join(lines) + f"\n{close}{closing}"
    if isinstance(node, ast.Dict) and node.keys and all(k is not None for k in node.keys):
        lines = []
        for k, v in zip(node.keys, node.values, strict=True):
            key = seg(k) + ": "  # type: ignore[arg-type]
            value = expression(seg(v), indent=len(pad), head=len(key), tail=1, top=False)
            lines.append(pad + key + value + ",")
        return "{\n" + "\n".join(lines) + f"\n{close}}}"
    if isinstance(node, ast.IfExp) and top:
        branches = [seg(node.body), "if " + seg(node.test), "else " + seg(node.orelse)]
        if all(len(pad) + len(b) <= LINE_LENGTH for b in branches):
            return "(\n" + "".join(f"{pad}{b}\n" for b in branches) + f"{close})"
    return source


def statement(code: str, comment: str = "", *, indent: int = 0) -> list[str]:
    """A simple statement (``target = expr``, or an expression) laid out by ruff's rules,
    with ``comment`` after it when the line has room, else on a line of its own above it.
    Returns the lines, indented."""
    pad = " " * indent
    target, sep, value = code.partition(" = ")
    if sep and _is_target(target):
        head = len(target) + 3
        laid = expression(value, indent=indent, head=head)
        if laid == value and indent + head + len(value) > LINE_LENGTH:
            laid = assign(target, value, indent=indent)[head:]
        text = f"{target} = {laid}"
    else:
        text = expression(code, indent=indent, top=False)
    lines = [pad + line if i == 0 else line for i, line in enumerate(text.split("\n"))]
    if comment:
        if len(lines) == 1 and len(lines[0]) + 4 + len(comment) <= LINE_LENGTH:
            lines[0] += f"  # {comment}"
        else:
            lines.insert(0, f"{pad}# {comment}")
    return lines


def _is_target(text: str) -> bool:
    """Is ``text`` the left side of an assignment (``a``, ``self.a``, ``y["k"]``, ``a, b``)?"""
    try:
        tree = ast.parse(f"{text} = 0")
    except SyntaxError:
        return False
    return isinstance(tree.body[0], ast.Assign)


def comment_lines(prefix: str, text: str) -> list[str]:
    """``text`` (e.g. one line of JSON a generator embeds) as ``prefix``-led comment lines that
    fit the line length; joining what follows ``prefix`` on each gives ``text`` back (no piece
    ends with a space, which :func:`tidy` would strip)."""
    width = max(LINE_LENGTH - len(prefix), 1)
    out = []
    while text:
        cut = min(width, len(text))
        while 1 < cut < len(text) and text[cut - 1] == " ":
            cut -= 1
        out.append(prefix + text[:cut])
        text = text[cut:]
    return out


def tidy(source: str) -> str:
    """The last pass over a generated module (see the module docstring)."""
    lines = [line.rstrip() for line in _double_quotes(source).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def _double_quotes(source: str) -> str:
    """Respell single-quoted string literals in double quotes where no escape changes.

    Works on tokens, so code and comments are left alone; a literal with a ``"`` or an
    escaped ``'`` in it keeps its quotes (as ruff keeps them).
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # not Python: leave it to the generator's tests
        return source
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    for tok in tokens:
        if tok.type != tokenize.STRING or tok.start[0] != tok.end[0]:
            continue
        text = tok.string
        prefix_len = len(text) - len(text.lstrip("rRbBuU"))
        prefix, body = text[:prefix_len], text[prefix_len:]
        if body.startswith("'''") or not body.startswith("'"):
            continue
        inner = body[1:-1]
        if '"' in inner or "\\'" in inner:
            continue
        edits.append((tok.start[0], tok.start[1], tok.end[1], f'{prefix}"{inner}"'))
    for row, start, end, new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + new + line[end:]
    return "".join(lines)
