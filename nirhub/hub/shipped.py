"""The backends this repository ships as plugins, and how to install each.

A backend that is not installed is unknown to the registry (its plugin's entry point is
missing), so the registry cannot say where it comes from. This table can: it names the plugin
folder under ``plugins/`` of a nirhub clone and, for the frameworks that cannot share the hub's
environment (Lava needs Python 3.10; sinabs pins ``nir<=1.0.4``), the worker environment
to create. ``tests/test_shipped_backends.py`` keeps it in step with ``plugins/``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShippedBackend:
    """One backend provided by a plugin folder of this repository."""

    name: str
    #: the plugin's folder under ``plugins/`` (also its distribution name)
    plugin: str
    #: why it needs a worker environment, or "" when it can be installed next to nirhub
    worker_reason: str = ""
    #: the ``nirhub env create`` command line for such a backend
    worker_command: str = ""

    @property
    def folder(self) -> str:
        return f"plugins/{self.plugin}"

    @property
    def pip_command(self) -> str:
        return f'pip install "./{self.folder}[framework]"'

    def install_hint(self) -> str:
        """What to run, from a clone of nirhub, to make this backend available."""
        if self.worker_command:
            return (
                f"The backend {self.name!r} is the plugin {self.folder} of nirhub's repository; "
                f"{self.worker_reason}, so it runs in a worker environment. From a clone of "
                f"nirhub: {self.worker_command} (docs/cli.md, `nirhub env`)."
            )
        return (
            f"The backend {self.name!r} is the plugin {self.folder} of nirhub's repository. "
            f"From a clone of nirhub: {self.pip_command}"
        )


def _worker(plugins: tuple[str, ...], env: str, python: str) -> str:
    args = " ".join(f'--plugin "./plugins/{p}[framework]"' for p in plugins)
    return f"nirhub env create {env} --python {python} {args}"


_LAVA = "lava-nc and lava-dl need Python 3.10"
_SINABS = "sinabs pins nir<=1.0.4, which the hub's own environment cannot share"

SHIPPED: dict[str, ShippedBackend] = {
    b.name: b
    for b in (
        ShippedBackend("torch", "nirhub-torch"),
        ShippedBackend("snntorch", "nirhub-snntorch"),
        ShippedBackend("norse", "nirhub-norse"),
        ShippedBackend("rockpool", "nirhub-rockpool"),
        ShippedBackend("nengo", "nirhub-nengo"),
        ShippedBackend("spyx", "nirhub-spyx"),
        ShippedBackend("xylo", "nirhub-xylo"),
        ShippedBackend("spinnaker2", "nirhub-spinnaker2"),
        ShippedBackend("lava", "nirhub-lava", _LAVA, _worker(("nirhub-lava",), "lava", "3.10")),
        ShippedBackend("loihi2", "nirhub-lava", _LAVA, _worker(("nirhub-lava",), "lava", "3.10")),
        ShippedBackend(
            "sinabs", "nirhub-sinabs", _SINABS, _worker(("nirhub-sinabs",), "sinabs", "3.11")
        ),
        ShippedBackend(
            "speck",
            "nirhub-speck",
            _SINABS,
            _worker(("nirhub-sinabs", "nirhub-speck"), "sinabs", "3.11"),
        ),
    )
}


def shipped_backend(name: str) -> ShippedBackend | None:
    """The shipped backend called ``name`` (case-insensitive), if any."""
    return SHIPPED.get(name.strip().lower())
