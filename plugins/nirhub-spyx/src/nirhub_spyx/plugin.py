"""The ``spyx`` backend: NIR graphs to and from Spyx (JAX/Flax NNX) models.

Cheap to import: jax, flax and spyx are imported inside the methods only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import ALL_NODE_TYPES, Backend, BackendDescriptor, Option, Requirement, hookimpl
from nirhub_spyx.marker import MARKER

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph

#: what a generated model module is called when from_ir executes it
GENERATED_MODULE = "nirhub_spyx_generated"


class SpyxBackend(Backend):
    """Spyx models (nnx.Linear/Conv, spyx.nn neurons) and any NIR graph as a Spyx module."""

    descriptor = BackendDescriptor(
        name="spyx",
        kind="simulator",
        summary="Spyx (JAX/Flax NNX): any graph shape; NIR-timed neurons on import, Spyx's "
        "one-step-late neurons exported exactly (+ Delay)",
        to_ir=ALL_NODE_TYPES,
        from_ir=ALL_NODE_TYPES,
        reads=(".py",),
        writes=(".py",),
        requires=(
            Requirement("spyx", min_version="1.0"),
            Requirement("flax", min_version="0.12"),
            Requirement("jax"),
        ),
        install_hint='pip install "nirhub-spyx[framework]"',
        options=(
            Option(
                "dt",
                "float",
                "time step in seconds (import: the step the model runs at, "
                "default the graph's nirhub.dt; export: the step a Spyx model's decays "
                "are per)",
            ),
            Option(
                "method",
                "choice",
                "reference discretisation the model reproduces "
                "(default: the graph's nirhub.method, else euler)",
                choices=("euler", "exact"),
            ),
            Option(
                "reset",
                "choice",
                "reset mode of every spiking node (default: each node's recorded mode, else zero)",
                choices=("zero", "subtract", "subtract-delayed", "subtract-guarded"),
            ),
            Option(
                "input_shape",
                "str",
                "export: the input shape, channels first, e.g. "
                "2,34,34 (needed when the model does not start with a Linear or neuron "
                "layer)",
            ),
            Option(
                "precision",
                "choice",
                "run hook: float64 (as the reference simulator) or float32 (Spyx's default)",
                choices=("float64", "float32"),
                default="float64",
            ),
        ),
        can_run=True,
        limitations=(
            "Spyx's own neurons fire one step late: their export adds a one-step Delay per "
            "spiking layer (exact; backends without Delay cannot take it)",
            "ALIF, ResonateFire and quantized layers have no NIR equivalent",
        ),
        modules=("spyx", "flax", GENERATED_MODULE),
        python=">=3.11,<3.15",
        docs_url="https://github.com/kmheckel/spyx",
        extra={"marker": MARKER},
    )

    def owns(self, model: Any) -> bool:
        if super().owns(model):
            return True
        # a GraphModel built by a saved module (its class lives in that module)
        from nirhub_spyx.export import is_graph_model

        return is_graph_model(model) and hasattr(model, "initial_state")

    def claims(self, path: Path) -> bool:
        """True for a model module this plugin generated (its first line is the marker)."""
        from nirhub.backend.spec_artifact import starts_with_marker

        return starts_with_marker(path, MARKER)

    # -- framework -> IR -----------------------------------------------------------------
    def load(
        self, path: Path, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> Any:
        from nirhub_spyx.artifact import load_model

        return load_model(Path(path), weights=weights)

    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub_spyx.export import export_spyx

        return export_spyx(model, dt=options.get("dt"), input_shape=options.get("input_shape"))

    # -- IR -> framework -----------------------------------------------------------------
    def from_ir(self, graph: Graph, **options: Any) -> Any:
        from nirhub.backend import resolve_dt, resolve_method
        from nirhub_spyx.importer import build_model

        return build_model(
            graph,
            resolve_dt(graph, options.get("dt")),
            method=resolve_method(graph, options.get("method")),
            reset=options.get("reset"),
        )

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub_spyx.artifact import save_model

        return save_model(
            obj,
            Path(path),
            force=bool(options.get("force")),
            dt=options.get("dt"),
            input_shape=options.get("input_shape"),
        )

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        gen = getattr(obj, "nirhub_generated", None)
        if gen is None:
            return {}
        from nirhub_spyx.codegen import count_values

        spec = gen.spec
        return {
            "layers": sum(1 for la in spec.layers if la.cls is not None),
            "values": count_values(spec),
            "dt": spec.dt,
            "method": spec.method,
            "recurrent_edges": len(spec.back_edges),
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
        from nirhub_spyx.importer import run

        return run(
            graph,
            inputs,
            dt,
            record=record,
            method=resolve_method(graph, options.get("method")),
            reset=options.get("reset"),
            precision=options.get("precision") or "float64",
        )


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [SpyxBackend]
