"""Install small plugin distributions into a temporary folder on ``sys.path``.

A distribution here is what pip would leave behind: the package's modules and a
``<name>-<version>.dist-info`` folder with ``METADATA`` and ``entry_points.txt``. Discovery then
goes through the real ``importlib.metadata`` machinery, exactly as for an installed plugin.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

BACKEND_MODULE = """
from nirhub.hub.backend import Backend
from nirhub.hub.descriptor import BackendDescriptor, Requirement, Option
from nirhub.hub.hookspecs import hookimpl


class {cls}(Backend):
    descriptor = BackendDescriptor(
        name={name!r},
        kind="simulator",
        summary="a test backend",
        to_ir=frozenset({to_ir!r}),
        from_ir=frozenset({from_ir!r}),
        aliases={aliases!r},
        requires={requires},
        reads={reads!r},
        writes={writes!r},
        modules={modules!r},
        options=(Option("dt", "float", "time step", default=1e-3),),
    )

    def from_ir(self, graph, **options):
        self.last_options = options
        return ("imported", graph)

    def to_ir(self, model, **options):
        return model[1]


@hookimpl
def nirhub_backends():
    return [{cls}]
"""


def write_distribution(
    site: Path,
    dist: str,
    *,
    entry_points: dict[str, str],
    modules: dict[str, str],
    version: str = "1.0",
) -> None:
    """Write a distribution's modules and metadata into ``site``."""
    for module, source in modules.items():
        path = site / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[nirhub.backends]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def backend_module(
    name: str,
    *,
    cls: str = "B",
    to_ir=("LIF",),
    from_ir=("LIF", "Affine"),
    aliases=(),
    requires="()",
    reads=(),
    writes=(),
    modules=(),
) -> str:
    return BACKEND_MODULE.format(
        name=name,
        cls=cls,
        to_ir=set(to_ir),
        from_ir=set(from_ir),
        aliases=tuple(aliases),
        requires=requires,
        reads=tuple(reads),
        writes=tuple(writes),
        modules=tuple(modules),
    )


def forget_modules(prefix: str) -> None:
    for name in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        del sys.modules[name]
