"""A :class:`nirhub_torch.runtime.NIRModel` (possibly fine-tuned) -> IR.

The module carries a skeleton of the graph it was built from (``model.nir_spec["graph"]``):
names, nesting, edges, metadata and every non-array field. The arrays come from the module's
current parameters, cast back to the dtype the graph had (float32 stays float32, float64 stays
float64; integer arrays come back as integers when the values still are whole numbers). The
time step the module runs at is recorded as ``nirhub.dt``; a reset mode that was overridden when
the module was built is recorded on the node (``nirhub.reset``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nirhub.backend import UsageError
from nirhub.backend.graphspec import rebuild_graph, rebuild_node
from nirhub.ir.conventions import set_dt, set_method
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import Node
from nirhub_torch.spec import FORMAT


def is_model(obj: Any) -> bool:
    spec = getattr(obj, "nir_spec", None)
    return isinstance(spec, dict) and spec.get("format") == FORMAT


def _array(value: Any, dtype_name: str) -> np.ndarray:
    arr = value.detach().cpu().numpy()
    want = np.dtype(dtype_name)
    if want.kind == "f":
        return arr.astype(want)
    if want.kind in "iu" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(want)
    return arr.astype(np.float64)


def _primitive(model: Any, skel: dict[str, Any]) -> Node:
    path = skel["path"]
    info = model.nir_spec["nodes"][path]
    mod = model.node(path)
    kwargs: dict[str, Any] = dict(info["static"])
    for name, meta in info["arrays"].items():
        kwargs[name] = _array(getattr(mod, name), meta["dtype"])
    return rebuild_node(
        skel,
        info,
        kwargs,
        hint="A fine-tuned parameter may have left its valid range (e.g. tau <= 0).",
    )


def to_ir(model: Any, **_: Any) -> Graph:
    """The graph of a module built by this backend, with the module's current parameters."""
    if not is_model(model):
        raise UsageError(
            f"the torch backend exports modules it built (NIRModel), not {type(model).__name__}",
            hint="Plain PyTorch has no neuron models; export models of an SNN framework with "
            "its backend (e.g. --from snntorch).",
        )
    graph = rebuild_graph(model.nir_spec["graph"], lambda skel: _primitive(model, skel))
    set_dt(graph.metadata, model.dt)
    set_method(graph.metadata, model.method)  # the discretisation the module computes
    return graph
