"""What NIR does not store but conversions need, kept under the ``nirhub`` metadata namespace.

NIR files carry neither the time step a model was trained at nor, before nir 1.0.6, the reset
mode. nirhub records both in metadata under the key ``"nirhub"`` (a nested group in the file),
which older readers carry along as opaque metadata:

``graph.metadata["nirhub"]["dt"]``
    float, seconds: the time step the model was trained or exported at.
``graph.metadata["nirhub"]["reset"]`` / ``node.metadata["nirhub"]["reset"]``
    ``"zero"`` (reset to ``v_reset``, 0 when absent), ``"subtract"`` (``v -= v_threshold`` in
    the spike step), or one of two framework variants that exported models need to be
    reproduced spike for spike (formulas in ``docs/simulator.md``):
    ``"subtract-delayed"`` (snnTorch's default ``reset_delay=True``: the threshold is
    subtracted one step late, undecayed) and ``"subtract-guarded"`` (snnTorch's
    ``reset_delay=False``: a neuron still above threshold after a subtraction is not reset
    twice). A node's own entry wins over the graph's.
``graph.metadata["nirhub"]["method"]``
    ``"euler"`` or ``"exact"``: the discretisation the model was trained with (snnTorch and
    Norse step with forward Euler, Sinabs and Rockpool with the exact zero-order-hold decay).
    An exported graph is exact under that discretisation; the simulator uses it by default.
``graph.metadata["nirhub"]["source"]``
    the backend the graph was exported from (informational).

Resolution order of the reset mode of a spiking node (see :func:`reset_mode`): the caller's
override, the node's entry, the enclosing graphs' entries (innermost first), then ``"zero"`` —
what nir >= 1.0.6 reads a missing ``v_reset`` as.
"""

from __future__ import annotations

from typing import Any, Literal

from nirhub.errors import IRError, UsageError

NAMESPACE = "nirhub"
ResetMode = Literal["zero", "subtract", "subtract-delayed", "subtract-guarded"]
RESET_MODES: tuple[str, ...] = ("zero", "subtract", "subtract-delayed", "subtract-guarded")


def namespace(metadata: dict[str, Any]) -> dict[str, Any]:
    value = metadata.get(NAMESPACE)
    return value if isinstance(value, dict) else {}


def get_dt(graph: Any) -> float | None:
    """The time step recorded in the graph's metadata, or None."""
    dt = namespace(graph.metadata).get("dt")
    if dt is None:
        return None
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise IRError(f"graph metadata nirhub.dt is not a number: {dt!r}") from None
    if not value > 0:
        raise IRError(f"graph metadata nirhub.dt must be > 0, got {value}")
    return value


def set_dt(metadata: dict[str, Any], dt: float) -> None:
    if not float(dt) > 0:
        raise UsageError(f"dt must be > 0 seconds, got {dt}")
    ns = dict(namespace(metadata))
    ns["dt"] = float(dt)
    metadata[NAMESPACE] = ns


METHODS: tuple[str, ...] = ("euler", "exact")


def check_method(method: str | None) -> str | None:
    if method is None:
        return None
    if isinstance(method, bytes):
        method = method.decode()
    if method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return method


def get_method(graph: Any) -> str | None:
    """The discretisation recorded in the graph's metadata, or None."""
    method = namespace(graph.metadata).get("method")
    if method is None:
        return None
    try:
        return check_method(method)
    except UsageError:
        raise IRError(
            f"graph metadata nirhub.method must be one of {', '.join(METHODS)}; got {method!r}"
        ) from None


def set_method(metadata: dict[str, Any], method: str) -> None:
    ns = dict(namespace(metadata))
    ns["method"] = check_method(method)
    metadata[NAMESPACE] = ns


def check_reset(mode: str | None) -> ResetMode | None:
    if mode is None:
        return None
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode not in RESET_MODES:
        raise UsageError(f"reset mode must be one of {', '.join(RESET_MODES)}; got {mode!r}")
    return mode  # type: ignore[return-value]


def set_reset(metadata: dict[str, Any], mode: str) -> None:
    checked = check_reset(mode)
    ns = dict(namespace(metadata))
    ns["reset"] = checked
    metadata[NAMESPACE] = ns


def reset_mode(graph: Any, path: str, override: str | None = None) -> ResetMode:
    """Reset mode of the spiking node at ``path`` (dotted) inside ``graph``."""
    if override is not None:
        return check_reset(override)  # type: ignore[return-value]
    chain = [graph]
    node = graph
    remaining = path
    from nirhub.ir.graph import Graph

    # walk down the dotted path, collecting enclosing graphs (exact names win)
    while isinstance(node, Graph) and remaining:
        if remaining in node.nodes:
            node = node.nodes[remaining]
            remaining = ""
            break
        for i, ch in enumerate(remaining):
            if ch == "." and isinstance(node.nodes.get(remaining[:i]), Graph):
                node = node.nodes[remaining[:i]]
                chain.append(node)
                remaining = remaining[i + 1 :]
                break
        else:
            raise IRError(f"no node named {path!r}", node=path)
    mode = namespace(getattr(node, "metadata", {})).get("reset")
    if mode is not None:
        return check_reset(mode)  # type: ignore[return-value]
    for g in reversed(chain):
        mode = namespace(g.metadata).get("reset")
        if mode is not None:
            return check_reset(mode)  # type: ignore[return-value]
    return "zero"
