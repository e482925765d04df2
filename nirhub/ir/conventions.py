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
``node.metadata["nirhub"]["spikes" | "max_spikes" | "threshold" | "v_min" | "discretization"]``
    a neuron *variant* (:class:`NeuronVariant`, :func:`get_variant`, :func:`set_variant`):
    multi-spike output (``"spikes": "multi"``, optional ``"max_spikes": k``), the threshold
    test ``">="``, a lower bound ``v_min`` after the reset, the staged zero-order hold of a
    CubaLI/CubaLIF (``"discretization": "staged"``): what Sinabs and Rockpool compute by
    default. Node-level only.

Resolution order of the reset mode of a spiking node (see :func:`reset_mode`): the caller's
override, the node's entry, the enclosing graphs' entries (innermost first), then ``"zero"`` —
what nir >= 1.0.6 reads a missing ``v_reset`` as.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

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


# -- neuron variants (per node) ----------------------------------------------------------------
#
# What Sinabs and Rockpool compute by default differs from NIR's single-spike, ``v > thr``,
# coupled-ZOH neurons. A node records such a variant under ``node.metadata["nirhub"]`` so that
# the reference simulator reproduces it and importers can tell whether their framework can.

SPIKE_MODES: tuple[str, ...] = ("single", "multi")
THRESHOLD_TESTS: tuple[str, ...] = (">", ">=")
DISCRETIZATIONS: tuple[str, ...] = ("coupled", "staged")
#: the metadata keys of the variants, under the ``nirhub`` namespace of a neuron node
VARIANT_KEYS: tuple[str, ...] = ("spikes", "max_spikes", "threshold", "v_min", "discretization")
#: names of the variants, as backends list what they support (see ``nirhub.backend.variants``)
VARIANTS: tuple[str, ...] = ("multi-spike", "threshold>=", "v-min", "staged")

_SPIKING = frozenset({"IF", "LIF", "CubaLIF"})
_CUBA = frozenset({"CubaLI", "CubaLIF"})


@dataclass(frozen=True, eq=False)
class NeuronVariant:
    """The variant a neuron node records (the defaults are NIR's own semantics).

    ``spikes``
        ``"single"`` (NIR: output 1 in the spike step) or ``"multi"``: the output is the spike
        count ``n = floor(v/thr)`` where the threshold test passes (else 0), at most
        ``max_spikes``; subtract reset ``v -= n*thr``, zero reset ``v = v_reset`` where ``n > 0``.
    ``threshold``
        ``">"`` (NIR) or ``">="``: the spike test ``v >= thr``.
    ``v_min``
        None, or a lower bound applied after the reset: ``v = max(v, v_min)``.
    ``discretization``
        ``"coupled"`` (the exact solution of the CubaLI/CubaLIF system) or ``"staged"``: under
        the exact method, the current is updated first, each stage exact for a held input,
        and the membrane integrates the *new* current. Under Euler both are the spec order.
    """

    spikes: str = "single"
    max_spikes: int | None = None
    threshold: str = ">"
    v_min: np.ndarray | None = None
    discretization: str = "coupled"

    @property
    def names(self) -> tuple[str, ...]:
        """The non-default variants, by their :data:`VARIANTS` names."""
        out = []
        if self.spikes == "multi":
            out.append("multi-spike")
        if self.threshold == ">=":
            out.append("threshold>=")
        if self.v_min is not None:
            out.append("v-min")
        if self.discretization == "staged":
            out.append("staged")
        return tuple(out)

    @property
    def is_default(self) -> bool:
        return not self.names

    def describe(self) -> str:
        """Short human-readable form, e.g. ``multi-spike (max 3), v >= thr``."""
        parts = []
        if self.spikes == "multi":
            cap = "" if self.max_spikes is None else f" (max {self.max_spikes})"
            parts.append(f"multi-spike{cap}")
        if self.threshold == ">=":
            parts.append("v >= thr")
        if self.v_min is not None:
            lo = np.asarray(self.v_min)
            value = f"{float(lo.reshape(-1)[0]):g}" if lo.size == 1 else f"array{lo.shape}"
            parts.append(f"v_min {value}")
        if self.discretization == "staged":
            parts.append("staged ZOH")
        return ", ".join(parts) or "NIR default"


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _variant_fields(
    ns: dict[str, Any], type_name: str | None, where: str | None, error: type[Exception]
) -> dict[str, Any]:
    """Validated variant fields of one node's namespace (only the keys present)."""

    def fail(key: str, msg: str) -> None:
        text = f"{where + ': ' if where else ''}metadata nirhub.{key} {msg}"
        if error is IRError:
            raise IRError(text, node=where, field=f"metadata.nirhub.{key}")
        raise UsageError(text)

    out: dict[str, Any] = {}
    spiking = type_name is None or type_name in _SPIKING
    if "spikes" in ns and ns["spikes"] is not None:
        value = _text(ns["spikes"])
        if value not in SPIKE_MODES:
            fail("spikes", f"must be one of {', '.join(SPIKE_MODES)}; got {value!r}")
        if value == "multi" and not spiking:
            fail("spikes", f"applies to spiking neurons only, not {type_name}")
        out["spikes"] = value
    if "max_spikes" in ns and ns["max_spikes"] is not None:
        raw = ns["max_spikes"]
        arr = np.asarray(raw)
        if arr.shape != () or arr.dtype.kind not in "iuf" or isinstance(raw, bool):
            fail("max_spikes", f"must be a positive integer; got {raw!r}")
        if not (np.isfinite(arr) and float(arr) >= 1 and float(arr) == int(arr)):
            fail("max_spikes", f"must be a positive integer; got {raw!r}")
        if out.get("spikes") != "multi":
            fail("max_spikes", "needs nirhub.spikes = 'multi'")
        out["max_spikes"] = int(arr)
    if "threshold" in ns and ns["threshold"] is not None:
        value = _text(ns["threshold"])
        if value not in THRESHOLD_TESTS:
            fail("threshold", f"must be one of {', '.join(THRESHOLD_TESTS)}; got {value!r}")
        if value != ">" and not spiking:
            fail("threshold", f"applies to spiking neurons only, not {type_name}")
        out["threshold"] = value
    if "v_min" in ns and ns["v_min"] is not None:
        raw = ns["v_min"]
        try:
            arr = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError):
            fail("v_min", f"must be a number or an array of numbers; got {raw!r}")
        if np.any(np.isnan(arr)) or np.any(arr == np.inf):
            fail("v_min", "must not hold NaN or +inf")
        if not spiking:
            fail("v_min", f"applies to spiking neurons only, not {type_name}")
        out["v_min"] = arr
    if "discretization" in ns and ns["discretization"] is not None:
        value = _text(ns["discretization"])
        if value not in DISCRETIZATIONS:
            fail("discretization", f"must be one of {', '.join(DISCRETIZATIONS)}; got {value!r}")
        if value != "coupled" and type_name is not None and type_name not in _CUBA:
            fail("discretization", f"applies to CubaLI/CubaLIF only, not {type_name}")
        out["discretization"] = value
    return out


