"""Stateful neuron populations (I, IF, LI, LIF, CubaLI, CubaLIF), vectorised over batch and neurons.

One object per neuron node. ``step`` advances one time step; ``run`` advances a chunk of steps
whose input is already known (nodes outside a recurrent loop) and shares ``step``'s arithmetic
exactly, so chunked and step-by-step execution give identical numbers.

Per step ``t`` with input ``x[t]`` (the sum of all incoming edges):

1. the state is advanced with the input of step ``t`` (``nirhub.sim.discretize``);
2. spiking nodes emit ``s[t] = v > v_threshold`` (strict), a spike being the value 1 for this one
   step;
3. spiking nodes reset where ``s[t]``: to ``v_reset`` (0 when absent) or by subtracting
   ``v_threshold`` once; or by one of snnTorch's two subtraction variants
   (``"subtract-delayed"``, ``"subtract-guarded"``, see :meth:`Population._fire`), which
   exported snnTorch models need to be reproduced spike for spike.

A node's recorded *variant* (:class:`nirhub.ir.conventions.NeuronVariant`) changes steps 2-3:
the test ``v >= v_threshold``; multi-spike output ``n = floor(v/thr)`` where the test passes
(at most ``max_spikes``), subtract reset ``v -= n*thr``; a lower bound ``v = max(v, v_min)``
after the reset; and for CubaLI/CubaLIF under the exact method the *staged* zero-order hold
(current first, then the membrane driven by the new current, each stage exact).

Recorded ``v`` is the membrane potential at the end of the step, after the reset; ``I`` the
synaptic current at the end of the step. The initial state is ``v = v_leak`` (rest; 0 for I/IF)
and ``I = 0``.
"""

from __future__ import annotations

import copy

import numpy as np

from nirhub.errors import IRError
from nirhub.ir.conventions import NeuronVariant
from nirhub.ir.nodes import IF, LI, LIF, CubaLI, CubaLIF, I, Node
from nirhub.ir.params import Shape
from nirhub.sim.discretize import cuba_exact, leak

#: same-size integer types of the float types (bitwise operations on the values' bits)
_INT = {np.dtype(np.float32): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.int64)}
_UINT = {np.dtype(np.float32): np.dtype(np.uint32), np.dtype(np.float64): np.dtype(np.uint64)}

#: state variables each type can record, in the order they are reported
RECORDABLE: dict[str, tuple[str, ...]] = {
    "I": ("v",),
    "IF": ("spikes", "v"),
    "LI": ("v",),
    "LIF": ("spikes", "v"),
    "CubaLI": ("v", "I"),
    "CubaLIF": ("spikes", "v", "I"),
}


