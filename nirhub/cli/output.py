"""The one object that decides where the CLI's output goes.

* **Data** (tables, trees, JSON documents) goes to stdout; **messages** (progress, warnings,
  errors) go to stderr, so ``nirhub inspect m.nir --json | jq`` always sees clean JSON.
* ``--json`` makes a command print exactly one JSON document on stdout, also when it fails
  (``{"error": {...}}``); the human message still goes to stderr.
* Colour follows rich's terminal detection and honours ``NO_COLOR``; progress spinners appear
  only when stderr is a terminal and ``-q`` is not given.
* ``-q`` silences informational messages and warnings (errors are always shown); ``-v`` adds
  details. Tracebacks are printed only with ``--traceback``.

rich is imported on first use, not at import time, so ``nirhub --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from nirhub._names import printable
from nirhub.errors import ExitCode, NirhubError

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console


def _json_default(value: Any) -> Any:
    """Make numpy scalars/arrays, paths, sets and dataclasses JSON-serialisable."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(document: Any) -> str:
    """The JSON text nirhub prints: indented, keys in insertion order, strict floats."""
    return json.dumps(document, indent=2, default=_json_default, allow_nan=False)


class Output:
    """Where a command's results and messages go (see the module docstring)."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: int = 0,
        show_traceback: bool = False,
        json_mode: bool = False,
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.show_traceback = show_traceback
        self.json_mode = json_mode
        self._stdout: Console | None = None
        self._stderr: Console | None = None

    # -- consoles (created lazily, bound to the current sys.stdout / sys.stderr) -----------
    @property
    def stdout(self) -> Console:
        if self._stdout is None:
            from rich.console import Console

            self._stdout = Console(file=sys.stdout, highlight=False, emoji=False, **_styling())
        return self._stdout

    @property
    def stderr(self) -> Console:
        if self._stderr is None:
            from rich.console import Console

            self._stderr = Console(
                file=sys.stderr, highlight=False, emoji=False, soft_wrap=True, **_styling()
            )
        return self._stderr

    # -- data (stdout) ----------------------------------------------------------------------
    def print(self, renderable: Any = "") -> None:
        """Print a rich renderable (table, tree, Text) or a plain string to stdout."""
        if isinstance(renderable, str):
            self.line(renderable)
        else:
            self.stdout.print(renderable)

    def line(self, text: str = "") -> None:
        """Print one line of plain text to stdout (no markup, no wrapping; control characters
        from files are escaped)."""
        sys.stdout.write(printable(text, keep_newlines=True) + "\n")

    def table(
        self,
        headers: list[str],
        rows: list[list[str]],
        styles: dict[tuple[int, int], str] | None = None,
    ) -> None:
        """Print aligned columns (two spaces apart, never wrapped: grep- and cut-friendly).

        ``styles`` maps ``(row, column)`` to a rich style; colour only reaches a terminal.
        """
        rows = [[printable(cell) for cell in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        last = len(headers) - 1
        if not styled(sys.stdout):  # plain text; rich is not even imported
            for row in [headers, *rows]:
                cells = [c if i == last else c.ljust(widths[i]) for i, c in enumerate(row)]
                sys.stdout.write("  ".join(cells).rstrip() + "\n")
            return
        from rich.text import Text

        header = Text("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        header.stylize("bold")
        self.stdout.print(header, soft_wrap=True)
        for r, row in enumerate(rows):
            line = Text()
            for i, cell in enumerate(row):
                style = (styles or {}).get((r, i), "")
                line.append(cell if i == last else cell.ljust(widths[i]), style=style)
                if i != last:
                    line.append("  ")
            line.rstrip()
            self.stdout.print(line, soft_wrap=True)

    def json(self, document: Any) -> None:
        """Print one JSON document to stdout."""
        sys.stdout.write(dumps(document) + "\n")
        sys.stdout.flush()

    def result(self, document: Callable[[], Any], human: Callable[[], None]) -> None:
        """Print a command's result: ``document()`` as JSON in ``--json`` mode, else ``human()``."""
        if self.json_mode:
            self.json(document())
        else:
            human()

    # -- messages (stderr) ------------------------------------------------------------------
    def _message(self, prefix: str, style: str, text: str) -> None:
        text = printable(text, keep_newlines=True)  # names from files reach this: no escapes
        if not styled(sys.stderr):  # plain text; rich is not even imported
            sys.stderr.write(f"{prefix} {text}\n" if prefix else text + "\n")
            return
        from rich.text import Text

        line = Text()
        if prefix:
            line.append(prefix, style=style)
            line.append(" ")
        line.append(text)
        self.stderr.print(line)

    def info(self, text: str) -> None:
        """An informational message (suppressed by ``-q``)."""
        if not self.quiet:
            self._message("", "", text)

    def warning(self, text: str) -> None:
        """A warning (suppressed by ``-q``)."""
        if not self.quiet:
            self._message("warning:", "bold yellow", text)

    def failure(self, text: str) -> None:
        """An ``error:`` line for a failure that is reported as data (never suppressed)."""
        self._message("error:", "bold red", text)

    def detail(self, text: str) -> None:
        """A detail shown only with ``-v``."""
        if self.verbose and not self.quiet:
            self._message("", "dim", text)

    @contextmanager
    def progress(self, description: str) -> Iterator[None]:
        """A spinner on stderr while a long step runs; nothing unless stderr is a terminal."""
        if self.quiet or not _isatty(sys.stderr):
            yield
            return
        with self.stderr.status(description):
            yield

    # -- failures -----------------------------------------------------------------------------
    def error(self, exc: BaseException) -> int:
        """Report an exception; return the exit code the process should end with.

        A :class:`NirhubError` is an expected failure: one paragraph (``error: what`` + the
        problems it lists + the hint) and its own exit code. Anything else is a bug: exit 70.
        """
        if self.show_traceback:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        if isinstance(exc, NirhubError):
            code = int(exc.exit_code)
            problems = getattr(exc, "problems", None) or []
            # list the problems the message does not already spell out
            missing = [p for p in problems if getattr(p, "message", str(p)) not in exc.message]
            self._message("error:", "bold red", exc.message)
            for problem in missing:
                sys.stderr.write(f"  - {printable(str(problem))}\n")
            if exc.hint:
                self._message("hint:", "bold", exc.hint)
            if self.json_mode:
                self.json({"error": error_document(exc, code)})
            return code
        code = int(ExitCode.INTERNAL)
        summary = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._message("error:", "bold red", f"internal error: {summary}")
        hint = "This is a bug in nirhub or in a plugin."
        if not self.show_traceback:
            hint += " Rerun with --traceback to see where it happened, and report it."
        self._message("hint:", "bold", hint)
        if self.json_mode:
            self.json({"error": error_document(exc, code)})
        return code


