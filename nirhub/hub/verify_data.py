"""The samples ``nirhub verify`` runs: one input file, or a test set streamed sample by sample.

* ``--input X.npy|.npz``: one sample, as ``nirhub simulate`` reads it (``.npy`` for a graph
  with one Input node, ``.npz`` with one array per Input node).
* ``--dataset D.npz``: ``x`` of shape ``(N, T, ...)`` and optionally ``y`` of shape ``(N,)``.
  Sample ``i`` is read on its own: an uncompressed member is memory-mapped, a compressed one
  is decompressed up to that row; memory does not grow with ``N``. Nothing is unpickled.
* ``--dataset FOLDER``: one ``.npy`` per sample (sorted by file name), labels optional in
  ``labels.npy`` / ``labels.txt`` (one integer per sample, in file-name order) or
  ``labels.csv`` (``file,label`` lines).

Every check that can be made without running anything is made when the set is opened (labels
that do not match ``N``, a sample whose shape does not fit the graph), so a bad set fails
before any work, with exit code 3.
"""

from __future__ import annotations

import ast
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.errors import ExitCode, NirhubError, UsageError

LABEL_FILES = ("labels.npy", "labels.txt", "labels.csv")
#: the largest .npy header read (numpy itself refuses larger ones by default)
_MAX_HEADER = 10_000


class DatasetError(NirhubError):
    """A dataset or input file is malformed or does not fit the graph (exit code 3)."""

    exit_code = ExitCode.INVALID_INPUT


@dataclass(frozen=True)
class _NpyMember:
    """Where the rows of one ``.npy`` array (in a file or an ``.npz`` member) are stored."""

    path: Path
    member: str | None  # None: a plain .npy file
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    #: offset of the data: in the file (plain or stored member) or in the member's stream
    offset: int
    #: the member is deflated: rows are read through zipfile, not memory-mapped
    compressed: bool

    @property
    def row_shape(self) -> tuple[int, ...]:
        return self.shape[1:]

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize

    def row(self, index: int) -> np.ndarray:
        """Row ``index`` (a copy), read without loading the others."""
        start = self.offset + index * self.row_bytes
        if self.member is None or not self.compressed:
            with open(self.path, "rb") as fh:
                fh.seek(start)
                data = fh.read(self.row_bytes)
        else:
            with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as fh:
                fh.seek(start)
                data = fh.read(self.row_bytes)
        if len(data) != self.row_bytes:
            raise DatasetError(f"{self._name()}: sample {index} is truncated")
        return np.frombuffer(data, dtype=self.dtype).reshape(self.row_shape).copy()

    def read_all(self) -> np.ndarray:
        return np.stack([self.row(i) for i in range(self.shape[0])]) if self.shape[0] else None

    def _name(self) -> str:
        return f"{self.path}" + (f"[{self.member}]" if self.member else "")


def _parse_header(fh: Any, name: str) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """Shape, dtype, Fortran order and header length of an ``.npy`` stream (no pickle)."""
    magic = fh.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise DatasetError(f"{name} is not a .npy array")
    major = magic[6]
    size_bytes = 2 if major == 1 else 4
    raw = fh.read(size_bytes)
    hlen = int.from_bytes(raw, "little")
    if hlen > _MAX_HEADER:
        raise DatasetError(f"{name}: its .npy header is {hlen} bytes long; refusing to read it")
    try:
        header = ast.literal_eval(fh.read(hlen).decode("latin1"))
        dtype = np.dtype(header["descr"])
        shape = tuple(int(s) for s in header["shape"])
        fortran = bool(header["fortran_order"])
    except Exception as exc:
        raise DatasetError(f"{name}: unreadable .npy header ({exc})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise DatasetError(
            f"{name} holds {dtype} values; samples must be numeric (bool, int or float)"
        )
    return shape, dtype, fortran, 8 + size_bytes + hlen


def _npy_file(path: Path) -> _NpyMember:
    with open(path, "rb") as fh:
        shape, dtype, fortran, offset = _parse_header(fh, str(path))
    return _NpyMember(path, None, shape, dtype, fortran, offset, compressed=False)


def _npz_members(path: Path) -> dict[str, _NpyMember]:
    members: dict[str, _NpyMember] = {}
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{path} is not an .npz file ({exc})") from None
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            with zf.open(info) as fh:
                shape, dtype, fortran, offset = _parse_header(fh, f"{path}[{name}]")
            compressed = info.compress_type != zipfile.ZIP_STORED
            if not compressed:  # the data sits in the zip file itself: offset in the file
                with open(path, "rb") as raw:
                    raw.seek(info.header_offset + 26)
                    n, m = np.frombuffer(raw.read(4), dtype="<u2")
                offset += info.header_offset + 30 + int(n) + int(m)
            members[name] = _NpyMember(
                path, info.filename, shape, dtype, fortran, offset, compressed=compressed
            )
    return members


class Samples:
    """A sequence of samples (``{input name: (T, *shape)}``) with optional integer labels."""

    def __init__(
        self,
        description: str,
        count: int,
        reader: Any,
        labels: np.ndarray | None,
        input_names: Sequence[str],
    ) -> None:
        self.description = description
        self._count = count
        self._reader = reader
        self.labels = labels
        self.input_names = list(input_names)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not 0 <= index < self._count:
            raise IndexError(index)
        return self._reader(index)

    def label(self, index: int) -> int | None:
        return None if self.labels is None else int(self.labels[index])

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the set (for resuming a run: the same set, the same samples): its
        path, size and modification time (of the folder's files, for a folder)."""
        path = Path(self.description)
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        stamp = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.is_file()]
        return {"source": self.description, "count": self._count, "files": stamp}


