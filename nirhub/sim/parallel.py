"""Element-wise work and copies of the reference simulator, split over the CPU's cores.

Why: numpy runs one operation on one core, except the BLAS matrix products. On a conv net
the im2col copies, the bias-add/transposes, the pooling sums and the neuron updates were
about two thirds of the simulator's time and all ran on one core while the frameworks it is
compared with use every core for every operation (profiled, ``docs/performance.md``).

What is split: only work whose every output element is computed from the same input
elements by the same operations whatever the split: copies, element-wise ufuncs, and sums of
a fixed list of whole slices. So a split result is bit-identical to the unsplit one (tested).
Matrix products are never split: OpenBLAS rounds a row differently depending on the number
of rows of the product, and it already uses every core itself. The pool's tasks run only
inside an operation, between two products, so they never compete with the BLAS's threads.

How: :meth:`Splitter.run` cuts a range (samples of a batch) into near-equal parts and offers
them to a small persistent thread pool; the calling thread takes parts too, and does those
no pool thread has started yet (see :class:`_Job`). numpy releases the GIL inside copies and
ufunc loops, so the parts run at the same time. Waking a
thread costs tens of microseconds, so a part must hold at least :data:`MIN_PART` elements of
work; smaller operations run as before, in the calling thread.

How many threads: ``simulate(threads=N)``; the default is one, nothing split. Measured on the
2-CPU machine of ``docs/performance.md`` (a KVM guest), splitting made whole runs of the conv
net 5-20 % slower, although each operation alone, called back to back, ran 1.7x faster on
two threads: in a run, the pool thread's CPU has gone idle between two split operations and
waking it, and reading data the other core just wrote, cost more than the halved work saves
(a part is 0.2-0.7 ms there). Machines whose cores share caches and wake quickly may gain;
measure with ``benchmarks/sim_conv.py --sim-threads N``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

#: least elements of work per part (a thread's wake-up costs ~30-70 us on the 2-CPU machine
#: of docs/performance.md; an element-wise op on 32k float32 elements costs ~5 us)
MIN_PART = 1 << 15


_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_local = threading.local()


def _executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool, with at least ``workers`` threads (created on first use)."""
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="nirhub-sim")
            _pool_workers = workers
        return _pool


def _forget_pool() -> None:
    """A forked child has no pool threads: start a new pool when it needs one."""
    global _pool, _pool_workers, _local
    _pool, _pool_workers, _local = None, 0, threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


class _Job:
    """The parts of one split operation, taken one at a time by whichever thread is free.

    The calling thread takes parts too and, once none is left, waits only for the parts
    other threads already started. So when the machine is busy and a pool thread is not
    scheduled in time, the caller does its parts itself instead of waiting for a time slice
    (measured at load 3: waiting made a run 3x slower than one thread).
    """

    def __init__(self, fn: Callable[[int, int], Any], ranges: list[tuple[int, int]]) -> None:
        self.fn = fn
        self.todo = ranges[::-1]
        self.unfinished = len(ranges)
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        """Run parts until none is left (marked so that a part does not split again: a part
        waiting for the pool from inside the pool could wait forever)."""
        _local.inside = True
        try:
            while True:
                with self.lock:
                    if not self.todo:
                        return
                    lo, hi = self.todo.pop()
                try:
                    self.fn(lo, hi)
                except BaseException as exc:  # handed to the caller of Splitter.run
                    with self.lock:
                        self.error = self.error or exc
                finally:
                    with self.lock:
                        self.unfinished -= 1
                        if self.unfinished == 0:
                            self.finished.set()
        finally:
            _local.inside = False


@dataclass(frozen=True)
class Splitter:
    """Runs ``fn(lo, hi)`` over parts of ``range(n)`` on up to ``threads`` threads."""

    threads: int = 1
    #: read when the splitter is made (tests lower the module's MIN_PART to split tiny arrays)
    min_part: int = field(default_factory=lambda: MIN_PART)
    #: held around every matrix product of the ops given this splitter. A pipelined run
    #: (:mod:`nirhub.sim.pipeline`) gives its ops one lock, so that its two threads call the
    #: BLAS one after the other, each call on the BLAS's usual threads: OpenBLAS picks its
    #: kernel and split from the size and its thread count (both change the rounding:
    #: measured, 1 vs 2 threads differ on some float32 shapes), so concurrent calls could
    #: otherwise round differently. Other runs hold nothing.
    products: AbstractContextManager = field(default_factory=nullcontext, compare=False)

    def ranges(self, n: int, size: int) -> list[tuple[int, int]]:
        """Near-equal ranges covering ``range(n)``: one per thread, fewer when ``size``
        elements of work give a part less than ``min_part`` of them, a single one when
        called from inside a part."""
        parts = min(self.threads, n, size // max(1, self.min_part))
        if parts <= 1 or getattr(_local, "inside", False):
            return [(0, n)]
        bounds = [n * i // parts for i in range(parts + 1)]
        return list(zip(bounds[:-1], bounds[1:], strict=True))

    def run(self, fn: Callable[[int, int], Any], n: int, size: int) -> None:
        """``fn(lo, hi)`` for each range of :meth:`ranges`; ``fn`` must write disjoint parts.

        Returns when every part is done, raising the first error of a part.
        """
        ranges = self.ranges(n, size)
        if len(ranges) == 1:
            fn(0, n)
            return
        job = _Job(fn, ranges)
        pool = _executor(len(ranges) - 1)
        for _ in range(len(ranges) - 1):
            pool.submit(job.work)
        job.work()
        job.finished.wait()
        if job.error is not None:
            raise job.error


#: the splitter that never splits (callers that did not ask for threads)
SERIAL = Splitter(1)
