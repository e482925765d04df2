"""Spyx/Flax NNX modules for NIR graphs.

This module depends on numpy, jax, flax and spyx only: its source is copied verbatim into
every generated model module (``nirhub convert --to spyx``), so a saved model runs without
nirhub. Keep it self-contained.

Every stateful module follows Spyx's layer contract (``initial_state(batch_size)`` and
``__call__(x, state) -> (out, state)``), so :func:`spyx.nn.run` scans a model over time.
Tensors use NIR's layout, channels first: ``(batch, C, H, W)``; convolutions transpose to
Flax's channels-last layout internally.

The neurons implement NIR's ODEs discretised as nirhub's reference simulator does
(``method="euler"`` or ``"exact"``) and fire in the step whose voltage crosses the threshold,
unlike Spyx's own neurons, which decide from the previous step's voltage (one step later).
Spikes go through Spyx's surrogate activation, so the model trains with gradients.
"""

import jax
import jax.numpy as jnp
import numpy as np
import spyx
from flax import nnx

RESETS = ("zero", "subtract", "subtract-delayed", "subtract-guarded")


def _spike():
    return spyx.axn.superspike()


def _param(value, dtype):
    return nnx.Param(jnp.asarray(value, dtype=dtype))


def _buffer(value, dtype):
    return nnx.Variable(jnp.asarray(value, dtype=dtype))


def _phi(z):
    """``expm1(z)/z``, continuous at 0."""
    small = jnp.abs(z) < 1e-8
    safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2.0, jnp.expm1(safe) / safe)


def _leak(tau, dt, method):
    """``(a, b)`` of ``v <- a*v + b*(gain*x + rest)``: Euler or exact (zero-order hold)."""
    ratio = dt / tau
    if method == "euler":
        return 1.0 - ratio, ratio
    return jnp.exp(-ratio), -jnp.expm1(-ratio)


class _Spiking(nnx.Module):
    """Spike test (``v > v_threshold``) and the reset variants of nirhub's simulator."""

    def _init_spiking(self, v_threshold, v_reset, reset, activation, dtype):
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self.v_threshold = _param(v_threshold, dtype)
        self.v_reset = _buffer(0.0 if v_reset is None else v_reset, dtype)
        self.v_reset_given = v_reset is not None
        self.reset = reset
        self.spike = activation if activation is not None else _spike()

    def _fire(self, v, p):
        thr = self.v_threshold[...]
        if self.reset == "zero":
            s = self.spike(v - thr)
            return s, jnp.where(s > 0, jnp.broadcast_to(self.v_reset[...], v.shape), v), p
        if self.reset == "subtract":
            s = self.spike(v - thr)
            return s, jnp.where(s > 0, v - thr, v), p
        if self.reset == "subtract-delayed":  # snnTorch's default: one step late, undecayed
            v = jnp.where(p > 0, v - thr, v)
            s = self.spike(v - thr)
            return s, v, s
        q = p  # "subtract-guarded": snnTorch subtract with reset_delay=False
        v = jnp.where(q > 0, v - thr, v)
        s = self.spike(v - thr)
        v = jnp.where((s > 0) & (q <= 0), v - thr, v)
        v = jnp.where((q > 0) & (s <= 0), v + thr, v)
        return s, v, (v > thr).astype(v.dtype)

    def _flag(self, v):
        return (v > self.v_threshold[...]).astype(v.dtype)


class LIF(_Spiking):
    """NIR LIF: ``tau dv/dt = v_leak - v + r x``; spike when ``v > v_threshold``."""

    def __init__(
        self,
        tau,
        r,
        v_leak,
        v_threshold,
        v_reset=None,
        *,
        dt,
        method="euler",
        reset="zero",
        activation=None,
        dtype=jnp.float32,
    ):
        self.tau = _param(tau, dtype)
        self.r = _param(r, dtype)
        self.v_leak = _param(v_leak, dtype)
        self.dt = float(dt)
        self.method = method
        self.shape = tuple(jnp.broadcast_shapes(jnp.shape(tau), jnp.shape(v_threshold)))
        self._init_spiking(v_threshold, v_reset, reset, activation, dtype)

    def initial_state(self, batch_size):
        v = jnp.broadcast_to(self.v_leak[...], (batch_size, *self.shape))
        return {"v": v, "p": self._flag(v)}

    def __call__(self, x, state):
        a, b = _leak(self.tau[...], self.dt, self.method)
        v = a * state["v"] + (b * self.r[...] * x + b * self.v_leak[...])
        s, v, p = self._fire(v, state["p"])
        return s, {"v": v, "p": p}


