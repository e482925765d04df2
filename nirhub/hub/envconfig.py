"""The worker environments' configuration: which interpreters nirhub may run backends in.

Only reading and writing the small JSON file lives here (``$NIRHUB_CONFIG``, else
``$XDG_CONFIG_HOME/nirhub/environments.json``: ``{name: {"python": path, ...}}``), so that
building a registry, which reads it on every ``nirhub list-backends``, does not import the
subprocess machinery of :mod:`nirhub.hub.workers` when no environment is configured.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nirhub.errors import UsageError

ENV_CONFIG = "NIRHUB_CONFIG"
ENV_ENVS_DIR = "NIRHUB_ENVS_DIR"


@dataclass(frozen=True)
class Environment:
    """A Python interpreter that runs nirhub backends for us."""

    name: str
    python: Path
    #: made by :func:`nirhub.hub.workers.create_environment` (then ``path`` is its folder,
    #: deleted on removal)
    created: bool = False
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"python": str(self.python)}
        if self.created:
            out["created"] = True
        if self.path is not None:
            out["path"] = str(self.path)
        out.update(self.extra)
        return out


def config_path() -> Path:
    """The environments file: ``$NIRHUB_CONFIG``, else ``$XDG_CONFIG_HOME/nirhub/...``."""
    override = os.environ.get(ENV_CONFIG)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "nirhub" / "environments.json"


def cache_path() -> Path:
    """The cache of the environments' backend descriptions, beside the environments file."""
    return config_path().parent / "environments-cache.json"


def envs_dir() -> Path:
    """Where :func:`nirhub.hub.workers.create_environment` puts new environments."""
    override = os.environ.get(ENV_ENVS_DIR)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "nirhub" / "envs"


def read_config() -> dict[str, dict[str, Any]]:
    path = config_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read the environments file {path}: {exc}",
            hint=f"Fix or delete it (or point {ENV_CONFIG} at another file).",
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("python"), str) for v in data.values()
    ):
        raise UsageError(
            f"the environments file {path} is malformed: expected "
            '{"name": {"python": "/path/to/python"}, ...}'
        )
    return data


def write_config(data: dict[str, dict[str, Any]]) -> None:
    import tempfile

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".environments.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def environments() -> dict[str, Environment]:
    """The configured worker environments, by name."""
    out = {}
    for name, entry in read_config().items():
        extra = {k: v for k, v in entry.items() if k not in ("python", "created", "path")}
        out[name] = Environment(
            name,
            Path(entry["python"]),
            bool(entry.get("created", False)),
            Path(entry["path"]) if entry.get("path") else None,
            extra,
        )
    return out
