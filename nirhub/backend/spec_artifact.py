"""Artifacts that describe themselves: a generated ``<name>.py`` plus its arrays ``<name>.npz``.

The Nengo and Spyx backends import a graph by lowering it to a framework-neutral *spec*,
generating a readable module from the spec and executing it. They save that module with the
spec's JSON embedded in its last lines (``# nirhub-spec: ...`` comments) and the spec's arrays
in an ``.npz`` beside it. Loading never runs the saved file: :func:`read_artifact` checks the
marker line, reads the embedded JSON and the ``.npz`` (``allow_pickle=False``), and the plugin
regenerates the module from them and runs *that* -- an edited or hostile ``.py`` cannot run
code through ``nirhub convert``.

What is shared is the file format and its checks; the spec, the code and how the module is
run are each plugin's own. Cheap to import: numpy is imported when arrays are read or written.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from nirhub.backend.artifacts import write_atomically
from nirhub.backend.codestyle import comment_lines
from nirhub.errors import FileFormatError, UsageError

__all__ = [
    "SPEC_PREFIX",
    "artifact_paths",
    "embedded_spec_lines",
    "execute_generated",
    "generator_version",
    "read_artifact",
    "starts_with_marker",
    "weights_loader_lines",
    "write_artifact",
]

#: the prefix of the comment lines that carry the spec's JSON
SPEC_PREFIX = "# nirhub-spec: "

Spec = TypeVar("Spec")


# -- writing --------------------------------------------------------------------------------
def generator_version(distribution: str) -> str:
    """``"<distribution> <version>"`` for a generated module's header (the name alone when the
    distribution is not installed, e.g. when running from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{distribution} {version(distribution)}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return distribution


def weights_loader_lines(weights_name: str) -> list[str]:
    """The generated module's ``WEIGHTS`` path (next to the module) and its ``_weights``
    function: the arrays of a dict as they are, else read from the ``.npz`` without pickle."""
    return [
        '_HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else "."',
        f"WEIGHTS = os.path.join(_HERE, {weights_name!r})",
        "",
        "",
        "def _weights(weights):",
        "    if weights is None:",
        "        weights = WEIGHTS",
        "    if isinstance(weights, dict):",
        "        return weights",
        "    with np.load(weights, allow_pickle=False) as data:",
        "        return {k: data[k] for k in data.files}",
    ]


def embedded_spec_lines(what: str, spec_json: str) -> list[str]:
    """The module's last lines: the spec's JSON as comments that fit the line length."""
    return [
        "",
        f"# The line below lets nirhub read this {what} back without running this file.",
        *comment_lines(SPEC_PREFIX, spec_json),
        "",
    ]


def artifact_paths(path: str | Path) -> tuple[Path, Path]:
    """``(module, weights)`` of the artifact asked for as ``path``: ``<stem>.py`` and
    ``<stem>.npz``. Raises :class:`UsageError` when the folder does not exist."""
    module = Path(path)
    if module.suffix != ".py":
        module = module.with_suffix(".py")
    if not module.parent.is_dir():
        raise UsageError(f"cannot write {module}: the folder {module.parent} does not exist")
    return module, module.with_suffix(".npz")


def write_artifact(
    module: Path, weights: Path, code: str, arrays: Mapping[str, Any], *, force: bool = False
) -> list[Path]:
    """Write the arrays (compressed ``.npz``) and then the module, each atomically; return
    ``[module, weights]``. Without ``force`` an existing file is refused, not overwritten."""
    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    write_atomically(weights, buf.getvalue(), force=force)
    write_atomically(module, code.encode("utf-8"), force=force)
    return [module, weights]


# -- reading --------------------------------------------------------------------------------
def starts_with_marker(path: str | Path, marker: str) -> bool:
    """True when the file's first line is ``marker`` (a backend's ``claims``; nothing is run)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip() == marker
    except (OSError, UnicodeDecodeError):
        return False


def read_artifact(
    path: str | Path,
    *,
    marker: str,
    parse: Callable[[str, dict[str, Any]], Spec],
    weights: str | Path | None = None,
    what: str,
    hint: str,
) -> tuple[Spec, Path]:
    """The spec of a saved artifact, ``parse(spec_json, arrays)``, and the weights file read.

    ``what`` names the file in errors ("a network module written by nirhub's nengo backend");
    ``hint`` tells the user what to give instead. Every defect (unreadable file, wrong first
    line, no spec, missing or unreadable weights, a spec ``parse`` rejects with ``KeyError``,
    ``TypeError`` or ``ValueError``) is a :class:`FileFormatError` naming the file.
    """
    import numpy as np

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read: {exc}", path=str(path)) from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != marker:
        raise FileFormatError(
            f"is not {what} (first line is not {marker!r})", path=str(path), hint=hint
        )
    # the spec's JSON, cut into comment lines that fit the line length (embedded_spec_lines)
    spec_lines = [ln[len(SPEC_PREFIX) :] for ln in lines if ln.startswith(SPEC_PREFIX)]
    if not spec_lines:
        raise FileFormatError("holds no embedded nirhub spec line", path=str(path))
    npz = Path(weights) if weights is not None else path.with_suffix(".npz")
    if not npz.is_file():
        raise FileFormatError(f"its weights file {npz} is missing", path=str(path))
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"cannot read the weights: {exc}", path=str(npz)) from None
    try:
        spec = parse("".join(spec_lines), arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"the embedded spec is damaged: {exc}", path=str(path)) from None
    return spec, npz


# -- running --------------------------------------------------------------------------------
def execute_generated(code: str, backend: str) -> dict[str, Any]:
    """Execute a module the plugin generated (never a file it read) and return its namespace:
    module name ``nirhub_<backend>_generated``, file name ``<nirhub-<backend> generated module>``
    in tracebacks."""
    namespace: dict[str, Any] = {"__name__": f"nirhub_{backend}_generated"}
    exec(compile(code, f"<nirhub-{backend} generated module>", "exec"), namespace)
    return namespace
