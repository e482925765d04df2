"""The floor a backend plugin stands on: everything a plugin imports from nirhub, in one place.

A plugin's production code imports ``nirhub.backend`` (this package) and ``nirhub.ir`` (node
types, graphs) and nothing else of nirhub; ``tests/test_plugin_floor.py`` enforces it for every
plugin under ``plugins/`` and the template. What is here:

* the interface: :class:`Backend`, its frozen :class:`BackendDescriptor` (:class:`Option`,
  :class:`Requirement`), the pluggy marker :data:`hookimpl`, :class:`ConversionWarning`;
* the errors a plugin raises (:class:`UsageError`, :class:`UnsupportedError`, :class:`Problem`,
  ...), each mapped to a documented exit code by the hub;
* the conventions: ``dt``, ``method``, ``reset`` and neuron variants recorded in a graph, and
  :func:`resolve_dt`/:func:`resolve_method` (the option, else the recorded value, validated);
* lowering and code-generation helpers (:mod:`nirhub.backend.graphplan`,
  :mod:`nirhub.backend.lowering`, :mod:`nirhub.backend.variants`);
* :func:`write_atomically` for artifacts, :func:`samna_status`/:func:`block_samna_stub`;
* the public parts of the reference simulator that run hooks need (:func:`simulate`,
  :class:`SimulationResult`, :func:`make_plan`, :func:`resolve_record`, :func:`check_inputs`, ...).

Names are loaded on first use (PEP 562), so a plugin module that imports :class:`Backend` and
:data:`hookimpl` stays as cheap to import as before and ``nirhub list-backends`` stays fast.
See ``docs/plugin-guide.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from nirhub import __version__
    from nirhub.backend.artifacts import write_atomically
    from nirhub.backend.codegen import Built, GeneratedModels, GeneratedTorchBackend, save_generated
    from nirhub.backend.codetext import comment, identifier, literal
    from nirhub.backend.graphplan import (
        GraphPlan,
        Step,
        flatten_dims,
        make_graph_plan,
        place_gains,
        rest_outputs,
    )
    from nirhub.backend.graphspec import build_graph_spec
    from nirhub.backend.lowering import (
        METHODS,
        check_by_lowering,
        edge_modules,
        no_equivalent,
        parse_shape,
        raise_unsupported,
        resolve_dt,
        resolve_method,
        resolve_skipped,
    )
    from nirhub.backend.modulebackend import ModuleBackend
    from nirhub.backend.probes import random_inputs
    from nirhub.backend.runs import recordable_steps, single_input, time_major, to_time_major
    from nirhub.backend.samna import block_samna_stub, samna_status
    from nirhub.backend.sourceartifact import (
        artifact_paths,
        existing_artifact,
        load_weights,
        put_weights,
        read_literal,
        save_source_and_weights,
    )
    from nirhub.backend.torchcode import TORCH_LAYER_TYPES, helpers_used, weights_prelude
    from nirhub.backend.torchlayers import (
        ModuleGraph,
        ModuleRefused,
        TorchLayer,
        float32_tensor,
        generated_tensors,
        int_tuple,
        modules_to_nodes,
        population_array,
        raise_export_problems,
        refuse_torch_layer,
        tensor_array,
        torch_layer,
        torch_layer_node,
    )
    from nirhub.backend.torchrun import check_dtype, check_record, to_device
    from nirhub.backend.variants import (
        VARIANT_HINT,
        check_threshold_option,
        check_variants,
        strict_thresholds,
        variant_hint,
        variant_problems,
    )
    from nirhub.errors import (
        BackendUnavailableError,
        FileFormatError,
        IRError,
        NirhubError,
        Problem,
        RefusedError,
        UnsupportedError,
        UsageError,
    )
    from nirhub.hub.backend import Backend, Checked, ConversionWarning
    from nirhub.hub.descriptor import (
        ALL_NODE_TYPES,
        TORCH_NN_SAFE_CLASSES,
        BackendDescriptor,
        DescriptorError,
        Option,
        Requirement,
        option_key,
    )
    from nirhub.hub.hookspecs import ENTRY_POINT_GROUP, hookimpl
    from nirhub.ir.conventions import (
        NAMESPACE,
        NeuronVariant,
        check_method,
        get_dt,
        get_method,
        get_variant,
        reset_mode,
        set_dt,
        set_method,
        set_reset,
        set_variant,
    )
    from nirhub.metrics import (
        activity_similarity,
        cell_agreement,
        differing_cells,
        event_agreement,
        voltage_correlation,
    )
    from nirhub.sim import SimulationResult, simulate
    from nirhub.sim.conv import ConvOp, pool2d
    from nirhub.sim.discretize import check_euler_decay, cuba_exact, leak
    from nirhub.sim.engine import delay_steps, resolve_record
    from nirhub.sim.inputs import check_inputs
    from nirhub.sim.ops import make_op
    from nirhub.sim.plan import make_plan

#: where each public name lives (imported on first access)
_WHERE: dict[str, str] = {
    "__version__": "nirhub",
    "write_atomically": "nirhub.backend.artifacts",
    "comment": "nirhub.backend.codetext",
    "identifier": "nirhub.backend.codetext",
    "literal": "nirhub.backend.codetext",
    "Built": "nirhub.backend.codegen",
    "GeneratedModels": "nirhub.backend.codegen",
    "GeneratedTorchBackend": "nirhub.backend.codegen",
    "save_generated": "nirhub.backend.codegen",
    "GraphPlan": "nirhub.backend.graphplan",
    "Step": "nirhub.backend.graphplan",
    "flatten_dims": "nirhub.backend.graphplan",
    "make_graph_plan": "nirhub.backend.graphplan",
    "place_gains": "nirhub.backend.graphplan",
    "rest_outputs": "nirhub.backend.graphplan",
    "METHODS": "nirhub.backend.lowering",
    "check_by_lowering": "nirhub.backend.lowering",
    "edge_modules": "nirhub.backend.lowering",
    "parse_shape": "nirhub.backend.lowering",
    "resolve_dt": "nirhub.backend.lowering",
    "resolve_method": "nirhub.backend.lowering",
    "resolve_skipped": "nirhub.backend.lowering",
    "random_inputs": "nirhub.backend.probes",
    "export_method": "nirhub.backend.lowering",
    "no_equivalent": "nirhub.backend.lowering",
    "raise_unsupported": "nirhub.backend.lowering",
    "recordable_steps": "nirhub.backend.runs",
    "single_input": "nirhub.backend.runs",
    "time_major": "nirhub.backend.runs",
    "to_time_major": "nirhub.backend.runs",
    "TORCH_LAYER_TYPES": "nirhub.backend.torchcode",
    "helpers_used": "nirhub.backend.torchcode",
    "weights_prelude": "nirhub.backend.torchcode",
    "generated_tensors": "nirhub.backend.torchlayers",
    "TorchLayer": "nirhub.backend.torchlayers",
    "float32_tensor": "nirhub.backend.torchlayers",
    "int_tuple": "nirhub.backend.torchlayers",
    "refuse_torch_layer": "nirhub.backend.torchlayers",
    "torch_layer": "nirhub.backend.torchlayers",
    "ModuleGraph": "nirhub.backend.torchlayers",
    "ModuleRefused": "nirhub.backend.torchlayers",
    "modules_to_nodes": "nirhub.backend.torchlayers",
    "raise_export_problems": "nirhub.backend.torchlayers",
    "population_array": "nirhub.backend.torchlayers",
    "tensor_array": "nirhub.backend.torchlayers",
    "torch_layer_node": "nirhub.backend.torchlayers",
    "block_samna_stub": "nirhub.backend.samna",
    "samna_status": "nirhub.backend.samna",
    "VARIANT_HINT": "nirhub.backend.variants",
    "check_threshold_option": "nirhub.backend.variants",
    "check_variants": "nirhub.backend.variants",
    "strict_thresholds": "nirhub.backend.variants",
    "variant_hint": "nirhub.backend.variants",
    "variant_problems": "nirhub.backend.variants",
    "BackendUnavailableError": "nirhub.errors",
    "FileFormatError": "nirhub.errors",
    "IRError": "nirhub.errors",
    "NirhubError": "nirhub.errors",
    "Problem": "nirhub.errors",
    "RefusedError": "nirhub.errors",
    "UnsupportedError": "nirhub.errors",
    "UsageError": "nirhub.errors",
    "Backend": "nirhub.hub.backend",
    "Checked": "nirhub.hub.backend",
    "ConversionWarning": "nirhub.hub.backend",
    "ALL_NODE_TYPES": "nirhub.hub.descriptor",
    "TORCH_NN_SAFE_CLASSES": "nirhub.hub.descriptor",
    "BackendDescriptor": "nirhub.hub.descriptor",
    "DescriptorError": "nirhub.hub.descriptor",
    "Option": "nirhub.hub.descriptor",
    "Requirement": "nirhub.hub.descriptor",
    "option_key": "nirhub.hub.descriptor",
    "ENTRY_POINT_GROUP": "nirhub.hub.hookspecs",
    "hookimpl": "nirhub.hub.hookspecs",
    "NAMESPACE": "nirhub.ir.conventions",
    "NeuronVariant": "nirhub.ir.conventions",
    "check_method": "nirhub.ir.conventions",
    "get_dt": "nirhub.ir.conventions",
    "get_method": "nirhub.ir.conventions",
    "get_variant": "nirhub.ir.conventions",
    "reset_mode": "nirhub.ir.conventions",
    "set_dt": "nirhub.ir.conventions",
    "set_method": "nirhub.ir.conventions",
    "set_reset": "nirhub.ir.conventions",
    "set_variant": "nirhub.ir.conventions",
    "activity_similarity": "nirhub.metrics",
    "cell_agreement": "nirhub.metrics",
    "differing_cells": "nirhub.metrics",
    "event_agreement": "nirhub.metrics",
    "voltage_correlation": "nirhub.metrics",
    "SimulationResult": "nirhub.sim",
    "simulate": "nirhub.sim",
    "ConvOp": "nirhub.sim.conv",
    "pool2d": "nirhub.sim.conv",
    "check_euler_decay": "nirhub.sim.discretize",
    "cuba_exact": "nirhub.sim.discretize",
    "leak": "nirhub.sim.discretize",
    "delay_steps": "nirhub.sim.engine",
    "resolve_record": "nirhub.sim.engine",
    "check_inputs": "nirhub.sim.inputs",
    "make_op": "nirhub.sim.ops",
    "make_plan": "nirhub.sim.plan",
    # the backends whose models carry a graph spec (snntorch, torch)
    "build_graph_spec": "nirhub.backend.graphspec",
    "ModuleBackend": "nirhub.backend.modulebackend",
    "artifact_paths": "nirhub.backend.sourceartifact",
    "existing_artifact": "nirhub.backend.sourceartifact",
    "load_weights": "nirhub.backend.sourceartifact",
    "put_weights": "nirhub.backend.sourceartifact",
    "read_literal": "nirhub.backend.sourceartifact",
    "save_source_and_weights": "nirhub.backend.sourceartifact",
    "check_dtype": "nirhub.backend.torchrun",
    "check_record": "nirhub.backend.torchrun",
    "to_device": "nirhub.backend.torchrun",
}

__all__ = [
    "activity_similarity",
    "cell_agreement",
    "differing_cells",
    "event_agreement",
    "voltage_correlation",
    "__version__",
    "ALL_NODE_TYPES",
    "Backend",
    "BackendDescriptor",
    "BackendUnavailableError",
    "Checked",
    "block_samna_stub",
    "check_by_lowering",
    "check_euler_decay",
    "check_inputs",
    "check_method",
    "check_threshold_option",
    "check_variants",
    "comment",
    "ConversionWarning",
    "ConvOp",
    "cuba_exact",
    "delay_steps",
    "DescriptorError",
    "edge_modules",
    "ENTRY_POINT_GROUP",
    "FileFormatError",
    "flatten_dims",
    "get_dt",
    "get_method",
    "Built",
    "GeneratedModels",
    "GeneratedTorchBackend",
    "get_variant",
    "GraphPlan",
    "hookimpl",
    "identifier",
    "IRError",
    "leak",
    "literal",
    "make_graph_plan",
    "make_op",
    "make_plan",
    "METHODS",
    "NAMESPACE",
    "NeuronVariant",
    "NirhubError",
    "Option",
    "option_key",
    "parse_shape",
    "place_gains",
    "pool2d",
    "Problem",
    "random_inputs",
    "RefusedError",
    "Requirement",
    "reset_mode",
    "resolve_dt",
    "resolve_method",
    "resolve_record",
    "resolve_skipped",
    "rest_outputs",
    "samna_status",
    "save_generated",
    "set_dt",
    "set_method",
    "set_reset",
    "set_variant",
    "simulate",
    "SimulationResult",
    "Step",
    "TORCH_NN_SAFE_CLASSES",
    "strict_thresholds",
    "UnsupportedError",
    "UsageError",
    "VARIANT_HINT",
    "variant_hint",
    "variant_problems",
    "write_atomically",
    # the backends whose models carry a graph spec (snntorch, torch)
    "build_graph_spec",
    "ModuleBackend",
    "artifact_paths",
    "existing_artifact",
    "load_weights",
    "put_weights",
    "read_literal",
    "save_source_and_weights",
    "check_dtype",
    "check_record",
    "to_device",
    # shared by the code-generating plugins (norse, sinabs, rockpool, xylo): lowering and runs
    "export_method",
    "float32_tensor",
    "generated_tensors",
    "helpers_used",
    "int_tuple",
    "ModuleGraph",
    "ModuleRefused",
    "modules_to_nodes",
    "no_equivalent",
    "population_array",
    "raise_export_problems",
    "raise_unsupported",
    "recordable_steps",
    "refuse_torch_layer",
    "single_input",
    "tensor_array",
    "time_major",
    "to_time_major",
    "torch_layer",
    "torch_layer_node",
    "TORCH_LAYER_TYPES",
    "TorchLayer",
    "weights_prelude",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nirhub.backend' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
