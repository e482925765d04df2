"""nirhub.backend.samna: telling SynSense's real samna from the PyPI stub without importing either.

Each test builds a fake ``samna`` in a temporary folder and makes it the only place Python can
find one (``sys.path`` is replaced for the test). The stub-like package's ``__init__`` writes a
marker file when executed, so "never imported" is checked, not assumed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from pathlib import Path

import pytest

from nirhub.backend.samna import block_samna_stub, samna_status

#: the relevant lines of samna 0.48.6's stub ``__init__`` (plus a line that proves execution)
STUB_INIT = """\
PYPI_SAMNA = True
__gitlab_packages_index_url__ = "https://gitlab.com/api/v4/projects/27423070/packages/pypi/simple"
open({marker!r}, "w").write("the stub was executed")

def install_real_samna():
    raise RuntimeError("a test must never get here")

install_real_samna()
"""
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


@pytest.fixture
def only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Make ``folder`` the only place imports look (``None``: nowhere holds a samna)."""
    monkeypatch.delitem(sys.modules, "samna", raising=False)

    def use(folder: Path | None) -> None:
        where = folder if folder is not None else tmp_path / "empty"
        where.mkdir(exist_ok=True)
        monkeypatch.setattr(sys, "path", [str(where)])
        importlib.invalidate_caches()

    yield use
    importlib.invalidate_caches()


def _stub(root: Path) -> Path:
    pkg = root / "samna"
    pkg.mkdir(parents=True)
    marker = root / "EXECUTED"
    (pkg / "__init__.py").write_text(STUB_INIT.format(marker=str(marker)))
    return marker


def test_absent(only) -> None:
    only(None)
    info = samna_status()
    assert (info.status, info.location, info.real) == ("absent", None, False)


def test_stub_is_recognised_and_never_executed(tmp_path: Path, only) -> None:
    marker = _stub(tmp_path / "site")
    only(tmp_path / "site")
    info = samna_status()
    assert info.status == "stub" and not info.real
    assert info.location == str(tmp_path / "site" / "samna")
    assert "stub" in info.detail
    assert "samna" not in sys.modules
    assert not marker.exists()


def test_block_makes_import_fail_without_running_the_stub(tmp_path: Path, only) -> None:
    marker = _stub(tmp_path / "site")
    only(tmp_path / "site")
    info = block_samna_stub()
    assert info.status == "stub"
    assert sys.modules["samna"] is None
    with pytest.raises(ImportError):
        import samna  # noqa: F401
    assert not marker.exists()
    # detection still looks on disk after blocking
    assert samna_status().status == "stub"


def test_block_when_absent_also_blocks(only) -> None:
    only(None)
    assert block_samna_stub().status == "absent"
    assert sys.modules["samna"] is None


def test_unmarked_package_without_extensions_is_not_real(tmp_path: Path, only) -> None:
    pkg = tmp_path / "site" / "samna"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("VERSION = '9.9'\n")
    only(tmp_path / "site")
    info = samna_status()
    assert info.status == "stub"
    assert "without compiled extensions" in info.detail


def test_package_with_compiled_extension_is_real(tmp_path: Path, only) -> None:
    pkg = tmp_path / "site" / "samna"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .samna import *\n")
    (pkg / f"samna{SUFFIX}").write_bytes(b"\x7fELF not really")
    only(tmp_path / "site")
    info = samna_status()
    assert info.status == "real" and info.real
    assert info.location == str(pkg)
    # the real samna is left importable: nothing is put in sys.modules
    assert block_samna_stub().real
    assert "samna" not in sys.modules


def test_single_file_extension_is_real(tmp_path: Path, only) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / f"samna{SUFFIX}").write_bytes(b"\x7fELF not really")
    only(site)
    info = samna_status()
    assert info.status == "real"
    assert info.location == str(site / f"samna{SUFFIX}")


def test_stub_marker_wins_over_extension_files(tmp_path: Path, only) -> None:
    """A stub next to a stray .so is still the stub (its __init__ would run pip)."""
    marker = _stub(tmp_path / "site")
    (tmp_path / "site" / "samna" / f"other{SUFFIX}").write_bytes(b"")
    only(tmp_path / "site")
    assert samna_status().status == "stub"
    assert not marker.exists()


def test_already_imported_module_is_left_alone(tmp_path: Path, only, monkeypatch) -> None:
    _stub(tmp_path / "site")
    only(tmp_path / "site")
    sentinel = object()
    monkeypatch.setitem(sys.modules, "samna", sentinel)
    block_samna_stub()
    assert sys.modules["samna"] is sentinel


def test_huge_init_is_read_only_in_part(tmp_path: Path, only) -> None:
    """Detection reads at most 1 MiB of __init__.py (no unbounded reads)."""
    pkg = tmp_path / "site" / "samna"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("#" * (3 << 20) + "\nPYPI_SAMNA = True\n")
    only(tmp_path / "site")
    assert samna_status().detail.endswith("(not the vendor's samna)")
