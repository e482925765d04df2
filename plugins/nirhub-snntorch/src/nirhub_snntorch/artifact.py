"""The ``snntorch`` backend's artifact: generated Python module + weights-only state dict.

``save(model, "net.py")`` writes ``net.py`` (readable: imports, the generated ``Net`` class,
``NIR_SPEC`` and ``build_model()``; needs torch and snnTorch, not nirhub) and ``net.pt``
(``torch.save`` of the state dict: tensors only, ``torch.load(weights_only=True)`` reads it).

:func:`load` never executes the file: it parses the ``NIR_SPEC`` literal with :mod:`ast`,
regenerates the class from it and loads the weights.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

from nirhub.backend import FileFormatError, RefusedError, UsageError, write_atomically
from nirhub_snntorch.codegen import MARKER, render_module
from nirhub_snntorch.spec import FORMAT


def _paths(path: Path) -> tuple[Path, Path]:
    if path.suffix in (".py", ".pt"):
        return path.with_suffix(".py"), path.with_suffix(".pt")
    return path.with_name(path.name + ".py"), path.with_name(path.name + ".pt")


def save(model: Any, path: str | os.PathLike[str], *, force: bool = True) -> list[Path]:
    """Write ``<stem>.py`` and ``<stem>.pt`` atomically; return both paths."""
    import torch

    from nirhub_snntorch.generated import is_generated

    if not is_generated(model):
        raise UsageError(
            f"the snntorch backend saves models it generated from NIR, not a "
            f"{type(model).__name__}",
            hint="Save your own snnTorch model with torch.save(model.state_dict(), ...).",
        )
    py, pt = _paths(Path(path))
    if not py.parent.is_dir():
        raise UsageError(f"cannot write {py}: the folder {py.parent} does not exist")
    if not force:
        existing = [str(p) for p in (py, pt) if p.exists()]
        if existing:
            raise RefusedError(
                f"{', '.join(existing)} already exist(s)",
                hint="Pass force=True (--force) to overwrite.",
            )
    source = render_module(type(model).NIR_SPEC, stem=py.stem)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    write_atomically(pt, lambda tmp: torch.save(state, tmp))
    write_atomically(py, lambda tmp: Path(tmp).write_text(source, encoding="utf-8"))
    return [py, pt]


def read_spec(py: Path) -> dict[str, Any]:
    """The ``NIR_SPEC`` literal of a generated module, parsed without executing the file."""
    try:
        text = py.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read: {exc}", path=str(py)) from None
    if not text.startswith(MARKER):
        raise FileFormatError(
            "is not a model written by nirhub's snntorch backend (its first line is not "
            f"{MARKER!r})",
            path=str(py),
            hint="For your own snnTorch code, give a reference instead: file.py:factory.",
        )
    try:
        tree = ast.parse(text, filename=str(py))
    except SyntaxError as exc:
        raise FileFormatError(
            f"is not valid Python ({exc.msg}, line {exc.lineno})", path=str(py)
        ) from None
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == "NIR_SPEC"
        ):
            try:
                spec = ast.literal_eval(stmt.value)
            except ValueError as exc:
                raise FileFormatError(
                    f"NIR_SPEC is not a plain literal ({exc})", path=str(py)
                ) from None
            if not isinstance(spec, dict) or spec.get("format") != FORMAT:
                raise FileFormatError(f"NIR_SPEC is not a {FORMAT} specification", path=str(py))
            return spec
    raise FileFormatError("has no NIR_SPEC = {...} assignment", path=str(py))


def load(
    path: str | os.PathLike[str],
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str | None = None,
    dtype: str | None = None,
    learn: bool = False,
) -> Any:
    """Rebuild a saved model from ``<stem>.py`` (parsed, regenerated) and ``<stem>.pt``."""
    import pickle

    import torch

    from nirhub_snntorch.import_ import instantiate

    py, pt = _paths(Path(path))
    if not py.is_file():
        raise UsageError(f"{py} does not exist")
    spec = read_spec(py)
    wpath = Path(weights) if weights is not None else pt
    if not wpath.is_file():
        raise UsageError(f"the weights {wpath} do not exist", hint="Give them with --weights.")
    try:
        state = torch.load(wpath, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError) as exc:
        raise FileFormatError(
            f"cannot load the weights (tensors only are accepted): {exc}", path=str(wpath)
        ) from None
    anchor = state.get("_anchor") if isinstance(state, dict) else None
    name = dtype or (str(anchor.dtype).replace("torch.", "") if anchor is not None else "float32")
    model = instantiate(spec, None, dtype=name, learn=learn)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise FileFormatError(
            f"the weights do not fit the model in {py.name}: {exc}", path=str(wpath)
        ) from None
    if device:
        model.to(device)
    return model
