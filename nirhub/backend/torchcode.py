"""Helper functions the generated PyTorch modules of the Norse and Sinabs backends share.

Each value is the source of one module-level function the generated code calls to build a
layer from the weights file (``p``, a weights-only state dict); a generated module holds only
the helpers its layers use. Source text, not code nirhub runs: no torch import here.
"""

from __future__ import annotations

#: the node types the generated PyTorch code builds with these helpers and plain torch layers
#: (:func:`nirhub.backend.torchlayers.torch_layer`), with the ports and the subgraph type; a
#: plugin adds the neurons it maps
TORCH_LAYER_TYPES: frozenset[str] = frozenset(
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
        "NIRGraph",
    }
)

#: helper name -> its source
TORCH_LAYER_HELPERS: dict[str, str] = {
    "linear": '''
def linear(p, name, bias):
    """A torch.nn.Linear holding p[name + ".weight"] (out, in) and, if bias, p[name + ".bias"]."""
    weight = p[name + ".weight"]
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias:
            layer.bias.copy_(p[name + ".bias"])
    return layer
''',
    "conv": '''
def conv(dims, p, name, stride, padding, dilation, groups, bias):
    """A torch.nn.Conv1d/Conv2d holding p[name + ".weight"] (and p[name + ".bias"])."""
    weight = p[name + ".weight"]
    cls = torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d
    layer = cls(
        weight.shape[1] * groups,
        weight.shape[0],
        tuple(weight.shape[2:]),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
    )
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias:
            layer.bias.copy_(p[name + ".bias"])
    return layer


def conv1d(p, name, **kwargs):
    return conv(1, p, name, **kwargs)


def conv2d(p, name, **kwargs):
    return conv(2, p, name, **kwargs)
''',
    "Scale": '''
class Scale(torch.nn.Module):
    """Element-wise gain: NIR's input scaling (r, w_in, dt) where no weight could absorb it."""

    def __init__(self, gain):
        super().__init__()
        self.register_buffer("gain", gain.clone())

    def forward(self, x):
        return x * self.gain
''',
}
