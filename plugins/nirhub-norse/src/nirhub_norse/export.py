"""norse model -> NIR graph (the *export* direction).

Norse's parameters are inverse time constants and its cells integrate with forward Euler at
their ``dt``. The mapping (the inverse of :mod:`nirhub_norse.lowering`), exact under nirhub's
reference simulator with method ``"euler"`` at that ``dt``:

============================  ===================================================================
norse                          NIR
============================  ===================================================================
LIFBoxCell / reset_value       LIF(tau = 1/tau_mem_inv, r = 1, v_leak, v_threshold = v_th, v_reset)
LIFBoxCell / reset_subtract    the same, v_reset absent, reset "subtract" in the node's metadata
LIBoxCell                      LI(tau = 1/tau_mem_inv, r = 1, v_leak)
LIFCell, LIF                   CubaLIF(tau_syn = 1/tau_syn_inv, tau_mem = 1/tau_mem_inv, r = 1,
                               v_leak, v_th, v_reset, w_in = 1/(dt*tau_syn_inv))
LICell, LI                     CubaLI(tau_syn, tau_mem, r = 1, v_leak, w_in = 1/(dt*tau_syn_inv))
IAFCell, IAF                   IF(r = 1/dt, v_threshold = v_th, v_reset)
LIFRecurrentCell, LIFRecurrent  a subgraph input -> w_in (Linear) -> lif (CubaLIF) -> output with
                               lif -> w_rec (Linear) -> lif
torch Linear / Conv1d / Conv2d  Affine or Linear / Conv1d / Conv2d
torch Flatten(s, e)            Flatten(s - 1, e - 1) (NIR shapes have no batch axis: norse#438)
AvgPool2d / LPPool2d(1)        AvgPool2d / SumPool2d (AvgPool2d(divisor_override=1) is a sum)
============================  ===================================================================

``tau = 1/tau_inv`` (seconds): not norse 1.1.0's ``dt/tau_inv`` (norse#411). The ``w_in`` and
IF ``r`` carry the ``1/dt`` of norse's current jumps (an input ``x`` adds ``x`` to ``i`` or
``v``). Every module nothing maps is reported, all at once, by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nirhub.backend import (
    ModuleRefused,
    Problem,
    UsageError,
    edge_modules,
    modules_to_nodes,
    parse_shape,
    population_array,
    raise_export_problems,
    tensor_array,
    torch_layer_node,
)
from nirhub.ir.conventions import NAMESPACE, set_dt, set_reset
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    CubaLI,
    CubaLIF,
    Input,
    Linear,
    Node,
    Output,
)
from nirhub_norse.framework import import_norse

# --------------------------------------------------------------------------------------------
# module tree -> items
# --------------------------------------------------------------------------------------------


def _chain_items(module: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Flatten nested Sequential containers (and norse's Lift) into (name, module) pairs."""
    norse = import_norse()
    import torch

    if isinstance(module, norse.Lift):
        yield from _chain_items(module.lifted_module, prefix)
        return
    if isinstance(module, torch.nn.Sequential):  # SequentialState too
        for name, child in module.named_children():
            yield from _chain_items(child, f"{prefix}{name}_")
        return
    yield (prefix.rstrip("_") or type(module).__name__.lower(), module)


def _first_shape(items: list[tuple[str, Any]]) -> tuple[int, ...] | None:
    norse = import_norse()
    import torch

    for _, m in items:
        if isinstance(m, torch.nn.Linear):
            return (m.in_features,)
        if isinstance(m, (norse.LIFRecurrentCell, norse.LIFRecurrent)):
            return (int(m.input_size),)
        if isinstance(m, torch.nn.Identity):
            continue
        return None
    return None


# --------------------------------------------------------------------------------------------
# one module -> one node
# --------------------------------------------------------------------------------------------


def _cell_dt(m: Any) -> float:
    return float(m.dt)


def convert_module(m: Any, shape: tuple[int, ...]) -> tuple[Node, tuple[int, ...], float | None]:
    """One module -> (node, output shape, the module's dt or None); raises ModuleRefused."""
    norse = import_norse()
    from norse.torch.functional.reset import reset_subtract, reset_value

    layer = torch_layer_node(m, shape)
    if layer is not None:
        return (*layer, None)
    if isinstance(m, norse.LIFBoxCell):
        p, dt = m.p, _cell_dt(m)
        tau = 1.0 / _positive(p.tau_mem_inv, "tau_mem_inv", shape)
        kwargs = {
            "tau": tau,
            "r": np.ones(shape),
            "v_leak": population_array(p.v_leak, shape),
            "v_threshold": population_array(p.v_th, shape),
        }
        if p.reset_method is reset_subtract:
            node = LIF(**kwargs)
            set_reset(node.metadata, "subtract")
        elif p.reset_method is reset_value:
            node = LIF(**kwargs, v_reset=population_array(p.v_reset, shape))
        else:
            raise ModuleRefused(
                f"reset_method {getattr(p.reset_method, '__name__', '?')} is neither "
                "reset_value nor reset_subtract"
            )
        return node, shape, dt
    if isinstance(m, norse.LIBoxCell):
        p = m.p
        tau = 1.0 / _positive(p.tau_mem_inv, "tau_mem_inv", shape)
        return LI(tau, np.ones(shape), population_array(p.v_leak, shape)), shape, _cell_dt(m)
    if isinstance(m, (norse.LIFCell, norse.LIF)):
        dt = _cell_dt(m)
        return _cuba_lif(m.p, dt, shape), shape, dt
    if isinstance(m, (norse.LICell, norse.LI)):
        p, dt = m.p, _cell_dt(m)
        tsi = _positive(p.tau_syn_inv, "tau_syn_inv", shape)
        tmi = _positive(p.tau_mem_inv, "tau_mem_inv", shape)
        node = CubaLI(
            1.0 / tsi,
            1.0 / tmi,
            np.ones(shape),
            population_array(p.v_leak, shape),
            1.0 / (dt * tsi),
        )
        return node, shape, dt
    if isinstance(m, (norse.IAFCell, norse.IAF)):
        p, dt = m.p, _cell_dt(m)
        v_reset = population_array(p.v_reset, shape)
        if np.any(v_reset != 0):
            raise ModuleRefused(
                "a non-zero v_reset: norse's IAF starts at v = v_reset, NIR's IF at v = 0"
            )
        return IF(np.full(shape, 1.0 / dt), population_array(p.v_th, shape), v_reset), shape, dt
    if isinstance(m, (norse.LIFRecurrentCell, norse.LIFRecurrent)):
        return _recurrent(m, shape)
    raise ModuleRefused(f"{type(m).__module__}.{type(m).__name__} has no NIR equivalent")


