"""A backend whose hooks are the plugin's own modules, imported on first use.

The ``snntorch`` and ``torch`` backends keep each direction in a module of their package:
``export.to_ir``, ``import_.from_ir``, ``artifact.load``/``artifact.save`` and ``run.run``.
:class:`ModuleBackend` is the class that calls them, so that a plugin's ``plugin.py`` holds
its descriptor and what is its own (which models it owns, extra options of ``load``) and stays
cheap to import: the modules (and the frameworks they import) are loaded when a method runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from nirhub.hub.backend import Backend

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.ir.graph import Graph
    from nirhub.sim import SimulationResult

__all__ = ["ModuleBackend"]


class ModuleBackend(Backend):
    """Calls ``<package>.export.to_ir``, ``<package>.import_.from_ir``,
    ``<package>.artifact.load``/``save`` and ``<package>.run.run``."""

    #: the plugin's package, e.g. ``"nirhub_torch"``
    package: ClassVar[str]

    def _module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def load_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments ``artifact.load`` takes besides ``weights`` (the options the
        user gave that concern loading)."""
        return {"device": options.get("device"), "dtype": options.get("dtype")}

    def load(
        self, path: Path, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> Any:
        """A saved artifact: generated source that is parsed, never executed, and weights-only
        tensors (so ``trust_pickle`` is never needed)."""
        return self._module("artifact").load(path, weights=weights, **self.load_options(options))

    def to_ir(self, model: Any, **options: Any) -> Graph:
        return self._module("export").to_ir(model, **options)

    def from_ir(self, graph: Graph, **options: Any) -> Any:
        return self._module("import_").from_ir(graph, **options)

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        """``force`` (the user's ``--force``) reaches the artifact; a direct call without it
        overwrites, as ``artifact.save`` does."""
        return self._module("artifact").save(obj, path, force=bool(options.get("force", True)))

    def run(
        self,
        graph: Graph,
        inputs: dict[str, Any],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> SimulationResult:
        options.pop("dt", None)  # the run's step is the dt argument
        return self._module("run").run(graph, inputs, dt, record=record, **options)
