"""Find or create Python environments with a given release of the reference ``nir`` package.

nir 1.0.4 (what Sinabs and Rockpool pin) and nir 1.0.8 cannot share one environment, so the
compatibility tests and ``benchmarks/io.py`` run them in their own virtual environments, cached
under ``~/.cache/nirhub-test-envs/nir-<version>`` (override the folder with
``NIRHUB_TEST_ENVS``, or point at a ready interpreter with ``NIRHUB_NIR104_PYTHON`` /
``NIRHUB_NIR108_PYTHON``). Creation is safe when several processes ask at once: the environment
is built in a temporary folder and moved into place with an atomic rename, and a ready marker
is written last.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: nir version -> (environment variable overriding the interpreter, extra pip requirements)
NIR_VERSIONS: dict[str, str] = {"1.0.4": "NIRHUB_NIR104_PYTHON", "1.0.8": "NIRHUB_NIR108_PYTHON"}
_READY = "nirhub-env-ready"


def envs_root() -> Path:
    return Path(os.environ.get("NIRHUB_TEST_ENVS", Path.home() / ".cache" / "nirhub-test-envs"))


def _python_in(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def nir_python(version: str) -> Path:
    """The interpreter of an environment with ``nir==version``, numpy and h5py (created once)."""
    override = os.environ.get(NIR_VERSIONS[version])
    if override:
        return Path(override)
    env = envs_root() / f"nir-{version}"
    if (env / _READY).exists():
        return _python_in(env)
    env.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".nir-{version}-", dir=env.parent))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True)
        subprocess.run(
            [
                str(_python_in(tmp)),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"nir=={version}",
                "numpy",
                "h5py",
            ],
            check=True,
        )
        # the venv's scripts embed its folder; rebuild it at the final path instead of moving
        (tmp / _READY).write_text(version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _finish(tmp, env, version)


def _finish(tmp: Path, env: Path, version: str) -> Path:
    """Move the finished environment into place; if another process won the race, use its."""
    try:
        os.rename(tmp, env)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        for _ in range(600):  # the winner renames a complete env, so it is ready at once
            if (env / _READY).exists():
                break
            time.sleep(0.5)
    python = _python_in(env)
    # venv's python is a symlink to the base interpreter, so the moved env works unchanged;
    # check that nir imports from it.
    subprocess.run([str(python), "-c", "import nir, h5py, numpy"], check=True)
    return python


def run_script(version: str, script: str, *args: str, timeout: float = 600) -> str:
    """Run ``script`` (Python source) with the nir ``version`` interpreter; return its stdout."""
    python = nir_python(version)
    proc = subprocess.run(
        [str(python), "-c", script, *args], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"nir {version} script failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


if __name__ == "__main__":
    for v in sys.argv[1:] or list(NIR_VERSIONS):
        print(v, nir_python(v))
