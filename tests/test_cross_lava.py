"""The Lava and Loihi 2 backends reached from this interpreter through their worker
environment (Python 3.10), as a user's hub reaches them.

Collected only in the nox session ``cross-backend`` (see ``conftest.py``), where the
``plugins/nirhub-lava`` environment is registered as a worker. Checks: the paper's LIF task
gives the exact solution's spikes (460, 510, 710, 760) with both backends after the
documented one-step latency; the Loihi 2 conversion writes the netx artifact and brings the
resource report (neurons, cores, quantization) back across the protocol; an unsupported
setting comes back as the same error type, naming the node.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

import nirhub
from nirhub.errors import UnsupportedError
from nirhub.hub.convert import convert, simulate_with_backend
from nirhub.hub.registry import default_registry

LIF = ROOT / "tests" / "data" / "corpus" / "lif"


@pytest.fixture(scope="module")
def lif_task():
    graph = nirhub.read(LIF / "lif_norse.nir")
    x = np.loadtxt(LIF / "lif_exact.csv", delimiter=",")[:, :1]
    return graph, x


@pytest.mark.parametrize("backend", ["lava", "loihi2"])
def test_lif_task_through_the_worker(backend, lif_task):
    registry = default_registry()
    assert registry.status(backend).location != "local"
    graph, x = lif_task
    res = simulate_with_backend(graph, x, 1e-4, backend, registry=registry)
    assert np.nonzero(res["output"][:, 0])[0].tolist() == [460, 510, 710, 760]
    assert res.conventions["latency"] == {"1": 1}


def test_loihi2_artifact_and_report_through_the_worker(lif_task, tmp_path):
    report = convert(LIF / "lif_norse.nir", to="loihi2", output=tmp_path / "lif.net", dt=1e-4)
    assert [p.name for p in report.outputs] == ["lif.net"]
    assert (tmp_path / "lif.net").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert report.report["neurons"] == 1
    assert report.report["neuro-cores (estimate)"] == 1
    assert report.report["quantization"]["1"]["dv"] == 164


def test_refusal_comes_back_by_node(lif_task):
    graph, x = lif_task
    with pytest.raises(UnsupportedError) as info:
        simulate_with_backend(graph, x[:10], 1e-4, "lava", reset="subtract")
    assert "1" in {p.where for p in info.value.problems}
