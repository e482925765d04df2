"""Guarded low-level access to HDF5 objects of untrusted ``.nir`` files.

Everything here goes through h5py's low-level API (``h5py.h5o``/``h5d``/``h5l``): it is an order
of magnitude faster per object than the high-level ``Group``/``Dataset`` wrappers, which matters
for graphs with thousands of small nodes, and it lets us look at each link and dataset *before*
following or reading it:

* soft, external and user-defined links are refused (never followed);
* a group reached twice (hard-link cycles) is refused;
* virtual datasets and datasets with external raw storage are refused;
* a dataset's declared size (and chunk size) is checked against a byte budget before any
  memory is allocated for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5l, h5o, h5s, h5z

from nirhub.errors import FileFormatError

#: Default cap on the bytes of all datasets a file may make the reader allocate: 2 GiB, so that
#: reading plus what commands build on top (``inspect``'s statistics stream; the reader's peak
#: is about this budget) stays well inside a laptop's memory. Raise it for trusted big files.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: Bytes counted per element of a variable-length string (the Python object around it); the
#: string bytes themselves are charged as read from the file's descriptors (see HeapGuard).
_VLEN_ELEMENT_BYTES = 64


@dataclass(frozen=True)
class ReadLimits:
    """Limits that keep an untrusted file from exhausting memory or recursing forever.

    ``max_bytes`` caps the total declared size of all datasets read (a dataset is checked
    *before* it is read). ``max_elements`` caps the element count of any shape a file declares
    as a value (Input/Output ``shape``, Conv ``input_shape``, Flatten ``input_type``): such
    shapes later size simulator buffers. ``max_depth`` caps graph and metadata nesting.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_elements: int = DEFAULT_MAX_BYTES // 4
    max_depth: int = 64


class Budget:
    """Running total of bytes the reader has allocated for datasets."""

    def __init__(self, path: str, limits: ReadLimits) -> None:
        self.path = path
        self.limits = limits
        self.used = 0
        self.groups_seen: set[int] = set()

    def error(self, message: str, location: str, hint: str | None = None) -> FileFormatError:
        return FileFormatError(message, path=self.path, location=location, hint=hint)

    def visit_group(self, addr: int, location: str) -> None:
        """Refuse a group reached a second time (hard-link cycles and aliases)."""
        if addr in self.groups_seen:
            raise self.error(
                "is a group that appears more than once in the file (a hard-link cycle or "
                "alias); refusing to read it twice",
                location,
            )
        self.groups_seen.add(addr)

    def check_size(self, shape: tuple[int, ...], dtype: Any, nbytes: int, location: str) -> None:
        """Refuse a single dataset larger than the whole budget (before allocating it)."""
        if nbytes > self.limits.max_bytes:
            raise self.error(
                f"declares shape {tuple(shape)} of {dtype} ({nbytes:,} bytes), more than the "
                f"reader's limit of {self.limits.max_bytes:,} bytes",
                location,
                hint="If the file is trusted, raise max_bytes (nirhub.read(..., max_bytes=N)).",
            )

    def charge(self, nbytes: int, location: str) -> None:
        self.used += nbytes
        if self.used > self.limits.max_bytes:
            raise self.error(
                f"declares {nbytes:,} bytes of data, which exceeds the reader's budget of "
                f"{self.limits.max_bytes:,} bytes for the whole file",
                location,
                hint="If the file is trusted, raise max_bytes (nirhub.read(..., max_bytes=N)).",
            )


