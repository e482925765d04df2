"""Coercion and validation of node parameters.

Parameters keep the dtype they were given (files mix float32 and float64, and a lossless round
trip must keep both); only non-numeric, complex or object arrays are refused. Every check raises
:class:`~nirhub.errors.IRError` naming the node type and the field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nirhub.errors import IRError

Shape = tuple[int, ...]


def fail(node_type: str, field: str | None, message: str, hint: str | None = None) -> IRError:
    where = node_type if field is None else f"{node_type}.{field}"
    return IRError(f"{where}: {message}", node=node_type, field=field, hint=hint)


def as_array(
    value: Any,
    node_type: str,
    field: str,
    *,
    integer: bool = False,
    min_ndim: int = 0,
    ndim: int | None = None,
    finite: bool = True,
    positive: bool = False,
    nonnegative: bool = False,
) -> np.ndarray:
    """Turn ``value`` into a numeric numpy array and check it.

    Floats keep their dtype; Python scalars and lists become float64 (int64 for ``integer``).
    """
    if type(value) is np.ndarray:
        arr = value  # (what np.asarray returns for it)
    else:
        if value is None:
            raise fail(node_type, field, "is required but was None")
        if isinstance(value, (bool, np.bool_)):
            raise fail(node_type, field, f"must be numeric, got a boolean ({value!r})")
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged lists and the like
            raise fail(node_type, field, f"cannot be converted to an array ({exc})") from None
    kind = arr.dtype.kind
    if kind == "b":
        raise fail(node_type, field, "must be numeric, got a boolean array")
    if kind not in "iuf":
        raise fail(node_type, field, f"must be a real numeric array, got dtype {arr.dtype}")
    if integer:
        if kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise fail(node_type, field, f"must hold integers, got {_short(arr)}")
            arr = arr.astype(np.int64)
    if ndim is not None and arr.ndim != ndim:
        raise fail(node_type, field, f"must be {ndim}-D, got shape {arr.shape}")
    if arr.ndim < min_ndim:
        raise fail(node_type, field, f"must be at least {min_ndim}-D, got shape {arr.shape}")
    # one reduction per check where one suffices: these checks dominate for the many small
    # arrays of a large graph read from a file
    low = None  # the smallest value, where it came without numpy
    if finite and kind == "f":
        if arr.ndim == 1 and arr.size <= _SMALL and arr.dtype.itemsize in (4, 8):
            # a few float32/float64 values (exact as Python floats): checked as a list, which
            # costs less than numpy's fixed cost per call
            values = arr.tolist()
            ok = all(map(math.isfinite, values))
            if ok and values and (positive or nonnegative):
                low = min(values)
        else:
            ok = _all_finite(arr)
        if not ok:
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            raise fail(node_type, field, f"holds {bad} non-finite value(s) (NaN or inf)")
    if positive and arr.size and not (arr.min() if low is None else low) > 0:
        raise fail(node_type, field, f"must be > 0 everywhere, got min {float(arr.min())!r}")
    if nonnegative and arr.size and not (arr.min() if low is None else low) >= 0:
        raise fail(node_type, field, f"must be >= 0 everywhere, got min {float(arr.min())!r}")
    return arr


def _all_finite(arr: np.ndarray) -> bool:
    """Whether a float array holds no NaN or inf.

    Small arrays: the ufunc's reduction called directly (``ndarray.all`` goes through a Python
    wrapper, a cost paid per array). Large float32/float64 arrays: the sum of squares, one BLAS
    dot product without a temporary, is finite only if every element is (a NaN or an inf makes
    it NaN or inf; squares are never negative, so there is no inf - inf); only when it is not
    (a non-finite element, or finite values whose squares overflow) is the element-wise test
    run. For the 200 MB graph this check was a third of the read.
    """
    if arr.size >= _DOT_FROM and arr.dtype.itemsize in (4, 8):
        flat = arr.reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            if math.isfinite(flat.dot(flat)):
                return True
    return bool(_AND(_ISFINITE(arr), axis=None))


#: 1-D float arrays up to this many elements are checked as Python lists
_SMALL = 32
_AND = np.logical_and.reduce
_ISFINITE = np.isfinite
#: arrays from this many elements are checked with a dot product (errstate costs more than
#: the element-wise test below this)
_DOT_FROM = 4096


def as_shape(value: Any, node_type: str, field: str, *, allow_none: bool = False) -> Shape | None:
    """A shape: an int (1-D shape), a sequence or 1-D int array, or a ``{"port": shape}`` dict."""
    if value is None:
        if allow_none:
            return None
        raise fail(node_type, field, "is required but was None")
    if isinstance(value, dict):
        if len(value) != 1:
            raise fail(
                node_type,
                field,
                f"must have exactly one port, got {sorted(value)}",
                hint="Multi-port nodes are not part of NIR v1.",
            )
        (value,) = value.values()
        if value is None:
            if allow_none:
                return None
            raise fail(node_type, field, "is required but was None")
    if isinstance(value, (bool, np.bool_)):
        raise fail(node_type, field, f"must be a shape, got {value!r}")
    if isinstance(value, (int, np.integer)):
        value = [int(value)]
    arr = np.asarray(value)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iuf"):
        raise fail(node_type, field, f"must be a 1-D sequence of ints, got {_short(arr)}")
    if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
        raise fail(node_type, field, f"must hold integers, got {_short(arr)}")
    shape = tuple(int(v) for v in arr)
    if any(v < 1 for v in shape):
        raise fail(node_type, field, f"every dimension must be >= 1, got {shape}")
    return shape


def as_int_tuple(
    value: Any, node_type: str, field: str, n: int, *, minimum: int
) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints, each ``>= minimum``."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise fail(node_type, field, f"must be an int or {n} ints, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise fail(node_type, field, f"must be an int or {n} ints, got {_short(arr)}")
    if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
        raise fail(node_type, field, f"must hold integers, got {_short(arr)}")
    if arr.ndim == 0:
        out = (int(arr),) * n
    elif arr.size == n:
        out = tuple(int(v) for v in arr)
    elif arr.size == 1:
        out = (int(arr[0]),) * n
    else:
        raise fail(node_type, field, f"must be an int or {n} ints, got {arr.size} values")
    if any(v < minimum for v in out):
        raise fail(node_type, field, f"must be >= {minimum}, got {out}")
    return out


def population_shape(node_type: str, params: dict[str, np.ndarray | None]) -> Shape | None:
    """Shape shared by a neuron's parameters.

    NIR requires all parameters of one neuron node to have the same shape. A 0-d parameter is a
    scalar that broadcasts (the reference would give it the broken type ``[]``); if *every*
    parameter is 0-d the population shape is unknown here and is inferred from the graph.
    """
    shapes = {name: a.shape for name, a in params.items() if a is not None and a.ndim > 0}
    if not shapes:
        return None
    distinct = set(shapes.values())
    if len(distinct) > 1:
        listing = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise fail(
            node_type,
            next(iter(k for k, v in shapes.items() if v != next(iter(shapes.values())))),
            f"parameters must share one shape (or be scalars), got {listing}",
        )
    return next(iter(distinct))


def _short(arr: np.ndarray) -> str:
    text = np.array2string(np.asarray(arr), threshold=6, edgeitems=2)
    return text if len(text) < 60 else text[:57] + "..."


class DeferredChecks:
    """The value checks of :func:`as_array` (no NaN or inf in float arrays, ``> 0``,
    ``>= 0``) for many small arrays at once, for readers that build thousands of nodes.

    :meth:`add` takes arrays that have passed every other check of :func:`as_array` (numeric
    dtype, dimensions) and keeps the small ones for later; a large one is checked at once
    (raising :func:`as_array`'s error). :meth:`passed` then checks all kept arrays with one
    concatenation per kind of check (numpy's fixed cost per call, paid per array, is larger
    than the work for arrays of a few dozen values). It only says whether they all pass: a
    caller whose check fails rebuilds its nodes with the constructors, in order, to raise the
    first error exactly as the constructor would have.
    """

    __slots__ = ("finite", "positive", "nonnegative")

    #: arrays up to this many elements are kept; larger ones are checked at once
    KEEP_MAX = 256
    #: float arrays kept after which the caller should run :meth:`passed` (this bounds the
    #: temporary array of the check: at most KEEP_MAX * FLUSH_AT elements)
    FLUSH_AT = 1024

    def __init__(self) -> None:
        self.finite: list[np.ndarray] = []
        self.positive: list[np.ndarray] = []
        self.nonnegative: list[np.ndarray] = []

    def add(
        self,
        node_type: str,
        values: dict[str, np.ndarray | None],
        names: tuple[str, ...],
        positive: frozenset[str] = frozenset(),
        nonnegative: frozenset[str] = frozenset(),
    ) -> None:
        """Queue the checks of ``values[name]`` for each of ``names`` (None: absent)."""
        keep_max = self.KEEP_MAX
        for name in names:
            arr = values[name]
            if arr is None:
                continue
            n = arr.size
            if n > keep_max:
                as_array(
                    arr, node_type, name, positive=name in positive, nonnegative=name in nonnegative
                )
                continue
            if arr.dtype.kind == "f":
                self.finite.append(arr)
            if n and name in positive:
                self.positive.append(arr)
            elif n and name in nonnegative:
                self.nonnegative.append(arr)

    def passed(self) -> bool:
        """Whether every kept array passes its checks; forgets them either way."""
        ok = True
        if self.finite:
            ok = bool(_AND(_ISFINITE(np.concatenate(self.finite, axis=None)), axis=None))
        # (a NaN fails the finiteness check above, so these comparisons see no NaN when ok)
        if ok and self.positive:
            ok = bool(np.concatenate(self.positive, axis=None).min() > 0)
        if ok and self.nonnegative:
            ok = bool(np.concatenate(self.nonnegative, axis=None).min() >= 0)
        self.finite, self.positive, self.nonnegative = [], [], []
        return ok
