"""The in-memory IR: node types, the graph, validation and shape inference."""

from nirhub.ir.conventions import get_dt, get_method, reset_mode, set_dt, set_method, set_reset
from nirhub.ir.graph import FlatGraph, Graph, ShapeInfo, flatten, infer_shapes
from nirhub.ir.nodes import (
    IF,
    LI,
    LIF,
    NEURON_TYPES,
    NODE_TYPES,
    SPIKING_TYPES,
    Affine,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CubaLI,
    CubaLIF,
    Delay,
    Flatten,
    I,
    Input,
    Linear,
    Node,
    Output,
    Scale,
    SumPool2d,
    Threshold,
)

__all__ = [
    "IF", "LI", "LIF", "NEURON_TYPES", "NODE_TYPES", "SPIKING_TYPES", "Affine", "AvgPool2d",
    "Conv1d", "Conv2d", "CubaLI", "CubaLIF", "Delay", "Flatten", "FlatGraph", "Graph", "I",
    "Input", "Linear", "Node", "Output", "Scale", "ShapeInfo", "SumPool2d", "Threshold",
    "flatten", "get_dt", "get_method", "infer_shapes", "reset_mode", "set_dt", "set_method",
    "set_reset",
]
