"""One row of ``nirhub list-backends``: what the registry knows about a backend.

Its own module so that the worker side (:mod:`nirhub.hub.workers`, which describes the
backends of another environment) and the registry both use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nirhub.hub.descriptor import BackendDescriptor

#: the distribution name of the backends built into nirhub itself
BUILTIN_DISTRIBUTION = "nirhub"


@dataclass(frozen=True)
class BackendStatus:
    """One row of ``nirhub list-backends``."""

    name: str
    aliases: tuple[str, ...]
    kind: str  # simulator | hardware | format ("unknown" for a plugin that failed to load)
    directions: tuple[str, ...]  # ("to-ir", "from-ir")
    status: str  # "ok" | "missing-dependency" | "broken"
    reason: str  # "" when ok; what is missing / the load error
    install_hint: str
    version: str  # framework version if installed, else ""
    distribution: str  # distribution providing the plugin ("nirhub" for built-ins)
    location: str  # "local" or the name of the worker environment
    descriptor: BackendDescriptor | None
    #: the plugin module (entry-point value) that provides the backend
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "kind": self.kind,
            "directions": list(self.directions),
            "status": self.status,
            "reason": self.reason,
            "install_hint": self.install_hint,
            "version": self.version,
            "distribution": self.distribution,
            "location": self.location,
            "plugin": self.plugin,
            "descriptor": None if self.descriptor is None else self.descriptor.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, location: str | None = None) -> BackendStatus:
        desc = data.get("descriptor")
        return cls(
            name=data["name"],
            aliases=tuple(data.get("aliases", ())),
            kind=data.get("kind", "unknown"),
            directions=tuple(data.get("directions", ())),
            status=data.get("status", "broken"),
            reason=data.get("reason", ""),
            install_hint=data.get("install_hint", ""),
            version=data.get("version", ""),
            distribution=data.get("distribution", ""),
            location=location if location is not None else data.get("location", "local"),
            descriptor=None if desc is None else BackendDescriptor.from_json(desc),
            plugin=data.get("plugin", ""),
        )
