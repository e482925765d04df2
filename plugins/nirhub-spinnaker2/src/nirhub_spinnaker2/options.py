"""Which ``-O`` options the lowering takes (shared by the plugin and the run hook)."""

from __future__ import annotations

from typing import Any

#: options of the lowering (the rest are run/report options)
LOWERING_OPTIONS = (
    "dt",
    "method",
    "integrator",
    "reset",
    "weight_scale",
    "rounding",
    "conn_delay",
    "max_neurons_per_core",
)


def lowering_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options.get(k) for k in LOWERING_OPTIONS}
