"""The ``torch`` backend: NIR graphs as plain ``torch.nn.Module`` objects (no SNN framework).

Cheap to import: torch is imported inside the methods only.
"""

from __future__ import annotations

from typing import Any

from nirhub.backend import ALL_NODE_TYPES, Backend, BackendDescriptor, Option, Requirement, hookimpl
from nirhub.backend.modulebackend import ModuleBackend
from nirhub.backend.torchrun import DTYPES

#: every reset mode (``nirhub.ir.conventions.RESET_MODES``; importing nirhub.ir here would
#: load numpy, and `nirhub list-backends` imports this module)
RESET_CHOICES = ("zero", "subtract", "subtract-delayed", "subtract-guarded")


class TorchBackend(ModuleBackend):
    """IR <-> :class:`nirhub_torch.runtime.NIRModel` (the directions live in this package's
    modules; :class:`ModuleBackend` calls them)."""

    package = "nirhub_torch"

    descriptor = BackendDescriptor(
        name="torch",
        kind="simulator",
        summary="plain PyTorch module running the graph exactly like nirhub's simulator; "
        "batched, CPU/GPU, differentiable (surrogate gradients) for fine-tuning",
        to_ir=ALL_NODE_TYPES,
        from_ir=ALL_NODE_TYPES,
        aliases=("pytorch",),
        reads=(".py",),
        writes=(".py", ".pt"),
        requires=(Requirement("torch", min_version="2.0"),),
        install_hint="pip install 'nirhub-torch[framework]'  (or: pip install torch)",
        options=(
            Option("dt", "float", "time step in seconds (default: the graph's nirhub.dt)"),
            Option(
                "method",
                "choice",
                "discretisation of the neuron ODEs (default: the graph's nirhub.method, "
                "else euler)",
                choices=("euler", "exact"),
            ),
            Option(
                "reset",
                "choice",
                "reset mode for every spiking node (default: each node's recorded mode, else zero)",
                choices=RESET_CHOICES,
            ),
            Option(
                "dtype",
                "choice",
                "compute dtype (default float32 for models, float64 for runs)",
                choices=DTYPES,
            ),
            Option("device", "str", "torch device, e.g. cpu or cuda:0"),
            Option(
                "surrogate_slope",
                "float",
                "slope k of the fast-sigmoid surrogate gradient 1/(1 + k|v - thr|)^2",
                default=25.0,
            ),
            Option(
                "detach_reset",
                "bool",
                "cut the gradient through the reset (as snnTorch)",
                default=True,
            ),
        ),
        can_run=True,
        safe_classes=(
            "nirhub_torch.runtime.NIRModel",
            "nirhub_torch.runtime.NodeModule",
            "nirhub_torch.runtime.Stateless",
            "nirhub_torch.runtime.Neuron",
            "nirhub_torch.runtime.DelayModule",
            "torch.nn.modules.container.ModuleDict",
        ),
        modules=("nirhub_torch",),
        python=">=3.10",
        docs_url="https://pytorch.org/docs/stable/",
        limitations=(
            "exports only modules built by this backend (plain PyTorch has no neuron models)",
        ),
    )

    def owns(self, model: Any) -> bool:
        from nirhub_torch.export import is_model

        return is_model(model)


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [TorchBackend]
