"""``docs/paper-reproduction.md`` is what ``tools/paper_reproduction.py`` computes now, with
every backend of the ``cross-backend`` session: a changed number (a backend's spikes, a
similarity, a backend that appears or disappears) fails, and says how to regenerate the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import paper_reproduction  # noqa: E402


def test_the_committed_page_has_every_number_of_a_new_run(capsys) -> None:
    code = paper_reproduction.main(["--check"])
    assert code == 0, capsys.readouterr().err


def test_the_reference_reproduces_the_papers_snntorch_recordings() -> None:
    """The page's claim, checked on the committed data: nirhub's reference fires snnTorch's
    hidden spikes (similarity 1.000 for both Braille graphs) and the exact LIF spike steps."""
    data = paper_reproduction.committed_data(paper_reproduction.DOC.read_text())
    assert data is not None
    for graph in ("A", "B"):
        assert data[f"braille_{graph}"]["reference_vs_paper"]["snntorch"] == 1.0
    assert data["lif"]["nirhub"]["reference"]["spike_steps"] == [460, 510, 710, 760]
