"""Which NIR graphs Xylo can run, decided without importing rockpool (used by ``check``).

Xylo runs one shape of network: input channels -> input weights -> hidden neurons (with
recurrent weights; several hidden populations chained through the recurrent weight matrix) ->
output weights -> output neurons. Every Xylo neuron is a current-based LIF: a synaptic current
``I`` and a membrane ``v``, both decayed by bit shifts. nirhub finds that shape by lowering the
graph with nirhub-rockpool's importer (``nirhub_rockpool.lowering``: the same LinearTorch /
LIFTorch chain rockpool's Xylo mapper reads) and checks the chip's limits on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import IRError, Problem, UnsupportedError, UsageError
from nirhub.ir.conventions import get_variant, reset_mode
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import SPIKING_TYPES
from nirhub_xylo.chips import Chip

#: options the structure depends on
RESET_CHOICES = ("subtract",)
BIAS_CHOICES = ("refuse", "membrane")


@dataclass
class Layout:
    """The graph as Xylo layers (plain data from the rockpool lowering)."""

    lowered: Any  #: nirhub_rockpool.lowering.Lowered
    dt: float
    method: str
    #: the graph that is mapped (the input graph, or its unrolled form with unroll_conv)
    graph: Graph | None = None
    #: unroll_conv: original shape of every node made 1-D
    flat_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: lowering items that are weights / neuron populations, in chain order
    weights: list[Any] = field(default_factory=list)
    neurons: list[Any] = field(default_factory=list)
    #: NIR paths whose recorded reset mode differs from Xylo's and was accepted (reset=subtract)
    reset_overridden: list[str] = field(default_factory=list)
    #: NIR paths of Affine biases moved onto the membrane (bias=membrane)
    bias_moved: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> list[Any]:
        return self.neurons[:-1]

    @property
    def output(self) -> Any:
        return self.neurons[-1]

    @property
    def n_inputs(self) -> int:
        return int(self.weights[0].size_in)


def _problem(where: str, message: str) -> Problem:
    return Problem(where, message, kind="unsupported")


def _reset_problems(graph: Graph, reset: str | None) -> tuple[list[Problem], list[str]]:
    problems, overridden = [], []
    for path, node in graph.walk():
        if node.type_name not in SPIKING_TYPES:
            continue
        mode = reset_mode(graph, path)
        if mode == "subtract":
            variant = get_variant(node)
            if variant.v_min is not None:
                problems.append(
                    _problem(path, "a lower bound v_min after the reset: Xylo has none")
                )
            continue
        if reset == "subtract":
            overridden.append(path)
            continue
        what = {
            "zero": "resets to v_reset (also NIR's reading of a file that records no reset mode)",
            "subtract-delayed": "subtracts the threshold one step late (snnTorch's default "
            "reset_delay=True)",
            "subtract-guarded": "subtracts at most once per spike episode (snnTorch's "
            "reset_delay=False)",
        }.get(mode, f"resets in mode {mode!r}")
        problems.append(
            _problem(
                path,
                f"{what}, but Xylo neurons subtract the threshold in the spike step "
                "(floor(v/threshold) spikes, at most 31). Retrain/export with reset by "
                "subtraction, or pass -O reset=subtract to accept Xylo's reset (spike "
                "trains then differ; `nirhub simulate --backend xylo` shows by how much)",
            )
        )
    return problems, overridden


def _conv_problems(graph: Graph) -> list[Problem]:
    out = []
    for path, node in graph.walk():
        if node.type_name in ("Conv1d", "Conv2d"):
            out.append(
                _problem(
                    path,
                    f"a {node.type_name}: Xylo has only dense weight matrices. Pass "
                    "-O unroll-conv=true to unroll it into a dense matrix (it must then fit "
                    "the chip's input/neuron limits), or replace it by a Linear layer",
                )
            )
    return out


def mapping_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`analyse` and ``map_graph`` that come from the backend's
    options unchanged (``dt`` and ``chip`` aside)."""
    return {
        "method": options.get("method"),
        "reset": options.get("reset"),
        "bias": options.get("bias"),
        "unroll_conv": bool(options.get("unroll_conv")),
    }


def analyse(
    graph: Graph,
    chip: Chip,
    *,
    dt: float,
    method: str | None = None,
    reset: str | None = None,
    bias: str | None = None,
    unroll_conv: bool = False,
) -> tuple[Layout | None, list[Problem]]:
    """Every reason ``graph`` does not fit ``chip`` (all at once), and its layout if it fits."""
    flat_shapes: dict[str, tuple[int, ...]] = {}
    if unroll_conv:
        from nirhub_xylo.unroll import unroll_convolutions

        graph, flat_shapes, problems = unroll_convolutions(graph)
        if problems:
            return None, problems
    from nirhub_rockpool.lowering import lower

    from nirhub.backend import make_graph_plan, resolve_method

    if reset not in (None, *RESET_CHOICES):
        raise UsageError(f"reset must be 'subtract' (Xylo's only reset), got {reset!r}")
    if bias not in (None, *BIAS_CHOICES):
        raise UsageError(f"bias must be one of {', '.join(BIAS_CHOICES)}, got {bias!r}")
    problems, overridden = _reset_problems(graph, reset)
    problems += _conv_problems(graph)
    if problems:
        return None, problems
    how = resolve_method(graph, method)
    try:
        plan = make_graph_plan(graph, "xylo")
        low = lower(plan, graph, dt, how, "subtract", exact_ties=False)
    except (UnsupportedError, IRError) as exc:
        return None, [
            _problem(p.where, f"cannot be mapped to Xylo's neurons: {p.message}")
            for p in exc.problems
        ]
    layout = Layout(low, dt, how, graph=graph, flat_shapes=flat_shapes, reset_overridden=overridden)
    problems = _shape_problems(layout, chip, bias)
    return (layout if not problems else None), problems


