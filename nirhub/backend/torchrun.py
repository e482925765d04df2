"""What the torch-based backends' imports and run hooks share: the ``dtype`` and ``device``
options and the nodes a run may record.

torch is imported only when a model is moved to a device.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from nirhub.errors import UsageError

__all__ = ["DTYPES", "check_dtype", "check_record", "to_device"]

#: the compute dtypes a torch-based backend offers
DTYPES = ("float32", "float64")


def check_dtype(dtype: Any, default: str) -> str:
    """``"float32"`` or ``"float64"`` from the option (a name or a ``torch.dtype``), else
    ``default``."""
    name = default if dtype is None else str(dtype).replace("torch.", "")
    if name not in DTYPES:
        raise UsageError(f"dtype must be float32 or float64, got {dtype!r}")
    return name


def to_device(model: Any, device: str | None) -> Any:
    """``model`` moved to ``device`` (unchanged when none is given); returns the model."""
    if device:
        import torch

        try:
            model.to(torch.device(device))
        except (RuntimeError, AssertionError) as exc:
            raise UsageError(f"cannot use device {device!r}: {exc}") from None
    return model


def check_record(record: Iterable[str], nodes: Collection[str]) -> list[str]:
    """The node paths to record, each one of ``nodes``."""
    record = list(record)
    unknown = [p for p in record if p not in nodes]
    if unknown:
        raise UsageError(
            f"cannot record {', '.join(map(repr, unknown))}: no such node",
            hint=f"Nodes: {', '.join(nodes)}",
        )
    return record
