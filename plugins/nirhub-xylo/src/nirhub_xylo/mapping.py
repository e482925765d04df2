"""Map and quantize a NIR graph onto a Xylo chip with rockpool's own tool chain.

Pipeline (``map_graph``):

1. :func:`nirhub_xylo.structure.analyse` checks the graph against the chip's limits;
2. nirhub-rockpool's importer builds the rockpool ``Sequential`` of ``LinearTorch`` and
   ``LIFTorch`` (forward Euler: decays ``a = 1 - dt/tau``, input gains folded in the weights);
3. rockpool's Xylo mapper (``rockpool.devices.xylo.<part>.mapper``) allocates hidden and output
   neurons and builds the float specification;
4. nirhub corrects what the stock pipeline loses or approximates:
   * decay shifts are computed exactly, ``dash = -log2(1 - a)`` (the mapper's ``log2(tau/dt)``
     is off for short time constants), then rounded;
   * rounding a synaptic shift changes the synaptic decay from ``a`` to ``a_q = 1 - 2**-dash``,
     and Xylo (like LIFTorch) decays the incoming weight too (``I <- a_q (I + W x)``): each
     neuron's incoming weights are scaled by ``a / a_q`` so that the input gain is kept;
   * Affine biases (``-O bias=membrane``) become membrane biases ``a b / (1 - a)`` (the
     mapper drops LinearTorch biases with a warning);
5. rockpool's ``channel_quantize`` turns weights and thresholds into integers per target
   neuron (scale ``s = 127 / max|w|`` over all weights into the neuron, threshold ``round(s
   thr)``, reduced if it would overflow int16); nirhub quantizes the membrane biases with the
   same per-neuron scale (rockpool's channel_quantize leaves them unscaled when each neuron has
   one synapse) and refuses values outside int16;
6. finer membrane units (``-O units=fine``, the default; :func:`_finer_state`): the int8
   weights shifted left by ``k`` bits, thresholds and biases rounded at ``2^k s``, so that
   every bit-shift decay's rounding (one unit per step) weighs ``2^k`` times less.
"""

from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import (
    BackendUnavailableError,
    Problem,
    UnsupportedError,
    raise_unsupported,
)
from nirhub.ir.conventions import reset_mode
from nirhub.ir.graph import Graph
from nirhub_xylo.chips import Chip, get_chip
from nirhub_xylo.structure import Layout, analyse, float_dash

#: the arrays of a quantized Xylo specification (rockpool's spec keys)
SPEC_ARRAYS = (
    "weights_in",
    "weights_rec",
    "weights_out",
    "dash_mem",
    "dash_mem_out",
    "dash_syn",
    "dash_syn_2",
    "dash_syn_out",
    "threshold",
    "threshold_out",
    "bias",
    "bias_out",
)
#: also keep each membrane's DC gain 1/(1 - a) under the rounded shift (off: measured to
#: help graph B (0.985 vs 0.981) but hurt graph A (0.69 vs 0.83); see docs/backends/xylo.md)
MEMBRANE_DC = False
SPEC_SCALARS = ("weight_shift_in", "weight_shift_rec", "weight_shift_out")
#: finer membrane units: weights shifted left until the largest threshold would exceed this
#: many units (0: off, rockpool's units); 2**12 leaves 8x int16 headroom above the threshold
RESOLUTION_THRESHOLD = 2**12
#: the largest weight left shift nirhub uses
MAX_WEIGHT_SHIFT = 7
#: the ``units`` option: finer membrane units (default) or rockpool's own
UNITS_CHOICES = (None, "fine", "rockpool")


@dataclass
class Population:
    """One NIR neuron population on the chip."""

    path: str  #: NIR node path of the spiking node
    role: str  #: "hidden" | "output"
    ids: np.ndarray  #: indices into the hidden (or output) arrays of the spec
    depth: int  #: steps of Xylo's inter-layer delay before it (hidden layer k: k)