def list_links(gid: h5py.h5g.GroupID, location: str, budget: Budget) -> list[str]:
    """Names of a group's members (creation order if tracked, else name order).

    Refuses every link that is not a hard link, and hard links to groups already visited.
    """
    entries: list[tuple[bytes, int, Any]] = []

    def collect(name: bytes, info: Any) -> None:
        entries.append((name, info.type, info.u if info.type == h5l.TYPE_HARD else None))

    index = h5py.h5.INDEX_NAME
    try:
        if gid.get_create_plist().get_link_creation_order() & h5py.h5p.CRT_ORDER_TRACKED:
            index = h5py.h5.INDEX_CRT_ORDER
    except Exception:  # noqa: BLE001 - an odd property list just means name order
        index = h5py.h5.INDEX_NAME
    gid.links.iterate(collect, idx_type=index, info=True)
    names = []
    for raw, kind, _addr in entries:
        name = _decode_name(raw, location, budget)
        if kind != h5l.TYPE_HARD:
            what = {h5l.TYPE_SOFT: "a soft link", h5l.TYPE_EXTERNAL: "an external link"}.get(
                kind, "a user-defined link"
            )
            raise budget.error(
                f"is {what}; nirhub does not follow links in .nir files (they could point "
                "outside the file or form cycles)",
                f"{location.rstrip('/')}/{name}",
            )
        names.append(name)
    return names


def _decode_name(raw: bytes, location: str, budget: Budget) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise budget.error(f"holds a member whose name is not UTF-8: {raw!r}", location) from None


def open_dataset(gid: h5py.h5g.GroupID, name: str, location: str, budget: Budget) -> Any:
    """Open a member expected to be a dataset (fast path); anything else as open_object."""
    try:
        return h5d.open(gid, name.encode("utf-8"))
    except Exception:  # noqa: BLE001 - not a dataset: let open_object say what it is
        return open_object(gid, name, location, budget)


def open_object(gid: h5py.h5g.GroupID, name: str, location: str, budget: Budget) -> Any:
    """Open a member: a GroupID (checked for cycles) or a DatasetID; others are refused."""
    obj = h5o.open(gid, name.encode("utf-8"))
    if isinstance(obj, h5py.h5g.GroupID):
        budget.visit_group(h5o.get_info(obj).addr, location)
        return obj
    if isinstance(obj, h5d.DatasetID):
        return obj
    raise budget.error(
        f"is a {type(obj).__name__.replace('ID', '')} object, expected a group or a dataset",
        location,
    )


def read_dataset(
    dsid: h5d.DatasetID, location: str, budget: Budget, guard: HeapGuard | None = None
) -> Any:
    """Read a whole dataset after checking its storage, type and declared size.

    Returns a numpy array (0-d for scalars) with native byte order; strings come back as
    ``str`` (scalar) or an object array of ``str``; a null dataspace (``h5py.Empty``) as None.
    """
    space = dsid.get_space()
    if space.get_simple_extent_type() == h5s.NULL:
        return None
    dcpl = dsid.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5d.VIRTUAL:
        raise budget.error(
            "is a virtual dataset (it maps data from other files); refused", location
        )
    if dcpl.get_external_count() > 0:
        raise budget.error(
            "stores its data in external files; refused (nirhub only reads data inside the "
            ".nir file)",
            location,
        )
    try:
        dtype = dsid.dtype
    except Exception as exc:  # noqa: BLE001 - h5py cannot map some HDF5 types at all
        raise budget.error(f"has an HDF5 datatype nirhub cannot read ({exc})", location) from None
    shape = space.shape
    count = 1
    for n in shape:
        count *= int(n)
    string_info = h5py.check_string_dtype(dtype)
    if dtype.kind == "O":
        if string_info is None:
            raise budget.error(
                "holds variable-length data or references that are not strings; not supported",
                location,
            )
        itemsize = _VLEN_ELEMENT_BYTES
    else:
        itemsize = dtype.itemsize
    nbytes = count * max(itemsize, 1)
    budget.check_size(shape, dtype, nbytes, location)
    if layout == h5d.CHUNKED:
        chunk = dcpl.get_chunk()
        chunk_bytes = max(itemsize, 1)
        for n in chunk:
            chunk_bytes *= int(n)
        if chunk_bytes > max(nbytes, 1 << 24):
            raise budget.error(
                f"declares chunks of {chunk_bytes:,} bytes for {nbytes:,} bytes of data; refused",
                location,
            )
    budget.charge(nbytes, location)
    if guard is not None and dtype.kind == "O" and count:
        guard.check(dsid, count, layout, location)  # charges the strings' real lengths
    if dtype.kind not in "OS":
        dtype = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
    out = np.empty(shape, dtype=dtype)
    if count:
        dsid.read(h5s.ALL, h5s.ALL, out)
    if string_info is not None or dtype.kind == "S":
        return _decode_strings(out, location, budget)
    return out


