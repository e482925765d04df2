"""Error types of nirhub and the process exit codes they map to.

Every error nirhub raises on purpose derives from :class:`NirhubError`. Each carries a
human-readable message that says *what* went wrong, *where* (node name, field, path inside a
file) and, where we know it, *what to do*; the CLI prints that paragraph and exits with the
error's :class:`ExitCode` instead of showing a traceback.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes of the ``nirhub`` command (see ``docs/cli.md``)."""

    OK = 0
    #: A check ran and found a problem (e.g. ``nirhub validate`` on an invalid graph).
    FAILED = 1
    #: The command line was wrong: unknown option, missing argument, bad option value.
    USAGE = 2
    #: An input (file, graph, model) is malformed or inconsistent.
    INVALID_INPUT = 3
    #: The conversion is not possible: the target cannot express some nodes, or a chip limit.
    UNSUPPORTED = 4
    #: The backend is unknown, not installed, or its plugin is broken.
    BACKEND_UNAVAILABLE = 5
    #: Refusing to do something unsafe or destructive without being told (``--force``,
    #: ``--trust-pickle``).
    REFUSED = 6
    #: A bug in nirhub or in a plugin.
    INTERNAL = 70


class NirhubError(Exception):
    """Base class of every error nirhub raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} {self.hint}"
        return self.message


@dataclass(frozen=True)
class Problem:
    """One problem found by validation: where it is and what it is."""

    #: Dotted node path (``outer.inner``) or ``"<graph>"`` for graph-level problems.
    where: str
    message: str
    #: Field name on the node, when the problem is about one parameter.
    field: str | None = None
    #: A short machine-readable category, e.g. ``"dangling-edge"``, ``"shape-mismatch"``.
    kind: str = "invalid"

    def __str__(self) -> str:
        loc = self.where if self.field is None else f"{self.where}.{self.field}"
        return f"{loc}: {self.message}"


class IRError(NirhubError):
    """An in-memory node or graph is invalid.

    Raised by node constructors (one field of one node) and by :meth:`Graph.validate` (all
    problems of a graph at once, in :attr:`problems`).
    """

    exit_code = ExitCode.INVALID_INPUT

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        field: str | None = None,
        problems: list[Problem] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.node = node
        self.field = field
        self.problems = list(problems) if problems else [Problem(node or "<node>", message, field)]


class ShapeError(IRError):
    """Shape inference failed or two connected nodes disagree on a shape."""


class FileFormatError(NirhubError):
    """A ``.nir`` file cannot be read (or a graph cannot be written in the requested layout).

    ``path`` is the file, ``location`` the HDF5 path inside it (``/node/nodes/lif1/tau``).
    """

    exit_code = ExitCode.INVALID_INPUT

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        location: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path is not None and location is not None:
            where = f"{path}:{location}: "
        elif path is not None:
            where = f"{path}: "
        elif location is not None:
            where = f"{location}: "
        super().__init__(where + message, hint=hint)
        self.path = path
        self.location = location


class UsageError(NirhubError):
    """The caller asked for something malformed (bad option value, missing argument)."""

    exit_code = ExitCode.USAGE


class NoSuchFileError(UsageError, FileFormatError, FileNotFoundError):
    """An input path does not exist: a usage problem (exit code 2), wherever it is noticed.

    Also a :class:`FileFormatError` (what :func:`nirhub.read` raised for a missing file before)
    and a :class:`FileNotFoundError` (``errno.ENOENT``, ``filename`` = the path), so each of
    ``except UsageError``, ``except FileFormatError`` and ``except FileNotFoundError`` catches it.
    """

    def __init__(self, path: str, *, what: str = "no such file", hint: str | None = None) -> None:
        super().__init__(what, path=path, hint=hint)
        self.errno = errno.ENOENT
        self.strerror = "No such file or directory"
        self.filename = path


class UnsupportedError(NirhubError):
    """A conversion is impossible: nodes the target cannot express, or a hardware limit.

    ``problems`` lists *every* offending node, not only the first.
    """

    exit_code = ExitCode.UNSUPPORTED

    def __init__(
        self, message: str, *, problems: list[Problem] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])


class BackendUnavailableError(NirhubError):
    """A backend is unknown, its framework is not installed, or its plugin failed to load."""

    exit_code = ExitCode.BACKEND_UNAVAILABLE


class RefusedError(NirhubError):
    """nirhub refuses an unsafe or destructive action unless told explicitly."""

    exit_code = ExitCode.REFUSED


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (the ``nirhub`` command turns it into this exception, as Python turns
    SIGINT into KeyboardInterrupt), so every ``finally`` runs and temporary files are removed."""
