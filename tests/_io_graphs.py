"""Graphs used by the file-format tests: one with every primitive, random small graphs."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import nirhub as nh
from nirhub._names import name_problem


def every_primitive_graph(*, cuba_li: bool = True, v_reset: bool = True) -> nh.Graph:
    """A valid graph that uses every NIR primitive once (keyword arguments throughout).

    Chain: input [2,10,10] -> conv2d -> sumpool -> avgpool -> flatten -> affine -> lif -> linear
    -> scale -> delay -> threshold -> i -> if -> li -> cubalif -> cubali -> output; Conv1d needs a
    (C, L) input, so it sits on its own input. The kernel is square because nir's type inference
    gets non-square kernels wrong (spec §4.1), and nir must be able to read this graph.
    """
    rng = np.random.default_rng(1)
    f32 = np.float32
    nodes: dict[str, nh.Node] = {
        "input": nh.Input(shape=[2, 10, 10]),
        "conv2d": nh.Conv2d(
            input_shape=(10, 10),
            weight=rng.standard_normal((4, 2, 3, 3)).astype(f32),
            stride=(1, 1),
            padding=(1, 1),
            dilation=1,
            groups=1,
            bias=np.zeros(4, f32),
        ),
        "sumpool": nh.SumPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)),
        "avgpool": nh.AvgPool2d(kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)),
        "flatten": nh.Flatten(input_type=[4, 5, 5], start_dim=0, end_dim=-1),
        "affine": nh.Affine(weight=rng.standard_normal((8, 100)), bias=rng.standard_normal(8)),
        "lif": nh.LIF(
            tau=np.full(8, 0.01),
            r=np.ones(8),
            v_leak=np.zeros(8),
            v_threshold=np.ones(8),
            v_reset=np.full(8, 0.1) if v_reset else None,
        ),
        "linear": nh.Linear(weight=rng.standard_normal((6, 8)).astype(f32)),
        "scale": nh.Scale(scale=np.arange(1, 7, dtype=np.float64)),
        "delay": nh.Delay(delay=np.full(6, 1e-3)),
        "threshold": nh.Threshold(threshold=np.full(6, 0.5)),
        "i": nh.I(r=np.ones(6)),
        "if": nh.IF(r=np.ones(6), v_threshold=np.ones(6), v_reset=np.zeros(6) if v_reset else None),
        "li": nh.LI(tau=np.full(6, 0.02), r=np.ones(6), v_leak=np.zeros(6)),
        "cubalif": nh.CubaLIF(
            tau_syn=np.full(6, 0.005),
            tau_mem=np.full(6, 0.01),
            r=np.ones(6),
            v_leak=np.zeros(6),
            v_threshold=np.ones(6),
            v_reset=np.zeros(6) if v_reset else None,
            w_in=np.full(6, 2.0),
        ),
        "output": nh.Output(shape=[6]),
        "input1d": nh.Input(shape=[3, 20]),
        "conv1d": nh.Conv1d(
            input_shape=20,
            weight=rng.standard_normal((2, 3, 4)),
            stride=2,
            padding=1,
            dilation=1,
            groups=1,
            bias=np.ones(2),
        ),
        "output1d": nh.Output(shape=[2, 10]),
    }
    chain = [
        "input",
        "conv2d",
        "sumpool",
        "avgpool",
        "flatten",
        "affine",
        "lif",
        "linear",
        "scale",
        "delay",
        "threshold",
        "i",
        "if",
        "li",
        "cubalif",
    ]
    edges = list(zip(chain[:-1], chain[1:], strict=False))
    if cuba_li:
        nodes["cubali"] = nh.CubaLI(
            tau_syn=np.full(6, 0.005),
            tau_mem=np.full(6, 0.01),
            r=np.ones(6),
            v_leak=np.zeros(6),
            w_in=np.ones(6),
        )
        edges += [("cubalif", "cubali"), ("cubali", "output")]
    else:
        edges += [("cubalif", "output")]
    edges += [("input1d", "conv1d"), ("conv1d", "output1d")]
    return nh.Graph(nodes, edges)


names = st.text(
    st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))
#: node names: no control or bidi characters either (files may not hold them, docs/security.md)
node_name_strategy = names.filter(lambda s: name_problem(s) is None)


@st.composite
def random_graphs(draw):
    n = draw(st.integers(1, 6))
    size = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    node_names = draw(st.lists(node_name_strategy, min_size=n, max_size=n, unique=True))
    kinds = draw(
        st.lists(
            st.sampled_from(["scale", "lif", "affine", "input", "output", "graph"]),
            min_size=n,
            max_size=n,
        )
    )
    nodes = {}
    for name, kind in zip(node_names, kinds, strict=False):
        one = np.ones(size, dtype)
        if kind == "scale":
            nodes[name] = nh.Scale(scale=one)
        elif kind == "lif":
            nodes[name] = nh.LIF(
                tau=one,
                r=one,
                v_leak=one * 0,
                v_threshold=one,
                v_reset=draw(st.sampled_from([None, one * 0])),
            )
        elif kind == "affine":
            nodes[name] = nh.Affine(weight=np.ones((size, size), dtype), bias=one)
        elif kind == "input":
            nodes[name] = nh.Input(shape=[size])
        elif kind == "output":
            nodes[name] = nh.Output(draw(st.sampled_from([None, [size]])))
        else:
            nodes[name] = nh.Graph(
                {"input": nh.Input([size]), "output": nh.Output([size])}, [("input", "output")]
            )
    edges = draw(
        st.lists(
            st.tuples(st.sampled_from(node_names + ["missing"]), st.sampled_from(node_names)),
            max_size=8,
        )
    )
    # metadata strings: no NUL (HDF5 strings cannot hold it; the writer refuses it by name:
    # tests/test_io_fast.py)
    text = st.characters(codec="utf-8", exclude_characters="\x00")
    md = draw(
        st.dictionaries(
            names,
            st.one_of(
                st.integers(-5, 5),
                st.floats(allow_nan=False),
                st.text(text, max_size=5),
                st.booleans(),
                st.lists(st.text(text, max_size=3), max_size=3),
            ),
            max_size=3,
        )
    )
    return nh.Graph(nodes, edges, metadata=md)