def not_utf8(budget: Budget, raw: bytes, location: str) -> FileFormatError:
    return budget.error(f"holds a string that is not UTF-8: {bytes(raw)[:40]!r}", location)


def _decode_strings(arr: np.ndarray, location: str, budget: Budget) -> Any:
    def one(v: Any) -> str:
        if isinstance(v, str):
            return v
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise not_utf8(budget, v, location) from None

    if arr.ndim == 0:
        return one(arr[()])
    if arr.dtype != object:
        arr = arr.astype(object)
    # in place: each bytes object is dropped as soon as its str exists, so the strings are in
    # memory once (as charged), not twice
    flat = arr.reshape(-1)
    for i in range(flat.size):
        flat[i] = one(flat[i])
    return arr


def num_attrs(obj: Any) -> int:
    return int(h5o.get_info(obj).num_attrs)


def read_str_attr(obj: Any, name: str) -> str | None:
    """A short string attribute (used for nirhub's own metadata type markers), else None."""
    try:
        if not h5py.h5a.exists(obj, name.encode()):
            return None
        attr = h5py.h5a.open(obj, name.encode())
        if attr.shape != () or h5py.check_string_dtype(attr.dtype) is None:
            return None
        buf = np.empty((), dtype=attr.dtype)
        attr.read(buf)
        value = buf[()]
        return value.decode() if isinstance(value, bytes) else str(value)
    except Exception:  # noqa: BLE001 - a malformed marker is treated as absent
        return None


