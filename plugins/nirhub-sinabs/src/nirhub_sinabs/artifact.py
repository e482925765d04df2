"""The artifact: ``<name>.py`` (readable source with ``build_model()``) + ``<name>.pt``.

``<name>.pt`` is ``torch.save`` of a dict of tensors only (loadable with
``torch.load(..., weights_only=True)``), keyed ``<module>.<parameter>``: torch layer weights
and the sinabs neuron parameters (time constants in steps, thresholds), plus
``rest.<module>`` for the outputs recurrent edges read at step 0. Loading needs neither nirhub
nor any unpickling of code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nirhub.backend import UsageError, write_atomically


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

    write_atomically(weights, write_weights, force=force)
    write_atomically(path, write_source, force=force)
    return [path, weights]
