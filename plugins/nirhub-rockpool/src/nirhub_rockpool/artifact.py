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

from nirhub.backend import save_generated


def save_model(
    built: Any, model: Any, path: Path, *, title: str, force: bool = False
) -> list[Path]:
    """Write ``path`` (a ``.py``), its weights (``.pt``) and rockpool's parameter JSON."""
    params = Path(path).with_suffix(".json")
    return save_generated(
        built, path, title=title, force=force, extra=((params, lambda tmp: model.save(tmp)),)
    )
