"""lava-dl's ``netx`` HDF5 network format (``.net``): write (Loihi 2 artifact) and read (-> IR).

What ``lava.lib.dl.netx.hdf5.Network`` builds from a file (lava-dl 0.6.0, read from its
source): a chain of blocks; a ``dense`` block is a ``Dense`` synapse (the stored integer
weights, re-encoded by ``optimize_weight_bits`` without loss) feeding a ``LIF`` with
``vth = vThMant``, ``du = iDecay - 1``, ``dv = vDecay``, ``bias_mant = bias``, ``bias_exp = 6``;
``flatten`` layers only change the shape. In weight units this is::

    u <- (1 - iDecay/4096) u + sum(weight * s)       (with Loihi's fixed-point rounding)
    v <- (1 - vDecay/4096) v + u + bias              spike when v > vThMant, then v = 0

Written files hold only ``dense`` layers (convolutions and pooling are stored as their dense
weight matrices), one per neuron population, in chain order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import FileFormatError, Problem, UnsupportedError, UsageError
from nirhub.ir.conventions import NAMESPACE, set_dt, set_method, set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import IF, CubaLIF, Input, Linear, Output
from nirhub_lava.fixed import FixedNet
from nirhub_lava.mapping import BIAS_SOURCE, LavaNet

#: refuse files with more layers / larger matrices than this (untrusted input)
MAX_LAYERS = 1000
MAX_WEIGHTS = 200_000_000


def chain_order(net: LavaNet) -> tuple[list[str], list[Problem]]:
    """The populations as a feed-forward chain, or the reasons netx cannot hold the net."""
    problems: list[Problem] = []
    if len(net.inputs) != 1:
        problems.append(Problem("<graph>", "netx networks have exactly one input"))
    incoming: dict[str, list[Any]] = {p: [] for p in net.populations}
    for syn in net.synapses:
        incoming[syn.target].append(syn)
    order: list[str] = []
    current = next(iter(net.inputs), None)
    remaining = set(net.populations)
    while remaining:
        nxt = [p for p in remaining if any(s.source == current for s in incoming[p])]
        if len(nxt) != 1:
            problems.append(
                Problem(
                    "<graph>",
                    "netx holds a chain of layers (each fed by the previous one only); this "
                    "graph branches, merges or is recurrent",
                )
            )
            break
        order.append(nxt[0])
        remaining.discard(nxt[0])
        current = nxt[0]
    for path in order:
        prev = order[order.index(path) - 1] if order.index(path) else next(iter(net.inputs))
        for syn in incoming[path]:
            if syn.source == BIAS_SOURCE:
                problems.append(
                    Problem(
                        path,
                        "has a synaptic bias (an Affine/Conv bias); netx stores neuron biases, "
                        "which act on v from the first step, not through the synaptic current",
                    )
                )
            elif syn.max_delay > 0:
                problems.append(
                    Problem(path, "has synaptic delays (Delay nodes); netx is written without")
                )
            elif syn.source == path:
                problems.append(
                    Problem(path, "is recurrent; netx holds feed-forward chains of layers only")
                )
            elif syn.source != prev:
                problems.append(
                    Problem(path, f"is fed by {syn.source}, not the previous layer of the chain")
                )
        pop = net.populations[path]
        if len(pop.groups()) > 1:
            problems.append(
                Problem(
                    path,
                    "has neurons with different time constants or thresholds; a netx layer "
                    "has one of each",
                )
            )
        if np.any(pop.v_init != 0) or np.any(pop.bias != 0):
            problems.append(
                Problem(
                    path,
                    "rests at v != v_reset (v_leak or v_reset terms); netx neurons start at 0 "
                    "with no constant drive",
                )
            )
    if order and net.outputs and any(p != order[-1] for p, _ in net.outputs.values()):
        problems.append(Problem("<graph>", "netx outputs the last layer only"))
    return order, problems


def write_netx(net: LavaNet, fixed: FixedNet, path: Path) -> None:
    """Write the quantized chain as a netx file at ``path`` (the caller makes it atomic)."""
    import h5py

    order, problems = chain_order(net)
    for syn, fs in zip(net.synapses, fixed.synapses, strict=True):
        if fs.exponent not in (0, 1):
            problems.append(
                Problem(
                    syn.target,
                    f"weight exponent {fs.exponent}: netx stores integer weights of at most "
                    "8 bits plus sign (exponent 0 or 1)",
                )
            )
    if problems:
        raise UnsupportedError(
            "this network cannot be written in lava-dl's netx format:\n"
            + "\n".join(f"  - {p}" for p in problems),
            problems=problems,
            hint="Save the model as a .nir file instead, or run it with nirhub simulate "
            "--backend loihi2.",
        )
    index = {id(s): i for i, s in enumerate(net.synapses)}
    with h5py.File(path, "w") as fh:
        fh.attrs["generator"] = "nirhub loihi2 backend"
        fh.attrs["dt"] = net.dt
        layers = fh.create_group("layer")
        for i, pop_path in enumerate(order):
            pop = net.populations[pop_path]
            fp = fixed.populations[pop_path]
            syn = next(s for s in net.synapses if s.target == pop_path)
            fs = fixed.synapses[index[id(syn)]]
            eff = fs.effective()
            w = np.asarray(eff.todense() if hasattr(eff, "todense") else eff)
            g = layers.create_group(str(i))
            g.create_dataset("type", data=np.bytes_("dense"))
            g.create_dataset("shape", data=np.array([pop.size], dtype=np.int64))
            g.create_dataset("weight", data=np.rint(w).astype(np.int16), compression="gzip")
            g.attrs["nir_path"] = pop_path
            neuron = g.create_group("neuron")
            neuron.create_dataset("type", data=np.bytes_("CUBA"))
            neuron.create_dataset("iDecay", data=np.int64(fp.du[0] + 1))
            neuron.create_dataset("vDecay", data=np.int64(fp.dv[0]))
            neuron.create_dataset("vThMant", data=np.int64(fp.vth))
            neuron.create_dataset("refDelay", data=np.int64(1))
            neuron.create_dataset("gradedSpike", data=np.bool_(False))


def _scalar(group: Any, key: str, where: str, path: Path) -> Any:
    if key not in group:
        raise FileFormatError(f"netx file: {where} has no {key!r}", path=path, location=where)
    value = group[key][()]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bytes):
        return value.decode()
    return value


def _guard(fh: Any, path: Path) -> None:
    """Refuse, before reading anything, what an untrusted file could abuse: soft, external
    and user-defined links, virtual datasets or datasets stored in other files, and datasets
    larger than :data:`MAX_WEIGHTS` elements."""
    import h5py

    bad: list[str] = []
    count = 0

    def link(name: str, lnk: Any) -> None:
        nonlocal count
        count += 1
        if not isinstance(lnk, h5py.HardLink):
            bad.append(f"{name}: {type(lnk).__name__} (only hard links are followed)")

    fh.visititems_links(link)
    if bad:
        raise FileFormatError("refused links: " + "; ".join(bad[:5]), path=path, location=bad[0])
    if count > 100 * MAX_LAYERS:
        raise FileFormatError(f"{count} objects (limit {100 * MAX_LAYERS})", path=path)

    def dataset(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            if obj.is_virtual or obj.external:
                bad.append(f"{name}: virtual or externally stored dataset")
            elif obj.size > MAX_WEIGHTS:
                bad.append(f"{name}: {obj.size} elements (limit {MAX_WEIGHTS})")

    fh.visititems(dataset)
    if bad:
        raise FileFormatError("refused: " + "; ".join(bad[:5]), path=path, location=bad[0])


def _file_dt(fh: Any, path: Path) -> float | None:
    """The time step a netx file records (nirhub's loihi2 artifact writes ``attrs['dt']``;
    lava-dl's own exports record none)."""
    if "dt" not in fh.attrs:
        return None
    try:
        value = float(np.asarray(fh.attrs["dt"]).reshape(()))
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise FileFormatError(
            f"netx file records dt = {fh.attrs['dt']!r}, not a positive number of seconds",
            path=path,
            location="/",
        )
    return value


def _netx_dt(dt: float | None, fh: Any, path: Path) -> float:
    """The step the file is read at: the one given, else the one the file records, else a
    usage error naming ``--dt`` (lava-dl's netx files record no time step)."""
    if dt is not None:
        return float(dt)
    recorded = _file_dt(fh, path)
    if recorded is None:
        raise UsageError(
            f"no time step: {path.name} is a lava-dl netx file, which records none (the time "
            "constants of the NIR neurons it becomes depend on it)",
            hint="Pass --dt in seconds, the step the model was trained or runs at "
            "(e.g. --dt 1e-3).",
        )
    return recorded


def read_netx(path: Path, *, dt: float | None = None) -> Graph:
    """A netx ``.net`` file as an IR graph (CubaLIF layers under forward Euler at ``dt``:
    the step given, else the one the file records, else a usage error).

    Mapping per ``dense`` layer (weight units are the file's): ``Linear(weight)`` then
    ``CubaLIF(tau_syn = dt/(iDecay/4096), tau_mem = dt/(vDecay/4096), w_in = tau_syn/dt,
    r = tau_mem/dt, v_threshold = vThMant, v_leak = bias*tau_mem/dt)``; a layer with
    ``iDecay = 4096`` and ``vDecay = 0`` is an ``IF`` (``r = 1/dt``). Reset to 0.
    """
    import h5py

    path = Path(path)
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(f"not an HDF5 file: {exc}", path=path) from None
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    problems: list[Problem] = []
    with fh:
        _guard(fh, path)
        if "layer" not in fh:
            raise FileFormatError("netx file has no 'layer' group", path=path, location="/")
        dt = _netx_dt(dt, fh, path)
        group = fh["layer"]
        keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
        if len(keys) > MAX_LAYERS:
            raise FileFormatError(f"{len(keys)} layers (limit {MAX_LAYERS})", path=path)
        prev = "input"
        prev_size: int | None = None
        for key in keys:
            where = f"layer/{key}"
            layer = group[key]
            kind = _scalar(layer, "type", where, path)
            if kind == "flatten":  # shapes are flat vectors here
                continue
            if kind != "dense":
                problems.append(
                    Problem(where, f"layer type {kind!r} is not converted (only dense, flatten)")
                )
                continue
            wds = layer["weight"]
            if wds.size > MAX_WEIGHTS:
                raise FileFormatError(f"weight of {wds.size} entries", path=path, location=where)
            weight = np.asarray(wds[()], dtype=np.float64)
            n = int(np.prod(np.asarray(layer["shape"][()])))
            weight = weight.reshape(n, -1)
            if prev_size is None:
                prev_size = weight.shape[1]
                nodes["input"] = Input((prev_size,))
            elif weight.shape[1] != prev_size:
                raise FileFormatError(
                    f"weight has {weight.shape[1]} inputs, previous layer {prev_size}",
                    path=path,
                    location=where,
                )
            neuron = layer["neuron"]
            ntype = _scalar(neuron, "type", f"{where}/neuron", path)
            if ntype not in ("CUBA", "LOIHI"):
                problems.append(Problem(where, f"neuron type {ntype!r} is not converted"))
                continue
            i_decay = float(_scalar(neuron, "iDecay", f"{where}/neuron", path))
            v_decay = float(_scalar(neuron, "vDecay", f"{where}/neuron", path))
            vth = float(_scalar(neuron, "vThMant", f"{where}/neuron", path))
            bias = (
                np.broadcast_to(np.asarray(layer["bias"][()], np.float64), (n,))
                if "bias" in layer
                else np.zeros(n)
            )
            lin, neu = f"fc{key}", f"lif{key}"
            nodes[lin] = Linear(weight)
            full = np.ones(n)
            if i_decay >= 4096 and v_decay == 0 and not np.any(bias):
                nodes[neu] = IF(r=full / dt, v_threshold=full * vth)
            elif v_decay <= 0 or i_decay <= 0:
                problems.append(
                    Problem(where, "iDecay/vDecay of 0 (no leak) is only converted as an IF layer")
                )
                continue
            else:
                tau_syn = dt / (min(i_decay, 4096.0) / 4096.0)
                tau_mem = dt / (v_decay / 4096.0)
                nodes[neu] = CubaLIF(
                    tau_syn=full * tau_syn,
                    tau_mem=full * tau_mem,
                    r=full * tau_mem / dt,
                    v_leak=bias * tau_mem / dt,
                    v_threshold=full * vth,
                    w_in=full * tau_syn / dt,
                )
            edges += [(prev, lin), (lin, neu)]
            prev = neu
            prev_size = n
    if problems:
        raise UnsupportedError(
            f"{path.name}: " + "; ".join(str(p) for p in problems), problems=problems
        )
    if prev_size is None:
        raise FileFormatError("netx file has no dense layer", path=path)
    nodes["output"] = Output((prev_size,))
    edges.append((prev, "output"))
    graph = Graph(nodes, edges)
    set_dt(graph.metadata, dt)
    set_method(graph.metadata, "euler")
    set_reset(graph.metadata, "zero")
    graph.metadata.setdefault(NAMESPACE, {})["source"] = "lava-dl netx"
    return graph


__all__ = ["chain_order", "read_netx", "write_netx"]
