"""SpiNNaker2 reached from a framework's own model, as a user would (nox ``cross-backend``).

The paper's Braille RNN (graph B) as snnTorch users keep it (``examples/xylo``: code + state
dict) is exported by nirhub-snntorch and converted to SpiNNaker2 on the command line. The
emulator's hidden layer then equals the chip's raster (``rnn/s2_activity_noDelay_noBias_
subtract.npy``) with 0 differing cells in the chip's time axis. The model is a nested
subgraph (snnTorch's RSynaptic), and its reset is snnTorch's one-step-late subtraction, which
the chip runs in the spike step (``-O reset=subtract``, as the paper converted it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import ROOT

EXAMPLE = ROOT / "examples" / "xylo" / "braille_snntorch.py"
WEIGHTS = ROOT / "examples" / "xylo" / "braille_snntorch_weights.pt"
RNN = ROOT / "tests" / "data" / "corpus" / "rnn"


def nirhub(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "nirhub"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, check=False, timeout=600
    )


def test_snntorch_model_to_spinnaker2_reproduces_the_chip(tmp_path: Path) -> None:
    source = [f"{EXAMPLE}:build", "--weights", str(WEIGHTS), "--from", "snntorch"]
    out = tmp_path / "braille.json"
    conv = nirhub(
        "convert", *source, "--to", "spinnaker2", "-O", "reset=subtract", "-o", str(out), "--json"
    )
    assert conv.returncode == 0, conv.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "braille.json",
        "braille.npz",
        "load_s2net.py",
    ]
    doc = json.loads(out.read_text())
    models = {p["name"]: p["model"] for p in doc["populations"]}
    assert models["lif1.lif"] == models["lif2"] == "lif_curr_exp_no_delay"

    run = tmp_path / "run.npz"
    sim = nirhub(
        "simulate",
        *source,
        "--backend",
        "spinnaker2",
        "-O",
        "reset=subtract",
        "-O",
        "latency=raw",
        "--input",
        str(RNN / "derived" / "braille_test0_input.npy"),
        "--record",
        "lif1.lif",
        "-o",
        str(run),
    )
    assert sim.returncode == 0, sim.stderr
    chip = np.load(RNN / "s2_activity_noDelay_noBias_subtract.npy")
    with np.load(run) as data:
        key = next(k for k in data.files if k.startswith("lif1.lif") and "spikes" in k)
        got = data[key].astype(np.int64)
    assert got.shape == chip.shape
    assert got.sum() == 119
    assert np.count_nonzero(got != chip) == 0
