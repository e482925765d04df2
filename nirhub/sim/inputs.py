"""Input signals: checking what the caller passed, and loading them from ``.npy``/``.npz`` files.

Inputs are time-major, one array per top-level Input node: ``(T, *shape)`` for one sample or
``(T, B, *shape)`` for a batch of ``B``; which one is decided by the number of dimensions
relative to the Input node's shape. All inputs of one run share ``T`` and the batch layout.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.errors import FileFormatError, ShapeError, UsageError
from nirhub.ir.params import Shape


@dataclass
class Signals:
    """Checked inputs, each ``(T, B, *shape)`` in the simulation dtype."""

    arrays: dict[str, np.ndarray]
    steps: int
    batch: int
    batched: bool


def _as_numeric(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise UsageError(f"input {name!r} cannot be converted to an array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise UsageError(f"input {name!r} must be numeric (bool, int or float), got {arr.dtype}")
    return arr


def _layout(name: str, arr: np.ndarray, shape: Shape) -> bool:
    """True for ``(T, B, *shape)``, False for ``(T, *shape)``; ShapeError otherwise."""
    if arr.ndim == len(shape) + 1 and arr.shape[1:] == tuple(shape):
        return False
    if arr.ndim == len(shape) + 2 and arr.shape[2:] == tuple(shape):
        return True
    want = ", ".join(str(s) for s in shape)
    hint = "Time is axis 0."
    if arr.ndim == 2 and len(shape) == 1 and arr.shape[0] == shape[0]:
        hint = "It looks transposed: time must be axis 0 (e.g. pass x.T)."
    raise ShapeError(
        f"input {name!r} has shape {tuple(arr.shape)}, but the Input node expects "
        f"(T, {want}) for one sample or (T, B, {want}) for a batch",
        node=name,
        hint=hint,
    )


def check_inputs(
    inputs: Any, input_shapes: dict[str, Shape], dtype: np.dtype, steps: int | None = None
) -> Signals:
    """Match ``inputs`` (array or ``{name: array}``) to the graph's Input nodes.

    A graph without Input nodes (driven by its biases alone, as NIRTorch's
    ``feedback_graph.nir``) runs for ``steps`` steps and takes no inputs.
    """
    names = list(input_shapes)
    if not names:
        if steps is None:
            raise UsageError(
                "the graph has no Input node, so there is nothing to drive it with",
                hint="A graph driven by its biases alone runs for a number of steps: pass "
                "steps=T (--steps T on the command line).",
            )
        if isinstance(inputs, Mapping) and inputs:
            raise UsageError("the graph has no Input node; give no inputs, only steps")
        if int(steps) < 1:
            raise UsageError(f"steps must be at least 1, got {steps!r}")
        return Signals({}, int(steps), 1, False)
    if steps is not None:
        raise UsageError(
            "steps is for graphs without Input nodes; this graph's inputs set the number of steps"
        )
    if isinstance(inputs, Mapping):
        given = dict(inputs)
        missing = [n for n in names if n not in given]
        extra = [k for k in given if k not in input_shapes]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unknown {', '.join(map(repr, extra))}")
            raise UsageError(
                f"inputs do not match the graph's Input nodes ({'; '.join(parts)})",
                hint=f"The graph's Input nodes are: {', '.join(names)}.",
            )
    else:
        if len(names) != 1:
            raise UsageError(
                f"the graph has {len(names)} Input nodes ({', '.join(names)}); pass a dict "
                "{name: array} instead of a bare array"
            )
        given = {names[0]: inputs}
    arrays: dict[str, np.ndarray] = {}
    layout: dict[str, tuple[int, int, bool]] = {}
    for name in names:
        arr = _as_numeric(name, given[name])
        batched = _layout(name, arr, input_shapes[name])
        arrays[name] = arr
        layout[name] = (arr.shape[0], arr.shape[1] if batched else 1, batched)
    steps = {v[0] for v in layout.values()}
    if len(steps) > 1:
        listing = ", ".join(f"{n}: T={v[0]}" for n, v in layout.items())
        raise ShapeError(f"inputs have different numbers of time steps ({listing})")
    kinds = {(v[1], v[2]) for v in layout.values()}
    if len(kinds) > 1:
        listing = ", ".join(
            f"{n}: {'batch ' + str(v[1]) if v[2] else 'one sample'}" for n, v in layout.items()
        )
        raise ShapeError(f"inputs disagree on the batch layout ({listing})")
    (t,) = steps
    ((batch, batched),) = kinds
    if t < 1:
        raise UsageError("the inputs have no time steps (T = 0)")
    if batch < 1:
        raise UsageError("the inputs have an empty batch (B = 0)")
    out = {}
    for name, arr in arrays.items():
        a = arr.astype(dtype, copy=False)
        if not batched:
            a = a[:, None]
        out[name] = a
    return Signals(out, t, batch, batched)


def load_inputs(path: str | os.PathLike[str], input_names: list[str]) -> dict[str, np.ndarray]:
    """Read input signals from ``.npy`` (one-input graphs) or ``.npz`` (keys = Input names).

    ``input_names`` are the graph's top-level Input node names (``graph.inputs``). An ``.npz``
    holding a single array feeds a one-input graph whatever its key. Files are read without
    unpickling Python objects.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"input file {p} does not exist")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            if len(input_names) != 1:
                raise UsageError(
                    f"{p} holds one array, but the graph has {len(input_names)} Input nodes "
                    f"({', '.join(input_names)})",
                    hint="Store one array per Input node, by name, in an .npz file.",
                )
            return {input_names[0]: arr}
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as data:
                keys = list(data.keys())
                if len(keys) == 1 and len(input_names) == 1:
                    return {input_names[0]: data[keys[0]]}
                missing = [n for n in input_names if n not in keys]
                extra = [k for k in keys if k not in input_names]
                if missing or extra:
                    raise UsageError(
                        f"{p}: the arrays {keys} do not match the Input nodes {input_names}"
                        + (f" (missing {missing})" if missing else "")
                        + (f" (unknown {extra})" if extra else "")
                    )
                return {n: data[n] for n in input_names}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        msg = str(exc)
        if "allow_pickle" in msg or "Object arrays" in msg:
            msg = "it holds Python objects, which nirhub does not unpickle"
        raise FileFormatError(f"cannot read the inputs: {msg}", path=str(p)) from None
    raise UsageError(f"input file {p} must be .npy or .npz, got {p.suffix or 'no suffix'!r}")
