"""The reference simulator's two-stage pipeline over chunks (``nirhub.sim.pipeline``).

A pipelined run must give the bits of a one-thread run: every result is compared as raw
bytes. ``always_pipeline`` makes every acyclic run with two threads take the pipeline,
whatever the first chunk's timings say, so that small test graphs exercise it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from test_sim_parallel import _conv_net, neuron_fanout, same_bits

import nirhub
from nirhub.ir import LIF, Affine, Graph, Input, Output
from nirhub.ir.graph import flatten
from nirhub.sim import engine, pipeline, simulate
from nirhub.sim.blas import local_threads_setter, one_blas_thread
from nirhub.sim.pipeline import best_cut, run_pipelined

CORPUS = Path(__file__).parent / "data" / "corpus"


@pytest.fixture
def always_pipeline(monkeypatch):
    monkeypatch.setattr(engine, "MAX_STAGE_SHARE", 1.0)
    cuts = []
    real = engine.run_pipelined

    def spy(run_unit, n_units, cut, starts, *rest):
        cuts.append(cut)
        return real(run_unit, n_units, cut, starts, *rest)

    monkeypatch.setattr(engine, "run_pipelined", spy)
    return cuts


def test_best_cut_balances_the_two_stages():
    assert best_cut([4.0, 1.0, 1.0, 1.0, 1.0]) == (1, 0.5)
    assert best_cut([1.0, 6.0, 2.0, 1.0]) == (2, 0.7)
    assert best_cut([1.0]) == (0, 1.0)
    assert best_cut([0.0, 0.0]) == (0, 1.0)


def test_stages_run_every_chunk_in_order_on_two_threads():
    seen: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def unit(u, chunk, t0, c):
        if u > 0:
            assert chunk["u0"] == t0  # the first stage's value of the same chunk
        chunk[f"u{u}"] = t0
        with lock:
            seen.append((u, t0, threading.current_thread().name))

    starts = [(t0, 2) for t0 in range(0, 20, 2)]
    run_pipelined(unit, 3, 1, starts)
    for u in range(3):
        assert [t0 for v, t0, _ in seen if v == u] == [t0 for t0, _ in starts]
    threads = {u: {name for v, _, name in seen if v == u} for u in range(3)}
    assert threads[0] == {"nirhub-sim-stage"}
    assert threads[1] == threads[2] == {threading.current_thread().name}


@pytest.mark.parametrize("failing", [0, 2])
def test_an_error_in_either_stage_stops_both_and_reaches_the_caller(failing):
    ran = []

    def unit(u, chunk, t0, c):
        if u == failing and t0 == 6:
            raise ValueError(f"unit {u} failed")
        ran.append((u, t0))

    with pytest.raises(ValueError, match=f"unit {failing} failed"):
        run_pipelined(unit, 3, 1, [(t0, 1) for t0 in range(100)])
    assert max(t0 for _, t0 in ran) < 10  # stopped soon, not after all 100 chunks
    assert not [t for t in threading.enumerate() if t.name == "nirhub-sim-stage"]


@pytest.mark.parametrize("method", ["euler", "exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_neuron_type_gives_the_same_bits_pipelined(always_pipeline, method, dtype):
    n = 6
    rng = np.random.default_rng(31)
    g, neurons = neuron_fanout(n, rng)
    x = rng.uniform(-1, 3, (40, 5, n)).astype(dtype)
    record = list(neurons) + ["w"]
    for chunk in (1, 7):
        with one_blas_thread():  # (threads=2 runs every product on one BLAS thread)
            want = simulate(g, x, 1e-3, method=method, dtype=dtype, record=record, threads=1,
                            chunk_size=chunk)  # fmt: skip
        got = simulate(g, x, 1e-3, method=method, dtype=dtype, record=record, threads=2,
                       chunk_size=chunk)  # fmt: skip
        for name in got.outputs:
            assert same_bits(got[name], want[name]), (name, chunk)
        for path in record:
            for var, value in want.recorded[path].items():
                assert same_bits(got.recorded[path][var], value), (path, var, chunk)
    assert len(always_pipeline) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_nets_give_the_same_bits_pipelined(always_pipeline, dtype):
    rng = np.random.default_rng(32)
    cases = [(_conv_net(), 1e-3, {"in": (2, 12, 12), "in1": (3, 20)}, 0.3)]
    corpus = nirhub.read(CORPUS / "cnn" / "cnn_sinabs.nir")
    cases.append((corpus, 1.0, {"input": (2, 34, 34)}, 0.3))
    for graph, dt, shapes, rate in cases:
        record = list(flatten(graph).nodes)
        for batch, chunk in ((1, 2), (3, 5)):
            x = {k: rng.poisson(rate, (16, batch, *s)).astype(dtype) for k, s in shapes.items()}
            with one_blas_thread():  # (threads=2 runs every product on one BLAS thread)
                want = simulate(graph, x, dt, dtype=dtype, record=record, threads=1,
                                chunk_size=chunk)  # fmt: skip
            got = simulate(graph, x, dt, dtype=dtype, record=record, threads=2,
                           chunk_size=chunk)  # fmt: skip
            for name in want.outputs:
                assert same_bits(got[name], want[name]), (name, batch)
            for path in record:
                for var, value in want.recorded[path].items():
                    assert same_bits(got.recorded[path][var], value), (path, var, batch)
    assert len(always_pipeline) == 4


def test_few_chunks_and_recurrent_graphs_run_on_one_thread(always_pipeline):
    lif = LIF(tau=[1e-3] * 2, r=[1.0] * 2, v_leak=[0.0] * 2, v_threshold=[1.0] * 2)
    chain = Graph({"in": Input((2,)), "n": lif, "out": Output()}, [("in", "n"), ("n", "out")])
    x = np.ones((pipeline.MIN_CHUNKS, 4, 2))
    simulate(chain, x, 1e-4, threads=2, chunk_size=1)  # MIN_CHUNKS chunks: too few
    loop = Graph(
        {"in": Input((2,)), "n": lif, "w": Affine(np.eye(2) * 0.5, np.zeros(2)), "out": Output()},
        [("in", "n"), ("n", "w"), ("w", "n"), ("n", "out")],
    )
    simulate(loop, np.ones((20, 4, 2)), 1e-4, threads=2, chunk_size=1)
    assert always_pipeline == []


def test_pipelined_stages_run_their_products_on_one_blas_thread(always_pipeline, monkeypatch):
    """numpy's OpenBLAS (the wheels CI installs) has the per-thread setter; each stage sets it
    to 1 for the run and restores it after."""
    setter = local_threads_setter()
    assert setter is not None, "numpy's OpenBLAS has no openblas_set_num_threads_local"
    calls: list[tuple[str, int]] = []

    def spy(n: int) -> int:
        calls.append((threading.current_thread().name, n))
        return setter(n)

    monkeypatch.setattr("nirhub.sim.blas._setter", spy)
    monkeypatch.setattr("nirhub.sim.blas._looked_up", True)
    lif = LIF(tau=[1e-3] * 2, r=[1.0] * 2, v_leak=[0.0] * 2, v_threshold=[1.0] * 2)
    chain = Graph(
        {"in": Input((2,)), "w": Affine(np.eye(2), np.zeros(2)), "n": lif, "out": Output()},
        [("in", "w"), ("w", "n"), ("n", "out")],
    )
    simulate(chain, np.ones((10, 4, 2)), 1e-4, threads=2, chunk_size=1)
    assert always_pipeline, "the run was not pipelined"
    stages = {name for name, n in calls if n == 1}
    assert stages == {threading.current_thread().name, "nirhub-sim-stage"}
    assert len(calls) == 4  # set and restored on each thread
    with one_blas_thread() as done:
        assert done
        assert setter(1) == 1  # (the setter returns the thread's previous count)