def open_samples(
    *,
    graph: Any,
    input: str | os.PathLike[str] | None = None,
    dataset: str | os.PathLike[str] | None = None,
) -> Samples:
    """The samples to verify on: exactly one of ``input`` and ``dataset`` (module docstring).

    The first sample's shape is checked against the graph's Input nodes here.
    """
    if (input is None) == (dataset is None):
        raise UsageError(
            "give exactly one of --input (one sample) and --dataset (a test set)",
            hint="--input X.npy|.npz for one sample; --dataset D.npz (x: (N, T, ...), "
            "y: (N,)) or a folder of .npy samples for a test set.",
        )
    names = list(graph.inputs)
    if input is not None:
        samples = _single(Path(input), names)
    else:
        path = Path(dataset)  # type: ignore[arg-type]
        if path.is_dir():
            samples = _folder(path, names)
        elif path.suffix.lower() == ".npz" and path.is_file():
            samples = _npz_dataset(path, names)
        elif not path.exists():
            raise UsageError(f"{path}: no such file or folder", hint="Check the --dataset path.")
        else:
            raise UsageError(
                f"{path}: a dataset is an .npz file (x, y) or a folder of .npy samples",
                hint="For one sample, use --input.",
            )
    if len(samples) == 0:
        raise DatasetError(f"{samples.description} holds no samples")
    check_fits(samples, graph)
    return samples


def check_fits(samples: Samples, graph: Any) -> None:
    """The first sample must be ``(T, *shape)`` (or a batch, ``(T, B, *shape)``) for every
    Input node of the graph."""
    first = samples[0]
    for name in samples.input_names:
        arr = first[name]
        node = graph.nodes.get(name)
        want = tuple(int(s) for s in node.shape) if getattr(node, "shape", None) else None
        if want is None:
            continue
        single = arr.ndim == len(want) + 1 and tuple(arr.shape[1:]) == want
        batch = arr.ndim == len(want) + 2 and tuple(arr.shape[2:]) == want
        if not (single or batch):
            shape = ", ".join(str(s) for s in want)
            raise DatasetError(
                f"{samples.description}: a sample of input {name!r} has shape "
                f"{tuple(arr.shape)}, but the graph expects (T, {shape})",
                hint="Samples are time-major: (T, ...) each; a dataset's x is (N, T, ...).",
            )
        if arr.shape[0] == 0:
            raise DatasetError(f"{samples.description}: the samples have no time steps")


def _single(path: Path, names: list[str]) -> Samples:
    from nirhub.sim.inputs import load_inputs

    if not path.exists():
        raise UsageError(f"{path}: no such file", hint="Check the --input path.")
    arrays = load_inputs(path, names)
    return Samples(str(path), 1, lambda _i: arrays, None, names)


def _npz_dataset(path: Path, names: list[str]) -> Samples:
    members = _npz_members(path)
    if "x" not in members:
        have = ", ".join(members) or "nothing"
        raise DatasetError(
            f"{path} has no array 'x' (it has: {have})",
            hint="A dataset .npz holds x (N, T, ...) and optionally y (N,).",
        )
    if len(names) != 1:
        raise DatasetError(
            f"the graph has {len(names)} Input nodes; an .npz dataset feeds one",
            hint="Give a folder of .npz samples keyed by Input name instead.",
        )
    x = members["x"]
    if x.fortran or len(x.shape) < 2:
        raise DatasetError(f"{path}: x must be a C-ordered array (N, T, ...), got shape {x.shape}")
    labels = None
    if "y" in members:
        labels = _check_labels(members["y"].read_all(), x.shape[0], f"{path}[y]")
    name = names[0]
    return Samples(str(path), x.shape[0], lambda i: {name: x.row(i)}, labels, names)


def _folder(path: Path, names: list[str]) -> Samples:
    files = sorted(
        p
        for p in path.iterdir()
        if p.suffix.lower() in (".npy", ".npz") and p.name not in LABEL_FILES
    )
    labels = None
    found = [path / n for n in LABEL_FILES if (path / n).is_file()]
    if len(found) > 1:
        raise DatasetError(f"{path} has several label files ({', '.join(p.name for p in found)})")
    if found:
        labels = _check_labels(_read_labels(found[0], files), len(files), str(found[0]))

    def read(i: int) -> dict[str, np.ndarray]:
        from nirhub.sim.inputs import load_inputs

        return load_inputs(files[i], names)

    return Samples(str(path), len(files), read, labels, names)


def _read_labels(path: Path, files: list[Path]) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if path.suffix == ".txt":
        try:
            return np.array([int(ln) for ln in lines])
        except ValueError as exc:
            raise DatasetError(f"{path}: one integer label per line ({exc})") from None
    by_name: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        parts = [p.strip() for p in line.split(",")]
        if n == 1 and not parts[-1].lstrip("-").isdigit():
            continue  # a header line
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DatasetError(f"{path}:{n}: expected 'file,label', got {line!r}")
        by_name[parts[0]] = int(parts[1])
    missing = [f.name for f in files if f.name not in by_name]
    if missing:
        raise DatasetError(
            f"{path} has no label for {len(missing)} sample(s): {', '.join(missing[:5])}"
        )
    return np.array([by_name[f.name] for f in files])


def _check_labels(labels: Any, count: int, where: str) -> np.ndarray:
    arr = np.asarray(labels) if labels is not None else np.zeros(0)
    if arr.ndim != 1 or arr.shape[0] != count:
        raise DatasetError(
            f"{where}: {arr.shape[0] if arr.ndim else 0} labels for {count} samples "
            f"(shape {tuple(arr.shape)})",
            hint="Labels are one integer class per sample: shape (N,).",
        )
    if arr.dtype.kind not in "biu" and not (
        arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
    ):
        raise DatasetError(f"{where}: labels must be integer classes, got {arr.dtype}")
    return arr.astype(np.int64)
