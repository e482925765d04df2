"""The helpers the code-generating torch plugins share (``nirhub.backend``): torch layers both
ways, the module-graph walk of the exporters, and the run hooks' input and output layout."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.backend import (
    TORCH_LAYER_TYPES,
    ModuleRefused,
    UnsupportedError,
    UsageError,
    generated_tensors,
    helpers_used,
    make_graph_plan,
    modules_to_nodes,
    raise_export_problems,
    recordable_steps,
    time_major,
    to_time_major,
    torch_layer,
    weights_prelude,
)
from nirhub.ir import NEURON_TYPES, TYPE_NAMES, Linear
from nirhub.testing import affine_mlp, primitive_graph

STATELESS = sorted(TORCH_LAYER_TYPES - {"Input", "Output", "NIRGraph"})


def test_torch_layer_types_are_the_stateless_types_and_the_ports() -> None:
    assert TORCH_LAYER_TYPES <= set(TYPE_NAMES)
    assert not TORCH_LAYER_TYPES & (NEURON_TYPES | {"Delay", "Threshold"})
    assert set(TYPE_NAMES) - TORCH_LAYER_TYPES == NEURON_TYPES | {"Delay", "Threshold"}


@pytest.mark.parametrize("type_name", STATELESS)
def test_every_stateless_type_has_a_layer_whose_tensors_it_names(type_name: str) -> None:
    plan = make_graph_plan(primitive_graph(type_name), "test")
    (step,) = [s for s in plan.steps.values() if s.type_name == type_name]
    layer = torch_layer(step, "NIR node")
    assert layer is not None and layer.comment.startswith("NIR node")
    for key, tensor in layer.tensors.items():
        assert key.startswith(f"{step.name}.") and tensor.dtype == np.float32
    uses = helpers_used([layer.ctor])
    assert uses == {"Linear": ["linear"], "Affine": ["linear"], "Scale": ["Scale"]}.get(
        type_name, ["conv"] if type_name.startswith("Conv") else []
    )


def test_neurons_are_left_to_the_plugin() -> None:
    plan = make_graph_plan(affine_mlp(), "test")
    assert torch_layer(plan.steps["lif"], "") is None
    tensors = generated_tensors([torch_layer(plan.steps["fc"], "")], plan)
    assert set(tensors) == {"fc.weight", "fc.bias"}  # a chain: no rest outputs


def test_the_weights_prelude_is_code() -> None:
    source = weights_prelude(1e-4, "net.pt")
    compile("import os, torch\n" + source, "<prelude>", "exec")
    assert "DT = 0.0001" in source and "'net.pt'" in source


def test_time_major_reads_one_input_with_or_without_a_batch_axis() -> None:
    x = np.zeros((7, 3))
    got, batched = time_major({"in": x}, (3,))
    assert got.shape == (7, 1, 3) and not batched
    got, batched = time_major(np.zeros((7, 2, 3)), (3,))
    assert got.shape == (7, 2, 3) and batched
    with pytest.raises(UsageError, match="does not fit"):
        time_major(np.zeros((7, 4)), (3,))
    with pytest.raises(UsageError, match="one input; got 2"):
        time_major({"a": x, "b": x}, (3,))
    out = np.arange(6.0).reshape(1, 3, 2)  # (B, T, n)
    assert to_time_major(out, False).shape == (3, 2)
    assert to_time_major(out, True, spikes=True).dtype == bool


def test_recording_an_unknown_node_lists_what_can_be_recorded() -> None:
    plan = make_graph_plan(affine_mlp(), "test")
    assert list(recordable_steps(plan, ("lif",), "toy")) == ["lif"]
    with pytest.raises(UsageError, match="no such node in the toy model") as info:
        recordable_steps(plan, ("output",), "toy")
    assert info.value.hint == "Recordable: fc, lif."


def test_the_module_walk_refuses_every_module_at_once_and_drops_identities() -> None:
    w = np.ones((2, 3), np.float32)

    def convert(name: str, module: object, shape: tuple[int, ...]):
        if module == "identity":
            return None, shape
        if module == "linear":
            return Linear(w), (2,)
        raise ModuleRefused(f"{module} is not a layer")

    items = [("a", "identity"), ("b", "linear")]
    chain = [("input", "a"), ("a", "b"), ("b", "output")]
    converted = modules_to_nodes(items, chain, (3,), convert)
    assert not converted.problems
    assert converted.edges == [("input", "b"), ("b", "output")]
    assert converted.nodes["output"].shape == (2,)

    items = [("a", "lstm"), ("b", "gru"), ("c", "linear")]
    edges = [("input", "a"), ("a", "b"), ("c", "c"), ("c", "output")]  # c feeds only itself
    problems = modules_to_nodes(items, edges, (3,), convert).problems
    assert [(p.where, p.message) for p in problems] == [
        ("a", "str: lstm is not a layer"),
        ("b", "str: gru is not a layer"),
        ("c", "is not connected to the input"),
    ]
    with pytest.raises(UnsupportedError, match="cannot export 3 module"):
        raise_export_problems(problems, "toy")
    raise_export_problems([], "toy")  # nothing to say
