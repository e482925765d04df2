"""Input signals: checking what the caller passed, and loading them from ``.npy``/``.npz`` files.

Inputs are time-major, one array per top-level Input node: ``(T, *shape)`` for one sample or
``(T, B, *shape)`` for a batch of ``B``; which one is decided by the number of dimensions
relative to the Input node's shape. All inputs of one run share ``T`` and the batch layout.
"""

from __future__ import annotations

import math
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
    return _layout_of(name, tuple(arr.shape), shape)


def _layout_of(name: str, got: tuple[int, ...], shape: Shape) -> bool:
    """:func:`_layout` for an array's shape alone (read from a file's header)."""
    if len(got) == len(shape) + 1 and got[1:] == tuple(shape):
        return False
    if len(got) == len(shape) + 2 and got[2:] == tuple(shape):
        return True
    want = ", ".join(str(s) for s in shape)
    hint = "Time is axis 0."
    if len(got) == 2 and len(shape) == 1 and got[0] == shape[0]:
        hint = "It looks transposed: time must be axis 0 (e.g. pass x.T)."
    raise ShapeError(
        f"input {name!r} has shape {got}, but the Input node expects "
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


#: Default cap on an input file's arrays, counted as the simulation holds them (8 bytes a
#: value, float64): 1 GiB, 134 million values. A file's headers are checked against it (and
#: against the graph's Input shapes) before any array is read.
DEFAULT_MAX_INPUT_BYTES = 1024**3
#: An ``.npz`` holds one array per Input node; more members than this is not an input file.
MAX_NPZ_MEMBERS = 4096
_VALUE_BYTES = 8


@dataclass(frozen=True)
class _Header:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype


def _read_header(fh: Any, where: str) -> _Header:
    """The ``.npy`` header at ``fh``'s position (numpy bounds the header's own size)."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:  # pragma: no cover - read_magic refuses other versions
            raise ValueError(f"unknown .npy format version {version}")
    except ValueError as exc:
        raise FileFormatError(f"{where} is not a valid .npy array: {exc}") from None
    if dtype.hasobject:
        raise FileFormatError(
            f"{where} holds Python objects, which nirhub does not unpickle",
            hint="Store a numeric array (bool, int or float).",
        )
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise FileFormatError(f"{where} must be numeric (bool, int or float), got {dtype}")
    return _Header(tuple(int(n) for n in shape), bool(fortran), dtype)


def _check_header(
    name: str,
    header: _Header,
    where: str,
    shape: Shape | None,
    max_bytes: int,
) -> int:
    """Check one array's header against the Input node's shape and the size cap; return the
    number of bytes its data takes in the file."""
    if shape is not None:
        _layout_of(name, header.shape, shape)
    count = math.prod(header.shape)
    if count * max(_VALUE_BYTES, header.dtype.itemsize) > max_bytes:
        raise FileFormatError(
            f"{where} declares an array of shape {header.shape} ({count:,} values), more than "
            f"the input limit of {max_bytes:,} bytes ({max_bytes // _VALUE_BYTES:,} values)",
            hint="Simulate fewer time steps or a smaller batch at a time.",
        )
    return count * header.dtype.itemsize


def _read_data(fh: Any, header: _Header, nbytes: int, where: str) -> np.ndarray:
    """Read exactly ``nbytes`` of array data (never more) into a new writable array."""
    buffer = bytearray(nbytes)
    view = memoryview(buffer)
    got = 0
    while got < nbytes:
        n = fh.readinto(view[got:])
        if not n:
            raise FileFormatError(
                f"{where} is truncated: its header declares {nbytes:,} bytes of data, the file "
                f"holds {got:,}"
            )
        got += n
    arr = np.frombuffer(buffer, dtype=header.dtype)
    return arr.reshape(header.shape, order="F" if header.fortran else "C")


def load_inputs(
    path: str | os.PathLike[str],
    input_names: list[str],
    input_shapes: Mapping[str, Shape] | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_INPUT_BYTES,
) -> dict[str, np.ndarray]:
    """Read input signals from ``.npy`` (one-input graphs) or ``.npz`` (keys = Input names).

    ``input_names`` are the graph's top-level Input node names (``graph.inputs``). An ``.npz``
    holding a single array feeds a one-input graph whatever its key. Files are read without
    unpickling Python objects.

    Nothing is allocated before it is checked: every array's header is read first and must
    match its Input node's shape in ``input_shapes`` (when given) and fit in ``max_bytes``
    (counted at 8 bytes a value, as the simulation holds them); an ``.npz`` member's size
    declared in the zip is checked too, and it is decompressed as a stream that stops at the
    bytes its header declares. Violations raise :class:`UsageError`/:class:`ShapeError`
    (exit code 3), not a ``MemoryError``.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"input file {p} does not exist")
    shapes = dict(input_shapes or {})
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            if len(input_names) != 1:
                raise UsageError(
                    f"{p} holds one array, but the graph has {len(input_names)} Input nodes "
                    f"({', '.join(input_names)})",
                    hint="Store one array per Input node, by name, in an .npz file.",
                )
            name = input_names[0]
            with open(p, "rb") as fh:
                header = _read_header(fh, str(p))
                nbytes = _check_header(name, header, str(p), shapes.get(name), max_bytes)
                left = p.stat().st_size - fh.tell()
                if nbytes > left:
                    raise FileFormatError(
                        f"{p} is truncated: its header declares {nbytes:,} bytes of data, the "
                        f"file holds {left:,}"
                    )
                return {name: _read_data(fh, header, nbytes, str(p))}
        if suffix == ".npz":
            return _load_npz(p, input_names, shapes, max_bytes)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        msg = str(exc)
        if "allow_pickle" in msg or "Object arrays" in msg:
            msg = "it holds Python objects, which nirhub does not unpickle"
        raise FileFormatError(f"cannot read the inputs: {msg}", path=str(p)) from None
    raise UsageError(f"input file {p} must be .npy or .npz, got {p.suffix or 'no suffix'!r}")


