"""The built-in plugin: the ``.nir`` file itself as a backend, and nirhub's own graph passes.

It registers through the same hooks as any third-party plugin. Because every backend can read
or write a :class:`~nirhub.ir.graph.Graph`, this backend connects each of them to a file:
``nirhub convert model.nir --to X`` and ``nirhub convert model.pt --to nir`` both go through
it. Its run hook is the reference simulator.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.errors import UsageError
from nirhub.hub.backend import Backend, ConversionWarning
from nirhub.hub.descriptor import ALL_NODE_TYPES, BackendDescriptor, Option
from nirhub.hub.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph
    from nirhub.passes import GraphPass


class NirFileBackend(Backend):
    """``.nir`` (HDF5) files and in-memory graphs."""

    descriptor = BackendDescriptor(
        name="nir",
        kind="format",
        summary="NIR graph files (.nir, HDF5); runs with nirhub's reference simulator",
        to_ir=ALL_NODE_TYPES,
        from_ir=ALL_NODE_TYPES,
        aliases=("nir-file",),
        reads=(".nir",),
        writes=(".nir",),
        can_run=True,
        modules=("nirhub", "nir"),
        options=(
            Option(
                "tolerant",
                "bool",
                "read damaged or non-standard files, with warnings",
                default=False,
            ),
            Option(
                "nir_version",
                "choice",
                "file layout to write: 1.0.8 (current) or 1.0.4 (what Sinabs and Rockpool read)",
                choices=("1.0.8", "1.0.4"),
                default=None,
            ),
            Option(
                "compression",
                "choice",
                "compress arrays in the written file",
                choices=("gzip",),
                default=None,
            ),
            Option(
                "method",
                "choice",
                "discretization used by the run hook",
                choices=("euler", "exact"),
                default=None,
            ),
            Option(
                "reset",
                "choice",
                "reset mode for spiking nodes that do not record one (run hook)",
                choices=("zero", "subtract"),
                default=None,
            ),
        ),
        docs_url="https://neuroir.org/docs/",
    )

    def owns(self, model: Any) -> bool:
        from nirhub.ir.graph import Graph

        if isinstance(model, Graph):
            return True
        return type(model).__module__.split(".")[0] == "nir"

    def load(
        self, path: Path, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> Graph:
        from nirhub.io import read

        if weights is not None:
            raise UsageError(
                f"--weights does not apply to a .nir file ({path}); it already holds the weights"
            )
        if options.get("tolerant"):
            result = read(path, strict=False)
            for w in result.warnings:
                warnings.warn(f"{path}: {w}", ConversionWarning, stacklevel=2)
            return result.graph
        from nirhub.errors import FileFormatError

        try:
            return read(path)
        except FileFormatError as exc:
            if getattr(exc, "problems", None):  # a readable file with an invalid graph
                exc.hint = (
                    "Pass --tolerant (tolerant=True) to repair the known defects of real "
                    "files; `nirhub validate` lists them."
                )
            raise

    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub.ir.graph import Graph

        if isinstance(model, Graph):
            return model
        from nirhub.io.nir_interop import from_nir

        return from_nir(model)

    def from_ir(self, graph: Graph, **options: Any) -> Graph:
        return graph

    def save(self, obj: Graph, path: Path, **options: Any) -> list[Path]:
        from nirhub.io import write

        kwargs: dict[str, Any] = {}
        if options.get("nir_version"):
            kwargs["nir_version"] = options["nir_version"]
        if options.get("compression"):
            kwargs["compression"] = options["compression"]
        report = write(obj, path, **kwargs)
        for note in report.notes:
            warnings.warn(f"{path}: {note}", ConversionWarning, stacklevel=2)
        return [Path(path)]

    def report(self, obj: Graph, **options: Any) -> dict[str, Any]:
        return {
            "nodes": sum(1 for _ in obj.walk()),
            "neurons": obj.num_neurons(),
            "synapses": obj.num_synapses(),
        }

    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        from nirhub.sim import simulate

        kwargs: dict[str, Any] = {}
        if options.get("method"):
            kwargs["method"] = options["method"]
        if options.get("reset"):
            kwargs["reset"] = options["reset"]
        return simulate(graph, inputs, dt, record=record, **kwargs)


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [NirFileBackend]


@hookimpl
def nirhub_passes() -> list[GraphPass]:
    from nirhub.passes import builtin_passes

    return builtin_passes()
