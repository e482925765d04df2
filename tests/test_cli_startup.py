"""What the command imports at start-up (the time goal itself is measured by
``benchmarks/cli_startup.py``, never by a timed test)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import nirhub
import nirhub.ir
from nirhub.cli import app as cli_app
from nirhub.hub import hookspecs

FRAMEWORKS = {"torch", "jax", "lava", "rockpool", "sinabs", "norse", "snntorch", "samna", "nengo"}


def modules_after(args: list[str]) -> set[str]:
    """Top-level modules imported by running ``nirhub ARGS`` in a fresh interpreter."""
    code = (
        "import sys\n"
        f"sys.argv = ['nirhub', *{args!r}]\n"
        "from nirhub.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\nMODULES ' + ' '.join(sorted({m.split('.')[0] for m in "
        "sys.modules})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = proc.stderr.rsplit("MODULES ", 1)[-1]
    return set(line.split())


def plugins_installed() -> bool:
    return bool(entry_points(group=hookspecs.ENTRY_POINT_GROUP))


def test_help_imports_no_framework_and_without_plugins_not_even_numpy() -> None:
    loaded = modules_after(["--help"])
    assert "typer" in loaded and not loaded & FRAMEWORKS
    assert "pydantic" not in loaded  # typer's coercion layer is not needed for --help
    if not plugins_installed():  # plugin commands are only known after loading plugins
        assert "numpy" not in loaded and "h5py" not in loaded


def test_list_backends_imports_no_framework() -> None:
    loaded = modules_after(["list-backends"])
    assert "nirhub" in loaded and not loaded & FRAMEWORKS
    assert "pydantic" not in loaded and "h5py" not in loaded


def test_import_nirhub_is_cheap() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, nirhub; print('numpy' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip() == "False"


def test_lazy_ir_names_match_the_ir_package() -> None:
    assert set(nirhub._ir_all) == set(nirhub.ir.__all__)
    assert nirhub.Graph is nirhub.ir.Graph and nirhub.LIF is nirhub.ir.LIF


def test_entry_point_group_matches_the_hook_specs() -> None:
    from nirhub.hub import discovery

    assert cli_app.ENTRY_POINT_GROUP == hookspecs.ENTRY_POINT_GROUP
    assert discovery.ENTRY_POINT_GROUP == hookspecs.ENTRY_POINT_GROUP
