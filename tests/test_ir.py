"""The in-memory IR: construction-time validation, graphs, shape inference.

Covers what the reference package's ``tests/test_ir.py`` covers (written anew, keyword
arguments throughout) and the reference behaviours we deliberately do not copy
(``docs/nir-spec.md`` section 4).
"""

from __future__ import annotations

import numpy as np
import pytest

import nirhub as nh
from nirhub.errors import IRError, ShapeError


def lif(n: int = 3, **kw) -> nh.LIF:
    args = dict(tau=np.full(n, 1e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    args.update(kw)
    return nh.LIF(**args)


# -- nodes ------------------------------------------------------------------------------------


def test_node_equality_is_by_value_and_dtype():
    a = nh.Affine(np.eye(2, dtype=np.float32), np.zeros(2, dtype=np.float32))
    b = nh.Affine(np.eye(2, dtype=np.float32), np.zeros(2, dtype=np.float32))
    c = nh.Affine(np.eye(2, dtype=np.float64), np.zeros(2, dtype=np.float32))
    assert a == b
    assert a != c
    assert a != nh.Linear(np.eye(2, dtype=np.float32))


def test_parameters_keep_their_dtype():
    node = nh.CubaLIF(
        tau_syn=np.float64(1e-3),
        tau_mem=np.ones(4, dtype=np.float32),
        r=np.ones(4, dtype=np.float32),
        v_leak=np.zeros(4, dtype=np.int64),
        v_threshold=np.ones(4),
    )
    assert node.tau_mem.dtype == np.float32
    assert node.v_leak.dtype == np.int64
    assert node.shape == (4,)
    assert node.w_in is None and node.v_reset is None


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: lif(tau=np.array([1e-3, -1.0, 1e-3])), "tau"),
        (lambda: lif(v_threshold=np.array([1.0, np.nan, 1.0])), "v_threshold"),
        (lambda: lif(r=np.ones(4)), "r"),
        (lambda: nh.Affine(np.ones((2, 3)), np.ones(3)), "bias"),
        (lambda: nh.Affine(np.ones(3), np.ones(3)), "weight"),
        (lambda: nh.Linear(np.array([[np.inf]])), "weight"),
        (lambda: nh.Linear(np.array([["a"]])), "weight"),
        (lambda: nh.Conv2d(None, np.ones((4, 2, 3, 3)), groups=3), "groups"),
        (lambda: nh.Conv2d(None, np.ones((4, 2, 3, 3)), stride=2, padding="same"), "padding"),
        (lambda: nh.Conv2d(None, np.ones((4, 2, 3, 3)), padding="full"), "padding"),
        (lambda: nh.Conv2d(None, np.ones((4, 2, 3, 3)), stride=0), "stride"),
        (lambda: nh.Conv2d((2, 2), np.ones((4, 2, 3, 3))), "weight"),
        (lambda: nh.Conv1d(None, np.ones((4, 2, 3, 3))), "weight"),
        (lambda: nh.Delay(np.array([-1.0])), "delay"),
        (lambda: nh.CubaLIF(1e-3, -1e-3, 1, 0, 1), "tau_mem"),
        (lambda: nh.Input(np.array([2, 0])), "shape"),
        (lambda: nh.Flatten(input_type=[2, 3], start_dim=3), "start_dim"),
        (lambda: nh.SumPool2d(kernel_size=[2, 2, 2]), "kernel_size"),
    ],
)
def test_bad_parameters_raise_our_error_naming_type_and_field(make, field):
    with pytest.raises(IRError) as info:
        make()
    assert info.value.field == field
    assert field in str(info.value)
    assert info.value.node  # the node type


def test_input_accepts_an_int_and_a_port_dict():
    # the reference crashes on Input(3) (nir-spec 4.6)
    assert nh.Input(3).shape == (3,)
    assert nh.Input({"input": np.array([2, 3])}).shape == (2, 3)


def test_scalar_parameters_broadcast_instead_of_typing_as_empty():
    # nir gives a 0-d parameter the type [] (nir-spec 4.4, #107)
    node = nh.CubaLIF(tau_syn=1e-3, tau_mem=1e-3, r=1.0, v_leak=0.0, v_threshold=np.ones(5))
    assert node.shape == (5,)
    scalar_only = nh.LIF(tau=1e-3, r=1.0, v_leak=0.0, v_threshold=1.0)
    assert scalar_only.shape is None
    g = nh.Graph.from_list(nh.Linear(np.ones((7, 2))), scalar_only)
    shapes = g.infer_shapes()
    assert shapes.input("lif") == (7,) and shapes.output("output") == (7,)


