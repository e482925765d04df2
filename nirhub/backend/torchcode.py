"""Source text the generated PyTorch modules of the Norse, Sinabs and Rockpool backends share.

* :data:`TORCH_LAYER_HELPERS`: each value is the source of one module-level function the
  generated code calls to build a layer from the weights file (``p``, a weights-only state
  dict); a generated module holds only the helpers its layers use (:func:`helpers_used`);
* :func:`weights_prelude`: ``DT``, the default weights path ``WEIGHTS`` and ``load_weights``.

Source text, not code nirhub runs: no torch import here (and nothing heavy: plugin
descriptors import :data:`TORCH_LAYER_TYPES` from here).
"""

from __future__ import annotations

from collections.abc import Iterable

from nirhub.hub.descriptor import ALL_NODE_TYPES

#: the node types the generated PyTorch code builds with these helpers and plain torch layers
#: (:func:`nirhub.backend.torchlayers.torch_layer`), with the ports and the subgraph type: every
#: type but the neurons (a plugin adds the ones it maps), Delay and Threshold
TORCH_LAYER_TYPES: frozenset[str] = (
    ALL_NODE_TYPES - {"Delay", "Threshold"} - {"I", "IF", "LI", "LIF", "CubaLI", "CubaLIF"}
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


def helpers_used(ctors: Iterable[str]) -> list[str]:
    """The :data:`TORCH_LAYER_HELPERS` the layer constructors ``ctors`` call, in module order."""
    text = " ".join(ctors)
    out = []
    if "linear(" in text:
        out.append("linear")
    if "conv1d(" in text or "conv2d(" in text:
        out.append("conv")
    if "Scale(" in text:
        out.append("Scale")
    return out


def weights_prelude(dt: float, weights_file: str) -> str:
    """``DT``, ``WEIGHTS`` (``weights_file`` next to the module) and ``load_weights``: the lines
    a generated module has after its imports."""
    from nirhub.backend.codestyle import statement

    weights_line = "\n".join(
        statement(
            f"WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights_file!r})"
        )
    )
    return f'''DT = {dt!r}
{weights_line}


def load_weights(weights=WEIGHTS):
    """This model's tensors, name -> tensor (a weights-only file: no code is unpickled)."""
    if isinstance(weights, dict):
        return weights
    return torch.load(weights, map_location="cpu", weights_only=True)
'''
