"""The frozen, validated description every backend declares.

A descriptor is pure data: reading it never imports the backend's framework. The hub uses it to
list backends, to check a conversion's legality before any work starts (every node type the
target cannot import is reported at once), to route files by suffix, and to generate the
backend x primitive support table in ``docs/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from nirhub.errors import UsageError

Kind = Literal["simulator", "hardware", "format"]
OptionType = Literal["float", "int", "str", "bool", "choice", "path"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
#: a ``safe_classes`` entry: a module path and one class name, ASCII, no wildcard
_SAFE_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")
#: the ``torch.nn`` classes of the layers NIR converters handle (containers, weights, pooling,
#: shape, dropout): a torch-based backend adds them to its ``safe_classes``
TORCH_NN_SAFE_CLASSES: tuple[str, ...] = (
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.ModuleDict",
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.linear.Identity",
    "torch.nn.modules.conv.Conv1d",
    "torch.nn.modules.conv.Conv2d",
    "torch.nn.modules.pooling.AvgPool2d",
    "torch.nn.modules.pooling.LPPool2d",
    "torch.nn.modules.flatten.Flatten",
    "torch.nn.modules.flatten.Unflatten",
    "torch.nn.modules.dropout.Dropout",
)
#: every NIR primitive type string a backend may declare (``NIRGraph`` = nested graphs)
#: (spelled out rather than taken from ``nirhub.ir.nodes.NODE_TYPES`` so that reading
#: descriptors, e.g. for ``nirhub list-backends``, does not import numpy; a test keeps the two
#: equal)
ALL_NODE_TYPES: frozenset[str] = frozenset({
    "Input", "Output", "Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d",
    "AvgPool2d", "Flatten", "Delay", "Threshold", "I", "IF", "LI", "LIF", "CubaLI", "CubaLIF",
    "NIRGraph",
})  # fmt: skip


class DescriptorError(ValueError):
    """A plugin declared an invalid descriptor (a bug in the plugin)."""


def option_key(name: str) -> str:
    """The spelling-independent key of an option name: ``nir-version`` == ``nir_version``.

    Plugins declare options as Python identifiers (``nir_version``: backends receive them as
    keyword arguments); the command line writes them like its own flags (``-O nir-version=...``).
    Both spellings are accepted everywhere; backends always receive the declared name.
    """
    return name.strip().replace("-", "_")


@dataclass(frozen=True)
class Option:
    """One backend option, settable with ``-O name=value`` on the command line.

    ``name`` is what the backend receives as a keyword argument; ``-O`` also accepts it with
    ``-`` for ``_`` (:attr:`cli_name`, the spelling the documentation uses).
    """

    name: str
    type: OptionType
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name.replace("_", "-")):
            raise DescriptorError(f"option name {self.name!r} must be lower-case words")
        if self.type == "choice" and not self.choices:
            raise DescriptorError(f"option {self.name!r} of type 'choice' needs choices")

    @property
    def cli_name(self) -> str:
        """The command-line spelling: ``nir-version`` for an option declared ``nir_version``."""
        return self.name.replace("_", "-")

    def parse(self, raw: Any, *, given: str | None = None) -> Any:
        """Turn a command-line string (or a Python value) into the option's type.

        ``given`` is the spelling the caller used, for error messages (default: the CLI one).
        """
        shown = given if given is not None else self.cli_name
        if not isinstance(raw, str):
            return raw
        try:
            if self.type == "float":
                return float(raw)
            if self.type == "int":
                return int(raw)
            if self.type == "bool":
                low = raw.lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(raw)
        except ValueError:
            raise UsageError(
                f"option {shown!r} expects a {self.type}, got {raw!r}", hint=self.help
            ) from None
        if self.type == "choice" and raw not in self.choices:
            raise UsageError(
                f"option {shown!r} must be one of {', '.join(self.choices)}; got {raw!r}"
            )
        return raw


@dataclass(frozen=True)
class Requirement:
    """A distribution the backend's framework needs, checked from package metadata only."""

    distribution: str
    #: optional minimum version, compared numerically on the release segments
    min_version: str | None = None
    #: exclusive upper bound, same comparison
    below_version: str | None = None

    def __str__(self) -> str:
        bounds = []
        if self.min_version:
            bounds.append(f">={self.min_version}")
        if self.below_version:
            bounds.append(f"<{self.below_version}")
        return self.distribution + ",".join(bounds)


