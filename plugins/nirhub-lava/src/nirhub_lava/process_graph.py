"""A Lava process graph built in Python (lava-nc objects, not yet run) -> :class:`LavaNet`.

What is read: ``RingBuffer`` sources (an input each; a source of one channel that is 1 at every
step is a *constant* source, i.e. biases), ``LIF`` processes (float semantics), ``Dense``,
``Sparse``, ``DelayDense`` and ``DelaySparse`` synapses; ``RingBuffer`` sinks and ``Monitor``
processes are ignored. Anything else is refused by process name.

Time: a synapse delivers at step ``t + 1 + delay`` what its source sent at ``t``. A
population's latency ``lat(P)`` is the earliest step its input can arrive (sources at 0); a
synapse's delay beyond alignment, ``lat(S) + 1 + delay - lat(P)``, becomes the reference
delay (a ``Delay`` node; a recurrent synapse onto its own population has one step of its own).
The population must rest until then: its ``bias_mant`` must hold ``v`` where it starts
(``bias = dv * v``), constant sources must not arrive before ``lat(P)`` — else the network does
not start at rest in the IR's sense and is refused. The IR then behaves as the Lava network
with each population's latency removed (what nirhub's run hook returns).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from nirhub.backend import Problem, UnsupportedError
from nirhub_lava.mapping import BIAS_SOURCE, LavaNet, Population, Synapse

_SYNAPSES = {"Dense", "Sparse", "DelayDense", "DelaySparse"}
_IGNORED = {"Monitor"}


def _kind(proc: Any) -> str:
    cls = type(proc)
    mod = cls.__module__
    if cls.__name__ == "RingBuffer" and mod.startswith("lava.proc.io.source"):
        return "source"
    if cls.__name__ == "RingBuffer" and mod.startswith("lava.proc.io.sink"):
        return "sink"
    if cls.__name__ == "LIF" and mod.startswith("lava.proc.lif"):
        return "lif"
    if cls.__name__ in _SYNAPSES and mod.startswith(("lava.proc.dense", "lava.proc.sparse")):
        return "synapse"
    if cls.__name__ in _IGNORED:
        return "ignored"
    return "other"


def _init(proc: Any, name: str) -> Any:
    var = getattr(proc, name, None)
    return None if var is None else var.init


def _neighbours(proc: Any) -> list[Any]:
    out = []
    for port in [*proc.in_ports, *proc.out_ports]:
        for other in [*port.in_connections, *port.out_connections]:
            if other.process is not None:
                out.append(other.process)
    return out


def _collect(roots: list[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    todo = deque(roots)
    while todo:
        proc = todo.popleft()
        if id(proc) in seen:
            continue
        seen[id(proc)] = proc
        todo.extend(_neighbours(proc))
    return list(seen.values())


def _as_list(model: Any) -> list[Any]:
    if isinstance(model, dict):
        return list(model.values())
    if isinstance(model, (list, tuple)):
        return list(model)
    return [model]


def net_from_processes(model: Any, *, dt: float) -> LavaNet:
    """Read the process graph around ``model`` (a process, or a list/dict of processes)."""
    procs = _collect(_as_list(model))
    problems: list[Problem] = []
    kinds = {id(p): _kind(p) for p in procs}
    for p in procs:
        if kinds[id(p)] == "other":
            problems.append(
                Problem(
                    p.name,
                    f"{type(p).__name__} is not read (only RingBuffer, LIF, Dense, "
                    "Sparse, DelayDense, DelaySparse)",
                    kind="unsupported",
                )  # fmt: skip
            )
    if problems:
        raise UnsupportedError("the Lava network cannot be read:\n" + "\n".join(
            f"  - {p}" for p in problems), problems=problems)  # fmt: skip

    inputs: dict[str, tuple[int, ...]] = {}
    constant: set[int] = set()
    for p in procs:
        if kinds[id(p)] == "source":
            data = np.asarray(_init(p, "data"))
            if data.ndim == 2 and data.shape[0] == 1 and np.all(data == 1):
                constant.add(id(p))
            else:
                inputs[p.name] = tuple(int(s) for s in data.shape[:-1])

    lifs = [p for p in procs if kinds[id(p)] == "lif"]
    raw: dict[str, dict[str, Any]] = {}
    for p in lifs:
        n = int(np.prod(p.s_out.shape))
        full = lambda v, n=n: np.broadcast_to(np.asarray(v, np.float64), (n,)).ravel()  # noqa: E731
        vth = float(np.asarray(_init(p, "vth")).ravel()[0])
        if not vth > 0:
            problems.append(Problem(p.name, "vth must be > 0", kind="unsupported"))
            continue
        if np.any(full(_init(p, "u")) != 0):
            problems.append(Problem(p.name, "starts with u != 0 (NIR starts at I = 0)"))
        raw[p.name] = {
            "proc": p,
            "n": n,
            "du": full(_init(p, "du")),
            "dv": full(_init(p, "dv")),
            "bias": full(_init(p, "bias_mant")),
            "v": full(_init(p, "v")),
            "vth": vth,
        }

    def source_of(port: Any) -> Any:
        srcs = port.get_src_ports()
        return srcs[0].process if len(srcs) == 1 else None

    edges: list[tuple[str, str, Any, Any]] = []  # source, target, weights, delays
    for p in procs:
        if kinds[id(p)] != "synapse":
            continue
        src = source_of(p.s_in)
        dsts = [d.process for d in p.a_out.get_dst_ports()]
        if src is None or len(dsts) != 1 or kinds.get(id(dsts[0])) != "lif":
            problems.append(Problem(p.name, "must connect one source to one LIF process"))
            continue
        w = _init(p, "weights")
        d = _init(p, "delays")
        s_name = BIAS_SOURCE if id(src) in constant else src.name
        if kinds.get(id(src)) not in ("source", "lif"):
            problems.append(Problem(p.name, f"is fed by {type(src).__name__}"))
            continue
        edges.append((s_name, dsts[0].name, w, 0 if d is None else d))
    if problems:
        raise UnsupportedError("the Lava network cannot be read:\n" + "\n".join(
            f"  - {p}" for p in problems), problems=problems)  # fmt: skip

    def dmin(d: Any) -> int:
        arr = d.toarray() if hasattr(d, "toarray") else np.asarray(d)
        return int(arr.min()) if np.size(arr) else 0

    # latency: earliest arrival over the synapses from inputs and other populations
    lat: dict[str, int] = {}
    for _ in range(len(raw) + 2):
        for s, t, _w, d in edges:
            if s == BIAS_SOURCE or s == t:
                continue
            base = 0 if s in inputs else lat.get(s)
            if base is None:
                continue
            arrive = base + 1 + dmin(d)
            if t not in lat or arrive < lat[t]:
                lat[t] = arrive
    for name in raw:
        if name not in lat:
            problems.append(Problem(name, "receives no input from a source or another LIF"))

    pops: dict[str, Population] = {}
    synapses: list[Synapse] = []
    for name, r in raw.items():
        if name not in lat:
            continue
        if not np.allclose(r["bias"], r["dv"] * r["v"]):
            problems.append(
                Problem(
                    name,
                    "bias_mant does not hold v at its initial value (bias != dv * v): the "
                    "population does not rest before its first input arrives",
                )
            )
        pops[name] = Population(
            path=name, type_name="LIF", shape=(r["n"],), du=r["du"], dv=r["dv"],
            bias=r["bias"], v_init=r["v"], scale=np.ones(r["n"]),
            offset=np.zeros(r["n"]), latency=lat[name], vth=np.full(r["n"], r["vth"]),
        )  # fmt: skip
    for s, t, w, d in edges:
        if t not in pops:
            continue
        if s not in inputs and s != BIAS_SOURCE and s not in pops:
            continue
        src_lat = 0 if s in inputs or s == BIAS_SOURCE else lat[s]
        arr = d.toarray() if hasattr(d, "toarray") else np.asarray(d)
        base = dmin(d)
        ref = src_lat + 1 + base - lat[t]
        if s == t:
            ref = 1 + base
        if ref < 0:
            problems.append(
                Problem(
                    t,
                    f"{'a constant source' if s == BIAS_SOURCE else s} reaches it before "
                    "its first input: it does not start at rest",
                )  # fmt: skip
            )
            continue
        # in the process' own units: its vth is kept, not divided into the weights
        weights = w.astype(np.float64) if hasattr(w, "astype") else np.asarray(w, np.float64)
        syn = Synapse(s, t, weights, ref)
        extra = np.broadcast_to(arr, w.shape) - base if np.size(arr) > 1 else None
        if extra is not None and np.any(extra):
            rows, cols = extra[:, :1], extra[:1, :]
            if np.array_equal(extra, rows + cols - rows[0, 0]):
                syn.row_delay = (rows[:, 0] - rows[0, 0]).astype(np.int64)
                syn.col_delay = cols[0].astype(np.int64)
            else:
                problems.append(Problem(t, "its synaptic delays are not per row plus per column"))
        synapses.append(syn)
    if problems:
        raise UnsupportedError("the Lava network cannot be read:\n" + "\n".join(
            f"  - {p}" for p in problems), problems=problems)  # fmt: skip

    fed = {s.source for s in synapses}
    ends = []
    for name in pops:
        proc = raw[name]["proc"]
        dst = [q.process for q in proc.s_out.get_dst_ports()]
        if not any(kinds.get(id(q)) == "synapse" for q in dst) or name not in fed:
            ends.append(name)
    # one output is called "output"; several are named after their population
    outputs = {
        ("output" if len(ends) == 1 else f"out_{name}"): (name, pops[name].shape) for name in ends
    }
    return LavaNet(dt, "euler", inputs, pops, synapses, outputs)
