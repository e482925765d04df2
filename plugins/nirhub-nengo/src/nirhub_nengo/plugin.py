"""The ``nengo`` backend: NIR graphs to and from Nengo networks.

Cheap to import: nengo is imported inside the methods only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import ALL_NODE_TYPES, Backend, BackendDescriptor, Option, Requirement, hookimpl
from nirhub_nengo.marker import MARKER

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph


class NengoBackend(Backend):
    """Nengo networks: ensembles of LIF neurons, synapse filters and transforms."""

    descriptor = BackendDescriptor(
        name="nengo",
        kind="simulator",
        summary="Nengo: exact (zero-order hold) integration; reproduces the reference "
        "simulator's exact or Euler mode step for step",
        to_ir=ALL_NODE_TYPES,
        from_ir=ALL_NODE_TYPES,
        reads=(".py",),
        writes=(".py",),
        requires=(Requirement("nengo", min_version="4.0"),),
        install_hint='pip install "nirhub-nengo[framework]"',
        options=(
            Option(
                "dt",
                "float",
                "time step in seconds (import: the step the network runs "
                "at, default the graph's nirhub.dt; export: the step it is simulated at)",
            ),
            Option(
                "method",
                "choice",
                "reference discretisation the Nengo network reproduces "
                "(default: the graph's nirhub.method, else euler; exact = Nengo's own "
                "integration, tau_rc = tau)",
                choices=("exact", "euler"),
            ),
            Option(
                "reset",
                "choice",
                "reset mode of every spiking node (default: each node's recorded mode, else zero)",
                choices=("zero", "subtract", "subtract-delayed", "subtract-guarded"),
            ),
            Option(
                "approximate",
                "bool",
                "export: drop refractory periods and voltage floors "
                "(with a warning) instead of refusing them",
                default=False,
            ),
        ),
        can_run=True,
        limitations=(
            "export reads only the pieces nirhub maps (LIF/IF ensembles, synapse filters, "
            "Dense/Sparse/Convolution transforms); no Python function nodes, no learning",
            "refractory periods (tau_ref) and voltage floors have no NIR field",
        ),
        modules=("nengo",),
        python=">=3.8",
        docs_url="https://www.nengo.ai/nengo/",
        extra={"marker": MARKER},
    )

    def claims(self, path: Path) -> bool:
        """True for a network module this plugin generated (its first line is the marker)."""
        from nirhub.backend.spec_artifact import starts_with_marker

        return starts_with_marker(path, MARKER)

    # -- framework -> IR -----------------------------------------------------------------
    def load(
        self, path: Path, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> Any:
        from nirhub_nengo.artifact import load_network

        return load_network(Path(path), weights=weights)

    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub_nengo.export import export_network

        return export_network(
            model, dt=options.get("dt"), approximate=bool(options.get("approximate"))
        )

    # -- IR -> framework -----------------------------------------------------------------
    def from_ir(self, graph: Graph, **options: Any) -> Any:
        from nirhub.backend import resolve_dt, resolve_method
        from nirhub_nengo.importer import build_network

        return build_network(
            graph,
            resolve_dt(graph, options.get("dt")),
            method=resolve_method(graph, options.get("method")),
            reset=options.get("reset"),
        )

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub_nengo.artifact import save_network

        return save_network(obj, Path(path), force=bool(options.get("force")), dt=options.get("dt"))

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        gen = getattr(obj, "nirhub_generated", None)
        if gen is None:
            return {}
        spec = gen.spec
        return {
            "ensembles": sum(1 for o in spec.objects if o.kind == "ensemble"),
            "neurons": sum(o.size for o in spec.objects if o.kind == "ensemble"),
            "nodes": sum(1 for o in spec.objects if o.kind != "ensemble"),
            "connections": len(spec.conns),
            "dt": spec.dt,
        }

    # -- run hook ------------------------------------------------------------------------
    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        from nirhub.backend import resolve_method
        from nirhub_nengo.importer import run

        return run(
            graph,
            inputs,
            dt,
            record=record,
            method=resolve_method(graph, options.get("method")),
            reset=options.get("reset"),
        )


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [NengoBackend]
