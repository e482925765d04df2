"""The backend registry: entry-point discovery, lazy loading, availability, name clashes.

Plugins are found through the entry-point group ``nirhub.backends``. Each entry point's name is
a backend name and its value the plugin module, so asking for ``norse`` imports only the module
behind the entry point named ``norse``. Listing every backend imports every plugin *module*
(cheap by rule: plugin modules never import their framework at module level), never a
framework: whether a framework is installed is read from package metadata.

Nothing here can crash the hub. A plugin that fails to import, registers invalid hooks or
returns something that is not a backend class is listed as ``broken`` with the reason; one
whose framework is missing as ``missing-dependency`` with the install command. Two plugins
claiming the same backend name are both refused (the built-in always wins over a plugin); an
alias claimed twice is dropped. All clashes are reported at once by :meth:`Registry.clashes`.

Backends living in other Python environments (``nirhub.hub.workers``) are listed next to the
local ones with their location; :meth:`Registry.get` returns a proxy for them.

There is no module-level registry: :func:`make_registry` builds one, and
:func:`default_registry` caches the one the command line uses.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from nirhub.errors import BackendUnavailableError, UsageError
from nirhub.hub import hookspecs
from nirhub.hub.backend import Backend
from nirhub.hub.descriptor import BackendDescriptor
from nirhub.hub.requirements import (
    check_requirements,
    installed_version,
    normalize_name,
    python_satisfies,
)
from nirhub.hub.shipped import shipped_backend
from nirhub.hub.status import BUILTIN_DISTRIBUTION, BackendStatus

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.hub.envconfig import Environment
    from nirhub.passes import GraphPass

#: the modules registered as built-in plugins, in this order
BUILTIN_PLUGINS: tuple[str, ...] = ("nirhub.hub.builtin",)

ENV_NO_PLUGINS = "NIRHUB_NO_PLUGINS"
ENV_PLUGINS = "NIRHUB_PLUGINS"


@dataclass
class _Plugin:
    """A plugin module (or object) and where it came from."""

    label: str  # "dist: module" for messages
    distribution: str
    module_name: str
    obj: Any = None
    error: str = ""
    backends: list[type[Backend]] = field(default_factory=list)
    passes: list[Any] | None = None
    commands: list[Any] | None = None


@dataclass
class _Entry:
    cls: type[Backend]
    plugin: _Plugin
    clash: str = ""  # non-empty: refused because of a name clash


@dataclass
class _EntryPointInfo:
    name: str
    value: str
    distribution: str
    ep: metadata.EntryPoint | None


def _dist_name(ep: metadata.EntryPoint) -> str:
    """The (PEP 503 normalized) name of the distribution behind an entry point.

    Taken from its ``<name>-<version>.dist-info`` folder name when there is one:
    ``Distribution.name`` parses the whole ``METADATA`` file, a cost every plugin would add to
    ``nirhub list-backends``.
    """
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "<unknown distribution>"
    folder = getattr(dist, "_path", None)  # PathDistribution (the usual case)
    stem = os.path.basename(os.fspath(folder)) if isinstance(folder, (str, os.PathLike)) else ""
    for suffix in (".dist-info", ".egg-info"):
        if stem.endswith(suffix):
            name = stem[: -len(suffix)].partition("-")[0]
            if name:
                return normalize_name(name)
    name = getattr(dist, "name", None)
    if not name:
        name = dist.metadata["Name"] if dist.metadata else None
    return name or "<unknown distribution>"


@contextlib.contextmanager
def _plugin_code() -> Iterator[None]:
    """Run a plugin's code (import, hooks, constructor) with its prints sent to stderr.

    A plugin that prints while imported must not corrupt what nirhub writes on stdout
    (``list-backends --json``, ``describe`` in a worker).
    """
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _not_an_interrupt(exc: BaseException) -> None:
    """Re-raise Ctrl-C; any other BaseException from plugin code (``SystemExit(0)``,
    ``GeneratorExit``, a custom one) is the plugin's failure, reported, never obeyed."""
    if isinstance(exc, KeyboardInterrupt):
        raise exc


