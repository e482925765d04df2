"""Model sources: find out which backend a model belongs to, and load it safely.

A source is one of

* a ``.nir`` file (the built-in ``nir`` backend);
* a whole-module PyTorch file (``.pt``/``.pth``). Its pickle is *scanned* first, opcode by
  opcode with :mod:`pickletools` and without executing anything, for the classes it refers to;
  those name the framework (``snntorch.…`` -> the backend whose descriptor lists the module
  ``snntorch``). It is then loaded with ``torch.load(weights_only=True)``, allowing only the
  classes the detected backend declares safe (``descriptor.safe_classes``). A file that refers
  to anything else is refused before a single byte is unpickled, with the offending classes
  named, unless the user passes ``--trust-pickle``;
* a Python model reference ``path/to/file.py:name`` or ``package.module:name`` naming a model
  object or a zero-argument factory, optionally with ``--weights state.pt`` (a state dict,
  loaded weights-only);
* a framework's own file format, for the suffixes a backend declares in ``descriptor.reads``
  (loaded by ``backend.load``);
* an in-memory model object, matched to a backend by the modules of its classes.

When the chosen backend lives in a worker environment, the path or reference is handed to the
worker unopened: the framework may not even be importable here.
"""

from __future__ import annotations

import _compat_pickle
import hashlib
import importlib
import importlib.util
import inspect
import io
import os
import pickletools
import re
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub.errors import (
    FileFormatError,
    NirhubError,
    NoSuchFileError,
    RefusedError,
    UsageError,
)
from nirhub.hub.descriptor import BackendDescriptor

if TYPE_CHECKING:  # pragma: no cover
    from nirhub.hub.backend import Backend
    from nirhub.hub.registry import BackendStatus, Registry

#: the hint of a model source that does not exist
MISSING_SOURCE_HINT = (
    "Give a model file (.nir, .pt, or a format a backend reads), or a model reference like "
    "path/to/model.py:name or package.module:name."
)
#: suffixes handled by the safe PyTorch loader
TORCH_SUFFIXES: tuple[str, ...] = (".pt", ".pth")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: the largest HDF5 user block looked behind for the signature (libhdf5 allows any power of 2)
MAX_USERBLOCK = 1 << 20
#: a pickle larger than this is refused (a model's pickle is kilobytes; tensors live elsewhere)
MAX_PICKLE_BYTES = 32 * 1024 * 1024
#: a pickle with more opcodes than this is refused (a model's has thousands; a few seconds)
MAX_PICKLE_OPS = 500_000
#: modules that say nothing about the framework (every torch pickle refers to them)
GENERIC_MODULES: frozenset[str] = frozenset(
    {"torch", "collections", "builtins", "__builtin__", "copyreg", "numpy", "_codecs", "typing"}
)

