"""The artifact: ``<name>.py`` (readable source with ``build_model()``) + ``<name>.pt``.

``<name>.pt`` is ``torch.save`` of a dict of tensors only (loadable with
``torch.load(..., weights_only=True)``), keyed ``<module>.<parameter>``: torch layer weights
and the norse neuron parameters (which norse keeps outside ``state_dict``), plus
``rest.<module>`` for the outputs recurrent edges read at step 0. Loading needs neither nirhub
nor any unpickling of code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from nirhub.errors import RefusedError, UsageError


def _write_atomically(target: Path, write: Any, force: bool) -> None:
    if target.exists() and not force:
        raise RefusedError(f"{target} already exists", hint="Pass force=True (--force).")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_model(built: Any, path: Path, *, title: str, force: bool = False) -> list[Path]:
    """Write ``path`` (a ``.py``) and its weights (same stem, ``.pt``); return both paths."""
    import numpy as np
    import torch

    path = Path(path)
    if path.suffix != ".py":
        path = path.with_suffix(".py")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    weights = path.with_suffix(".pt")
    source = built.source(weights.name, title)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in built.tensors.items()}

    def write_source(tmp: str) -> None:
        Path(tmp).write_text(source, encoding="utf-8")

    def write_weights(tmp: str) -> None:
        torch.save(tensors, tmp)

    _write_atomically(weights, write_weights, force)
    _write_atomically(path, write_source, force)
    return [path, weights]
