"""The artifact: ``<name>.py`` (readable, needs only numpy + nengo) + ``<name>.npz`` (arrays).

``load_network`` never runs the saved file: it reads the JSON spec embedded in its last lines
and the ``.npz`` (``allow_pickle=False``), regenerates the module source from them and runs
that (the format and its checks: :mod:`nirhub.backend.spec_artifact`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nirhub.backend.spec_artifact import (
    artifact_paths,
    generator_version,
    read_artifact,
    write_artifact,
)
from nirhub_nengo.codegen import generate, spec_from_json
from nirhub_nengo.marker import MARKER


def save_network(
    net: Any, path: Path, *, force: bool = False, dt: float | None = None
) -> list[Path]:
    """Write ``path`` (``.py``) and ``path.with_suffix('.npz')``; return both."""
    from nirhub_nengo.importer import Generated, generate_module

    module, weights = artifact_paths(path)
    gen: Generated | None = getattr(net, "nirhub_generated", None)
    if gen is None:  # a network nirhub did not build: go through the IR
        from nirhub_nengo.export import export_network

        graph = export_network(net, dt=dt)
        gen = generate_module(graph, graph.metadata["nirhub"]["dt"], method="exact")
    code = generate(
        gen.spec,
        weights_name=weights.name,
        version=generator_version("nirhub-nengo"),
        embed_spec=True,
    )
    return write_artifact(module, weights, code, gen.spec.arrays, force=force)


def load_network(path: Path, *, weights: Path | None = None) -> Any:
    """Rebuild a saved network from its embedded spec and weights (the file is not run)."""
    from nirhub_nengo.importer import Generated, execute

    spec, npz = read_artifact(
        path,
        marker=MARKER,
        parse=spec_from_json,
        weights=weights,
        what="a network module written by nirhub's nengo backend",
        hint="For your own Nengo code, give a model reference: file.py:network_or_factory.",
    )
    code = generate(spec, weights_name=npz.name)
    return execute(Generated(code, spec.arrays, spec))
