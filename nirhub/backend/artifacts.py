"""Writing a backend's artifact files: atomically, never over an existing file unless asked.

Every plugin's ``save`` writes through :func:`write_atomically`, so all artifacts get the same
guarantees: a temporary file in the target folder renamed into place (no half-written files),
the usual 0666-minus-umask permissions, and a :class:`~nirhub.errors.RefusedError` instead of a
silent overwrite.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from nirhub._files import finish_output, make_temp_file, resolve_output


def write_atomically(
    target: str | os.PathLike[str],
    content: bytes | Callable[[str], object],
    *,
    force: bool = True,
) -> Path:
    """Write ``content`` (bytes, or a callable writing to the path it is given) to ``target``.

    ``target`` follows the rules of :mod:`nirhub._files`: a symbolic link is written through to
    its file, a device or FIFO is streamed into, a dangling link needs ``force``.
    """
    target = Path(target)
    real = resolve_output(target, force=force)
    fd, tmp = make_temp_file(real.parent, real)
    try:
        if isinstance(content, (bytes, bytearray, memoryview)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        else:
            os.close(fd)
            content(tmp)
        finish_output(tmp, real)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
