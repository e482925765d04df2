"""The generated norse modules read like code a person wrote: ``ruff check`` and ``ruff
format --check`` with nirhub's settings find nothing (issue 16)."""

from __future__ import annotations

from nirhub.testing.codestyle import assert_ruff_clean, generated_files


def test_generated_modules_are_ruff_clean(tmp_path) -> None:
    files = generated_files("norse", tmp_path)
    assert any(f.stem == "braille" for f in files)
    assert len(files) >= 10
    assert_ruff_clean(files)