class IF(_Spiking):
    """NIR IF: ``dv/dt = r x``; spike when ``v > v_threshold``."""

    def __init__(
        self, r, v_threshold, v_reset=None, *, dt, reset="zero", activation=None, dtype=jnp.float32
    ):
        self.r = _param(r, dtype)
        self.dt = float(dt)
        self.shape = tuple(jnp.broadcast_shapes(jnp.shape(r), jnp.shape(v_threshold)))
        self._init_spiking(v_threshold, v_reset, reset, activation, dtype)

    def initial_state(self, batch_size):
        v = jnp.zeros((batch_size, *self.shape), dtype=self.r[...].dtype)
        return {"v": v, "p": self._flag(v)}

    def __call__(self, x, state):
        v = state["v"] + (self.dt * self.r[...]) * x
        s, v, p = self._fire(v, state["p"])
        return s, {"v": v, "p": p}


class CubaLIF(_Spiking):
    """NIR CubaLIF: a synaptic current ``tau_syn dI/dt = -I + w_in x`` drives a LIF."""

    def __init__(
        self,
        tau_syn,
        tau_mem,
        r,
        v_leak,
        v_threshold,
        v_reset=None,
        w_in=1.0,
        *,
        dt,
        method="euler",
        reset="zero",
        activation=None,
        dtype=jnp.float32,
    ):
        self.tau_syn = _param(tau_syn, dtype)
        self.tau_mem = _param(tau_mem, dtype)
        self.r = _param(r, dtype)
        self.v_leak = _param(v_leak, dtype)
        self.w_in = _param(w_in, dtype)
        self.dt = float(dt)
        self.method = method
        self.shape = tuple(jnp.broadcast_shapes(jnp.shape(tau_mem), jnp.shape(v_threshold)))
        self._init_spiking(v_threshold, v_reset, reset, activation, dtype)

    def initial_state(self, batch_size):
        v = jnp.broadcast_to(self.v_leak[...], (batch_size, *self.shape))
        return {"v": v, "i": jnp.zeros_like(v), "p": self._flag(v)}

    def __call__(self, x, state):
        v, i = _cuba_step(self, x, state["v"], state["i"])
        s, v, p = self._fire(v, state["p"])
        return s, {"v": v, "i": i, "p": p}


def _cuba_step(m, x, v, i):
    dt = m.dt
    if m.method == "euler":
        g_s = (dt / m.tau_syn[...]) * m.w_in[...]
        i = (1.0 - dt / m.tau_syn[...]) * i + g_s * x
        b_m = dt / m.tau_mem[...]
        v = (1.0 - b_m) * v + (b_m * m.r[...] * i + b_m * m.v_leak[...])
        return v, i
    a_s, a_m = dt / m.tau_syn[...], dt / m.tau_mem[...]
    e_s, e_m = jnp.exp(-a_s), jnp.exp(-a_m)
    b_s, b_m = -jnp.expm1(-a_s), -jnp.expm1(-a_m)
    k = m.r[...] * (a_m * e_m * _phi(a_m - a_s))
    u = m.w_in[...] * x
    v = e_m * v + ((b_m * m.r[...] * u + b_m * m.v_leak[...]) + k * (i - u))
    i = e_s * i + b_s * u
    return v, i


class LI(nnx.Module):
    """NIR LI (non-spiking): outputs the membrane potential."""

    def __init__(self, tau, r, v_leak, *, dt, method="euler", dtype=jnp.float32):
        self.tau = _param(tau, dtype)
        self.r = _param(r, dtype)
        self.v_leak = _param(v_leak, dtype)
        self.dt = float(dt)
        self.method = method
        self.shape = tuple(jnp.shape(tau))

    def initial_state(self, batch_size):
        return {"v": jnp.broadcast_to(self.v_leak[...], (batch_size, *self.shape))}

    def __call__(self, x, state):
        a, b = _leak(self.tau[...], self.dt, self.method)
        v = a * state["v"] + (b * self.r[...] * x + b * self.v_leak[...])
        return v, {"v": v}


