"""The ``spinnaker2`` backend: SpiNNaker2 through py-spinnaker2's NIR conventions.

Cheap to import and numpy-only: py-spinnaker2 is not on PyPI and is never imported; the
lowering, limits, artifact and the kernel emulator are nirhub's own re-implementation of what
py-spinnaker2's ``s2_nir`` and the chip do (``docs/backends/spinnaker2.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import Backend, BackendDescriptor, Option, hookimpl
from nirhub_spinnaker2.options import lowering_options

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph


class SpiNNaker2Backend(Backend):
    """Lowers a graph to py-spinnaker2 populations, checks the chip, emulates its kernels."""

    descriptor = BackendDescriptor(
        name="spinnaker2",
        aliases=("s2",),
        kind="hardware",
        summary="SpiNNaker2: py-spinnaker2 populations (s2_nir rules), chip limits and "
        "placement, integer weights, numpy kernel emulator",
        from_ir=frozenset(
            {
                "Input",
                "Output",
                "Affine",
                "Linear",
                "Conv2d",
                "SumPool2d",
                "Flatten",
                "Delay",
                "LIF",
                "IF",
                "CubaLIF",
                "NIRGraph",
            }
        ),
        writes=(".json", ".npz"),
        install_hint="pip install nirhub-spinnaker2  (py-spinnaker2 itself is not on PyPI)",
        options=(
            Option("dt", "float", "time step in seconds (default: the graph's nirhub.dt)"),
            Option(
                "method",
                "choice",
                "discretization the graph is read in (default: its nirhub.method, else euler)",
                choices=("euler", "exact"),
            ),
            Option(
                "integrator",
                "choice",
                "py-spinnaker2 integrator: forward (a = dt/tau) or exponential "
                "(a = 1 - exp(-dt/tau)); default from the method (euler -> forward)",
                choices=("forward", "exponential"),
            ),
            Option(
                "reset",
                "choice",
                "reset of every population: zero (reset_to_v_reset) or subtract "
                "(reset_by_subtraction); default: each node's recorded mode",
                choices=("zero", "subtract"),
            ),
            Option(
                "weight_scale",
                "str",
                "per-population weight scale: max (127/max|W|, or for integer/dyadic weights "
                "the largest power of two or integer that keeps them exact; default), upstream "
                "(127/max|W| always, as py-spinnaker2), percentile:P (127/P-th percentile of "
                "|W|) or none (weights as they are)",
            ),
            Option(
                "rounding",
                "choice",
                "integer weights: trunc (what py-spinnaker2 gives the chip, default), nearest "
                "(nirhub's improvement) or none (float weights; emulator only, not deployable)",
                choices=("trunc", "nearest", "none"),
            ),
            Option(
                "conn_delay",
                "int",
                "synapse delay 0..7 ticks; > 0 selects lif/lif_curr_exp (4-bit weights)",
            ),
            Option(
                "max_neurons_per_core",
                "str",
                "neurons per PE per population, POP:N[,POP:N] (set_max_atoms_per_core)",
            ),
            Option(
                "precision",
                "choice",
                "emulator state: float32 (the ARM cores, default) or float64 (Brian2-like)",
                choices=("float32", "float64"),
            ),
            Option(
                "latency",
                "choice",
                "run hook time axis: compensated (aligned with the reference simulator, "
                "default) or raw (the chip's: one tick per projection)",
                choices=("compensated", "raw"),
            ),
            Option("tick", "float", "sys_tick_in_s for the tick-budget estimate (default 1e-3)"),
            Option(
                "probe_steps",
                "int",
                "ticks of the report's Poisson probe against the reference simulator "
                "(default 50; 0 skips it)",
            ),
        ),
        can_run=True,
        limitations=(
            "py-spinnaker2 is not on PyPI: the generated load_s2net.py (chip or its Brian2 "
            "backend) cannot be run here; that the real API accepts the artifact is untested",
            "run = nirhub's numpy emulator of the chip's neuron kernels (reproduces the "
            "paper's Braille chip rasters exactly), not the chip: placement, routing and "
            "tick deadlines are estimates",
            "graphs: Input/neurons -> Affine/Linear/Conv2d -> LIF/IF/CubaLIF populations, "
            "SumPool2d fused into conv or connection lists; Delay nodes become synapse delays "
            "(lif/lif_curr_exp, 4-bit weights, at most 7 steps); no LI, I, Scale, Threshold, "
            "AvgPool2d, Conv1d, CubaLIF after Conv2d",
            "inputs are static spike lists (0/1 per neuron and tick), no streaming",
            "each projection adds one tick of latency (compensated by the run hook unless "
            "-O latency=raw)",
        ),
        modules=(),
        python=">=3.10",
        framework="",
        docs_url="https://gitlab.com/spinnaker2/py-spinnaker2",
    )

    def check(self, graph: Graph, **options: Any) -> list[Any]:
        """Every structural problem and chip-limit violation, all at once (--dry-run)."""
        from nirhub.backend import Checked, UsageError
        from nirhub_spinnaker2.network import lower_with_problems

        try:
            net, problems = lower_with_problems(graph, lowering_options(options))
        except UsageError:
            return []  # from_ir raises it with the option's message
        # the lowering is what from_ir needs: the hub hands it over (the graph is lowered once)
        return Checked(problems, prepared=None if problems else net)

    def from_ir(self, graph: Graph, **options: Any) -> Any:
        import warnings

        from nirhub.backend import ConversionWarning
        from nirhub_spinnaker2.effects import effect_warning
        from nirhub_spinnaker2.network import lower

        net = options.get("prepared") or lower(graph, **lowering_options(options))
        for note in net.notes:
            warnings.warn(note, ConversionWarning, stacklevel=2)
        # silence is a bug: where the chip's arithmetic changes spikes, say where and how much
        effect = effect_warning(net)
        if effect is not None:
            warnings.warn(effect, ConversionWarning, stacklevel=2)
        return net

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        from nirhub_spinnaker2.report import resource_report

        steps = options.get("probe_steps")
        return resource_report(
            obj,
            probe_steps=50 if steps is None else int(steps),
            tick_s=float(options.get("tick") or 1e-3),
        )

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub_spinnaker2.artifact import save

        return save(obj, Path(path), force=bool(options.get("force")))

    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        from nirhub_spinnaker2.run import run_graph

        return run_graph(graph, inputs, dt, record=record, **options)


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [SpiNNaker2Backend]
