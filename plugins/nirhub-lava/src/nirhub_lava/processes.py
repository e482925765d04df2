"""Lava processes from a :class:`~nirhub_lava.mapping.LavaNet`, and running them.

``build`` creates RingBuffer sources (one per Input, one constant source for the biases),
one ``LIF`` per population, one ``Dense``/``Sparse`` (``DelayDense``/``DelaySparse`` when a
delay is needed) per synapse, and RingBuffer sinks for the spikes that are read back.
``run_net`` runs them with ``Loihi2SimCfg`` (``floating_pt`` or ``fixed_pt``) for
``T + max latency`` steps and returns every population's spikes (and v) aligned with the
reference simulator: the latency of each population is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nirhub_lava.fixed import FixedNet
from nirhub_lava.mapping import BIAS_SOURCE, LavaNet


@dataclass
class Built:
    sources: dict[str, Any]
    neurons: dict[str, Any]
    synapses: list[Any]
    sinks: dict[str, Any]
    monitors: dict[str, Any]
    steps: int


def _graded(x: np.ndarray) -> bool:
    return bool(np.any((x != 0) & (x != 1)))


def _synapse(w: Any, sparse: bool, delay: Any, msg_bits: int, extra: dict[str, Any]) -> Any:
    """One Dense/Sparse process (their Delay variants when a delay is needed); ``delay`` is
    an int or an int matrix of the weights' shape."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.sparse.process import DelaySparse, Sparse

    delays = np.broadcast_to(np.asarray(delay, dtype=np.int64), w.shape)
    longest = int(delays.max()) if delays.size else 0
    if sparse:
        import scipy.sparse as sp

        w = sp.csr_matrix(w)
        if longest:
            d = w.copy().astype(np.int64)
            rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
            d.data = delays[rows, w.indices].astype(np.int64)
            return DelaySparse(
                weights=w, delays=d, max_delay=longest, num_message_bits=msg_bits, **extra
            )
        return Sparse(weights=w, num_message_bits=msg_bits, **extra)
    w = np.asarray(w)
    if longest:
        return DelayDense(
            weights=w, delays=np.array(delays), max_delay=longest,
            num_message_bits=msg_bits, **extra,
        )  # fmt: skip
    return Dense(weights=w, num_message_bits=msg_bits, **extra)


def build(
    net: LavaNet,
    inputs: dict[str, np.ndarray],
    steps: int,
    *,
    fixed: FixedNet | None = None,
    spikes_of: tuple[str, ...] = (),
    v_of: tuple[str, ...] = (),
) -> Built:
    """Create the processes. ``inputs``: ``{name: (T, size)}``; run length ``steps``."""
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    sources: dict[str, Any] = {}
    graded: dict[str, bool] = {}
    for name, x in inputs.items():
        data = np.zeros((x.shape[1], steps))
        data[:, : x.shape[0]] = x.T
        if fixed is not None:
            data = data.astype(np.int32)
        sources[name] = Source(data=data)
        graded[name] = _graded(x)
    if any(s.source == BIAS_SOURCE for s in net.synapses):
        ones = np.ones((1, steps))
        sources[BIAS_SOURCE] = Source(data=ones.astype(np.int32) if fixed is not None else ones)
        graded[BIAS_SOURCE] = False

    # one LIF process per group of neurons sharing (du, dv)
    neurons: dict[str, list[tuple[np.ndarray, Any]]] = {}
    for path, pop in net.populations.items():
        neurons[path] = []
        for gi, idx in enumerate(pop.groups()):
            n = (len(idx),)
            name = path if gi == 0 else f"{path}#{gi}"
            if fixed is None:
                proc = LIF(
                    shape=n,
                    du=float(pop.du[idx[0]]),
                    dv=float(pop.dv[idx[0]]),
                    vth=float(pop.threshold[idx[0]]),
                    bias_mant=pop.bias[idx].copy(),
                    bias_exp=0,
                    u=0.0,
                    v=pop.v_init[idx].copy(),
                    name=name,
                )
            else:
                fp = fixed.populations[path]
                proc = LIF(
                    shape=n,
                    du=int(fp.du[idx[0]]),
                    dv=int(fp.dv[idx[0]]),
                    vth=int(fp.vth),
                    bias_mant=fp.bias_mant[idx].astype(np.int32),
                    bias_exp=6,
                    u=0,
                    v=fp.v_init[idx].astype(np.int32),
                    name=name,
                )
            neurons[path].append((idx, proc))

    def outlets(name: str) -> list[tuple[np.ndarray, Any]]:
        if name in sources:
            src = sources[name]
            return [(np.arange(int(np.prod(src.s_out.shape))), src)]
        return neurons[name]

    procs = []
    for i, syn in enumerate(net.synapses):
        msg_bits = 24 if graded.get(syn.source, False) else 0
        if fixed is None:
            w_all, extra = syn.weights, {}
        else:
            fs = fixed.synapses[i]
            w_all = fs.lava_weights()
            extra = {"weight_exp": fs.lava_exp, "num_weight_bits": 8}
        if syn.sparse:
            w_all = w_all.tocsr()
        for sidx, src in outlets(syn.source):
            for tidx, dst in neurons[syn.target]:
                w = w_all[tidx][:, sidx]
                nnz = w.nnz if syn.sparse else np.count_nonzero(w)
                if nnz == 0:
                    continue
                proc = _synapse(w, syn.sparse, syn.delays(tidx, sidx), msg_bits, extra)
                src.s_out.connect(proc.s_in)
                proc.a_out.connect(dst.a_in)
                procs.append(proc)

    sinks: dict[str, Any] = {}
    for path in spikes_of:
        sinks[path] = []
        for idx, proc in neurons[path]:
            sink = Sink(shape=(len(idx),), buffer=steps)
            proc.s_out.connect(sink.a_in)
            sinks[path].append((idx, sink))
    monitors: dict[str, Any] = {}
    if v_of:
        from lava.proc.monitor.process import Monitor

        for path in v_of:
            monitors[path] = []
            for idx, proc in neurons[path]:
                mon = Monitor()
                mon.probe(target=proc.v, num_steps=steps)
                monitors[path].append((idx, proc.name, mon))
    return Built(sources, neurons, procs, sinks, monitors, steps)


