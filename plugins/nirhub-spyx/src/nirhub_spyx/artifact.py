"""The artifact: ``<name>.py`` (readable; needs numpy, jax, flax, spyx) + ``<name>.npz``.

``load_model`` never runs the saved file: it reads the JSON spec embedded in its last lines
and the ``.npz`` (``allow_pickle=False``), regenerates the module source and runs that (the
format and its checks: :mod:`nirhub.backend.spec_artifact`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nirhub.backend.spec_artifact import artifact_paths, read_artifact, write_artifact
from nirhub_spyx.codegen import ModelSpec, generate
from nirhub_spyx.marker import MARKER


def save_model(
    model: Any, path: Path, *, force: bool = False, dt: float | None = None, input_shape: Any = None
) -> list[Path]:
    """Write ``path`` (``.py``) and ``path.with_suffix('.npz')``; return both.

    A model nirhub built is saved with its current parameters (after training too).
    """
    from nirhub_spyx.export import export_spyx, is_graph_model
    from nirhub_spyx.importer import generate_module

    module, weights = artifact_paths(path)
    graph = export_spyx(model, dt=dt, input_shape=input_shape)
    method = graph.metadata["nirhub"].get("method", "euler")
    if is_graph_model(model):
        method = model.method
    gen = generate_module(
        graph,
        graph.metadata["nirhub"]["dt"],
        method=method,
        weights_name=weights.name,
        embed_spec=True,
    )
    return write_artifact(module, weights, gen.code, gen.spec.arrays, force=force)


def load_model(path: Path, *, weights: Path | None = None, dtype: Any = None) -> Any:
    """Rebuild a saved model from its embedded spec and weights (the file is not run)."""
    from nirhub_spyx.importer import Generated, execute

    spec, npz = read_artifact(
        path,
        marker=MARKER,
        parse=ModelSpec.from_json,
        weights=weights,
        what="a model module written by nirhub's spyx backend",
        hint="For your own Spyx code, give a model reference: file.py:model_or_factory.",
    )
    return execute(Generated(generate(spec, weights_name=npz.name), spec), dtype=dtype)
