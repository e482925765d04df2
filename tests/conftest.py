"""Shared pytest configuration. Fixtures of the file-format tests live in ``_nirvenv.py``."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/_*.py helper modules

ROOT = Path(__file__).resolve().parent.parent

#: modules that need every plugin of ``plugins/`` with its framework: the nox session
#: ``cross-backend`` installs them all (some in worker environments) and sets
#: ``NIRHUB_CROSS_BACKEND=1``, where they must run, and fail if a plugin is missing. Elsewhere
#: they are not collected (not skipped) unless every plugin is installed here.
CROSS_BACKEND_MODULES = [
    "test_any_to_any.py",
    "test_readme_example.py",
    "test_cross_lava.py",
    "test_cross_spinnaker2.py",
    "test_paper_reproduction.py",
    "test_verify_backends.py",
]


def plugin_distributions() -> list[str]:
    """The distribution of every plugin folder, ``plugins/nirhub-*``."""
    return sorted(
        p.name for p in (ROOT / "plugins").glob("nirhub-*") if (p / "pyproject.toml").is_file()
    )


def _every_plugin_installed() -> bool:
    for name in plugin_distributions():
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return False
    return True


collect_ignore = (
    []
    if os.environ.get("NIRHUB_CROSS_BACKEND") == "1" or _every_plugin_installed()
    else CROSS_BACKEND_MODULES
)