def _where(item: Any) -> str:
    return item.paths[0] if item.paths else item.name


def _shape_problems(layout: Layout, chip: Chip, bias: str | None) -> list[Problem]:
    items = layout.lowered.items
    problems: list[Problem] = []
    expect = "linear"
    for it in items:
        kind = "linear" if it.kind == "linear" else "neuron"
        if it.kind in ("lifneuron", "expsyn"):
            what = "a LIF" if it.kind == "lifneuron" else "an LI (non-spiking)"
            hint = (
                "give it a synapse: a CubaLIF with tau_syn >= 2*dt (snnTorch: Synaptic/"
                "RSynaptic instead of Leaky/RLeaky), or pass -O lif=synapse to run it with "
                "Xylo's shortest synapse (not exact: even that one spreads the input over "
                "the following steps; the measured spike similarity is printed)"
                if it.kind == "lifneuron"
                else "use spiking output neurons (CubaLIF)"
            )
            problems.append(
                _problem(
                    _where(it),
                    f"{what} population: every Xylo neuron integrates through a decaying "
                    f"synaptic current, so only CubaLIF (or LI -> LIF) populations map; {hint}",
                )
            )
        if kind != expect:
            if kind == "linear":
                problems.append(
                    _problem(
                        _where(it),
                        "two weight layers in a row: Xylo needs neurons between weight "
                        "matrices; multiply the two matrices into one Linear",
                    )
                )
            else:
                problems.append(
                    _problem(
                        _where(it),
                        "neurons fed directly by neurons: Xylo connects populations only "
                        "through weights; insert a Linear",
                    )
                )
        expect = "neuron" if kind == "linear" else "linear"
        (layout.weights if kind == "linear" else layout.neurons).append(it)
    if problems:
        return problems
    if len(layout.neurons) < 2:
        where = _where(layout.neurons[0]) if layout.neurons else "<graph>"
        problems.append(
            _problem(
                where,
                "Xylo needs at least two neuron populations (hidden, then output): "
                "input weights -> hidden neurons -> output weights -> output neurons",
            )
        )
        return problems
    if layout.output.has_rec:
        problems.append(
            _problem(
                _where(layout.output),
                "the output neurons are recurrent: Xylo's output neurons have no recurrent "
                "weights; add a hidden population before them",
            )
        )
    if chip.part == "syns63300" and len(layout.hidden) == 1:
        problems.append(
            _problem(
                _where(layout.hidden[0]),
                "one hidden population both receives the input and drives the outputs: "
                "rockpool 3.1's Xylo IMU mapper allocates it twice and fails (Xylo Audio 2/3 "
                "map it). Target another chip, or split it into an input and an output "
                "population",
            )
        )
    n_in = layout.n_inputs
    if n_in > chip.inputs:
        problems.append(
            _problem(
                _where(layout.weights[0]),
                f"{n_in} input channels; {chip.title} has {chip.inputs}. Reduce the input "
                "size (e.g. pool or select channels) to at most that",
            )
        )
    n_hidden = sum(it.size_out for it in layout.hidden)
    if n_hidden > chip.hidden:
        problems.append(
            _problem(
                _where(layout.hidden[0]),
                f"{n_hidden} hidden neurons in all; {chip.title} has {chip.hidden}. Shrink "
                "the hidden layer(s)",
            )
        )
    n_out = layout.output.size_out
    if n_out > chip.outputs:
        problems.append(
            _problem(
                _where(layout.output),
                f"{n_out} output neurons; {chip.title} has {chip.outputs}. Reduce the "
                "number of classes/outputs",
            )
        )
    for it in layout.weights:
        b = it.tensors.get(f"{it.name}.bias")
        if it.has_bias and b is not None and np.any(b != 0):
            if bias == "membrane":
                layout.bias_moved.append(_where(it))
                continue
            problems.append(
                _problem(
                    _where(it),
                    "an Affine bias feeds the synaptic current; Xylo has no synaptic bias. "
                    "Pass -O bias=membrane to add it to the neurons' membrane bias (exact "
                    "after the synaptic transient of ~tau_syn), or train without it",
                )
            )
    for it in layout.neurons:
        problems += _decay_problems(it, layout.dt, chip)
    return problems


def float_dash(tau_rockpool: np.ndarray, dt: float) -> np.ndarray:
    """The exact (real) shift ``-log2(1 - a)`` of the decay ``a = exp(-dt/tau)``."""
    a = np.exp(-dt / np.asarray(tau_rockpool, np.float64))
    with np.errstate(divide="ignore"):
        return -np.log2(1.0 - a)


def _decay_problems(it: Any, dt: float, chip: Chip) -> list[Problem]:
    out = []
    n = it.name
    for key, label in ((f"{n}.tau_mem", "membrane"), (f"{n}.tau_syn", "synaptic")):
        dash = np.round(float_dash(it.tensors[key].astype(np.float64), dt))
        if np.any(dash > chip.dash_max):
            out.append(
                _problem(
                    it.neuron_path,
                    f"a {label} time constant too long for Xylo at dt={dt:g} s: it needs a "
                    f"decay shift of {int(dash.max())} bits, the chip has at most "
                    f"{chip.dash_max} (tau <= {2**chip.dash_max:g}*dt); shorten it or use a "
                    "larger dt",
                )
            )
        if label == "synaptic" and np.any(dash < 1):
            out.append(
                _problem(
                    it.neuron_path,
                    f"a synaptic time constant too short for Xylo at dt={dt:g} s (shift 0 "
                    "clears the current before it is integrated); tau_syn must be at least "
                    "about 1.5*dt (shift 1 = tau_syn 2*dt)",
                )
            )
    return out
