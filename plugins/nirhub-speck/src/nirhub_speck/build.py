"""NIR graph -> sinabs model -> discretized ``DynapcnnNetwork`` mapped onto Speck cores.

1. :func:`nirhub_speck.layers.plan_layers` refuses everything the chip cannot do.
2. ``nirhub_sinabs`` imports the graph into sinabs (``IAFSqueeze``; the IF gain ``dt*r`` folded
   into the weights of the Conv2d/Linear feeding it).
3. Each chip layer gets its integers one of two ways:

   - exact (:mod:`nirhub_speck.ties`): when one integer ``T`` maps ``dt*r*W/v_threshold`` of
     every output channel exactly onto 8-bit integers, the weights are those integers and the
     threshold is ``T + 1`` (reset to zero) or ``T`` with the membrane starting at -1 (subtract):
     the chip's ``v >= threshold`` is then NIR's ``v > v_threshold``, ties included;
   - otherwise as sinabs' ``DynapcnnNetwork(discretize=True)`` does it: the per-channel
     threshold folded into the weights (``W[c] /= v_threshold[c]``, threshold 1), then one
     factor for weights, bias and thresholds (8-bit weights, 16-bit thresholds), rounded; the
     conversion warns about ties with their measured effect.

   The neurons are configured to match NIR's IF as closely as the chip allows:
   ``spike_fn=SingleSpike`` (NIR emits at most one spike per step; sinabs' default MultiSpike
   emits ``floor(v/thr)``), ``reset_fn`` MembraneReset (NIR v_reset = 0) or MembraneSubtract
   (nirhub reset mode "subtract"), and the floor ``min_v_mem`` at the 16-bit state's own minimum
   (-32768 chip units): NIR's v has no floor, and a higher min_v_mem (the sinabs importer uses
   -v_threshold) would both clip v and, through sinabs' discretization, take part in choosing
   the weight scale.
4. ``sinabs.backend.dynapcnn.DynapcnnNetwork(..., discretize=False)`` takes these integers
   (AvgPool2d given as SumPool2d, its ``1/k^2`` already in the next weights); the chip's cores
   are assigned by sinabs' ``map_layers_to_cores`` (``get_valid_mapping``).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import UnsupportedError, UsageError
from nirhub.ir.conventions import get_dt, get_variant
from nirhub.ir.graph import Graph
from nirhub_speck import chip
from nirhub_speck.layers import LayerPlan, plan_layers
from nirhub_speck.samna_guard import import_dynapcnn
from nirhub_speck.ties import ExactLayer, exact_layer


@dataclass
class SpeckModel:
    """What ``from_ir`` returns: the discretized network, its core map and how it was made."""

    network: Any  #: sinabs DynapcnnNetwork (discretized)
    plan: LayerPlan
    chip: str
    device: str
    dt: float
    core_map: dict[int, int]  #: DynapcnnNetwork layer index -> Speck core
    #: per layer: the discretization factor s (chip integer = round(s * normalized float))
    scales: list[float] = field(default_factory=list)
    #: per layer: per-output-channel v_threshold / (dt r), to express v back in NIR units
    channel_thresholds: list[np.ndarray] = field(default_factory=list)
    #: per layer: relative RMS error of the 8-bit weights against the float weights
    weight_errors: list[float] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    #: per layer: its exact integers (:class:`ExactLayer`), or why its ties are not exact
    ties: list[ExactLayer | str] = field(default_factory=list)
    #: per layer: the membrane's initial value in chip units (-1: exact subtract reset;
    #: empty: all 0)
    initial_values: list[int] = field(default_factory=list)

    @property
    def layers(self) -> list[Any]:
        return [self.network.dynapcnn_layers[i] for i in sorted(self.network.dynapcnn_layers)]

    def inexact_neurons(self) -> dict[str, str]:
        """NIR path of every IF whose ties are not exact -> why (needs ``ties``)."""
        return {
            spec.neuron: why
            for spec, why in zip(self.plan.layers, self.ties, strict=True)
            if not isinstance(why, ExactLayer)
        }


def versions() -> dict[str, str]:
    out = {}
    for dist in ("nirhub", "nirhub-speck", "nirhub-sinabs", "sinabs", "torch"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = ""
    return out


def resolve_chip(value: Any) -> str:
    name = "speck2f" if value is None else str(value).lower()
    if name not in chip.DEVICES:
        raise UsageError(f"chip must be one of {', '.join(chip.CHIPS)}, got {value!r}")
    return name


def discretization_scale(values: Any, bits: int) -> float:
    """sinabs' ``determine_discretization_scale`` (the factor mapping ``values`` onto
    ``bits``-bit signed integers), in float64."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    arr = np.asarray(values, dtype=np.float64)
    vmin, vmax = float(arr.min()), float(arr.max())
    if abs(vmin) <= abs(vmax) * abs(lo / hi):
        return abs(hi / vmax) if vmax != 0 else np.inf
    return abs(lo / vmin)