def test_linear_output_type_is_a_tuple_of_ints():
    node = nh.Linear(np.ones((4, 3)))
    assert node.declared_output_shape() == (4,)
    assert node.declared_input_shape() == (3,)


def test_replace_makes_a_new_validated_node():
    node = lif()
    changed = node.replace(v_reset=np.full(3, 0.5))
    assert node.v_reset is None and changed.v_reset is not None
    with pytest.raises(IRError):
        node.replace(tau=np.full(3, -1.0))


# -- convolution and pooling shapes -----------------------------------------------------------


def test_conv1d_shape():
    node = nh.Conv1d(input_shape=100, weight=np.ones((2, 1, 3)), stride=2, padding=1)
    assert node.output_shape((1, 100)) == (2, 50)


def test_conv2d_shape_with_mixed_stride():
    node = nh.Conv2d(None, np.ones((3, 1, 3, 3)), stride=(1, 2), padding=1)
    assert node.output_shape((1, 100, 100)) == (3, 100, 50)


def test_conv2d_non_square_kernel_uses_each_dimension():
    # the reference uses weight.shape[2] for every dimension: 8x8 instead of 8x6
    node = nh.Conv2d(None, np.ones((1, 1, 3, 5)))
    assert node.output_shape((1, 10, 10)) == (1, 8, 6)


def test_conv2d_groups_multiply_input_channels():
    node = nh.Conv2d((8, 8), np.ones((6, 2, 3, 3)), groups=3, padding=1)
    assert node.in_channels == 6
    assert node.declared_input_shape() == (6, 8, 8)
    with pytest.raises(IRError, match="input channels"):
        node.output_shape((2, 8, 8))


def test_same_and_valid_padding():
    same = nh.Conv2d(None, np.ones((2, 2, 3, 5)), padding="same", dilation=2)
    assert same.output_shape((2, 9, 9)) == (2, 9, 9)
    valid = nh.Conv2d(None, np.ones((2, 2, 3, 3)), padding="valid", stride=2)
    assert valid.output_shape((2, 9, 9)) == (2, 4, 4)


def test_conv_with_input_shape_none_infers_from_graph():
    g = nh.Graph.from_list(nh.Input((1, 64)), nh.Conv1d(None, np.ones((2, 1, 4))), nh.Output())
    assert g.infer_shapes().output("output") == (2, 61)
    g2 = nh.Graph.from_list(
        nh.Input((1, 64, 64)), nh.Conv2d(None, np.ones((2, 1, 4, 4))), nh.Output()
    )
    assert g2.infer_shapes().output("output") == (2, 61, 61)


@pytest.mark.parametrize("cls", [nh.SumPool2d, nh.AvgPool2d])
def test_pool_shape_inference(cls):
    g = nh.Graph.from_list(nh.Input((1, 64, 64)), cls(kernel_size=2, stride=2), nh.Output())
    assert g.infer_shapes().output("output") == (1, 32, 32)
    padded = cls(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))
    assert padded.output_shape((4, 9, 9)) == (4, 5, 8)


def test_pool_checks_rank():
    with pytest.raises(IRError, match=r"\(C, H, W\)"):
        nh.SumPool2d(2).output_shape((64,))


# -- flatten ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, start, end, expected",
    [
        ((4, 5, 2), 0, 1, (20, 2)),
        ((2, 3, 4), 1, -1, (2, 12)),
        ((2, 3, 4, 5), 1, -2, (2, 12, 5)),
        ((8, 4, 4), 0, -1, (128,)),
        ((3,), 0, 0, (3,)),
    ],
)
def test_flatten_shapes_without_batch_dimension(shape, start, end, expected):
    node = nh.Flatten(input_type=shape, start_dim=start, end_dim=end)
    assert node.output_shape(shape) == expected


def test_flatten_default_start_dim_is_nirs():
    assert nh.Flatten().output_shape((2, 3, 4)) == (2, 12)


def test_flatten_inference_given_or_inferred():
    g = nh.Graph.from_list(nh.Input((2, 3, 4)), nh.Flatten(start_dim=0), nh.Output())
    assert g.infer_shapes().output("output") == (24,)
    declared = nh.Graph.from_list(nh.Flatten(input_type=(2, 3, 4), start_dim=0), nh.Output())
    assert declared.infer_shapes().output("output") == (24,)


# -- graphs ----------------------------------------------------------------------------------


