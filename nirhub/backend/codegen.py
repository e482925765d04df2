"""One base for the backends whose import generates a PyTorch module as readable code.

Norse, Sinabs and Rockpool import a graph the same way: lower it without
the framework (:mod:`nirhub.backend.graphplan`), generate a Python module with a
``build_model(weights)`` function, execute it, and keep the lowering beside the model. What
differs is the lowering and the code; what is shared lives here:

* :class:`GeneratedTorchBackend`: ``check`` (by lowering, the lowering reused by ``from_ir``),
  ``from_ir``, ``save``, ``report`` and ``run``, driven by the plugin's *import module*
  (``lower_graph``, ``build_model``, ``built_for``) and *run module* (``run_model``,
  ``CONVENTIONS``);
* :class:`Built` and :class:`GeneratedModels`: a model made by executing the generated source
  (the very source ``save`` writes, so the object and the artifact cannot drift apart), and
  what it was made from;
* :func:`save_generated`: the artifact, ``<name>.py`` and its weights ``<name>.pt`` (a dict of
  tensors, loadable with ``torch.load(..., weights_only=True)``), each written atomically.

Cheap to import (no numpy: plugin modules that subclass :class:`GeneratedTorchBackend` are
imported by ``nirhub list-backends``); torch is imported when a model is built or written.
"""

from __future__ import annotations

import importlib
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from nirhub.backend.artifacts import write_atomically
from nirhub.errors import UsageError
from nirhub.hub.backend import Backend

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph

__all__ = ["Built", "GeneratedModels", "GeneratedTorchBackend", "save_generated"]


@dataclass
class Built:
    """What ``from_ir`` made, kept so ``save`` can write it: the lowering, its tensors, and
    the plugin's code generator ``generate(lowered, *, weights_file, title, version)``."""

    lowered: Any
    tensors: dict[str, np.ndarray]
    generate: Callable[..., str]

    def source(self, weights_file: str, title: str) -> str:
        from nirhub import __version__

        return self.generate(
            self.lowered, weights_file=weights_file, title=title, version=__version__
        )


class GeneratedModels:
    """The models one plugin built from generated code, and how each was made (held weakly:
    a model nobody holds is forgotten)."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self._built: weakref.WeakKeyDictionary[Any, Built] = weakref.WeakKeyDictionary()

    def instantiate(self, built: Built, **kwargs: Any) -> Any:
        """Execute ``built``'s source and call its ``build_model(weights, **kwargs)``."""
        import numpy as np
        import torch

        name = f"nirhub-{self.framework} generated"
        module = types.ModuleType(f"nirhub_{self.framework}_generated")
        module.__file__ = f"<{name}>"
        code = compile(built.source("model.pt", f"{self.framework} model"), f"<{name}>", "exec")
        exec(code, module.__dict__)  # our own generated code, not user input
        weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in built.tensors.items()}
        model = module.build_model(weights, **kwargs)
        self._built[model] = built
        return model

    def built_for(self, model: Any) -> Built | None:
        """How ``model`` was made, if this plugin made it."""
        return self._built.get(model)


def save_generated(
    built: Any,
    path: Path,
    *,
    title: str,
    force: bool = False,
    extra: tuple[tuple[Path, Callable[[str], Any]], ...] = (),
) -> list[Path]:
    """Write ``path`` (a ``.py``: ``built.source(weights_name, title)``) and its weights
    (same stem, ``.pt``: ``built.tensors``); return the paths written.

    ``extra`` are further ``(path, write(tmp_name))`` files of the same artifact (rockpool's
    parameter JSON), written between the weights and the source. Nothing is overwritten
    without ``force``: every file is checked before the first is written.
    """
    import numpy as np
    import torch

    path = Path(path)
    if path.suffix != ".py":
        path = path.with_suffix(".py")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    weights = path.with_suffix(".pt")
    if not force:
        from nirhub.errors import RefusedError

        for target in (path, weights, *(p for p, _ in extra)):
            if target.exists():
                raise RefusedError(f"{target} already exists", hint="Pass force=True (--force).")
    source = built.source(weights.name, title)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in built.tensors.items()}
    write_atomically(weights, lambda tmp: torch.save(tensors, tmp), force=force)
    for target, write in extra:
        write_atomically(target, write, force=force)
    write_atomically(path, lambda tmp: Path(tmp).write_text(source, encoding="utf-8"), force=force)
    return [path, weights, *(p for p, _ in extra)]