@dataclass
class XyloModel:
    """What ``from_ir`` returns: a quantized Xylo specification and how it was made."""

    chip: Chip
    dt: float
    spec: dict[str, Any]  #: integer arrays + weight shifts (rockpool's keys)
    float_spec: dict[str, Any]  #: the same before quantization (corrected)
    scale_hidden: np.ndarray  #: per hidden neuron: integer units per NIR unit
    scale_out: np.ndarray
    populations: list[Population]
    weight_paths: dict[str, list[str]]  #: "in" | "rec" | "out" -> NIR node paths
    output_name: str
    input_name: str
    n_inputs: int
    notes: list[str] = field(default_factory=list)
    #: unroll_conv: original (multi-dimensional) shape of every node made 1-D
    flat_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def n_hidden_layers(self) -> int:
        return sum(1 for p in self.populations if p.role == "hidden")


def import_xylo(chip: Chip) -> tuple[Any, Any, Any]:
    """(mapper, channel_quantize, XyloSim) of ``chip``, with the samna stub blocked.

    ``import rockpool.devices.xylo`` imports every chip package, and syns65302's does a bare
    ``import samna``; the mapper and XyloSim need no samna. So the ``rockpool.devices.xylo``
    package (and, for Xylo Audio 3, its own package) are registered as empty namespace
    modules and only the needed sub-modules are imported.
    """
    from nirhub.backend import block_samna_stub

    block_samna_stub()
    try:
        import rockpool
        import rockpool.devices  # noqa: F401  (docstring only)
    except ImportError as exc:  # pragma: no cover - requirement checked by the hub
        raise BackendUnavailableError(
            f"rockpool is not importable: {exc}", hint='pip install "nirhub-xylo[framework]"'
        ) from None
    base = Path(rockpool.__file__).parent / "devices" / "xylo"
    _namespace("rockpool.devices.xylo", base)
    try:
        from rockpool.transform.quantize_methods import channel_quantize

        if chip.part == "syns65302":
            _namespace("rockpool.devices.xylo.syns65302", base / "syns65302")
            from rockpool.devices.xylo.syns63300.xylo_sim import XyloSim
            from rockpool.devices.xylo.syns65302.xylo_mapper import mapper
        elif chip.part == "syns63300":
            from rockpool.devices.xylo.syns63300 import XyloSim, mapper
        else:
            from rockpool.devices.xylo.syns61201 import XyloSim, mapper
    except ImportError as exc:
        raise BackendUnavailableError(
            f"rockpool's Xylo support for {chip.title} is not importable: {exc}",
            hint='pip install "nirhub-xylo[framework]" (rockpool, torch, xylosim)',
        ) from None
    if getattr(XyloSim, "__name__", "") != "XyloSim" or not isinstance(XyloSim, type):
        raise BackendUnavailableError(
            "XyloSim is unavailable (rockpool found no xylosim)",
            hint="pip install xylosim (an sdist: it needs a C++ compiler)",
        )
    return mapper, channel_quantize, XyloSim


def _namespace(name: str, path: Path) -> None:
    if name in sys.modules:
        return
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)]  # type: ignore[attr-defined]
    mod.__package__ = name
    sys.modules[name] = mod


def map_graph(
    graph: Graph,
    *,
    chip: Any = None,
    dt: float,
    method: str | None = None,
    reset: str | None = None,
    bias: str | None = None,
    unroll_conv: bool = False,
    layout: Layout | None = None,
    units: str | None = None,
) -> XyloModel:
    """Check, map and quantize ``graph`` for ``chip`` (see the module docstring).

    ``layout``: what :func:`~nirhub_xylo.structure.analyse` found for these arguments, when
    the check already ran it (the graph is then lowered once per conversion). ``units``:
    ``"fine"`` (default: :func:`_finer_state`) or ``"rockpool"`` (``channel_quantize``'s own
    units, no weight shifts).
    """
    if units not in UNITS_CHOICES:
        from nirhub.backend import UsageError

        raise UsageError(
            f"unknown units {units!r}", hint=f"-O units= one of {', '.join(UNITS_CHOICES[1:])}"
        )
    the_chip = get_chip(chip)
    problems: list[Problem] = []
    if layout is None:
        layout, problems = analyse(
            graph, the_chip, dt=dt, method=method, reset=reset, bias=bias, unroll_conv=unroll_conv
        )
    raise_unsupported(problems, the_chip.title, how="")
    if layout is None:  # a lowering error that names no node
        raise UnsupportedError(f"{the_chip.title} cannot run this graph", problems=[])
    return _map(layout.graph or graph, layout, the_chip, fine=units != "rockpool")


