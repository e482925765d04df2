"""The artifact: ``<name>.py`` (readable source with ``build_model()``), ``<name>.pt`` and
``<name>.json``.

``<name>.pt`` is ``torch.save`` of a dict of tensors only (loadable with
``torch.load(..., weights_only=True)``), keyed ``<module>.<parameter>``, which ``build_model``
reads. ``<name>.json`` is the same model's parameters in rockpool's own format
(``module.save``), loadable into ``build_model()``'s result with ``model.load(path)``; it holds
no architecture, so on its own it is not a model. Loading needs neither nirhub nor any
unpickling of code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nirhub.backend import RefusedError, UsageError, write_atomically


def save_model(
    built: Any, model: Any, path: Path, *, title: str, force: bool = False
) -> list[Path]:
    """Write ``path`` (a ``.py``), its weights (``.pt``) and rockpool's parameter JSON."""
    import numpy as np
    import torch

    path = Path(path)
    if path.suffix != ".py":
        path = path.with_suffix(".py")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    weights, params = path.with_suffix(".pt"), path.with_suffix(".json")
    for target in (path, weights, params):
        if target.exists() and not force:
            raise RefusedError(f"{target} already exists", hint="Pass force=True (--force).")
    source = built.source(weights.name, title)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in built.tensors.items()}
    write_atomically(weights, lambda tmp: torch.save(tensors, tmp), force=force)
    write_atomically(params, lambda tmp: model.save(tmp), force=force)
    write_atomically(path, lambda tmp: Path(tmp).write_text(source, encoding="utf-8"), force=force)
    return [path, weights, params]
