"""Which datasets each NIR node type stores in a ``.nir`` file (spec §2.3).

Shared by the reader (what to expect, what is optional, what a missing field defaults to) and
the writer (what to emit, in which on-disk form, for which target nir version).
"""

from __future__ import annotations

from dataclasses import dataclass

#: sentinel: the field has no default and must be present
REQUIRED = object()


@dataclass(frozen=True)
class FieldSpec:
    name: str
    #: "array": numeric ndarray kept as is; "ints": int scalar/tuple; "shape": a shape value;
    #: "padding": ints or a string
    kind: str
    #: REQUIRED, None (optional: absent means None), or the constructor default
    default: object = REQUIRED
    #: True: absence is normal (no warning). False: absence is tolerated with a warning only.
    optional: bool = False


def _f(name: str, kind: str = "array", default: object = REQUIRED, optional: bool = False):
    return FieldSpec(name, kind, default, optional)


_NEURON_OPT = {"v_reset", "w_in"}

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "Input": (_f("shape", "shape"),),
    "Output": (_f("shape", "shape", None, optional=True),),
    "Affine": (_f("weight"), _f("bias")),
    "Linear": (_f("weight"),),
    "Scale": (_f("scale"),),
    "Delay": (_f("delay"),),
    "Threshold": (_f("threshold"),),
    "I": (_f("r"),),
    "IF": (_f("r"), _f("v_threshold"), _f("v_reset", default=None, optional=True)),
    "LI": (_f("tau"), _f("r"), _f("v_leak")),
    "LIF": (
        _f("tau"),
        _f("r"),
        _f("v_leak"),
        _f("v_threshold"),
        _f("v_reset", default=None, optional=True),
    ),
    "CubaLI": (
        _f("tau_syn"),
        _f("tau_mem"),
        _f("r"),
        _f("v_leak"),
        _f("w_in", default=None, optional=True),
    ),
    "CubaLIF": (
        _f("tau_syn"),
        _f("tau_mem"),
        _f("r"),
        _f("v_leak"),
        _f("v_threshold"),
        _f("v_reset", default=None, optional=True),
        _f("w_in", default=None, optional=True),
    ),
    "Conv1d": (
        _f("input_shape", "shape", None, optional=True),
        _f("weight"),
        _f("stride", "ints", 1),
        _f("padding", "padding", 0),
        _f("dilation", "ints", 1),
        _f("groups", "ints", 1),
        _f("bias", default=None, optional=True),
    ),
    "Conv2d": (
        _f("input_shape", "shape", None, optional=True),
        _f("weight"),
        _f("stride", "ints", 1),
        _f("padding", "padding", 0),
        _f("dilation", "ints", 1),
        _f("groups", "ints", 1),
        _f("bias", default=None, optional=True),
    ),
    "SumPool2d": (_f("kernel_size", "ints"), _f("stride", "ints", None), _f("padding", "ints", 0)),
    "AvgPool2d": (_f("kernel_size", "ints"), _f("stride", "ints", None), _f("padding", "ints", 0)),
    "Flatten": (
        _f("input_type", "shape", None, optional=True),
        _f("start_dim", "ints", 1),
        _f("end_dim", "ints", -1),
    ),
}

FIELD_NAMES: dict[str, frozenset[str]] = {
    t: frozenset(f.name for f in fs) for t, fs in FIELDS.items()
}

#: nir 1.0.4 (what Sinabs and Rockpool pin) knows neither v_reset, CubaLI, nor metadata on these
NIR104_NO_METADATA = frozenset({"Linear", "Scale", "Conv2d", "AvgPool2d", "Input", "Output"})
NIR104_UNKNOWN_TYPES = frozenset({"CubaLI"})