def _map(graph: Graph, layout: Layout, chip: Chip, *, fine: bool = True) -> XyloModel:
    from nirhub_rockpool.import_ import build_model

    mapper, channel_quantize, _ = import_xylo(chip)
    model = build_model(
        graph, dt=layout.dt, method=layout.method, reset="subtract", lowered=layout.lowered
    )
    with warnings.catch_warnings():
        # the mapper warns that LinearTorch biases are not transferred: nirhub moves them
        # itself (bias=membrane) or has refused the graph
        warnings.filterwarnings("ignore", message="Bias parameters of LinearWeights")
        try:
            spec = mapper(
                model.as_graph(),
                weight_dtype="float",
                threshold_dtype="float",
                dash_dtype="float",
                max_hidden_neurons=chip.hidden,
                max_output_neurons=chip.outputs,
            )
        except Exception as exc:  # rockpool's DRCError and allocation errors
            raise UnsupportedError(
                f"rockpool's {chip.title} mapper refused the network: {exc}",
                problems=[],
            ) from None
    spec.pop("mapped_graph", None)
    f = {k: np.array(v, dtype=np.float64) for k, v in spec.items() if k in SPEC_ARRAYS}
    for k in SPEC_SCALARS:
        f[k] = int(spec[k])
    f["weights_in"] = _three_d(f["weights_in"])
    f["weights_rec"] = _three_d(f["weights_rec"])
    pops = _populations(layout, model, chip)
    notes = [
        f"{path}: recorded reset mode {reset_mode(graph, path)!r} replaced by Xylo's "
        "subtraction in the spike step (-O reset=subtract); spike trains can differ"
        for path in layout.reset_overridden
    ]
    notes += _correct(f, layout, model, pops)
    q, s_hid, s_out = _quantize(f, channel_quantize, chip, fine=fine)
    return XyloModel(
        chip=chip,
        dt=layout.dt,
        spec=q,
        float_spec=f,
        scale_hidden=s_hid,
        scale_out=s_out,
        populations=pops,
        weight_paths=_weight_paths(layout),
        output_name=layout.lowered.plan.output_name,
        input_name=graph.inputs[0],
        n_inputs=layout.n_inputs,
        notes=notes,
        flat_shapes=dict(layout.flat_shapes),
    )


def _three_d(w: np.ndarray) -> np.ndarray:
    return w[:, :, None] if w.ndim == 2 else w


def _populations(layout: Layout, model: Any, chip: Chip) -> list[Population]:
    pops = []
    for depth, it in enumerate(layout.hidden):
        ids = np.asarray(getattr(model, it.name)._hw_ids, dtype=np.int64)
        pops.append(Population(it.neuron_path, "hidden", ids, depth))
    out = layout.output
    ids = np.asarray(getattr(model, out.name)._hw_ids, dtype=np.int64) - chip.hidden
    pops.append(Population(out.neuron_path, "output", ids, len(layout.hidden)))
    return pops


def _weight_paths(layout: Layout) -> dict[str, list[str]]:
    first, *rest = layout.weights
    rec = [p for it in layout.hidden if it.has_rec for p in it.paths if p != it.neuron_path]
    return {
        "in": list(first.paths) or [first.name],
        "rec": rec + [p for it in rest[:-1] for p in (it.paths or [it.name])],
        "out": list(rest[-1].paths) or [rest[-1].name],
    }


