"""Two threads on one run: the graph's first nodes on the next chunk while the rest finish
the current one (a pipeline over chunks of steps).

Why: on the 2-CPU machine of ``docs/performance.md`` splitting each operation over two
threads (:mod:`nirhub.sim.parallel`) cost a thread wake-up per operation, and those ate the
halved work. Here the second thread wakes once per chunk and then runs several whole nodes.

Why it keeps every bit: each node runs exactly the operations of a one-thread run, on the
same arrays, chunk after chunk in the same order; only *which* thread runs it and *when*
change. The cut goes between two units of the plan (:mod:`nirhub.sim.plan`, topological
order), so the first stage never needs a value of the second. A node's state (neurons,
delay lines, an op's scratch buffers) is only touched by its own stage, one chunk at a
time. Matrix products are taken one at a time (``Splitter.products``, a lock per run), each
on the BLAS's usual threads.

Where to cut: the first two chunks run on the calling thread alone and each unit of the
second is timed (the first one pays for fresh memory); the
cut is the one that balances the two stages best. Timings only choose the cut, never a
value. Graphs with recurrent units or too few chunks run on one thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np

from nirhub.sim.blas import one_blas_thread

#: a pipeline pays only when its better-balanced stage takes at most this share of a chunk
MAX_STAGE_SHARE = 0.8
#: and when the run has more chunks than this
MIN_CHUNKS = 3

Chunk = dict[str, np.ndarray]
RunUnit = Callable[[int, Chunk, int, int], None]


def best_cut(costs: Sequence[float]) -> tuple[int, float]:
    """The index ``k`` splitting ``costs`` into ``[:k]`` and ``[k:]`` with the smallest larger
    half, and that half's share of the total (1.0 when no cut helps)."""
    total = float(sum(costs))
    if total <= 0 or len(costs) < 2:
        return 0, 1.0
    best_k, best = 0, total
    prefix = 0.0
    for k in range(1, len(costs)):
        prefix += costs[k - 1]
        worst = max(prefix, total - prefix)
        if worst < best:
            best_k, best = k, worst
    return best_k, best / total


def timed_chunk(run_unit: RunUnit, n_units: int, t0: int, c: int) -> list[float]:
    """Run one chunk on this thread, returning each unit's time (seconds)."""
    chunk: Chunk = {}
    costs = []
    for u in range(n_units):
        start = time.perf_counter()
        run_unit(u, chunk, t0, c)
        costs.append(time.perf_counter() - start)
    return costs


_DONE = object()


def run_pipelined(
    run_unit: RunUnit,
    n_units: int,
    cut: int,
    starts: Sequence[tuple[int, int]],
    one_thread_products: bool = False,
) -> None:
    """Units ``[:cut]`` of every chunk on a helper thread, units ``[cut:]`` on this one.

    ``starts`` are the chunks' ``(t0, c)`` in order. The helper runs at most two chunks ahead
    (bounded memory). An error on either side stops both and is raised here. With
    ``one_thread_products`` the helper's matrix products run on one BLAS thread
    (:mod:`nirhub.sim.blas`), as the caller's already do.
    """
    handoff: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    failure: list[BaseException] = []

    def first_stage() -> None:
        blas = one_blas_thread() if one_thread_products else nullcontext()
        try:
            with blas:
                for t0, c in starts:
                    if stop.is_set():
                        return
                    chunk: Chunk = {}
                    for u in range(cut):
                        run_unit(u, chunk, t0, c)
                    while not stop.is_set():
                        try:
                            handoff.put(chunk, timeout=0.1)
                            break
                        except queue.Full:
                            continue
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)
        finally:
            while not stop.is_set():
                try:
                    handoff.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    continue

    helper = threading.Thread(target=first_stage, name="nirhub-sim-stage", daemon=True)
    helper.start()
    try:
        for t0, c in starts:
            chunk = handoff.get()
            if chunk is _DONE:
                break
            for u in range(cut, n_units):
                run_unit(u, chunk, t0, c)
    finally:
        stop.set()
        helper.join()
    if failure:
        raise failure[0]