def _describe_exception(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class Registry:
    """The backends nirhub can reach, their plugins, passes and CLI commands.

    Build it with :func:`make_registry`. Lookups load plugins lazily: :meth:`get` imports the
    plugin of one backend only; :meth:`statuses`, :meth:`passes` and :meth:`cli_commands`
    import every plugin module (never a framework).
    """

    def __init__(
        self,
        *,
        entry_points: Sequence[_EntryPointInfo],
        disabled_entry_points: Sequence[_EntryPointInfo] = (),
        extra: Sequence[Any] = (),
        builtins: Sequence[str] = BUILTIN_PLUGINS,
        environments: Mapping[str, Environment] | None = None,
        warnings: Sequence[str] = (),
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._entry_points = list(entry_points)
        self._disabled = list(disabled_entry_points)
        self._plugins: list[_Plugin] = []
        self._by_object: dict[int, _Plugin] = {}
        self._loaded_eps: set[int] = set()
        self._entries: dict[str, list[_Entry]] = {}
        self._missing_names: list[tuple[_EntryPointInfo, _Plugin]] = []
        self._instances: dict[str, Backend] = {}
        self._environments: dict[str, Environment] = dict(environments or {})
        self._remote: dict[str, list[BackendStatus]] = {}
        self._refresh_remote = False
        self.warnings: list[str] = list(warnings)
        for module_name in builtins:
            self._add_plugin(_import_builtin(module_name), BUILTIN_DISTRIBUTION, module_name)
        for obj in extra:
            name = getattr(obj, "__name__", type(obj).__name__)
            self._add_plugin(obj, _distribution_of(obj), name)

    # -- loading ------------------------------------------------------------------------------
    def _add_plugin(self, obj: Any, distribution: str, module_name: str) -> _Plugin:
        known = self._by_object.get(id(obj))
        if known is not None:
            return known
        plugin = _Plugin(f"{distribution}: {module_name}", distribution, module_name, obj)
        self._plugins.append(plugin)
        self._by_object[id(obj)] = plugin
        try:
            self._pm.register(obj, name=f"{distribution}:{module_name}:{id(obj)}")
        except BaseException as exc:  # noqa: BLE001 - a plugin must never stop the hub
            _not_an_interrupt(exc)
            plugin.error = _describe_exception(exc)
            return plugin
        try:
            self._pm.check_pending()  # a hook name that is not ours: most likely a typo
            classes = self._call(plugin, "nirhub_backends")
        except BaseException as exc:  # noqa: BLE001
            _not_an_interrupt(exc)
            plugin.error = _describe_exception(exc)
            self._pm.unregister(obj)
            return plugin
        problems = []
        for item in classes:
            desc = getattr(item, "descriptor", None)
            if not (isinstance(item, type) and issubclass(item, Backend)):
                problems.append(f"{item!r} is not a nirhub Backend subclass")
            elif not isinstance(desc, BackendDescriptor):
                problems.append(f"{item.__name__} has no BackendDescriptor 'descriptor'")
            else:
                plugin.backends.append(item)
        if problems:
            plugin.error = "nirhub_backends() returned " + "; ".join(problems)
            plugin.backends.clear()
            return plugin
        for cls in plugin.backends:
            self._entries.setdefault(cls.descriptor.name, []).append(_Entry(cls, plugin))
        self._resolve_clashes()
        return plugin

    def _call(self, plugin: _Plugin, hook: str) -> list[Any]:
        """Call one hook of one plugin only; flatten the returned lists."""
        caller = getattr(self._pm.hook, hook)
        out: list[Any] = []
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin.obj:
                with _plugin_code():
                    result = impl.function()
                if result is None:
                    continue
                if not isinstance(result, (list, tuple)):
                    raise TypeError(f"{hook}() must return a list, got {type(result).__name__}")
                out.extend(result)
        return out

    def _load_entry_point(self, info: _EntryPointInfo) -> None:
        if id(info) in self._loaded_eps:
            return
        self._loaded_eps.add(id(info))
        label = f"{info.distribution}: {info.value}"
        try:
            assert info.ep is not None
            with _plugin_code():
                obj = info.ep.load()
        except BaseException as exc:  # noqa: BLE001 - a plugin must never crash the hub
            _not_an_interrupt(exc)
            plugin = _Plugin(
                label,
                info.distribution,
                info.value,
                None,
                error=f"importing {info.value} failed: {_describe_exception(exc)}",
            )
            self._plugins.append(plugin)
            self._missing_names.append((info, plugin))
            return
        plugin = self._add_plugin(obj, info.distribution, info.value)
        provided = {cls.descriptor.name for cls in plugin.backends}
        if info.name not in provided:
            self._missing_names.append((info, plugin))

    def _load_named(self, name: str) -> bool:
        """Load the entry points called ``name``; True if there was one."""
        hit = False
        for info in self._entry_points:
            if info.name == name:
                self._load_entry_point(info)
                hit = True
        return hit

    def load_all(self) -> None:
        """Import every plugin module (not the frameworks)."""
        for info in self._entry_points:
            self._load_entry_point(info)

    # -- clashes ------------------------------------------------------------------------------
    def _resolve_clashes(self) -> None:
        for name, entries in self._entries.items():
            for e in entries:
                e.clash = ""
            if len(entries) < 2:
                continue
            builtin = [e for e in entries if e.plugin.distribution == BUILTIN_DISTRIBUTION]
            who = ", ".join(f"{e.plugin.label}" for e in entries)
            for e in entries:
                if builtin and e is builtin[0]:
                    continue
                e.clash = f"backend name {name!r} is provided by several plugins ({who})"

    def clashes(self) -> list[str]:
        """Every name clash among all plugins, one sentence each, with the distributions."""
        self.load_all()
        out = []
        for name, entries in sorted(self._entries.items()):
            if len(entries) > 1:
                who = "; ".join(
                    f"{e.plugin.distribution} (module {e.plugin.module_name})" for e in entries
                )
                kept = [e for e in entries if not e.clash]
                tail = "the built-in one is used" if kept else "none of them is used"
                out.append(f"backend name {name!r} is claimed by {who}: {tail}")
        for alias, owners in sorted(self._alias_owners().items()):
            if len(owners) > 1:
                who = "; ".join(f"{n} ({d})" for n, d in owners)
                out.append(
                    f"alias {alias!r} is claimed by several backends: {who}; it is ignored, "
                    "use the backend names"
                )
        return out

    def _alias_owners(self) -> dict[str, list[tuple[str, str]]]:
        owners: dict[str, list[tuple[str, str]]] = {}
        for name, entries in self._entries.items():
            for e in entries:
                for alias in e.cls.descriptor.aliases:
                    owners.setdefault(alias, []).append((name, e.plugin.distribution))
        for alias in list(owners):
            if alias in self._entries:  # an alias equal to a backend name: the name wins
                owners[alias].insert(0, (alias, self._entries[alias][0].plugin.distribution))
        return owners

    # -- lookups ------------------------------------------------------------------------------
    def _local_entry(self, name: str) -> _Entry | None:
        """The usable entry for a name or alias (loads plugins as needed), else None."""
        if not self._load_named(name) and name not in self._entries:
            self.load_all()  # an alias, or a backend provided under another entry-point name
        entries = self._entries.get(name)
        if entries is None:
            owners = self._alias_owners().get(name, [])
            if len(owners) == 1:
                entries = self._entries[owners[0][0]]
        if not entries:
            return None
        ok = [e for e in entries if not e.clash]
        return ok[0] if ok else entries[0]

    def names(self) -> list[str]:
        """Every backend name (local, then remote), built-ins first."""
        return [s.name for s in self.statuses()]

    def statuses(self) -> list[BackendStatus]:
        """One row per backend, broken plugins included; built-ins first, then by name."""
        self.load_all()
        rows = []
        for entries in self._entries.values():
            for e in entries:
                rows.append(self._status(e))
        rows.extend(self._broken_rows())
        rows.sort(key=lambda r: (r.distribution != BUILTIN_DISTRIBUTION, r.name, r.distribution))
        for env in self._environments:
            rows.extend(self._remote_statuses(env))
        return rows

    def _broken_rows(self) -> list[BackendStatus]:
        rows = []
        for info, plugin in self._missing_names:
            if plugin.error:
                reason = plugin.error
            else:
                provided = ", ".join(c.descriptor.name for c in plugin.backends) or "none"
                reason = (
                    f"entry point {info.name!r} loads {info.value}, which provides no backend "
                    f"named {info.name!r} (it provides: {provided})"
                )
            rows.append(_broken_row(info.name, reason, info.distribution, info.value))
        for plugin in self._plugins:
            if plugin.error and not any(p is plugin for _, p in self._missing_names):
                rows.append(
                    _broken_row(
                        plugin.module_name, plugin.error, plugin.distribution, plugin.module_name
                    )
                )
        return rows

    def status(self, name: str) -> BackendStatus:
        """The status row of one backend (local if it exists there, else remote)."""
        bare, _, env = name.partition("@")
        if not env:
            entry = self._local_entry(name)
            if entry is not None:
                return self._status(entry)
            broken = self._broken_for(name)
            if broken is not None:
                return broken
        remote = self._find_remote(bare, env or None)
        if remote is not None:
            return remote
        raise self._unknown(name)

    def _status(self, entry: _Entry) -> BackendStatus:
        desc = entry.cls.descriptor
        if entry.clash:
            status, reason = "broken", entry.clash
            hint = "Uninstall one of the plugins (see `nirhub list-backends`)."
        else:
            checks = check_requirements(desc.requires)
            missing = [c.problem for c in checks if not c.ok]
            status = "missing-dependency" if missing else "ok"
            reason = "; ".join(missing)
            hint = ""
            if missing:
                hint = desc.install_hint or "pip install " + " ".join(
                    f'"{c.requirement}"' for c in checks if not c.ok
                )
                if python_satisfies(desc.python) is False:
                    v = ".".join(str(x) for x in sys.version_info[:2])
                    hint += (
                        f" (it needs Python {desc.python}, this is {v}: create a worker "
                        f"environment with `nirhub env create NAME --python X.Y --plugin ...`)"
                    )
        primary = desc.primary_distribution
        version = (installed_version(primary) or "") if primary else ""
        return BackendStatus(
            name=desc.name,
            aliases=desc.aliases,
            kind=desc.kind,
            directions=desc.directions,
            status=status,
            reason=reason,
            install_hint=hint,
            version=version,
            distribution=entry.plugin.distribution,
            location="local",
            descriptor=desc,
            plugin=entry.plugin.module_name,
        )

    def _broken_for(self, name: str) -> BackendStatus | None:
        for row in self._broken_rows():
            if row.name == name:
                return row
        return None

    def descriptor(self, name_or_alias: str) -> BackendDescriptor:
        """The descriptor of a backend, even when its framework is not installed."""
        row = self.status(name_or_alias)
        if row.descriptor is None:
            raise self._unavailable(row)
        return row.descriptor

    def get(self, name_or_alias: str) -> Backend:
        """The backend object. Loads only that backend's plugin (all of them for an alias).

        ``name@env`` picks the backend of one worker environment. A local backend whose
        framework is missing falls back to a worker environment that has it.
        """
        bare, _, env = name_or_alias.partition("@")
        if env:
            row = self._find_remote(bare, env)
            if row is None:
                raise self._unknown(name_or_alias)
            return self._remote_backend(row)
        entry = self._local_entry(name_or_alias)
        if entry is not None:
            row = self._status(entry)
            if row.ok:
                key = row.name
                if key not in self._instances:
                    try:
                        with _plugin_code():
                            self._instances[key] = entry.cls()
                    except BaseException as exc:  # noqa: BLE001
                        _not_an_interrupt(exc)
                        raise BackendUnavailableError(
                            f"backend {key!r} ({row.distribution}) could not be created: "
                            f"{_describe_exception(exc)}",
                            hint="This is a bug in the plugin; report it to its authors.",
                        ) from exc
                return self._instances[key]
            remote = self._find_remote(row.name, None, only_ok=True)
            if remote is not None:
                return self._remote_backend(remote)
            raise self._unavailable(row)
        broken = self._broken_for(name_or_alias)
        if broken is not None:
            raise self._unavailable(broken)
        remote = self._find_remote(name_or_alias, None)
        if remote is not None:
            if remote.ok:
                return self._remote_backend(remote)
            raise self._unavailable(remote)
        raise self._unknown(name_or_alias)

    def instance(self, name_or_alias: str) -> Backend | None:
        """The backend object if it can be created, else None (never raises)."""
        try:
            return self.get(name_or_alias)
        except BackendUnavailableError:
            return None

    def loaded_descriptors(self) -> list[BackendDescriptor]:
        return [es[0].cls.descriptor for es in self._entries.values() if es]

    def local_descriptors(self) -> list[BackendDescriptor]:
        """Descriptors of every usable local backend (loads all plugin modules)."""
        self.load_all()
        return [e.cls.descriptor for es in self._entries.values() for e in es[:1] if not e.clash]

    # -- errors -------------------------------------------------------------------------------
    def _unavailable(self, row: BackendStatus) -> BackendUnavailableError:
        where = "" if row.location == "local" else f" in environment {row.location!r}"
        if row.status == "missing-dependency":
            return BackendUnavailableError(
                f"backend {row.name!r}{where} cannot be used: {row.reason}.",
                hint=f"Install it with: {row.install_hint}" if row.install_hint else None,
            )
        return BackendUnavailableError(
            f"backend {row.name!r}{where} is broken ({row.distribution}): {row.reason}.",
            hint=row.install_hint or None,
        )

    def _unknown(self, name: str) -> BackendUnavailableError:
        disabled = [i for i in self._disabled if i.name == name]
        if disabled:
            return BackendUnavailableError(
                f"backend {name!r} is provided by the plugin {disabled[0].distribution}, but "
                "plugins are disabled.",
                hint=f"Unset {ENV_NO_PLUGINS} / {ENV_PLUGINS} or drop --no-plugins.",
            )
        try:
            known = self.names()
        except Exception:  # listing must not hide the real error
            known = sorted(self._entries)
        aliases = sorted(
            {a for es in self._entries.values() for e in es for a in e.cls.descriptor.aliases}
        )
        shipped = shipped_backend(name)
        if shipped is not None:  # a plugin of this repository that is not installed
            return BackendUnavailableError(
                f"backend {name!r} is not installed; installed backends: "
                f"{', '.join(known) or 'none'}.",
                hint=shipped.install_hint(),
            )
        close = difflib.get_close_matches(name, known + aliases, n=3)
        hint = f"Did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        hint += (
            "Install the plugin that provides it (a distribution with an entry point in the "
            f"group {hookspecs.ENTRY_POINT_GROUP!r}), or see `nirhub list-backends`."
        )
        return BackendUnavailableError(
            f"unknown backend {name!r}; known backends: {', '.join(known) or 'none'}.",
            hint=hint,
        )

    # -- passes and CLI commands ----------------------------------------------------------------
    def passes(self, *, loaded_only: bool = False) -> list[GraphPass]:
        """Graph passes contributed by plugins (built-ins first).

        ``loaded_only`` keeps to plugins already imported (the conversion pipeline uses it so
        that ``--to norse`` imports no other plugin).
        """
        if not loaded_only:
            self.load_all()
        out: list[Any] = []
        for plugin in self._plugins:
            if plugin.obj is None or plugin.error:
                continue
            if plugin.passes is None:
                try:
                    plugin.passes = self._call(plugin, "nirhub_passes")
                except BaseException as exc:  # noqa: BLE001
                    _not_an_interrupt(exc)
                    plugin.passes = []
                    self.warnings.append(
                        f"plugin {plugin.label}: nirhub_passes() failed: {_describe_exception(exc)}"
                    )
            out.extend(plugin.passes)
        return out

    def cli_commands(self, *, loaded_only: bool = False) -> list[tuple[str, Any]]:
        """``(name, typer app or callable)`` pairs contributed by plugins.

        ``loaded_only`` keeps to plugins already imported (``nirhub --help`` imports none).
        """
        if not loaded_only:
            self.load_all()
        out: list[tuple[str, Any]] = []
        for plugin in self._plugins:
            if plugin.obj is None or plugin.error:
                continue
            if plugin.commands is None:
                try:
                    items = self._call(plugin, "nirhub_cli_commands")
                    plugin.commands = [(str(n), c) for n, c in items]
                except BaseException as exc:  # noqa: BLE001
                    _not_an_interrupt(exc)
                    plugin.commands = []
                    self.warnings.append(
                        f"plugin {plugin.label}: nirhub_cli_commands() failed: "
                        f"{_describe_exception(exc)}"
                    )
            out.extend(plugin.commands)
        return out

    def plugins(self, *, load: bool = True) -> list[dict[str, str]]:
        """Plugin modules and their distributions (for ``nirhub --version``).

        ``load=False`` imports nothing: entry points not imported yet are listed from the
        installed metadata (no error known for them).
        """
        if load:
            self.load_all()
        out = []
        for info in self._entry_points:
            if id(info) not in self._loaded_eps:
                out.append(
                    {
                        "distribution": info.distribution,
                        "version": installed_version(info.distribution) or "",
                        "module": info.value,
                        "error": None,
                    }
                )
        for p in self._plugins:
            version = installed_version(p.distribution) or ""
            out.append(
                {
                    "distribution": p.distribution,
                    "version": version,
                    "module": p.module_name,
                    "error": p.error,
                }
            )
        return out

    # -- worker environments --------------------------------------------------------------------
    @property
    def environments(self) -> dict[str, Environment]:
        return dict(self._environments)

    def refresh_environments(self) -> None:
        """Ask every worker environment again instead of using the cached descriptions
        (``nirhub list-backends --refresh``); the cache is updated."""
        self._refresh_remote = True
        self._remote.clear()

    def _remote_statuses(self, env: str) -> list[BackendStatus]:
        if env not in self._remote:
            from nirhub.hub.workers import describe_environment

            self._remote[env] = describe_environment(
                self._environments[env], refresh=self._refresh_remote
            )
        return self._remote[env]

    def _find_remote(
        self, name: str, env: str | None, *, only_ok: bool = False
    ) -> BackendStatus | None:
        if env is not None and env not in self._environments:
            known = ", ".join(self._environments) or "none configured"
            raise UsageError(
                f"no worker environment named {env!r} (environments: {known})",
                hint="Add one with `nirhub env add NAME PYTHON` or `nirhub env create`.",
            )
        envs = [env] if env is not None else list(self._environments)
        fallback = None
        for e in envs:
            for row in self._remote_statuses(e):
                if row.name == name or name in row.aliases:
                    if row.ok:
                        return row
                    fallback = fallback or row
        return None if only_ok else fallback

    def _remote_backend(self, row: BackendStatus) -> Backend:
        key = f"{row.name}@{row.location}"
        if key not in self._instances:
            from nirhub.hub.workers import RemoteBackend

            assert row.descriptor is not None
            self._instances[key] = RemoteBackend(row.descriptor, self._environments[row.location])
        return self._instances[key]


def _broken_row(name: str, reason: str, distribution: str, module: str) -> BackendStatus:
    hint = (
        f"Reinstall or update {distribution} (pip install --upgrade {distribution}), or run "
        "nirhub with --no-plugins."
        if distribution != BUILTIN_DISTRIBUTION
        else "This is a bug in nirhub; please report it."
    )
    return BackendStatus(
        name=name,
        aliases=(),
        kind="unknown",
        directions=(),
        status="broken",
        reason=reason,
        install_hint=hint,
        version="",
        distribution=distribution,
        location="local",
        descriptor=None,
        plugin=module,
    )


def _import_builtin(module_name: str) -> ModuleType:
    from importlib import import_module

    return import_module(module_name)


def _distribution_of(obj: Any) -> str:
    """The distribution that installed a plugin object's module ("<local>" if none)."""
    module = getattr(obj, "__module__", None) if not isinstance(obj, ModuleType) else obj.__name__
    top = (module or "").split(".")[0]
    if top == "nirhub":
        return BUILTIN_DISTRIBUTION
    try:
        dists = metadata.packages_distributions().get(top)
    except Exception:
        dists = None
    return dists[0] if dists else "<local>"


def _entry_points() -> list[_EntryPointInfo]:
    from nirhub.hub.discovery import plugin_entry_points

    eps = plugin_entry_points(hookspecs.ENTRY_POINT_GROUP)
    out = []
    seen: set[tuple[str, str, str]] = set()
    for ep in eps:
        info = _EntryPointInfo(ep.name, ep.value, _dist_name(ep), ep)
        key = (info.name, info.value, info.distribution)
        if key not in seen:  # one distribution on sys.path twice
            seen.add(key)
            out.append(info)
    return out


def _split_names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def make_registry(
    *,
    plugins: bool | Iterable[str] | None = None,
    extra: Sequence[object] = (),
    environments: Mapping[str, str | os.PathLike[str] | Environment] | bool | None = None,
) -> Registry:
    """Build a registry.

    ``plugins``: ``None`` honours the environment (``NIRHUB_NO_PLUGINS=1``: built-ins only;
    ``NIRHUB_PLUGINS=a,b``: only the entry points or distributions named), ``True`` loads every
    installed plugin, ``False`` none, a list of names acts as ``NIRHUB_PLUGINS``.
    ``extra``: plugin modules or objects registered directly (tests, ``nirhub.testing``).
    ``environments``: worker environments; ``None`` reads the configuration file
    (``nirhub.hub.workers``), ``False`` uses none, a mapping gives ``name -> python``.
    """
    warnings: list[str] = []
    allow: list[str] | None = None
    if plugins is None:
        if os.environ.get(ENV_NO_PLUGINS, "").strip() not in ("", "0", "false", "no"):
            plugins = False
        elif os.environ.get(ENV_PLUGINS, "").strip():
            allow = _split_names(os.environ[ENV_PLUGINS])
        else:
            plugins = True
    elif not isinstance(plugins, bool):
        allow = list(plugins)
    found = _entry_points()
    if allow is not None:
        selected = [i for i in found if i.name in allow or _same_dist(i.distribution, allow)]
        unknown = [
            a
            for a in allow
            if not any(i.name == a or _same_dist(i.distribution, [a]) for i in found)
        ]
        if unknown:
            warnings.append(
                f"{ENV_PLUGINS} names plugins that are not installed: {', '.join(unknown)}"
            )
    elif plugins:
        selected = found
    else:
        selected = []
    disabled = [i for i in found if i not in selected]
    try:
        envs = _environments(environments)
    except UsageError as exc:  # a damaged environments file must not stop the hub
        warnings.append(f"{exc.message} {exc.hint or ''}".strip())
        envs = {}
    return Registry(
        entry_points=selected,
        disabled_entry_points=disabled,
        extra=extra,
        environments=envs,
        warnings=warnings,
    )


def _same_dist(dist: str, names: Iterable[str]) -> bool:
    norm = dist.lower().replace("_", "-").replace(".", "-")
    return any(norm == n.lower().replace("_", "-").replace(".", "-") for n in names)


def _environments(value: Any) -> dict[str, Environment]:
    if value is False:
        return {}
    # the configuration module only: nirhub.hub.workers (subprocesses) is imported when an
    # environment is actually asked
    from nirhub.hub.envconfig import Environment
    from nirhub.hub.envconfig import environments as configured

    if value is None or value is True:
        return configured()
    out = {}
    for name, python in value.items():
        out[name] = python if isinstance(python, Environment) else Environment(name, Path(python))
    return out


_DEFAULT: dict[str, Registry] = {}


def default_registry() -> Registry:
    """The registry of this process (plugins per the environment variables), made once."""
    if "registry" not in _DEFAULT:
        _DEFAULT["registry"] = make_registry()
    return _DEFAULT["registry"]


def reset_default_registry() -> None:
    """Forget the cached default registry (tests; after installing a plugin at run time)."""
    _DEFAULT.clear()
