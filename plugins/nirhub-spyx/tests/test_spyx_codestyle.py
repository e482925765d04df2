"""The generated spyx modules read like code a person wrote: ``ruff check`` and ``ruff
format --check`` with nirhub's settings find nothing (issue 16)."""

from __future__ import annotations

from nirhub.testing.codestyle import assert_ruff_clean, generated_files


def test_generated_modules_are_ruff_clean(tmp_path) -> None:
    files = generated_files("spyx", tmp_path)
    # (checked on this machine by lowering the same graphs without the framework: 20+ files)
    assert len(files) >= 5
    assert_ruff_clean(files)