#: the Loihi 2 compiler module that Intel's (non-public) lava-loihi adds to lava
LOIHI_COMPILER = "lava.magma.compiler.subcompilers.nc.ncproc_compiler"


def require_loihi2() -> None:
    """Refuse a hardware run clearly when lava-loihi (Intel's Loihi 2 compiler) is missing."""
    import importlib.util

    from nirhub.backend import BackendUnavailableError

    try:
        found = importlib.util.find_spec(LOIHI_COMPILER) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise BackendUnavailableError(
            "running on Loihi 2 needs Intel's lava-loihi (its compiler "
            f"{LOIHI_COMPILER} is not installed) and a board",
            hint="Available to INRC members from Intel; set the host with "
            "lava.utils.loihi.use_slurm_host() or use_ethernet_host(). Without it, run without "
            "-O hardware=true: the fixed_pt simulation is the bit-accurate model.",
        )


def run_net(
    net: LavaNet,
    inputs: dict[str, np.ndarray],
    *,
    fixed: FixedNet | None = None,
    spikes_of: tuple[str, ...] = (),
    v_of: tuple[str, ...] = (),
    hardware: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run ``T + max latency`` steps; return aligned ``(spikes, v)`` per population (T, n).

    ``v`` is in the reference's units (``v_norm * (v_threshold - v_reset) + v_reset``).
    """
    import warnings

    with warnings.catch_warnings():
        # networkx 2.8 (pinned by lava-nc) warns about a missing pandas when Lava's compiler
        # imports it: not a conversion warning
        warnings.filterwarnings("ignore", message="pandas not found")
        return _run(net, inputs, fixed, spikes_of, v_of, hardware)


def _run(
    net: LavaNet,
    inputs: dict[str, np.ndarray],
    fixed: FixedNet | None,
    spikes_of: tuple[str, ...],
    v_of: tuple[str, ...],
    hardware: bool,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    if hardware:
        require_loihi2()
    t = next(iter(inputs.values())).shape[0]
    steps = t + net.max_latency
    built = build(net, inputs, steps, fixed=fixed, spikes_of=spikes_of, v_of=v_of)
    if hardware:  # pragma: no cover - needs Intel's lava-loihi and a board
        from lava.magma.core.run_configs import Loihi2HwCfg

        cfg: Any = Loihi2HwCfg()
    else:
        cfg = Loihi2SimCfg(select_tag="fixed_pt" if fixed is not None else "floating_pt")
    anchor = next(iter(built.neurons.values()))[0][1]
    anchor.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
    try:
        spikes = {}
        for path, parts in built.sinks.items():
            pop = net.populations[path]
            lat = pop.latency
            full = np.zeros((t, pop.size), dtype=bool)
            for idx, sink in parts:
                data = np.asarray(sink.data.get())  # (n, steps)
                full[:, idx] = data[:, lat : lat + t].T != 0
            spikes[path] = full
        volts = {}
        for path, parts in built.monitors.items():
            pop = net.populations[path]
            lat = pop.latency
            full = np.zeros((t, pop.size))
            for idx, name, mon in parts:
                data = np.asarray(mon.get_data()[name]["v"], dtype=np.float64)  # (steps, n)
                full[:, idx] = data[lat : lat + t]
            if fixed is not None:
                full = full / (fixed.populations[path].scale * 64.0)
            volts[path] = full * pop.scale + pop.offset
    finally:
        anchor.stop()
    return spikes, volts
