"""The reference simulator's threaded copies and element-wise work (``nirhub.sim.parallel``).

Splitting must never change a bit: every split result is compared with the unsplit one as
raw bytes, on inputs of random magnitudes (a changed order of operations would show). The
fixture ``split_everything`` lowers the least part size to one element, so that small test
arrays take the threaded path that only large arrays take in real runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nirhub
from nirhub.errors import UsageError
from nirhub.ir import (
    IF,
    LI,
    LIF,
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLI,
    CubaLIF,
    Flatten,
    Graph,
    I,
    Input,
    Output,
    SumPool2d,
)
from nirhub.ir.conventions import set_reset, set_variant
from nirhub.ir.graph import flatten
from nirhub.sim import engine, parallel, simulate
from nirhub.sim.conv import ConvOp, pool2d
from nirhub.sim.parallel import SERIAL, Splitter

CORPUS = Path(__file__).parent / "data" / "corpus"


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
    )


def wild(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Random values over 12 orders of magnitude, both signs."""
    return (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 6, shape)).astype(dtype)


@pytest.fixture
def split_everything(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART", 1)
    # acyclic graphs would run as a pipeline (tests/test_sim_pipeline.py): split their ops
    monkeypatch.setattr(engine, "PIPELINE_ACYCLIC", False)


# -- the splitter -------------------------------------------------------------------------------


def test_ranges_are_near_equal_parts_of_at_least_min_part():
    s = Splitter(3, min_part=10)
    assert s.ranges(10, 1000) == [(0, 3), (3, 6), (6, 10)]
    assert s.ranges(2, 1000) == [(0, 1), (1, 2)]  # never more parts than items
    assert s.ranges(10, 25) == [(0, 5), (5, 10)]  # 25 elements: two parts of >= 10
    assert s.ranges(10, 19) == [(0, 10)]
    assert Splitter(1).ranges(10, 10**9) == [(0, 10)] == SERIAL.ranges(10, 10**9)


def test_parts_run_at_the_same_time_on_two_threads():
    both_inside = threading.Barrier(2, timeout=10)  # a part waits until the other one runs
    done, threads = [], set()

    def part(lo, hi):
        threads.add(threading.get_ident())
        both_inside.wait()
        done.append((lo, hi))

    Splitter(2, min_part=1).run(part, 8, 8)
    assert sorted(done) == [(0, 4), (4, 8)] and len(threads) == 2


def test_the_caller_does_every_part_when_the_pool_is_busy():
    """A pool thread that is not free (or not scheduled on a busy machine) is not waited for:
    the calling thread takes the parts nobody started."""
    release = threading.Event()
    pool = parallel._executor(1)
    blockers = [pool.submit(release.wait, 10) for _ in range(parallel._pool_workers)]
    try:
        threads = []
        Splitter(2, min_part=1).run(lambda lo, hi: threads.append(threading.get_ident()), 8, 8)
        assert threads == [threading.get_ident()] * 2
    finally:
        release.set()
        for blocker in blockers:
            blocker.result()


def test_errors_of_a_part_reach_the_caller_after_every_part_ended():
    finished = []

    def part(lo, hi):
        if lo == 0:
            raise ValueError("part 0 failed")
        finished.append(lo)

    with pytest.raises(ValueError, match="part 0 failed"):
        Splitter(3, min_part=1).run(part, 9, 9)
    assert sorted(finished) == [3, 6]


def test_a_part_does_not_split_again():
    inner = []

    def part(lo, hi):
        Splitter(2, min_part=1).run(lambda a, b: inner.append((a, b)), 4, 4)

    Splitter(2, min_part=1).run(part, 2, 2)
    assert inner == [(0, 4), (0, 4)]


def test_one_thread_by_default(monkeypatch):
    """Nothing is split unless asked for (splitting did not pay on the machine measured)."""
    seen = set()
    ranges = Splitter.ranges

    def spy(self, n, size):
        seen.add(self.threads)
        return ranges(self, n, size)

    monkeypatch.setattr(Splitter, "ranges", spy)
    g = Graph({"in": Input((2,)), "n": LIF(tau=[1e-3] * 2, r=[1.0] * 2, v_leak=[0.0] * 2,
               v_threshold=[1.0] * 2), "out": Output()}, [("in", "n"), ("n", "out")])  # fmt: skip
    simulate(g, np.ones((3, 4, 2)), 1e-4)
    assert seen == {1}
    monkeypatch.setattr(engine, "PIPELINE_ACYCLIC", False)
    simulate(g, np.ones((3, 4, 2)), 1e-4, threads=2)
    assert seen == {1, 2}


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_simulate_refuses_a_bad_thread_count(bad):
    g = Graph({"in": Input((2,)), "out": Output()}, [("in", "out")])
    with pytest.raises(UsageError, match="threads"):
        simulate(g, np.zeros((3, 2)), 1.0, threads=bad)


# -- operations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_convolutions_are_bit_identical(dtype):
    rng = np.random.default_rng(21)
    cases = [
        # (c_in, c_out, kernel, stride, padding, dilation, n, spatial, bias): large and small
        (2, 16, (5, 5), (1, 1), 1, (1, 1), 48, (34, 34), True),
        (16, 32, (3, 3), (2, 2), 1, (1, 1), 48, (16, 16), False),
        (3, 8, (4, 3), (1, 2), "same", (2, 1), 160, (20, 21), True),
        (4, 16, (3,), (1,), 2, (2,), 64, (700,), True),
        (2, 4, (3, 3), (1, 1), 0, (1, 1), 5, (6, 6), True),
    ]  # fmt: skip
    for c_in, c_out, k, stride, padding, dilation, n, spatial, with_bias in cases:
        w = wild(rng, (c_out, c_in, *k), dtype)
        bias = wild(rng, (c_out,), dtype) if with_bias else None
        x = wild(rng, (n, c_in, *spatial), dtype)
        want = ConvOp(w, bias, stride, padding, dilation, 1, np.dtype(dtype))(x)
        for threads in (2, 3):
            split = Splitter(threads, min_part=1)
            op = ConvOp(w, bias, stride, padding, dilation, 1, np.dtype(dtype), split)
            assert same_bits(op(x), want), (c_in, c_out, k, threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_pooling_is_bit_identical(dtype):
    rng = np.random.default_rng(22)
    cases = [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 0)),
             ((1, 4), (1, 4), (0, 0)), ((2, 9), (2, 3), (0, 1))]  # fmt: skip
    x = wild(rng, (7, 3, 12, 13), dtype)
    for kernel, stride, padding in cases:
        for average in (False, True):
            want = pool2d(x, kernel, stride, padding, average)
            for threads in (2, 3):
                got = pool2d(x, kernel, stride, padding, average, Splitter(threads, min_part=1))
                assert same_bits(got, want), (kernel, stride, padding, average, threads)


