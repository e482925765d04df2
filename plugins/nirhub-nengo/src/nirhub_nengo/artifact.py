"""The artifact: ``<name>.py`` (readable, needs only numpy + nengo) + ``<name>.npz`` (arrays).

``load_network`` never runs the saved file: it reads the JSON spec embedded in its last lines
and the ``.npz`` (``allow_pickle=False``), regenerates the module source from them and runs
that.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import FileFormatError, UsageError, write_atomically
from nirhub_nengo.codegen import MARKER, SPEC_PREFIX, generate, spec_from_json


def save_network(
    net: Any, path: Path, *, force: bool = False, dt: float | None = None
) -> list[Path]:
    """Write ``path`` (``.py``) and ``path.with_suffix('.npz')``; return both."""
    from nirhub_nengo.importer import Generated, _version, generate_module

    path = Path(path)
    if path.suffix != ".py":
        path = path.with_suffix(".py")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    gen: Generated | None = getattr(net, "nirhub_generated", None)
    if gen is None:  # a network nirhub did not build: go through the IR
        from nirhub_nengo.export import export_network

        graph = export_network(net, dt=dt)
        gen = generate_module(graph, graph.metadata["nirhub"]["dt"], method="exact")
    weights = path.with_suffix(".npz")
    code = generate(gen.spec, weights_name=weights.name, version=_version(), embed_spec=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in gen.spec.arrays.items()})
    write_atomically(weights, buf.getvalue(), force=force)
    write_atomically(path, code.encode("utf-8"), force=force)
    return [path, weights]


def load_network(path: Path, *, weights: Path | None = None) -> Any:
    """Rebuild a saved network from its embedded spec and weights (the file is not run)."""
    from nirhub_nengo.importer import Generated, execute

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read: {exc}", path=str(path)) from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != MARKER:
        raise FileFormatError(
            "is not a network module written by nirhub's nengo backend (first line is not "
            f"{MARKER!r})",
            path=str(path),
            hint="For your own Nengo code, give a model reference: file.py:network_or_factory.",
        )
    # the spec's JSON, cut into comment lines that fit the line length (codegen.spec_lines)
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
        spec = spec_from_json("".join(spec_lines), arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"the embedded spec is damaged: {exc}", path=str(path)) from None
    code = generate(spec, weights_name=npz.name)
    return execute(Generated(code, spec.arrays, spec))