class Population:
    """Base class: state ``v`` (and ``I``), spike/reset logic and recording."""

    spiking: bool = False
    has_current: bool = False

    def __init__(
        self,
        node: Node,
        shape: Shape,
        batch: int,
        dtype: np.dtype,
        reset: str,
        steps: int,
        record: bool,
        variant: NeuronVariant | None = None,
        name: str | None = None,
    ) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.reset = reset
        variant = variant or NeuronVariant()
        self.variant = variant
        self.multi = variant.spikes == "multi"
        self.max_spikes = variant.max_spikes
        self._test = np.greater_equal if variant.threshold == ">=" else np.greater
        self.v_min: np.ndarray | None = None
        if self.multi and reset not in ("zero", "subtract"):
            raise IRError(
                f"{name}: multi-spike output combines with reset 'zero' or 'subtract' only, "
                f"not {reset!r}",
                node=name,
            )
        full = (batch, *self.shape)
        self.v = np.zeros(full, dtype=dtype)
        self.i_syn = np.zeros(full, dtype=dtype) if self.has_current else None
        if self.spiking:
            thr = np.broadcast_to(np.asarray(node.v_threshold, dtype=dtype), self.shape)
            self.thr = np.ascontiguousarray(thr)
            v_reset = getattr(node, "v_reset", None)
            vr = np.zeros((), dtype=dtype) if v_reset is None else np.asarray(v_reset, dtype=dtype)
            self.v_reset = np.ascontiguousarray(np.broadcast_to(vr, self.shape))
            self._spk = np.zeros(full, dtype=bool)
            # reset to +0.0 (every v_reset bit 0: absent, or 0 in the file) as a bitwise AND
            # with an integer mask: np.copyto(where=) branches per element and costs ~3x more
            # with sparse spikes (measured); the same bits result
            self._zero_mask: np.ndarray | None = None
            if reset == "zero" and not self.multi and not self.v_reset.view(_UINT[dtype]).any():
                self._zero_mask = np.zeros(full, dtype=_INT[dtype])
            # per-neuron flag carried between steps by the subtraction variants; set from the
            # initial membrane value by init_flags() once the subclass has initialised v
            self._flag = np.zeros(full, dtype=bool) if reset.startswith("subtract-") else None
            self._count = np.zeros(full, dtype=dtype) if self.multi else None
            if variant.v_min is not None:
                try:
                    lo = np.broadcast_to(np.asarray(variant.v_min, dtype=dtype), self.shape)
                except ValueError:
                    raise IRError(
                        f"{name}: metadata nirhub.v_min of shape {variant.v_min.shape} does "
                        f"not broadcast to the population shape {self.shape}",
                        node=name,
                    ) from None
                self.v_min = np.ascontiguousarray(lo)
        self.rec: dict[str, np.ndarray] = {}
        if record:
            names = RECORDABLE[node.type_name] + (("count",) if self.multi else ())
            for var in names:
                self.rec[var] = np.zeros((steps, *full), dtype=bool if var == "spikes" else dtype)

    def batch_part(self, lo: int, hi: int) -> Population:
        """This population restricted to samples ``lo:hi`` of the batch.

        The part shares the parameters, and its state (``v``, ``I``, spike flags, recordings)
        is a view of this population's: running it advances those samples here. Every update
        is element-wise, so parts run on separate threads give the bits of one whole run.
        """
        part = copy.copy(self)
        part.v = self.v[lo:hi]
        if self.i_syn is not None:
            part.i_syn = self.i_syn[lo:hi]
        if self.spiking:
            part._spk = self._spk[lo:hi]
            part._zero_mask = None if self._zero_mask is None else self._zero_mask[lo:hi]
            part._flag = None if self._flag is None else self._flag[lo:hi]
            part._count = None if self._count is None else self._count[lo:hi]
        part.rec = {var: buf[:, lo:hi] for var, buf in self.rec.items()}
        return part

    def init_flags(self) -> None:
        """Initial flag of the subtraction variants: ``v_init > v_threshold``."""
        if self.spiking and self._flag is not None:
            self._test(self.v, self.thr, out=self._flag)

    # -- per-step pieces ---------------------------------------------------------------------
    def _fire(self, out: np.ndarray) -> None:
        """Spike test, output and reset on ``self.v`` (after the state update).

        ``"subtract-delayed"`` (snnTorch ``reset_delay=True``, its default): the threshold of a
        spike is subtracted at the *next* step, after that step's update, undecayed::

            v -= thr where p;  s = v > thr;  p = s

        ``"subtract-guarded"`` (snnTorch ``reset_delay=False``): subtraction in the spike step,
        but a neuron still above threshold after last step's subtraction is not reset twice::

            q = p;  v -= thr where q;  s = v > thr;  v -= (s - q) * thr;  p = v > thr

        The order of the float operations is snnTorch's, so results are bit-identical.

        Multi-spike (Sinabs ``MultiSpike``/``MaxSpike``, Rockpool's default)::

            s = v > thr (or >=);  n = floor(v/thr) where s else 0;  n = min(n, max_spikes)
            subtract: v -= n*thr      zero: v = v_reset where s;      output n

        ``v_min`` (Sinabs ``min_v_mem``): ``v = max(v, v_min)`` after the reset.
        """
        v, thr, test = self.v, self.thr, self._test
        if self.multi:
            s = test(v, thr, out=self._spk)
            n = self._count
            np.divide(v, thr, out=n)
            np.floor(n, out=n)
            n[~s] = 0
            if self.max_spikes is not None:
                np.minimum(n, self.max_spikes, out=n)
            if self.reset == "zero":
                np.copyto(v, self.v_reset, where=s)
            else:
                v -= n * thr
            out[...] = n
        else:
            if self._zero_mask is not None:  # reset to +0.0: clear every bit of v where s
                s = test(v, thr, out=self._spk)
                keep = np.subtract(s, 1, dtype=self._zero_mask.dtype, out=self._zero_mask)
                np.bitwise_and(v.view(keep.dtype), keep, out=v.view(keep.dtype))
            elif self.reset == "zero":
                s = test(v, thr, out=self._spk)
                np.copyto(v, self.v_reset, where=s)
            elif self.reset == "subtract":
                s = test(v, thr, out=self._spk)
                np.subtract(v, thr, out=v, where=s)
            elif self.reset == "subtract-delayed":
                p = self._flag
                np.subtract(v, thr, out=v, where=p)
                s = test(v, thr, out=self._spk)
                np.copyto(p, s)
            elif self.reset == "subtract-guarded":
                q = self._flag.copy()
                np.subtract(v, thr, out=v, where=q)
                s = test(v, thr, out=self._spk)
                np.subtract(v, thr, out=v, where=s & ~q)
                np.add(v, thr, out=v, where=q & ~s)
                test(v, thr, out=self._flag)
            else:  # pragma: no cover - checked by nirhub.ir.conventions.check_reset
                raise ValueError(f"unknown reset mode {self.reset!r}")
            out[...] = s
        if self.v_min is not None:
            np.maximum(v, self.v_min, out=v)

    def _emit(self, out: np.ndarray, t: int) -> None:
        if self.spiking:
            self._fire(out)
        else:
            out[...] = self.v
        if self.rec:
            for var, buf in self.rec.items():
                if var == "v":
                    buf[t] = self.v
                elif var == "I":
                    buf[t] = self.i_syn
                elif var == "count":
                    buf[t] = self._count
                else:
                    buf[t] = self._spk

    def step(self, x: np.ndarray, t: int, out: np.ndarray) -> None:
        """Advance one step with input ``x`` (batch, *shape); write the output into ``out``."""
        raise NotImplementedError  # pragma: no cover

    def run(self, x: np.ndarray, t0: int, out: np.ndarray) -> None:
        """Advance ``len(x)`` steps starting at global step ``t0``."""
        for i in range(x.shape[0]):
            self.step(x[i], t0 + i, out[i])


