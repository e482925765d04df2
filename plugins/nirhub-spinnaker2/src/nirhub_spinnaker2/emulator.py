"""The run hook: numpy emulation of SpiNNaker2's neuron kernels on a lowered network.

Per tick ``t`` and population (``docs/backends/spinnaker2.md``; reproduces the paper's chip
rasters with 0 differing cells)::

    in[t] = sum_j Wq[i, j] * s_j[t - 1 - conn_delay]   # every projection: one tick late
    I[t]  = exc_decay * I[t-1] + in[t]                 # lif_curr_exp* only
    v[t]  = alpha_decay * v[t-1] + I[t] + i_offset     # (lif*: in[t] instead of I[t])
    spike = v[t] > threshold;  reset: v -= threshold  or  v = 0

State and parameters are float32 as on the ARM Cortex-M4F cores (``-O precision=float64``:
float64 state from the same float32 parameters, like py-spinnaker2's Brian2 backend).

Time axis (``-O latency=``): ``compensated`` (default) shifts every population back by its
depth (ticks from the input along the feed-forward path) so that results line up with the
reference simulator; ``raw`` returns the chip's own time axis, as the paper's recordings are
(hidden layer one tick late).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nirhub.backend import UsageError
from nirhub_spinnaker2.model import Projection, S2Network


def _inputs(net: S2Network, inputs: Any) -> tuple[dict[str, np.ndarray], bool, int]:
    if not isinstance(inputs, Mapping):
        if len(net.inputs) != 1:
            raise UsageError(f"the graph has {len(net.inputs)} inputs: pass a dict by name")
        inputs = {net.inputs[0]: inputs}
    missing = [n for n in net.inputs if n not in inputs]
    if missing:
        raise UsageError(f"no input given for {', '.join(missing)}")
    out, batched, steps = {}, None, None
    for name in net.inputs:
        pop = net.populations[name]
        arr = np.asarray(inputs[name], dtype=np.float64)
        nd = len(pop.shape)
        if arr.ndim == nd + 1:
            b = False
            arr = arr[:, None]
        elif arr.ndim == nd + 2:
            b = True
        else:
            raise UsageError(
                f"input {name!r} of shape {arr.shape} does not fit (T, [B,] {pop.shape})",
                hint="Time is axis 0.",
            )
        if tuple(arr.shape[2:]) != tuple(pop.shape):
            raise UsageError(f"input {name!r} of shape {arr.shape} does not fit {pop.shape}")
        if batched is not None and b != batched or steps is not None and arr.shape[0] != steps:
            raise UsageError("all inputs need the same number of steps and batch layout")
        batched, steps = b, arr.shape[0]
        if net.options.get("rounding") != "none" and (
            not np.all(np.isfinite(arr)) or np.any((arr != 0) & (arr != 1))
        ):
            raise UsageError(
                f"input {name!r}: SpiNNaker2's spike_list inputs are events (0 or 1 per "
                "neuron and tick)",
                hint="Encode analogue signals as spikes first; -O rounding=none (emulator "
                "only, not deployable) also accepts graded inputs.",
            )
        out[name] = arr.reshape(arr.shape[0], arr.shape[1], -1)
    return out, bool(batched), int(steps or 0)


class _Op:
    """One projection as a map from pre spikes (B, n_pre) to post input (B, n_post)."""

    def __init__(self, proj: Projection, net: S2Network, dtype: np.dtype) -> None:
        self.proj = proj
        self.delay = int(proj.delay)
        w = np.asarray(proj.weights, dtype=dtype)
        #: (extra steps, weights) groups: the NIR Delay steps of each synapse
        self.groups: list[tuple[int, np.ndarray]] = []
        if proj.kind == "conv":
            from nirhub.backend import ConvOp

            self.pre_shape = net.populations[proj.pre].shape
            self.conv = ConvOp(w, None, proj.stride, proj.padding, (1, 1), 1, dtype)
            self.wt = None
        else:
            self.conv = None
            self.wt = np.ascontiguousarray(w.T)
            if proj.delays is not None:
                steps = np.asarray(proj.delays)
                for d in np.unique(steps[w != 0]):
                    self.groups.append((int(d), np.ascontiguousarray(np.where(steps == d, w, 0).T)))

    @property
    def longest(self) -> int:
        return self.delay + max((d for d, _ in self.groups), default=0)

    def deliver(self, past: list[dict[str, np.ndarray]]) -> np.ndarray:
        """Input to the post population from the pre spikes of earlier ticks (newest last)."""
        pre = self.proj.pre
        if self.groups:
            return sum(past[-1 - self.delay - d][pre] @ wt for d, wt in self.groups)
        return self(past[-1 - self.delay][pre])

    def __call__(self, s: np.ndarray) -> np.ndarray:
        if self.conv is None:
            return s @ self.wt
        from nirhub.backend import pool2d

        x = s.reshape(s.shape[0], *self.pre_shape)
        if self.proj.pool is not None:
            x = pool2d(x, self.proj.pool, self.proj.pool, (0, 0), average=False)
        return self.conv(x).reshape(s.shape[0], -1)


def emulate(
    net: S2Network,
    inputs: Any,
    *,
    record: tuple[str, ...] = (),
    precision: str = "float32",
    latency: str = "compensated",
) -> dict[str, Any]:
    """Run the network; outputs per Output node and recordings, time-major."""
    if precision not in ("float32", "float64"):
        raise UsageError(f"precision must be float32 or float64, got {precision!r}")
    if latency not in ("compensated", "raw"):
        raise UsageError(f"latency must be compensated or raw, got {latency!r}")
    for path in record:
        if path not in net.populations or path in net.inputs:
            raise UsageError(
                f"cannot record {path!r} on SpiNNaker2 (only neuron populations are observable)",
                hint="Recordable: "
                + ", ".join(p for p in net.populations if p not in net.inputs)
                + ".",
            )
    dtype = np.dtype(precision)
    x, batched, steps = _inputs(net, inputs)
    batch = next(iter(x.values())).shape[1] if x else 1
    depth = net.depth()
    shift = {p: (depth.get(p, 0) if latency == "compensated" else 0) for p in net.populations}
    ticks = steps + max(shift.values(), default=0)
    ops = [_Op(p, net, dtype) for p in net.projections]
    hist = max([op.longest for op in ops], default=0) + 1
    neurons = [p for p in net.populations.values() if p.model != "spike_list"]
    par = {p.name: {k: v.astype(dtype) for k, v in p.params.items()} for p in neurons}
    v = {p.name: np.zeros((batch, p.size), dtype) for p in neurons}
    cur = {p.name: np.zeros((batch, p.size), dtype) for p in neurons if "exc_decay" in p.params}
    zeros = {n: np.zeros((batch, p.size), dtype) for n, p in net.populations.items()}
    # spikes of the last ``hist`` ticks, newest last
    past: list[dict[str, np.ndarray]] = [dict(zeros) for _ in range(hist)]
    keep = set(record) | set(net.outputs.values())
    trace: dict[str, dict[str, list[np.ndarray]]] = {p: {"spikes": [], "v": []} for p in keep}
    for t in range(ticks):
        now: dict[str, np.ndarray] = {}
        for name in net.inputs:
            now[name] = x[name][t].astype(dtype) if t < steps else zeros[name]
        for pop in neurons:
            syn = np.zeros((batch, pop.size), dtype)
            for op in ops:
                if op.proj.post == pop.name:
                    syn += op.deliver(past)
            p = par[pop.name]
            if pop.name in cur:
                cur[pop.name] = p["exc_decay"] * cur[pop.name] + syn
                syn = cur[pop.name]
            vv = p["alpha_decay"] * v[pop.name] + syn + p["i_offset"]
            spk = vv > p["threshold"]
            if pop.reset == "reset_by_subtraction":
                vv = np.where(spk, vv - p["threshold"], vv)
            else:
                vv = np.where(spk, p["v_reset"], vv)
            v[pop.name] = vv.astype(dtype)
            now[pop.name] = spk.astype(dtype)
        for name in keep:
            trace[name]["spikes"].append(now[name] != 0)
            pop = net.populations[name]
            if name in v:
                trace[name]["v"].append(v[name].astype(np.float64) / pop.v_scale)
        past = past[1:] + [now]

    def series(name: str, var: str) -> np.ndarray:
        pop = net.populations[name]
        rows = trace[name][var]
        arr = np.stack(rows)[shift[name] : shift[name] + steps]
        arr = arr.reshape(arr.shape[0], batch, *pop.shape)
        return arr if batched else arr[:, 0]

    outputs = {o: series(p, "spikes").astype(np.float64) for o, p in net.outputs.items()}
    recorded = {p: {"spikes": series(p, "spikes"), "v": series(p, "v")} for p in record if p in v}
    return {
        "outputs": outputs,
        "recorded": recorded,
        "steps": steps,
        "batch_size": batch if batched else None,
        "shift": shift,
    }
