"""Writing a backend's artifact files: atomically, never over an existing file unless asked.

Every plugin's ``save`` writes through :func:`write_atomically`, so all artifacts get the same
guarantees: a temporary file in the target folder renamed into place (no half-written files),
the usual 0666-minus-umask permissions, and a :class:`~nirhub.errors.RefusedError` instead of a
silent overwrite.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from nirhub._files import set_default_mode
from nirhub.errors import RefusedError


def write_atomically(
    target: str | os.PathLike[str],
    content: bytes | Callable[[str], object],
    *,
    force: bool = True,
) -> Path:
    """Write ``content`` (bytes, or a callable writing to the path it is given) to ``target``."""
    target = Path(target)
    if target.exists() and not force:
        raise RefusedError(f"{target} already exists", hint="Pass force=True (--force).")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if isinstance(content, (bytes, bytearray, memoryview)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        else:
            os.close(fd)
            content(tmp)
        set_default_mode(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