class Integrator(Population):
    """I and IF: ``v <- v + (dt*r)*x`` (exact for a held input, so both methods agree)."""

    def __init__(self, node: I | IF, shape: Shape, dt: float, method: str, **kw) -> None:
        self.spiking = isinstance(node, IF)
        super().__init__(node, shape, **kw)
        self.g = np.asarray(dt * np.asarray(node.r, dtype=np.float64), dtype=self.dtype)

    def step(self, x: np.ndarray, t: int, out: np.ndarray) -> None:
        self.v += self.g * x
        self._emit(out, t)

    def run(self, x: np.ndarray, t0: int, out: np.ndarray) -> None:
        drive = self.g * x
        for i in range(x.shape[0]):
            self.v += drive[i]
            self._emit(out[i], t0 + i)


class Leaky(Population):
    """LI and LIF: ``v <- a*v + (g*x + c)``."""

    def __init__(self, node: LI | LIF, shape: Shape, dt: float, method: str, **kw) -> None:
        self.spiking = isinstance(node, LIF)
        super().__init__(node, shape, **kw)
        f64 = np.float64
        co = leak(
            np.asarray(node.tau, f64),
            np.asarray(node.r, f64),
            np.asarray(node.v_leak, f64),
            dt,
            method,
        )
        self.a = co.a.astype(self.dtype)
        self.g = co.g.astype(self.dtype)
        self.c = co.c.astype(self.dtype)
        self.unit_gain = bool(np.all(self.g == 1))
        self.v[...] = np.asarray(node.v_leak, dtype=self.dtype)

    def _drive(self, x: np.ndarray) -> np.ndarray:
        """``g*x + c``; ``x + c`` when every ``g`` is 1 (``1*x`` is ``x``, bit for bit, so
        one pass over the input less: snnTorch's and Norse's exports have ``r = tau/dt``)."""
        if self.unit_gain:
            return x + self.c
        drive = self.g * x
        drive += self.c
        return drive

    def step(self, x: np.ndarray, t: int, out: np.ndarray) -> None:
        drive = self._drive(x)
        self.v *= self.a
        self.v += drive
        self._emit(out, t)

    def run(self, x: np.ndarray, t0: int, out: np.ndarray) -> None:
        drive = self._drive(x)
        for i in range(x.shape[0]):
            self.v *= self.a
            self.v += drive[i]
            self._emit(out[i], t0 + i)