def _correct(f: dict[str, Any], layout: Layout, model: Any, pops: list[Population]) -> list[str]:
    """Exact decay shifts, input-gain compensation, Affine biases onto the membrane."""
    dt = layout.dt
    notes = []
    for mem, syn, w_keys, bias_key in (
        ("dash_mem", "dash_syn", ("weights_in", "weights_rec"), "bias"),
        ("dash_mem_out", "dash_syn_out", ("weights_out",), "bias_out"),
    ):
        # the mapper's dash is log2(tau/dt) of rockpool's tau (a = exp(-dt/tau))
        for key in (mem, syn):
            f[key] = float_dash(dt * np.exp2(f[key]), dt)
        a = 1.0 - np.exp2(-f[syn])
        a_q = 1.0 - np.exp2(-np.round(f[syn]))
        comp = np.where(a_q > 0, a / np.where(a_q > 0, a_q, 1.0), 1.0)
        if MEMBRANE_DC:
            # the membrane's DC gain 1/(1 - a_m) changes with the rounded shift: keep it
            m_gain = np.exp2(-np.round(f[mem])) / np.exp2(-f[mem])
            comp = comp * m_gain
            f[bias_key] = f[bias_key] * m_gain
        for wk in w_keys:
            w = f[wk]  # input weights may cover only the first (input-expansion) neurons
            c = comp[: w.shape[1]]
            f[wk] = w * (c[None, :, None] if w.ndim == 3 else c[None, :])
    by_name = {it.name: it for it in layout.neurons}
    pop_of = {p.path: p for p in pops}
    chain = layout.lowered.items
    for i, it in enumerate(chain):
        if it.kind != "linear" or not it.has_bias or i + 1 >= len(chain):
            continue
        target = by_name.get(chain[i + 1].name)
        if target is None:
            continue
        b = getattr(model, it.name).bias.detach().numpy().astype(np.float64).reshape(-1)
        if not np.any(b != 0):
            continue
        pop = pop_of[target.neuron_path]
        key = "bias" if pop.role == "hidden" else "bias_out"
        syn = "dash_syn" if pop.role == "hidden" else "dash_syn_out"
        mem = "dash_mem" if pop.role == "hidden" else "dash_mem_out"
        a = 1.0 - np.exp2(-f[syn][pop.ids])
        m_gain = np.exp2(-np.round(f[mem][pop.ids])) / np.exp2(-f[mem][pop.ids])
        f[key][pop.ids] += a * b / (1.0 - a) * (m_gain if MEMBRANE_DC else 1.0)
        notes.append(
            f"{it.paths[0] if it.paths else it.name}: Affine bias moved onto the membrane of "
            f"{target.neuron_path} (exact after the synaptic transient)"
        )
    return notes


