"""The plugin template works as a real third-party distribution.

It is built as a wheel, installed into a fresh virtual environment (of another Python version,
see ``_hubenv.py``) together with
nirhub from this source tree (see ``_hubenv.py``), and that environment's ``nirhub`` command
must find it through its entry point; its own tests (the conformance suite) must pass there.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from _hubenv import TEMPLATE, HubEnv, clean_env, hub_env


@pytest.fixture(scope="module")
def env() -> HubEnv:
    return hub_env()


def run(
    env: HubEnv,
    *args: str,
    tmp_path: Path,
    extra: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    environ = clean_env()
    environ["NIRHUB_CONFIG"] = str(tmp_path / "environments.json")
    environ.update(extra or {})
    return subprocess.run(
        list(args), capture_output=True, text=True, env=environ, cwd=cwd or tmp_path, timeout=600
    )


def test_wheel_declares_the_entry_point(env: HubEnv) -> None:
    with zipfile.ZipFile(env.wheel) as wheel:
        names = wheel.namelist()
        ep = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        text = wheel.read(ep).decode()
    assert "[nirhub.backends]" in text and "npjson = nirhub_npjson.plugin" in text
    assert "nirhub_npjson/plugin.py" in names and "nirhub_npjson/format.py" in names


def test_installed_template_is_listed(env: HubEnv, tmp_path: Path) -> None:
    proc = run(env, str(env.bin / "nirhub"), "list-backends", "--json", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)["backends"]}
    row = rows["npjson"]
    assert row["status"] == "ok" and row["location"] == "local"
    assert row["distribution"] == "nirhub-npjson" and row["plugin"] == "nirhub_npjson.plugin"
    assert row["aliases"] == ["numpy-json"]
    assert "Delay" not in row["descriptor"]["from_ir"]
    assert rows["nir"]["distribution"] == "nirhub"


def test_plugins_can_be_switched_off(env: HubEnv, tmp_path: Path) -> None:
    proc = run(
        env, str(env.bin / "nirhub"), "--no-plugins", "list-backends", "--json", tmp_path=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["name"] for r in json.loads(proc.stdout)["backends"]] == ["nir"]
    proc = run(
        env,
        str(env.bin / "nirhub"),
        "list-backends",
        "--json",
        tmp_path=tmp_path,
        extra={"NIRHUB_NO_PLUGINS": "1"},
    )
    assert [r["name"] for r in json.loads(proc.stdout)["backends"]] == ["nir"]


def test_convert_with_the_installed_plugin(env: HubEnv, tmp_path: Path) -> None:
    script = (
        "import nirhub\n"
        "from nirhub.testing import primitive_graph\n"
        "nirhub.write(primitive_graph('CubaLIF'), 'm.nir')\n"
    )
    assert run(env, str(env.python), "-c", script, tmp_path=tmp_path).returncode == 0
    proc = run(
        env,
        str(env.bin / "nirhub"),
        "convert",
        "m.nir",
        "--to",
        "npjson",
        "--json",
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("m.*")) == ["m.nir", "m.npjson", "m.npz"]
    proc = run(
        env,
        str(env.bin / "nirhub"),
        "convert",
        "m.npjson",
        "--to",
        "nir",
        "-o",
        "back.nir",
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    check = "import nirhub; assert nirhub.read('back.nir') == nirhub.read('m.nir')"
    proc = run(env, str(env.python), "-c", check, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_template_tests_pass_where_it_is_installed(env: HubEnv, tmp_path: Path) -> None:
    proc = run(
        env,
        str(env.python),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(TEMPLATE / "tests"),
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary
