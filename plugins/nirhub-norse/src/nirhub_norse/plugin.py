"""The ``norse`` backend: Norse (PyTorch) models to and from NIR.

Cheap to import: norse and torch are imported inside the methods only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.hub.backend import Backend
from nirhub.hub.descriptor import TORCH_NN_SAFE_CLASSES, BackendDescriptor, Option, Requirement
from nirhub.hub.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph

_TYPES = frozenset(
    {
        "Input",
        "Output",
        "Affine",
        "Linear",
        "Scale",
        "Conv1d",
        "Conv2d",
        "SumPool2d",
        "AvgPool2d",
        "Flatten",
        "IF",
        "LI",
        "LIF",
        "CubaLI",
        "CubaLIF",
        "NIRGraph",
    }
)
#: what a generated model module is called when from_ir executes it
GENERATED_MODULE = "nirhub_norse_generated"


class NorseBackend(Backend):
    """Norse cells (LIFBoxCell, LIFCell, LIBoxCell, LICell, IAFCell, LIFRecurrentCell) and
    torch layers; norse integrates with forward Euler at each cell's ``dt``."""

    descriptor = BackendDescriptor(
        name="norse",
        kind="simulator",
        summary="Norse: PyTorch spiking cells (forward Euler); exact tau = 1/tau_inv",
        to_ir=_TYPES,
        from_ir=_TYPES,
        writes=(".py", ".pt"),
        requires=(Requirement("norse", min_version="1.1"), Requirement("torch")),
        install_hint='pip install "nirhub-norse[framework]"',
        options=(
            Option(
                "dt",
                "float",
                "time step in seconds (import: the step the model runs at; "
                "default the graph's recorded nirhub.dt)",
            ),
            Option(
                "method",
                "choice",
                "reference discretization the imported model must "
                "reproduce (default: the graph's nirhub.method, else euler)",
                choices=("euler", "exact"),
            ),
            Option(
                "reset",
                "choice",
                "reset mode of every spiking node (default: each node's recorded mode, else zero)",
                choices=("zero", "subtract"),
            ),
            Option(
                "input_shape",
                "str",
                "export: the input shape without batch axis, e.g. "
                "2,34,34 (needed when the model does not start with a Linear layer)",
            ),
            Option(
                "fold",
                "bool",
                "fold input gains (r, w_in, dt) into the weights of the "
                "layer feeding a neuron, instead of a separate Scale layer",
                default=True,
            ),
        ),
        can_run=True,
        limitations=(
            "no Delay, Threshold or I (norse has no non-spiking integrator)",
            "CubaLIF/CubaLI only with method=euler (norse's synapse is forward Euler)",
            "IF only with reset to 0 (IAFCell has no subtraction and starts at v_reset)",
            "one Input and one Output node",
        ),
        # norse models pickle bound methods (builtins.getattr, never allowed) and LIF parameter
        # tuples that do not pickle at all: whole-module .pt files rarely load safely
        safe_classes=(
            *TORCH_NN_SAFE_CLASSES,
            "norse.torch.module.sequential.SequentialState",
            "norse.torch.module.lift.Lift",
            "norse.torch.module.lif.LIF",
            "norse.torch.module.lif.LIFCell",
            "norse.torch.module.lif.LIFRecurrent",
            "norse.torch.module.lif.LIFRecurrentCell",
            "norse.torch.module.lif_box.LIFBoxCell",
            "norse.torch.module.leaky_integrator.LI",
            "norse.torch.module.leaky_integrator.LICell",
            "norse.torch.module.leaky_integrator_box.LIBoxCell",
            "norse.torch.module.iaf.IAF",
            "norse.torch.module.iaf.IAFCell",
            "norse.torch.functional.iaf.IAFParameters",
            "norse.torch.functional.leaky_integrator.LIParameters",
            "norse.torch.functional.leaky_integrator_box.LIBoxParameters",
        ),
        modules=("norse", GENERATED_MODULE),
        python=">=3.8",
        docs_url="https://norse.github.io/norse/",
    )

    def owns(self, model: Any) -> bool:
        if super().owns(model):
            return True
        children = getattr(model, "modules", None)
        if not callable(children):
            return False
        try:
            return any(type(m).__module__.split(".")[0] == "norse" for m in children())
        except TypeError:
            return False

    # -- framework -> IR -----------------------------------------------------------------
    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub_norse.export import export_model

        return export_model(model, dt=options.get("dt"), input_shape=options.get("input_shape"))

    # -- IR -> framework -----------------------------------------------------------------
    def check(self, graph: Graph, **options: Any) -> list[Any]:
        """Every node norse cannot run exactly, found without importing norse (for --dry-run)."""
        from nirhub.errors import IRError, UnsupportedError, UsageError
        from nirhub.hub.graphplan import make_graph_plan
        from nirhub_norse.import_ import resolve_dt, resolve_method
        from nirhub_norse.lowering import check_and_gains

        try:
            step = resolve_dt(graph, options.get("dt"))
            how = resolve_method(graph, options.get("method"))
            plan = make_graph_plan(graph, "norse")
            check_and_gains(plan, graph, step, how, options.get("reset"))
        except (UnsupportedError, IRError) as exc:
            return list(exc.problems)
        except UsageError:
            return []  # no dt yet: from_ir will say so
        return []

    def from_ir(self, graph: Graph, **options: Any) -> Any:
        from nirhub_norse.import_ import build_model

        return build_model(
            graph,
            dt=options.get("dt"),
            method=options.get("method"),
            reset=options.get("reset"),
            fold=options.get("fold", True) is not False,
        )

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub_norse.artifact import save_model
        from nirhub_norse.import_ import built_for

        built = built_for(obj)
        if built is None:  # a model nirhub did not build: go through the IR
            from nirhub_norse.import_ import build_model

            graph = self.to_ir(obj, **options)
            built = built_for(
                build_model(
                    graph,
                    dt=options.get("dt"),
                    method=options.get("method"),
                    reset=options.get("reset"),
                )
            )
        return save_model(
            built,
            Path(path),
            title=f"{Path(path).stem}: a norse model",
            force=bool(options.get("force")),
        )

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        from nirhub_norse.import_ import built_for

        built = built_for(obj)
        if built is None:
            return {}
        low = built.lowered
        return {
            "modules": sum(len(v) for v in low.layers.values()),
            "tensors": len(built.tensors),
            "values": int(sum(a.size for a in built.tensors.values())),
            "dt": low.dt,
            "method": low.method,
            "structure": "SequentialState" if low.plan.is_chain() else "Network",
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
        from nirhub_norse.run import run_graph

        return run_graph(
            graph,
            inputs,
            dt,
            record=record,
            method=options.get("method"),
            reset=options.get("reset"),
        )


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [NorseBackend]
