"""Writing a :class:`~nirhub.ir.graph.Graph` to a ``.nir`` (HDF5) file.

Two layouts (see ``docs/file-format.md``):

``nir_version="1.0.8"`` (default)
    The current layout (spec §2), read by nir >= 1.0.6 (and everything else that reads
    current files).
``nir_version="1.0.4"``
    The layout nir 1.0.4 reads; Sinabs and Rockpool pin ``nir<=1.0.4``. No ``v_reset`` and no
    ``CubaLI`` exist there, and six node types have no ``metadata``. nir 1.0.4 documents
    *reset by subtraction*, so a spiking node is written only when that keeps its meaning
    (its nirhub reset mode is ``"subtract"``, or the graph says nothing about the reset at all:
    no reset mode and no ``v_reset``); otherwise the write is refused, listing every node.

Reference readers construct nodes from the stored datasets, so fields they require but the
graph leaves open (Conv ``input_shape`` and ``bias``, Flatten ``input_type``, Output ``shape``)
are filled in from shape inference (bias: zeros) and tagged with the HDF5 attribute
``nirhub_inferred``; nirhub's reader drops tagged values again, so ``read(write(g)) == g``.
Reference readers ignore attributes.

Files are written to a temporary file in the destination folder and moved into place
atomically; an existing file is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
from h5py import h5a, h5d, h5g, h5p, h5s, h5t

from nirhub._files import finish_output, is_stream, make_temp_file, resolve_output, set_default_mode
from nirhub._names import MAX_ENDPOINT_LENGTH, name_problem, shown
from nirhub.errors import FileFormatError, Problem, RefusedError, UnsupportedError, UsageError
from nirhub.io._fast_format import NotFast
from nirhub.io._fast_write import FastSink
from nirhub.io._h5 import ReadLimits
from nirhub.io.reader import INFERRED_ATTR, PYTYPE_ATTR
from nirhub.io.schema import FIELDS, NIR104_NO_METADATA, NIR104_UNKNOWN_TYPES
from nirhub.ir.conventions import namespace
from nirhub.ir.graph import Graph, infer_shapes
from nirhub.ir.nodes import SPIKING_TYPES, Flatten, Node, Output, _Conv, _Elementwise

LAYOUTS = ("1.0.8", "1.0.4")
#: the reader's default nesting limit: a file nirhub writes, nirhub reads
_MAX_DEPTH = ReadLimits().max_depth
_GZIP_LEVEL = 4


@dataclass
class WriteReport:
    """What :func:`write` did: the file, the layout, and what the layout could not carry."""

    path: str
    nir_version: str
    #: human-readable notes, e.g. metadata the 1.0.4 layout has no place for
    notes: list[str] = field(default_factory=list)


def write(
    graph: Graph,
    path: str | os.PathLike[str],
    *,
    nir_version: str = "1.0.8",
    compression: str | None = None,
    overwrite: bool = False,
) -> WriteReport:
    """Write ``graph`` to ``path`` atomically in the layout of ``nir_version``.

    ``compression="gzip"`` compresses every non-scalar array (level 4, as nir 1.0.8 does).
    Raises :class:`RefusedError` if ``path`` exists and ``overwrite`` is False,
    :class:`FileFormatError` for names HDF5 cannot hold (containing ``/``), and
    :class:`UnsupportedError` listing every node the chosen layout cannot express.
    """
    return _write(
        graph, path, nir_version=nir_version, compression=compression, overwrite=overwrite
    )


def _write(
    graph: Graph,
    path: str | os.PathLike[str],
    *,
    nir_version: str = "1.0.8",
    compression: str | None = None,
    overwrite: bool = False,
    engine: str = "auto",
) -> WriteReport:
    """:func:`write`, choosing the engine: "auto" (fast unless outside the fast subset,
    compressed or not), "fast" (raises ``NotFast`` instead of falling back) or "h5py"."""
    if not isinstance(graph, Graph):
        raise UsageError(f"write() needs a nirhub Graph, got {type(graph).__name__}")
    if nir_version not in LAYOUTS:
        raise UsageError(
            f"nir_version must be one of {', '.join(LAYOUTS)}; got {nir_version!r}",
            hint="1.0.8 is the current layout; 1.0.4 is for tools that pin nir<=1.0.4.",
        )
    if compression not in (None, "gzip"):
        raise UsageError(f"compression must be None or 'gzip', got {compression!r}")
    target = os.fspath(path)
    if os.path.isdir(target):
        raise UsageError(f"{target} is a directory; give a file name such as model.nir")
    if os.path.lexists(target) and not overwrite and not os.path.islink(target):
        raise RefusedError(
            f"{target} already exists; not overwriting it",
            hint="Pass overwrite=True (--force on the command line) to replace it.",
        )
    # a symbolic link stands for the file it names; devices and FIFOs are streamed into
    target = os.fspath(resolve_output(target, force=overwrite))
    plan = _plan(graph, nir_version)
    report = WriteReport(target, nir_version, plan.notes)
    parts = None
    if engine != "h5py":
        try:
            sink = FastSink(gzip=compression == "gzip")
            _Writer(sink, plan).write_file(graph, nir_version)
            parts = sink.parts()
        except NotFast:
            if engine == "fast":
                raise
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = make_temp_file(folder, target)
    try:
        if parts is not None:
            # write through mkstemp's descriptor: reopening with truncation would make ext4
            # flush the whole file to disk on close (its "auto_da_alloc" heuristic)
            with os.fdopen(fd, "wb", buffering=0) as fh:
                fd = -1
                _write_parts(fh, parts)
        else:
            os.close(fd)
            fd = -1
            with h5py.File(tmp, "w") as f:
                _Writer(_H5Sink(f, compression == "gzip"), plan).write_file(graph, nir_version)
        if overwrite or is_stream(target):
            finish_output(tmp, target)
        else:
            set_default_mode(tmp)
            _move_into_place(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return report


def _write_parts(fh: Any, parts: list[Any]) -> None:
    """Write the pieces in order: small ones joined into large writes, big arrays directly."""
    small: list[Any] = []
    for part in parts:
        if len(part) < (1 << 16):
            small.append(part)
            continue
        if small:
            _write_all(fh, b"".join(small))
            small = []
        _write_all(fh, part)
    if small:
        _write_all(fh, b"".join(small))


def _write_all(fh: Any, data: Any) -> None:
    view = memoryview(data)
    while view.nbytes:
        n = fh.write(view)
        view = view[n:]


def _move_into_place(tmp: str, target: str) -> None:
    """Rename ``tmp`` to ``target`` unless ``target`` appeared meanwhile."""
    try:
        os.link(tmp, target)  # atomic "create only if absent"
    except FileExistsError:
        raise RefusedError(
            f"{target} appeared while writing; not overwriting it",
            hint="Pass overwrite=True to replace it.",
        ) from None
    except OSError:  # file systems without hard links
        if os.path.exists(target):
            raise RefusedError(f"{target} already exists; not overwriting it") from None
        finish_output(tmp, target)
        return
    os.unlink(tmp)


# --------------------------------------------------------------------------------------------
# Planning: what each node needs in the target layout (computed before the file is created)
# --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    legacy: bool
    #: dotted path -> {field: value} for fields filled in for reference readers
    filled: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: dotted path -> population shape that the node's 0-d parameters are written with
    population: dict[str, tuple[int, ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _plan(graph: Graph, nir_version: str) -> _Plan:
    legacy = nir_version == "1.0.4"
    plan = _Plan(legacy)
    problems: list[Problem] = []
    _check_names(graph, "")
    needs_shapes = [
        (path, node)
        for path, node in graph.walk()
        if (isinstance(node, _Conv) and (node.input_shape is None or node.bias is None))
        or (isinstance(node, Flatten) and node.input_type is None)
        or (isinstance(node, Output) and node.shape is None)
        or _has_scalar_params(node)
    ]
    info = infer_shapes(graph) if needs_shapes else None
    for path, node in needs_shapes:
        assert info is not None
        shape_in = info.inputs.get(path)
        fill: dict[str, Any] = {}
        missing: str | None = None
        if isinstance(node, _Elementwise):
            # nir >= 1.0.5 takes a neuron's type from its parameters' shapes: a 0-d tau
            # makes a 0-d population that no edge can feed, so write the inferred one
            if shape_in is not None:
                plan.population[path] = tuple(shape_in)
            continue
        if isinstance(node, _Conv):
            if node.input_shape is None:
                if shape_in is not None and len(shape_in) == node.ndim_spatial + 1:
                    fill["input_shape"] = tuple(shape_in[1:])
                else:
                    missing = "input_shape"
            if node.bias is None:
                fill["bias"] = np.zeros(node.out_channels, dtype=node.weight.dtype)
        elif isinstance(node, Flatten):
            if shape_in is not None:
                fill["input_type"] = tuple(shape_in)
            else:
                missing = "input_type"
        elif isinstance(node, Output):
            if shape_in is not None:
                fill["shape"] = tuple(shape_in)
            else:
                missing = "shape"
        if fill:
            plan.filled[path] = fill
        if missing is not None:
            msg = (
                f"{node.type_name}.{missing} is not set and cannot be inferred from the graph; "
                "nir readers require it"
            )
            if legacy:
                problems.append(Problem(path, msg, missing, "missing-field"))
            else:
                plan.notes.append(f"{path}: {msg} (written without it; nirhub reads it back)")
    if legacy:
        problems += _legacy_problems(graph, plan)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise UnsupportedError(
            f"the graph cannot be written in the nir {nir_version} layout "
            f"({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n{listing}",
            problems=problems,
            hint="Write the current layout (nir_version='1.0.8') instead, or change the nodes "
            "listed.",
        )
    return plan


def _has_scalar_params(node: Node) -> bool:
    return isinstance(node, _Elementwise) and any(
        isinstance(v, np.ndarray) and v.ndim == 0 for v in node.params().values()
    )


def _check_names(graph: Graph, prefix: str, depth: int = 0) -> None:
    """Refuse what nirhub's reader would refuse: bad names, nesting past its depth limit.

    ``depth`` counts as the reader does: the root graph is 0, its nodes 1, a node's metadata
    group one more than the node, each nested metadata group one more.
    """
    for name, node in graph.nodes.items():
        if depth + 1 > _MAX_DEPTH:
            raise FileFormatError(
                f"node {shown(prefix + name)} cannot be written: graphs are nested more than "
                f"{_MAX_DEPTH} deep, which readers refuse",
                hint="Flatten some subgraphs (nirhub.flatten) before writing.",
            )
        if "/" in name or name in (".", ".."):
            raise FileFormatError(
                f"node {prefix + name!r} cannot be written: HDF5 uses '/' as its path "
                "separator, so node names must not contain '/' (nor be '.' or '..')",
                hint="Rename the node (Graph.rename_node).",
            )
        if "\0" in name:  # libhdf5 would cut the name short at the NUL
            raise FileFormatError(
                f"node {prefix + name!r} cannot be written: HDF5 names cannot hold NUL characters",
                hint="Rename the node (Graph.rename_node).",
            )
        problem = name_problem(name)
        if problem is not None:  # nirhub's reader would refuse the file
            raise FileFormatError(
                f"node {shown(prefix + name)} cannot be written: its name {problem}",
                hint="Rename the node (Graph.rename_node).",
            )
        _check_metadata_keys(node.metadata, f"{prefix}{name}", depth=depth + 2)
        if isinstance(node, Graph):
            for endpoint in {n for edge in node.edges for n in edge}:
                problem = name_problem(endpoint, limit=MAX_ENDPOINT_LENGTH)
                if problem is not None:
                    raise FileFormatError(
                        f"graph {shown(prefix + name)}: an edge endpoint {problem}: "
                        f"{shown(endpoint)}"
                    )
        if isinstance(node, Graph):
            _check_names(node, f"{prefix}{name}.", depth + 1)
    if not prefix:
        _check_metadata_keys(graph.metadata, "<graph>", depth=1)
        for endpoint in {n for edge in graph.edges for n in edge}:
            problem = name_problem(endpoint, limit=MAX_ENDPOINT_LENGTH)
            if problem is not None:
                raise FileFormatError(f"an edge endpoint {problem}: {shown(endpoint)}")


def _check_metadata_keys(
    md: dict[str, Any], where: str, trail: str = "metadata", *, depth: int = 1
) -> None:
    if md and depth > _MAX_DEPTH:
        raise FileFormatError(
            f"{where}: {trail} cannot be written: metadata is nested more than {_MAX_DEPTH} "
            "deep, which readers refuse"
        )
    for key, value in md.items():
        if not isinstance(key, str) or not key or "/" in key or "\0" in key or key in (".", ".."):
            raise FileFormatError(
                f"{where}: {trail} key {key!r} cannot be written: keys must be non-empty "
                "strings without '/' and NUL"
            )
        if isinstance(value, dict):
            _check_metadata_keys(value, where, f"{trail}.{key}", depth=depth + 1)


def _legacy_problems(graph: Graph, plan: _Plan) -> list[Problem]:
    from nirhub.ir.conventions import reset_mode

    problems: list[Problem] = []
    explicit_anywhere = _has_reset_entry(graph)
    for path, node in graph.walk():
        if node.type_name in NIR104_UNKNOWN_TYPES:
            problems.append(
                Problem(path, f"{node.type_name} does not exist in nir 1.0.4", None, "unsupported")
            )
        if node.type_name in NIR104_NO_METADATA and node.metadata:
            plan.notes.append(
                f"{path}: dropped metadata {sorted(node.metadata)} ({node.type_name} has no "
                "metadata in nir 1.0.4)"
            )
        if node.type_name not in SPIKING_TYPES:
            continue
        v_reset = getattr(node, "v_reset", None)
        mode = reset_mode(graph, path)
        explicit = explicit_anywhere and _reset_is_explicit(graph, path)
        if mode == "subtract":
            if v_reset is not None:
                plan.notes.append(
                    f"{path}: dropped v_reset (the node resets by subtraction, which is what "
                    "nir 1.0.4 means by a missing v_reset)"
                )
            continue
        if explicit and mode != "zero":
            problems.append(
                Problem(
                    path,
                    f"resets by {_VARIANT_RESETS.get(mode, mode)} (nirhub reset mode {mode!r}), "
                    "which nir 1.0.4 cannot record: its readers subtract the threshold in the "
                    "spike step (mode 'subtract')",
                    None,
                    "reset-variant",
                )
            )
        elif explicit:
            problems.append(
                Problem(
                    path,
                    "resets to v_reset (nirhub reset mode 'zero'), but nir 1.0.4 readers reset "
                    "by subtraction",
                    "v_reset",
                    "reset-mode",
                )
            )
        elif v_reset is not None:
            nonzero = bool(np.any(v_reset != 0))
            problems.append(
                Problem(
                    path,
                    f"has v_reset ({'nonzero' if nonzero else 'zeros'}), i.e. resets to a value; "
                    "nir 1.0.4 has no v_reset and resets by subtraction",
                    "v_reset",
                    "reset-mode",
                )
            )
        else:
            plan.notes.append(
                f"{path}: the graph does not say how this node resets; nir 1.0.4 readers "
                "reset by subtraction"
            )
    if any(p.kind == "reset-mode" for p in problems):
        problems.append(
            Problem(
                "<graph>",
                "if the model really resets by subtraction, record it on each node listed "
                "(a node's own entry wins over the graph's) with "
                "nirhub.set_reset(node.metadata, 'subtract') and write again",
                None,
                "hint",
            )
        )
    if any(p.kind == "reset-variant" for p in problems):
        problems.append(
            Problem(
                "<graph>",
                "the current layout (-O nir-version=1.0.8, the default) keeps these reset "
                "modes; a nir 1.0.4 file would change the model's spikes",
                None,
                "hint",
            )
        )
    return problems


#: how the framework reset variants read in a message
_VARIANT_RESETS: dict[str, str] = {
    "subtract-delayed": "subtraction one step late (snnTorch's default reset_delay=True)",
    "subtract-guarded": "guarded subtraction (snnTorch's reset_delay=False)",
}


def _has_reset_entry(graph: Graph) -> bool:
    return any("reset" in namespace(n.metadata) for _, n in graph.walk()) or (
        "reset" in namespace(graph.metadata)
    )


def _reset_is_explicit(graph: Graph, path: str) -> bool:
    """Whether some node or enclosing graph on ``path`` records a reset mode."""
    if "reset" in namespace(graph.metadata):
        return True
    node: Node = graph
    parts = path
    while isinstance(node, Graph) and parts:
        if parts in node.nodes:
            return "reset" in namespace(node.nodes[parts].metadata)
        for i, ch in enumerate(parts):
            if ch == "." and isinstance(node.nodes.get(parts[:i]), Graph):
                node = node.nodes[parts[:i]]
                if "reset" in namespace(node.metadata):
                    return True
                parts = parts[i + 1 :]
                break
        else:
            return False
    return False


# --------------------------------------------------------------------------------------------
# Writing: one traversal of the graph, two sinks (the fast in-memory serializer of
# nirhub.io._fast_write, and h5py's low-level API for everything the fast subset lacks)
# --------------------------------------------------------------------------------------------

_STR_DTYPE = h5py.string_dtype("utf-8")


class _H5Sink:
    """Writes through h5py's low-level API (several times faster per dataset than h5py's
    high-level one); used for compression and for content outside the fast subset."""

    def __init__(self, f: h5py.File, gzip: bool) -> None:
        self.f = f
        self.gzip = gzip
        self.lcpl = h5p.create(h5p.LINK_CREATE)
        self.lcpl.set_char_encoding(h5t.CSET_UTF8)
        self.ordered = h5p.create(h5p.GROUP_CREATE)
        self.ordered.set_link_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
        self.scalar = h5s.create(h5s.SCALAR)
        self.str_tid = h5t.py_create(_STR_DTYPE, logical=True)
        self.tids: dict[np.dtype, h5t.TypeID] = {}

    def root(self) -> Any:
        return self.f.id

    def group(self, loc: Any, name: str, ordered: bool = False) -> h5g.GroupID:
        return h5g.create(
            loc, name.encode("utf-8"), lcpl=self.lcpl, gcpl=self.ordered if ordered else None
        )

    def close_group(self, group: Any) -> None:
        """Nothing to do: h5py links each object when it is created."""

    def string(self, loc: Any, name: str, value: str, attrs: dict[str, str] | None = None):
        dsid = h5d.create(loc, name.encode("utf-8"), self.str_tid, self.scalar, lcpl=self.lcpl)
        dsid.write(h5s.ALL, h5s.ALL, np.array(value, dtype=_STR_DTYPE))
        self._attrs(dsid, attrs)

    def strings(
        self, loc: Any, name: str, values: np.ndarray, attrs: dict[str, str] | None = None
    ) -> None:
        space = h5s.create_simple(values.shape)
        dsid = h5d.create(loc, name.encode("utf-8"), self.str_tid, space, lcpl=self.lcpl)
        if values.size:
            dsid.write(h5s.ALL, h5s.ALL, values)
        self._attrs(dsid, attrs)

    def array(
        self, loc: Any, name: str, value: np.ndarray, attrs: dict[str, str] | None = None
    ) -> None:
        arr = value if value.flags.c_contiguous else np.ascontiguousarray(value)
        tid = self.tids.get(arr.dtype)
        if tid is None:
            tid = self.tids[arr.dtype] = h5t.py_create(arr.dtype, logical=True)
        dcpl = None
        if arr.ndim == 0:
            space = self.scalar
        else:
            space = h5s.create_simple(arr.shape)
            if self.gzip and arr.size:
                dcpl = h5p.create(h5p.DATASET_CREATE)
                dcpl.set_chunk(_chunks(arr))
                dcpl.set_deflate(_GZIP_LEVEL)
        dsid = h5d.create(loc, name.encode("utf-8"), tid, space, dcpl=dcpl, lcpl=self.lcpl)
        if arr.size:
            dsid.write(h5s.ALL, h5s.ALL, arr)
        self._attrs(dsid, attrs)

    def null(self, loc: Any, name: str) -> None:
        h5d.create(
            loc,
            name.encode("utf-8"),
            h5t.py_create(np.dtype("f8")),
            h5s.create(h5s.NULL),
            lcpl=self.lcpl,
        )

    def _attrs(self, dsid: Any, attrs: dict[str, str] | None) -> None:
        for key, value in (attrs or {}).items():
            aid = h5a.create(dsid, key.encode(), self.str_tid, self.scalar)
            aid.write(np.array(value, dtype=_STR_DTYPE))


_INFERRED = {INFERRED_ATTR: "true"}


class _Writer:
    """Walks the graph in file order and hands every group and dataset to a sink."""

    def __init__(self, sink: Any, plan: _Plan) -> None:
        self.sink = sink
        self.plan = plan

    def write_file(self, graph: Graph, nir_version: str) -> None:
        sink = self.sink
        root = sink.root()
        sink.string(root, "version", nir_version)
        node = sink.group(root, "node")
        self.node(node, graph, "")
        sink.close_group(node)
        sink.close_group(root)

    def node(self, group: Any, node: Node, path: str) -> None:
        sink = self.sink
        sink.string(group, "type", node.type_name)
        if isinstance(node, Graph):
            nodes = sink.group(group, "nodes", ordered=True)
            prefix = path + "." if path else ""
            for name, child in node.nodes.items():
                child_group = sink.group(nodes, name)
                self.node(child_group, child, prefix + name)
                sink.close_group(child_group)
            sink.close_group(nodes)
            edges = np.empty((len(node.edges), 2), dtype=_STR_DTYPE)
            for i, (s, d) in enumerate(node.edges):
                edges[i, 0] = s
                edges[i, 1] = d
            sink.strings(group, "edges", edges)
        else:
            filled = self.plan.filled.get(path, {})
            population = self.plan.population.get(path)
            for name, value in _encode_fields(node, self.plan.legacy).items():
                attrs = None
                if population is not None and isinstance(value, np.ndarray) and not value.ndim:
                    value = np.ascontiguousarray(np.broadcast_to(value, population))
                if value is None:
                    if name not in filled:
                        continue
                    value = _encode_field(node, name, filled[name])
                    attrs = _INFERRED
                if isinstance(value, str):
                    sink.string(group, name, value, attrs)
                else:
                    sink.array(group, name, value, attrs)
        if node.metadata and not (self.plan.legacy and node.type_name in NIR104_NO_METADATA):
            md = sink.group(group, "metadata", ordered=True)
            self.metadata(md, node.metadata, path)
            sink.close_group(md)

    def metadata(self, group: Any, md: dict[str, Any], where: str) -> None:
        sink = self.sink
        for key, value in md.items():
            if isinstance(value, dict):
                sub = sink.group(group, key, ordered=True)
                self.metadata(sub, value, where)
                sink.close_group(sub)
                continue
            kind, data, marker = _classify_meta(key, value, where)
            attrs = None if marker is None else {PYTYPE_ATTR: marker}
            if kind == "null":
                sink.null(group, key)
            elif kind == "str":
                sink.string(group, key, data, attrs)
            elif kind == "strings":
                sink.strings(group, key, data, attrs)
            else:
                sink.array(group, key, data, attrs)


def _classify_meta(key: str, value: Any, where: str) -> tuple[str, Any, str | None]:
    """How a metadata value is stored: (kind, data, type marker or None).

    kind is "null" (None), "str", "strings" (object array of str) or "array" (numeric).
    """
    marker: str | None = None
    if value is None:
        return "null", None, None
    if isinstance(value, str):
        _check_no_nul(value, key, where)
        return "str", value, None
    if isinstance(value, (bool, np.bool_)):
        return "array", np.asarray(bool(value) if isinstance(value, bool) else value), None
    if isinstance(value, int) and not isinstance(value, np.integer):
        if not -(2**63) <= value < 2**63:
            raise FileFormatError(
                f"{where or '<graph>'}: metadata value {key!r} = {value} does not fit int64"
            )
        return "array", np.asarray(value, dtype=np.int64), None
    if isinstance(value, float):
        return "array", np.asarray(value, dtype=np.float64), None
    if isinstance(value, np.generic):
        arr = np.asarray(value)
    elif isinstance(value, np.ndarray):
        arr = value
        if arr.ndim == 0:
            marker = "ndarray"
    elif isinstance(value, (list, tuple)):
        marker = "tuple" if isinstance(value, tuple) else "list"
        if value and all(isinstance(v, str) for v in value):
            for v in value:
                _check_no_nul(v, key, where)
            # a list of str reads back as a list without a marker
            strings = np.array(list(value), dtype=_STR_DTYPE)
            return "strings", strings, "tuple" if marker == "tuple" else None
        arr = _list_array(value, key, where)
    else:
        raise FileFormatError(
            f"{where or '<graph>'}: metadata value {key!r} of type {type(value).__name__} "
            "cannot be written",
            hint="Use str, int, float, bool, None, numpy arrays, lists of those, or dicts.",
        )
    if arr.dtype.kind not in "biuf":
        raise FileFormatError(
            f"{where or '<graph>'}: metadata array {key!r} has dtype {arr.dtype}; only "
            "numeric and boolean arrays (and lists of str) can be written"
        )
    return "array", arr, marker


def _check_no_nul(text: str, key: str, where: str) -> None:
    if "\0" in text:
        raise FileFormatError(
            f"{where or '<graph>'}: metadata value {key!r} cannot be written: HDF5 strings "
            "cannot hold NUL characters"
        )


def _list_array(value: list | tuple, key: str, where: str) -> np.ndarray:
    def bad() -> FileFormatError:
        return FileFormatError(
            f"{where or '<graph>'}: metadata list {key!r} cannot be written: lists must hold "
            "only strings, or only numbers/bools (a rectangular nesting of them)"
        )

    def ok(v: Any) -> bool:
        if isinstance(v, (list, tuple)):
            return all(ok(x) for x in v)
        return isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating))

    if not ok(value):
        raise bad()
    try:
        arr = np.asarray(value)
    except ValueError:
        raise bad() from None
    if arr.dtype == object:
        raise bad()
    if arr.size == 0:
        arr = arr.astype(np.float64)
    return arr


def _chunks(arr: np.ndarray) -> tuple[int, ...]:
    from h5py._hl.filters import guess_chunk

    return tuple(guess_chunk(arr.shape, None, arr.dtype.itemsize))


def _encode_fields(node: Node, legacy: bool) -> dict[str, Any]:
    """Field name -> on-disk value (ndarray or str); None = absent (may be filled)."""
    out: dict[str, Any] = {}
    for spec in FIELDS[node.type_name]:
        value = getattr(node, spec.name)
        if legacy and spec.name == "v_reset":
            continue
        out[spec.name] = None if value is None else _encode_field(node, spec.name, value)
    return out


def _encode_field(node: Node, name: str, value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, str):
        return value
    if isinstance(node, _Conv) and node.ndim_spatial == 1 and isinstance(value, tuple):
        # nir's Conv1d holds plain ints for these
        return np.asarray(value[0], dtype=np.int64)
    return np.asarray(value, dtype=np.int64)
