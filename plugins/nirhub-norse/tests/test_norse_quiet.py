"""Importing Norse makes torch warn four times that ``torch.jit.script`` is deprecated (for
Norse's own decorated functions). Norse's users never see it (Python hides a library's
DeprecationWarning); nirhub's users should not either (issue 16). The filter is narrow: other
warnings still reach the conversion report."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from nirhub.backend.quiet import ignore_framework_noise

ROOT = Path(__file__).resolve().parents[3]
NIRHUB = [sys.executable, "-m", "nirhub"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NIRHUB_CONFIG": str(cwd / "environments.json")}
    return subprocess.run(
        [*NIRHUB, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_torch_does_warn_when_norse_is_imported() -> None:
    """What the filter is for (if torch stops warning, the filter can go)."""
    code = "import warnings; warnings.simplefilter('always'); import norse.torch"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "`torch.jit.script` is deprecated" in proc.stderr


def test_a_norse_source_converts_without_the_warning(tmp_path: Path) -> None:
    proc = _run(
        "convert", str(ROOT / "examples" / "braille_norse.py") + ":build",
        "--weights", str(ROOT / "examples" / "braille_norse_weights.pt"),
        "--to", "nir", "-o", str(tmp_path / "braille.nir"),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "torch.jit" not in proc.stderr, proc.stderr


def test_a_conversion_to_norse_has_no_warning(tmp_path: Path) -> None:
    proc = _run(
        "convert", str(ROOT / "examples" / "braille.nir"), "--to", "norse", "--dt", "1e-4",
        "--reset", "zero",  # the file records none: chosen, so nirhub has nothing to say
        "-o", str(tmp_path / "braille_norse.py"),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr.lower(), proc.stderr


def test_the_filter_is_narrow() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignore_framework_noise()
        noise = "`torch.jit.script` is deprecated. Please switch"
        warnings.warn(noise, DeprecationWarning, stacklevel=1)
        warnings.warn(noise, UserWarning, stacklevel=1)
        warnings.warn("something else is deprecated", DeprecationWarning, stacklevel=1)
    assert [(w.category, str(w.message)) for w in caught] == [
        (UserWarning, "`torch.jit.script` is deprecated. Please switch"),
        (DeprecationWarning, "something else is deprecated"),
    ]
