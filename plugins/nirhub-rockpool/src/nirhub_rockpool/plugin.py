"""The ``rockpool`` backend: Rockpool torch models (LinearTorch, LIFTorch, LIFNeuronTorch,
ExpSynTorch in a Sequential) to and from NIR.

Cheap to import: rockpool and torch are imported inside the methods only, always with samna
blocked (``import rockpool`` probes samna, whose PyPI stub pip-installs software), and never
``rockpool.devices``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import (
    Backend,
    BackendDescriptor,
    GeneratedTorchBackend,
    Option,
    Requirement,
    hookimpl,
)
from nirhub_rockpool.types import EXPORTS, IMPORTS

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.ir.graph import Graph

GENERATED_MODULE = "nirhub_rockpool_generated"


class RockpoolBackend(GeneratedTorchBackend):
    """Rockpool's torch modules; rockpool neurons reset by subtraction and fire at v >= thr
    (imports raise the threshold by one float32 unit to keep NIR's v > thr exact)."""

    descriptor = BackendDescriptor(
        name="rockpool",
        kind="simulator",
        summary="Rockpool torch modules (LIFTorch, LIFNeuronTorch, ExpSynTorch, LinearTorch)",
        to_ir=EXPORTS,
        from_ir=IMPORTS,
        writes=(".py", ".pt", ".json"),
        requires=(Requirement("rockpool", min_version="3.1"), Requirement("torch")),
        install_hint='pip install "nirhub-rockpool[framework]"',
        options=(
            Option(
                "dt",
                "float",
                "time step in seconds (import; default the graph's recorded "
                "nirhub.dt; export takes the modules' own dt)",
            ),
            Option(
                "method",
                "choice",
                "reference discretization: import reproduces it, export "
                "expresses the model in it (default: exact, rockpool's own; import: the "
                "graph's nirhub.method, else euler)",
                choices=("euler", "exact"),
            ),
            Option(
                "reset",
                "choice",
                "reset mode of every spiking node (import); rockpool "
                "only subtracts, so graphs that reset to zero need reset=subtract",
                choices=("zero", "subtract"),
            ),
            Option(
                "threshold",
                "choice",
                "export: the spike test recorded on each neuron: '>=' (default; what rockpool "
                "computes, a neuron variant that only some backends run) or 'strict' (NIR's "
                "v > threshold: differs only when v lands exactly on the threshold, and imports "
                "into every backend)",
                choices=(">=", "strict"),
            ),
        ),
        can_run=True,
        limitations=(
            "chains only (Sequential); recurrence only as LIFTorch's own recurrent weights",
            "no Conv, pooling, Flatten, Delay, Threshold, I or CubaLI (dense modules only)",
            "reset by subtraction only; v_leak must be 0 (rockpool starts at v = 0)",
            "CubaLIF import with method=euler, or exact when it records the staged variant",
            "exports rockpool's spike rule as neuron variants (v >= threshold; multi-spike "
            "output unless max_spikes_per_dt=1); imports them; refuses v_min",
            "rockpool fires at v >= threshold, NIR at v > threshold: imports raise each "
            "threshold by one float32 unit (exact at ties) except on multi-spike nodes "
            "recording NIR's test, which warn with the measured effect",
        ),
        safe_classes=(),
        modules=("rockpool", GENERATED_MODULE),
        python=">=3.10",
        docs_url="https://rockpool.ai/",
    )

    # -- framework -> IR -----------------------------------------------------------------
    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub_rockpool.export import export_model
        from nirhub_rockpool.import_ import import_rockpool

        import_rockpool()
        return export_model(
            model,
            dt=options.get("dt"),
            method=options.get("method"),
            threshold=options.get("threshold"),
        )

    # -- IR -> framework: check (lowering once), from_ir, save and run are the shared ones of
    # GeneratedTorchBackend, driven by these modules; the artifact adds rockpool's JSON
    import_module = "nirhub_rockpool.import_"
    run_module = "nirhub_rockpool.run"
    framework = "rockpool"
    owns_containers = False

    def write_artifact(self, built: Any, model: Any, path: Path, *, force: bool) -> list[Path]:
        from nirhub_rockpool.artifact import save_model

        return save_model(built, model, path, title=f"{path.stem}: a rockpool model", force=force)

    def report_layout(self, lowered: Any) -> tuple[Any, str | None]:
        return [f"{it.name}: {it.kind}" for it in lowered.items], None


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [RockpoolBackend]