def _neuron_scales(w_into: np.ndarray, thr: np.ndarray, w_max: int, thr_max: int) -> np.ndarray:
    """channel_quantize's per-neuron scale: ``w_max / max|w|``, limited by int16 thresholds."""
    peak = np.max(np.abs(w_into), axis=0) if w_into.size else np.zeros(thr.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(peak > 0, w_max / np.where(peak > 0, peak, 1.0), 1.0)
        over = (peak > 0) & (np.abs(np.round(thr * s)) > thr_max)
        s = np.where(over, thr_max / np.where(thr != 0, np.abs(thr), 1.0), s)
    return s


def _quantize(
    f: dict[str, Any], channel_quantize: Any, chip: Chip, *, fine: bool = True
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    args = {k: v for k, v in f.items() if k not in ("bias", "bias_out")}
    q = channel_quantize(
        **args, bits_per_weight=chip.weight_bits, bits_per_threshold=chip.threshold_bits
    )
    n_hid = f["weights_rec"].shape[0]
    w_in = np.zeros((f["weights_in"].shape[0], n_hid, f["weights_in"].shape[2]))
    w_in[:, : f["weights_in"].shape[1]] = f["weights_in"]  # Audio 3/IMU: input-expansion only
    w_hid = np.concatenate(
        [w_in.transpose(0, 2, 1).reshape(-1, n_hid),
         f["weights_rec"].transpose(0, 2, 1).reshape(-1, n_hid)]
    )  # fmt: skip
    s_hid = _neuron_scales(w_hid, f["threshold"], chip.weight_max, chip.threshold_max)
    s_out = _neuron_scales(
        f["weights_out"], f["threshold_out"], chip.weight_max, chip.threshold_max
    )
    out: dict[str, Any] = {}
    for k in SPEC_ARRAYS:
        if k in ("bias", "bias_out"):
            scale = s_hid if k == "bias" else s_out
            out[k] = np.round(f[k] * scale).astype(np.int64)
        else:
            out[k] = np.asarray(q[k], dtype=np.int64)
    if chip.synapses_per_hidden == 1 or not np.any(out["weights_in"][:, :, 1:]):
        out["weights_in"] = out["weights_in"][:, :, :1]
        out["weights_rec"] = out["weights_rec"][:, :, :1]
    for k in SPEC_SCALARS:
        out[k] = int(f[k])
    out["dash_syn_2"] = np.zeros_like(out["dash_syn"])
    if fine and RESOLUTION_THRESHOLD:
        s_hid, s_out = _finer_state(out, f, s_hid, s_out, chip)
    problems = _range_problems(out, chip)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise UnsupportedError(
            f"the quantized network does not fit {chip.title}:\n{listing}", problems=problems
        )
    return out, s_hid, s_out


def _shift_for(thr: np.ndarray, bias: np.ndarray, chip: Chip) -> int:
    """The largest weight left shift ``k`` that keeps every threshold, rounded at ``2^k``
    finer units, within ``RESOLUTION_THRESHOLD`` and every bias within int16 (``thr`` and
    ``bias`` in the quantization's units, before rounding; 0: leave the spec alone)."""
    peak = float(np.max(np.abs(thr), initial=0.0))
    top = float(np.max(np.abs(bias), initial=0.0))
    k = 0
    while (
        k < MAX_WEIGHT_SHIFT
        and peak > 0
        and round(peak * 2 ** (k + 1)) <= RESOLUTION_THRESHOLD
        and round(top * 2 ** (k + 1)) <= chip.bias_max
    ):
        k += 1
    return k


def _finer_state(
    q: dict[str, Any], f: dict[str, Any], s_hid: np.ndarray, s_out: np.ndarray, chip: Chip
) -> tuple[np.ndarray, np.ndarray]:
    """Measure the membrane in finer units: weights shifted left by ``k`` bits (Xylo's
    ``weight_shift_*``), thresholds and biases rounded at ``2^k`` times the scale.

    The int8 weights keep their values; what gains is every bit-shift decay, which rounds
    by up to one unit per step (``v - (v >> dash)``): ``2^k`` finer units make that error
    ``2^k`` times smaller against the threshold (measured on the any-to-any matrix's
    ``dyadic-cubalif``: 39 of 400 differing output cells at shift 0, see
    docs/backends/xylo.md). ``RESOLUTION_THRESHOLD`` leaves int16 headroom above the
    threshold for the membrane (which saturates)."""
    if any(q[k] for k in SPEC_SCALARS):  # the mapper chose shifts itself: keep them
        return s_hid, s_out
    k_hid = _shift_for(f["threshold"] * s_hid, f["bias"] * s_hid, chip)
    k_out = _shift_for(f["threshold_out"] * s_out, f["bias_out"] * s_out, chip)
    if k_hid:
        s_hid = s_hid * 2**k_hid
        q["weight_shift_in"] = q["weight_shift_rec"] = k_hid
        q["threshold"] = np.round(f["threshold"] * s_hid).astype(np.int64)
        q["bias"] = np.round(f["bias"] * s_hid).astype(np.int64)
    if k_out:
        s_out = s_out * 2**k_out
        q["weight_shift_out"] = k_out
        q["threshold_out"] = np.round(f["threshold_out"] * s_out).astype(np.int64)
        q["bias_out"] = np.round(f["bias_out"] * s_out).astype(np.int64)
    return s_hid, s_out


def _range_problems(q: dict[str, Any], chip: Chip) -> list[Any]:
    from nirhub.backend import Problem

    out = []
    for k in ("bias", "bias_out"):
        if np.any(np.abs(q[k]) > chip.bias_max):
            out.append(
                Problem(
                    k,
                    f"a membrane bias needs {int(np.abs(q[k]).max())} after quantization; "
                    f"Xylo's biases are int{chip.bias_bits} (at most {chip.bias_max}). "
                    "Reduce the bias or the weights' spread into those neurons",
                    kind="unsupported",
                )
            )
    for k in ("threshold", "threshold_out"):
        if np.any(q[k] < 1):
            out.append(
                Problem(
                    k,
                    "a threshold quantizes to 0 or less (it is tiny against the neuron's "
                    "largest incoming weight): raise the threshold or shrink the weights",
                    kind="unsupported",
                )
            )
    return out
