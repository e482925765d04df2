"""The artifact: the quantized specification (.npz), its reader, and the samna-only steps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DT, RNN
from nirhub_xylo.artifact import FORMAT, read_spec
from nirhub_xylo.mapping import SPEC_ARRAYS
from nirhub_xylo.plugin import XyloBackend, xylo_config
from nirhub_xylo.run import run_model

from nirhub.backend.samna import samna_status
from nirhub.errors import BackendUnavailableError, FileFormatError, RefusedError
from nirhub.io import read
from nirhub.testing.corpus import braille_input

BACKEND = XyloBackend()


@pytest.fixture(scope="module")
def model():
    graph = read(RNN / "braille_noDelay_noBias_subtract.nir")
    return BACKEND.from_ir(graph, dt=DT, reset="subtract")


def test_spec_file_round_trips_and_runs_identically(model, tmp_path) -> None:
    path = tmp_path / "braille.npz"
    assert BACKEND.save(model, path) == [path]
    with np.load(path, allow_pickle=False) as data:  # no pickles: loadable without nirhub
        meta = json.loads(str(data["meta"]))
        assert set(SPEC_ARRAYS) <= set(data.files)
    assert meta["format"] == FORMAT and meta["chip"] == "xylo-audio2" and meta["dt"] == DT
    assert [p["path"] for p in meta["populations"]] == ["lif1.lif", "lif2"]
    spec, meta2 = read_spec(path)
    assert meta2 == meta
    for k in SPEC_ARRAYS:
        np.testing.assert_array_equal(spec[k], model.spec[k])
    # XyloSim configured from the file spikes exactly as the in-memory model
    from nirhub_xylo.mapping import import_xylo

    _, _, xylo_sim = import_xylo(model.chip)
    sim = xylo_sim.from_specification(**spec, dt=DT)
    out, _, _ = sim(np.concatenate([braille_input(), np.zeros((1, 12))]).astype(int))
    mine = run_model(model, braille_input())["outputs"]["output"]
    np.testing.assert_array_equal(np.asarray(out)[1:], mine)
    with pytest.raises(RefusedError):
        BACKEND.save(model, path)  # never overwritten without force


def test_bad_spec_files_are_refused(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, weights_in=np.zeros((2, 2)))
    with pytest.raises(FileFormatError, match="lacks"):
        read_spec(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(FileFormatError):
        read_spec(junk)


def test_config_needs_real_samna(model, tmp_path) -> None:
    """Here samna is the PyPI stub (or absent): the configuration step says what is missing."""
    assert not samna_status().real
    with pytest.raises(BackendUnavailableError, match="needs SynSense's samna"):
        BACKEND.save(model, tmp_path / "c.json", write="config")
    spec = tmp_path / "s.npz"
    BACKEND.save(model, spec)
    with pytest.raises(BackendUnavailableError, match="xylo-config"):
        xylo_config(spec, tmp_path / "config.json")
    assert not (tmp_path / "config.json").exists() and not (tmp_path / "c.json").exists()


def test_report_has_limits_bits_decays_and_errors(model) -> None:
    rep = BACKEND.report(model)
    assert rep["hidden neurons"].startswith("40 / 1000")
    assert rep["output neurons"] == "7 / 8" and rep["input channels"] == "12 / 16"
    assert rep["decay shifts"]["lif1.lif"] == "dash_mem [3], dash_syn [2]"
    errors = rep["quantization error (relative)"]
    assert 0 < errors["input weights (fc1)"] < 0.02
    assert 0 < errors["recurrent weights (lif1.w_rec)"] < 0.02
    assert errors["synaptic decay (lif1.lif)"] == 0.0  # tau_syn = 4 dt: shift 2 exactly
