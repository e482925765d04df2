"""Putting untrusted text (NIR node names, file names) into generated Python source.

Node names are arbitrary strings read from a file: ``"]; import os; os.system(...)``, a
newline, ``\"\"\"``, a backslash before a closing quote or a unicode line separator are all
valid names. Code generators put them in source only through these functions:

* :func:`literal` -- as a string *literal* (``repr`` semantics, so the value round-trips
  exactly and nothing can close the quotes);
* :func:`comment` -- in a ``#`` comment or a docstring: printable ASCII only, everything else
  (newlines, quotes, backslashes, non-ASCII) escaped, and shortened;
* :func:`identifier` -- as a Python name: ASCII letters, digits and ``_`` only, never a keyword,
  unique among ``taken``.
"""

from __future__ import annotations

import keyword
import re

#: names a generated module uses itself; an identifier derived from a node name avoids them
RESERVED: frozenset[str] = frozenset(
    {"self", "torch", "state", "x", "p", "nn", "np", "F", "y", "s", "r", "h", "new", "batch"}
)
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]")


def literal(text: str) -> str:
    """A Python string literal whose value is ``text`` (double quotes when possible)."""
    text = str(text)
    out = repr(text)
    if out.startswith("'") and '"' not in text:
        # repr chose single quotes and text has neither quote: the body needs no change
        out = f'"{out[1:-1]}"'
    return out


def comment(text: str, *, limit: int = 120) -> str:
    """``text`` made safe for a comment or docstring: one line of printable ASCII.

    Backslashes, quotes and every character outside printable ASCII are escaped as in a
    string literal (``\\n``, ``\\u2028``), so the text cannot end the comment, the docstring or
    the line; it is cut to ``limit`` characters.
    """
    escaped = []
    for ch in str(text):
        if ch == "\\":
            escaped.append("\\\\")
        elif ch == '"':
            escaped.append('\\"')
        elif " " <= ch <= "~":
            escaped.append(ch)
        else:
            escaped.append(ascii(ch)[1:-1])  # \n, \x7f, \xe9, \u2028, \U0001f600
    out = "".join(escaped)
    if len(out) > limit:
        out = out[: limit - 3].rstrip("\\") + "..."
    return out


def identifier(text: str, taken: set[str], *, reserved: frozenset[str] = RESERVED) -> str:
    """A readable, unique Python identifier for ``text`` (``lif1.lif`` -> ``lif1_lif``).

    ASCII only (no NFKC surprises: ``ﬁ`` and ``fi`` would be the same Python name), never a
    keyword or one of ``reserved``; added to ``taken``.
    """
    base = _NOT_IDENT.sub("_", str(text))[:60] or "node"
    if base[0].isdigit():
        base = "n" + base
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in reserved:
        base += "_"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name