class GeneratedTorchBackend(Backend):
    """A backend that imports graphs as generated PyTorch code (see the module docstring).

    A subclass names its modules and says what its framework calls things; its import module
    provides ``lower_graph(graph, dt, method, reset, fold)`` (framework-free, raising
    ``UnsupportedError`` for every node it cannot run), ``build_model(graph, *, dt, method,
    reset, fold, lowered, ...)`` and ``built_for(model)``; its run module ``run_model(model,
    lowered, x, batched, record)`` (``x`` time-major, ``(T, B, *shape)``), returning the output
    and the recorded traces in the caller's layout, and ``CONVENTIONS`` (how the framework ran).
    """

    #: the plugin's import module, e.g. ``"nirhub_norse.import_"``
    import_module: ClassVar[str]
    #: the plugin's run-hook module, e.g. ``"nirhub_norse.run"``
    run_module: ClassVar[str]
    #: the framework's name in titles ("a norse model")
    framework: ClassVar[str]
    #: the report's ``structure`` for a chain of layers (a graph with branches is a "Network")
    chain_structure: ClassVar[str] = "Sequential"
    #: whether a container of another library (``torch.nn.Sequential``) holding one of the
    #: framework's modules is the framework's model
    owns_containers: ClassVar[bool] = True

    def owns(self, model: Any) -> bool:
        if super().owns(model):
            return True
        if not self.owns_containers:
            return False
        children = getattr(model, "modules", None)
        if not callable(children):
            return False
        try:
            return any(type(m).__module__.split(".")[0] == self.framework for m in children())
        except TypeError:
            return False

    def _importer(self) -> ModuleType:
        return importlib.import_module(self.import_module)

    def build_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``build_model``'s keyword arguments besides the lowering's (e.g. a batch size)."""
        return {}

    def rebuild_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """How ``save`` rebuilds a model nirhub did not build (after exporting it)."""
        return {"dt": options.get("dt"), "method": options.get("method")}

    # -- IR -> framework -----------------------------------------------------------------
    def check(self, graph: Graph, **options: Any) -> list[Any]:
        """Every node the framework cannot run exactly, found by lowering the graph without
        importing the framework (for --dry-run); the lowering is what ``from_ir`` builds."""
        from nirhub.backend.lowering import check_by_lowering

        importer = self._importer()
        return check_by_lowering(
            lambda: importer.lower_graph(
                graph,
                dt=options.get("dt"),
                method=options.get("method"),
                reset=options.get("reset"),
                fold=options.get("fold", True) is not False,
            )
        )

    def from_ir(self, graph: Graph, **options: Any) -> Any:
        return self._importer().build_model(
            graph,
            dt=options.get("dt"),
            method=options.get("method"),
            reset=options.get("reset"),
            fold=options.get("fold", True) is not False,
            lowered=options.get("prepared"),
            **self.build_options(options),
        )

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        importer = self._importer()
        model, built = obj, importer.built_for(obj)
        if built is None:  # a model nirhub did not build: go through the IR
            graph = self.to_ir(obj, **options)
            model = importer.build_model(graph, **self.rebuild_options(options))
            built = importer.built_for(model)
        return self.write_artifact(built, model, Path(path), force=bool(options.get("force")))

    def write_artifact(self, built: Any, model: Any, path: Path, *, force: bool) -> list[Path]:
        """The files of one saved model (default: :func:`save_generated`); ``model`` is the
        one ``built`` made."""
        return save_generated(
            built, path, title=f"{path.stem}: a {self.framework} model", force=force
        )

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        built = self._importer().built_for(obj)
        if built is None:
            return {}
        low = built.lowered
        modules, structure = self.report_layout(low)
        report = {
            "modules": modules,
            "tensors": len(built.tensors),
            "values": int(sum(a.size for a in built.tensors.values())),
            "dt": low.dt,
            "method": low.method,
        }
        return report if structure is None else {**report, "structure": structure}

    def report_layout(self, lowered: Any) -> tuple[Any, str | None]:
        """The report's ``modules`` and ``structure`` (None: not reported) of a lowering."""
        modules = sum(len(v) for v in lowered.layers.values())
        return modules, self.chain_structure if lowered.plan.is_chain() else "Network"

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
        """Build the model (gains kept apart unless nothing is recorded, so that every node's
        state is observable), run it with the run module's ``run_model`` and report how."""
        from nirhub.backend.runs import time_major
        from nirhub.sim import SimulationResult

        importer = self._importer()
        model = importer.build_model(
            graph,
            dt=dt,
            method=options.get("method"),
            reset=options.get("reset"),
            fold=not record,
        )
        low = importer.built_for(model).lowered
        plan = low.plan
        x, batched = time_major(inputs, plan.steps[plan.input].out_shape)
        runner = importlib.import_module(self.run_module)
        output, recorded = runner.run_model(model, low, x, batched, record)
        return SimulationResult(
            outputs={plan.output_name: output},
            recorded=recorded,
            dt=float(dt),
            method=low.method,
            steps=int(x.shape[0]),
            batch_size=int(x.shape[1]) if batched else None,
            conventions=runner.CONVENTIONS,
        )