class Cuba(Population):
    """CubaLI and CubaLIF.

    Euler (spec order: the membrane uses the *updated* current)::

        I <- a_s*I + g_s*x              a_s = 1 - dt/tau_syn, g_s = (dt/tau_syn)*w_in
        v <- a_m*v + (g_m*I + c_m)      a_m = 1 - dt/tau_mem, g_m = (dt/tau_mem)*r,
                                        c_m = (dt/tau_mem)*v_leak

    Exact: see :class:`nirhub.sim.discretize.CubaExact`. Exact with the ``"staged"`` variant
    (Rockpool's LIFTorch, Sinabs' LIF with ``tau_syn``): the Euler order above with each stage
    exact, ``a = exp(-dt/tau)``, ``g = (1 - a)*gain``, ``c = (1 - a)*v_leak``.
    """

    has_current = True

    def __init__(self, node: CubaLI | CubaLIF, shape: Shape, dt: float, method: str, **kw) -> None:
        self.spiking = isinstance(node, CubaLIF)
        super().__init__(node, shape, **kw)
        f64, d = np.float64, self.dtype
        w_in = np.ones(()) if node.w_in is None else np.asarray(node.w_in, f64)
        tau_syn, tau_mem = np.asarray(node.tau_syn, f64), np.asarray(node.tau_mem, f64)
        r, v_leak = np.asarray(node.r, f64), np.asarray(node.v_leak, f64)
        staged = self.variant.discretization == "staged"
        self.exact = method == "exact" and not staged
        if self.exact:
            co = cuba_exact(tau_syn, tau_mem, r, v_leak, dt)
            self.w_in = w_in.astype(d)
            self.e_s, self.b_s = co.e_s.astype(d), co.b_s.astype(d)
            self.e_m, self.c_m = co.e_m.astype(d), co.c.astype(d)
            self.g_m, self.k = co.g.astype(d), co.k.astype(d)
        else:
            syn = leak(tau_syn, w_in, np.zeros(()), dt, method)
            mem = leak(tau_mem, r, v_leak, dt, method)
            self.a_s, self.g_s = syn.a.astype(d), syn.g.astype(d)
            self.a_m, self.g_m, self.c_m = mem.a.astype(d), mem.g.astype(d), mem.c.astype(d)
        self.v[...] = np.asarray(node.v_leak, dtype=d)

    def _advance(self, x: np.ndarray) -> None:
        if self.exact:
            u = self.w_in * x
            drive = self.g_m * u
            drive += self.c_m
            diff = self.i_syn - u
            diff *= self.k
            drive += diff
            self.v *= self.e_m
            self.v += drive
            self.i_syn *= self.e_s
            self.i_syn += self.b_s * u
        else:
            self.i_syn *= self.a_s
            self.i_syn += self.g_s * x
            drive = self.g_m * self.i_syn
            drive += self.c_m
            self.v *= self.a_m
            self.v += drive

    def step(self, x: np.ndarray, t: int, out: np.ndarray) -> None:
        self._advance(x)
        self._emit(out, t)


def make_population(
    node: Node,
    shape: Shape,
    *,
    dt: float,
    method: str,
    reset: str,
    batch: int,
    dtype: np.dtype,
    steps: int,
    record: bool,
    variant: NeuronVariant | None = None,
    name: str | None = None,
) -> Population:
    kw = {
        "batch": batch,
        "dtype": dtype,
        "reset": reset,
        "steps": steps,
        "record": record,
        "variant": variant,
        "name": name,
    }
    pop: Population
    if isinstance(node, (I, IF)):
        pop = Integrator(node, shape, dt, method, **kw)
    elif isinstance(node, (LI, LIF)):
        pop = Leaky(node, shape, dt, method, **kw)
    elif isinstance(node, (CubaLI, CubaLIF)):
        pop = Cuba(node, shape, dt, method, **kw)
    else:  # pragma: no cover
        raise TypeError(f"not a neuron node: {node.type_name}")
    pop.init_flags()
    return pop