def test_from_list_naming_and_edges():
    g = nh.Graph.from_list(
        nh.Linear(np.ones((3, 2))),
        nh.Linear(np.ones((3, 3))),
        nh.Affine(np.ones((4, 3)), np.zeros(4)),
        nh.Affine(np.ones((4, 4)), np.zeros(4)),
        nh.Affine(np.ones((4, 4)), np.zeros(4)),
        nh.Affine(np.ones((4, 4)), np.zeros(4)),
    )
    assert list(g.nodes) == [
        "input",
        "linear",
        "linear_1",
        "affine",
        "affine_1",
        "affine_2",
        "affine_3",
        "output",
    ]
    assert g.edges[0] == ("input", "linear") and g.edges[-1] == ("affine_3", "output")
    shapes = g.infer_shapes()
    assert shapes.output("input") == (2,) and shapes.input("output") == (4,)
    assert nh.Graph.from_list([nh.Linear(np.ones((3, 2)))]).edges == [
        ("input", "linear"),
        ("linear", "output"),
    ]


def test_inference_does_not_mutate_unless_asked():
    g = nh.Graph.from_list(
        nh.Input((1, 8, 8)),
        nh.Conv2d(None, np.ones((2, 1, 3, 3))),
        nh.Flatten(start_dim=0),
        nh.Output(),
    )
    before = (list(g.nodes), list(g.edges))
    g.infer_shapes()
    assert (list(g.nodes), list(g.edges)) == before
    assert g.nodes["conv2d"].input_shape is None and g.nodes["output"].shape is None
    g.infer_shapes(inplace=True)
    assert list(g.nodes) == before[0] and g.edges == before[1]  # never adds nodes
    assert g.nodes["conv2d"].input_shape == (8, 8)
    assert g.nodes["flatten"].input_type == (2, 6, 6)
    assert g.nodes["output"].shape == (72,)


def test_graph_without_ports_reports_them_missing_instead_of_adding_nodes():
    g = nh.Graph(
        {
            "a": nh.Affine(np.ones((3, 2)), np.zeros(3)),
            "b": nh.Affine(np.ones((2, 3)), np.zeros(2)),
        },
        [("a", "b")],
    )
    kinds = {p.kind for p in g.problems()}
    assert "missing-port" in kinds
    assert list(g.nodes) == ["a", "b"]


def test_validate_reports_all_problems_at_once():
    g = nh.Graph(
        {
            "in": nh.Input(3),
            "a": nh.Linear(np.ones((2, 4))),  # expects 4, gets 3
            "orphan": lif(2),  # unreachable
            "out": nh.Output(5),  # gets 2
        },
        [("in", "a"), ("a", "out"), ("a", "ghost"), ("out", "in")],
    )
    with pytest.raises(IRError) as info:
        g.validate()
    kinds = [p.kind for p in info.value.problems]
    for kind in (
        "dangling-edge",
        "shape-mismatch",
        "unreachable",
        "edge-into-input",
        "edge-from-output",
    ):
        assert kind in kinds, kinds
    text = str(info.value)
    assert "ghost" in text and "orphan" in text


