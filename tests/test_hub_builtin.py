"""The built-in ``nir`` backend: the conformance suite, plus what only a lossless format can do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nirhub
from nirhub.errors import RefusedError, UsageError
from nirhub.hub.registry import make_registry
from nirhub.testing import BackendConformance, graphs_equal, primitive_graph
from nirhub.testing.graphs import DT, PRIMITIVES, random_inputs, simulate_outputs


class TestNirBackend(BackendConformance):
    backend_name = "nir"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("NIRHUB_CONFIG", str(tmp_path / "environments.json"))
    return make_registry(plugins=False, environments=False)


@pytest.mark.parametrize("type_name", PRIMITIVES)
def test_file_round_trip_is_exact(type_name: str, registry, tmp_path: Path) -> None:
    graph = primitive_graph(type_name)
    be = registry.get("nir")
    written = be.save(be.from_ir(graph), tmp_path / "g.nir")
    assert written == [tmp_path / "g.nir"]
    back = be.to_ir(be.load(tmp_path / "g.nir"))
    assert graphs_equal(graph, back), f"{type_name}: {graph.nodes} != {back.nodes}"


def test_run_hook_is_the_reference_simulator(registry) -> None:
    graph = primitive_graph("LIF")
    inputs = random_inputs(graph)
    result = nirhub.hub.convert.simulate_with_backend(
        graph, inputs, DT, "nir", registry=registry, method="exact"
    )
    expected = simulate_outputs(graph, inputs, DT, method="exact")
    np.testing.assert_array_equal(result.outputs["output"], expected[0])
    euler = simulate_outputs(graph, inputs, DT)
    assert not np.array_equal(euler[0], expected[0]), "the method option had no effect"


def test_alias_reaches_the_builtin(registry) -> None:
    assert registry.get("nir-file") is registry.get("nir")


def test_weights_do_not_apply_to_nir_files(registry, tmp_path: Path) -> None:
    path = tmp_path / "g.nir"
    nirhub.write(primitive_graph("LIF"), path)
    with pytest.raises(UsageError, match="--weights"):
        registry.get("nir").load(path, weights=tmp_path / "w.pt")


def test_writer_refuses_overwrite_through_convert(registry, tmp_path: Path) -> None:
    src = tmp_path / "a.nir"
    nirhub.write(primitive_graph("LIF"), src)
    out = tmp_path / "b.nir"
    out.write_bytes(b"precious")
    with pytest.raises(RefusedError):
        nirhub.convert(src, to="nir", output=out, registry=registry)
    assert out.read_bytes() == b"precious"