def get_variant(node: Any, name: str | None = None) -> NeuronVariant:
    """The variant recorded on ``node`` (``name``: its path, for error messages).

    Raises :class:`IRError` naming the node when a value is invalid or does not apply to the
    node's type (e.g. multi-spike on an LI, or a threshold <= 0 with multi-spike).
    """
    ns = namespace(getattr(node, "metadata", {}) or {})
    if not any(k in ns for k in VARIANT_KEYS):
        return NeuronVariant()
    type_name = getattr(node, "type_name", None)
    fields = _variant_fields(ns, type_name, name or type_name, IRError)
    variant = NeuronVariant(**fields)
    if variant.spikes == "multi":
        thr = np.asarray(getattr(node, "v_threshold", 1.0), dtype=np.float64)
        if np.any(~(thr > 0)):
            where = name or type_name
            raise IRError(
                f"{where}: multi-spike (nirhub.spikes = 'multi') needs v_threshold > 0",
                node=where,
                field="v_threshold",
            )
    if variant.v_min is not None and hasattr(node, "v_threshold"):
        thr = np.asarray(node.v_threshold)
        try:
            np.broadcast_shapes(variant.v_min.shape, thr.shape)
        except ValueError:
            where = name or type_name
            raise IRError(
                f"{where}: metadata nirhub.v_min of shape {variant.v_min.shape} does not "
                f"broadcast to v_threshold's shape {thr.shape}",
                node=where,
                field="metadata.nirhub.v_min",
            ) from None
    return variant


def set_variant(
    metadata: dict[str, Any],
    *,
    spikes: str | None = None,
    max_spikes: int | None = None,
    threshold: str | None = None,
    v_min: Any = None,
    discretization: str | None = None,
) -> None:
    """Record a neuron variant in a node's ``metadata`` (only the arguments given).

    Defaults (``spikes="single"``, ``threshold=">"``, ``discretization="coupled"``) are
    stored as given; :func:`clear_variant` removes every key. Raises :class:`UsageError` for
    invalid values.
    """
    given = {
        "spikes": spikes,
        "max_spikes": max_spikes,
        "threshold": threshold,
        "v_min": v_min,
        "discretization": discretization,
    }
    ns = dict(namespace(metadata))
    merged = {
        **{k: ns[k] for k in VARIANT_KEYS if k in ns},
        **{k: v for k, v in given.items() if v is not None},
    }
    fields = _variant_fields(merged, None, None, UsageError)
    for key in VARIANT_KEYS:
        if given[key] is None:
            continue
        value = fields[key]
        if key == "v_min":
            value = np.asarray(value, dtype=np.float64)
            value = float(value) if value.shape == () else value
        ns[key] = value
    metadata[NAMESPACE] = ns


def clear_variant(metadata: dict[str, Any]) -> None:
    """Remove every variant key from a node's metadata."""
    ns = {k: v for k, v in namespace(metadata).items() if k not in VARIANT_KEYS}
    if ns:
        metadata[NAMESPACE] = ns
    else:
        metadata.pop(NAMESPACE, None)
