"""The plugin module nirhub loads through the entry point ``npjson``.

Rules every plugin module follows:

* it is imported to *list* the backend, so it must be cheap: no framework import at module
  level (here the format code and numpy are imported inside the methods);
* it declares the backend's capabilities in a frozen :class:`BackendDescriptor` (node types per
  direction, file suffixes, requirements, options); the hub checks a conversion against it
  before calling any method, so the methods only ever see graphs they declared they can take;
* it returns its backend classes from the ``nirhub_backends`` hook (and optionally graph
  passes from ``nirhub_passes`` and CLI sub-commands from ``nirhub_cli_commands``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import Backend, BackendDescriptor, Option, Problem, Requirement, hookimpl
from nirhub_npjson.types import NODE_TYPES

if TYPE_CHECKING:  # pragma: no cover - only for type checkers, costs nothing at run time
    import numpy as np

    from nirhub.ir.graph import Graph
    from nirhub_npjson.format import NpjsonModel


class NpjsonBackend(Backend):
    """NIR graphs as ``model.npjson`` (JSON: nodes, edges, metadata) + ``model.npz`` (arrays)."""

    descriptor = BackendDescriptor(
        name="npjson",
        kind="format",
        summary="a JSON document plus a NumPy .npz of the arrays (template plugin)",
        to_ir=NODE_TYPES,
        from_ir=NODE_TYPES,
        aliases=("numpy-json",),
        reads=(".npjson",),
        writes=(".npjson",),
        requires=(Requirement("numpy", min_version="1.24"),),
        install_hint='pip install "numpy>=1.24"',
        options=(
            Option(
                "float32",
                "bool",
                "store floating-point arrays as float32 (smaller, rounded)",
                default=False,
            ),
            Option("max_nodes", "int", "refuse graphs with more nodes than this", default=10000),
        ),
        can_run=True,
        modules=("nirhub_npjson",),
        docs_url="https://github.com/nirhub/nirhub/tree/main/plugins/_template",
    )

    # -- framework -> IR -----------------------------------------------------------------
    def load(
        self, path: Path, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> NpjsonModel:
        from nirhub_npjson.format import read_model

        return read_model(Path(path))

    def to_ir(self, model: NpjsonModel, **options: Any) -> Graph:
        from nirhub_npjson.format import model_to_graph

        return model_to_graph(model)

    # -- IR -> framework -----------------------------------------------------------------
    def check(self, graph: Graph, **options: Any) -> list[Problem]:
        limit = int(options.get("max_nodes") or 10000)
        count = sum(1 for _ in graph.walk())
        if count > limit:
            return [Problem("<graph>", f"has {count} nodes; max_nodes is {limit}", kind="limit")]
        return []

    def from_ir(self, graph: Graph, **options: Any) -> NpjsonModel:
        from nirhub_npjson.format import graph_to_model

        return graph_to_model(graph, float32=bool(options.get("float32")))

    def save(self, obj: NpjsonModel, path: Path, **options: Any) -> list[Path]:
        from nirhub_npjson.format import write_model

        return write_model(obj, Path(path))

    def report(self, obj: NpjsonModel, **options: Any) -> dict[str, Any]:
        return {
            "arrays": len(obj.arrays),
            "array_bytes": int(sum(a.nbytes for a in obj.arrays.values())),
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
        """Run the graph *as this format stores it* (float32 rounding included)."""
        from nirhub.backend import simulate

        stored = self.to_ir(self.from_ir(graph, **options))
        return simulate(stored, inputs, dt, record=record)


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [NpjsonBackend]
