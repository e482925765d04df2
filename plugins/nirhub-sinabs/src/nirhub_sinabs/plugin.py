"""The ``sinabs`` backend: Sinabs (PyTorch) models to and from NIR.

Cheap to import: sinabs and torch are imported inside the methods only, and nothing here ever
imports ``sinabs.backend.dynapcnn`` (it imports samna, whose PyPI stub installs software).
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
from nirhub_sinabs.types import TYPES

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.ir.graph import Graph

GENERATED_MODULE = "nirhub_sinabs_generated"


class SinabsBackend(GeneratedTorchBackend):
    """Sinabs layers (IAF, LIF, ExpLeak, their Squeeze and Recurrent forms) and torch layers.

    Sinabs counts time in steps: ``dt`` says how many seconds one step is.
    """

    descriptor = BackendDescriptor(
        name="sinabs",
        kind="simulator",
        summary="Sinabs: PyTorch spiking layers, time in steps (tau_steps = tau/dt)",
        to_ir=TYPES,
        from_ir=TYPES,
        writes=(".py", ".pt"),
        requires=(Requirement("sinabs", min_version="3.1"), Requirement("torch")),
        install_hint='pip install "nirhub-sinabs[framework]"',
        options=(
            Option(
                "dt",
                "float",
                "seconds per sinabs time step (required to export; import "
                "default: the graph's recorded nirhub.dt)",
            ),
            Option(
                "method",
                "choice",
                "reference discretization: import reproduces it, export "
                "expresses the model in it (default: exact, sinabs' own; import: the graph's "
                "nirhub.method, else euler)",
                choices=("euler", "exact"),
            ),
            Option(
                "reset",
                "choice",
                "reset mode of every spiking node (import; default: each "
                "node's recorded mode, else zero)",
                choices=("zero", "subtract"),
            ),
            Option(
                "threshold",
                "choice",
                "export: the spike test recorded on each neuron: '>=' (default; what sinabs "
                "computes, a neuron variant that only some backends run) or 'strict' (NIR's "
                "v > threshold: differs only when v lands exactly on the threshold, and imports "
                "into every backend)",
                choices=(">=", "strict"),
            ),
            Option(
                "input_shape",
                "str",
                "export: the input shape without batch/time axes, e.g. "
                "2,34,34 (needed when the model does not start with a Linear layer)",
            ),
            Option(
                "fold",
                "bool",
                "fold input gains (r, w_in, dt) into the weights of the "
                "layer feeding a neuron, instead of a separate Scale layer",
                default=True,
            ),
            Option(
                "batch_size",
                "int",
                "batch size of the Squeeze layers of an imported chain (input (batch*time, ...))",
                default=1,
            ),
        ),
        can_run=True,
        limitations=(
            "no Delay or Threshold; v_leak must be 0 (sinabs has no resting potential)",
            "CubaLIF/CubaLI import with method=euler, or exact when it records the staged "
            "variant; export writes LIF(tau_syn) as a staged CubaLIF",
            "sinabs' spike functions (MultiSpike, MaxSpike, SingleSpike: v >= threshold) and "
            "min_v_mem export as neuron variants; importing runs them natively",
            "sinabs fires at v >= threshold, NIR at v > threshold",
            "one Input and one Output node",
        ),
        safe_classes=(
            *TORCH_NN_SAFE_CLASSES,
            "sinabs.layers.alif.ALIF",
            "sinabs.layers.alif.ALIFRecurrent",
            "sinabs.layers.alif.ALIFSqueeze",
            "sinabs.layers.exp_leak.ExpLeak",
            "sinabs.layers.exp_leak.ExpLeakSqueeze",
            "sinabs.layers.iaf.IAF",
            "sinabs.layers.iaf.IAFRecurrent",
            "sinabs.layers.iaf.IAFSqueeze",
            "sinabs.layers.lif.LIF",
            "sinabs.layers.lif.LIFRecurrent",
            "sinabs.layers.lif.LIFSqueeze",
            "sinabs.layers.pool2d.SumPool2d",
            "sinabs.layers.reshape.FlattenTime",
            "sinabs.layers.reshape.UnflattenTime",
            "sinabs.layers.reshape.Repeat",
            "sinabs.activation.spike_generation.SingleSpike",
            "sinabs.activation.spike_generation.MultiSpike",
            "sinabs.activation.spike_generation.MaxSpike",
            "sinabs.activation.reset_mechanism.MembraneReset",
            "sinabs.activation.reset_mechanism.MembraneSubtract",
            "sinabs.activation.surrogate_gradient_fn.Heaviside",
            "sinabs.activation.surrogate_gradient_fn.Gaussian",
            "sinabs.activation.surrogate_gradient_fn.MultiGaussian",
            "sinabs.activation.surrogate_gradient_fn.SingleExponential",
            "sinabs.activation.surrogate_gradient_fn.PeriodicExponential",
        ),
        modules=("sinabs", GENERATED_MODULE),
        python=">=3.8",
        docs_url="https://sinabs.readthedocs.io/",
    )

    # -- framework -> IR -----------------------------------------------------------------
    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub_sinabs.export import export_model

        return export_model(
            model,
            dt=options.get("dt"),
            input_shape=options.get("input_shape"),
            method=options.get("method"),
            threshold=options.get("threshold"),
        )

    # -- IR -> framework: check (lowering once), from_ir, save, report and run are the shared
    # ones of GeneratedTorchBackend, driven by these modules
    import_module = "nirhub_sinabs.import_"
    run_module = "nirhub_sinabs.run"
    framework = "sinabs"
    chain_structure = "Sequential (Squeeze layers)"

    def build_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"batch_size": int(options.get("batch_size") or 1)}

    def rebuild_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"dt": options.get("dt"), "method": options.get("method") or "exact"}


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [SinabsBackend]
