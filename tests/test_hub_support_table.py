"""docs/support-table.md is generated from the descriptors and must be up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nirhub.hub.descriptor import BackendDescriptor

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "support_table.py"
sys.path.insert(0, str(ROOT / "tools"))

from support_table import DEFAULT_OUTPUT, _entry_points, collect, render  # noqa: E402


def test_committed_table_is_up_to_date() -> None:
    expected = render(collect())
    current = DEFAULT_OUTPUT.read_text(encoding="utf-8") if DEFAULT_OUTPUT.is_file() else ""
    assert current == expected, (
        "docs/support-table.md is stale: run `python tools/support_table.py`"
    )


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()  # a repository without plugins: only the built-ins
    stale = tmp_path / "table.md"
    stale.write_text("# hand-edited\n")
    cmd = [sys.executable, str(SCRIPT), "--root", str(tmp_path)]
    proc = subprocess.run([*cmd, "--check", "-o", str(stale)], capture_output=True, text=True)
    assert proc.returncode == 1 and "out of date" in proc.stderr
    subprocess.run([*cmd, "-o", str(stale)], check=True, capture_output=True)
    assert "| `nir` | format |" in stale.read_text()
    assert subprocess.run([*cmd, "--check", "-o", str(stale)]).returncode == 0


def test_a_broken_repository_plugin_is_an_error(tmp_path: Path) -> None:
    plugin = tmp_path / "plugins" / "nirhub-half"
    plugin.mkdir(parents=True)
    (plugin / "pyproject.toml").write_text(
        '[project.entry-points."nirhub.backends"]\nhalf = "nirhub_half_missing.plugin"\n'
    )
    cmd = [sys.executable, str(SCRIPT), "--root", str(tmp_path), "--check"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and "plugins/nirhub-half" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_rewrites_are_marked() -> None:
    affine_only = BackendDescriptor(
        name="chip", kind="hardware", summary="affine only", from_ir=frozenset({"Affine", "LIF"})
    )
    text = render([(affine_only, "x")])
    linear_row = next(
        line for line in text.splitlines() if line.startswith("| Linear |") and "(✓)" in line
    )
    assert "(✓)<sup>1</sup>" in linear_row
    assert "via the exact rewrite `linear-to-affine`" in text
    assert "| Delay | – |" in text


def test_entry_points_are_read_from_pyproject() -> None:
    text = (
        '[project]\nname = "x"\n[project.entry-points."nirhub.backends"]\n'
        'foo = "pkg.plugin"  # comment\nbar = "pkg.other:obj"\n[tool.x]\nbaz = "no"\n'
    )
    assert _entry_points(text) == {"foo": "pkg.plugin", "bar": "pkg.other"}