def build(graph: Graph, *, dt: Any = None, chip_name: Any = None, reset: Any = None) -> SpeckModel:
    import sinabs
    import sinabs.layers as sl
    import torch
    from nirhub_sinabs.import_ import build_model, resolve_dt

    name = resolve_chip(chip_name)
    lp, problems = plan_layers(graph, reset=reset)
    if problems or lp is None:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise UnsupportedError(
            f"the graph does not fit Speck ({len(problems)} problem(s)):\n{listing}",
            problems=problems,
        )
    if dt is None and get_dt(graph) is None:
        raise UsageError(
            "no time step: pass dt, the seconds per step of NIR's IF equation v += dt*r*x; "
            "the graph does not record one (metadata nirhub.dt)",
            hint="Graphs exported by sinabs (r = 1: the input is added once per step) need --dt 1.",
        )
    step = resolve_dt(graph, dt)
    dynapcnn = import_dynapcnn()
    float_model = build_model(
        graph, dt=step, reset=reset, fold=True, batch_size=1, exact_ties=False
    )
    nodes = {(s.path or s.name): s.node for s in lp.plan.steps.values()}
    seq = torch.nn.Sequential()
    if len(lp.graph_input_shape) == 1:  # a vector input is (n, 1, 1) on the chip
        seq.append(torch.nn.Flatten())
    model = SpeckModel(
        network=None,
        plan=lp,
        chip=name,
        device=chip.DEVICES[name],
        dt=step,
        core_map={},
        versions=versions(),
    )
    layer_no = 0
    weight_mod: Any = None
    # AvgPool2d is sum pooling on the chip with 1/k^2 folded into the next layer's weights
    # (sinabs' rule); it is applied here, before discretizing, so that the integers below are
    # the chip's (DynapcnnNetwork gets SumPool2d and discretize=False)
    pending, rescale = 1.0, 1.0
    for mod in list(float_model):
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            weight_mod = _copy_weight(mod)
            seq.append(weight_mod)
            rescale, pending = pending, 1.0
        elif isinstance(mod, sl.IAFSqueeze):
            layer = lp.layers[layer_no]
            layer_no += 1
            thr = mod.spike_threshold.detach().double().numpy()
            per_channel = thr.reshape(thr.shape[0], -1)[:, 0] if thr.ndim else np.full(1, thr)
            per_channel = np.broadcast_to(per_channel, (layer.neuron_shape[0],)).copy()
            model.channel_thresholds.append(per_channel)
            exact = _exact(nodes, layer, step, rescale, weight_mod)
            if isinstance(exact, ExactLayer):
                _set_integers(weight_mod, exact)
                threshold, floor = float(exact.threshold), float(chip.STATE_MIN)
                model.scales.append(float(exact.units))
                model.weight_errors.append(0.0)
            else:
                _divide_channels(weight_mod, per_channel)
                threshold, floor = 1.0, -_floor_of(weight_mod, rescale)
            spk = sl.IAFSqueeze(
                spike_threshold=threshold,
                min_v_mem=floor,
                spike_fn=sinabs.activation.SingleSpike,
                reset_fn=sinabs.activation.MembraneSubtract()
                if layer.reset == "subtract"
                else sinabs.activation.MembraneReset(),
                batch_size=1,
            )
            if not isinstance(exact, ExactLayer):
                _discretize_like_sinabs(model, weight_mod, spk, rescale)
            model.ties.append(exact)
            model.initial_values.append(exact.initial if isinstance(exact, ExactLayer) else 0)
            seq.append(spk)
        elif isinstance(mod, (sl.SumPool2d, torch.nn.AvgPool2d, torch.nn.Flatten)):
            if isinstance(mod, torch.nn.AvgPool2d):
                k = torch.nn.modules.utils._pair(mod.kernel_size)
                pending /= float(k[0] * k[1])
                mod = sl.SumPool2d(kernel_size=k, stride=k)
            seq.append(mod)
        else:  # plan_layers refused everything else; a Scale here would be a plugin bug
            raise UnsupportedError(
                f"the sinabs import produced {type(mod).__name__}, which Speck cannot run"
            )
    with torch.no_grad():
        try:
            net = dynapcnn.DynapcnnNetwork(
                seq, input_shape=lp.input_shape, batch_size=1, discretize=False
            )
        except (ValueError, TypeError) as exc:  # sinabs' own structural checks
            raise UnsupportedError(f"sinabs' DynapcnnNetwork refused the network: {exc}") from None
    model.network = net
    builder = _config_builder(dynapcnn, name)
    try:
        model.core_map = {
            int(k): int(v) for k, v in builder.map_layers_to_cores(net.dynapcnn_layers).items()
        }
    except ValueError as exc:
        raise UnsupportedError(f"no placement of the layers on Speck's cores: {exc}") from None
    set_initial_states(model, batch=1)
    return model


