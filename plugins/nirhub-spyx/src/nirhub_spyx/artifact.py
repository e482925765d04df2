"""The artifact: ``<name>.py`` (readable; needs numpy, jax, flax, spyx) + ``<name>.npz``.

``load_model`` never runs the saved file: it reads the JSON spec embedded in its last lines
and the ``.npz`` (``allow_pickle=False``), regenerates the module source and runs that.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import FileFormatError, UsageError, write_atomically
from nirhub_spyx.codegen import MARKER, SPEC_PREFIX, ModelSpec, generate


def save_model(
    model: Any, path: Path, *, force: bool = False, dt: float | None = None, input_shape: Any = None
) -> list[Path]:
    """Write ``path`` (``.py``) and ``path.with_suffix('.npz')``; return both.

    A model nirhub built is saved with its current parameters (after training too).
    """
    from nirhub_spyx.export import export_spyx, is_graph_model
    from nirhub_spyx.importer import generate_module

    path = Path(path)
    if path.suffix != ".py":
        path = path.with_suffix(".py")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    graph = export_spyx(model, dt=dt, input_shape=input_shape)
    method = graph.metadata["nirhub"].get("method", "euler")
    if is_graph_model(model):
        method = model.method
    gen = generate_module(
        graph,
        graph.metadata["nirhub"]["dt"],
        method=method,
        weights_name=path.with_suffix(".npz").name,
        embed_spec=True,
    )
    code = gen.code
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in gen.spec.arrays.items()})
    weights = path.with_suffix(".npz")
    write_atomically(weights, buf.getvalue(), force=force)
    write_atomically(path, code.encode("utf-8"), force=force)
    return [path, weights]


def load_model(path: Path, *, weights: Path | None = None, dtype: Any = None) -> Any:
    """Rebuild a saved model from its embedded spec and weights (the file is not run)."""
    from nirhub_spyx.importer import Generated, execute

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read: {exc}", path=str(path)) from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != MARKER:
        raise FileFormatError(
            "is not a model module written by nirhub's spyx backend (first line is not "
            f"{MARKER!r})",
            path=str(path),
            hint="For your own Spyx code, give a model reference: file.py:model_or_factory.",
        )
    # the spec's JSON, cut into comment lines that fit the line length (codestyle.comment_lines)
    spec_lines = [ln[len(SPEC_PREFIX) :] for ln in lines if ln.startswith(SPEC_PREFIX)]
    if not spec_lines:
        raise FileFormatError("holds no embedded nirhub spec line", path=str(path))
    npz = Path(weights) if weights is not None else path.with_suffix(".npz")
    if not npz.is_file():
        raise FileFormatError(f"its weights file {npz} is missing", path=str(path))
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"cannot read the weights: {exc}", path=str(npz)) from None
    try:
        spec = ModelSpec.from_json("".join(spec_lines), arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"the embedded spec is damaged: {exc}", path=str(path)) from None
    return execute(Generated(generate(spec, weights_name=npz.name), spec), dtype=dtype)
