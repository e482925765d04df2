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
import fnmatch
import hashlib
import importlib
import importlib.util
import inspect
import io
import os
import pickletools
import re
import sys
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
    from nirhub.hub.registry import Registry

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
MAX_PICKLE_BYTES = 256 * 1024 * 1024
#: modules that say nothing about the framework (every torch pickle refers to them)
GENERIC_MODULES: frozenset[str] = frozenset(
    {"torch", "collections", "builtins", "__builtin__", "copyreg", "numpy", "_codecs", "typing"}
)

_REFERENCE = re.compile(r"^(?P<target>.+?):(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_]\w*)*)$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


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
    shown = ", ".join(sorted(m for m in modules if m not in GENERIC_MODULES)) or "none"
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
            f"{path}: refusing to load: its pickle refers to {', '.join(foreign[:12])}, which "
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
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name == "data.pkl" or name.endswith("/data.pkl"):
                    return name
    except (zipfile.BadZipFile, OSError):
        return None
    return None


def scan_torch_file(path: Path) -> list[str]:
    """Every global (``module.name``) a PyTorch file's pickle refers to, without running it.

    Handles the zip format of ``torch.save`` (``archive/data.pkl``) and the legacy format
    (several pickles in a row). A reference that cannot be resolved statically is reported
    as ``<dynamic>``, which no allow-list matches.
    """
    if zipfile.is_zipfile(path):
        name = _zip_pickle_name(path)
        if name is None:
            raise FileFormatError(
                "is a zip archive without data.pkl, not a PyTorch file", path=str(path)
            )
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(name)
            if info.file_size > MAX_PICKLE_BYTES:
                raise FileFormatError(
                    f"its pickle is {info.file_size} bytes (limit {MAX_PICKLE_BYTES})",
                    path=str(path),
                    location=name,
                )
            try:
                data = z.read(name)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:  # bad CRC, ...
                raise FileFormatError(
                    f"is a damaged zip archive ({exc})", path=str(path), location=name
                ) from None
        return pickle_globals(data, source=f"{path}:{name}")
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


def pickle_globals(data: bytes, *, source: str = "<pickle>", max_pickles: int = 1) -> list[str]:
    """The globals a pickle stream imports (GLOBAL, INST, STACK_GLOBAL, extension codes)."""
    stream = io.BytesIO(data)
    found: list[str] = []
    for _ in range(max_pickles):
        if stream.tell() >= len(data):
            break
        stack: list[Any] = []
        memo: dict[int, Any] = {}
        try:
            for op, arg, _pos in pickletools.genops(stream):
                name = op.name
                if name in ("GLOBAL", "INST"):
                    module, _, attr = str(arg).partition(" ")
                    # what the unpickler does for protocol-2 pickles (py2 names)
                    if (module, attr) in _compat_pickle.NAME_MAPPING:
                        module, attr = _compat_pickle.NAME_MAPPING[(module, attr)]
                    else:
                        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
                    found.append(f"{module}.{attr}")
                    stack.append(None)
                elif name == "STACK_GLOBAL":
                    attr = stack.pop() if stack else None
                    module = stack.pop() if stack else None
                    if isinstance(module, str) and isinstance(attr, str):
                        found.append(f"{module}.{attr}")
                    else:
                        found.append("<dynamic>")
                    stack.append(None)
                elif name in ("EXT1", "EXT2", "EXT4"):
                    found.append(f"<extension code {arg}>")
                    stack.append(None)
                elif name in _STRING_OPS:
                    stack.append(
                        arg
                        if isinstance(arg, str)
                        else arg.decode("latin-1")
                        if isinstance(arg, bytes)
                        else None
                    )
                elif name == "MEMOIZE":
                    memo[len(memo)] = stack[-1] if stack else None
                elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[int(arg)] = stack[-1] if stack else None
                elif name in ("GET", "BINGET", "LONG_BINGET"):
                    stack.append(memo.get(int(arg)))
                elif name in ("PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK"):
                    continue
                else:
                    stack.append(None)
        except ValueError as exc:
            if found or _ > 0:
                break  # trailing raw storage bytes after the last pickle (legacy format)
            raise FileFormatError(f"is not a valid pickle ({exc})", path=source) from None
    # unique, in order of appearance
    return list(dict.fromkeys(found))


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


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
    listing = ", ".join(offending[:12]) + (" ..." if len(offending) > 12 else "")
    return RefusedError(
        f"{path}: refusing to load: its pickle refers to {listing}, which {why}. Loading it "
        "could run arbitrary code.",
        hint="If you trust this file, pass --trust-pickle (trust_pickle=True).",
    )


def _resolve_global(ref: str) -> Any:
    module, _, attr = ref.rpartition(".")
    # nested classes are pickled with their qualified name in newer protocols; try both splits
    parts = ref.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for name in parts[i:]:
                obj = getattr(obj, name)
        except AttributeError:
            continue
        return obj
    raise ImportError(f"cannot import {attr} from {module}")


def load_torch_model(path: Path, descriptor: BackendDescriptor, *, trust_pickle: bool) -> Any:
    """Load a whole-module ``.pt``: weights-only plus the backend's declared safe classes."""
    refs = scan_torch_file(path)
    torch = _import_torch()
    if trust_pickle:
        return torch.load(path, weights_only=False, map_location="cpu")
    default = torch_default_globals()
    extra = [r for r in refs if r not in default]
    offending = [r for r in extra if not matches_any(r, descriptor.safe_classes)]
    if offending:
        why = (
            f"backend {descriptor.name!r} does not declare safe"
            if descriptor.safe_classes
            else f"are not plain tensors (backend {descriptor.name!r} declares no safe classes)"
        )
        raise _refuse(path, offending, why)
    allowed = []
    for ref in extra:
        try:
            allowed.append((_resolve_global(ref), ref))
        except ImportError as exc:
            raise FileFormatError(
                f"refers to {ref}, which cannot be imported here ({exc})",
                path=str(path),
                hint=f"Is the version of {ref.split('.')[0]} that saved it installed?",
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
    model = load_reference(target, attr)
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
    return FileFormatError(
        f"{what} failed: {type(exc).__name__}: {first}",
        hint="The error comes from the model's own code; run it directly to debug it.",
    )
