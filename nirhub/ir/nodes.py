"""Node types for every NIR v1 primitive.

Each node validates its parameters on construction and raises :class:`~nirhub.errors.IRError`
naming the node type and field. Nodes do not know their own name (the graph does); the graph
and the file reader add the name to errors they re-raise.

Shapes never include batch or time dimensions. Weights are ``(out, in)``; convolution weights
are ``(C_out, C_in / groups, *kernel)``, channels first, as in PyTorch.

``None`` for an optional field means *absent*: it was not given (or not in the file), and it is
written back absent, so a round trip is lossless. What an absent field means is documented on
each class (e.g. ``v_reset=None``: see :mod:`nirhub.ir.conventions`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from nirhub.errors import IRError
from nirhub.ir.params import (
    DeferredChecks,
    Shape,
    as_array,
    as_int_tuple,
    as_shape,
    fail,
    population_shape,
)

__all__ = [
    "Node",
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
    "Delay",
    "Threshold",
    "I",
    "IF",
    "LI",
    "LIF",
    "CubaLI",
    "CubaLIF",
    "NODE_TYPES",
    "TYPE_NAMES",
    "NEURON_TYPES",
    "SPIKING_TYPES",
]


def _copy_metadata(metadata: Any, node_type: str) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise fail(node_type, "metadata", f"must be a dict, got {type(metadata).__name__}")
    return dict(metadata)


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except Exception:
        return False


class Node:
    """Base class of all NIR primitives (and of :class:`~nirhub.ir.graph.Graph`).

    Subclasses declare ``type_name`` (the NIR type string) and ``fields`` (the parameter names,
    in the reference package's positional order). ``optional_fields`` may be ``None``.
    """

    type_name: ClassVar[str] = "Node"
    fields: ClassVar[tuple[str, ...]] = ()
    optional_fields: ClassVar[frozenset[str]] = frozenset()
    #: Element-wise nodes: output shape == input shape == the parameters' shape.
    elementwise: ClassVar[bool] = False
    metadata: dict[str, Any]

    # -- generic behaviour -------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The node's fields (not metadata), in declaration order; absent fields are None."""
        return {name: getattr(self, name) for name in self.fields}

    def replace(self, **changes: Any) -> Node:
        """A new node of the same type with some fields (or ``metadata``) changed."""
        kwargs = self.params()
        kwargs["metadata"] = dict(self.metadata)
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise fail(self.type_name, sorted(unknown)[0], "is not a field of this node type")
        kwargs.update(changes)
        return type(self)(**kwargs)

    def __eq__(self, other: object) -> bool:
        """Value equality: same type, equal fields (values *and* dtypes), equal metadata."""
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, Node)
        return _values_equal(self.params(), other.params()) and _values_equal(
            self.metadata, other.metadata
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for name, value in self.params().items():
            if isinstance(value, np.ndarray):
                parts.append(f"{name}=<{value.dtype} {value.shape}>")
            else:
                parts.append(f"{name}={value!r}")
        return f"{self.type_name}({', '.join(parts)})"

    # -- shapes ------------------------------------------------------------------------------
    def declared_input_shape(self) -> Shape | None:
        """The input shape this node fixes by itself, or None if it comes from the graph."""
        return None

    def output_shape(self, input_shape: Shape) -> Shape:
        """Output shape for a given input shape; raises :class:`IRError` if incompatible."""
        raise NotImplementedError  # pragma: no cover

    def num_neurons(self) -> int:
        """Neurons (stateful units) in this node; 0 for stateless nodes."""
        return 0

    def num_synapses(self) -> int:
        """Weights (connections) in this node; 0 for nodes without weights."""
        return 0

    def arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        for name, value in self.params().items():
            if isinstance(value, np.ndarray):
                yield name, value


# --------------------------------------------------------------------------------------------
# Graph ports
# --------------------------------------------------------------------------------------------


class Input(Node):
    """A graph input port. ``shape`` excludes batch and time dimensions."""

    type_name = "Input"
    fields = ("shape",)

    def __init__(self, shape: Any, metadata: dict[str, Any] | None = None) -> None:
        self.shape: Shape = as_shape(shape, self.type_name, "shape")  # type: ignore[assignment]
        self.metadata = _copy_metadata(metadata, self.type_name)

    def declared_input_shape(self) -> Shape:
        return self.shape

    def output_shape(self, input_shape: Shape) -> Shape:
        return self.shape


class Output(Node):
    """A graph output port. ``shape=None`` means "inferred from the graph"."""

    type_name = "Output"
    fields = ("shape",)
    optional_fields = frozenset({"shape"})

    def __init__(self, shape: Any = None, metadata: dict[str, Any] | None = None) -> None:
        self.shape: Shape | None = as_shape(shape, self.type_name, "shape", allow_none=True)
        self.metadata = _copy_metadata(metadata, self.type_name)

    def declared_input_shape(self) -> Shape | None:
        return self.shape

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


# --------------------------------------------------------------------------------------------
# Linear maps
# --------------------------------------------------------------------------------------------


class Linear(Node):
    """``y = W x`` with ``W`` of shape ``(out, in)`` (leading dimensions carry through)."""

    type_name = "Linear"
    fields = ("weight",)

    def __init__(self, weight: Any, metadata: dict[str, Any] | None = None) -> None:
        self.weight = as_array(weight, self.type_name, "weight", min_ndim=2)
        self.metadata = _copy_metadata(metadata, self.type_name)

    @classmethod
    def _from_arrays(cls, values: dict[str, Any], checks: DeferredChecks) -> Node:
        """A node from values a file reader made: every field, numeric ndarrays (see
        :meth:`_Elementwise._from_arrays`)."""
        weight = values["weight"]
        if weight.ndim < 2:
            return cls(**values)  # (raises the constructor's error)
        checks.add(cls.type_name, values, ("weight",))
        node = cls.__new__(cls)
        node.weight = weight
        node.metadata = {}
        return node

    def declared_input_shape(self) -> Shape:
        w = self.weight.shape
        return tuple(w[:-2]) + (w[-1],)

    def declared_output_shape(self) -> Shape:
        w = self.weight.shape
        return tuple(w[:-2]) + (w[-2],)

    def output_shape(self, input_shape: Shape) -> Shape:
        return self.declared_output_shape()

    def num_synapses(self) -> int:
        return int(self.weight.size)


class Affine(Linear):
    """``y = W x + b`` with ``W`` of shape ``(out, in)`` and ``b`` of shape ``(out,)``."""

    type_name = "Affine"
    fields = ("weight", "bias")

    def __init__(self, weight: Any, bias: Any, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(weight, metadata)
        self.bias = as_array(bias, self.type_name, "bias")
        out = self.declared_output_shape()
        if self.bias.shape not in (out, out[-1:]):
            raise fail(
                self.type_name,
                "bias",
                f"must have shape {out[-1:]} to match weight {self.weight.shape}, "
                f"got {self.bias.shape}",
            )

    @classmethod
    def _from_arrays(cls, values: dict[str, Any], checks: DeferredChecks) -> Node:
        weight, bias = values["weight"], values["bias"]
        if weight.ndim < 2 or bias.shape not in (weight.shape[:-1], weight.shape[-2:-1]):
            return cls(**values)  # (raises the constructor's error)
        checks.add(cls.type_name, values, ("weight", "bias"))
        node = cls.__new__(cls)
        node.weight = weight
        node.bias = bias
        node.metadata = {}
        return node


class Scale(Node):
    """Element-wise ``y = s * x``."""

    type_name = "Scale"
    fields = ("scale",)
    elementwise = True

    def __init__(self, scale: Any, metadata: dict[str, Any] | None = None) -> None:
        self.scale = as_array(scale, self.type_name, "scale")
        self.metadata = _copy_metadata(metadata, self.type_name)

    def declared_input_shape(self) -> Shape | None:
        return self.scale.shape or None

    def output_shape(self, input_shape: Shape) -> Shape:
        return _elementwise_output(self, input_shape)


# --------------------------------------------------------------------------------------------
# Convolutions
# --------------------------------------------------------------------------------------------


def conv_output_length(n: int, kernel: int, stride: int, padding: int | str, dilation: int) -> int:
    """Output length along one spatial dimension (PyTorch rule).

    ``"same"`` keeps the length; it is only defined for stride 1 (as in PyTorch), which the
    constructors enforce. ``"valid"`` is padding 0.
    """
    if padding == "same":
        return n
    pad = 0 if padding == "valid" else int(padding)
    return (n + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


class _Conv(Node):
    ndim_spatial: ClassVar[int]
    fields = ("input_shape", "weight", "stride", "padding", "dilation", "groups", "bias")
    optional_fields = frozenset({"input_shape", "bias"})

    def __init__(
        self,
        input_shape: Any,
        weight: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: Any = 1,
        bias: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        t, n = self.type_name, self.ndim_spatial
        self.weight = as_array(weight, t, "weight", ndim=n + 2)
        if 0 in self.weight.shape:
            raise fail(t, "weight", f"has an empty dimension: {self.weight.shape}")
        self.stride = as_int_tuple(stride, t, "stride", n, minimum=1)
        self.dilation = as_int_tuple(dilation, t, "dilation", n, minimum=1)
        if isinstance(padding, (bytes, np.bytes_)):
            padding = padding.decode()
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise fail(
                    t, "padding", f"must be an int, {n} ints, 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise fail(
                    t,
                    "padding",
                    f"'same' is only defined for stride 1, got stride {self.stride}",
                    hint="Give explicit padding instead (PyTorch rejects this combination too).",
                )
            self.padding: tuple[int, ...] | str = padding
        else:
            self.padding = as_int_tuple(padding, t, "padding", n, minimum=0)
        g = np.asarray(groups)
        if g.ndim != 0 or g.dtype.kind not in "iu" or int(g) < 1:
            raise fail(t, "groups", f"must be a positive int, got {groups!r}")
        self.groups = int(g)
        c_out = self.weight.shape[0]
        if c_out % self.groups:
            raise fail(t, "groups", f"{self.groups} does not divide C_out = {c_out}")
        self.bias = None if bias is None else as_array(bias, t, "bias")
        if self.bias is not None and self.bias.shape not in ((c_out,),):
            raise fail(t, "bias", f"must have shape ({c_out},), got {self.bias.shape}")
        if input_shape is None:
            self.input_shape: tuple[int, ...] | None = None
        else:
            shp = as_shape(input_shape, t, "input_shape")
            assert shp is not None
            if len(shp) != n:
                raise fail(t, "input_shape", f"must hold {n} spatial size(s), got {shp}")
            self.input_shape = shp
            self._spatial_out(shp)  # raises if the kernel does not fit
        self.metadata = _copy_metadata(metadata, t)

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1]) * self.groups

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def kernel_size(self) -> tuple[int, ...]:
        return tuple(int(k) for k in self.weight.shape[2:])

    def _pad(self, i: int) -> int | str:
        return self.padding if isinstance(self.padding, str) else self.padding[i]

    def _spatial_out(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        out = tuple(
            conv_output_length(
                spatial[i], self.kernel_size[i], self.stride[i], self._pad(i), self.dilation[i]
            )
            for i in range(self.ndim_spatial)
        )
        if any(o < 1 for o in out):
            raise fail(
                self.type_name,
                "weight",
                f"kernel {self.kernel_size} (dilation {self.dilation}, padding {self.padding}) "
                f"does not fit the input size {spatial}",
            )
        return out

    def declared_input_shape(self) -> Shape | None:
        if self.input_shape is None:
            return None
        return (self.in_channels, *self.input_shape)

    def output_shape(self, input_shape: Shape) -> Shape:
        n = self.ndim_spatial
        if len(input_shape) != n + 1:
            raise fail(
                self.type_name,
                None,
                f"expects a ({'C, H, W' if n == 2 else 'C, L'}) input, got {input_shape}",
            )
        if input_shape[0] != self.in_channels:
            raise fail(
                self.type_name,
                None,
                f"expects {self.in_channels} input channels (weight {self.weight.shape}, groups "
                f"{self.groups}), got input shape {input_shape}",
            )
        return (self.out_channels, *self._spatial_out(tuple(input_shape[1:])))

    def num_synapses(self) -> int:
        return int(self.weight.size)


class Conv1d(_Conv):
    """1-D cross-correlation, input ``(C, L)``; ``input_shape`` is ``(L,)`` or None."""

    type_name = "Conv1d"
    ndim_spatial = 1


class Conv2d(_Conv):
    """2-D cross-correlation, input ``(C, H, W)``; ``input_shape`` is ``(H, W)`` or None."""

    type_name = "Conv2d"
    ndim_spatial = 2


class _Pool2d(Node):
    fields = ("kernel_size", "stride", "padding")

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        t = self.type_name
        self.kernel_size = as_int_tuple(kernel_size, t, "kernel_size", 2, minimum=1)
        self.stride = (
            self.kernel_size if stride is None else as_int_tuple(stride, t, "stride", 2, minimum=1)
        )
        self.padding = as_int_tuple(padding, t, "padding", 2, minimum=0)
        self.metadata = _copy_metadata(metadata, t)

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise fail(self.type_name, None, f"expects a (C, H, W) input, got {input_shape}")
        c, *hw = input_shape
        out = []
        for i in range(2):
            o = (hw[i] + 2 * self.padding[i] - self.kernel_size[i]) // self.stride[i] + 1
            if o < 1:
                raise fail(
                    self.type_name,
                    "kernel_size",
                    f"{self.kernel_size} does not fit the input {input_shape}",
                )
            out.append(o)
        return (c, *out)


class SumPool2d(_Pool2d):
    """Sum over each window (dilation 1, no ceil mode)."""

    type_name = "SumPool2d"


class AvgPool2d(_Pool2d):
    """Mean over each window. Padded cells count in the divisor (``count_include_pad``)."""

    type_name = "AvgPool2d"


class Flatten(Node):
    """Merge dims ``start_dim..end_dim`` (inclusive) of the input into one.

    NIR shapes have no batch dimension, so dim 0 is the first feature dimension (e.g. C). The
    default ``start_dim=1`` is NIR's (inherited from PyTorch): on ``(2, 3, 4)`` it gives
    ``(2, 12)``. Use ``start_dim=0`` to flatten everything.
    """

    type_name = "Flatten"
    fields = ("input_type", "start_dim", "end_dim")
    optional_fields = frozenset({"input_type"})

    def __init__(
        self,
        input_type: Any = None,
        start_dim: Any = 1,
        end_dim: Any = -1,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        t = self.type_name
        self.input_type: Shape | None = as_shape(input_type, t, "input_type", allow_none=True)
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            v = np.asarray(value)
            if v.ndim != 0 or v.dtype.kind not in "iu":
                raise fail(t, name, f"must be an int, got {value!r}")
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)
        self.metadata = _copy_metadata(metadata, t)
        if self.input_type is not None:
            self.output_shape(self.input_type)

    def declared_input_shape(self) -> Shape | None:
        return self.input_type

    def dims(self, ndim: int) -> tuple[int, int]:
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= start < ndim and 0 <= end < ndim) or start > end:
            raise fail(
                self.type_name,
                "start_dim",
                f"start_dim={self.start_dim}, end_dim={self.end_dim} do not select a range of a "
                f"{ndim}-D input",
                hint="NIR shapes have no batch dimension: dim 0 is the first feature dimension.",
            )
        return start, end

    def output_shape(self, input_shape: Shape) -> Shape:
        start, end = self.dims(len(input_shape))
        merged = math.prod(input_shape[start : end + 1])
        return (*input_shape[:start], merged, *input_shape[end + 1 :])


# --------------------------------------------------------------------------------------------
# Element-wise nodes and neurons
# --------------------------------------------------------------------------------------------


def _elementwise_output(node: Node, input_shape: Shape) -> Shape:
    declared = node.declared_input_shape()
    if declared is not None and tuple(declared) != tuple(input_shape):
        raise fail(
            node.type_name,
            None,
            f"has shape {declared} but receives an input of shape {input_shape}",
        )
    return tuple(input_shape)


class _Elementwise(Node):
    """Nodes whose parameters all share one population shape (0-d parameters broadcast)."""

    elementwise = True
    #: fields that must be > 0
    _positive: ClassVar[frozenset[str]] = frozenset()
    _nonnegative: ClassVar[frozenset[str]] = frozenset()

    def _init(self, values: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        t = self.type_name
        arrays: dict[str, np.ndarray | None] = {}
        for name in self.fields:
            value = values[name]
            if value is None and name in self.optional_fields:
                arrays[name] = None
            else:
                arrays[name] = as_array(
                    value,
                    t,
                    name,
                    positive=name in self._positive,
                    nonnegative=name in self._nonnegative,
                )
        self._shape = population_shape(t, arrays)
        for name, arr in arrays.items():
            setattr(self, name, arr)
        self.metadata = _copy_metadata(metadata, t)

    @classmethod
    def _from_arrays(cls, values: dict[str, Any], checks: DeferredChecks) -> Node:
        """A node from values a file reader made, without metadata: ``values`` holds every
        field, each a numeric ndarray (dtype kind i, u or f) or None for an absent optional
        field. The constructor's checks that remain for such values run here, but the value
        checks of small arrays (NaN/inf, > 0, >= 0) are queued in ``checks``: a reader that
        finds them failed rebuilds the node with the constructor, which raises the error.
        Anything else the constructor would refuse is built by the constructor (which raises).
        """
        shape = None
        for name in cls.fields:
            arr = values[name]
            if arr is None:
                if name not in cls.optional_fields:
                    return cls(**values)
            elif arr.ndim:
                if shape is None:
                    shape = arr.shape
                elif arr.shape != shape:
                    return cls(**values)
        checks.add(cls.type_name, values, cls.fields, cls._positive, cls._nonnegative)
        node = cls.__new__(cls)
        node.__dict__.update(values)  # (exactly the fields)
        node._shape = shape
        node.metadata = {}
        return node

    @property
    def shape(self) -> Shape | None:
        """The population shape, or None when every parameter is a scalar."""
        return self._shape

    def declared_input_shape(self) -> Shape | None:
        return self._shape

    def output_shape(self, input_shape: Shape) -> Shape:
        return _elementwise_output(self, input_shape)

    def num_neurons(self) -> int:
        return math.prod(self._shape) if self._shape is not None else 0


class Delay(_Elementwise):
    """``y_i(t) = x_i(t - delay_i)``, delays in seconds (rounded to steps by the simulator)."""

    type_name = "Delay"
    fields = ("delay",)
    _nonnegative = frozenset({"delay"})

    def __init__(self, delay: Any, metadata: dict[str, Any] | None = None) -> None:
        self._init({"delay": delay}, metadata)

    def num_neurons(self) -> int:
        return 0


class Threshold(_Elementwise):
    """``z = 1 if x > threshold else 0`` (strict comparison, a level, not an event)."""

    type_name = "Threshold"
    fields = ("threshold",)

    def __init__(self, threshold: Any, metadata: dict[str, Any] | None = None) -> None:
        self._init({"threshold": threshold}, metadata)

    def num_neurons(self) -> int:
        return 0


class I(_Elementwise):  # noqa: E742 - the NIR name
    """Integrator: ``dv/dt = r I(t)``; outputs v."""

    type_name = "I"
    fields = ("r",)

    def __init__(self, r: Any, metadata: dict[str, Any] | None = None) -> None:
        self._init({"r": r}, metadata)


class IF(_Elementwise):
    """Integrate-and-fire: ``dv/dt = r I(t)``; spike when ``v > v_threshold``, then reset."""

    type_name = "IF"
    fields = ("r", "v_threshold", "v_reset")
    optional_fields = frozenset({"v_reset"})

    def __init__(
        self, r: Any, v_threshold: Any, v_reset: Any = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self._init({"r": r, "v_threshold": v_threshold, "v_reset": v_reset}, metadata)


class LI(_Elementwise):
    """Leaky integrator: ``tau dv/dt = (v_leak - v) + r I(t)``; outputs v."""

    type_name = "LI"
    fields = ("tau", "r", "v_leak")
    _positive = frozenset({"tau"})

    def __init__(
        self, tau: Any, r: Any, v_leak: Any, metadata: dict[str, Any] | None = None
    ) -> None:
        self._init({"tau": tau, "r": r, "v_leak": v_leak}, metadata)


class LIF(_Elementwise):
    """Leaky integrate-and-fire: LI dynamics; spike when ``v > v_threshold``, then reset."""

    type_name = "LIF"
    fields = ("tau", "r", "v_leak", "v_threshold", "v_reset")
    optional_fields = frozenset({"v_reset"})
    _positive = frozenset({"tau"})

    def __init__(
        self,
        tau: Any,
        r: Any,
        v_leak: Any,
        v_threshold: Any,
        v_reset: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._init(
            {"tau": tau, "r": r, "v_leak": v_leak, "v_threshold": v_threshold, "v_reset": v_reset},
            metadata,
        )


class CubaLI(_Elementwise):
    """Current-based leaky integrator.

    ``tau_syn dI/dt = -I + w_in S(t)``; ``tau_mem dv/dt = (v_leak - v) + r I``; outputs v.
    ``w_in=None`` (absent) means 1.
    """

    type_name = "CubaLI"
    fields = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
    optional_fields = frozenset({"w_in"})
    _positive = frozenset({"tau_syn", "tau_mem"})

    def __init__(
        self,
        tau_syn: Any,
        tau_mem: Any,
        r: Any,
        v_leak: Any,
        w_in: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._init(
            {"tau_syn": tau_syn, "tau_mem": tau_mem, "r": r, "v_leak": v_leak, "w_in": w_in},
            metadata,
        )


class CubaLIF(_Elementwise):
    """Current-based LIF: CubaLI dynamics; spike when ``v > v_threshold``; I is not reset."""

    type_name = "CubaLIF"
    fields = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
    optional_fields = frozenset({"v_reset", "w_in"})
    _positive = frozenset({"tau_syn", "tau_mem"})

    def __init__(
        self,
        tau_syn: Any,
        tau_mem: Any,
        r: Any,
        v_leak: Any,
        v_threshold: Any,
        v_reset: Any = None,
        w_in: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._init(
            {
                "tau_syn": tau_syn,
                "tau_mem": tau_mem,
                "r": r,
                "v_leak": v_leak,
                "v_threshold": v_threshold,
                "v_reset": v_reset,
                "w_in": w_in,
            },
            metadata,
        )


#: Every primitive type by its NIR type string (the graph type is added by ``nirhub.ir.graph``).
NODE_TYPES: dict[str, type[Node]] = {
    cls.type_name: cls
    for cls in (
        Input,
        Output,
        Affine,
        Linear,
        Scale,
        Conv1d,
        Conv2d,
        SumPool2d,
        AvgPool2d,
        Flatten,
        Delay,
        Threshold,
        I,
        IF,
        LI,
        LIF,
        CubaLI,
        CubaLIF,
    )
}
#: Every NIR type string a graph may hold, in the order of the NIR specification (``NIRGraph``:
#: a nested graph). Code that means "every type" (descriptors, test parametrizations, the
#: support table) takes it from here instead of spelling the list out again.
TYPE_NAMES: tuple[str, ...] = (*NODE_TYPES, "NIRGraph")
#: Stateful neuron models.
NEURON_TYPES: frozenset[str] = frozenset({"I", "IF", "LI", "LIF", "CubaLI", "CubaLIF"})
#: Neuron models that emit spikes (their output is the spike train only).
SPIKING_TYPES: frozenset[str] = frozenset({"IF", "LIF", "CubaLIF"})


def check_node(node: Any, name: str) -> Node:
    if not isinstance(node, Node):
        raise IRError(
            f"node {name!r} is a {type(node).__name__}, not a nirhub node",
            node=name,
            hint="Convert objects of the `nir` package with nirhub.from_nir().",
        )
    return node
