"""NIR graph -> sinabs model -> discretized ``DynapcnnNetwork`` mapped onto Speck cores.

1. :func:`nirhub_speck.layers.plan_layers` refuses everything the chip cannot do.
2. ``nirhub_sinabs`` imports the graph into sinabs (``IAFSqueeze``; the IF gain ``dt*r`` folded
   into the weights of the Conv2d/Linear feeding it).
3. Each IF becomes Speck's one-threshold-per-layer neuron: its per-channel threshold is folded
   into the weights (``W[c] /= v_threshold[c]``, threshold 1), exact for IF neurons.
   The neurons are configured to match NIR's IF as closely as the chip allows:
   ``spike_fn=SingleSpike`` (NIR emits at most one spike per step; sinabs' default MultiSpike
   emits ``floor(v/thr)``), ``reset_fn`` MembraneReset (NIR v_reset = 0) or MembraneSubtract
   (nirhub reset mode "subtract"), and ``min_v_mem`` set so that after discretization the floor
   is the 16-bit state's own minimum (-32768): NIR's v has no floor, and a higher min_v_mem
   (the sinabs importer uses -v_threshold) would both clip v and, through sinabs'
   discretization, take part in choosing the weight scale.
4. ``sinabs.backend.dynapcnn.DynapcnnNetwork(..., discretize=True)`` scales weights, biases and
   thresholds of each layer by one factor (8-bit weights, 16-bit thresholds) and rounds them;
   the chip's cores are assigned by sinabs' ``map_layers_to_cores`` (``get_valid_mapping``).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nirhub.backend import UnsupportedError, UsageError
from nirhub.ir.conventions import get_dt
from nirhub.ir.graph import Graph
from nirhub_speck import chip
from nirhub_speck.layers import LayerPlan, plan_layers
from nirhub_speck.samna_guard import import_dynapcnn


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

    @property
    def layers(self) -> list[Any]:
        return [self.network.dynapcnn_layers[i] for i in sorted(self.network.dynapcnn_layers)]


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
    modules = list(float_model)
    seq = torch.nn.Sequential()
    if len(lp.graph_input_shape) == 1:  # a vector input is (n, 1, 1) on the chip
        seq.append(torch.nn.Flatten())
    thresholds: list[np.ndarray] = []
    layer_no = 0
    weight_mod: Any = None
    # sinabs turns AvgPool2d into sum pooling and multiplies the next layer's weights by 1/k^2
    # before discretizing them: the floor below must see the weights as sinabs will
    pending, rescale = 1.0, 1.0
    rescales: list[float] = []
    for mod in modules:
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            weight_mod = _copy_weight(mod)
            seq.append(weight_mod)
            rescale, pending = pending, 1.0
            rescales.append(rescale)
        elif isinstance(mod, sl.IAFSqueeze):
            layer = lp.layers[layer_no]
            layer_no += 1
            thr = mod.spike_threshold.detach().double().numpy()
            per_channel = thr.reshape(thr.shape[0], -1)[:, 0] if thr.ndim else np.full(1, thr)
            per_channel = np.broadcast_to(per_channel, (layer.neuron_shape[0],)).copy()
            thresholds.append(per_channel)
            _divide_channels(weight_mod, per_channel)
            w = weight_mod.weight.detach().double().numpy() * rescale
            b = None if weight_mod.bias is None else weight_mod.bias.detach().double().numpy()
            seq.append(
                sl.IAFSqueeze(
                    spike_threshold=1.0,
                    min_v_mem=-_floor(w, b),
                    spike_fn=sinabs.activation.SingleSpike,
                    reset_fn=sinabs.activation.MembraneSubtract()
                    if layer.reset == "subtract"
                    else sinabs.activation.MembraneReset(),
                    batch_size=1,
                )
            )
        elif isinstance(mod, (sl.SumPool2d, torch.nn.AvgPool2d, torch.nn.Flatten)):
            if isinstance(mod, torch.nn.AvgPool2d):
                k = torch.nn.modules.utils._pair(mod.kernel_size)
                pending /= float(k[0] * k[1])
            seq.append(mod)
        else:  # plan_layers refused everything else; a Scale here would be a plugin bug
            raise UnsupportedError(
                f"the sinabs import produced {type(mod).__name__}, which Speck cannot run"
            )
    with torch.no_grad():
        try:
            net = dynapcnn.DynapcnnNetwork(
                seq, input_shape=lp.input_shape, batch_size=1, discretize=True
            )
        except (ValueError, TypeError) as exc:  # sinabs' own structural checks
            raise UnsupportedError(f"sinabs' DynapcnnNetwork refused the network: {exc}") from None
    builder = _config_builder(dynapcnn, name)
    try:
        core_map = {
            int(k): int(v) for k, v in builder.map_layers_to_cores(net.dynapcnn_layers).items()
        }
    except ValueError as exc:
        raise UnsupportedError(f"no placement of the layers on Speck's cores: {exc}") from None
    model = SpeckModel(
        network=net,
        plan=lp,
        chip=name,
        device=chip.DEVICES[name],
        dt=step,
        core_map=core_map,
        channel_thresholds=thresholds,
        versions=versions(),
    )
    _measure(model, seq, rescales)
    return model


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


def _measure(model: SpeckModel, float_seq: Any, rescales: list[float]) -> None:
    """Scale factor and 8-bit weight error of every layer (against the float weights)."""
    import sinabs.layers as sl
    import torch

    floats = [m for m in float_seq if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    neurons = [m for m in float_seq if isinstance(m, sl.IAFSqueeze)]
    for layer, ref, spk, rescale in zip(model.layers, floats, neurons, rescales, strict=True):
        w = ref.weight.detach().double().numpy() * rescale
        s = discretization_scale(w, chip.WEIGHT_BITS)
        if ref.bias is not None:
            s = min(s, discretization_scale(ref.bias.detach().double().numpy(), chip.WEIGHT_BITS))
        bounds = (float(spk.min_v_mem), float(spk.spike_threshold))
        s = min(s, discretization_scale(bounds, chip.STATE_BITS))
        model.scales.append(float(s))
        w_int = layer.conv.weight.detach().double().numpy().ravel()
        err = float(np.linalg.norm(w_int / s - w.ravel()) / max(np.linalg.norm(w), 1e-300))
        model.weight_errors.append(err)
