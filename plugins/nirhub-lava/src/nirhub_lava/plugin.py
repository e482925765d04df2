"""The ``lava`` (float simulator) and ``loihi2`` (fixed point, Loihi 2) backends.

Cheap to import: lava, lava-dl and torch are imported inside the methods only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.backend import Backend, BackendDescriptor, Option, Requirement, hookimpl

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
        "LIF",
        "CubaLIF",
        "Delay",
        "NIRGraph",
    }
)
_NETX_TYPES = frozenset(
    {"Input", "Output", "Affine", "Linear", "Flatten", "Delay", "LIF", "CubaLIF", "IF"}
)

#: Loihi 2 chip figures (Intel's published numbers; the real compiler's packing differs)
LOIHI2_CORES = 128
LOIHI2_NEURONS_PER_CORE = 8192
LOIHI2_SYNAPSES_PER_CORE = 120_000_000 // 128

_COMMON_OPTIONS = (
    Option(
        "dt",
        "float",
        "time step in seconds (default: the graph's recorded nirhub.dt; reading a lava-dl "
        "netx file, which records none, needs it)",
    ),
    Option(
        "method",
        "choice",
        "discretisation to reproduce (default: the graph's nirhub.method, else euler)",
        choices=("euler", "exact"),
    ),
    Option(
        "reset",
        "choice",
        "reset mode of every spiking node (Lava resets to 0: only 'zero')",
        choices=("zero", "subtract"),
    ),
)
_REQUIRES = (Requirement("lava-nc", "0.10.0", "0.11"),)
_LIMITS = (
    "Lava's LIF resets v to 0 (reset by subtraction is refused), emits one spike per step at "
    "v > vth (multi-spike, v >= thr and v_min variants are refused); neurons with different "
    "time constants or thresholds are split into at most 16 LIF processes per population",
    "no LI, CubaLI, I or Threshold nodes; Outputs must be spiking neurons; a Delay with "
    "per-element values must sit next to a neuron (it becomes synaptic delays, 0..62 steps)",
    "CubaLIF under forward Euler, or under exact with the staged variant (Lava's CUBA update "
    "order); the coupled exact solution is refused",
    "every synapse adds one step of latency in Lava; nirhub's run hook compensates it "
    "(the report lists each layer's latency)",
    "lava-nc and lava-dl need Python 3.10: use them from the hub through a worker "
    "environment (nirhub env add lava /path/to/python3.10)",
)


@dataclass
class LavaModel:
    """What from_ir returns: the mapped network (and its fixed-point form for loihi2)."""

    net: Any
    fixed: Any = None
    options: dict[str, Any] = field(default_factory=dict)


def _net(graph: Graph, options: dict[str, Any]) -> Any:
    from nirhub_lava.mapping import build_net

    return build_net(
        graph, dt=options.get("dt"), method=options.get("method"), reset=options.get("reset")
    )


def _problems(graph: Graph, options: dict[str, Any], fixed: bool) -> list[Any]:
    """Every problem, found by building the network (and quantizing it for Loihi 2); when it
    fits, the network is what ``from_ir`` returns (``prepared``), so it is built once."""
    from nirhub.backend import Checked, UnsupportedError, UsageError

    try:
        net = _net(graph, options)
    except UnsupportedError as exc:
        return list(exc.problems)
    except UsageError:
        return []  # no dt yet: from_ir says so
    q = None
    if fixed:
        from nirhub_lava.fixed import quantize

        q = quantize(net)
        problems = list(q.problems) + _chip_problems(net, options)
        if problems:
            return problems
    return Checked([], prepared=(net, q))


def _chip_problems(net: Any, options: dict[str, Any]) -> list[Any]:
    from nirhub.backend import Problem

    usage = _usage(net)
    chips = int(options.get("chips") or 1)
    if usage["neuro-cores (estimate)"] > LOIHI2_CORES * chips:
        return [
            Problem(
                "<graph>",
                f"needs about {usage['neuro-cores (estimate)']} neuro-cores; {chips} Loihi 2 "
                f"chip(s) have {LOIHI2_CORES * chips}",
                kind="chip-limit",
            )
        ]
    return []


def _usage(net: Any) -> dict[str, Any]:
    import math

    neurons = sum(p.size for p in net.populations.values())
    synapses = sum(s.nnz for s in net.synapses)
    cores = 0
    per_layer = {}
    for path, pop in net.populations.items():
        syn = sum(s.nnz for s in net.synapses if s.target == path)
        c = max(
            math.ceil(pop.size / LOIHI2_NEURONS_PER_CORE),
            math.ceil(syn / LOIHI2_SYNAPSES_PER_CORE),
            1,
        )
        cores += c
        per_layer[path] = {
            "neurons": pop.size,
            "synapses": syn,
            "cores": c,
            "latency (steps)": pop.latency,
        }
    return {
        "neurons": neurons,
        "synapses": synapses,
        "neuro-cores (estimate)": cores,
        "layers": per_layer,
    }


def inexact_populations(net: Any, fixed: Any = None) -> list[str]:
    """The populations whose arithmetic may differ from the reference's where ``v`` lands
    exactly on the threshold (the float mapping's rounding, or Loihi 2's fitted scale)."""
    out = [p for p, pop in net.populations.items() if not pop.exact]
    if fixed is not None:
        out += [p for p in fixed.inexact if p not in out]
    return out


def tie_note(graph: Graph, net: Any, fixed: Any, options: dict[str, Any]) -> str | None:
    """The per-conversion warning, with the measured effect, for the populations that do not
    keep ties exact (None when every population does, or ties change no spike)."""
    from nirhub.backend.ties import RATE, STEPS, tie_effects

    paths = inexact_populations(net, fixed)
    if not paths:
        return None
    effects = [
        e
        for e in tie_effects(
            graph, float(net.dt), method=options.get("method"), reset=options.get("reset")
        )
        if e.differing and e.path in paths
    ]
    if not effects:
        return None
    target = "loihi2" if fixed is not None else "lava"
    why = (
        "Loihi 2 keeps them for IF populations that a power-of-two scale maps onto its "
        "integers (8-bit weight mantissas with a shared exponent, 17-bit threshold); these have "
        "a leak, which decays v in fixed point, or no such scale, and are scaled to about 127 "
        "units per threshold, which breaks integer ratios"
        if fixed is not None
        else "a leak, a gain folded into the weights that is not a power of two, or a "
        "threshold divided into the weights rounds differently from the reference"
    )
    return (
        f"{target} cannot keep NIR's v > v_threshold exact where v lands exactly on the "
        f"threshold ({why}). Measured with the reference simulator on {STEPS} steps of random "
        f"input spikes (rate {RATE}), firing at v >= v_threshold changes: "
        + "; ".join(e.describe() for e in effects)
        + ". Integer/dyadic networks hit such ties; a network trained with float weights "
        "rarely does."
    )


def _warn_ties(graph: Graph, net: Any, fixed: Any, options: dict[str, Any]) -> None:
    """Say, with the measured effect, where ties at the threshold are not kept exact."""
    import warnings

    from nirhub.backend import ConversionWarning

    note = tie_note(graph, net, fixed, options)
    if note is not None:
        warnings.warn(note, ConversionWarning, stacklevel=3)


class _LavaBase(Backend):
    fixed_point = False

    def check(self, graph: Graph, **options: Any) -> list[Any]:
        return _problems(graph, options, self.fixed_point)

    def from_ir(self, graph: Graph, **options: Any) -> LavaModel:
        from nirhub.backend import UnsupportedError

        prepared = options.pop("prepared", None)
        if prepared is not None:  # the check built (and quantized) it for these options
            net, fixed = prepared
            _warn_ties(graph, net, fixed, options)
            return LavaModel(net, fixed, dict(options))
        net = _net(graph, options)
        fixed = None
        if self.fixed_point:
            from nirhub_lava.fixed import quantize

            fixed = quantize(net)
            problems = list(fixed.problems) + _chip_problems(net, options)
            if problems:
                raise UnsupportedError(
                    "the network does not fit Loihi 2:\n" + "\n".join(f"  - {p}" for p in problems),
                    problems=problems,
                )
        _warn_ties(graph, net, fixed, options)
        return LavaModel(net, fixed, dict(options))

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        if not isinstance(obj, LavaModel):
            return {}
        net = obj.net
        out: dict[str, Any] = {
            "dt": net.dt,
            "method": net.method,
            "latency": f"{net.max_latency} step(s) at the output (compensated by nirhub's run "
            "hook; present in the Lava process graph and the netx artifact)",
            **_usage(net),
        }
        if obj.fixed is not None:
            chips = int(options.get("chips") or obj.options.get("chips") or 1)
            out["chip usage"] = (
                f"{out['neuro-cores (estimate)']} of {LOIHI2_CORES * chips} neuro-cores, "
                f"{out['neurons']} of {LOIHI2_CORES * LOIHI2_NEURONS_PER_CORE * chips} neurons "
                f"({chips} chip{'s' if chips > 1 else ''})"
            )
            out["limits"] = {
                "neuro-cores per chip": LOIHI2_CORES,
                "neurons per core": LOIHI2_NEURONS_PER_CORE,
                "synapses per core (chip total / 128)": LOIHI2_SYNAPSES_PER_CORE,
                "weights": "8-bit signed mantissa, shared exponent per synapse",
                "du/dv": "12 bit",
                "vth": "17-bit mantissa << 6",
                "bias": "13-bit signed mantissa << 6",
            }
            out["quantization"] = obj.fixed.errors
        return out

    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        from nirhub_lava.run import run_graph

        return run_graph(graph, inputs, dt, record=record, fixed=self.fixed_point, **options)


class LavaBackend(_LavaBase):
    """Lava processes (LIF, Dense/Sparse) run on the CPU with Loihi2SimCfg, floating point."""

    descriptor = BackendDescriptor(
        name="lava",
        kind="simulator",
        summary="Lava (lava-nc) processes on the CPU, floating point; reads lava-dl netx .net",
        to_ir=_NETX_TYPES,
        from_ir=_TYPES,
        reads=(".net", ".py"),
        writes=(".py", ".npz"),
        requires=_REQUIRES,
        install_hint='pip install "nirhub-lava[framework]"  (Python 3.10)',
        options=_COMMON_OPTIONS,
        can_run=True,
        limitations=_LIMITS,
        modules=("lava",),
        python=">=3.10,<3.11",
        framework="lava-nc",
        docs_url="https://lava-nc.org",
    )

    def owns(self, model: Any) -> bool:
        items = (
            list(model.values())
            if isinstance(model, dict)
            else list(model)
            if isinstance(model, (list, tuple))
            else [model]
        )
        return bool(items) and all(type(m).__module__.split(".")[0] == "lava" for m in items)

    def claims(self, path: Path) -> bool | None:
        try:
            with open(path, "rb") as fh:
                return fh.read(8) == b"\x89HDF\r\n\x1a\n"
        except OSError:
            return None

    def load(
        self, path: Path, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> Any:
        """A netx file (returned as its path) or this backend's own artifact (its ``.npz`` is
        read; the generated module is never executed)."""
        from nirhub.backend import UsageError

        path = Path(path)
        if path.suffix == ".py":
            with open(path, "rb") as fh:
                first = fh.readline(200)
            if not first.startswith(b"# nirhub artifact: backend=lava"):
                raise UsageError(
                    f"{path} is not a lava artifact written by nirhub",
                    hint="The lava backend reads lava-dl netx files (.net) and its own "
                    "generated modules; a hand-written Lava process graph is not read.",
                )
            from nirhub_lava.artifact import load_lava

            return LavaModel(load_lava(path))
        return path

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub_lava.artifact import save_lava

        if not isinstance(obj, LavaModel):
            raise TypeError("save() takes what lava's from_ir returned")
        return save_lava(obj.net, Path(path), title=f"{Path(path).stem}: a Lava network")

    def to_ir(self, model: Any, **options: Any) -> Graph:
        from nirhub.backend import UsageError
        from nirhub_lava.netx import read_netx

        if isinstance(model, LavaModel):  # a network nirhub mapped: its Lava semantics
            from nirhub_lava.export import net_to_graph

            return net_to_graph(model.net)
        if not isinstance(model, (str, Path)) and self.owns(model):
            # a Lava process graph built in Python (a process, or a list/dict of them)
            from nirhub_lava.export import net_to_graph
            from nirhub_lava.process_graph import net_from_processes

            dt = options.get("dt")
            if not dt:
                raise UsageError(
                    "a Lava network has no time step: give the step it stands for",
                    hint="Pass --dt in seconds, e.g. --dt 1e-3.",
                )
            return net_to_graph(net_from_processes(model, dt=float(dt)))
        if not isinstance(model, (str, Path)):
            raise UsageError(
                "the lava backend exports lava-dl netx files (.net); give the file's path",
                hint="Save a lava-dl model with its export_hdf5(...) first.",
            )
        return read_netx(Path(model), dt=options.get("dt"))


class Loihi2Backend(_LavaBase):
    """Loihi 2 fixed point: bit-accurate Lava simulation, resource report, netx artifact."""

    fixed_point = True
    descriptor = BackendDescriptor(
        name="loihi2",
        kind="hardware",
        summary="Intel Loihi 2 via Lava: fixed point (bit-accurate fixed_pt simulation), "
        "resource report, lava-dl netx artifact",
        from_ir=_TYPES,
        writes=(".net",),
        requires=(*_REQUIRES, Requirement("lava-dl", "0.6.0", "0.7")),
        install_hint='pip install "nirhub-lava[framework]"  (Python 3.10)',
        options=(
            *_COMMON_OPTIONS,
            Option("chips", "int", "number of Loihi 2 chips available", default=1),
            Option(
                "hardware",
                "bool",
                "run on a Loihi 2 board with Loihi2HwCfg (needs Intel's lava-loihi)",
                default=False,
            ),
        ),
        can_run=True,
        limitations=(
            *_LIMITS,
            "running on the chip needs Intel's non-public lava-loihi and a board "
            "(-O hardware=true); here the fixed_pt simulation is the bit-accurate model",
            "the netx artifact holds feed-forward chains without synaptic biases only "
            "(netx has no recurrent layers and puts biases on v)",
        ),
        modules=("lava",),
        python=">=3.10,<3.11",
        framework="lava-nc",
        docs_url="https://lava-nc.org",
    )

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        from nirhub.backend import write_atomically
        from nirhub_lava.netx import write_netx

        if not isinstance(obj, LavaModel) or obj.fixed is None:
            raise TypeError("save() takes what loihi2's from_ir returned")
        target = Path(path)
        if target.suffix != ".net":
            target = target.with_suffix(".net")
        write_atomically(
            target,
            lambda tmp: write_netx(obj.net, obj.fixed, Path(tmp)),
            force=bool(options.get("force", True)),
        )
        return [target]


@hookimpl
def nirhub_backends() -> list[type[Backend]]:
    return [LavaBackend, Loihi2Backend]