# -- whole simulations --------------------------------------------------------------------------


def _neuron_nodes(n: int) -> dict[str, object]:
    rng = np.random.default_rng(23)

    def pos(lo, hi):
        return rng.uniform(lo, hi, n)

    nodes: dict[str, object] = {
        "i": I(r=pos(50, 200)),
        "li": LI(tau=pos(2e-3, 9e-3), r=pos(0.5, 2), v_leak=pos(-0.1, 0.1)),
        "cubali": CubaLI(tau_syn=pos(2e-3, 5e-3), tau_mem=pos(5e-3, 9e-3), r=pos(1, 3),
                         v_leak=pos(0, 0.1), w_in=pos(1, 2)),
    }  # fmt: skip
    for reset in ("zero", "subtract", "subtract-delayed", "subtract-guarded"):
        node = LIF(tau=pos(2e-3, 9e-3), r=pos(5, 20), v_leak=pos(-0.1, 0.1),
                   v_threshold=pos(0.5, 1.5), v_reset=pos(-0.2, 0.0))  # fmt: skip
        set_reset(node.metadata, reset)
        nodes[f"lif_{reset}"] = node
    # reset to +0.0 (no v_reset) clears bits instead of copying; input gain 1 skips a product
    nodes["lif_plain"] = LIF(tau=np.full(n, 8e-3), r=np.full(n, 8.0), v_leak=np.zeros(n),
                             v_threshold=np.ones(n))  # fmt: skip
    variants = {
        "multi": {"spikes": "multi", "threshold": ">=", "max_spikes": 3},
        "vmin": {"v_min": -0.5},
    }
    for name, variant in variants.items():
        node = IF(r=pos(50, 200), v_threshold=pos(0.5, 1.5))
        set_reset(node.metadata, "subtract")
        set_variant(node.metadata, **variant)
        nodes[f"if_{name}"] = node
    for disc in ("staged", None):
        node = CubaLIF(tau_syn=pos(2e-3, 5e-3), tau_mem=pos(5e-3, 9e-3), r=pos(1, 3),
                       v_leak=pos(0, 0.1), v_threshold=pos(0.2, 0.6), w_in=pos(1, 2))  # fmt: skip
        if disc:
            set_variant(node.metadata, discretization=disc)
        nodes[f"cubalif_{disc}"] = node
    return nodes


