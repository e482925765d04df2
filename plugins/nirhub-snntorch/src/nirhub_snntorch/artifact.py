"""The ``snntorch`` backend's artifact: generated Python module + weights-only state dict.

``save(model, "net.py")`` writes ``net.py`` (readable: imports, the generated ``Net`` class,
``NIR_SPEC`` and ``build_model()``; needs torch and snnTorch, not nirhub) and ``net.pt``
(``torch.save`` of the state dict: tensors only, ``torch.load(weights_only=True)`` reads it).

:func:`load` never executes the file: it parses the ``NIR_SPEC`` literal with :mod:`ast`,
regenerates the class from it and loads the weights.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nirhub.backend import FileFormatError, UsageError
from nirhub.backend.sourceartifact import (
    existing_artifact,
    load_weights,
    put_weights,
    read_literal,
    save_source_and_weights,
)
from nirhub_snntorch.codegen import MARKER, render_module
from nirhub_snntorch.spec import FORMAT


def save(model: Any, path: str | os.PathLike[str], *, force: bool = True) -> list[Path]:
    """Write ``<stem>.py`` and ``<stem>.pt`` atomically; return both paths."""
    from nirhub_snntorch.generated import is_generated

    if not is_generated(model):
        raise UsageError(
            f"the snntorch backend saves models it generated from NIR, not a "
            f"{type(model).__name__}",
            hint="Save your own snnTorch model with torch.save(model.state_dict(), ...).",
        )
    spec = type(model).NIR_SPEC
    return save_source_and_weights(
        model, path, lambda stem: render_module(spec, stem=stem), force=force
    )


def read_spec(py: Path) -> dict[str, Any]:
    """The ``NIR_SPEC`` literal of a generated module, parsed without executing the file."""
    spec = read_literal(
        py,
        "NIR_SPEC",
        marker=MARKER,
        backend="snntorch",
        hint="For your own snnTorch code, give a reference instead: file.py:factory.",
    )
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise FileFormatError(f"NIR_SPEC is not a {FORMAT} specification", path=str(py))
    return spec


def load(
    path: str | os.PathLike[str],
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str | None = None,
    dtype: str | None = None,
    learn: bool = False,
) -> Any:
    """Rebuild a saved model from ``<stem>.py`` (parsed, regenerated) and ``<stem>.pt``."""
    from nirhub_snntorch.import_ import instantiate

    py, pt = existing_artifact(path)
    spec = read_spec(py)
    wpath = Path(weights) if weights is not None else pt
    if not wpath.is_file():
        raise UsageError(f"the weights {wpath} do not exist", hint="Give them with --weights.")
    state = load_weights(wpath)
    anchor = state.get("_anchor") if isinstance(state, dict) else None
    name = dtype or (str(anchor.dtype).replace("torch.", "") if anchor is not None else "float32")
    model = instantiate(spec, None, dtype=name, learn=learn)
    return put_weights(model, state, source=py, weights=wpath, device=device)
