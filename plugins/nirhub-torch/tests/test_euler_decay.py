"""Forward Euler with dt >= tau (issue 14): Norse 1.1.0's own exporter writes
``tau = dt/tau_mem_inv`` (1e-5 s at dt = 0.01 s), a decay of -999. The torch backend refuses it,
naming the node and the fix, instead of running it; the exact method runs it."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.errors import UnsupportedError
from nirhub.hub.convert import convert, simulate_with_backend
from nirhub.ir import LIF, Graph, Input, Linear, Output
from nirhub.sim import simulate


def norse_110_graph() -> Graph:
    return Graph(
        {
            "input": Input((3,)),
            "0": Linear(np.eye(3)),
            "1": LIF(np.array(1e-5), np.array(1.0), np.array(0.0), np.array(1.0)),
            "output": Output(),
        },
        [("input", "0"), ("0", "1"), ("1", "output")],
    )


def test_torch_refuses_a_negative_euler_decay(tmp_path) -> None:
    graph = norse_110_graph()
    with pytest.raises(UnsupportedError) as info:
        convert(graph, to="torch", output=tmp_path / "m.py", dt=0.01)
    assert info.value.problems[0].where == "1" and "--method exact" in str(info.value)
    assert not list(tmp_path.iterdir())
    x = np.ones((20, 3))
    with pytest.raises(UnsupportedError):
        simulate_with_backend(graph, x, 0.01, "torch")
    got = simulate_with_backend(graph, x, 0.01, "torch", method="exact").outputs["output"]
    ref = simulate(graph, x, 0.01, method="exact").outputs["output"]
    np.testing.assert_array_equal(got, ref)


def test_unrecorded_reset_is_said_once_per_conversion(tmp_path) -> None:
    """Issue 14: files older than nir 1.0.6 record no reset; the paper's subtract graph then
    runs with reset to zero. The conversion says so once, with the option that changes it."""
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus"
    source = corpus / "rnn" / "braille_noDelay_noBias_subtract.nir"
    report = convert(source, to="torch", output=tmp_path / "a.py", dt=1e-4)
    notes = [w for w in report.warnings if "record no reset" in w]
    assert len(notes) == 1 and "-O reset=subtract" in notes[0]
    report = convert(
        source, to="torch", output=tmp_path / "b.py", dt=1e-4, options={"reset": "subtract"}
    )
    assert not [w for w in report.warnings if "record no reset" in w]
