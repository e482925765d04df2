"""Tests of the npjson plugin. Run them where the plugin is installed (``pip install -e .``).

The conformance suite of nirhub does most of the work: it finds the backend through the
``nirhub.backends`` entry point, round-trips a small graph of every NIR primitive through it
(in memory and through its files), checks that Delay and Threshold, which the format does not
define, are refused by name, and that importing the plugin imports no heavy framework.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import nirhub
from nirhub.errors import FileFormatError
from nirhub.testing import BackendConformance, graphs_equal, primitive_graph
from nirhub.testing.graphs import PRIMITIVES


class TestNpjsonConformance(BackendConformance):
    backend_name = "npjson"


class TestNpjsonFloat32(BackendConformance):
    """With float32 storage the round trip is no longer exact, only close."""

    backend_name = "npjson"
    options = {"float32": True}
    rtol = 1e-4
    atol = 1e-5


@pytest.mark.parametrize("type_name", [t for t in PRIMITIVES if t not in ("Delay", "Threshold")])
def test_files_round_trip_exactly(type_name: str, tmp_path: Path) -> None:
    graph = primitive_graph(type_name)
    report = nirhub.convert(graph, to="npjson", output=tmp_path / "m.npjson")
    assert [p.name for p in report.outputs] == ["m.npjson", "m.npz"]
    back = nirhub.to_ir(tmp_path / "m.npjson")
    assert graphs_equal(graph, back)


def test_the_json_names_its_arrays_and_holds_no_pickle(tmp_path: Path) -> None:
    nirhub.convert(primitive_graph("LIF"), to="npjson", output=tmp_path / "m.npjson")
    spec = json.loads((tmp_path / "m.npjson").read_text())
    assert spec["format"] == "nirhub-npjson" and spec["arrays"] == "m.npz"
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert len(data.files) == 5  # tau, r, v_leak, v_threshold, v_reset


def test_arrays_outside_the_folder_are_refused(tmp_path: Path) -> None:
    nirhub.convert(primitive_graph("LIF"), to="npjson", output=tmp_path / "m.npjson")
    spec = json.loads((tmp_path / "m.npjson").read_text())
    spec["arrays"] = "../elsewhere.npz"
    (tmp_path / "m.npjson").write_text(json.dumps(spec))
    with pytest.raises(FileFormatError, match="file name beside it"):
        nirhub.to_ir(tmp_path / "m.npjson")
