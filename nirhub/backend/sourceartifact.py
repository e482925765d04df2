"""A model saved as generated Python source plus a weights-only state dict, read back safely.

The ``snntorch`` and ``torch`` backends write a model as ``<stem>.py`` (readable source that
carries the model's specification as a Python literal) and ``<stem>.pt`` (``torch.save`` of the
state dict: tensors only). Reading such a pair never executes the Python file: the
specification is parsed with :mod:`ast` and the weights are read with
``torch.load(..., weights_only=True)``. What each backend renders and how it rebuilds the model
from the specification stays in the plugin; the files, the checks and the errors are here.

torch is imported only when weights are written or read.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nirhub.backend.artifacts import write_atomically
from nirhub.errors import FileFormatError, RefusedError, UsageError

__all__ = [
    "artifact_paths",
    "assigned_literal",
    "existing_artifact",
    "load_weights",
    "put_weights",
    "read_literal",
    "save_source_and_weights",
]


def artifact_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(<stem>.py, <stem>.pt)`` for ``path`` given with either suffix or without one."""
    path = Path(path)
    if path.suffix in (".py", ".pt"):
        return path.with_suffix(".py"), path.with_suffix(".pt")
    return path.with_name(path.name + ".py"), path.with_name(path.name + ".pt")


def existing_artifact(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """:func:`artifact_paths` of a saved model to load: its source must exist."""
    py, pt = artifact_paths(path)
    if not py.is_file():
        raise UsageError(f"{py} does not exist")
    return py, pt


def save_source_and_weights(
    model: Any, path: str | os.PathLike[str], render: Callable[[str], str], *, force: bool
) -> list[Path]:
    """Write ``render(stem)`` to ``<stem>.py`` and ``model``'s state dict to ``<stem>.pt``,
    each atomically (weights first); without ``force`` nothing is written over an existing
    file. Returns both paths."""
    import torch

    py, pt = artifact_paths(path)
    if not py.parent.is_dir():
        raise UsageError(f"cannot write {py}: the folder {py.parent} does not exist")
    if not force:
        existing = [str(p) for p in (py, pt) if p.exists()]
        if existing:
            raise RefusedError(
                f"{', '.join(existing)} already exist(s)",
                hint="Pass force=True (--force) to overwrite.",
            )
    source = render(py.stem)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    write_atomically(pt, lambda tmp: torch.save(state, tmp))
    write_atomically(py, lambda tmp: Path(tmp).write_text(source, encoding="utf-8"))
    return [py, pt]


def assigned_literal(tree: ast.Module, name: str) -> ast.expr | None:
    """The expression of the module-level ``name = ...`` in ``tree``, if there is one."""
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name
        ):
            return stmt.value
    return None


def read_literal(py: Path, name: str, *, marker: str, backend: str, hint: str) -> Any:
    """The literal assigned to ``name`` in a module the ``backend`` generated (its first line is
    ``marker``), parsed without executing the file; ``hint`` is for a file of other origin."""
    try:
        text = py.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read: {exc}", path=str(py)) from None
    if not text.startswith(marker):
        raise FileFormatError(
            f"is not a model written by nirhub's {backend} backend (its first line is not "
            f"{marker!r})",
            path=str(py),
            hint=hint,
        )
    try:
        tree = ast.parse(text, filename=str(py))
    except SyntaxError as exc:
        raise FileFormatError(
            f"is not valid Python ({exc.msg}, line {exc.lineno})", path=str(py)
        ) from None
    value = assigned_literal(tree, name)
    if value is None:
        raise FileFormatError(f"has no {name} = {{...}} assignment", path=str(py))
    try:
        return ast.literal_eval(value)
    except ValueError as exc:
        raise FileFormatError(f"{name} is not a plain literal ({exc})", path=str(py)) from None


def load_weights(path: Path) -> Any:
    """A saved state dict, tensors only (``torch.load(..., weights_only=True)``)."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError) as exc:
        raise FileFormatError(
            f"cannot load the weights (tensors only are accepted): {exc}", path=str(path)
        ) from None


def put_weights(model: Any, state: Any, *, source: Path, weights: Path, device: str | None) -> Any:
    """Load ``state`` (read from ``weights``) into ``model`` (rebuilt from ``source``), then
    move it to ``device``; returns the model."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise FileFormatError(
            f"the weights do not fit the model in {source.name}: {exc}", path=str(weights)
        ) from None
    if device:
        model.to(device)
    return model