_REFERENCE = re.compile(r"^(?P<target>.+?):(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_]\w*)*)$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
#: a ``safe_classes`` entry: a module path and one class name, ASCII, no wildcard
_SAFE_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")


@dataclass
class Source:
    """A resolved model source."""

    #: the backend that exports it to the IR
    backend: str
    #: the framework object (a Graph for .nir; a handle for worker backends)
    model: Any
    #: how to call it in messages: the path, the reference or ``<Class object>``
    description: str
    #: the file, for file sources (used to name the default output)
    path: Path | None = None
    #: the attribute name of a model reference
    name: str | None = None


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------


def resolve_source(
    source: Any,
    *,
    registry: Registry,
    backend: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    trust_pickle: bool = False,
    options: Mapping[str, Any] | None = None,
) -> Source:
    """Identify ``source``'s backend and load it (see the module docstring)."""
    options = dict(options or {})
    weights_path = Path(weights) if weights is not None else None
    if weights_path is not None and not weights_path.is_file():
        raise UsageError(f"weights file {weights_path} does not exist")
    if not isinstance(source, (str, os.PathLike)):
        return _object_source(source, registry, backend, weights_path)
    path = Path(source)
    if path.is_file():
        return _file_source(path, registry, backend, weights_path, trust_pickle, options)
    text = os.fspath(source)
    match = _REFERENCE.match(text)
    if match and (match["target"].endswith(".py") or _MODULE.match(match["target"])):
        return _reference_source(
            text, match["target"], match["attr"], registry, backend, weights_path
        )
    if path.exists():
        raise UsageError(f"{path} is a directory, not a model file")
    raise NoSuchFileError(text, hint=MISSING_SOURCE_HINT)


def _is_remote(backend: Backend) -> bool:
    return getattr(backend, "remote", False)


# --------------------------------------------------------------------------------------------
# model objects
# --------------------------------------------------------------------------------------------


def class_modules(model: Any, *, limit: int = 10000) -> set[str]:
    """Top-level package names of the model's class and of its sub-modules' classes."""
    found = {type(model).__module__.split(".")[0]}
    children = getattr(model, "modules", None)
    if callable(children) and type(model).__module__.split(".")[0] != "nirhub":
        try:
            for i, child in enumerate(children()):
                found.add(type(child).__module__.split(".")[0])
                if i >= limit:
                    break
        except Exception:  # noqa: BLE001 - a best-effort scan; not every .modules() is torch's
            pass
    return found


def detect_backend(
    modules: Iterable[str], registry: Registry, *, what: str, model: Any = None
) -> str:
    """The backend whose ``descriptor.modules`` match ``modules`` (the framework's packages).

    Modules that every framework shares (``torch``) only decide when nothing more specific
    does. Ambiguity is an error that asks for ``--from``.
    """
    modules = set(modules)
    descs = registry.local_descriptors()
    candidates = [d for d in descs if set(d.modules) & modules]
    if not candidates:
        descs = descs + _remote_descriptors(registry)
        candidates = [d for d in descs if set(d.modules) & modules]
    if len(candidates) > 1:
        claims: dict[str, int] = {}
        for d in candidates:
            for m in set(d.modules) & modules:
                claims[m] = claims.get(m, 0) + 1
        specific = [
            d
            for d in candidates
            if any(claims[m] == 1 and m not in GENERIC_MODULES for m in set(d.modules) & modules)
        ]
        if specific:
            candidates = specific
    if len(candidates) > 1 and model is not None:
        owners = []
        for d in candidates:
            be = registry.instance(d.name)
            try:
                if be is not None and be.owns(model):
                    owners.append(d)
            except Exception:  # noqa: BLE001 - a plugin's owns() must not break detection
                continue
        if owners:
            candidates = owners
    if len(candidates) == 1:
        return candidates[0].name
    if not candidates and model is not None:
        for d in descs:
            be = registry.instance(d.name)
            try:
                if be is not None and be.owns(model):
                    return d.name
            except Exception:  # noqa: BLE001
                continue
    shown = _shown(sorted(m for m in modules if m not in GENERIC_MODULES)) or "none"
    if not candidates:
        raise UsageError(
            f"cannot tell which backend {what} belongs to (framework modules: {shown}); no "
            "installed backend claims them",
            hint="Pass --from BACKEND (from_=...), or install the plugin of its framework; "
            "`nirhub list-backends` shows what is installed.",
        )
    raise UsageError(
        f"{what} could belong to several backends: {', '.join(d.name for d in candidates)}",
        hint="Pass --from BACKEND (from_=...) to choose.",
    )


def _remote_descriptors(registry: Registry) -> list[BackendDescriptor]:
    if not registry.environments:
        return []
    return [
        s.descriptor
        for s in registry.statuses()
        if s.location != "local" and s.descriptor is not None and s.ok
    ]


def _object_source(
    model: Any, registry: Registry, backend: str | None, weights: Path | None
) -> Source:
    from nirhub.ir.graph import Graph

    if backend is None:
        backend = (
            "nir"
            if isinstance(model, Graph)
            else detect_backend(
                class_modules(model),
                registry,
                what=f"the {type(model).__name__} object",
                model=model,
            )
        )
    be = registry.get(backend)
    if _is_remote(be):
        raise UsageError(
            f"backend {backend!r} runs in another Python environment; an in-memory "
            f"{type(model).__name__} cannot be sent there",
            hint="Save the model to a file (or give a model reference file.py:name) instead.",
        )
    if weights is not None:
        load_state_dict(model, weights)
    return Source(be.descriptor.name, model, f"<{type(model).__name__} object>")


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def sniff(path: Path) -> str:
    """What a file holds, from its first bytes: ``hdf5``, ``zip``, ``pickle`` or ``unknown``.

    An HDF5 file may start with a user block (nirhub's own writer puts a 512-byte one in front):
    its signature is then at byte 512, 1024, 2048, ... (HDF5 File Format Specification, "Format
    Signature").
    """
    with open(path, "rb") as f:
        head = f.read(8)
        if head.startswith(HDF5_MAGIC):
            return "hdf5"
        offset = 512
        while offset <= MAX_USERBLOCK:
            f.seek(offset)
            sig = f.read(8)
            if len(sig) < 8:
                break
            if sig == HDF5_MAGIC:
                return "hdf5"
            offset *= 2
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "pickle"
    return "unknown"


def _file_source(
    path: Path,
    registry: Registry,
    backend: str | None,
    weights: Path | None,
    trust_pickle: bool,
    options: dict[str, Any],
) -> Source:
    suffix = path.suffix.lower()
    kind = sniff(path)
    torch_file = suffix in TORCH_SUFFIXES or (kind == "zip" and _zip_pickle_name(path))
    if backend is None:
        if suffix == ".nir" or (kind == "hdf5" and not _claimed(suffix, registry)):
            if kind != "hdf5":
                raise FileFormatError(
                    "is not an HDF5 file, so not a .nir graph (its first bytes do not match)",
                    path=str(path),
                )
            backend = "nir"
        elif torch_file:
            backend = _torch_file_backend(path, registry)
        else:
            backend = _backend_for_suffix(path, suffix, registry)
    be = registry.get(backend)
    # either spelling (nir-version / nir_version), parsed, keyed as the backend declares them
    load_options = be.descriptor.parse_options(
        {k: v for k, v in options.items() if be.descriptor.has_option(k)}, defaults=False
    )
    if _is_remote(be):
        return Source(
            be.descriptor.name,
            be.load(path, weights=weights, trust_pickle=trust_pickle, **load_options),
            str(path),
            path,
        )
    if torch_file and backend != "nir":
        if weights is not None:
            raise UsageError(
                f"--weights is for model references; {path} already holds a whole model"
            )
        model = load_torch_model(path, be.descriptor, trust_pickle=trust_pickle)
        return Source(be.descriptor.name, model, str(path), path)
    if suffix not in be.descriptor.reads and not (backend == "nir" and kind == "hdf5"):
        reads = ", ".join(be.descriptor.reads) or "none"
        raise UsageError(
            f"backend {backend!r} does not read {suffix or 'suffix-less'} files (it reads: "
            f"{reads})",
            hint="Convert the model to one of those, or use a model reference file.py:name.",
        )
    model = be.load(path, weights=weights, trust_pickle=trust_pickle, **load_options)
    return Source(be.descriptor.name, model, str(path), path)


def _torch_file_backend(path: Path, registry: Registry) -> str:
    """The backend of a whole-module ``.pt``, from the classes its pickle refers to."""
    refs = scan_torch_file(path)
    modules = {r.split(".")[0] for r in refs}
    if modules <= GENERIC_MODULES:
        raise UsageError(
            f"{path} holds tensors only (a state dict or checkpoint), not a model",
            hint="Give the model's code as a reference, with this file as its weights: "
            f"nirhub convert path/to/model.py:factory --weights {path} ...",
        )
    claimed = {
        m for d in registry.local_descriptors() + _remote_descriptors(registry) for m in d.modules
    }
    if not (modules - GENERIC_MODULES) & claimed:
        foreign = [r for r in refs if r.split(".")[0] not in GENERIC_MODULES]
        raise RefusedError(
            f"{path}: refusing to load: its pickle refers to {_shown(foreign[:12])}, which "
            "no installed backend knows. Loading it could run arbitrary code.",
            hint="If it is a model of a framework nirhub supports, install that plugin (or pass "
            "--from BACKEND); if you trust this file, pass --trust-pickle.",
        )
    return detect_backend(modules, registry, what=str(path))


def _claimed(suffix: str, registry: Registry) -> bool:
    return bool(suffix) and any(
        suffix in d.reads for d in registry.local_descriptors() if d.name != "nir"
    )


def _backend_for_suffix(path: Path, suffix: str, registry: Registry) -> str:
    descs = registry.local_descriptors()
    readers = [d for d in descs if suffix and suffix in d.reads]
    if not readers:
        remote = [d for d in _remote_descriptors(registry) if suffix and suffix in d.reads]
        readers = remote
    marked = _artifact_marker(path)
    if marked is not None and any(d.name == marked for d in readers):
        return marked
    if len(readers) > 1:
        claimed = []
        for d in readers:
            be = registry.instance(d.name)
            try:
                if be is not None and be.claims(path):
                    claimed.append(d)
            except Exception:  # noqa: BLE001 - a plugin's sniffing must not break routing
                continue
        if len(claimed) == 1:
            return claimed[0].name
    if len(readers) == 1:
        return readers[0].name
    if len(readers) > 1:
        raise UsageError(
            f"{path}: several backends read {suffix} files: {', '.join(d.name for d in readers)}",
            hint="Pass --from BACKEND (from_=...) to choose.",
        )
    known = sorted({s for d in descs for s in d.reads} | set(TORCH_SUFFIXES))
    raise UsageError(
        f"{path}: no backend reads {suffix or 'suffix-less'} files",
        hint=f"Known model files: {', '.join(known)}; or pass --from BACKEND.",
    )


_MARKER = re.compile(rb"^#\s*nirhub artifact:.*?\bbackend=([a-z][a-z0-9_-]*)")


def _artifact_marker(path: Path) -> str | None:
    """The backend named by a ``# nirhub artifact: backend=<name>`` first line, if any."""
    try:
        with open(path, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    m = _MARKER.match(first)
    return m.group(1).decode() if m else None


# --------------------------------------------------------------------------------------------
# pickle scanning
# --------------------------------------------------------------------------------------------


def _zip_pickle_name(path: Path) -> str | None:
    """The name of the pickle member of a torch zip archive (None: not one, or unreadable)."""
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name == "data.pkl" or name.endswith("/data.pkl"):
                    return name
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return None


def _torch_zip_member(z: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The one pickle torch will load from the archive, or a refusal.

    torch's reader takes the archive name from the first member's folder and loads
    ``<archive>/data.pkl``. Archives that could make the scanned pickle differ from the loaded
    one are refused: several ``data.pkl`` members (also duplicates of one name), member names
    that are absolute or climb out with ``..``, or a pickle outside the first member's folder.
    """
    infos = z.infolist()
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise FileFormatError(
                f"is a zip archive with an unsafe member name {name!r} (absolute or '..')",
                path=str(path),
                hint="A file written by torch.save never has one; do not load this file.",
            )
    pickles = [i for i in infos if i.filename == "data.pkl" or i.filename.endswith("/data.pkl")]
    if not pickles:
        raise FileFormatError(
            "is a zip archive without data.pkl, not a PyTorch file", path=str(path)
        )
    if len(pickles) > 1:
        names = ", ".join(repr(i.filename) for i in pickles[:5])
        raise FileFormatError(
            f"is a zip archive with {len(pickles)} pickles ({names}); torch.save writes one",
            path=str(path),
            hint="The pickle scanned and the pickle loaded could differ; do not load this file.",
        )
    info = pickles[0]
    archive = infos[0].filename.split("/")[0]
    if info.filename != f"{archive}/data.pkl":
        raise FileFormatError(
            f"is a zip archive whose pickle {info.filename!r} is not the one torch loads "
            f"({archive + '/data.pkl'!r})",
            path=str(path),
        )
    if info.file_size > MAX_PICKLE_BYTES:
        raise FileFormatError(
            f"its pickle is {info.file_size} bytes (limit {MAX_PICKLE_BYTES}); a model's "
            "pickle is kilobytes, its tensors live elsewhere",
            path=str(path),
            location=info.filename,
        )
    return info


def scan_torch_file(path: Path) -> list[str]:
    """Every global (``module.name``) a PyTorch file's pickle refers to, without running it.

    Handles the zip format of ``torch.save`` (exactly the ``<archive>/data.pkl`` torch loads,
    see :func:`_torch_zip_member`) and the legacy format (up to five pickles in a row: magic
    number, protocol, system info, the object, storage keys). A reference that cannot be
    resolved statically is reported as ``<dynamic>``, which no allow-list matches. The scan is
    bounded: pickles over :data:`MAX_PICKLE_BYTES` or :data:`MAX_PICKLE_OPS` opcodes are
    refused.
    """
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                info = _torch_zip_member(z, path)
                data = z.read(info)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise FileFormatError(f"is a damaged zip archive ({exc})", path=str(path)) from None
        except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encryption
            raise FileFormatError(
                f"cannot be read as a zip archive ({exc})", path=str(path)
            ) from None
        if len(data) > MAX_PICKLE_BYTES:  # pragma: no cover - the header lied
            raise FileFormatError(f"its pickle exceeds {MAX_PICKLE_BYTES} bytes", path=str(path))
        return pickle_globals(data, source=f"{path}:{info.filename}")
    if tarfile.is_tarfile(path):
        raise FileFormatError(
            "is a tar archive (torch's pre-1.6 tar format), which nirhub does not load",
            path=str(path),
            hint="Load it with torch and save it again with torch.save, if you trust it.",
        )
    with open(path, "rb") as f:
        data = f.read(MAX_PICKLE_BYTES)
    # legacy torch.save: magic number, protocol, sys info, the object, storage keys
    return pickle_globals(data, source=str(path), max_pickles=5)


_STRING_OPS = {
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GLOBAL_OPS = {"GLOBAL", "INST"}


class _Mark:
    """The stack's mark (MARK ... TUPLE)."""


def pickle_globals(data: bytes, *, source: str = "<pickle>", max_pickles: int = 1) -> list[str]:
    """The globals a pickle stream imports (GLOBAL, INST, STACK_GLOBAL, extension codes).

    The pickle machine's stack is simulated exactly as far as it matters: every opcode pops
    and pushes what :mod:`pickletools` documents, strings and memo entries keep their values,
    so ``STACK_GLOBAL`` sees the two strings the real unpickler would. A stack underflow or an
    unknown opcode is an invalid pickle. At most :data:`MAX_PICKLE_OPS` opcodes are read.
    """
    stream = io.BytesIO(data)
    found: list[str] = []
    ops = 0
    for index in range(max_pickles):
        if stream.tell() >= len(data):
            break
        stack: list[Any] = []
        marks: list[int] = []
        memo: dict[int, Any] = {}
        try:
            for op, arg, _pos in pickletools.genops(stream):
                ops += 1
                if ops > MAX_PICKLE_OPS:
                    raise FileFormatError(
                        f"its pickle has more than {MAX_PICKLE_OPS} opcodes; a model's has "
                        "thousands (refused as a decompression or CPU bomb)",
                        path=source,
                    )
                _pickle_step(op, arg, stack, marks, memo, found)
        except (ValueError, IndexError, _PickleError) as exc:
            if index > 0:
                break  # trailing raw storage bytes after the last pickle (legacy format)
            raise FileFormatError(f"is not a valid pickle ({exc})", path=source) from None
    # unique, in order of appearance
    return list(dict.fromkeys(found))


class _PickleError(Exception):
    pass


def _pop(stack: list[Any], n: int) -> list[Any]:
    if n == 0:
        return []
    if len(stack) < n:
        raise _PickleError("stack underflow")
    out = stack[-n:]
    del stack[-n:]
    return out


def _stack_effects() -> dict[str, tuple[int, int, int]]:
    """Per opcode name: (items below the mark it pops, or -1 if it pops no mark; items it
    pops otherwise; items it pushes), from :mod:`pickletools`' documentation of each opcode."""
    out = {}
    for op in pickletools.opcodes:
        before = op.stack_before
        if pickletools.markobject in before:
            out[op.name] = (before.index(pickletools.markobject), 0, len(op.stack_after))
        else:
            out[op.name] = (-1, len(before), len(op.stack_after))
    return out


_EFFECTS = _stack_effects()


def _pickle_step(
    op: Any, arg: Any, stack: list[Any], marks: list[int], memo: dict[int, Any], found: list[str]
) -> None:
    """Apply one opcode to the simulated stack, recording the globals it imports."""
    name = op.name
    below_mark, pops, pushes = _EFFECTS[name]
    if name == "MARK":
        marks.append(len(stack))
        return
    if name in _PUT_OPS or name == "MEMOIZE":
        if not stack:
            raise _PickleError("memoizing an empty stack")
        memo[len(memo) if name == "MEMOIZE" else int(arg)] = stack[-1]
        return
    popped: list[Any] = []
    if below_mark >= 0:
        if not marks:
            raise _PickleError(f"{name} without MARK")
        mark = marks.pop()
        if mark > len(stack):
            raise _PickleError("mark above the stack")
        del stack[mark:]
        _pop(stack, below_mark)
    elif pops:
        popped = _pop(stack, pops)
    value: Any = None
    if name in _STRING_OPS:
        value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
    elif name in _GET_OPS:
        if int(arg) not in memo:
            raise _PickleError(f"memo key {arg} is not set")
        value = memo[int(arg)]
    elif name in _GLOBAL_OPS:
        module, _, attr = str(arg).partition(" ")
        # what the unpickler does for protocol-2 pickles (py2 names)
        if (module, attr) in _compat_pickle.NAME_MAPPING:
            module, attr = _compat_pickle.NAME_MAPPING[(module, attr)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found.append(f"{module}.{attr}")
    elif name == "STACK_GLOBAL":
        module, attr = popped
        if isinstance(module, str) and isinstance(attr, str):
            found.append(f"{module}.{attr}")
        else:
            found.append("<dynamic>")
    elif name in ("EXT1", "EXT2", "EXT4"):
        found.append(f"<extension code {arg}>")
    elif name == "DUP":
        stack.extend(popped * 2)
        return
    if pushes == 1:
        stack.append(value)
    elif pushes:
        stack.extend([value] * pushes)


def _shown(refs: list[str]) -> str:
    """Global names from a pickle, for a message: printable ASCII ones as they are, any other
    (terminal escapes, line breaks: the file chose them) as an escaped literal."""
    return ", ".join(r if r.isascii() and r.isprintable() else ascii(r) for r in refs)


def safe_class_reference(ref: str) -> bool:
    """Is ``ref`` a valid ``safe_classes`` entry: ``module.Class``, no wildcard?"""
    return bool(_SAFE_CLASS.match(ref))


# --------------------------------------------------------------------------------------------
# safe loading with torch
# --------------------------------------------------------------------------------------------


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        from nirhub.errors import BackendUnavailableError

        raise BackendUnavailableError(
            "loading a .pt file needs PyTorch, which is not installed",
            hint="pip install torch",
        ) from None
    return torch


def torch_default_globals() -> set[str]:
    """Globals torch's weights-only unpickler allows by itself (tensors, storages, dtypes)."""
    torch = _import_torch()
    allowed: set[str] = set()
    try:
        from torch import _weights_only_unpickler as wou

        allowed |= set(wou._get_allowed_globals())
        allowed |= set(getattr(wou, "_get_user_allowed_globals", dict)())
    except Exception:  # noqa: BLE001 - private API; fall back to the documented essentials
        allowed |= {
            "collections.OrderedDict",
            "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter",
            "torch.Size",
        }
    for obj in getattr(torch.serialization, "get_safe_globals", list)():
        item = obj[0] if isinstance(obj, tuple) else obj
        allowed.add(f"{getattr(item, '__module__', '')}.{getattr(item, '__qualname__', '')}")
    return allowed


def _refuse(path: Path, offending: list[str], why: str) -> RefusedError:
    listing = _shown(offending[:12]) + (" ..." if len(offending) > 12 else "")
    return RefusedError(
        f"{path}: refusing to load: its pickle refers to {listing}, which {why}. Loading it "
        "could run arbitrary code.",
        hint="If you trust this file, pass --trust-pickle (trust_pickle=True).",
    )


def declared_safe(descriptor: BackendDescriptor) -> frozenset[str]:
    """The backend's ``safe_classes`` that are exact ``module.Class`` names (no wildcard)."""
    return frozenset(r for r in descriptor.safe_classes if safe_class_reference(r))


def resolve_safe_class(ref: str) -> type:
    """The class ``ref`` (``module.Class``) names: import exactly ``module``, get ``Class``.

    Never walks attribute chains or through module objects: the object must be a class that
    the module itself defines under that name (what pickle writes for a class), so a function
    (``os.system``), a module or a re-exported object is refused.
    """
    module_name, _, attr = ref.rpartition(".")
    if not module_name or not safe_class_reference(ref):
        raise ImportError(f"{ref!r} is not a module.Class name")
    module = importlib.import_module(module_name)
    obj = vars(module).get(attr)
    if not isinstance(obj, type):
        raise ImportError(f"{ref} is not a class")
    if obj.__module__ != module_name or obj.__qualname__ != attr:
        raise ImportError(
            f"{ref} is {obj.__module__}.{obj.__qualname__} (imported there, not defined there)"
        )
    return obj


def load_torch_model(path: Path, descriptor: BackendDescriptor, *, trust_pickle: bool) -> Any:
    """Load a whole-module ``.pt``: weights-only plus the backend's declared safe classes."""
    torch = _import_torch()
    if trust_pickle:
        try:
            return torch.load(path, weights_only=False, map_location="cpu")
        except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
            raise FileFormatError(
                f"torch could not read it: {(str(exc).splitlines() or [''])[0]}", path=str(path)
            ) from None
    refs = scan_torch_file(path)
    default = torch_default_globals()
    extra = [r for r in refs if r not in default]
    safe = declared_safe(descriptor)
    offending = [r for r in extra if r not in safe]
    if offending:
        why = (
            f"backend {descriptor.name!r} does not declare safe"
            if safe
            else f"are not plain tensors (backend {descriptor.name!r} declares no safe classes)"
        )
        raise _refuse(path, offending, why)
    allowed = []
    for ref in extra:
        try:
            allowed.append((resolve_safe_class(ref), ref))
        except ImportError as exc:
            raise FileFormatError(
                f"refers to {ref}, which cannot be imported here as a class ({exc})",
                path=str(path),
                hint=f"Is the version of {ref.split('.')[0]} that saved it installed?",
            ) from None
        except Exception as exc:  # noqa: BLE001 - the framework's own import failed
            raise FileFormatError(
                f"refers to {ref}; importing its module failed: {type(exc).__name__}: {exc}",
                path=str(path),
            ) from None
    return _weights_only_load(torch, path, allowed)


def _weights_only_load(torch: Any, path: Path, allowed: list[tuple[Any, str]]) -> Any:
    import pickle

    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        found = re.findall(r"GLOBAL ([\w.]+)", str(exc))
        raise _refuse(
            path, found or ["an unsupported global"], "torch's weights-only loader does not allow"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        raise FileFormatError(
            f"torch could not read it: {(str(exc).splitlines() or [type(exc).__name__])[0]}",
            path=str(path),
        ) from None


#: buffers in which frameworks keep a layer's *simulation state* (not weights): a state dict
#: saved after running the model holds them with the batch shape of that run. Sinabs
#: (StatefulLayer: ``v_mem``, ``i_syn``), Rockpool's torch modules (``vmem``, ``isyn``,
#: ``spikes``), snnTorch (``mem``, ``syn``, ``spk``) and Lava-dl (``current_state``,
#: ``voltage_state``).
STATE_BUFFER_NAMES: frozenset[str] = frozenset(
    {"v_mem", "i_syn", "vmem", "isyn", "spikes", "mem", "syn", "spk"}
    | {"current_state", "voltage_state"}
)


def _without_state_buffers(model: Any, state: Mapping[str, Any], weights: Path) -> Mapping:
    """``state`` without the model's known state buffers (see :data:`STATE_BUFFER_NAMES`),
    with a warning naming what was skipped: the model starts from its own initial state, as a
    freshly built one does."""
    import warnings

    from nirhub.hub.backend import ConversionWarning

    try:
        buffers = dict(model.named_buffers())
    except Exception:  # not a torch module after all: let load_state_dict say what it thinks
        return state
    skipped = [
        key for key in state if key in buffers and str(key).rsplit(".", 1)[-1] in STATE_BUFFER_NAMES
    ]
    if not skipped:
        return state
    shown = ", ".join(skipped[:6]) + (", ..." if len(skipped) > 6 else "")
    warnings.warn(
        f"{weights}: skipped {len(skipped)} state buffer{'s' if len(skipped) > 1 else ''} "
        f"({shown}): they hold the neurons' state of the run before saving, not weights; the "
        "model starts from its initial state",
        ConversionWarning,
        stacklevel=3,
    )
    # the model's own (initial) values keep a strict load_state_dict complete
    return {k: (buffers[k] if k in skipped else v) for k, v in state.items()}


def load_state_dict(model: Any, weights: Path) -> None:
    """Load a state dict (weights-only, no classes beyond tensors) into ``model``."""
    if not callable(getattr(model, "load_state_dict", None)):
        raise UsageError(
            f"--weights needs a model with load_state_dict() (PyTorch); "
            f"{type(model).__name__} has none"
        )
    refs = scan_torch_file(weights)
    torch = _import_torch()
    default = torch_default_globals()
    offending = [r for r in refs if r not in default]
    if offending:
        raise _refuse(weights, offending, "a state dict (tensors only) never needs")
    state = _weights_only_load(torch, weights, [])
    if (
        isinstance(state, Mapping)
        and "state_dict" in state
        and isinstance(state["state_dict"], Mapping)
    ):
        state = state["state_dict"]  # a training checkpoint
    if not isinstance(state, Mapping):
        raise UsageError(f"{weights} does not hold a state dict (found {type(state).__name__})")
    state = _without_state_buffers(model, state, weights)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise UsageError(
            f"the weights in {weights} do not fit the model: {str(exc).strip()}",
            hint="Check that the model reference builds the same architecture that saved them.",
        ) from None


# --------------------------------------------------------------------------------------------
# model references
# --------------------------------------------------------------------------------------------


def _reference_source(
    text: str, target: str, attr: str, registry: Registry, backend: str | None, weights: Path | None
) -> Source:
    if backend is not None:
        be = registry.get(backend)
        if _is_remote(be):
            return Source(be.descriptor.name, be.load(text, weights=weights), text, None, attr)
    try:
        model = load_reference(target, attr)
    except FileFormatError as exc:
        missing = getattr(exc, "missing_module", None)
        if backend is not None or missing is None:
            raise
        return _route_to_framework(text, attr, missing, registry, weights, exc)
    if backend is None:
        backend = detect_backend(class_modules(model), registry, what=text, model=model)
        be = registry.get(backend)
        if _is_remote(be):
            raise UsageError(
                f"{text} belongs to backend {backend!r}, which runs in another environment",
                hint=f"Pass --from {backend} so the reference is loaded there.",
            )
    if weights is not None:
        load_state_dict(model, weights)
    path = Path(target) if target.endswith(".py") else None
    return Source(be.descriptor.name, model, text, path, attr.split(".")[-1])


def _route_to_framework(
    text: str, attr: str, missing: str, registry: Registry, weights: Path | None, exc: Exception
) -> Source:
    """A model reference whose framework is not installed here: load it in the worker
    environment that has it (one backend, ready), else say which ``--from`` would."""
    rows = framework_backends(missing, registry)
    ready = [s for s in rows if s.ok and s.location != "local"]
    if ready and len({s.location for s in ready}) == 1:
        be = registry.get(ready[0].name)
        return Source(be.descriptor.name, be.load(text, weights=weights), text, None, attr)
    if rows:
        names = ", ".join(dict.fromkeys(s.name for s in rows))
        raise UsageError(
            f"{text} imports {missing!r}, which is not installed in this environment; it is "
            f"the framework of backend(s) {names}",
            hint=f"Pass --from {rows[0].name} to load the model where {missing} is installed "
            "(`nirhub list-backends` shows where each backend runs; `nirhub env create` makes "
            "an environment for it).",
        ) from None
    raise exc


def load_reference(target: str, attr: str) -> Any:
    """Import ``file.py`` or ``package.module``, get ``attr``, call it if it is a factory."""
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise UsageError(f"model reference {target}:{attr}: {target} does not exist")
        module = _import_file(path)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise UsageError(
                f"model reference {target}:{attr}: cannot import {target} ({exc})",
                hint="Is the package installed in this environment?",
            ) from None
        except Exception as exc:
            raise _code_failed(f"importing {target}", exc) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in vars(module) if not n.startswith("_"))[:20]
            raise UsageError(
                f"model reference {target}:{attr}: no attribute {part!r}",
                hint=f"It defines: {', '.join(public) or 'nothing public'}.",
            )
        obj = getattr(obj, part)
    if (
        inspect.isclass(obj)
        or inspect.isfunction(obj)
        or inspect.ismethod(obj)
        or (callable(obj) and type(obj).__name__ == "partial")
    ):
        try:
            inspect.signature(obj).bind()
        except TypeError:
            raise UsageError(
                f"model reference {target}:{attr} needs arguments; give a model object or a "
                "factory that takes none"
            ) from None
        except ValueError:
            pass  # no signature (builtins): just call it
        try:
            obj = obj()
        except NirhubError:
            raise
        except Exception as exc:
            raise _code_failed(f"calling {target}:{attr}()", exc) from None
    return obj


def _import_file(path: Path) -> Any:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"_nirhub_model_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # the model file may import its neighbours
    try:
        spec.loader.exec_module(module)
    except NirhubError:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _code_failed(f"running {path}", exc) from None
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    return module


def _code_failed(what: str, exc: BaseException) -> FileFormatError:
    first = (str(exc).strip().splitlines() or [""])[0]
    error = FileFormatError(
        f"{what} failed: {type(exc).__name__}: {first}",
        hint="The error comes from the model's own code; run it directly to debug it.",
    )
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        error.missing_module = exc.name.split(".")[0]  # type: ignore[attr-defined]
    return error


def framework_backends(module: str, registry: Registry) -> list[BackendStatus]:
    """The backends that export models of the framework ``module`` (a top-level package
    name, as ``sinabs``), simulators first."""
    rows = [
        s
        for s in registry.statuses()
        if s.descriptor is not None and s.descriptor.to_ir and module in s.descriptor.modules
    ]
    return sorted(rows, key=lambda s: (s.descriptor.kind != "simulator", s.name))
