"""The ``.nir`` file format: reading (strict or tolerant) and writing (current or legacy layout).

See ``docs/file-format.md``. The ``nir`` package is never needed; :mod:`nirhub.io.nir_interop`
converts to and from its objects when it is installed.
"""

from nirhub.io._h5 import DEFAULT_MAX_BYTES, ReadLimits
from nirhub.io.reader import InvalidGraphFileError, ReadResult, ReadWarning, read, read_version

__all__ = [
    "DEFAULT_MAX_BYTES",
    "InvalidGraphFileError",
    "ReadLimits",
    "ReadResult",
    "ReadWarning",
    "read",
    "read_version",
    "write",
    "WriteReport",
]


def __getattr__(name: str):  # the writer is imported on first use
    if name in ("write", "WriteReport"):
        from nirhub.io import writer

        return getattr(writer, name)
    raise AttributeError(f"module 'nirhub.io' has no attribute {name!r}")