class HeapGuard:
    """Checks the global heap collections a variable-length string dataset points to before
    libhdf5 reads them, and measures the strings.

    libhdf5 (up to at least 2.0) loops forever on some corrupt collections (a free-space object
    of size 0), and it materialises every string a dataset's descriptors point to, however
    often they point to the same heap object. So the descriptors are read from the file first
    (contiguous storage directly; chunked storage chunk by chunk, undoing deflate, shuffle and
    fletcher32 ourselves, refusing other filters; compact storage from the layout message in
    the object header), each collection is walked once, and every string's real length is
    charged to the budget before libhdf5 reads anything.
    """

    def __init__(self, f: h5py.File, budget: Budget) -> None:
        self.budget = budget
        self.path = budget.path
        self.userblock = int(f.id.get_create_plist().get_userblock())
        self.checked: set[int] = set()
        self.fh: Any = None

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()

    def _read(self, offset: int, n: int) -> bytes:
        if self.fh is None:
            self.fh = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self.fh.seek(offset)
        return self.fh.read(n)

    def check(self, dsid: h5d.DatasetID, count: int, layout: int, location: str) -> None:
        """Check the collections ``dsid``'s strings point to, charging each string's length
        beyond the 64 bytes per element charged already (as the fast parser does)."""
        from nirhub.io._fast_format import VLEN_DESCRIPTOR

        if layout == h5d.CONTIGUOUS:
            raws = self._contiguous(dsid, count)
        elif layout == h5d.CHUNKED:
            raws = self._chunks(dsid, location)
        else:  # compact: the descriptors sit in the dataset's object header
            raws = [self._compact(dsid, count, location)]
        size = self._file_size()
        for raw in raws:
            for length, coll, _idx in VLEN_DESCRIPTOR.iter_unpack(raw):
                if not length:
                    continue
                if length > size:
                    raise self.budget.error(
                        f"is corrupt: declares a string of {length:,} bytes in a file of {size:,}",
                        location,
                    )
                if length > _VLEN_ELEMENT_BYTES:
                    self.budget.charge(length - _VLEN_ELEMENT_BYTES, location)
                if coll not in self.checked:
                    self._check_collection(coll, size, location)

    def _file_size(self) -> int:
        self._read(0, 0)
        return os.fstat(self.fh.fileno()).st_size

    def _contiguous(self, dsid: h5d.DatasetID, count: int) -> list[bytes]:
        offset = dsid.get_offset()
        if offset is None:
            return []  # never written: no strings
        raw = self._read(offset, 16 * count)
        if len(raw) != 16 * count:
            return []  # libhdf5 reports the truncation itself
        return [raw]

    def _compact(self, dsid: h5d.DatasetID, count: int, location: str) -> bytes:
        """The raw data of a compact dataset: its layout message in the object header."""
        addr = self.userblock + h5o.get_info(dsid).addr
        for kind, body in self._header_messages(addr, location):
            if kind != _MSG_LAYOUT or not body:
                continue
            version = body[0]
            if version in (3, 4) and len(body) >= 4 and body[1] == 0:
                size = int.from_bytes(body[2:4], "little")
                data = body[4 : 4 + size]
            elif version in (1, 2) and len(body) >= 8 and body[2] == 0:
                ndims = body[1]
                p = 8 + 4 * ndims
                size = int.from_bytes(body[p : p + 4], "little")
                data = body[p + 4 : p + 4 + size]
            else:
                continue
            if len(data) != size or size < 16 * count:
                break
            return data[: 16 * count]
        raise self.budget.error(
            "is a compact string dataset whose data nirhub cannot find in its object header; "
            "refused (libhdf5 could hang on a corrupt one)",
            location,
        )

    def _header_messages(self, addr: int, location: str) -> list[tuple[int, bytes]]:
        """(type, body) of the messages of the object header at file offset ``addr`` (version
        1 or 2, continuation chunks followed, at most 64 chunks)."""
        head = self._read(addr, 32)
        chunks: list[tuple[bytes, int]] = []  # (bytes of messages, header version)
        if head[:4] == b"OHDR":
            flags = head[5]
            p = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
            width = 1 << (flags & 0x03)
            size = int.from_bytes(head[p : p + width], "little")
            chunks.append((self._read(addr + p + width, size), 2))
            creation_order = bool(flags & 0x04)
        elif head[:1] == b"\x01":
            size = int.from_bytes(head[8:12], "little")
            chunks.append((self._read(addr + 16, size), 1))
            creation_order = False
        else:
            raise self.budget.error("is corrupt: not an HDF5 object header", location)
        out: list[tuple[int, bytes]] = []
        seen = {addr}
        while chunks:
            buf, version = chunks.pop()
            p = 0
            while True:
                if version == 1:
                    if p + 8 > len(buf):
                        break
                    kind = int.from_bytes(buf[p : p + 2], "little")
                    msize = int.from_bytes(buf[p + 2 : p + 4], "little")
                    p += 8
                else:
                    need = 6 if creation_order else 4
                    if p + need > len(buf) - 4:  # the chunk ends with a checksum
                        break
                    kind = buf[p]
                    msize = int.from_bytes(buf[p + 1 : p + 3], "little")
                    p += need
                body = buf[p : p + msize]
                p += msize
                if kind == _MSG_CONTINUATION and len(body) >= 16:
                    caddr = self.userblock + int.from_bytes(body[:8], "little")
                    clen = int.from_bytes(body[8:16], "little")
                    if caddr in seen or len(seen) > 64:
                        raise self.budget.error("is corrupt: object header chunks loop", location)
                    seen.add(caddr)
                    block = self._read(caddr, clen)
                    chunks.append((block[4:] if version == 2 else block, version))
                else:
                    out.append((kind, body))
        return out

    def _chunks(self, dsid: h5d.DatasetID, location: str) -> list[bytes]:
        """The raw descriptors of every stored chunk (filters undone, sizes bounded)."""
        dcpl = dsid.get_create_plist()
        chunk_bytes = 16
        for n in dcpl.get_chunk():
            chunk_bytes *= int(n)
        filters = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
        unknown = [code for code in filters if code not in _STRING_FILTERS]
        if unknown:
            raise self.budget.error(
                f"stores strings through HDF5 filter(s) {unknown}; nirhub reads strings only "
                "uncompressed or with deflate (gzip), shuffle and fletcher32",
                location,
            )
        out = []
        for i in range(dsid.get_num_chunks()):
            info = dsid.get_chunk_info(i)
            if info.size > 2 * chunk_bytes + 4096:
                raise self.budget.error(
                    f"is corrupt: a chunk of {info.size:,} bytes holds {chunk_bytes:,} bytes of "
                    "string descriptors",
                    location,
                )
            mask, data = dsid.read_direct_chunk(info.chunk_offset)
            for bit in reversed(range(len(filters))):
                if not mask & (1 << bit):
                    data = self._unfilter(filters[bit], data, chunk_bytes, location)
            if len(data) != chunk_bytes:
                raise self.budget.error(
                    f"is corrupt: a chunk holds {len(data):,} bytes instead of {chunk_bytes:,}",
                    location,
                )
            out.append(bytes(data))
        return out

    def _unfilter(self, code: int, data: bytes, chunk_bytes: int, location: str) -> bytes:
        import zlib

        if code == h5z.FILTER_DEFLATE:
            inflate = zlib.decompressobj()
            try:
                plain = inflate.decompress(data, chunk_bytes + 1)
            except zlib.error as exc:
                raise self.budget.error(f"is corrupt: a chunk ({exc})", location) from None
            return plain
        if code == h5z.FILTER_FLETCHER32:
            return data[:-4]
        # shuffle: byte k of every element is stored together, element after element
        n = len(data) // 16
        if n * 16 != len(data):
            return data
        return np.frombuffer(data, np.uint8).reshape(16, n).T.tobytes()

    def _check_collection(self, coll: int, size: int, location: str) -> None:
        from nirhub.io._fast_format import heap_objects

        where = self.userblock + coll
        head = self._read(where, 16)
        total = int.from_bytes(head[8:16], "little") if len(head) == 16 else 0
        problem = None
        if total < 16 or where + total > size:
            problem = "it runs past the end of the file"
        else:
            try:
                heap_objects(self._read(where, total), 0, total)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            raise self.budget.error(
                f"is corrupt: its strings point to a bad global heap collection ({problem})",
                location,
            )
        self.checked.add(coll)


