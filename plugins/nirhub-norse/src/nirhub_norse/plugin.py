"""The ``norse`` backend: Norse (PyTorch) models to and from NIR.

Cheap to import: norse and torch are imported inside the methods only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nirhub.backend import (
    TORCH_NN_SAFE_CLASSES,
    Backend,
    BackendDescriptor,
    GeneratedTorchBackend,
    Option,
    Requirement,
    hookimpl,
)
from nirhub_norse.types import TYPES

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.ir.graph import Graph

#: what a generated model module is called when from_ir executes it
GENERATED_MODULE = "nirhub_norse_generated"


class NorseBackend(GeneratedTorchBackend):
    """Norse cells (LIFBoxCell, LIFCell, LIBoxCell, LICell, IAFCell, LIFRecurrentCell) and
    torch layers; norse integrates with forward Euler at each cell's ``dt``."""

    descriptor = BackendDescriptor(
        name="norse",
        kind="simulator",
        summary="Norse: PyTorch spiking cells (forward Euler); exact tau = 1/tau_inv",
        to_ir=TYPES,
        from_ir=TYPES,
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

    # -- framework -> IR -----------------------------------------------------------------
    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub_norse.export import export_model

        return export_model(model, dt=options.get("dt"), input_shape=options.get("input_shape"))

    # -- IR -> framework: check (lowering once), from_ir, save, report and run are the shared
    # ones of GeneratedTorchBackend, driven by these modules
    import_module = "nirhub_norse.import_"
    run_module = "nirhub_norse.run"
    framework = "norse"
    chain_structure = "SequentialState"

    def rebuild_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {k: options.get(k) for k in ("dt", "method", "reset")}


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [NorseBackend]
