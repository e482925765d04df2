"""The lava backend's artifact (a generated module + .npz): runs without nirhub, reads back."""

from __future__ import annotations

import json

import numpy as np

import nirhub
from nirhub.testing.corpus import CORPUS, braille_input
from nirhub.testing.graphs import behaviour_difference
from nirhub.testing.standalone import run_without_nirhub

RUNNER = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("artifact", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
out = m.run({"input": np.load(sys.argv[2])})
np.save(sys.argv[3], out["output"])
print(json.dumps(m.LATENCY))
"""


def test_braille_artifact_runs_without_nirhub(registry, tmp_path):
    graph = nirhub.read(CORPUS / "rnn" / "braille_noDelay_bias_zero.nir")
    be = registry.get("lava")
    obj = be.from_ir(graph, dt=1e-4)
    files = be.save(obj, tmp_path / "braille.py")
    assert [p.name for p in files] == ["braille.py", "braille.npz"]
    x = braille_input()[:120]
    np.save(tmp_path / "x.npy", x)
    out = run_without_nirhub(RUNNER, files[0], tmp_path / "x.npy", tmp_path / "y.npy")
    assert json.loads(out.strip().splitlines()[-1]) == {"lif1.lif": 1, "lif2": 2}
    ref = nirhub.simulate(graph, x, dt=1e-4)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), ref["output"])

    # nirhub reads the artifact back (the .npz only) into a graph that behaves the same
    back = be.to_ir(be.load(files[0]))
    back.validate()
    why = behaviour_difference(graph, back, rtol=1e-9, atol=1e-9)
    assert not why, why


def test_delays_survive_the_round_trip(registry):
    from test_lava_delays import DT, _graph

    rng = np.random.default_rng(3)
    g = _graph(rng, np.array([0, 2, 5, 1]) * DT, np.array([1, 4, 2]) * DT)
    back = registry.get("lava").to_ir(registry.get("lava").from_ir(g))
    back.validate()
    assert not behaviour_difference(g, back, rtol=1e-9, atol=1e-9)
