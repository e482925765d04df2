"""Both backends across the worker protocol, as the 3.11 hub reaches them
(``python -m nirhub.hub.worker OP request.json`` in this environment)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import nirhub
from nirhub.hub.workers import PROTOCOL


def _call(op: str, request: dict, tmp_path) -> dict:
    request = {"protocol": PROTOCOL, "response": str(tmp_path / "response.json"), **request}
    req = tmp_path / "request.json"
    req.write_text(json.dumps(request))
    subprocess.run(
        [sys.executable, "-m", "nirhub.hub.worker", op, str(req)], check=True, timeout=300
    )
    return json.loads((tmp_path / "response.json").read_text())


def test_describe_lists_both():
    out = subprocess.run(
        [sys.executable, "-m", "nirhub.hub.worker", "describe"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    rows = {r["name"]: r for r in json.loads(out.stdout)["backends"]}
    assert rows["lava"]["status"] == "ok" and rows["loihi2"]["status"] == "ok"


def test_run_report_and_refusal_through_worker(lif_task, tmp_path):
    graph, x = lif_task
    gpath = tmp_path / "lif.nir"
    nirhub.write(graph, gpath)
    np.savez(tmp_path / "inputs.npz", a0=x)
    resp = _call(
        "run",
        {
            "backend": "loihi2",
            "graph": str(gpath),
            "inputs": {"input": "a0"},
            "inputs_file": str(tmp_path / "inputs.npz"),
            "dt": 1e-4,
            "record": [],
            "options": {},
            "result": str(tmp_path / "result.npz"),
        },
        tmp_path,
    )
    assert "error" not in resp, resp
    with np.load(tmp_path / "result.npz") as data:
        out = data[resp["result"]["outputs"]["output"]]
    assert np.nonzero(out[:, 0])[0].tolist() == [460, 510, 710, 760]
    assert resp["result"]["conventions"]["latency"] == {"1": 1}

    resp = _call(
        "report",
        {"backend": "loihi2", "graph": str(gpath), "options": {"dt": "1e-4"}},
        tmp_path,
    )
    assert resp["report"]["neuro-cores (estimate)"] == 1
    assert "quantization" in resp["report"]

    resp = _call(
        "check",
        {"backend": "lava", "graph": str(gpath), "options": {"dt": "1e-4", "reset": "subtract"}},
        tmp_path,
    )
    assert [p["where"] for p in resp["problems"]] == ["1"]
