"""The generated rockpool modules read like code a person wrote: ``ruff check`` and ``ruff
format --check`` with nirhub's settings find nothing (issue 16)."""

from __future__ import annotations

from nirhub.testing.codestyle import assert_ruff_clean, generated_files


def test_generated_modules_are_ruff_clean(tmp_path) -> None:
    # rockpool takes the primitive graphs it can run exactly (the corpus needs options)
    files = generated_files("rockpool", tmp_path)
    assert len(files) >= 4
    assert_ruff_clean(files)