def neuron_fanout(n: int, rng: np.random.Generator) -> tuple[Graph, dict[str, Any]]:
    """One Affine feeding every neuron type and variant of :func:`_neuron_nodes` (each to its
    own Output): the graph and the neurons by name."""
    neurons = _neuron_nodes(n)
    nodes = {"in": Input((n,)), "w": Affine(wild(rng, (n, n)) * 1e-5 + 0.3, wild(rng, (n,)))}
    edges = [("in", "w")]
    for name, node in neurons.items():
        nodes[name] = node
        nodes[f"{name}_out"] = Output()
        edges += [("w", name), (name, f"{name}_out")]
    return Graph(nodes, edges), neurons


@pytest.mark.parametrize("method", ["euler", "exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_neuron_type_gives_the_same_bits_on_several_threads(split_everything, method, dtype):
    n = 6
    rng = np.random.default_rng(24)
    g, neurons = neuron_fanout(n, rng)
    x = rng.uniform(-1, 3, (40, 5, n)).astype(dtype)  # batch 5: parts of unequal size
    record = list(neurons) + ["w"]
    for chunk in (None, 7):  # the chunk changes the matrix products' M: compared chunk by chunk
        want = simulate(g, x, 1e-3, method=method, dtype=dtype, record=record, threads=1,
                        chunk_size=chunk)  # fmt: skip
        for threads in (2, 3):
            got = simulate(g, x, 1e-3, method=method, dtype=dtype, record=record,
                           threads=threads, chunk_size=chunk)  # fmt: skip
            for name in got.outputs:
                assert same_bits(got[name], want[name]), (name, threads, chunk)
            for path in record:
                for var, value in want.recorded[path].items():
                    assert same_bits(got.recorded[path][var], value), (path, var, threads)


def _conv_net() -> Graph:
    """Conv1d/Conv2d with and without bias, sum and average pooling, LIF layers."""
    rng = np.random.default_rng(25)

    def lif(shape):
        return LIF(tau=np.full(shape, 8e-3), r=np.full(shape, 8.0), v_leak=np.zeros(shape),
                   v_threshold=np.ones(shape), v_reset=np.zeros(shape))  # fmt: skip

    nodes = {
        "in": Input((2, 12, 12)),
        "c1": Conv2d((12, 12), wild(rng, (6, 2, 3, 3)) * 1e-3 + 0.2, padding=1,
                     bias=wild(rng, (6,))),
        "l1": lif((6, 12, 12)),
        "p1": SumPool2d(2),
        "c2": Conv2d((6, 6), wild(rng, (4, 6, 3, 3)) * 1e-3 + 0.1, stride=2, padding=1),
        "l2": lif((4, 3, 3)),
        "p2": AvgPool2d(1),
        "flat": Flatten((4, 3, 3), 0),
        "fc": Affine(wild(rng, (5, 36)) * 1e-3 + 0.1, wild(rng, (5,))),
        "l3": lif((5,)),
        "out": Output(),
        "in1": Input((3, 20)),
        "c3": Conv1d(20, wild(rng, (4, 3, 5)) * 1e-3 + 0.1, padding=2, bias=wild(rng, (4,))),
        "l4": lif((4, 20)),
        "out1": Output(),
    }  # fmt: skip
    chain = ["in", "c1", "l1", "p1", "c2", "l2", "p2", "flat", "fc", "l3", "out"]
    edges = list(zip(chain[:-1], chain[1:], strict=True))
    edges += [("in1", "c3"), ("c3", "l4"), ("l4", "out1")]
    return Graph(nodes, edges)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_nets_give_the_same_bits_on_several_threads(split_everything, dtype):
    rng = np.random.default_rng(26)
    cases = [(_conv_net(), 1e-3, {"in": (2, 12, 12), "in1": (3, 20)}, 0.3)]
    corpus = nirhub.read(CORPUS / "cnn" / "cnn_sinabs.nir")
    cases.append((corpus, 1.0, {"input": (2, 34, 34)}, 0.3))
    for graph, dt, shapes, rate in cases:
        record = list(flatten(graph).nodes)
        for batch in (1, 3):
            x = {k: rng.poisson(rate, (12, batch, *s)).astype(dtype) for k, s in shapes.items()}
            for threads, chunk in ((2, None), (3, 5)):
                want = simulate(graph, x, dt, dtype=dtype, record=record, threads=1,
                                chunk_size=chunk)  # fmt: skip
                got = simulate(graph, x, dt, dtype=dtype, record=record, threads=threads,
                               chunk_size=chunk)  # fmt: skip
                for name in want.outputs:
                    assert same_bits(got[name], want[name]), (name, batch, threads)
                for path in record:
                    for var, value in want.recorded[path].items():
                        assert same_bits(got.recorded[path][var], value), (path, var, batch)
