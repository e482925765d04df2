"""Reading ``.nir`` (HDF5) files into a :class:`~nirhub.ir.graph.Graph`.

Reads every layout written by released nir versions (0.1 through 1.0.8, spec §2.7). Two modes:

* strict (default): any unexpected content (unknown dataset, wrong dtype, ...) is a
  :class:`~nirhub.errors.FileFormatError` naming the HDF5 path, and the graph must pass
  :meth:`Graph.validate`; otherwise :class:`InvalidGraphFileError` lists *every* problem.
* tolerant: the same file problems become :class:`ReadWarning` entries, known defects of real
  files are repaired (see :mod:`nirhub.io.repair`), and remaining graph problems are reported
  as warnings; the result is a :class:`ReadResult`. Nothing is printed.

Problems that leave nothing sensible to return (not HDF5, truncated, unknown node type,
missing required parameter, over-limit sizes, links) raise in both modes.
"""

from __future__ import annotations

import gc
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import h5py
import numpy as np

from nirhub._names import MAX_ENDPOINT_LENGTH, MAX_NAME_LENGTH, name_problem, shown
from nirhub.errors import FileFormatError, IRError, NoSuchFileError, Problem
from nirhub.io import _h5
from nirhub.io._h5 import Budget, ReadLimits
from nirhub.io.readwarnings import ReadWarning, problem_location
from nirhub.io.schema import FIELD_NAMES, FIELDS, REQUIRED
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NODE_TYPES, Node
from nirhub.ir.params import DeferredChecks

#: metadata marker attribute written by nirhub for values h5py would otherwise change type
PYTYPE_ATTR = "nirhub_pytype"
#: attribute on a field dataset that nirhub wrote only because reference readers require it
INFERRED_ATTR = "nirhub_inferred"
#: optional fields that nirhub's writer may fill in (tagged with INFERRED_ATTR)
_FILLABLE = frozenset({"input_shape", "bias", "input_type", "shape"})
#: dtype kinds of numeric field values
_NUMERIC = "iuf"
#: node group layouts whose plan (see _Reader._plan) is remembered
_PLANS_KEPT = 256


@dataclass
class ReadResult:
    """What a tolerant read returns: the graph and every warning (in file order)."""

    graph: Graph
    warnings: list[ReadWarning] = field(default_factory=list)
    #: the file's ``/version`` string (None for 0.1 files that have none); informational only
    version: str | None = None


class InvalidGraphFileError(FileFormatError):
    """A file was read but its graph is invalid (strict mode); ``problems`` lists them all."""

    def __init__(
        self, message: str, *, path: str, location: str | None, problems: list[Problem]
    ) -> None:
        super().__init__(
            message,
            path=path,
            location=location,
            hint="Read it with nirhub.read(path, strict=False) to load it anyway, with warnings.",
        )
        self.problems = problems


@overload
def read(
    path: str | os.PathLike[str],
    *,
    strict: Literal[True] = True,
    max_bytes: int = ...,
    limits: ReadLimits | None = ...,
) -> Graph: ...
@overload
def read(
    path: str | os.PathLike[str],
    *,
    strict: Literal[False],
    max_bytes: int = ...,
    limits: ReadLimits | None = ...,
) -> ReadResult: ...
def read(
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    max_bytes: int = _h5.DEFAULT_MAX_BYTES,
    limits: ReadLimits | None = None,
) -> Graph | ReadResult:
    """Read a ``.nir`` file.

    ``strict=True`` returns the :class:`Graph` and raises on any problem (a
    :class:`FileFormatError` naming the path inside the file; :class:`InvalidGraphFileError`,
    also a FileFormatError, listing every graph problem). ``strict=False`` returns a
    :class:`ReadResult` with the (repaired) graph and a list of :class:`ReadWarning`.

    ``max_bytes`` caps the data an untrusted file may make the reader allocate (default 2 GiB);
    ``limits`` sets all limits at once (see :class:`ReadLimits`).
    """
    return _read(path, strict=strict, max_bytes=max_bytes, limits=limits)


