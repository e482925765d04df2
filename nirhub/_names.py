"""Which node names a file may carry, and how text from a file is shown on a terminal.

Node names are data from untrusted files. They end up in terminal output (``inspect``, error
messages, warnings), so a name holding ``ESC`` could clear the screen or write the clipboard
(OSC 52), and a bidi override could make one name look like another. nirhub therefore refuses
names holding such characters when reading and writing files, caps their length (long names
are only ever an attack, and every lookup costs their length), and renders any text that
comes from a file through :func:`printable`.
"""

from __future__ import annotations

import unicodedata

#: longest node name a file may hold (characters)
MAX_NAME_LENGTH = 1024
#: longest edge endpoint (a node name, or ``subgraph.port`` paths through nested graphs)
MAX_ENDPOINT_LENGTH = 4096

#: bidirectional formatting characters: embeddings, overrides, isolates and marks
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_unsafe_char(ch: str) -> bool:
    """C0/C1 controls and DEL (category Cc), line/paragraph separators, bidi controls."""
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def name_problem(name: str, *, limit: int = MAX_NAME_LENGTH) -> str | None:
    """Why ``name`` cannot be a node name (or edge endpoint with ``limit``), or None."""
    if len(name) > limit:
        return f"is {len(name):,} characters long (at most {limit} are allowed)"
    bad = sorted({ch for ch in name if is_unsafe_char(ch)})
    if bad:
        listing = ", ".join(f"U+{ord(ch):04X}" for ch in bad[:5])
        return f"holds control or bidirectional-formatting characters ({listing})"
    return None


def printable(text: str, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """``text`` with every unsafe character escaped (``\\x1b``, ``\\u202e``), safe to print.

    ``keep_newlines`` leaves ``\\n`` (messages that list problems on several lines);
    ``limit`` shortens the result to that many characters plus ``...``. A tab is kept: it
    moves the cursor, nothing more, and nirhub's own tab-separated listings use it (names
    cannot hold one: :func:`name_problem` refuses them).
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    if not any(is_unsafe_char(ch) and ch != "\t" for ch in text):
        return text
    out = []
    for ch in text:
        if ch == "\t" or (ch == "\n" and keep_newlines) or not is_unsafe_char(ch):
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


def shown(name: str) -> str:
    """A name as error messages quote it: ``repr`` (which escapes every non-printable
    character), shortened past 80 characters."""
    return repr(name if len(name) <= 80 else name[:80] + "...")