@dataclass(frozen=True)
class BackendDescriptor:
    """What a backend is and can do. Frozen; validated on construction."""

    name: str
    kind: Kind
    summary: str
    #: node types this backend can *export* (framework -> IR); empty = no export direction
    to_ir: frozenset[str] = frozenset()
    #: node types this backend can *import* (IR -> framework); empty = no import direction
    from_ir: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    #: file suffixes of model sources it reads (``".pt"``, ``".net"``)
    reads: tuple[str, ...] = ()
    #: file suffixes of the artifacts it writes
    writes: tuple[str, ...] = ()
    requires: tuple[Requirement, ...] = ()
    #: shown when a requirement is missing: the exact command that fixes it
    install_hint: str = ""
    options: tuple[Option, ...] = ()
    #: implements the run hook (``nirhub simulate --backend NAME``)
    can_run: bool = False
    #: what cannot be done on this machine (e.g. "hardware runs need the real samna")
    limitations: tuple[str, ...] = ()
    #: classes that a whole-module ``.pt`` of this framework may reference and that are safe to
    #: allow in torch's weights-only unpickler: exact ``module.Class`` names (the module that
    #: defines the class, as pickle writes it), never wildcards, functions or attribute chains
    safe_classes: tuple[str, ...] = ()
    #: top-level module names whose classes identify a model object / pickle as this backend's
    modules: tuple[str, ...] = ()
    #: Python versions the framework supports, e.g. ``">=3.10,<3.11"`` (informational)
    python: str = ""
    #: the distribution whose version ``list-backends`` shows as the framework's version
    #: (default: the requirement named like the backend, else the first requirement)
    framework: str = ""
    docs_url: str = ""
    #: why a node type outside ``from_ir`` cannot be imported (``{"LIF": "the chip's neurons
    #: have no leak; ..."}``): the hub puts it in its refusal instead of the generic list of
    #: accepted types. Chip backends use it so the user learns the hardware reason.
    refusals: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise DescriptorError(
                f"backend name {self.name!r} must be lower case letters, digits, '-' or '_'"
            )
        for alias in self.aliases:
            if not _NAME.match(alias):
                raise DescriptorError(f"alias {alias!r} of backend {self.name!r} is not valid")
        if self.kind not in ("simulator", "hardware", "format"):
            raise DescriptorError(f"backend {self.name!r}: kind must be simulator/hardware/format")
        for direction in ("to_ir", "from_ir"):
            value = frozenset(getattr(self, direction))
            object.__setattr__(self, direction, value)
            unknown = value - ALL_NODE_TYPES
            if unknown:
                raise DescriptorError(
                    f"backend {self.name!r} declares unknown node types in {direction}: "
                    f"{sorted(unknown)}"
                )
        for suffix in (*self.reads, *self.writes):
            if not suffix.startswith("."):
                raise DescriptorError(
                    f"backend {self.name!r}: suffix {suffix!r} must start with '.'"
                )
        for ref in self.safe_classes:
            if not _SAFE_CLASS.match(ref):
                raise DescriptorError(
                    f"backend {self.name!r}: safe class {ref!r} must be an exact module.Class "
                    "name (no wildcard)"
                )
        unknown_refusals = set(self.refusals) - ALL_NODE_TYPES
        if unknown_refusals:
            raise DescriptorError(
                f"backend {self.name!r} gives refusal reasons for unknown node types: "
                f"{sorted(unknown_refusals)}"
            )
        object.__setattr__(self, "refusals", {str(k): str(v) for k, v in self.refusals.items()})
        keys = [option_key(o.name) for o in self.options]
        if len(set(keys)) != len(keys):
            raise DescriptorError(
                f"backend {self.name!r} declares an option twice ('-' and '_' are the same)"
            )

    @property
    def directions(self) -> tuple[str, ...]:
        out = []
        if self.to_ir:
            out.append("to-ir")
        if self.from_ir:
            out.append("from-ir")
        return tuple(out)

    @property
    def primary_distribution(self) -> str:
        """The distribution whose version is the framework's version ("" when it has none).

        :attr:`framework` when set; else the requirement whose distribution is named like the
        backend (``snntorch`` among ``torch, snntorch``); else the first requirement.
        """
        if self.framework:
            return self.framework
        own = {option_key(self.name), *(option_key(a) for a in self.aliases)}
        for req in self.requires:
            if option_key(req.distribution).replace(".", "_") in own:
                return req.distribution
        return self.requires[0].distribution if self.requires else ""

    def find_option(self, name: str) -> Option | None:
        """The option called ``name`` in either spelling (``a-b`` or ``a_b``), else None."""
        key = option_key(name)
        for opt in self.options:
            if option_key(opt.name) == key:
                return opt
        return None

    def has_option(self, name: str) -> bool:
        return self.find_option(name) is not None

    def option_names(self) -> list[str]:
        """The options' command-line spellings (``nir-version``), for messages and help."""
        return [o.cli_name for o in self.options]

    def option(self, name: str) -> Option:
        opt = self.find_option(name)
        if opt is not None:
            return opt
        known = ", ".join(self.option_names()) or "none"
        raise UsageError(f"backend {self.name!r} has no option {name!r} (its options: {known})")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (sets sorted); :meth:`from_json` restores an equal descriptor.

        ``extra`` keeps only JSON-serialisable values.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("to_ir", "from_ir"):
                value = sorted(value)
            elif f.name == "requires":
                value = [asdict(r) for r in value]
            elif f.name == "options":
                value = [{**asdict(o), "choices": list(o.choices)} for o in value]
            elif f.name == "extra":
                value = {k: v for k, v in value.items() if _json_safe(v)}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackendDescriptor:
        kwargs = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = set(kwargs) - known
        if unknown:  # a newer nirhub described it; keep what we understand
            for key in unknown:
                kwargs.pop(key)
        for name in ("aliases", "reads", "writes", "limitations", "safe_classes", "modules"):
            if name in kwargs:
                kwargs[name] = tuple(kwargs[name])
        for name in ("to_ir", "from_ir"):
            if name in kwargs:
                kwargs[name] = frozenset(kwargs[name])
        kwargs["requires"] = tuple(Requirement(**r) for r in kwargs.get("requires", ()))
        kwargs["options"] = tuple(
            Option(**{**o, "choices": tuple(o.get("choices", ()))})
            for o in kwargs.get("options", ())
        )
        return cls(**kwargs)

    def parse_options(self, raw: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Validate ``-O key=value`` options (either spelling); fill defaults (``defaults``).

        The result is keyed by the declared names, as the backend's methods receive them.
        """
        out = {o.name: o.default for o in self.options if o.default is not None} if defaults else {}
        seen: dict[str, str] = {}
        for key, value in raw.items():
            opt = self.option(key)
            if opt.name in seen:
                raise UsageError(
                    f"option {opt.cli_name!r} is given twice (as {seen[opt.name]!r} and {key!r})"
                )
            seen[opt.name] = key
            out[opt.name] = opt.parse(value, given=key)
        return out


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