def _read(
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    max_bytes: int = _h5.DEFAULT_MAX_BYTES,
    limits: ReadLimits | None = None,
    engine: str = "auto",
) -> Graph | ReadResult:
    """:func:`read` with a choice of ``engine``: "auto" (the fast parser for files carrying
    nirhub's fast-layout marker, falling back to h5py), "fast" (no fallback: raises
    ``NotFast``) or "h5py"."""
    if limits is None:
        limits = ReadLimits(max_bytes=max_bytes, max_elements=max(max_bytes // 4, 1))
    # The cyclic garbage collector is paused while the graph is built and checked: a read
    # creates several objects per node and no cycles, and each full collection would walk
    # every object made so far (a cost that grows with the graph: ~8 % of a 64k-node read).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_graph(_Reader(os.fspath(path), strict, limits, engine))
    finally:
        if collecting:
            gc.enable()


def _read_graph(reader: _Reader) -> Graph | ReadResult:
    graph = reader.run()
    if reader.strict:
        reader.check_graph(graph)
        return graph
    from nirhub.io.repair import repair

    repair(graph, reader.warnings, reader.locations)
    return ReadResult(graph, reader.warnings, reader.version)


def read_version(path: str | os.PathLike[str]) -> str | None:
    """The ``/version`` string of a file (None when absent, as in nir 0.1 files)."""
    reader = _Reader(os.fspath(path), False, ReadLimits())
    with reader.open() as f:
        backend = _h5.H5Backend(f, reader.budget)
        try:
            return reader.read_version(backend)
        finally:
            backend.close()


class _Reader:
    """Turns a file into a graph through a backend: the fast parser of nirhub's own subset of
    HDF5 (:mod:`nirhub.io._fast_read`) when the file carries its marker, else h5py."""

    def __init__(self, path: str, strict: bool, limits: ReadLimits, engine: str = "auto") -> None:
        self.path = path
        self.strict = strict
        self.limits = limits
        #: "auto" (fast parser if the file has nirhub's marker), "h5py" or "fast"
        self.engine = engine
        self._reset()

    def _reset(self) -> None:
        self.budget = Budget(self.path, self.limits)
        self.warnings: list[ReadWarning] = []
        #: dotted node path ("" for the root graph) -> HDF5 location of its group
        self.locations: dict[str, str] = {}
        self.version: str | None = None
        self.where = "/"
        self.io: Any = None
        self.read_plain_string: Any = None
        self.read_plain_members: Any = None
        self.read_plain: Any = None
        #: value checks of nodes built from the parser's one-pass reads, run in bulk (see
        #: :meth:`_settle_checks`), and those nodes in read order: (node, location, dotted)
        self.checks = DeferredChecks()
        self.unchecked: list[tuple[Node, str, str]] = []
        #: (node type, member names) -> how such a node group is built from one-pass reads
        #: (see :meth:`_plan`), or False: not that way
        self.plans: dict[tuple[str, tuple[str, ...]], Any] = {}

    # -- helpers ----------------------------------------------------------------------------
    def error(self, message: str, location: str, hint: str | None = None) -> FileFormatError:
        return FileFormatError(message, path=self.path, location=location, hint=hint)

    def complain(
        self, location: str, message: str, assumed: str, kind: str, node: str | None = None
    ) -> None:
        """A problem that strict mode refuses and tolerant mode works around."""
        if self.strict:
            raise self.error(
                message, location, hint="Read with strict=False to " + assumed.split(";")[0] + "."
            )
        self.warnings.append(ReadWarning(location, message, assumed, kind, node))

    def open(self) -> h5py.File:
        if os.path.isdir(self.path):
            raise self.error("is a directory, not a .nir file", "/")
        if not os.path.exists(self.path):
            raise NoSuchFileError(self.path)  # a usage problem (exit 2), also a FileFormatError
        try:
            return h5py.File(self.path, "r")
        except OSError as exc:
            text = str(exc)
            if "signature" in text:
                msg = "is not an HDF5 file (a .nir file is HDF5)"
            elif "truncated" in text or "eof" in text.lower():
                msg = "is truncated (the HDF5 file ends early)"
            else:
                msg = f"cannot be opened as HDF5 ({text})"
            raise FileFormatError(msg, path=self.path) from None

    # -- entry point ------------------------------------------------------------------------
    def run(self) -> Graph:
        if self.engine != "h5py":
            from nirhub.io import _fast_read

            try:
                backend = _fast_read.open_fast(self.path, self.budget, self.engine == "fast")
                if backend is not None:
                    with backend:
                        return self._guarded(backend)
            except _fast_read.NotFast:
                if self.engine == "fast":
                    raise
                self._reset()  # outside the fast subset (e.g. edited by libhdf5): use h5py
        with self.open() as f:
            backend = _h5.H5Backend(f, self.budget)
            try:
                return self._guarded(backend)
            finally:
                backend.close()

    def _guarded(self, io: Any) -> Graph:
        self.io = io
        #: the fast parser's one-step reads of common datasets (None: h5py)
        self.read_plain_string = getattr(io, "read_plain_string", None)
        self.read_plain_members = getattr(io, "read_plain_members", None)
        self.read_plain = getattr(io, "read_plain", None)
        try:
            try:
                graph = self._run(io)
            except Exception:
                # a node read before the failure whose values fail their (deferred) checks
                # raises first, as it did when its values were checked at once
                self._settle_checks()
                raise
            self._settle_checks()
            return graph
        except FileFormatError:
            raise
        except (
            OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, OverflowError,
            struct.error,
        ) as exc:  # fmt: skip
            # libhdf5 reports corrupt structures as assorted exceptions (the fast parser checks
            # what it reads itself; this is its safety net)
            raise self.error(
                f"the file is corrupt or not a valid .nir file ({type(exc).__name__}: {exc})",
                self.where,
            ) from None

    def read_version(self, io: Any) -> str | None:
        gid = io.root()
        names = io.list_links(gid, "/")
        if "version" not in names:
            return None
        obj = io.open_object(gid, "version", "/version")
        value = io.read_dataset(obj, "/version") if io.is_dataset(obj) else None
        if isinstance(value, np.ndarray) and value.size == 1 and value.dtype == object:
            value = value.reshape(-1)[0]
        if not isinstance(value, str):
            self.complain(
                "/version",
                "is not a string",
                "ignored it (the version string is informational)",
                "bad-version",
            )
            return None
        return value

    def _run(self, io: Any) -> Graph:
        gid = io.root()
        self.where = "/"
        names = io.list_links(gid, "/")
        if "node" not in names:
            if "nodes" in names and "edges" in names:
                raise self.error(
                    "uses the nir 0.0.x layout (root 'nodes' and 'edges'), which no released "
                    "reader supports",
                    "/",
                    hint="Re-export the model with a current tool.",
                )
            raise self.error(
                "has no '/node' group, so it is not a .nir file",
                "/",
                hint=f"Members: {list(names)}",
            )
        self.version = self.read_version(io)
        for name in names:
            if name not in ("node", "version"):
                self.complain(
                    "/" + name,
                    "is not part of the .nir layout",
                    "ignored it",
                    "unknown-member",
                )
        node_obj = io.open_object(gid, "node", "/node")
        if not io.is_group(node_obj):
            raise self.error("must be a group", "/node")
        root = self._node(node_obj, "/node", "", 0)
        if isinstance(root, Graph):
            return root
        return self._wrap_root(root)

    def _wrap_root(self, node: Node) -> Graph:
        """A file whose root is not a graph (spec §4.15): wrap the node in a chain graph."""
        name = node.type_name.lower()
        shape = node.declared_input_shape()
        from nirhub.ir.nodes import Input, Output

        if isinstance(node, Input):
            graph = Graph({"input": node, "output": Output(None)}, [("input", "output")])
        elif shape is None:
            if self.strict:
                raise self.error(
                    f"the root node is a {node.type_name}, not a graph, and its input shape is "
                    "unknown, so it cannot be wrapped into a graph",
                    "/node",
                )
            graph = Graph({name: node})
        else:
            graph = Graph(
                {"input": Input(shape), name: node, "output": Output(None)},
                [("input", name), (name, "output")],
            )
        self.locations = {"": "/node", name: "/node"}
        if not self.strict:
            self.warnings.append(
                ReadWarning(
                    "/node",
                    f"the root node is a {node.type_name}, not a NIRGraph",
                    f"wrapped it in a graph as node {name!r}"
                    + (" between an Input and an Output" if len(graph.nodes) > 1 else ""),
                    "root-wrapped",
                )
            )
        return graph

    # -- nodes ------------------------------------------------------------------------------
    def _node(self, gid: Any, loc: str, dotted: str, depth: int) -> Node:
        if depth > self.limits.max_depth:
            raise self.error(f"graphs are nested more than {self.limits.max_depth} deep", loc)
        self.where = loc
        self.locations[dotted] = loc
        io = self.io
        names = io.list_links(gid, loc)
        if "type" not in names:
            raise self.error("is a node group without a 'type' dataset", loc)
        read_type = self.read_plain_string
        type_name = None if read_type is None else read_type(gid, "type", f"{loc}/type")
        if type_name is None:
            type_name = self._string(gid, "type", f"{loc}/type")
        if type_name == "NIRGraph":
            return self._graph(gid, names, loc, dotted, depth)
        batch = self.read_plain_members
        if batch is not None:
            key = (type_name, tuple(names))
            plan = self.plans.get(key)
            if plan:  # (a layout seen before: its type and members are known)
                cls, count, absent, allowed = plan
                kwargs = batch(gid, names, allowed, loc)
                if len(kwargs) == count:
                    # every member was read in one pass and nothing is left to report
                    for name in absent:
                        kwargs[name] = None
                    return self._build_checked(cls, kwargs, loc, dotted)
                return self._general_node(gid, names, type_name, cls, kwargs, loc, dotted, depth)
        cls = NODE_TYPES.get(type_name)
        if cls is None or type_name not in FIELDS:
            known = ", ".join(sorted(FIELDS) + ["NIRGraph"])
            raise self.error(
                f"has unknown node type {type_name!r}",
                f"{loc}/type",
                hint=f"Known types: {known}.",
            )
        allowed = FIELD_NAMES[type_name]
        # numeric arrays already read (and so checked as _check_value would) in one pass
        kwargs: dict[str, Any] = {} if batch is None else batch(gid, names, allowed, loc)
        if kwargs:
            key = (type_name, tuple(names))
            plan = self.plans.get(key)
            if plan is None:
                plan = self._plan(type_name, cls, names) or False
                if len(self.plans) < _PLANS_KEPT:
                    self.plans[key] = plan
            if plan and len(kwargs) == plan[1]:
                for name in plan[2]:
                    kwargs[name] = None
                return self._build_checked(cls, kwargs, loc, dotted)
        return self._general_node(gid, names, type_name, cls, kwargs, loc, dotted, depth)

    def _general_node(
        self,
        gid: Any,
        names: list[str],
        type_name: str,
        cls: Any,
        kwargs: dict[str, Any],
        loc: str,
        dotted: str,
        depth: int,
    ) -> Node:
        """A node group's members read one by one (after those read in one pass, in
        ``kwargs``), each field checked, and the node built by its constructor."""
        io = self.io
        allowed = FIELD_NAMES[type_name]
        read_plain = self.read_plain
        done = len(kwargs)
        metadata: dict[str, Any] | None = None
        for name in names:
            if name == "type" or (done and name in kwargs):
                continue
            member_loc = f"{loc}/{name}"
            if name == "metadata":
                metadata = self._metadata_member(gid, member_loc, dotted, depth)
                continue
            if name not in allowed:
                self.complain(
                    member_loc,
                    f"is not a field of {type_name} (node {dotted!r})",
                    "ignored it",
                    "unknown-field",
                    dotted,
                )
                continue
            self.where = member_loc
            if read_plain is not None:
                value = read_plain(gid, name, member_loc)
                if value is not None:
                    kwargs[name] = value
                    continue
            obj = io.open_dataset(gid, name, member_loc)
            if not io.is_dataset(obj):
                raise self.error(f"must be a dataset (field of {type_name})", member_loc)
            if name in _FILLABLE and io.str_attr(obj, INFERRED_ATTR):
                continue  # written by nirhub only for reference readers: absent in the graph
            kwargs[name] = io.read_dataset(obj, member_loc)
        for spec in FIELDS[type_name]:
            value = kwargs.get(spec.name)
            if value is not None and spec.kind == "array" and type(value) is np.ndarray:
                if value.dtype.kind in _NUMERIC:
                    continue  # (what _check_value returns at once)
            if spec.name not in kwargs:
                if spec.default is REQUIRED:
                    raise self.error(
                        f"{type_name} node {dotted!r} lacks its required field {spec.name!r}",
                        loc,
                    )
                if not spec.optional:
                    self.complain(
                        f"{loc}/{spec.name}",
                        f"is missing ({type_name} node {dotted!r})",
                        f"used the default {spec.default!r}",
                        "missing-field",
                        dotted,
                    )
                kwargs[spec.name] = spec.default
                continue
            kwargs[spec.name] = self._check_value(value, spec.kind, f"{loc}/{spec.name}", dotted)
        try:
            return cls(**kwargs, metadata=metadata)
        except IRError as exc:
            raise self._node_error(exc, loc, dotted) from None

    def _plan(self, type_name: str, cls: Any, names: list[str]) -> tuple | None:
        """How a node group with these members is built when the parser read every field
        member in one pass: (its class, the number of fields present, the absent ones:
        optional, so None, the field names), or None when such a group takes the general path
        (metadata, members to report, fields that are not plain arrays, types without
        :meth:`_from_arrays`)."""
        if not hasattr(cls, "_from_arrays"):
            return None
        specs = FIELDS[type_name]
        fields = FIELD_NAMES[type_name]
        if any(name != "type" and name not in fields for name in names):
            return None
        absent = []
        for spec in specs:
            if spec.kind != "array":
                return None
            if spec.name not in names:
                if not spec.optional or spec.default is not None:
                    return None
                absent.append(spec.name)
        return cls, len(specs) - len(absent), tuple(absent), fields

    def _build_checked(self, cls: Any, values: dict[str, Any], loc: str, dotted: str) -> Node:
        """A node from numeric arrays the parser read, its small arrays' value checks
        deferred (see :meth:`_settle_checks`)."""
        try:
            try:
                node = cls._from_arrays(values, self.checks)
            except IRError:
                # (a large array checked at once failed: the constructor raises the error of
                # the first field that fails, in its order of checks)
                node = cls(**values)
        except IRError as exc:
            raise self._node_error(exc, loc, dotted) from None
        self.unchecked.append((node, loc, dotted))
        if len(self.checks.finite) > DeferredChecks.FLUSH_AT:
            self._settle_checks()
        return node

    def _settle_checks(self) -> None:
        """Run the deferred value checks; if one fails, rebuild the nodes concerned with their
        constructors, in read order, so that the first bad node raises the constructor's
        error, at the same place (an earlier failure in the file wins, as before)."""
        unchecked, self.unchecked = self.unchecked, []
        if self.checks.passed():
            return
        for node, loc, dotted in unchecked:
            try:
                type(node)(**node.params())
            except IRError as exc:
                raise self._node_error(exc, loc, dotted) from None

    def _node_error(self, exc: IRError, loc: str, dotted: str) -> FileFormatError:
        where = loc if exc.field is None else f"{loc}/{exc.field}"
        return self.error(f"node {dotted!r}: {exc.message}", where, hint=exc.hint)

    def _check_value(self, value: Any, kind: str, loc: str, dotted: str) -> Any:
        if kind == "array" and type(value) is np.ndarray and value.dtype.kind in _NUMERIC:
            return value  # the common case: every check below passes
        if value is None:
            raise self.error("is an empty (null) dataset", loc)
        if isinstance(value, str):
            if kind == "padding":
                return value
            raise self.error(f"must be numeric, got the string {value!r}", loc)
        if value.dtype.kind == "O":
            raise self.error("must be numeric, got strings", loc)
        if value.dtype.kind not in _NUMERIC:
            raise self.error(f"must be numeric, got dtype {value.dtype}", loc)
        if kind == "shape" and value.ndim == 0:
            value = value.reshape(1)  # Conv1d stores its input_shape as a scalar
        if kind == "shape" and value.size and value.ndim <= 1:
            flat = value.reshape(-1)
            if value.dtype.kind in "iu" or bool(np.all(np.isfinite(flat))):
                total = 1
                for v in flat:
                    total *= abs(int(v))
                if total > self.limits.max_elements:
                    raise self.error(
                        f"declares the shape {[int(v) for v in flat]} ({total:,} elements), more "
                        f"than the reader's limit of {self.limits.max_elements:,}",
                        loc,
                        hint="If the file is trusted, raise max_bytes.",
                    )
        return value

    def _string(self, gid: Any, name: str, loc: str) -> str:
        """A scalar string dataset, the general way (see read_plain_string for the usual)."""
        obj = self.io.open_dataset(gid, name, loc)
        if not self.io.is_dataset(obj):
            raise self.error("must be a string dataset", loc)
        value = self.io.read_dataset(obj, loc)
        if isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
            value = value.reshape(-1)[0]
        if not isinstance(value, str):
            raise self.error("must be a string", loc)
        return value

    # -- graphs -----------------------------------------------------------------------------
    def _graph(self, gid: Any, names: list[str], loc: str, dotted: str, depth: int) -> Graph:
        prefix = dotted + "." if dotted else ""
        nodes: dict[str, Node] = {}
        edges: list[tuple[str, str]] = []
        metadata: dict[str, Any] | None = None
        if "nodes" not in names:
            raise self.error("is a NIRGraph without a 'nodes' group", loc)
        for name in names:
            member_loc = f"{loc}/{name}"
            if name in ("type", "nodes"):
                continue
            if name == "edges":
                edges = self._edges(gid, member_loc)
            elif name == "metadata":
                metadata = self._metadata_member(gid, member_loc, dotted, depth)
            else:
                self.complain(
                    member_loc,
                    f"is not part of a NIRGraph (graph {dotted or '<root>'!r})",
                    "ignored it",
                    "unknown-field",
                    dotted or None,
                )
        if "edges" not in names:
            self.complain(
                f"{loc}/edges",
                "is missing",
                "assumed the graph has no edges",
                "missing-field",
                dotted or None,
            )
        nodes_loc = f"{loc}/nodes"
        io = self.io
        nodes_gid = io.open_object(gid, "nodes", nodes_loc)
        if not io.is_group(nodes_gid):
            raise self.error("must be a group", nodes_loc)
        child_names = io.list_links(nodes_gid, nodes_loc)
        all_plain = _plain_names(child_names, MAX_NAME_LENGTH)
        open_object, is_group, read_node = io.open_object, io.is_group, self._node
        for name in child_names:
            plain = all_plain or _plain_name(name, MAX_NAME_LENGTH)
            problem = None if plain else name_problem(name)
            if problem is not None:  # refused in tolerant reads too: see docs/security.md
                raise self.error(
                    f"a node name {problem}: {shown(name)}",
                    nodes_loc,
                    hint="Rename the node in the program that wrote the file.",
                )
            child_loc = f"{nodes_loc}/{name}"
            child = open_object(nodes_gid, name, child_loc)
            if not is_group(child):
                self.complain(
                    child_loc,
                    "is a dataset where a node group was expected",
                    "ignored it",
                    "unknown-member",
                    dotted or None,
                )
                continue
            nodes[name] = read_node(child, child_loc, prefix + name, depth + 1)
        self.where = loc
        return Graph._from_checked_parts(nodes, edges, metadata)

    def _edges(self, gid: Any, loc: str) -> list[tuple[str, str]]:
        obj = self.io.open_object(gid, "edges", loc)
        if not self.io.is_dataset(obj):
            raise self.error("must be a dataset of (source, destination) name pairs", loc)
        value = self.io.read_dataset(obj, loc)
        if value is None or isinstance(value, str):
            raise self.error("must be an (E, 2) dataset of node names", loc)
        if value.size == 0 and (value.ndim == 1 or (value.ndim == 2 and value.shape[1] == 2)):
            return []  # nir writes an empty edge list as a (0,) float64 dataset
        if value.ndim != 2 or value.shape[1] != 2:
            raise self.error(
                f"must have shape (E, 2) (source, destination), got {value.shape}", loc
            )
        if value.dtype != object:
            raise self.error(f"must hold node names (strings), got dtype {value.dtype}", loc)
        pairs = [(str(a), str(b)) for a, b in value.tolist()]
        if _plain_names([name for pair in pairs for name in pair], MAX_ENDPOINT_LENGTH):
            return pairs
        for pair in pairs:
            for name in pair:
                if _plain_name(name, MAX_ENDPOINT_LENGTH):
                    continue
                problem = name_problem(name, limit=MAX_ENDPOINT_LENGTH)
                if problem is not None:
                    raise self.error(f"an edge names a node that {problem}: {shown(name)}", loc)
        return pairs

    # -- metadata ---------------------------------------------------------------------------
    def _metadata_member(self, gid: Any, loc: str, dotted: str, depth: int) -> dict:
        obj = self.io.open_object(gid, "metadata", loc)
        if not self.io.is_group(obj):
            self.complain(loc, "must be a group", "ignored it", "bad-metadata", dotted or None)
            return {}
        return self._metadata(obj, loc, dotted, depth + 1)

    def _metadata(self, gid: Any, loc: str, dotted: str, depth: int) -> dict[str, Any]:
        if depth > self.limits.max_depth:
            raise self.error(f"metadata is nested more than {self.limits.max_depth} deep", loc)
        out: dict[str, Any] = {}
        io = self.io
        for name in io.list_links(gid, loc):
            member_loc = f"{loc}/{name}"
            obj = io.open_object(gid, name, member_loc)
            if io.is_group(obj):
                out[name] = self._metadata(obj, member_loc, dotted, depth + 1)
                continue
            try:
                value = io.read_dataset(obj, member_loc)
            except FileFormatError as exc:
                if self.strict or "budget" in exc.message or "limit" in exc.message:
                    raise
                self.warnings.append(
                    ReadWarning(
                        member_loc,
                        exc.message,
                        "skipped this metadata value",
                        "bad-metadata",
                        dotted or None,
                    )
                )
                continue
            marker = io.str_attr(obj, PYTYPE_ATTR)
            out[name] = _metadata_value(value, marker)
        return out

    # -- validation -------------------------------------------------------------------------
    def check_graph(self, graph: Graph) -> None:
        problems = graph.problems()
        if not problems:
            return
        listing = "\n".join(f"  - {p}" for p in problems)
        n = len(problems)
        raise InvalidGraphFileError(
            f"the graph is invalid ({n} problem{'s' if n > 1 else ''}):\n{listing}",
            path=self.path,
            location=problem_location(problems[0], self.locations),
            problems=problems,
        )


def _plain_name(name: str, limit: int) -> bool:
    """A short printable ASCII name, which :func:`nirhub._names.name_problem` always accepts
    (its unsafe characters are controls, separators and bidi marks: none is printable ASCII);
    two string methods instead of a look at every character, for graphs of many nodes."""
    return len(name) <= limit and name.isascii() and name.isprintable()


def _plain_names(names: list[str], limit: int) -> bool:
    """Whether :func:`_plain_name` holds for every name, checked in one pass (a string is
    printable ASCII exactly when each of its parts is)."""
    if not names:
        return True
    joined = "".join(names)
    return joined.isascii() and joined.isprintable() and max(map(len, names)) <= limit


def _metadata_value(value: Any, marker: str | None) -> Any:
    """Python value of a metadata dataset (see docs/file-format.md, "metadata")."""
    if value is None or isinstance(value, str):
        return value
    if value.dtype == object:  # strings (already decoded)
        items = value.tolist()
        return tuple(items) if marker == "tuple" else items
    if marker == "list":
        return value.tolist()
    if marker == "tuple":
        return tuple(value.tolist())
    if value.ndim == 0 and marker != "ndarray":
        scalar = value[()]
        if value.dtype == np.bool_:
            return bool(scalar)
        if value.dtype == np.int64:
            return int(scalar)
        if value.dtype == np.float64:
            return float(scalar)
        return scalar
    return value
