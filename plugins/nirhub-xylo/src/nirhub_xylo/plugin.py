"""The ``xylo`` backend: SynSense Xylo Audio 2 (default), Xylo Audio 3 and Xylo IMU.

Cheap to import: rockpool, torch and xylosim are imported inside the methods only, always with
the samna stub blocked (:func:`nirhub.backend.samna.block_samna_stub`); samna itself is imported
only when :func:`nirhub.backend.samna.samna_status` finds SynSense's real package, and only to
write a chip configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import Backend, BackendDescriptor, Option, Requirement, hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph

CHIP_CHOICES = ("xylo-audio2", "xylo-audio3", "xylo-imu", "syns61201", "syns65302", "syns63300")


class XyloBackend(Backend):
    """Checks a graph against a Xylo chip, maps and quantizes it with rockpool, runs XyloSim."""

    descriptor = BackendDescriptor(
        name="xylo",
        kind="hardware",
        summary="SynSense Xylo Audio 2/3 and IMU: chip check, rockpool mapping + quantization, "
        "XyloSim",
        from_ir=frozenset(
            {
                "Input",
                "Output",
                "Affine",
                "Linear",
                "Conv1d",
                "Conv2d",
                "Flatten",
                "LI",
                "LIF",
                "CubaLIF",
                "NIRGraph",
            }
        ),
        writes=(".npz", ".json"),
        requires=(
            Requirement("rockpool", min_version="3.1"),
            Requirement("torch"),
            Requirement("xylosim", min_version="0.1.3"),
        ),
        install_hint='pip install "nirhub-xylo[framework]"  (xylosim builds from an sdist)',
        options=(
            Option(
                "chip",
                "choice",
                "target chip: xylo-audio2 (SYNS61201, default), xylo-audio3 (SYNS65302), "
                "xylo-imu (SYNS63300)",
                choices=CHIP_CHOICES,
            ),
            Option("dt", "float", "time step in seconds (default: the graph's nirhub.dt)"),
            Option(
                "reset",
                "choice",
                "accept Xylo's reset (subtract in the spike step) for neurons recorded "
                "with another reset mode (they are refused otherwise)",
                choices=("subtract",),
            ),
            Option(
                "bias",
                "choice",
                "Affine biases: refuse (default) or move onto the membrane bias "
                "(exact after the synaptic transient)",
                choices=("refuse", "membrane"),
            ),
            Option(
                "lif",
                "choice",
                "LIF populations (snnTorch Leaky): refuse (default; no Xylo neuron is exactly "
                "a LIF) or synapse (Xylo's shortest synapse, an approximation whose measured "
                "spike similarity is printed)",
                choices=("refuse", "synapse"),
            ),
            Option(
                "units",
                "choice",
                "membrane units: fine (default: weights shifted left so that thresholds near "
                "2^12 units, the bit-shift decays round less) or rockpool (channel_quantize's "
                "own units, as rockpool deploys)",
                choices=("fine", "rockpool"),
            ),
            Option(
                "unroll_conv",
                "bool",
                "unroll Conv1d/Conv2d (and Flatten) into dense weight matrices (exact; the "
                "flattened sizes must fit the chip)",
            ),
            Option(
                "write",
                "choice",
                "artifact: spec (the quantized specification .npz, default) or config "
                "(the chip configuration .json; needs SynSense's real samna)",
                choices=("spec", "config"),
            ),
            Option(
                "method",
                "choice",
                "discretization the graph is read in (default: its nirhub.method, else euler)",
                choices=("euler", "exact"),
            ),
        ),
        refusals={
            "IF": "Xylo has no integrate-and-fire neuron: every Xylo membrane leaks by a bit "
            "shift, at least one unit towards 0 per step (v -= v >> dash_mem, dash_mem <= 15), "
            "and integrates its input through a decaying synaptic current; "
            "an IF network needs a leak-free target (rockpool, sinabs/speck, lava/loihi2, the "
            "reference simulator), or retrain with CubaLIF neurons (snnTorch Synaptic, rockpool "
            "LIFTorch) for Xylo",
        },
        can_run=True,
        limitations=(
            "writing the chip configuration (-O write=config, `nirhub xylo-config`) and "
            "running on a board need SynSense's real samna; the PyPI samna is a stub "
            "(detected, never imported): without it the artifact is the quantized "
            "specification (.npz)",
            "the real-samna configuration step is untested here (no real samna in CI)",
            "graphs: input weights -> CubaLIF hidden population(s) (recurrent allowed) -> "
            "output weights -> CubaLIF outputs; a LIF without synapse (snnTorch Leaky) only "
            "approximated with the shortest synapse (-O lif=synapse, similarity printed); "
            "convolutions only unrolled into dense matrices (-O unroll-conv=true)",
            "reset by subtraction in the spike step only; other reset modes need "
            "-O reset=subtract (an accepted approximation)",
            "hidden neurons emit floor(v/threshold) spikes per step (up to 31) where NIR "
            "neurons emit one: identical only while v stays below 2x threshold",
            "never exact, even on integer/dyadic networks: every bit-shift decay rounds "
            "(v - (v >> dash)) and the chip fires at v >= threshold; every conversion warns, "
            "per population, with the differing cells measured in XyloSim against the "
            "reference simulator",
            "run = XyloSim (bit-accurate SNN core; no audio/IMU front end); inputs are event "
            "counts 0..15",
        ),
        modules=(),
        python=">=3.10",
        framework="rockpool",
        docs_url="https://rockpool.ai/devices/xylo-overview.html",
    )

    def check(self, graph: Graph, **options: Any) -> list[Any]:
        """Every chip-limit violation, found without importing rockpool (--dry-run)."""
        from nirhub.backend import Checked, UsageError, resolve_dt
        from nirhub_xylo.chips import get_chip
        from nirhub_xylo.structure import analyse, mapping_options

        try:
            dt = resolve_dt(graph, options.get("dt"))
        except UsageError:
            return []  # from_ir says so
        if options.get("lif") == "synapse":
            from nirhub.backend import resolve_method
            from nirhub_xylo.lif_synapse import with_shortest_synapse

            how = resolve_method(graph, options.get("method"))
            graph, _ = with_shortest_synapse(graph, dt, how)
        chip = get_chip(options.get("chip"))
        layout, problems = analyse(graph, chip, dt=dt, **mapping_options(options))
        return Checked(problems, prepared=layout)

    def from_ir(self, graph: Graph, **options: Any) -> Any:
        from nirhub.backend import resolve_dt
        from nirhub_xylo.run import map_with_effects

        dt = resolve_dt(graph, options.get("dt"))
        return map_with_effects(graph, dt, options, layout=options.get("prepared"))

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        from nirhub_xylo.report import resource_report

        return resource_report(obj)

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub_xylo.artifact import save

        return save(obj, Path(path), write=options.get("write"), force=bool(options.get("force")))

    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        from nirhub_xylo.run import run_graph

        return run_graph(graph, inputs, dt, record=record, **options)


def xylo_config(spec: Path, output: Path, *, force: bool = False) -> None:
    """Python form of ``nirhub xylo-config``: specification (.npz) -> configuration (.json)."""
    from nirhub_xylo.artifact import read_spec, write_config

    data, meta = read_spec(spec)
    write_config(data, meta, output, force=force)


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [XyloBackend]


@hookimpl
def nirhub_cli_commands() -> list[Any]:
    from nirhub_xylo.cli import xylo_config as command

    return [("xylo-config", command)]