def _positive(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = population_array(value, shape)
    if not np.all(arr > 0):
        raise ModuleRefused(f"{name} must be > 0 (a finite time constant), got min {arr.min()!r}")
    return arr


def _cuba_lif(p: Any, dt: float, shape: tuple[int, ...]) -> CubaLIF:
    """norse's LIFParameters ``p`` at step ``dt`` as a CubaLIF population of ``shape``."""
    tsi = _positive(p.tau_syn_inv, "tau_syn_inv", shape)
    tmi = _positive(p.tau_mem_inv, "tau_mem_inv", shape)
    return CubaLIF(
        1.0 / tsi,
        1.0 / tmi,
        np.ones(shape),
        population_array(p.v_leak, shape),
        population_array(p.v_th, shape),
        population_array(p.v_reset, shape),
        1.0 / (dt * tsi),
    )


def _recurrent(m: Any, shape: tuple[int, ...]) -> tuple[Node, tuple[int, ...], float]:
    n_in, n_hid = int(m.input_size), int(m.hidden_size)
    if shape != (n_in,):
        raise ModuleRefused(f"expects {n_in} inputs but receives shape {shape}")
    hid = (n_hid,)
    dt = _cell_dt(m)
    lif = _cuba_lif(m.p, dt, hid)
    sub = Graph(
        {
            "input": Input((n_in,)),
            "w_in": Linear(tensor_array(m.input_weights)),
            "lif": lif,
            "w_rec": Linear(tensor_array(m.recurrent_weights)),
            "output": Output(hid),
        },
        [("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    return sub, hid, dt


# --------------------------------------------------------------------------------------------
# the whole model
# --------------------------------------------------------------------------------------------


def export_model(model: Any, *, dt: Any = None, input_shape: Any = None) -> Graph:
    """Export a norse/torch model: a SequentialState / nn.Sequential chain, a single module,
    or a nirhub-generated ``Network`` (modules plus its ``EDGES``)."""
    edges_attr = getattr(type(model), "EDGES", None)
    if edges_attr is not None:
        items = [(n, getattr(model, n)) for n in edge_modules(edges_attr)]
        edges = list(edges_attr)
    else:
        items = list(_chain_items(model))
        names = [n for n, _ in items]
        edges = list(zip(["input", *names], [*names, "output"], strict=True))
    shape = parse_shape(input_shape) or _declared_shape(model) or _first_shape(items)
    if shape is None:
        raise UsageError(
            "cannot tell the model's input shape (it does not start with a Linear layer)",
            hint="Pass input_shape, e.g. -O input_shape=2,34,34 (no batch axis).",
        )
    return _build(items, edges, shape, dt)


def _declared_shape(model: Any) -> tuple[int, ...] | None:
    """The input shape a nirhub-generated model declares (``nir_input_shape``)."""
    shape = getattr(model, "nir_input_shape", None)
    return None if shape is None else tuple(int(s) for s in shape)


def _build(
    items: list[tuple[str, Any]],
    edges: list[tuple[str, str]],
    in_shape: tuple[int, ...],
    dt_option: Any,
) -> Graph:
    import torch

    dts: dict[str, float] = {}

    def convert(name: str, m: Any, shape: tuple[int, ...]) -> tuple[Node | None, tuple[int, ...]]:
        if isinstance(m, (torch.nn.Identity, torch.nn.Dropout)) and not (
            isinstance(m, torch.nn.Dropout) and m.training
        ):
            return None, shape
        node, out, mdt = convert_module(m, shape)
        if mdt is not None:
            dts[name] = mdt
        return node, out

    converted = modules_to_nodes(items, edges, in_shape, convert)
    problems = converted.problems
    if len(set(dts.values())) > 1:
        listing = ", ".join(f"{n} (dt={v:g})" for n, v in dts.items())
        problems.append(
            Problem(
                "<model>", f"cells integrate at different time steps: {listing}", kind="unsupported"
            )
        )
    raise_export_problems(problems, "norse")
    graph = Graph(converted.nodes, converted.edges)
    step = next(iter(dts.values()), None)
    if step is None and dt_option is not None:
        step = float(dt_option)
    if step is not None:
        set_dt(graph.metadata, step)
    set_reset(graph.metadata, "zero")
    graph.metadata[NAMESPACE] = {**graph.metadata[NAMESPACE], "method": "euler", "source": "norse"}
    graph.validate()
    return graph
