"""Norse 1.1.0's own exporter and forward Euler (issue 14).

``norse.torch.to_nir(model, sample, dt=0.01)`` writes a LIFBoxCell's ``tau`` as
``dt/tau_mem_inv`` (1e-5 s for tau_mem_inv = 1000 at dt = 0.01 s) instead of
``1/tau_mem_inv``: under forward Euler at that dt the decay ``1 - dt/tau`` is -999. nirhub used
to run it (reference, torch, norse, spyx) and exit 0; now it is refused, naming the node and
the fix, and runs with ``--method exact``.
"""

from __future__ import annotations

import nir
import norse.torch as nt
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import nirhub
from nirhub.cli.app import app
from nirhub.errors import UnsupportedError
from nirhub.hub.convert import convert

DT = 0.01


@pytest.fixture(scope="module")
def norse_file(tmp_path_factory):
    torch.manual_seed(0)
    model = nt.SequentialState(
        torch.nn.Linear(3, 2),
        nt.LIFBoxCell(
            nt.LIFBoxParameters(tau_mem_inv=torch.tensor(1000.0), v_th=torch.tensor(1.0))
        ),
    )
    graph = nt.to_nir(model, torch.randn(1, 3), dt=DT)  # norse's own exporter
    path = tmp_path_factory.mktemp("norse") / "norse110.nir"
    nir.write(path, graph, compression=None)  # gzip: nir 1.0.8 cannot write 0-d arrays
    return path


def test_the_exporter_bug_is_what_the_file_holds(norse_file) -> None:
    graph = nirhub.read(norse_file, strict=False).graph
    lif = next(n for _, n in graph.walk() if n.type_name == "LIF")
    np.testing.assert_allclose(lif.tau, DT / 1000.0)  # not 1/1000 s


def test_euler_is_refused_naming_node_and_fix(norse_file, tmp_path) -> None:
    np.save(tmp_path / "x.npy", np.ones((20, 3)))
    args = ["simulate", str(norse_file), "-i", str(tmp_path / "x.npy"), "--dt", str(DT)]
    res = CliRunner().invoke(app, [*args, "--tolerant", "-o", str(tmp_path / "a.npz")])
    assert res.exit_code == 4, res.output
    assert "1.tau" in res.output and "--method exact" in res.output and "Norse" in res.output
    assert not (tmp_path / "a.npz").exists()
    res = CliRunner().invoke(
        app, [*args, "--tolerant", "--method", "exact", "-o", str(tmp_path / "b.npz")]
    )
    assert res.exit_code == 0, res.output
    graph = nirhub.read(norse_file, strict=False).graph
    with pytest.raises(UnsupportedError, match="forward Euler"):
        convert(graph, to="norse", output=tmp_path / "m.py", dt=DT)
