"""The node types of the format: pure data, shared by the descriptor (:mod:`nirhub_npjson.plugin`)
and the codec (:mod:`nirhub_npjson.format`) so that neither imports the other."""

#: the node types version 1 of the format defines (Delay and Threshold are not part of it)
NODE_TYPES = frozenset(
    {
        "Input",
        "Output",
        "Affine",
        "Linear",
        "Scale",
        "Conv1d",
        "Conv2d",
        "SumPool2d",
        "AvgPool2d",
        "Flatten",
        "I",
        "IF",
        "LI",
        "LIF",
        "CubaLI",
        "CubaLIF",
        "NIRGraph",
    }
)