def error_document(exc: BaseException, code: int) -> dict[str, Any]:
    """The ``{"error": ...}`` JSON document a ``--json`` command prints when it fails."""
    doc: dict[str, Any] = {
        "type": type(exc).__name__,
        "exit_code": code,
        "message": getattr(exc, "message", str(exc)),
        "hint": getattr(exc, "hint", None),
    }
    problems = getattr(exc, "problems", None)
    if problems:
        doc["problems"] = [
            {"where": p.where, "field": p.field, "kind": p.kind, "message": p.message}
            if hasattr(p, "where")
            else {"message": str(p)}
            for p in problems
        ]
    for attr in ("path", "location", "node", "field"):
        value = getattr(exc, attr, None)
        if value is not None:
            doc[attr] = str(value)
    return doc


def styled(stream: Any) -> bool:
    """Would rich style output to ``stream``? (the same rules: ``NO_COLOR`` wins, then
    ``FORCE_COLOR``, then whether the stream is a terminal that is not ``TERM=dumb``)"""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _isatty(stream) and os.environ.get("TERM", "") not in ("dumb", "unknown")


def _styling() -> dict[str, Any]:
    """``NO_COLOR`` (any non-empty value, https://no-color.org) turns off all ANSI styling,
    not only colours (rich alone would keep bold)."""
    if os.environ.get("NO_COLOR"):
        return {"color_system": None}
    return {}


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
