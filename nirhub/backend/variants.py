"""Which neuron variants a backend can run: one shared check for every importer.

A neuron node may record a variant of NIR's semantics in its ``nirhub`` metadata
(:class:`nirhub.ir.conventions.NeuronVariant`: multi-spike output, the threshold test ``>=``,
a lower bound ``v_min``, the staged zero-order hold of CubaLI/CubaLIF). An importer either
reproduces a variant or refuses the node with the reason; it never ignores it. Each importer
calls::

    problems = variant_problems(graph, supported={"multi-spike", "threshold>="}, backend="x",
                                method=method)

and adds the problems to its own refusals (or calls :func:`check_variants`, which raises).
Variant names are :data:`nirhub.ir.conventions.VARIANTS`.
"""

from __future__ import annotations

from collections.abc import Iterable

from nirhub.errors import Problem, UnsupportedError, UsageError
from nirhub.ir.conventions import NAMESPACE, VARIANTS, NeuronVariant, get_variant
from nirhub.ir.graph import Graph, flatten
from nirhub.ir.nodes import NEURON_TYPES

__all__ = [
    "VARIANTS",
    "VARIANT_HINT",
    "check_threshold_option",
    "check_variants",
    "strict_thresholds",
    "node_variants",
    "variant_hint",
    "variant_problems",
]

#: what to tell a user whose graph records a variant the target cannot run
VARIANT_HINT = (
    "Neuron variants record what Sinabs/Rockpool compute by default (multi-spike output, "
    "v >= threshold, v_min, staged synapses); the reference simulator, the torch, sinabs and "
    "rockpool backends run them. Export a sinabs/rockpool model with -O threshold=strict to "
    "record NIR's v > threshold test instead, or single spikes (SingleSpike, "
    "max_spikes_per_dt=1), or remove a variant with nirhub.ir.conventions.clear_variant."
)

_PREFIX = "records a neuron variant"
_WHAT = {
    "multi-spike": "emits floor(v/v_threshold) spikes per step (nirhub.spikes = 'multi')",
    "threshold>=": "spikes at v >= v_threshold (nirhub.threshold = '>=')",
    "v-min": "clamps v from below after the reset (nirhub.v_min)",
    "staged": (
        "integrates with the staged zero-order hold, current first (nirhub.discretization = "
        "'staged')"
    ),
}
_LACKS = {
    "multi-spike": "its neurons emit single spikes",
    "threshold>=": (
        "its neurons spike at v > v_threshold only (sinabs/rockpool exports with "
        "-O threshold=strict record that test)"
    ),
    "v-min": "its neurons have no lower bound on v",
    "staged": "it has no such synapse/membrane update under the exact method",
}


def variant_hint(problems: Iterable[Problem]) -> str | None:
    """:data:`VARIANT_HINT` when some of ``problems`` are variant refusals, else None."""
    return VARIANT_HINT if any(p.message.startswith(_PREFIX) for p in problems) else None


def node_variants(graph: Graph) -> dict[str, NeuronVariant]:
    """Every neuron node's variant, keyed by dotted path (validated: IRError names a node)."""
    flat = flatten(graph)
    return {
        path: get_variant(node, path)
        for path, node in flat.nodes.items()
        if node.type_name in NEURON_TYPES
    }


def variant_problems(
    graph: Graph,
    supported: Iterable[str],
    backend: str,
    *,
    method: str | None = None,
    paths: Iterable[str] | None = None,
) -> list[Problem]:
    """One :class:`Problem` per neuron node recording a variant ``backend`` cannot run.

    ``supported``: the :data:`VARIANTS` the backend reproduces. ``method``: the
    discretisation the import uses; under ``"euler"`` the staged variant is NIR's spec order,
    so it is never a problem then. ``paths`` limits the check to those nodes.
    """
    ok = set(supported)
    unknown = ok - set(VARIANTS)
    if unknown:  # a programming error in a plugin, not a user error
        raise ValueError(f"unknown variant names {sorted(unknown)}; known: {VARIANTS}")
    wanted = None if paths is None else set(paths)
    problems: list[Problem] = []
    for path, variant in node_variants(graph).items():
        if wanted is not None and path not in wanted:
            continue
        missing = [
            n for n in variant.names if n not in ok and not (n == "staged" and method == "euler")
        ]
        if not missing:
            continue
        what = "; ".join(f"{_WHAT[n]}, but {backend}: {_LACKS[n]}" for n in missing)
        problems.append(Problem(path, f"{_PREFIX}: {what}", kind="unsupported"))
    return problems


#: values of the exporters' ``threshold`` option (sinabs, rockpool)
THRESHOLD_OPTIONS: tuple[str, ...] = (">=", "strict")
#: what the sinabs and rockpool exporters record when the option is not given: their
#: frameworks' own test ``v >= thr`` (exact; refused by importers without the variant)
DEFAULT_THRESHOLD_OPTION = ">="


def check_threshold_option(value: object) -> str:
    """An exporter's ``threshold`` option: ``">="`` (the framework's test) or ``"strict"``
    (record NIR's ``v > thr``); ``None`` -> :data:`DEFAULT_THRESHOLD_OPTION`."""
    text = DEFAULT_THRESHOLD_OPTION if value is None else str(value)
    if text not in THRESHOLD_OPTIONS:
        raise UsageError(f"threshold must be one of {', '.join(THRESHOLD_OPTIONS)}, got {value!r}")
    return text


def strict_thresholds(graph: Graph) -> None:
    """Drop the ``>=`` variant from every node of ``graph``, in place (NIR's ``v > thr``).

    For exporters asked for ``threshold=strict``: the graph then differs from the framework
    only when v lands exactly on a threshold, and imports into every backend.
    """
    for _, node in graph.walk():
        ns = node.metadata.get(NAMESPACE)
        if isinstance(ns, dict) and ns.get("threshold") == ">=":
            node.metadata[NAMESPACE] = {k: v for k, v in ns.items() if k != "threshold"}


def check_variants(
    graph: Graph,
    supported: Iterable[str],
    backend: str,
    *,
    method: str | None = None,
) -> None:
    """Raise :class:`UnsupportedError` listing every node whose variant ``backend`` lacks."""
    problems = variant_problems(graph, supported, backend, method=method)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise UnsupportedError(
            f"{backend} cannot run the neuron variant of {len(problems)} node(s):\n{listing}",
            problems=problems,
            hint=VARIANT_HINT,
        )
