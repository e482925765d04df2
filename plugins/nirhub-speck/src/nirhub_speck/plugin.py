"""The ``speck`` backend: SynSense Speck 2f (default) and 2e, through sinabs' DynapcnnNetwork.

Cheap to import: no torch, sinabs or samna here. ``check`` is numpy only (chip limits and
memory, :mod:`nirhub_speck.layers`); ``from_ir``/``run`` import sinabs and torch, and import
``sinabs.backend.dynapcnn`` without ever importing the PyPI samna stub
(:mod:`nirhub_speck.samna_guard`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import Backend, BackendDescriptor, Option, Requirement, hookimpl
from nirhub_speck.refusals import REFUSED

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph

IMPORTS = frozenset(
    {"Input", "Output", "Conv2d", "Affine", "Linear", "IF", "SumPool2d", "AvgPool2d", "Flatten"}
    | {"NIRGraph"}
)


class SpeckBackend(Backend):
    """Speck: 9 convolutional cores of IAF neurons, 8-bit weights, one threshold per layer."""

    descriptor = BackendDescriptor(
        name="speck",
        kind="hardware",
        summary="SynSense Speck 2f/2e: IAF conv networks, discretized and mapped by sinabs",
        from_ir=IMPORTS,
        refusals=REFUSED,
        writes=(".json", ".npz"),
        requires=(Requirement("sinabs", min_version="3.1"), Requirement("torch")),
        install_hint='pip install "nirhub-speck[framework]"',
        options=(
            Option(
                "chip",
                "choice",
                "target chip (same cores and memories; the samna device differs)",
                default="speck2f",
                choices=("speck2f", "speck2e"),
            ),
            Option(
                "dt",
                "float",
                "seconds per step of the NIR IF (v += dt*r*x), folded into the weights "
                "(default: the graph's recorded nirhub.dt; sinabs exports need dt=1)",
            ),
            Option(
                "reset",
                "choice",
                "reset of every IF (default: each node's recorded mode, else zero)",
                choices=("zero", "subtract"),
            ),
        ),
        can_run=True,
        limitations=(
            "writing the chip configuration (<stem>.samna.json) and running on a board need "
            "SynSense's real samna; pip's samna is a stub (detected, never imported). Without "
            "it the artifact is the discretized network and core map (.json + .npz). The "
            "real-samna branch is untested here",
            "the run hook simulates the discretized network in software (sinabs "
            "DynapcnnNetwork, one step per input frame), not the asynchronous chip",
            "IF neurons only (no LIF/CubaLIF/LI), a chain of at most 9 conv/linear -> IF -> "
            "sum-pool layers; square kernels and pooling; one threshold per layer",
            "fires at v >= threshold (NIR: >): ties are exact where one integer scale keeps a "
            "layer's ratios within 8-bit weights (threshold one chip unit above), else a "
            "per-node warning with the measured effect; v is floored at -32768 chip units",
        ),
        modules=(),
        python=">=3.8",
        framework="sinabs",
        docs_url="https://sinabs.readthedocs.io/en/latest/speck/overview.html",
    )

    def check(self, graph: Graph, **options: Any) -> list[Any]:
        """Every chip-limit violation at once, without importing sinabs or torch."""
        from nirhub_speck.layers import plan_layers

        _, problems = plan_layers(graph, reset=options.get("reset"))
        return problems

    def from_ir(self, graph: Graph, **options: Any) -> Any:
        import warnings

        from nirhub.backend import ConversionWarning
        from nirhub_speck.build import build
        from nirhub_speck.ties import tie_warning

        model = build(
            graph, dt=options.get("dt"), chip_name=options.get("chip"), reset=options.get("reset")
        )
        note = tie_warning(
            graph, float(model.dt), model.inexact_neurons(), reset=options.get("reset")
        )
        if note is not None:
            warnings.warn(note, ConversionWarning, stacklevel=2)
        return model

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        from nirhub_speck.report import resource_report

        return resource_report(obj)

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub_speck.artifact import save_model

        return save_model(obj, Path(path), force=bool(options.get("force")))

    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        from nirhub_speck.run import run_graph

        return run_graph(
            graph, inputs, dt, record=record, chip=options.get("chip"), reset=options.get("reset")
        )


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [SpeckBackend]
