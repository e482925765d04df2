"""``nirhub verify`` with real frameworks (the ``cross-backend`` session: every plugin, the
Sinabs and Lava backends in their worker environments).

The Braille RNN (graph A) on the paper's test sample 0: snnTorch and Norse are exact
simulators of this graph (0 differing hidden cells, the paper's 119 spikes); a backend in a
worker environment runs there and is verified the same way.
"""

from __future__ import annotations

from pathlib import Path

from nirhub.hub.registry import default_registry
from nirhub.hub.verify import verify
from nirhub.testing.corpus import CORPUS

HIDDEN = "lif1.lif.spikes"


def test_exact_simulators_pass_with_identical_hidden_spikes(tmp_path: Path) -> None:
    report = verify(
        CORPUS / "rnn" / "braille_noDelay_bias_zero.nir",
        input=CORPUS / "rnn" / "derived" / "braille_test0_input.npy",
        dt=1e-4,
        record=("lif1.lif",),
        backends=["snntorch", "norse"],
        output_dir=tmp_path / "r",
        workers=1,
    )
    assert report.passed, [(b.name, b.status, b.reason) for b in report.backends]
    for b in report.backends:
        hidden = b.layers[HIDDEN]
        assert hidden["differing_cells"] == 0 and hidden["spikes"] == 119, b.name
    assert (tmp_path / "r" / "report.html").is_file()


def test_a_worker_environment_backend_is_verified_in_its_environment(tmp_path: Path) -> None:
    remote = [
        s.name
        for s in default_registry().statuses()
        if s.location != "local"
        and s.descriptor is not None
        and s.descriptor.can_run
        and s.status in ("ok", "remote")
    ]
    assert remote, "the cross-backend session registers worker environments"
    report = verify(
        CORPUS / "lif" / "lif_norse.nir",
        input=_lif_input(tmp_path),
        dt=1e-4,
        record=("1",),
        backends=remote[:1],
        output_dir=tmp_path / "w",
        workers=1,
        html=False,
        min_similarity=0.0,
    )
    (b,) = report.backends
    assert b.location != "local"
    assert b.status in ("pass", "refused"), (b.status, b.reason)
    if b.status == "pass":
        assert b.layers["1.spikes"]["samples"] == 1


def _lif_input(tmp_path: Path) -> Path:
    import numpy as np

    table = np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")
    path = tmp_path / "lif.npy"
    np.save(path, table[:, :1].astype(np.float32))
    return path
