"""The graph walk of the lowering: which weight nodes connect which populations.

A SpiNNaker2 projection connects two populations: a spike source (an Input or a neuron node),
optionally Flatten / SumPool2d / Delay nodes, one weight node (Affine, Linear, Conv2d),
optionally Delay nodes, and a neuron node. :func:`structure` finds every such chain and every
node that does not fit one, with the reason and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nirhub.backend import Problem
from nirhub.ir.graph import FlatGraph

NEURON_TYPES = ("LIF", "IF", "CubaLIF")
WEIGHT_TYPES = ("Affine", "Linear", "Conv2d")

REFUSED_REASONS = {
    "LI": "SpiNNaker2 has no non-spiking leaky integrator population (py-spinnaker2's "
    "neuron models all spike); replace it by a LIF with a high threshold and read its "
    "voltage, or read the spikes of the layer before",
    "CubaLI": "SpiNNaker2 has no non-spiking current-based integrator population; use a CubaLIF",
    "I": "SpiNNaker2 has no non-spiking integrator population; use an IF",
    "Integrator": "SpiNNaker2 has no non-spiking integrator population; use an IF",
    "Scale": "SpiNNaker2 projections carry spikes, not scaled signals; fold the scale into the "
    "next weight node",
    "Threshold": "SpiNNaker2 has no stateless threshold unit; use an IF with alpha_decay 1",
    "AvgPool2d": "SpiNNaker2 fuses only sum-pooling into its conv projections; replace it by "
    "SumPool2d and fold 1/k^2 into the next weights",
    "Conv1d": "SpiNNaker2 has only 2-D conv projections (lif_conv2d); express it as a Conv2d "
    "with a 1-wide kernel",
}


@dataclass
class Chain:
    """A weight node (or a weightless pool list) with the path from its pre-population."""

    weight: str | None  #: the Affine/Linear/Conv2d node, None for pool -> neuron lists
    pre: str  #: the spike source population
    between: list[str]  #: Flatten/SumPool2d/Delay/relay nodes between pre and the weight node
    post: str
    after: list[str] = field(default_factory=list)  #: Delay nodes between weight and neuron


def node_types(flat: FlatGraph) -> dict[str, str]:
    return {p: ("Relay" if p in flat.relays else n.type_name) for p, n in flat.nodes.items()}


def structure(flat: FlatGraph) -> tuple[list[Chain], dict[str, str], list[Problem]]:
    """The projections' chains, the Output -> population map and every structural problem."""
    types = node_types(flat)
    pred = flat.predecessors()
    succ: dict[str, list[str]] = {n: [] for n in flat.nodes}
    for s, d in flat.edges:
        if s in succ and d in flat.nodes:
            succ[s].append(d)
    problems: list[Problem] = []
    for path, t in types.items():
        if t in REFUSED_REASONS:
            problems.append(Problem(path, f"{t}: {REFUSED_REASONS[t]}", kind="unsupported"))

    def source(path: str, between: list[str]) -> str | None:
        """Walk back through Flatten/SumPool2d/Delay/relays to the spike source population."""
        seen = set()
        while types.get(path) in ("Flatten", "SumPool2d", "Delay", "Relay") and path not in seen:
            seen.add(path)
            between.insert(0, path)
            if len(pred[path]) != 1:
                problems.append(
                    Problem(path, f"{types[path]} with {len(pred[path])} inputs cannot be lowered")
                )
                return None
            path = pred[path][0]
        return path

    chains: list[Chain] = []
    for path, t in types.items():
        if t in WEIGHT_TYPES:
            for p in pred[path]:
                between: list[str] = []
                src = source(p, between)
                if src is None:
                    continue
                if types[src] in WEIGHT_TYPES:
                    problems.append(
                        Problem(
                            path,
                            f"two weight nodes in a row ({src} -> {path}): a SpiNNaker2 "
                            "projection connects two populations; multiply the matrices into "
                            "one weight node",
                            kind="unsupported",
                        )
                    )
                    continue
                if types[src] not in ("Input", *NEURON_TYPES):
                    continue  # refused by its own problem
                for q in succ[path]:
                    post, after = q, []
                    while types.get(post) in ("Relay", "Delay") and len(succ[post]) == 1:
                        if types[post] == "Delay":
                            after.append(post)
                        post = succ[post][0]
                    if types.get(post) in NEURON_TYPES:
                        chains.append(Chain(path, src, between, post, after))
                    elif types.get(post) in WEIGHT_TYPES:
                        continue  # reported from the second weight node
                    elif types.get(post) not in REFUSED_REASONS:
                        problems.append(
                            Problem(
                                path,
                                f"{t} feeds {post} ({types.get(post)}), not a neuron "
                                "population: on SpiNNaker2 every projection ends in a spiking "
                                "population; add a LIF/IF after it",
                                kind="unsupported",
                            )
                        )
        elif t in NEURON_TYPES:
            for p in pred[path]:
                between = []
                src = source(p, between)
                if src is None or types.get(src) in WEIGHT_TYPES:
                    continue  # (a weight node before a Delay is found from the weight node)
                if types.get(src) in ("Input", *NEURON_TYPES):
                    if (
                        between
                        and types[between[-1]] == "SumPool2d"
                        and all(types[b] != "Flatten" for b in between)
                    ):
                        chains.append(Chain(None, src, between, path))
                    else:
                        problems.append(
                            Problem(
                                path,
                                f"{src} drives {t} {path} without a weight node; "
                                "py-spinnaker2 needs a projection between two populations: "
                                "insert a Linear (identity) node",
                                kind="unsupported",
                            )
                        )
    outputs: dict[str, str] = {}
    for out in flat.outputs:
        between = []
        src = source(pred[out][0], between) if pred.get(out) else None
        if (
            src is None
            or types.get(src) not in NEURON_TYPES
            or any(types[b] in ("SumPool2d", "Delay") for b in between)
        ):
            if src is not None and types.get(src) not in REFUSED_REASONS:
                problems.append(
                    Problem(
                        out,
                        f"output {out} reads {src} ({types.get(src)}); SpiNNaker2 records "
                        "spikes and voltages of neuron populations only",
                        kind="unsupported",
                    )
                )
            continue
        outputs[out] = src
    for path, t in types.items():
        if t == "CubaLIF":
            for c in chains:
                if c.post == path and c.weight and types[c.weight] == "Conv2d":
                    problems.append(
                        Problem(
                            path,
                            f"CubaLIF after the Conv2d {c.weight}: py-spinnaker2 has only "
                            "lif_conv2d (no current-based conv model); use a LIF/IF",
                            kind="unsupported",
                        )
                    )
    for path in flat.inputs:
        shape = getattr(flat.nodes[path], "shape", None)
        if shape is not None and len(shape) not in (1, 3):
            problems.append(
                Problem(
                    path,
                    f"input of shape {tuple(shape)}: py-spinnaker2 takes 1-D or 3-D (CHW) "
                    "spike inputs; flatten it first",
                    kind="unsupported",
                )
            )
    return chains, outputs, problems
