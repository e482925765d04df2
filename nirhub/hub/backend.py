"""The interface a backend implements.

A backend class carries its :class:`~nirhub.hub.descriptor.BackendDescriptor` as the class
attribute ``descriptor`` and implements the directions it declares. Its module must be cheap to
import: the framework (torch, jax, lava, ...) is imported inside the methods, never at module
level, so ``nirhub list-backends`` stays fast with every plugin installed.

Methods a backend does not support keep the default, which raises ``NotImplementedError``; the
hub never calls them because it checks the descriptor first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nirhub.hub.descriptor import BackendDescriptor

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.ir.graph import Graph


class ConversionWarning(UserWarning):
    """Something a conversion lost or assumed (an approximation, a dropped attribute).

    Backends report it with ``warnings.warn(message, ConversionWarning)``; the hub collects
    every warning raised during a conversion into ``ConversionReport.warnings``.
    """


class Checked(list):  # type: ignore[type-arg]
    """What :meth:`Backend.check` found: the problems (it *is* that list, so ``== []`` still
    means "fits"), and the work done to find them.

    ``prepared`` is whatever the check computed that the import needs again (a lowering, a
    layer plan, a built network). The hub passes it to :meth:`Backend.from_ir` as the keyword
    ``prepared`` with the same graph and options, so a conversion analyses its graph once. A
    backend must accept ``prepared=None`` (a direct call) and then do the work itself.
    """

    def __init__(self, problems: Any = (), prepared: Any = None) -> None:
        super().__init__(problems)
        self.prepared = prepared


def prepared_of(checked: Any) -> dict[str, Any]:
    """``{"prepared": ...}`` when a check result carries prepared work, else ``{}``: the
    keyword arguments the hub adds to :meth:`Backend.from_ir`."""
    prepared = getattr(checked, "prepared", None)
    return {} if prepared is None else {"prepared": prepared}


class Backend:
    """Base class of every backend (simulators, hardware targets, file formats)."""

    descriptor: ClassVar[BackendDescriptor]

    # -- framework -> IR -------------------------------------------------------------------
    def owns(self, model: Any) -> bool:
        """True if ``model`` (an in-memory object) belongs to this backend's framework.

        The default checks the object's class module against ``descriptor.modules`` without
        importing anything.
        """
        module = type(model).__module__.split(".")[0]
        return module in self.descriptor.modules

    def claims(self, path: Path) -> bool | None:
        """Does the file at ``path`` (one of ``descriptor.reads``) belong to this backend?

        Asked only when several backends read the same suffix. Look at the file's first bytes;
        never execute or unpickle it. ``None`` (the default) means "cannot tell". Files that
        start with the line ``# nirhub artifact: backend=<name> ...`` are routed without asking.
        """
        return None

    def load(
        self, path: Path, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> Any:
        """Load a model source file of one of ``descriptor.reads`` into a framework object."""
        raise NotImplementedError

    def to_ir(self, model: Any, **options: Any) -> Graph:
        """Export a framework model to the IR. Record ``dt`` and reset modes in metadata
        (``nirhub.ir.conventions``). Raise ``UnsupportedError`` listing *every* module that
        cannot be expressed, by module name."""
        raise NotImplementedError

    # -- IR -> framework -------------------------------------------------------------------
    def from_ir(self, graph: Graph, **options: Any) -> Any:
        """Import a (validated, legal) graph into a framework object.

        ``options`` are resolved by the hub (declared options parsed, ``dt`` given, else
        recorded, else default) and may hold ``prepared``: what :meth:`check` returned in its
        :class:`Checked` for this graph and these options.
        """
        raise NotImplementedError

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        """Write the deployable artifact(s) for ``obj`` (as returned by :meth:`from_ir`).

        ``path`` is the requested output; write atomically. Return every file written.
        ``options`` hold ``force`` (the user's ``--force``) besides the resolved options.
        """
        raise NotImplementedError

    def check(self, graph: Graph, **options: Any) -> list[Any]:
        """Backend-specific legality beyond node types (chip limits, parameter ranges).

        Return a list of :class:`~nirhub.errors.Problem`, empty when the graph fits; a
        :class:`Checked` list may also carry the analysis for :meth:`from_ir` to reuse.
        """
        return []

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        """Optional resource/mapping report (neurons used, bit widths, quantization error)."""
        return {}

    # -- run hook ---------------------------------------------------------------------------
    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> Any:
        """Import ``graph`` and run it in the framework; return a
        ``nirhub.sim.SimulationResult`` with the same conventions as the reference simulator
        (time-major outputs per Output node; recorded ``spikes``/``v``/``I`` per node path)."""
        raise NotImplementedError
