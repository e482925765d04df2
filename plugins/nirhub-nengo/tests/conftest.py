"""Shared helpers of the nengo plugin tests (the networks and inputs they share with other
plugins' tests are in :mod:`nirhub.testing.networks` and :mod:`nirhub.testing.corpus`)."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(autouse=True)
def _quiet_nengo() -> None:
    """nengo 4.1 reports numpy 2 deprecations at import; they are not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import nengo  # noqa: F401