def test_recurrent_graph_is_valid_and_back_edges_are_checked():
    g = nh.Graph(
        {
            "input": nh.Input(3),
            "fc": nh.Linear(np.ones((4, 3))),
            "lif": lif(4),
            "rec": nh.Linear(np.ones((4, 4))),
            "output": nh.Output(4),
        },
        [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
    )
    g.validate()
    bad = g.replace(nodes={**g.nodes, "rec": nh.Linear(np.ones((16, 4)))})
    problems = bad.problems()
    assert any(p.kind == "shape-mismatch" and "rec" in p.message for p in problems)


def test_recurrent_on_first_node_with_explicit_input():
    g = nh.Graph(
        {"in": nh.Input(2), "lif": lif(2), "d": nh.Delay(np.full(2, 1e-3)), "out": nh.Output()},
        [("in", "lif"), ("lif", "d"), ("d", "lif"), ("lif", "out")],
    )
    g.validate()


def test_fan_in_requires_equal_shapes():
    nodes = {
        "in": nh.Input(3),
        "a": nh.Linear(np.ones((2, 3))),
        "b": nh.Linear(np.ones((2, 3))),
        "sum": lif(2),
        "out": nh.Output(2),
    }
    edges = [("in", "a"), ("in", "b"), ("a", "sum"), ("b", "sum"), ("sum", "out")]
    nh.Graph(nodes, edges).validate()
    nodes["b"] = nh.Linear(np.ones((5, 3)))
    assert any(p.kind == "shape-mismatch" for p in nh.Graph(nodes, edges).problems())


def test_residual_and_complex_dags():
    g = nh.Graph(
        {
            "in": nh.Input(4),
            "a": nh.Affine(np.eye(4), np.zeros(4)),
            "l1": lif(4),
            "b": nh.Affine(np.eye(4), np.zeros(4)),
            "l2": lif(4),
            "out": nh.Output(),
        },
        [("in", "a"), ("a", "l1"), ("l1", "b"), ("b", "l2"), ("l1", "l2"), ("l2", "out")],
    )
    assert g.infer_shapes().output("out") == (4,)
    g.validate()


def nested_graph() -> nh.Graph:
    inner = nh.Graph(
        {
            "input": nh.Input(4),
            "lif": lif(4),
            "w_rec": nh.Linear(np.ones((4, 4))),
            "output": nh.Output(),
        },
        [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    return nh.Graph(
        {
            "in": nh.Input(3),
            "fc": nh.Affine(np.ones((4, 3)), np.zeros(4)),
            "rnn": inner,
            "out": nh.Output(),
        },
        [("in", "fc"), ("fc", "rnn"), ("rnn", "out")],
    )


def test_nested_graph_shapes_and_addressing():
    g = nested_graph()
    g.validate()
    shapes = g.infer_shapes()
    assert shapes.output("out") == (4,)
    assert shapes.input("rnn.lif") == (4,)
    assert shapes["rnn"] == ((4,), (4,))
    assert isinstance(g.find("rnn.lif"), nh.LIF)
    assert [p for p, _ in g.walk()][:4] == ["in", "fc", "rnn", "rnn.input"]
    assert g.num_neurons() == 4
    assert g.num_synapses() == 12 + 16


def test_nested_graph_with_untyped_input_gets_shape_from_outside():
    g = nested_graph()
    inner = g.nodes["rnn"].replace(nodes={**g.nodes["rnn"].nodes, "output": nh.Output(None)})
    g = g.replace(nodes={**g.nodes, "rnn": inner})
    assert g.infer_shapes().output("out") == (4,)


def test_edges_into_named_subgraph_ports():
    inner = nh.Graph(
        {"a": nh.Input(2), "b": nh.Input(2), "s": lif(2), "o": nh.Output()},
        [("a", "s"), ("b", "s"), ("s", "o")],
    )
    g = nh.Graph(
        {"in": nh.Input(2), "sub": inner, "out": nh.Output()},
        [("in", "sub.a"), ("in", "sub.b"), ("sub", "out")],
    )
    g.validate()
    ambiguous = nh.Graph(
        {"in": nh.Input(2), "sub": inner, "out": nh.Output()},
        [("in", "sub"), ("sub", "out")],
    )
    assert any("name the port" in p.message for p in ambiguous.problems())


def test_exact_names_with_dots_win_over_nesting():
    g = nh.Graph(
        {"input": nh.Input(2), "lif1.lif": lif(2), "output": nh.Output()},
        [("input", "lif1.lif"), ("lif1.lif", "output")],
    )
    g.validate()
    assert isinstance(g.find("lif1.lif"), nh.LIF)


def test_infer_shapes_raises_shape_error_listing_problems():
    g = nh.Graph.from_list(nh.Input(3), nh.Linear(np.ones((2, 4))), nh.Output())
    with pytest.raises(ShapeError) as info:
        g.infer_shapes()
    assert "linear" in str(info.value)


def test_graph_rejects_non_nodes():
    with pytest.raises(IRError, match="not a nirhub node"):
        nh.Graph({"a": object()}, [])


def test_graph_editing():
    g = nested_graph()
    g.rename_node("fc", "dense")
    assert ("in", "dense") in g.edges and "fc" not in g.nodes
    g.remove_node("dense")
    assert all("dense" not in e for e in g.edges)


def test_reset_mode_resolution():
    g = nested_graph()
    assert nh.reset_mode(g, "rnn.lif") == "zero"
    nh.set_reset(g.metadata, "subtract")
    assert nh.reset_mode(g, "rnn.lif") == "subtract"
    inner = g.nodes["rnn"]
    inner.nodes["lif"] = inner.nodes["lif"].replace(metadata={"nirhub": {"reset": "zero"}})
    assert nh.reset_mode(g, "rnn.lif") == "zero"
    assert nh.reset_mode(g, "rnn.lif", override="subtract") == "subtract"
    nh.set_dt(g.metadata, 1e-4)
    assert nh.get_dt(g) == 1e-4
