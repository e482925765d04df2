"""What files written before nir 1.0.6 leave unsaid, and the one warning that says so.

nir 1.0.6 added ``v_reset`` to the spiking nodes; older files (the NIR paper's among them) store
none, and were written when NIR documented reset *by subtraction*. nirhub, as nir >= 1.0.6, runs
a spiking node that records neither ``v_reset`` nor a reset mode (``nirhub`` metadata) with
reset to zero. That choice changes spike counts (the paper's
``braille_noDelay_noBias_subtract.nir`` fires 103 hidden spikes instead of 118), so every
``simulate`` and ``convert`` that makes it says so once, with the flag that chooses otherwise.
"""

from __future__ import annotations

from typing import Any

from nirhub.ir.conventions import namespace
from nirhub.ir.nodes import SPIKING_TYPES


def unrecorded_resets(graph: Any) -> list[str]:
    """Dotted paths of the spiking nodes whose reset nothing records (no ``v_reset``, no mode
    on the node or on an enclosing graph)."""
    from nirhub.ir.graph import Graph

    found: list[str] = []

    def visit(g: Graph, prefix: str, recorded: bool) -> None:
        recorded = recorded or "reset" in namespace(g.metadata)
        for name, node in g.nodes.items():
            path = prefix + name
            if isinstance(node, Graph):
                visit(node, path + ".", recorded)
            elif (
                node.type_name in SPIKING_TYPES
                and not recorded
                and getattr(node, "v_reset", None) is None
                and "reset" not in namespace(node.metadata)
            ):
                found.append(path)

    visit(graph, "", False)
    return found


def unrecorded_reset_warning(graph: Any, flag: str) -> str | None:
    """The warning for a graph with unrecorded resets (None when every reset is recorded).

    ``flag`` is how the user chooses the mode in this command (``--reset subtract`` or
    ``-O reset=subtract``).
    """
    paths = unrecorded_resets(graph)
    if not paths:
        return None
    shown = ", ".join(repr(p) for p in paths[:5]) + (", ..." if len(paths) > 5 else "")
    n = len(paths)
    return (
        f"{n} spiking node{'s' if n > 1 else ''} ({shown}) record{'s' if n == 1 else ''} no "
        "reset (no v_reset: a file older than nir 1.0.6?); using reset to zero, as nir >= 1.0.6 "
        "reads it. Files of that era were written when NIR documented reset by subtraction: "
        f"pass {flag} if the model resets by subtraction (the NIR paper's models do)."
    )
