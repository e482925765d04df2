"""``nirhub.testing``: what a plugin's (and nirhub's own) tests use.

* :class:`BackendConformance`: the conformance suite; subclass it and set ``backend_name``.
* :func:`isolated_registry`: a registry with only the built-ins and the plugins you pass, no
  installed plugins and no worker environments.
* :func:`primitive_graph` / :func:`primitive_graphs` / :data:`PRIMITIVES`: one small valid
  graph per NIR primitive; :func:`random_inputs`, :func:`behaviour_difference`: compare graphs
  by what they compute; :func:`affine_mlp` (Affine -> LIF) and :func:`if_network` (two IF
  layers), the small networks importers' tests run against the reference, and
  :func:`assert_runs_like_reference`, which does it;
  :func:`run_script`, a saved artifact run in a fresh interpreter.
* :class:`nirhub.testing.variants.VariantRefusals`: for a backend that runs none of the neuron
  variants (multi-spike, ``>=``, ``v_min``, staged): every one is refused by node name.
* :data:`CORPUS` (the NIR paper's graphs), :data:`BRAILLE_GRAPHS` with :func:`braille_task`
  (the Braille RNNs and their first test sample), :func:`check_braille_paper_activity` (graph
  B reproduces the paper's snnTorch activity), :func:`check_lif_task` (the paper's LIF task
  through a run hook, :data:`LIF_TASK_SPIKES`) and :func:`run_saved_module` (a saved model run
  in a fresh interpreter that cannot import nirhub).
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
from nirhub.testing.artifacts import run_script
from nirhub.testing.corpus import (
    BRAILLE_GRAPHS,
    CORPUS,
    LIF_TASK_SPIKES,
    braille_task,
    check_braille_paper_activity,
    check_lif_task,
    run_saved_module,
)
from nirhub.testing.graphs import (
    DT,
    PRIMITIVES,
    STEPS,
    affine_mlp,
    behaviour_difference,
    compare_outputs,
    graphs_equal,
    if_network,
    primitive_graph,
    primitive_graphs,
    random_inputs,
    simulate_outputs,
)


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
    "CORPUS",
    "LIF_TASK_SPIKES",
    "braille_task",
    "check_braille_paper_activity",
    "check_lif_task",
    "run_saved_module",
    "DT",
    "PRIMITIVES",
    "STEPS",
    "BackendConformance",
    "affine_mlp",
    "assert_runs_like_reference",
    "behaviour_difference",
    "compare_outputs",
    "graphs_equal",
    "if_network",
    "isolated_registry",
    "primitive_graph",
    "primitive_graphs",
    "random_inputs",
    "run_script",
    "simulate_outputs",
]
