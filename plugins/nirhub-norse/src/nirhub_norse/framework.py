"""Import norse the way Norse's own users see it: without torch's deprecation warnings about
``torch.jit.script``, which norse uses at import time (``nirhub.backend.quiet``)."""

from __future__ import annotations

import warnings
from typing import Any

from nirhub.backend.quiet import ignore_framework_noise


def import_norse() -> Any:
    """``norse.torch``, imported once with the narrow filters of ``nirhub.backend.quiet``."""
    with warnings.catch_warnings():
        ignore_framework_noise()
        import norse.torch

    return norse.torch