class CubaLI(nnx.Module):
    """NIR CubaLI (non-spiking): outputs the membrane potential."""

    def __init__(
        self, tau_syn, tau_mem, r, v_leak, w_in=1.0, *, dt, method="euler", dtype=jnp.float32
    ):
        self.tau_syn = _param(tau_syn, dtype)
        self.tau_mem = _param(tau_mem, dtype)
        self.r = _param(r, dtype)
        self.v_leak = _param(v_leak, dtype)
        self.w_in = _param(w_in, dtype)
        self.dt = float(dt)
        self.method = method
        self.shape = tuple(jnp.shape(tau_mem))

    def initial_state(self, batch_size):
        v = jnp.broadcast_to(self.v_leak[...], (batch_size, *self.shape))
        return {"v": v, "i": jnp.zeros_like(v)}

    def __call__(self, x, state):
        v, i = _cuba_step(self, x, state["v"], state["i"])
        return v, {"v": v, "i": i}


class I(nnx.Module):  # noqa: E742 - the NIR name
    """NIR I (integrator, non-spiking): ``dv/dt = r x``; outputs v."""

    def __init__(self, r, *, dt, dtype=jnp.float32):
        self.r = _param(r, dtype)
        self.dt = float(dt)
        self.shape = tuple(jnp.shape(r))

    def initial_state(self, batch_size):
        return {"v": jnp.zeros((batch_size, *self.shape), dtype=self.r[...].dtype)}

    def __call__(self, x, state):
        v = state["v"] + (self.dt * self.r[...]) * x
        return v, {"v": v}


class Delay(nnx.Module):
    """NIR Delay: ``y[t] = x[t - steps]`` element-wise (zeros before the start)."""

    def __init__(self, steps, shape, dtype=jnp.float32):
        steps = np.broadcast_to(np.asarray(steps, dtype=np.int64), shape)
        self.shape = tuple(shape)
        self.depth = int(steps.max()) if steps.size else 0
        self.steps = nnx.Variable(jnp.asarray(steps))
        self.dtype = dtype

    def initial_state(self, batch_size):
        return {"buffer": jnp.zeros((max(self.depth, 1), batch_size, *self.shape), self.dtype)}

    def read(self, state, x=None):
        """The output of this step; ``x`` (this step's input) is needed for 0-step elements."""
        buf = state["buffer"]  # buf[-1] is the input of the previous step
        idx = jnp.clip(buf.shape[0] - self.steps[...], 0, buf.shape[0] - 1).astype(jnp.int32)
        idx = jnp.broadcast_to(idx[None, None], (1, *buf.shape[1:]))
        out = jnp.take_along_axis(buf, idx, axis=0)[0]
        if x is not None:
            out = jnp.where(self.steps[...] == 0, x, out)
        return out

    def push(self, state, x):
        buf = state["buffer"]
        return {"buffer": jnp.concatenate([buf[1:], x[None].astype(buf.dtype)], axis=0)}


def _given(value):
    """A Flax initializer returning ``value`` (no random numbers, nothing to compile)."""

    def init(key, shape, dtype=jnp.float32):
        return jnp.asarray(value, dtype).reshape(shape)

    return init


def dense(weight, bias=None, dtype=jnp.float32):
    """``flax.nnx.Linear`` holding a NIR weight ``(out, in)`` (Flax stores ``(in, out)``)."""
    weight = np.asarray(weight)
    return nnx.Linear(
        int(weight.shape[1]),
        int(weight.shape[0]),
        use_bias=bias is not None,
        dtype=dtype,
        param_dtype=dtype,
        kernel_init=_given(weight.T),
        bias_init=_given(0.0 if bias is None else bias),
        rngs=nnx.Rngs(0),
    )


class Scale(nnx.Module):
    """NIR Scale: ``y = s * x``."""

    def __init__(self, scale, dtype=jnp.float32):
        self.scale = _param(scale, dtype)

    def __call__(self, x):
        return x * self.scale[...]


class Threshold(nnx.Module):
    """NIR Threshold: ``1`` where ``x > threshold`` (through Spyx's surrogate)."""

    def __init__(self, threshold, activation=None, dtype=jnp.float32):
        self.threshold = _param(threshold, dtype)
        self.spike = activation if activation is not None else _spike()

    def __call__(self, x):
        return self.spike(x - self.threshold[...])