_STRING_FILTERS = (h5z.FILTER_DEFLATE, h5z.FILTER_SHUFFLE, h5z.FILTER_FLETCHER32)
_MSG_LAYOUT = 0x08
_MSG_CONTINUATION = 0x10


class H5Backend:
    """The reader's access to a file through h5py (any HDF5 file)."""

    fast = False

    def __init__(self, f: h5py.File, budget: Budget) -> None:
        self.f = f
        self.budget = budget
        self.guard = HeapGuard(f, budget)

    def close(self) -> None:
        self.guard.close()

    def root(self) -> Any:
        return h5py.h5g.open(self.f.id, b"/")

    def list_links(self, group: Any, location: str) -> list[str]:
        return list_links(group, location, self.budget)

    def open_object(self, group: Any, name: str, location: str) -> Any:
        return open_object(group, name, location, self.budget)

    def open_dataset(self, group: Any, name: str, location: str) -> Any:
        return open_dataset(group, name, location, self.budget)

    @staticmethod
    def is_group(obj: Any) -> bool:
        return isinstance(obj, h5py.h5g.GroupID)

    @staticmethod
    def is_dataset(obj: Any) -> bool:
        return isinstance(obj, h5d.DatasetID)

    def read_dataset(self, obj: Any, location: str) -> Any:
        return read_dataset(obj, location, self.budget, self.guard)

    @staticmethod
    def str_attr(obj: Any, name: str) -> str | None:
        return read_str_attr(obj, name) if num_attrs(obj) else None