def set_initial_states(model: SpeckModel, batch: int) -> None:
    """Start every neuron at its layer's initial value (-1 for exact subtract layers, else 0);
    sinabs' ``make_config`` writes this state as the chip's ``neurons_initial_value``."""
    initial = model.initial_values or [0] * len(model.plan.layers)
    for spec, layer, value in zip(model.plan.layers, model.layers, initial, strict=True):
        start_at(layer.spk, spec.neuron_shape, batch, value)


def start_at(spk: Any, shape: tuple[int, ...], batch: int, value: int) -> None:
    """Reset a sinabs IAF layer's membrane to ``value`` (chip units) for ``batch`` samples."""
    spk.reset_states()
    if value:
        spk.init_state_with_shape((batch, *shape))
        spk.v_mem.fill_(float(value))


def _exact(
    nodes: dict[str, Any], layer: Any, step: float, rescale: float, weight_mod: Any
) -> ExactLayer | str:
    """The exact integers of ``layer`` (see :mod:`nirhub_speck.ties`) or why there are none."""
    wnode, neuron = nodes[layer.weight], nodes[layer.neuron]
    weight = np.asarray(wnode.weight, dtype=np.float64)
    bias = getattr(wnode, "bias", None)
    full = layer.neuron_shape if layer.kind == "conv" else (int(layer.neuron_shape[0]),)
    r, thr = (_per_channel(getattr(neuron, k), full) for k in ("r", "v_threshold"))
    gain = step * r  # as the reference simulator computes dt*r
    # the sinabs model must hold these very weights (folded by dt*r), in this layout
    folded = weight * gain.reshape(-1, *([1] * (weight.ndim - 1)))
    held = weight_mod.weight.detach().double().numpy()
    if held.shape != folded.shape or not np.allclose(held, folded, rtol=1e-6, atol=0):
        return "its weights are not laid out as the NIR node's (plugin limitation)"
    at_or_above = get_variant(neuron, layer.neuron).threshold == ">="
    return exact_layer(weight, bias, gain, thr, rescale, layer.reset, at_or_above)


def _per_channel(values: Any, full: tuple[int, ...]) -> np.ndarray:
    """One value per output channel of a parameter that is constant within each channel (the
    check refused every other case)."""
    arr = np.broadcast_to(np.asarray(values, dtype=np.float64), full)
    return arr.reshape(full[0], -1)[:, 0]


def _set_integers(mod: Any, exact: ExactLayer) -> None:
    import torch

    with torch.no_grad():
        mod.weight.copy_(torch.as_tensor(exact.weight, dtype=mod.weight.dtype))
        if mod.bias is not None:
            b = exact.bias if exact.bias is not None else np.zeros(mod.bias.shape)
            mod.bias.copy_(torch.as_tensor(b, dtype=mod.bias.dtype))