class Affine(nnx.Module):
    """NIR Affine/Linear with leading dimensions: ``y[..., o] = sum_i W[..., o, i] x[..., i]``."""

    def __init__(self, weight, bias=None, dtype=jnp.float32):
        self.weight = _param(weight, dtype)
        self.bias = None if bias is None else _param(bias, dtype)

    def __call__(self, x):
        y = jnp.einsum("...oi,b...i->b...o", self.weight[...], x)
        return y if self.bias is None else y + self.bias[...]


class Conv(nnx.Module):
    """NIR Conv1d/Conv2d (PyTorch semantics, channels first) around ``flax.nnx.Conv``."""

    def __init__(self, weight, bias, stride, padding, dilation, groups, dtype=jnp.float32):
        """``padding``: NIR's (int per dim or "same"/"valid"), applied as PyTorch does."""
        weight = np.asarray(weight)
        nd = weight.ndim - 2
        self.nd = nd
        self.nir_padding = padding if isinstance(padding, str) else tuple(int(p) for p in padding)
        if padding == "same":  # PyTorch: d*(k-1) in total, the odd cell at the end
            totals = [
                int(d) * (int(k) - 1) for d, k in zip(dilation, weight.shape[2:], strict=True)
            ]
            padding = [(t // 2, t - t // 2) for t in totals]
        elif padding == "valid":
            padding = [(0, 0)] * nd
        else:
            padding = [(int(p), int(p)) for p in padding]
        self.conv = nnx.Conv(
            int(weight.shape[1]) * int(groups),
            int(weight.shape[0]),
            tuple(int(k) for k in weight.shape[2:]),
            tuple(int(s) for s in stride),
            padding=padding,
            kernel_dilation=tuple(int(d) for d in dilation),
            feature_group_count=int(groups),
            use_bias=bias is not None,
            dtype=dtype,
            param_dtype=dtype,
            # (C_out, C_in/g, *k) -> (*k, C_in/g, C_out)
            kernel_init=_given(np.moveaxis(weight, (0, 1), (-1, -2))),
            bias_init=_given(0.0 if bias is None else bias),
            rngs=nnx.Rngs(0),
        )

    def __call__(self, x):
        y = self.conv(jnp.moveaxis(x, 1, -1))
        return jnp.moveaxis(y, -1, 1)


class Pool(nnx.Module):
    """NIR SumPool2d / AvgPool2d (padded cells count in the average), channels first."""

    def __init__(self, kernel_size, stride, padding, average=False):
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.stride = tuple(int(s) for s in stride)
        self.padding = tuple(int(p) for p in padding)
        self.average = bool(average)

    def __call__(self, x):
        if not any(self.padding) and not self.average:  # Spyx's own sum pooling
            y = spyx.nn.sum_pool(jnp.moveaxis(x, 1, -1), self.kernel_size, self.stride, "VALID")
            return jnp.moveaxis(y, -1, 1)
        pads = ((0, 0), (0, 0)) + tuple((p, p) for p in self.padding)
        y = jax.lax.reduce_window(
            x,
            jnp.zeros((), x.dtype),
            jax.lax.add,
            (1, 1, *self.kernel_size),
            (1, 1, *self.stride),
            pads,
        )
        if self.average:
            y = y / (self.kernel_size[0] * self.kernel_size[1])
        return y


class Flatten(nnx.Module):
    """NIR Flatten: merge dims ``start_dim..end_dim`` of the (batch-less) NIR shape."""

    def __init__(self, out_shape):
        self.out_shape = tuple(int(s) for s in out_shape)

    def __call__(self, x):
        return x.reshape(x.shape[0], *self.out_shape)


class GraphModel(nnx.Module):
    """A NIR graph as one Spyx-style stateful module.

    ``layers`` maps node names to modules (``None`` for identities: graph ports, relays).
    Each step runs the nodes in ``order``; a node's input is the sum of its predecessors'
    outputs of this step, except over ``back_edges``, which read the previous step (the rest
    output at step 0), and into ``breaking`` Delay nodes, which are fed at the end of the step.
    Input and output are single arrays for one-input/one-output graphs, else dicts by name.
    """

    def __init__(
        self,
        layers,
        edges,
        order,
        back_edges,
        breaking,
        inputs,
        outputs,
        shapes,
        in_shapes,
        *,
        dt,
        method="euler",
        record=(),
        dtype=jnp.float32,
    ):
        self.layers = nnx.Dict({k: v for k, v in layers.items() if v is not None})
        self.names = list(layers)
        self.order = list(order)
        self.back = {tuple(e) for e in back_edges}
        self.breaking = set(breaking)
        self.preds = {n: [] for n in layers}
        for s, d in edges:
            self.preds[d].append(s)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.shapes = {k: tuple(v) for k, v in shapes.items()}
        self.in_shapes = {k: tuple(v) for k, v in in_shapes.items()}
        self.dt = float(dt)
        self.method = method
        self.record = tuple(record)
        self.dtype = dtype
        self.carried = sorted({s for s, _ in self.back})

    def _layer(self, name):
        return self.layers[name] if name in self.layers else None

    def _stateful(self, name):
        return hasattr(self._layer(name), "initial_state")

    def initial_state(self, batch_size):
        state = {
            n: self._layer(n).initial_state(batch_size) for n in self.names if self._stateful(n)
        }
        state["carry"] = self._rest(batch_size)
        return state

    def _rest(self, batch_size):
        """Every back-edge source's output at rest (the network before step 0)."""
        rest = {}
        for n in self.order:
            shape = (batch_size, *self.shapes[n])
            layer = self._layer(n)
            if n in self.inputs or isinstance(layer, Delay) or isinstance(layer, _Spiking):
                rest[n] = jnp.zeros(shape, self.dtype)
            elif self._stateful(n):
                rest[n] = jnp.broadcast_to(layer.initial_state(batch_size)["v"], shape)
            else:
                total = None
                for s in self.preds[n]:
                    if (s, n) not in self.back and s in rest:
                        total = rest[s] if total is None else total + rest[s]
                if total is None:
                    total = jnp.zeros((batch_size, *self.in_shapes[n]), self.dtype)
                rest[n] = total if layer is None else layer(total)
        return {s: rest[s] for s in self.carried}

    def _input(self, name, out, state, batch_size):
        total = None
        for s in self.preds[name]:
            value = state["carry"][s] if (s, name) in self.back else out[s]
            total = value if total is None else total + value
        if total is None:
            total = jnp.zeros((batch_size, *self.in_shapes[name]), self.dtype)
        return total

    def __call__(self, x, state):
        if not isinstance(x, dict):
            x = {self.inputs[0]: x}
        batch_size = next(iter(x.values())).shape[0]
        out, new = {}, {}
        for n in self.breaking:  # their output depends only on earlier steps
            out[n] = self._layer(n).read(state[n])
        for n in self.order:
            if n in self.breaking:
                continue
            if n in self.inputs:
                out[n] = jnp.asarray(x[n], self.dtype)
                continue
            layer = self._layer(n)
            xin = self._input(n, out, state, batch_size)
            if layer is None:
                out[n] = xin
            elif isinstance(layer, Delay):
                out[n] = layer.read(state[n], xin)
                new[n] = layer.push(state[n], xin)
            elif self._stateful(n):
                out[n], new[n] = layer(xin, state[n])
            else:
                out[n] = layer(xin)
        for n in self.breaking:
            new[n] = self._layer(n).push(state[n], self._input(n, out, state, batch_size))
        new["carry"] = {s: out[s] for s in self.carried}
        y = out[self.outputs[0]] if len(self.outputs) == 1 else {k: out[k] for k in self.outputs}
        if self.record:
            y = (y, {k: _recorded(self._layer(k), out[k], new.get(k)) for k in self.record})
        return y, new


def _recorded(layer, output, state):
    if isinstance(layer, _Spiking):
        rec = {"spikes": output, "v": state["v"]}
        if "i" in state:
            rec["I"] = state["i"]
        return rec
    if state is not None and "v" in state and not isinstance(layer, Delay):
        rec = {"v": state["v"]}
        if "i" in state:
            rec["I"] = state["i"]
        return rec
    return {"out": output}


def run(model, x, state=None):
    """Scan ``model`` over time-major ``x`` (``(T, B, ...)`` or a dict of them)."""
    if state is None:
        first = x if not isinstance(x, dict) else next(iter(x.values()))
        state = model.initial_state(first.shape[1])

    def step(carry, x_t):
        y, carry = model(x_t, carry)
        return carry, y

    final, ys = jax.lax.scan(step, state, x)
    return ys, final


__all__ = [
    "LIF",
    "IF",
    "CubaLIF",
    "LI",
    "CubaLI",
    "I",
    "Delay",
    "Scale",
    "Threshold",
    "Affine",
    "Conv",
    "Pool",
    "Flatten",
    "GraphModel",
    "dense",
    "run",
]
