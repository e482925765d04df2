"""One BLAS thread for the calling thread, where numpy's BLAS allows it (OpenBLAS ≥ 0.3.27).

Why: the two-stage pipeline of :mod:`nirhub.sim.pipeline` keeps both CPUs busy with whole
nodes; a matrix product that also asks for the BLAS's second thread then competes with the
other stage for the same two cores (measured: the pipeline lost to one thread that way). With
one BLAS thread per stage each stage has a core of its own. A product's bits may depend on the
BLAS's thread count, so a run that uses this computes every product of the run on one BLAS
thread: its results are those of a run with ``OPENBLAS_NUM_THREADS=1``.

OpenBLAS's ``openblas_set_num_threads_local`` sets the count for the calling thread only (it
returns the previous one); it is looked up once in the OpenBLAS library numpy has loaded (found
through ``/proc/self/maps``). Elsewhere (another BLAS, another OS) :func:`one_blas_thread`
reports that it cannot, and the pipeline serialises the products instead.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_lock = threading.Lock()
_looked_up = False
_setter: Callable[[int], int] | None = None


def _find_setter() -> Callable[[int], int] | None:
    import numpy  # noqa: F401  (loads numpy's BLAS)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()})
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            fn = lib.openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int]
        fn.restype = ctypes.c_int
        return fn
    return None


def local_threads_setter() -> Callable[[int], int] | None:
    """OpenBLAS's per-thread setter, or None where the loaded BLAS has none."""
    global _looked_up, _setter
    with _lock:
        if not _looked_up:
            _setter = _find_setter()
            _looked_up = True
    return _setter


@contextmanager
def one_blas_thread() -> Iterator[bool]:
    """BLAS calls of this thread run on one thread inside the block; yields whether it could."""
    setter = local_threads_setter()
    if setter is None:
        yield False
        return
    previous = setter(1)
    try:
        yield True
    finally:
        setter(previous)
