"""Run a NIR graph as a plain PyTorch module, with the conventions of nirhub's reference simulator.

This file only imports torch and the standard library: the ``torch`` backend's artifacts embed it
verbatim, so a saved model loads without nirhub (and without any SNN framework).

Conventions (identical to ``nirhub.simulate``; see ``docs/backends/torch.md``):

* time-major signals ``(T, B, *shape)``; a spike is the value 1 during one step;
* forward Euler (``a = 1 - dt/tau``, ``g = (dt/tau)*r``) or exact integration with the input
  held over the step (``a = exp(-dt/tau)``, ``g = (1 - a)*r``); coefficients are computed in
  float64 and then cast to the compute dtype, and every update keeps the simulator's order of
  operations (``v = v*a + (g*x + c)``), so float64 runs agree with it to rounding;
* spike when ``v > v_threshold`` (strict); reset to ``v_reset`` (0 when absent) or by subtracting
  the threshold; ``v`` starts at ``v_leak`` (0 for I/IF), ``I`` at 0;
* edges the execution plan marks as back-edges carry their source's output of the previous step
  (at step 0: the output of the network at rest, e.g. an Affine's bias); fan-in sums in edge order;
* a Delay of ``d`` seconds delays by ``floor(d/dt + 1/2)`` steps; AvgPool2d divides by the
  kernel area (padded cells count).

The forward pass is differentiable: the spike function's gradient is a fast sigmoid,
``d spike / d v = 1 / (1 + slope*|v - v_threshold|)**2`` (``surrogate_slope``, default 25), and
the reset uses the spike *detached* from the graph (as snnTorch does) unless
``detach_reset=False``. Every NIR parameter array is an ``nn.Parameter`` (Delay's ``delay`` is a
buffer: it is rounded to whole steps), so weights, biases, time constants, thresholds... can all
be fine-tuned.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

FORMAT = "nirhub-torch/1"
#: spiking node types and the node types that keep state
SPIKING = frozenset({"IF", "LIF", "CubaLIF"})
NEURONS = frozenset({"I", "IF", "LI", "LIF", "CubaLI", "CubaLIF"})
#: reset modes: NIR's two, plus snnTorch's two variants (see ``docs/backends/torch.md``)
RESET_MODES = ("zero", "subtract", "subtract-delayed", "subtract-guarded")


class SpikeFunction(torch.autograd.Function):
    """Heaviside ``x > 0`` (``x >= 0`` with ``ge``) forward; fast-sigmoid surrogate
    ``1/(1 + slope*|x|)**2`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, slope: float, ge: bool = False) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return ((x >= 0) if ge else (x > 0)).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * x.abs()) ** 2, None, None


def spike(x: torch.Tensor, slope: float, ge: bool = False) -> torch.Tensor:
    return SpikeFunction.apply(x, slope, ge)


# ---------------------------------------------------------------------------------------------
# nodes
# ---------------------------------------------------------------------------------------------


def _parameter_dtype(name: str) -> torch.dtype:
    """Parameters keep float32 as float32; everything else (float64, ints) is held as float64."""
    return torch.float32 if name == "float32" else torch.float64


class NodeModule(nn.Module):
    """One NIR node. Its array fields are parameters named like the NIR fields."""

    def __init__(self, node: dict[str, Any]) -> None:
        super().__init__()
        self.type_name: str = node["type"]
        self.path: str = node["path"]
        self.in_shape: tuple[int, ...] = tuple(node["in_shape"])
        self.out_shape: tuple[int, ...] = tuple(node["out_shape"])
        self.static: dict[str, Any] = dict(node.get("static", {}))
        self.array_fields: tuple[str, ...] = tuple(node.get("arrays", {}))
        for name, info in node.get("arrays", {}).items():
            value = torch.zeros(info["shape"], dtype=_parameter_dtype(info["dtype"]))
            if name in ("delay",):
                self.register_buffer(name, value)
            else:
                setattr(self, name, nn.Parameter(value))

    def field(self, name: str) -> torch.Tensor | None:
        return getattr(self, name) if name in self.array_fields else None

    def extra_repr(self) -> str:
        return f"{self.type_name} {self.path!r}: {list(self.in_shape)} -> {list(self.out_shape)}"


class Stateless(NodeModule):
    """Nodes without state: ``apply`` maps a ``(N, *in_shape)`` input to ``(N, *out_shape)``."""

    def apply(self, x: torch.Tensor, slope: float) -> torch.Tensor:
        t = self.type_name
        n = x.shape[0]
        if t in ("Input", "Output"):
            return x
        if t in ("Linear", "Affine"):
            w = self.weight.to(x.dtype)
            b = self.bias.to(x.dtype) if t == "Affine" else None
            if w.dim() == 2:
                y = torch.matmul(x.reshape(-1, w.shape[1]), w.t())
                if b is not None:
                    y = y + b
                return y.reshape(n, *self.out_shape)
            y = torch.matmul(w, x.unsqueeze(-1)).squeeze(-1)
            return y + b if b is not None else y
        if t == "Scale":
            return x * self.scale.to(x.dtype)
        if t in ("Conv1d", "Conv2d"):
            s = self.static
            conv = F.conv1d if t == "Conv1d" else F.conv2d
            bias = self.field("bias")
            padding = s["padding"] if isinstance(s["padding"], str) else tuple(s["padding"])
            return conv(
                x,
                self.weight.to(x.dtype),
                None if bias is None else bias.to(x.dtype),
                tuple(s["stride"]),
                padding,
                tuple(s["dilation"]),
                int(s["groups"]),
            )
        if t in ("SumPool2d", "AvgPool2d"):
            s = self.static
            (ph, pw), (kh, kw) = s["padding"], s["kernel_size"]
            if ph or pw:
                x = F.pad(x, (pw, pw, ph, ph))
            y = _window_sum(x, kh, kw, tuple(s["stride"]))
            return y / (kh * kw) if t == "AvgPool2d" else y
        if t == "Flatten":
            return x.reshape(n, *self.out_shape)
        if t == "Threshold":
            return spike(x - self.threshold.to(x.dtype), slope)
        raise TypeError(f"no operation for node type {t}")  # pragma: no cover


def _window_sum(x: torch.Tensor, kh: int, kw: int, stride: tuple[int, int]) -> torch.Tensor:
    """Sum pooling of ``(N, C, H, W)`` without padding.

    ``avg_pool2d(divisor_override=1)`` adds each window's cells row by row, starting from 0;
    for windows of up to 4 cells, adding whole strided slices in the same order gives the same
    sums (a sum of zeros may differ in its sign only) at about half the cost on the CPU.
    """
    if kh * kw > 4 or not torch.is_floating_point(x):
        return F.avg_pool2d(x, (kh, kw), stride, 0, divisor_override=1)
    sh, sw = stride
    oh, ow = (x.shape[-2] - kh) // sh + 1, (x.shape[-1] - kw) // sw + 1

    def cells(i: int, j: int) -> torch.Tensor:
        return x[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]

    offsets = [(i, j) for i in range(kh) for j in range(kw)]
    if len(offsets) == 1:
        return cells(0, 0).clone()
    y = cells(*offsets[0]) + cells(*offsets[1])
    for i, j in offsets[2:]:
        y.add_(cells(i, j))
    return y


class DelayModule(NodeModule):
    """``y[t] = x[t - k]`` per element (zeros before step 0), ``k`` in whole steps."""

    def __init__(self, node: dict[str, Any]) -> None:
        super().__init__(node)
        steps = torch.as_tensor(node["steps"], dtype=torch.int64)
        self.register_buffer("steps", steps.expand(self.in_shape).reshape(-1), persistent=False)

    def shift(self, x: torch.Tensor) -> torch.Tensor:
        """Delay a whole ``(T, B, *shape)`` signal."""
        t_len, batch = x.shape[0], x.shape[1]
        k = torch.clamp(self.steps.to(x.device), max=t_len)
        flat = x.reshape(t_len, batch, -1)
        kmax = int(k.max()) if k.numel() else 0
        if kmax == 0:
            return x
        padded = torch.cat([flat.new_zeros(kmax, batch, flat.shape[2]), flat], dim=0)
        if bool((k == k[0]).all()):
            k0 = int(k[0])
            return padded[kmax - k0 : kmax - k0 + t_len].reshape(x.shape)
        rows = torch.arange(t_len, device=x.device)[:, None] - k[None, :] + kmax  # (T, n)
        cols = torch.arange(flat.shape[2], device=x.device)
        y = padded[rows, :, cols]  # (T, n, B)
        return y.permute(0, 2, 1).reshape(x.shape)

    def read(self, history: list[torch.Tensor], t: int, zeros: torch.Tensor) -> torch.Tensor:
        """Output at step ``t`` from the inputs of steps ``0..`` kept in ``history``."""
        k = self.steps.to(zeros.device)
        batch = zeros.shape[0]
        if bool((k == k[0]).all()):
            src = t - int(k[0])
            return history[src] if 0 <= src < len(history) else zeros
        out = zeros.reshape(batch, -1).clone()
        for i, ki in enumerate(k.tolist()):
            src = t - ki
            if 0 <= src < len(history):
                out[:, i] = history[src].reshape(batch, -1)[:, i]
        return out.reshape(zeros.shape)


def _phi(z: torch.Tensor) -> torch.Tensor:
    """``expm1(z)/z``, continuous at 0."""
    small = z.abs() < 1e-8
    safe = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, 1.0 + z / 2.0, torch.expm1(safe) / safe)


class Neuron(NodeModule):
    """I, IF, LI, LIF, CubaLI, CubaLIF: ``step`` advances one time step."""

    def __init__(self, node: dict[str, Any]) -> None:
        super().__init__(node)
        self.reset_mode: str = node.get("reset", "zero")
        if self.reset_mode not in RESET_MODES:
            raise ValueError(f"unknown reset mode {self.reset_mode!r} for node {self.path!r}")
        self.spiking = self.type_name in SPIKING
        self.has_current = self.type_name in ("CubaLI", "CubaLIF")
        # neuron variants (nirhub.ir.conventions.NeuronVariant), see docs/simulator.md
        self.multi = node.get("spikes") == "multi"
        self.max_spikes: int | None = node.get("max_spikes")
        self.ge = node.get("threshold") == ">="
        self.staged = node.get("discretization") == "staged"
        if self.multi and self.reset_mode not in ("zero", "subtract"):
            raise ValueError(f"multi-spike with reset {self.reset_mode!r} for node {self.path!r}")
        self.v_min_bound: torch.Tensor | None
        if node.get("v_min") is not None:
            bound = torch.tensor(node["v_min"], dtype=torch.float64)
            self.register_buffer("v_min_bound", bound, persistent=False)
        else:
            self.v_min_bound = None

    def _f64(self, name: str, default: float | None = None) -> torch.Tensor:
        value = self.field(name)
        if value is None:
            return torch.tensor(default, dtype=torch.float64, device=self._device())
        return value.to(torch.float64)

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")  # pragma: no cover - every neuron has parameters

    def coefficients(self, dt: float, method: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """Per-step update coefficients, computed in float64 like the simulator, then cast."""
        t = self.type_name
        co: dict[str, torch.Tensor] = {}
        if t in ("I", "IF"):
            co["g"] = dt * self._f64("r")
        elif t in ("LI", "LIF"):
            ratio = dt / self._f64("tau")
            if method == "euler":
                a, b = 1.0 - ratio, ratio
            else:
                a, b = torch.exp(-ratio), -torch.expm1(-ratio)
            co.update(a=a, g=b * self._f64("r"), c=b * self._f64("v_leak"))
        else:
            tau_syn, tau_mem = self._f64("tau_syn"), self._f64("tau_mem")
            r, v_leak, w_in = self._f64("r"), self._f64("v_leak"), self._f64("w_in", 1.0)
            if method == "euler":
                rs, rm = dt / tau_syn, dt / tau_mem
                co.update(a_s=1.0 - rs, g_s=rs * w_in, a_m=1.0 - rm, g_m=rm * r, c_m=rm * v_leak)
            elif self.staged:  # exact per stage, the membrane sees the updated current
                rs, rm = dt / tau_syn, dt / tau_mem
                b_s, b_m = -torch.expm1(-rs), -torch.expm1(-rm)
                co.update(
                    a_s=torch.exp(-rs),
                    g_s=b_s * w_in,
                    a_m=torch.exp(-rm),
                    g_m=b_m * r,
                    c_m=b_m * v_leak,
                )
            else:
                a_s, a_m = dt / tau_syn, dt / tau_mem
                e_s, e_m = torch.exp(-a_s), torch.exp(-a_m)
                b_s, b_m = -torch.expm1(-a_s), -torch.expm1(-a_m)
                kappa = a_m * e_m * _phi(a_m - a_s)
                co.update(
                    w_in=w_in, e_s=e_s, b_s=b_s, e_m=e_m, c_m=b_m * v_leak, g_m=b_m * r, k=r * kappa
                )
        if self.spiking:
            co["thr"] = self.v_threshold.to(torch.float64)
            v_reset = self.field("v_reset")
            co["v_reset"] = (
                torch.zeros((), dtype=torch.float64, device=self._device())
                if v_reset is None
                else v_reset.to(torch.float64)
            )
        # the differentiable casts: float64 master computation -> compute dtype
        out = {k: v.to(dtype) for k, v in co.items()}
        if self.spiking:  # thresholds and v_reset are cast directly, like the simulator
            out["thr"] = self.v_threshold.to(dtype)
            if self.field("v_reset") is not None:
                out["v_reset"] = self.v_reset.to(dtype)
        return out

    def initial_state(
        self, batch: int, dtype: torch.dtype, device: torch.device
    ) -> dict[str, torch.Tensor]:
        shape = (batch, *self.out_shape)
        v = torch.zeros(shape, dtype=dtype, device=device)
        if self.type_name not in ("I", "IF"):
            v = v + self.v_leak.to(dtype)  # 0 + v_leak is exact
        state = {"v": v}
        if self.has_current:
            state["I"] = torch.zeros(shape, dtype=dtype, device=device)
        if self.reset_mode in ("subtract-delayed", "subtract-guarded"):
            # the reset flag "of step -1": the initial v already above threshold
            thr = self.v_threshold.to(dtype)
            state["pending"] = ((v >= thr) if self.ge else (v > thr)).to(dtype)
        return state

    def rest_output(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.zeros_like(state["v"]) if self.spiking else state["v"]

    def step(
        self,
        x: torch.Tensor,
        state: dict[str, torch.Tensor],
        co: dict[str, torch.Tensor],
        slope: float,
        detach_reset: bool,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """One step: returns (output, new state, spikes or None)."""
        t = self.type_name
        v = state["v"]
        new: dict[str, torch.Tensor] = {}
        if t in ("I", "IF"):
            v = v + co["g"] * x
        elif t in ("LI", "LIF"):
            v = v * co["a"] + (co["g"] * x + co["c"])
        elif "a_s" in co:  # Cuba, Euler: the membrane sees the updated current
            i_syn = state["I"] * co["a_s"] + co["g_s"] * x
            v = v * co["a_m"] + (co["g_m"] * i_syn + co["c_m"])
            new["I"] = i_syn
        else:  # Cuba, exact (zero-order hold), with the current of the previous step
            u = co["w_in"] * x
            drive = co["g_m"] * u + co["c_m"]
            drive = drive + (state["I"] - u) * co["k"]
            v = v * co["e_m"] + drive
            new["I"] = state["I"] * co["e_s"] + co["b_s"] * u
        if not self.spiking:
            new["v"] = v
            return v, new, None
        thr = co["thr"]
        mode = self.reset_mode
        if mode == "subtract-delayed":
            # snnTorch's default: the reset of the previous step's spike, undecayed, now
            v = v - state["pending"] * thr
        elif mode == "subtract-guarded":
            q = state["pending"]
            v = v - q * thr
        s = spike(v - thr, slope, self.ge)
        if self.multi:
            # n = floor(v/thr) spikes where the test passes (at most max_spikes); the
            # surrogate gradient flows through the single-spike test s
            count = torch.where(s.detach() > 0, torch.floor(v.detach() / thr), 0.0 * s.detach())
            if self.max_spikes is not None:
                count = torch.clamp(count, max=float(self.max_spikes))
            s = count + (s - s.detach())
            new["count"] = count
        r = s.detach() if detach_reset else s
        if mode == "zero":
            v = torch.where(r > 0, co["v_reset"], v)
        elif mode == "subtract":
            v = v - r * thr
        elif mode == "subtract-delayed":
            new["pending"] = r
        else:  # subtract-guarded: v - (s - q)*thr, and the flag is v > thr after that
            v = v - (r - q) * thr
            new["pending"] = ((v >= thr) if self.ge else (v > thr)).to(v.dtype)
        if self.v_min_bound is not None:
            v = torch.maximum(v, self.v_min_bound.to(v.dtype))
        new["v"] = v
        return s, new, s


# ---------------------------------------------------------------------------------------------
# inference: the neuron recurrence in place
# ---------------------------------------------------------------------------------------------

#: reset modes the in-place loop runs (the others, and multi-spike neurons, take ``Neuron.step``)
INPLACE_RESETS = frozenset({"zero", "subtract", "subtract-delayed"})


def runs_in_place(mod: Neuron, x: torch.Tensor, state: dict[str, torch.Tensor], co: dict) -> bool:
    """Whether ``run_in_place`` gives ``Neuron.step``'s exact results for this input: no autograd
    needed, a supported variant, and coefficients of ``x``'s dtype that broadcast into the state
    (so updating the state in place changes neither shapes nor the dtype of any operation)."""
    if mod.multi or mod.reset_mode not in INPLACE_RESETS:
        return False
    if torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in mod.parameters())
    ):
        return False
    shape = tuple(x.shape[1:])
    tensors = [*co.values(), *state.values()]
    if mod.v_min_bound is not None:
        tensors.append(mod.v_min_bound)
    for tensor in tensors:
        if tensor.device != x.device or torch.broadcast_shapes(shape, tensor.shape) != shape:
            return False
    return tuple(state["v"].shape) == shape and all(
        t.dtype == x.dtype for t in [*co.values(), *state.values()]
    )


def _arithmetic_reset_exact(
    v: torch.Tensor,
    drive: torch.Tensor | None,
    decay: torch.Tensor | None,
    thr: torch.Tensor,
    v_reset: torch.Tensor,
    v_min: torch.Tensor | None,
) -> bool:
    """Whether the reset to zero can be ``v*(v <= thr) + s*v_reset`` (float masks, several times
    faster than ``torch.where`` with a bool mask) in a window with ``v = v*decay + drive``.

    With a finite threshold and ``v_reset``, both give the same value for every finite ``v``
    and for NaN (``s*v_reset`` is exact, so ``addcmul`` fused or not; it is left out when
    ``v_reset`` is 0), except that a zero ``v`` may lose its sign; they differ only when a
    ``v`` above the threshold is infinite (``inf*0`` is NaN). That cannot happen when the
    decay is >= 0 and ``decay*P + max|drive|`` is finite, ``P`` the largest value ``v`` can
    hold after a reset (the threshold, ``v_reset``, ``v_min`` or ``v`` now): checked here once
    per window; otherwise the reset uses ``torch.where``.
    """
    if drive is None or not drive.numel():
        return False
    if decay is not None and bool((decay < 0).any()):
        return False
    fixed = [thr, v_reset] + ([] if v_min is None else [v_min])
    if not all(bool(torch.isfinite(t).all()) for t in fixed):
        return False  # a NaN threshold or v_reset would turn v*0 + s*v_reset into NaN or 0
    peak = max(0.0, float(v.max()), *(float(t.max()) for t in fixed))  # NaN: not proven
    low, high = torch.aminmax(drive)
    grow = 1.0 if decay is None else float(decay.max())
    bound = grow * peak + max(float(high), -float(low))
    return math.isfinite(bound) and bound < torch.finfo(drive.dtype).max / 4


def _all_equal(tensor: torch.Tensor, value: float) -> bool:
    return bool((tensor == value).all())


class Workspace:
    """Buffers reused from one window to the next (allocating fresh memory for every window
    costs a page fault per 4 KiB on first write). A buffer handed out for a window is only
    valid until the next window asks for the same one: what outlives a window is copied."""

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, str], torch.Tensor] = {}

    def get(self, key: tuple[str, str], like: torch.Tensor) -> torch.Tensor:
        """An uninitialized tensor of ``like``'s shape, dtype and device."""
        buf = self.buffers.get(key)
        steps, shape = like.shape[0], tuple(like.shape)
        if (
            buf is None
            or tuple(buf.shape[1:]) != shape[1:]
            or buf.shape[0] < steps
            or buf.dtype != like.dtype
            or buf.device != like.device
        ):
            buf = self.buffers[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buf[:steps]


def run_in_place(
    mod: Neuron,
    x: torch.Tensor,
    state: dict[str, torch.Tensor],
    co: dict[str, torch.Tensor],
    keep: bool,
    workspace: Workspace | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """All steps of ``x`` ``(T, B, *shape)`` for one neuron node, without autograd.

    Bit-identical to ``T`` calls of ``Neuron.step`` (same operations on the same operands in
    the same order; products and sums only swap their operands, which IEEE arithmetic allows):
    the terms that do not depend on the state (``g*x + c``) are computed for all steps at once,
    then each step only updates the preallocated state in place. A spike is ``v > thr``, which
    is ``v - thr > 0`` in IEEE arithmetic with subnormals (torch's default). Returns the output,
    the state after the last step and, with ``keep``, the recorded variables (time-major);
    with a ``workspace``, these live in its buffers (valid until the node's next window).
    """
    kind = mod.type_name
    t_len = x.shape[0]

    def buffer(name: str, like: torch.Tensor = x) -> torch.Tensor:
        if workspace is None:
            return torch.empty_like(like, memory_format=torch.contiguous_format)
        return workspace.get((mod.path, name), like)

    steps = range(t_len)
    keep_v = keep or not mod.spiking  # a non-spiking neuron outputs v itself
    v = state["v"] if keep_v else state["v"].clone()
    v_out = buffer("v") if keep_v else None
    i_syn = state.get("I")
    i_out: torch.Tensor | None = None
    if i_syn is not None:
        i_out = buffer("I") if keep else None
        i_syn = i_syn if keep else i_syn.clone()
    tmp = buffer("tmp", x[:1])[0] if t_len else None

    def target(buffer: torch.Tensor | None, current: torch.Tensor, i: int) -> torch.Tensor:
        return current if buffer is None else buffer[i]

    # the state-independent drive of v and v's decay, when v follows v*decay + drive
    linear_drive: torch.Tensor | None = None
    decay: torch.Tensor | None = None
    if kind in ("I", "IF"):
        linear_drive = torch.mul(x, co["g"], out=buffer("drive"))
        drive = linear_drive.unbind(0)

        def update(v: torch.Tensor, i: int) -> torch.Tensor:
            return torch.add(v, drive[i], out=target(v_out, v, i))

    elif kind in ("LI", "LIF"):
        if _all_equal(co["g"], 1.0) and _all_equal(co["c"], 0.0):
            # g*x + c with g = 1, c = 0 (r = tau/dt, no leak, e.g. snnTorch's export under
            # Euler): x itself (x*1 is x; x + 0 only turns -0 into +0)
            linear_drive = x
        else:
            linear_drive = torch.mul(x, co["g"], out=buffer("drive")).add_(co["c"])
        drive = linear_drive.unbind(0)
        a = decay = co["a"]

        def update(v: torch.Tensor, i: int) -> torch.Tensor:
            return torch.mul(v, a, out=target(v_out, v, i)).add_(drive[i])

    elif "a_s" in co:  # Cuba, Euler
        syn_drive = torch.mul(x, co["g_s"], out=buffer("drive")).unbind(0)
        a_s, g_m, c_m, a_m = co["a_s"], co["g_m"], co["c_m"], co["a_m"]

        def update(v: torch.Tensor, i: int) -> torch.Tensor:
            nonlocal i_syn
            i_syn = torch.mul(i_syn, a_s, out=target(i_out, i_syn, i)).add_(syn_drive[i])
            torch.mul(i_syn, g_m, out=tmp).add_(c_m)
            return torch.mul(v, a_m, out=target(v_out, v, i)).add_(tmp)

    else:  # Cuba, exact
        u_all = torch.mul(x, co["w_in"], out=buffer("u"))
        u = u_all.unbind(0)
        mem_drive = torch.mul(u_all, co["g_m"], out=buffer("drive")).add_(co["c_m"]).unbind(0)
        syn_drive = torch.mul(u_all, co["b_s"], out=buffer("syn_drive")).unbind(0)
        k, e_m, e_s = co["k"], co["e_m"], co["e_s"]

        def update(v: torch.Tensor, i: int) -> torch.Tensor:
            nonlocal i_syn
            torch.sub(i_syn, u[i], out=tmp).mul_(k).add_(mem_drive[i])
            v = torch.mul(v, e_m, out=target(v_out, v, i)).add_(tmp)
            i_syn = torch.mul(i_syn, e_s, out=target(i_out, i_syn, i)).add_(syn_drive[i])
            return v

    new: dict[str, torch.Tensor] = {}
    rec: dict[str, torch.Tensor] = {}
    if not mod.spiking:
        for i in steps:
            v = update(v, i)
        out = v_out
    else:
        thr, mode = co["thr"], mod.reset_mode
        out = buffer("spikes")  # 0/1 in x's dtype
        spikes = out.unbind(0)
        fires, stays = (torch.ge, torch.lt) if mod.ge else (torch.gt, torch.le)
        v_min = None if mod.v_min_bound is None else mod.v_min_bound.to(x.dtype)
        arithmetic = mode == "zero" and _arithmetic_reset_exact(
            v, linear_drive, decay, thr, co["v_reset"], v_min
        )
        reset_nonzero = arithmetic and bool(co["v_reset"].any())
        fired = torch.empty(x.shape[1:], dtype=torch.bool, device=x.device)
        pending = state.get("pending")
        for i in steps:
            v = update(v, i)
            if mode == "subtract-delayed":
                v.sub_(torch.mul(pending, thr, out=tmp))
            s = fires(v, thr, out=spikes[i])
            if arithmetic:  # v*(v <= thr) + s*v_reset: see _arithmetic_reset_exact
                v.mul_(stays(v, thr, out=tmp))
                if reset_nonzero:
                    v.addcmul_(s, co["v_reset"])
            elif mode == "zero":
                torch.where(fires(v, thr, out=fired), co["v_reset"], v, out=v)
            elif mode == "subtract":
                v.sub_(torch.mul(s, thr, out=tmp))
            else:
                pending = s
            if v_min is not None:
                torch.maximum(v, v_min, out=v)
        if mode == "subtract-delayed":
            new["pending"] = pending.clone()
        if keep:
            rec["spikes"] = out > 0
    new["v"] = v
    if i_syn is not None:
        new["I"] = i_syn
    if keep:
        rec["v"] = v_out
        if i_out is not None:
            rec["I"] = i_out
    return out, new, rec


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


def make_node(node: dict[str, Any]) -> NodeModule:
    t = node["type"]
    if t in NEURONS:
        return Neuron(node)
    if t == "Delay":
        return DelayModule(node)
    return Stateless(node)


class NIRModel(nn.Module):
    """A NIR graph as a ``torch.nn.Module``.

    ``model(x)`` runs ``x`` of shape ``(T, B, *input_shape)`` (or ``(T, *input_shape)`` for
    one sample; a dict ``{input name: tensor}`` for several inputs) from the rest state and
    returns the Output node's signal in the same layout (a dict when the graph has several
    Outputs). ``model.run(inputs, record=[...])`` also returns recorded node states.
    """

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        dtype: torch.dtype | str = torch.float32,
        surrogate_slope: float = 25.0,
        detach_reset: bool = True,
    ) -> None:
        super().__init__()
        if spec.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model specification: {spec.get('format')!r}")
        self.nir_spec = spec
        self.dt: float = float(spec["dt"])
        self.method: str = spec["method"]
        self.compute_dtype = dtype if isinstance(dtype, torch.dtype) else getattr(torch, dtype)
        self.surrogate_slope = float(surrogate_slope)
        self.detach_reset = bool(detach_reset)
        self.keys: dict[str, str] = {p: n["key"] for p, n in spec["nodes"].items()}
        self.nodes = nn.ModuleDict({n["key"]: make_node(n) for n in spec["nodes"].values()})
        self.inputs: list[str] = list(spec["inputs"])
        self.outputs: list[str] = list(spec["outputs"])
        self.preds: dict[str, list[str]] = {p: [] for p in spec["nodes"]}
        for s, d in spec["edges"]:
            self.preds[d].append(s)
        self.units: list[tuple[list[str], bool]] = [
            (list(u["nodes"]), bool(u["cyclic"])) for u in spec["units"]
        ]
        self.back_edges = {(s, d) for s, d in spec["back_edges"]}
        self.breaking = set(spec["breaking"])
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def synaptic_parameters(self) -> list[nn.Parameter]:
        """Weights, biases and scales (Affine, Linear, Conv, Scale): what is usually trained."""
        return [p for m in self.nodes.values() if isinstance(m, Stateless) for p in m.parameters()]

    def neuron_parameters(self) -> list[nn.Parameter]:
        """Time constants (seconds), gains, thresholds, resets of the neuron nodes."""
        return [p for m in self.nodes.values() if isinstance(m, Neuron) for p in m.parameters()]

    def node(self, path: str) -> NodeModule:
        """The module of the node at a dotted path (``"lif1.lif"``)."""
        if path not in self.keys:
            raise KeyError(f"no node {path!r} in this model")
        return self.nodes[self.keys[path]]

    # -- inputs ------------------------------------------------------------------------------
    def _prepare(self, inputs: Any) -> tuple[dict[str, torch.Tensor], bool]:
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise ValueError(
                    f"the graph has {len(self.inputs)} inputs ({', '.join(self.inputs)}); pass "
                    "a dict {name: tensor}"
                )
            inputs = {self.inputs[0]: inputs}
        missing = [n for n in self.inputs if n not in inputs]
        extra = [n for n in inputs if n not in self.inputs]
        if missing or extra:
            raise ValueError(
                f"inputs must be exactly {self.inputs}; missing {missing}, unknown {extra}"
            )
        out, layouts = {}, set()
        for name in self.inputs:
            x = torch.as_tensor(inputs[name])
            shape = self.node(name).out_shape
            if x.dim() == len(shape) + 1 and tuple(x.shape[1:]) == shape:
                x, batched = x.unsqueeze(1), False
            elif x.dim() == len(shape) + 2 and tuple(x.shape[2:]) == shape:
                batched = True
            else:
                raise ValueError(
                    f"input {name!r} has shape {tuple(x.shape)}; expected (T, B, "
                    f"{', '.join(map(str, shape))}) or (T, {', '.join(map(str, shape))})"
                )
            layouts.add((x.shape[0], x.shape[1], batched))
            out[name] = x.to(device=self._anchor.device, dtype=self.compute_dtype)
        if len(layouts) != 1:
            raise ValueError(f"inputs disagree on time steps or batch layout: {layouts}")
        return out, next(iter(layouts))[2]

    # -- execution ---------------------------------------------------------------------------
    def forward(self, inputs: Any) -> torch.Tensor | dict[str, torch.Tensor]:
        outputs, _ = self.run(inputs)
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        return outputs

    def run(
        self, inputs: Any, record: list[str] | tuple[str, ...] = ()
    ) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
        """Outputs by Output name, and recorded signals ``{path: {"spikes"|"v"|"I"|"out": x}}``.

        Spikes are bool; everything is time-major, in the layout of the inputs.
        """
        signals, batched = self._prepare(inputs)
        for path in record:
            if path not in self.keys:
                raise KeyError(f"cannot record {path!r}: no such node")
        first = signals[self.inputs[0]]
        t_len, batch = first.shape[0], first.shape[1]
        dtype, device = self.compute_dtype, first.device
        slope = self.surrogate_slope
        # recorded pieces, each time-major: joined along time at the end
        recorded: dict[str, dict[str, list[torch.Tensor]]] = {p: {} for p in record}

        coeffs: dict[str, dict[str, torch.Tensor]] = {}
        states: dict[str, dict[str, torch.Tensor]] = {}
        for path in self.keys:
            mod = self.node(path)
            if isinstance(mod, Neuron):
                coeffs[path] = mod.coefficients(self.dt, self.method, dtype)
                states[path] = mod.initial_state(batch, dtype, device)
        carry = self._rest_outputs(states, batch, dtype, device, slope)

        chunk = self.chunk_steps(t_len, batch)
        # several windows: the neurons reuse their buffers, what outlives a window is copied
        workspace = Workspace() if chunk < t_len else None
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in self.outputs}
        for start in range(0, max(t_len, 1), chunk):
            window = {name: x[start : start + chunk] for name, x in signals.items()}
            pieces: dict[str, dict[str, list[torch.Tensor]]] = {p: {} for p in record}
            sig = self._run_window(window, states, coeffs, carry, pieces, workspace)
            for name in self.outputs:
                parts[name].append(sig[name] if workspace is None else sig[name].clone())
            for path, variables in pieces.items():
                for var, xs in variables.items():
                    kept = xs if workspace is None else [x.clone() for x in xs]
                    recorded[path].setdefault(var, []).extend(kept)

        def layout(x: torch.Tensor) -> torch.Tensor:
            return x if batched else x[:, 0]

        def joined(xs: list[torch.Tensor]) -> torch.Tensor:
            return xs[0] if len(xs) == 1 else torch.cat(xs)

        outputs = {name: layout(joined(parts[name])) for name in self.outputs}
        rec: dict[str, dict[str, torch.Tensor]] = {}
        for path, variables in recorded.items():
            rec[path] = {}
            for var, pieces in variables.items():
                value = joined(pieces)
                rec[path][var] = layout(value.bool() if var == "spikes" else value)
        return outputs, rec

    #: elements of the largest signal of one window (steps x batch x node size): the windows
    #: of a feed-forward graph stay small enough for the cache, each op still large
    WINDOW_ELEMENTS = 1 << 20

    def chunk_steps(self, t_len: int, batch: int) -> int:
        """Steps per window. A graph without cycles and delays runs window by window (every
        stateless node over all steps of the window at once as one batched op, the neurons
        carrying their state from one window to the next); with cycles or delays, one window."""
        if any(cyclic for _, cyclic in self.units) or any(
            isinstance(m, DelayModule) for m in self.nodes.values()
        ):
            return max(t_len, 1)
        widest = max(
            max(math.prod(m.in_shape), math.prod(m.out_shape)) for m in self.nodes.values()
        )
        return max(1, min(t_len, self.WINDOW_ELEMENTS // max(1, batch * widest)))

    def _run_window(
        self,
        signals: dict[str, torch.Tensor],
        states: dict[str, dict[str, torch.Tensor]],
        coeffs: dict[str, dict[str, torch.Tensor]],
        carry: dict[str, torch.Tensor],
        recorded: dict[str, dict[str, list[torch.Tensor]]],
        workspace: Workspace | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every node's signal over the steps of ``signals`` (time-major), states carried on."""
        first = signals[self.inputs[0]]
        t_len, batch = first.shape[0], first.shape[1]
        dtype, device = self.compute_dtype, first.device
        slope = self.surrogate_slope
        sig: dict[str, torch.Tensor] = {}
        for nodes, cyclic in self.units:
            if cyclic:
                self._run_cyclic(nodes, sig, carry, states, coeffs, t_len, batch, recorded)
                continue
            path = nodes[0]
            mod = self.node(path)
            if path in signals:
                y = signals[path]
            else:
                preds = self.preds[path]
                if preds:
                    x = sig[preds[0]]
                    for s in preds[1:]:
                        x = x + sig[s]
                else:
                    x = torch.zeros((t_len, batch, *mod.in_shape), dtype=dtype, device=device)
                if isinstance(mod, Neuron):
                    y = self._run_neuron(path, mod, x, states, coeffs, recorded, workspace)
                elif isinstance(mod, DelayModule):
                    y = mod.shift(x)
                else:
                    flat = x.reshape(t_len * batch, *mod.in_shape)
                    y = mod.apply(flat, slope).reshape(t_len, batch, *mod.out_shape)
            sig[path] = y
            if path in recorded and not isinstance(mod, Neuron):
                recorded[path].setdefault("out", []).append(y)
        return sig

    def _rest_outputs(
        self,
        states: dict[str, dict[str, torch.Tensor]],
        batch: int,
        dtype: torch.dtype,
        device: torch.device,
        slope: float,
    ) -> dict[str, torch.Tensor]:
        """Every node's output at step -1 (the network at rest); back-edges read it at step 0."""
        rest: dict[str, torch.Tensor] = {}
        for nodes, _ in self.units:
            for p in nodes:
                mod = self.node(p)
                if isinstance(mod, Neuron):
                    rest[p] = mod.rest_output(states[p])
                elif isinstance(mod, DelayModule) or p in self.inputs:
                    rest[p] = torch.zeros((batch, *mod.out_shape), dtype=dtype, device=device)
                else:
                    total = torch.zeros((batch, *mod.in_shape), dtype=dtype, device=device)
                    for s in self.preds[p]:
                        if s in rest and (s, p) not in self.back_edges:
                            total = total + rest[s]
                    rest[p] = mod.apply(total, slope).reshape(batch, *mod.out_shape)
        return {s: rest[s] for s, _ in self.back_edges}

    def _record_state(
        self,
        recorded: dict[str, dict[str, list[torch.Tensor]]],
        path: str,
        state: dict[str, torch.Tensor],
        spikes: torch.Tensor | None,
    ) -> None:
        """Record one step (the pieces are time-major: each step adds a time axis of 1)."""
        if path not in recorded:
            return
        rec = recorded[path]
        if spikes is not None:
            rec.setdefault("spikes", []).append((spikes > 0).unsqueeze(0))
        for var in ("v", "I", "count"):
            if var in state:
                rec.setdefault(var, []).append(state[var].unsqueeze(0))

    def _run_neuron(
        self,
        path: str,
        mod: Neuron,
        x: torch.Tensor,
        states: dict[str, dict[str, torch.Tensor]],
        coeffs: dict[str, dict[str, torch.Tensor]],
        recorded: dict[str, dict[str, list[torch.Tensor]]],
        workspace: Workspace | None = None,
    ) -> torch.Tensor:
        co, state = coeffs[path], states[path]
        if runs_in_place(mod, x, state, co):
            keep = path in recorded
            y, states[path], rec = run_in_place(mod, x, state, co, keep, workspace)
            for var, value in rec.items():
                recorded[path].setdefault(var, []).append(value)
            return y
        outs = []
        for i in range(x.shape[0]):
            y, state, s = mod.step(x[i], state, co, self.surrogate_slope, self.detach_reset)
            outs.append(y)
            self._record_state(recorded, path, state, s)
        states[path] = state
        return torch.stack(outs)

    def _run_cyclic(
        self,
        nodes: list[str],
        sig: dict[str, torch.Tensor],
        carry: dict[str, torch.Tensor],
        states: dict[str, dict[str, torch.Tensor]],
        coeffs: dict[str, dict[str, torch.Tensor]],
        t_len: int,
        batch: int,
        recorded: dict[str, dict[str, list[torch.Tensor]]],
    ) -> None:
        steps: dict[str, list[torch.Tensor]] = {p: [] for p in nodes}
        history: dict[str, list[torch.Tensor]] = {
            p: [] for p in nodes if isinstance(self.node(p), DelayModule)
        }
        dtype, device = self.compute_dtype, self._anchor.device
        slope = self.surrogate_slope

        def step_input(p: str, i: int) -> torch.Tensor:
            total = None
            for s in self.preds[p]:
                if (s, p) in self.back_edges:
                    value = steps[s][i - 1] if i > 0 else carry[s]
                elif s in steps:
                    value = steps[s][i]
                else:
                    value = sig[s][i]
                total = value if total is None else total + value
            if total is None:
                mod = self.node(p)
                return torch.zeros((batch, *mod.in_shape), dtype=dtype, device=device)
            return total

        for i in range(t_len):
            for p in nodes:
                mod = self.node(p)
                if p in self.breaking:
                    zeros = torch.zeros((batch, *mod.out_shape), dtype=dtype, device=device)
                    steps[p].append(mod.read(history[p], i, zeros))
                    continue
                x = step_input(p, i)
                if isinstance(mod, Neuron):
                    y, states[p], s = mod.step(x, states[p], coeffs[p], slope, self.detach_reset)
                    self._record_state(recorded, p, states[p], s)
                elif isinstance(mod, DelayModule):
                    history[p].append(x)
                    zeros = torch.zeros_like(x)
                    y = mod.read(history[p], i, zeros)
                else:
                    y = mod.apply(x, slope).reshape(batch, *mod.out_shape)
                steps[p].append(y)
            for p in nodes:
                if p in self.breaking:
                    history[p].append(step_input(p, i))
        for p in nodes:
            sig[p] = torch.stack(steps[p])
            if p in recorded and not isinstance(self.node(p), Neuron):
                recorded[p].setdefault("out", []).append(sig[p])


def describe(model: NIRModel) -> str:
    """One line per node: path, type and shapes (for printing)."""
    lines = []
    for path, key in model.keys.items():
        mod = model.nodes[key]
        lines.append(
            f"{path:30s} {mod.type_name:10s} {list(mod.in_shape)} -> {list(mod.out_shape)}"
        )
    return "\n".join(lines)


def count_parameters(model: nn.Module) -> int:
    return int(sum(math.prod(p.shape) for p in model.parameters()))
