"""Shared pytest configuration. Fixtures of the file-format tests live in ``_nirvenv.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/_*.py helper modules