def _floor_of(mod: Any, rescale: float) -> float:
    w = mod.weight.detach().double().numpy() * rescale
    b = None if mod.bias is None else mod.bias.detach().double().numpy()
    return _floor(w, b)


def _discretize_like_sinabs(model: SpeckModel, mod: Any, spk: Any, rescale: float) -> None:
    """Scale and round ``mod`` and ``spk`` in place exactly as sinabs' ``DynapcnnLayer`` does
    (``weight * rescale``, then ``discretize_conv_spike_``: one factor for weights, bias and
    thresholds, rounded in float32); record the factor and the weight error."""
    import torch
    from sinabs.backend.dynapcnn.discretize import (
        determine_discretization_scale,
        discretize_tensor,
    )

    bits_w, bits_s = chip.WEIGHT_BITS, chip.STATE_BITS
    with torch.no_grad():
        if rescale != 1.0:
            mod.weight.data = (mod.weight * rescale).clone().detach()
        w = mod.weight.detach().double().numpy()
        b = None if mod.bias is None else mod.bias.detach().double().numpy()
        bias = mod.bias if mod.bias is not None else torch.zeros(mod.weight.shape[0])
        bounds = torch.tensor((float(spk.min_v_mem), float(spk.spike_threshold)))
        scaling = min(
            determine_discretization_scale(mod.weight, bits_w),
            determine_discretization_scale(bias, bits_w),
            determine_discretization_scale(bounds, bits_s),
        )
        mod.weight.data = discretize_tensor(mod.weight, scaling, to_int=False).float()
        if mod.bias is not None:
            mod.bias.data = discretize_tensor(mod.bias, scaling, to_int=False).float()
        low, high = discretize_tensor(bounds, scaling, to_int=False)
        spk.min_v_mem = torch.nn.Parameter(low, requires_grad=False)
        spk.spike_threshold = torch.nn.Parameter(high, requires_grad=False)
    # the reported factor, in float64 (sinabs rounds with its float32 twin)
    s = discretization_scale(w, bits_w)
    if b is not None:
        s = min(s, discretization_scale(b, bits_w))
    s = min(s, discretization_scale((float(bounds[0]), float(bounds[1])), bits_s))
    model.scales.append(float(s))
    w_int = mod.weight.detach().double().numpy().ravel()
    err = float(np.linalg.norm(w_int / s - w.ravel()) / max(np.linalg.norm(w), 1e-300))
    model.weight_errors.append(err)


def _copy_weight(mod: Any) -> Any:
    import copy

    return copy.deepcopy(mod)


def _divide_channels(mod: Any, per_channel: np.ndarray) -> None:
    import torch

    d = torch.as_tensor(per_channel, dtype=mod.weight.dtype)
    with torch.no_grad():
        mod.weight /= d.reshape(-1, *([1] * (mod.weight.ndim - 1)))
        if mod.bias is not None:
            mod.bias /= d


def _floor(w: np.ndarray, b: np.ndarray | None) -> float:
    """The min_v_mem (> 0, negated by the caller) that discretizes to the 16-bit minimum.

    sinabs scales weights, bias and (min_v_mem, threshold) by one factor ``s``, the smallest of
    the factors each needs to fit its bits. With the threshold normalized to 1, the weights
    (or bias) decide ``s`` as long as ``|min_v_mem| * s <= 2**15``: so min_v_mem = -2**15 / s.
    """
    s = discretization_scale(w, chip.WEIGHT_BITS)
    if b is not None and np.any(b):
        s = min(s, discretization_scale(b, chip.WEIGHT_BITS))
    if not np.isfinite(s):  # all-zero weights: any floor works
        return float(-chip.STATE_MIN)
    limit = -chip.STATE_MIN / s
    ratio = -chip.STATE_MIN / (-chip.STATE_MIN - 1)  # sinabs' min/max asymmetry
    return max(limit, ratio)  # the threshold (1.0) itself may be what limits s


def _config_builder(dynapcnn: Any, name: str) -> Any:
    from sinabs.backend.dynapcnn.chip_factory import ChipFactory

    return ChipFactory(chip.DEVICES[name]).get_config_builder()
