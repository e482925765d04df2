"""With the PyPI samna stub installed, using the backend starts no process and opens no socket.

The stub pip-installs the vendor package when imported. ``nirhub convert``/``simulate`` run in
a subprocess whose ``sitecustomize`` installs an audit hook recording process creation
(``subprocess.Popen``, ``os.exec``, ``os.posix_spawn``, ``os.spawn``, ``os.system``,
``os.fork``), network use (``socket.connect``, ``socket.getaddrinfo``) and the execution of
any code from the stub's folder; the test asserts that nothing was recorded except ``uname -p``,
which h5py's import runs through ``platform.processor()`` (nirhub's .nir reader, not samna).
A control run shows the hook does record a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nirhub.backend.samna import samna_status

CNN = Path(__file__).resolve().parents[3] / "tests" / "data" / "corpus" / "cnn" / "cnn_sinabs.nir"

HOOK = """\
import json, os, sys
_LOG = os.environ["NIRHUB_AUDIT_LOG"]
_STUB = os.environ.get("NIRHUB_AUDIT_STUB_DIR") or None
_WATCH = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.fork",
          "os.forkpty", "socket.connect", "socket.getaddrinfo", "socket.gethostbyname")

def _hook(event, args):
    hit = None
    if event in _WATCH:
        hit = [event, repr(args)[:300]]
    elif event == "exec" and _STUB and args:
        name = getattr(args[0], "co_filename", "")
        if name.startswith(_STUB):
            hit = ["stub-executed", name]
    if hit:
        with open(_LOG, "a") as fh:
            fh.write(json.dumps(hit) + "\\n")

sys.addaudithook(_hook)
"""


@pytest.fixture(scope="module")
def stub_dir() -> str:
    info = samna_status()
    # the test environment installs samna==0.48.6 (the stub) on purpose: see pyproject [test]
    assert info.status == "stub", f"this test needs the PyPI samna stub installed, found {info}"
    return str(info.location)


def _run(tmp: Path, stub: str, args: list[str]) -> tuple[subprocess.CompletedProcess, list]:
    site = tmp / "audit"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HOOK)
    log = tmp / "audit.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *[p for p in sys.path if p]])
    env["NIRHUB_AUDIT_LOG"] = str(log)
    env["NIRHUB_AUDIT_STUB_DIR"] = stub
    env["NIRHUB_CONFIG"] = str(tmp / "environments.json")  # no worker environments
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=tmp, timeout=300
    )
    events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, [e for e in events if not _H5PY_UNAME(e)]


def _H5PY_UNAME(event: list) -> bool:  # noqa: N802 - a named predicate
    return event[0] == "subprocess.Popen" and event[1].startswith("('uname', ['uname', '-p']")


def test_control_the_hook_records_a_subprocess(tmp_path: Path, stub_dir: str) -> None:
    proc, events = _run(
        tmp_path, stub_dir, ["-c", "import subprocess, sys; subprocess.run([sys.executable, '-V'])"]
    )
    assert proc.returncode == 0, proc.stderr
    assert any(e[0] == "subprocess.Popen" for e in events), events


def test_convert_and_simulate_start_no_pip(tmp_path: Path, stub_dir: str) -> None:
    proc, events = _run(
        tmp_path,
        stub_dir,
        ["-m", "nirhub", "-v", "convert", str(CNN), "--to", "speck", "-o", "cnn.json", "--dt", "1"],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert events == []
    assert (tmp_path / "cnn.json").is_file() and (tmp_path / "cnn.npz").is_file()
    assert "cores used: 5 of 9" in proc.stderr
    assert "kernel memory: 32768 / 32768" in proc.stderr or "kernel memory: 32768 / 65536" in (
        proc.stderr
    )
    x = np.random.default_rng(0).poisson(0.15, size=(10, 2, 34, 34)).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    proc, events = _run(
        tmp_path,
        stub_dir,
        ["-m", "nirhub", "simulate", str(CNN), "-i", "x.npy", "-o", "out.npz", "--dt", "1",
         "--backend", "speck", "-r", "1"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert events == []
    with np.load(tmp_path / "out.npz") as out:
        assert out["output"].shape == (10, 10)
        assert out["1.spikes"].shape == (10, 16, 16, 16)


def test_refusal_exit_code_and_samna_config_message(tmp_path: Path, stub_dir: str) -> None:
    """A leaky network: exit code 4 naming the node; the samna step: a clear message."""
    code = (
        "import numpy as np, nirhub\n"
        "from nirhub.ir.graph import Graph\n"
        "from nirhub.ir.nodes import Input, Output, Affine, LIF\n"
        "g = Graph({'input': Input((3,)), 'fc': Affine(np.ones((4, 3)), np.zeros(4)),\n"
        "  'leaky': LIF(np.full(4, 1e-3), np.ones(4), np.zeros(4), np.ones(4)),\n"
        "  'output': Output(None)}, [('input', 'fc'), ('fc', 'leaky'), ('leaky', 'output')])\n"
        "nirhub.write(g, 'leaky.nir')\n"
    )
    proc, events = _run(tmp_path, stub_dir, ["-c", code])
    assert proc.returncode == 0, proc.stderr
    proc, events = _run(
        tmp_path,
        stub_dir,
        ["-m", "nirhub", "convert", "leaky.nir", "--to", "speck", "-o", "l.json"],
    )
    assert proc.returncode == 4, proc.stderr
    assert "leaky" in proc.stderr and "LIF" in proc.stderr
    assert events == []
    proc, events = _run(
        tmp_path, stub_dir, ["-m", "nirhub_speck.samna_config", "l.json", "-o", "cfg.json"]
    )
    assert proc.returncode != 0
    assert "needs SynSense's real samna" in proc.stderr
    assert events == []


def test_list_backends_says_what_needs_samna(tmp_path: Path, stub_dir: str) -> None:
    proc, events = _run(tmp_path, stub_dir, ["-m", "nirhub", "list-backends"])
    assert proc.returncode == 0, proc.stderr
    assert events == []
    assert "speck: not possible here / limits:" in proc.stdout
    assert "need SynSense's real samna; pip's samna is a stub" in proc.stdout
