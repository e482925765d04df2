"""pluggy hook specifications: how a plugin extends nirhub.

A plugin is a module (or object) registered with the hub's plugin manager. It is found through
the entry-point group ``nirhub.backends``: each entry point's *name* is a backend name and its
value the plugin module, so ``nirhub convert --to norse`` loads only the entry point named
``norse``. A plugin module that provides several backends is listed once per backend name.

Every hook name starts with ``nirhub_``. Hooks return what they add (``register`` style, as in
datasette and conda); the built-in ``.nir`` backend uses the same hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.hub.backend import Backend
    from nirhub.passes import GraphPass

PROJECT = "nirhub"
ENTRY_POINT_GROUP = "nirhub.backends"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def nirhub_backends() -> list[type[Backend]]:  # type: ignore[empty-body]
    """Return the backend classes this plugin provides.

    Each class has a ``descriptor`` class attribute. Importing the plugin module and calling
    this hook must not import the backend's framework.
    """


@hookspec
def nirhub_passes() -> list[GraphPass]:  # type: ignore[empty-body]
    """Return graph passes (rewrites) this plugin contributes to the conversion pipeline.

    Passes must be *exact* (the rewritten graph behaves identically under the reference
    simulator); a pass declares which target backends it applies to.
    """


@hookspec
def nirhub_cli_commands() -> list[Any]:  # type: ignore[empty-body]
    """Return ``(name, typer.Typer | callable)`` pairs to add as ``nirhub NAME`` sub-commands.

    The callable is registered with ``app.command(name)``; a Typer app with
    ``app.add_typer(..., name=name)``.
    """