def _load_npz(
    p: Path, input_names: list[str], shapes: dict[str, Shape], max_bytes: int
) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(p) as zf:
        members = zf.infolist()
        if len(members) > MAX_NPZ_MEMBERS:
            raise FileFormatError(
                f"{p} holds {len(members):,} arrays; an input file holds one per Input"
            )
        keys = [m.filename.removesuffix(".npy") for m in members]
        if len(keys) == 1 and len(input_names) == 1:
            chosen = {input_names[0]: members[0]}
        else:
            missing = [n for n in input_names if n not in keys]
            extra = [k for k in keys if k not in input_names]
            if missing or extra:
                raise UsageError(
                    f"{p}: the arrays {keys} do not match the Input nodes {input_names}"
                    + (f" (missing {missing})" if missing else "")
                    + (f" (unknown {extra})" if extra else "")
                )
            chosen = {n: members[keys.index(n)] for n in input_names}
        total = sum(m.file_size for m in chosen.values())
        if total > max_bytes:
            raise FileFormatError(
                f"{p} declares {total:,} bytes of arrays once decompressed, more than the input "
                f"limit of {max_bytes:,} bytes",
                hint="Simulate fewer time steps or a smaller batch at a time.",
            )
        headers: dict[str, tuple[_Header, int]] = {}
        for name, member in chosen.items():  # every header first, then the data
            where = f"{p}:{member.filename}"
            with zf.open(member) as fh:
                header = _read_header(fh, where)
                nbytes = _check_header(name, header, where, shapes.get(name), max_bytes)
            headers[name] = (header, nbytes)
        values = sum(math.prod(h.shape) for h, _ in headers.values())
        if values * _VALUE_BYTES > max_bytes:
            raise FileFormatError(
                f"{p} declares {values:,} values in all, more than the input limit of "
                f"{max_bytes:,} bytes ({max_bytes // _VALUE_BYTES:,} values)",
                hint="Simulate fewer time steps or a smaller batch at a time.",
            )
        out = {}
        for name, member in chosen.items():
            header, nbytes = headers[name]
            with zf.open(member) as fh:
                _read_header(fh, f"{p}:{member.filename}")
                out[name] = _read_data(fh, header, nbytes, f"{p}:{member.filename}")
        return out


def input_shapes_of(graph: Any) -> dict[str, Shape]:
    """The shapes of a graph's top-level Input nodes (what :func:`load_inputs` checks)."""
    out: dict[str, Shape] = {}
    for name in graph.inputs:
        node = graph.nodes.get(name)
        shape = getattr(node, "shape", None)
        if shape is not None:
            out[name] = tuple(shape)
    return out
