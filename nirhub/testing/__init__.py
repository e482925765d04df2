"""``nirhub.testing``: what a plugin's (and nirhub's own) tests use.

* :class:`BackendConformance`: the conformance suite; subclass it and set ``backend_name``.
* :func:`isolated_registry`: a registry with only the built-ins and the plugins you pass, no
  installed plugins and no worker environments.
* :func:`primitive_graph` / :func:`primitive_graphs` / :data:`PRIMITIVES`: one small valid
  graph per NIR primitive; :func:`random_inputs`, :func:`behaviour_difference`: compare graphs
  by what they compute (:mod:`nirhub.testing.graphs`).
* :mod:`nirhub.testing.networks`: the small networks importers' tests run,
  :func:`affine_mlp` (Affine -> LIF, the neuron replaceable), :func:`if_network` (two IF
  layers), :func:`stateful_graph`, and :func:`spike_train`, an input that makes them spike.
* :func:`assert_runs_like_reference`: a backend's run hook against the reference simulator.
* :mod:`nirhub.testing.corpus`: :data:`CORPUS` (the NIR paper's graphs), the inputs of its
  tasks (:func:`lif_task_input`, :func:`braille_input`), :data:`BRAILLE_GRAPHS`, and the checks
  :func:`check_lif_task` (:data:`LIF_TASK_SPIKES`) and :func:`check_braille_paper_activity`.
* :mod:`nirhub.testing.standalone`: :func:`run_without_nirhub` (a saved artifact run in a
  fresh interpreter that cannot import nirhub) and :func:`forbid_running`.
* :class:`nirhub.testing.variants.VariantRefusals`: for a backend that runs none of the neuron
  variants (multi-spike, ``>=``, ``v_min``, staged): every one is refused by node name.
* pytest fixtures in :mod:`nirhub.testing.fixtures`, opt in with
  ``pytest_plugins = ["nirhub.testing.fixtures"]`` in a ``conftest.py`` (they are deliberately
  not registered through a ``pytest11`` entry point, so installing nirhub changes no one's
  test session).

This package imports pytest; nirhub itself never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nirhub.hub.registry import Registry, make_registry
from nirhub.testing.corpus import (
    BRAILLE_GRAPHS,
    CORPUS,
    LIF_TASK_SPIKES,
    braille_input,
    check_braille_paper_activity,
    check_lif_task,
    lif_task_input,
)
from nirhub.testing.graphs import (
    DT,
    PRIMITIVES,
    STEPS,
    behaviour_difference,
    compare_outputs,
    graphs_equal,
    primitive_graph,
    primitive_graphs,
    random_inputs,
    simulate_outputs,
)
from nirhub.testing.networks import affine_mlp, if_network, spike_train, stateful_graph
from nirhub.testing.standalone import forbid_running, run_without_nirhub


def isolated_registry(
    *plugins: Any, installed: bool = False, environments: dict[str, Any] | None = None
) -> Registry:
    """A registry independent of the machine: built-ins + ``plugins`` (modules or objects).

    ``installed=True`` also discovers installed plugins; ``environments`` gives worker
    environments (``name -> python``) instead of none.
    """
    return make_registry(
        plugins=installed, extra=list(plugins), environments=environments if environments else False
    )


def __getattr__(name: str) -> Any:
    if name == "assert_runs_like_reference":  # imports the simulator
        from nirhub.testing.reference import assert_runs_like_reference

        return assert_runs_like_reference
    if name == "BackendConformance":  # imports pytest
        from nirhub.testing.conformance import BackendConformance

        return BackendConformance
    raise AttributeError(f"module 'nirhub.testing' has no attribute {name!r}")


__all__: Sequence[str] = [
    "BRAILLE_GRAPHS",
    "BackendConformance",
    "CORPUS",
    "DT",
    "LIF_TASK_SPIKES",
    "PRIMITIVES",
    "STEPS",
    "affine_mlp",
    "assert_runs_like_reference",
    "behaviour_difference",
    "braille_input",
    "check_braille_paper_activity",
    "check_lif_task",
    "compare_outputs",
    "forbid_running",
    "graphs_equal",
    "if_network",
    "isolated_registry",
    "lif_task_input",
    "primitive_graph",
    "primitive_graphs",
    "random_inputs",
    "run_without_nirhub",
    "simulate_outputs",
    "spike_train",
    "stateful_graph",
]
