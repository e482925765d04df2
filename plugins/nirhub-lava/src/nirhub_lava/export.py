"""A mapped Lava network (:class:`~nirhub_lava.mapping.LavaNet`) back to the IR.

Each population becomes the NIR neuron whose forward-Euler step at the network's ``dt`` is
exactly Lava's update (``u <- (1 - du) u + a_in``, ``v <- (1 - dv) v + u + bias``, spike when
``v > vth``, reset to 0):

* ``du = 1``, ``dv > 0``: ``LIF(tau = dt/dv, r = 1/dv, v_leak = bias/dv, v_threshold = vth)``;
* ``du = 1``, ``dv = 0``: ``IF(r = 1/dt, v_threshold = vth)``;
* ``du < 1``: ``CubaLIF(tau_syn = dt/du, w_in = 1/du, tau_mem = dt/dv, r = 1/dv,
  v_leak = bias/dv, v_threshold = vth)``.

Each synapse becomes a ``Linear`` (an ``Affine`` carrying the population's synaptic bias);
multi-dimensional inputs are flattened first, populations are flat vectors. The graph records
``method = euler`` and ``reset = zero``: under those it behaves as the Lava network does, with
the latency removed (``v`` counted from ``v_reset``, as the mapping counts it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import UnsupportedError
from nirhub.ir.conventions import NAMESPACE, set_dt, set_method, set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import IF, LIF, Affine, CubaLIF, Delay, Flatten, Input, Linear, Output
from nirhub_lava.mapping import BIAS_SOURCE, LavaNet


def _dense(w: Any) -> np.ndarray:
    return np.asarray(w.todense() if hasattr(w, "todense") else w, dtype=np.float64)


def _name(path: str) -> str:
    return path.replace(".", "_")


def net_to_graph(net: LavaNet) -> Graph:
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    feed: dict[str, str] = {}
    for name, shape in net.inputs.items():
        nodes[name] = Input(shape)
        feed[name] = name
        if len(shape) != 1:
            flat = f"{name}_flat"
            nodes[flat] = Flatten(tuple(shape), 0, -1)
            edges.append((name, flat))
            feed[name] = flat
    for path, pop in net.populations.items():
        n = pop.size
        vth = pop.threshold
        pname = _name(path)
        feed[path] = pname
        du, dv = pop.du, pop.dv
        if np.all(du >= 1.0) and np.all(dv > 0):
            nodes[pname] = LIF(net.dt / dv, 1.0 / dv, pop.bias / dv, vth)
        elif np.all(du >= 1.0) and np.all(dv == 0):
            if np.any(pop.bias):
                raise UnsupportedError(f"{path}: a constant drive without leak has no NIR form")
            nodes[pname] = IF(np.ones(n) / net.dt, vth)
        elif np.all(dv > 0):
            nodes[pname] = CubaLIF(
                tau_syn=net.dt / du,
                tau_mem=net.dt / dv,
                r=1.0 / dv,
                v_leak=pop.bias / dv,
                v_threshold=vth,
                w_in=1.0 / du,
            )
        else:
            raise UnsupportedError(
                f"{path}: dv = 0 with a synaptic current (or mixed IF/LIF neurons) has no NIR form"
            )
    for path in net.populations:
        syns = [s for s in net.synapses if s.target == path]
        bias = [s for s in syns if s.source == BIAS_SOURCE]
        real = [s for s in syns if s.source != BIAS_SOURCE]
        b = sum((_dense(s.weights)[:, 0] for s in bias), np.zeros(net.populations[path].size))
        if bias and not real:
            raise UnsupportedError(f"{path}: fed by a bias only (no Affine input to carry it)")
        if any(s.ref_delay for s in bias):
            raise UnsupportedError(
                f"{path}: a bias that starts late (behind a Delay) is not exported"
            )
        for i, syn in enumerate(real):
            lin = f"w_{_name(syn.source)}_to_{_name(path)}"
            w = _dense(syn.weights)
            nodes[lin] = Affine(w, b) if (i == 0 and bias) else Linear(w)
            chain = [feed[syn.source], lin, _name(path)]
            # the reference's own delays: a self-loop's back-edge gives one step; a Delay of
            # at least one step on a cycle replaces the back-edge (nirhub.sim's rule)
            self_loop = syn.source == path
            base = syn.ref_delay
            if self_loop and base == 1 and syn.row_delay is None and syn.col_delay is None:
                base = 0
            col = np.full(w.shape[1], base, np.int64)
            if syn.col_delay is not None:
                col = col + syn.col_delay
            if np.any(col):
                dname = f"d_{lin}_in"
                nodes[dname] = Delay(col * net.dt)
                chain.insert(1, dname)
            if syn.row_delay is not None and np.any(syn.row_delay):
                dname = f"d_{lin}_out"
                nodes[dname] = Delay(syn.row_delay * net.dt)
                chain.insert(len(chain) - 1, dname)
            edges += list(zip(chain[:-1], chain[1:], strict=True))
    for name, (path, _shape) in net.outputs.items():
        nodes[name] = Output((net.populations[path].size,))
        edges.append((_name(path), name))
    graph = Graph(nodes, edges)
    set_dt(graph.metadata, net.dt)
    set_method(graph.metadata, "euler")
    set_reset(graph.metadata, "zero")
    graph.metadata.setdefault(NAMESPACE, {})["source"] = "lava"
    return graph
