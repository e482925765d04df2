"""Serializing a graph into the HDF5 subset of :mod:`nirhub.io._fast_format`, in memory.

Objects are laid out children first (a group's header follows its members, so it can name
their addresses), after the user block and superblock; large arrays are not copied but
written straight from their buffers. Global heap collections (for variable-length strings)
are reserved at a fixed size when opened and filled in when full, so one pass suffices.

:class:`FastSink` offers the same operations as the h5py sink in :mod:`nirhub.io.writer`;
it raises :class:`NotFast` for content outside the subset, and the writer then starts over
with h5py.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, NamedTuple

import numpy as np

from nirhub.io._fast_format import (
    COMPACT_MAX,
    MARKER,
    MAX_MESSAGES,
    MSG_ATTRIBUTE,
    MSG_DATASPACE,
    MSG_DATATYPE,
    MSG_FILL,
    MSG_FILTERS,
    MSG_GROUP_INFO,
    MSG_LAYOUT,
    MSG_LINK,
    MSG_LINK_INFO,
    SIGNATURE,
    UNDEF,
    USERBLOCK,
    VLEN_DESCRIPTOR,
    VLEN_STR_TYPE,
    NotFast,
    encode_dtype,
)

_MSG_HEADER = struct.Struct("<HHB3x")
_OH_PREFIX = struct.Struct("<BBHII4x")
_LINK_HEAD = struct.Struct("<BBQBB")  # version, flags, creation order, charset, name length
_HEAP_OBJ = struct.Struct("<HHIQ")
_ADDR = struct.Struct("<Q")
_ZEROS = bytes(8)

# message flag "constant" (h5py sets it on datatype and fill value messages)
_CONSTANT = 1
_FILL_COMPACT = b"\x02\x01\x02\x01\x00\x00\x00\x00"  # version 2, allocation early, defined
_FILL_CONTIGUOUS = b"\x02\x02\x02\x01\x00\x00\x00\x00"  # allocation late
_FILL_VLEN = b"\x02\x02\x00\x01\x00\x00\x00\x00"
_FILL_CHUNKED = b"\x02\x03\x02\x01\x00\x00\x00\x00"  # allocation incremental
_SCALAR_SPACE = b"\x01\x00\x00\x00\x00\x00\x00\x00"
_NULL_SPACE = b"\x02\x00\x00\x02\x00\x00\x00\x00"
_GROUP_INFO = b"\x00\x00\x00\x00\x00\x00\x00\x00"


def _message(kind: int, body: bytes, flags: int = 0) -> bytes:
    pad = -len(body) % 8
    return _MSG_HEADER.pack(kind, len(body) + pad, flags) + body + _ZEROS[:pad]


def _header(messages: list[bytes]) -> bytes:
    body = b"".join(messages)
    return _OH_PREFIX.pack(1, 0, len(messages), 1, len(body)) + body


def _dataspace(shape: tuple[int, ...]) -> bytes:
    if len(shape) > 32:
        raise NotFast("more than 32 dimensions (HDF5's limit)")
    if not shape:
        return _message(MSG_DATASPACE, _SCALAR_SPACE)
    return _message(
        MSG_DATASPACE, struct.pack(f"<BBBB4x{len(shape)}Q", 1, len(shape), 0, 0, *shape)
    )


_VLEN_TYPE_MSG = _message(MSG_DATATYPE, VLEN_STR_TYPE, _CONSTANT)
_FILL_CHUNKED_MSG = _message(MSG_FILL, _FILL_CHUNKED, _CONSTANT)
_FILL_LEN = len(_FILL_CHUNKED_MSG)
#: gzip as nir and h5py write it: level 4, deflate marked optional (flag 1), named "deflate"
GZIP_LEVEL = 4
_DEFLATE_MSG = _message(
    MSG_FILTERS, struct.pack("<BB6xHHHH8sI4x", 1, 1, 1, 8, 1, 1, b"deflate", GZIP_LEVEL)
)
#: compressed arrays are cut along their first axis into chunks of about this size ...
CHUNK_BYTES = 4 << 20
#: ... and at most this many (what one leaf of a chunk B-tree holds: 2 x libhdf5's K of 32)
CHUNKS_MAX = 64
_VLEN_FILL_MSG = _message(MSG_FILL, _FILL_VLEN, _CONSTANT)
_NULL_F8 = (
    _message(MSG_DATASPACE, _NULL_SPACE)
    + _message(MSG_DATATYPE, encode_dtype(np.dtype("<f8")) or b"", _CONSTANT)
    + _message(MSG_FILL, _FILL_CONTIGUOUS, _CONSTANT)
    + _message(MSG_LAYOUT, struct.pack("<BBQQ", 3, 1, UNDEF, 0))
)


_LAYOUT_TAIL = struct.Struct("<QQ6x")  # contiguous: address, size, padding
#: the header of a scalar string dataset up to its data address
_STRING_HEAD = _header(
    [
        _message(MSG_DATASPACE, _SCALAR_SPACE),
        _VLEN_TYPE_MSG,
        _VLEN_FILL_MSG,
        _message(MSG_LAYOUT, struct.pack("<BBQQ", 3, 1, 0, 16)),
    ]
)[:-22]


class _Out:
    """The file as a list of pieces; ``pos`` is the next relative address (superblock = 0)."""

    def __init__(self) -> None:
        self.parts: list[Any] = [b""]  # part 0: user block + superblock, filled in at the end
        self.pos = 96

    def put(self, data: Any, nbytes: int) -> int:
        addr = self.pos
        self.parts.append(data)
        pad = -nbytes % 8
        if pad:
            self.parts.append(_ZEROS[:pad])
        self.pos += nbytes + pad
        return addr

    def reserve(self, nbytes: int) -> tuple[int, int]:
        """Space filled in later: (address, index of the placeholder in ``parts``)."""
        self.parts.append(None)
        addr = self.pos
        self.pos += nbytes
        return addr, len(self.parts) - 1


class _Heap:
    """Global heap collections; each string gets its own object, as h5py does."""

    MIN_SIZE = 4096
    MAX_GROWTH = 1 << 20

    def __init__(self, out: _Out) -> None:
        self.out = out
        self.slot = -1
        self.addr = 0
        self.size = 0
        self.used = 0
        self.objects: list[bytes] = []
        self.next_size = self.MIN_SIZE

    def add(self, data: bytes) -> bytes:
        """Store ``data``; returns its 16-byte variable-length descriptor."""
        n = len(data)
        need = 16 + n + (-n % 8)
        # always leave room for the free-space object that closes a collection
        if self.slot < 0 or self.used + need > self.size - 16 or len(self.objects) >= 65534:
            self._open(need)
        head = _HEAP_OBJ.pack(len(self.objects) + 1, 0, 0, n)
        self.objects.append(head + data + _ZEROS[: -n % 8])
        self.used += need
        return VLEN_DESCRIPTOR.pack(n, self.addr, len(self.objects))

    def _open(self, need: int) -> None:
        self.close()
        size = max(self.next_size, need + 32)
        size += -size % 8
        self.next_size = min(self.next_size * 2, self.MAX_GROWTH)
        self.addr, self.slot = self.out.reserve(size)
        self.size = size
        self.used = 16
        self.objects = []

    def close(self) -> None:
        if self.slot < 0:
            return
        free = self.size - self.used
        self.out.parts[self.slot] = b"".join(
            [
                b"GCOL\x01\x00\x00\x00",
                _ADDR.pack(self.size),
                *self.objects,
                _HEAP_OBJ.pack(0, 0, 0, free),
                bytes(free - 16),
            ]
        )
        self.slot = -1


class Group:
    """A group being built: its links, emitted as one header when closed."""

    __slots__ = ("links", "parent", "name")

    def __init__(self, parent: Group | None, name: str) -> None:
        self.parent = parent
        self.name = name
        self.links: list[bytes] = []


class FastSink:
    """Builds the file in memory; :meth:`parts` gives the pieces to write in order."""

    def __init__(self, gzip: bool = False) -> None:
        #: compress every non-empty array that is not a scalar (chunked, deflate level 4)
        self.gzip = gzip
        self.out = _Out()
        self.heap = _Heap(self.out)
        self._space_type: dict[tuple[str, tuple[int, ...]], tuple[bytes, bytes]] = {}
        self.root_addr = UNDEF
        #: (name, creation order) -> the bytes of a link message before and after the address
        self._link_parts: dict[tuple[str, int], tuple[bytes, bytes]] = {}
        #: (dtype, shape) -> how to write it compressed as one chunk (None: several chunks)
        self._one_chunk: dict[tuple[str, tuple[int, ...]], _OneChunk | None] = {}

    # -- groups ---------------------------------------------------------------------------
    def root(self) -> Group:
        return Group(None, "")

    def group(self, parent: Group, name: str, ordered: bool = False) -> Group:
        return Group(parent, name)

    def close_group(self, group: Group) -> None:
        n = len(group.links)
        if n + 2 > MAX_MESSAGES:
            raise NotFast(f"a group with {n} members")
        info = struct.pack("<BBQQQQ", 0, 3, n, UNDEF, UNDEF, UNDEF)
        data = _header(
            [
                _message(MSG_LINK_INFO, info),
                _message(MSG_GROUP_INFO, _GROUP_INFO[:2], _CONSTANT),
                *group.links,
            ]
        )
        addr = self.out.put(data, len(data))
        if group.parent is None:
            self.root_addr = addr
        else:
            self._link(group.parent, group.name, addr)

    def _link(self, group: Group, name: str, addr: int) -> None:
        links = group.links
        key = (name, len(links))
        pre_post = self._link_parts.get(key)
        if pre_post is None:
            pre_post = self._link_parts[key] = _link_parts(name, len(links))
        links.append(pre_post[0] + _ADDR.pack(addr) + pre_post[1])

    # -- datasets -------------------------------------------------------------------------
    def _attrs(self, attrs: dict[str, str] | None) -> list[bytes]:
        if not attrs:
            return []
        out = []
        for name, value in attrs.items():
            raw = name.encode("ascii") + b"\0"
            body = (
                struct.pack("<BBHHH", 1, 0, len(raw), len(VLEN_STR_TYPE), len(_SCALAR_SPACE))
                + raw
                + _ZEROS[: -len(raw) % 8]
                + VLEN_STR_TYPE
                + _ZEROS[: -len(VLEN_STR_TYPE) % 8]
                + _SCALAR_SPACE
                + self.heap.add(value.encode("utf-8"))
            )
            out.append(_message(MSG_ATTRIBUTE, body))
        return out

    def string(self, group: Group, name: str, value: str, attrs: dict[str, str] | None = None):
        addr = self.out.put(self.heap.add(value.encode("utf-8")), 16)
        if attrs:
            data = _header(
                [
                    _message(MSG_DATASPACE, _SCALAR_SPACE),
                    _VLEN_TYPE_MSG,
                    _VLEN_FILL_MSG,
                    _message(MSG_LAYOUT, struct.pack("<BBQQ", 3, 1, addr, 16)),
                    *self._attrs(attrs),
                ]
            )
        else:
            data = _STRING_HEAD + _LAYOUT_TAIL.pack(addr, 16)
        self._link(group, name, self.out.put(data, len(data)))

    def strings(
        self, group: Group, name: str, values: np.ndarray, attrs: dict[str, str] | None = None
    ) -> None:
        """An array of strings (object array of str) of any shape."""
        count = values.size
        if count:
            add = self.heap.add
            strings = values.reshape(-1).tolist()
            block = b"".join([add(v.encode("utf-8")) for v in strings])
            layout = struct.pack("<BBQQ", 3, 1, self.out.put(block, len(block)), len(block))
        else:
            layout = struct.pack("<BBQQ", 3, 1, UNDEF, 0)
        data = _header(
            [
                _dataspace(values.shape),
                _VLEN_TYPE_MSG,
                _VLEN_FILL_MSG,
                _message(MSG_LAYOUT, layout),
                *self._attrs(attrs),
            ]
        )
        self._link(group, name, self.out.put(data, len(data)))

    def array(
        self, group: Group, name: str, value: np.ndarray, attrs: dict[str, str] | None = None
    ) -> None:
        arr = value if value.flags.c_contiguous else np.ascontiguousarray(value)
        key = (arr.dtype.str, arr.shape)
        cached = self._space_type.get(key)
        if cached is None:
            cached = self._space_type[key] = _array_messages(arr)
        nbytes = arr.nbytes
        if self.gzip and arr.ndim and nbytes:
            extra = self._attrs(attrs)
            plan = self._one_chunk.get(key)
            if plan is None and key not in self._one_chunk:
                plan = self._one_chunk[key] = _one_chunk_plan(arr, cached[1])
            if plan is None:
                layout = self._compressed(arr)
                head = cached[1][:-_FILL_LEN] + _FILL_CHUNKED_MSG
                data = _header_raw(head, layout, extra, 5 + len(extra))
            else:  # one chunk (every small array): B-tree and header from cached pieces
                data = self._one_chunk_header(arr, plan, extra)
        elif nbytes <= COMPACT_MAX:
            if not attrs:  # the common case: header bytes all cached but the data
                data = cached[2] + arr.tobytes() + _ZEROS[: cached[3]]
            else:
                extra = self._attrs(attrs)
                pad = cached[3]
                layout = (
                    _MSG_HEADER.pack(MSG_LAYOUT, 4 + nbytes + pad, 0)
                    + struct.pack("<BBH", 3, 0, nbytes)
                    + arr.tobytes()
                    + _ZEROS[:pad]
                )
                data = _header_raw(cached[0], layout, extra, 4 + len(extra))
        else:
            extra = self._attrs(attrs)
            view = memoryview(arr).cast("B") if arr.ndim else arr.tobytes()
            addr = self.out.put(view, nbytes)
            layout = _message(MSG_LAYOUT, struct.pack("<BBQQ", 3, 1, addr, nbytes))
            data = _header_raw(cached[1], layout, extra, 4 + len(extra))
        self._link(group, name, self.out.put(data, len(data)))

    def _one_chunk_header(self, arr: np.ndarray, plan: _OneChunk, extra: list[bytes]) -> bytes:
        """Writes ``arr`` as one compressed chunk and its B-tree leaf; returns the dataset's
        header. The same bytes as :meth:`_compressed` for an array that fits one chunk."""
        packed = zlib.compress(memoryview(arr).cast("B"), GZIP_LEVEL)
        out = self.out
        chunk_addr = out.put(packed, len(packed))
        btree = out.pos  # the node's pieces are a multiple of 8 bytes: no padding
        parts = out.parts
        parts.append(plan.node_head + plan.entry.pack(len(packed), chunk_addr))
        parts.append(plan.node_tail)
        out.pos += plan.node_size
        if extra:
            layout = plan.layout_head + plan.layout.pack(btree) + plan.layout_tail
            return _header_raw(plan.head, layout, extra, 5 + len(extra))
        return plan.header + plan.layout.pack(btree) + plan.layout_tail

    def _compressed(self, arr: np.ndarray) -> bytes:
        """Writes the chunks of ``arr`` compressed, and their B-tree; returns the layout and
        filter pipeline messages."""
        shape, itemsize = arr.shape, arr.dtype.itemsize
        if any(n > 0xFFFFFFFF for n in shape):
            raise NotFast("a dimension too large for a chunk")
        row_bytes = arr.nbytes // shape[0]
        rows = max(1, min(shape[0], CHUNK_BYTES // max(row_bytes, 1)))
        rows = max(rows, -(-shape[0] // CHUNKS_MAX))  # one B-tree leaf holds CHUNKS_MAX
        if rows * row_bytes > 0xFFFFFFFF:
            raise NotFast("a chunk of 4 GiB or more")
        rank = arr.ndim
        flat = arr.reshape(shape[0], -1)
        key = struct.Struct(f"<II{rank + 1}Q")
        entries = []
        for start in range(0, shape[0], rows):
            piece = flat[start : start + rows]
            if len(piece) < rows:  # the last chunk is stored whole (zero-padded), as by libhdf5
                piece = np.concatenate([piece, np.zeros_like(flat[: rows - len(piece)])])
            packed = zlib.compress(memoryview(piece).cast("B"), GZIP_LEVEL)
            addr = self.out.put(packed, len(packed))
            entries.append(key.pack(len(packed), 0, start, *([0] * rank)) + _ADDR.pack(addr))
        last = (shape[0] - 1) // rows * rows
        entries.append(key.pack(0, 0, last + rows, *shape[1:], 0))
        node = b"TREE" + struct.pack("<BBHQQ", 1, 0, len(entries) - 1, UNDEF, UNDEF)
        node += b"".join(entries)
        node += bytes(24 + CHUNKS_MAX * (key.size + 8) + key.size - len(node))  # full size
        btree = self.out.put(node, len(node))
        chunk = (rows, *shape[1:], itemsize)
        layout = struct.pack(f"<BBBQ{rank + 1}I", 3, 2, rank + 1, btree, *chunk)
        return _message(MSG_LAYOUT, layout) + _DEFLATE_MSG

    def null(self, group: Group, name: str) -> None:
        """A dataset with a null dataspace (metadata value None), as h5py.Empty("f8")."""
        data = _OH_PREFIX.pack(1, 0, 4, 1, len(_NULL_F8)) + _NULL_F8
        self._link(group, name, self.out.put(data, len(data)))

    # -- the file -------------------------------------------------------------------------
    def parts(self) -> list[Any]:
        """The pieces of the finished file (bytes and memoryviews), in order."""
        self.heap.close()
        eof = USERBLOCK + self.out.pos
        userblock = MARKER + bytes(USERBLOCK - len(MARKER))
        superblock = (
            SIGNATURE
            + bytes([0, 0, 0, 0, 0, 8, 8, 0])
            + struct.pack("<HHI", 4, 16, 0)
            + struct.pack("<QQQQ", USERBLOCK, UNDEF, eof, UNDEF)
            + struct.pack("<QQII16x", 0, self.root_addr, 0, 0)
        )
        self.out.parts[0] = userblock + superblock
        return self.out.parts


class _OneChunk(NamedTuple):
    """Cached pieces of a compressed array stored as a single chunk (see ``_compressed``)."""

    head: bytes  # the messages before the layout (dataspace, datatype, fill value)
    header: bytes  # prefix + head + layout message header and body up to the B-tree address
    layout_head: bytes  # the layout message's header and body up to the B-tree address
    layout: struct.Struct  # the B-tree address
    layout_tail: bytes  # chunk dimensions, padding and the filter pipeline message
    node_head: bytes  # B-tree leaf signature and header (one entry used)
    entry: struct.Struct  # (compressed size, chunk address) -> the entry's key and pointer
    node_tail: bytes  # the end key and the unused entries (zeros) of the full-size node
    node_size: int


def _one_chunk_plan(arr: np.ndarray, contiguous: bytes) -> _OneChunk | None:
    """The cached pieces when ``_compressed`` would store ``arr`` as one chunk, else None."""
    shape, rank = arr.shape, arr.ndim
    if any(n > 0xFFFFFFFF for n in shape):
        return None
    row_bytes = arr.nbytes // shape[0]
    rows = max(1, min(shape[0], CHUNK_BYTES // max(row_bytes, 1)))
    rows = max(rows, -(-shape[0] // CHUNKS_MAX))
    if rows != shape[0] or rows * row_bytes > 0xFFFFFFFF:
        return None
    key = struct.Struct(f"<II{rank + 1}Q")
    entry = struct.Struct(f"<I{4 + 8 * (rank + 1)}xQ")  # size, mask 0, offsets 0; address
    node_head = b"TREE" + struct.pack("<BBHQQ", 1, 0, 1, UNDEF, UNDEF)
    node_size = 24 + CHUNKS_MAX * (key.size + 8) + key.size
    end_key = key.pack(0, 0, *shape, 0)
    node_tail = end_key + bytes(node_size - len(node_head) - entry.size - len(end_key))
    # the layout message as _message packs it: header, body, padding to 8 bytes
    chunk = (rows, *shape[1:], arr.dtype.itemsize)
    body_len = 3 + 8 + 4 * (rank + 1)
    pad = -body_len % 8
    layout_head = _MSG_HEADER.pack(MSG_LAYOUT, body_len + pad, 0) + struct.pack(
        "<BBB", 3, 2, rank + 1
    )
    layout_tail = struct.pack(f"<{rank + 1}I", *chunk) + _ZEROS[:pad] + _DEFLATE_MSG
    head = contiguous[:-_FILL_LEN] + _FILL_CHUNKED_MSG
    body = len(head) + len(layout_head) + 8 + len(layout_tail)
    header = _OH_PREFIX.pack(1, 0, 5, 1, body) + head + layout_head
    return _OneChunk(
        head,
        header,
        layout_head,
        struct.Struct("<Q"),
        layout_tail,
        node_head,
        entry,
        node_tail,
        node_size,
    )


def _array_messages(arr: np.ndarray) -> tuple[bytes, bytes, bytes, int]:
    """Cached per (dtype, shape): the messages before the layout (compact, contiguous), the
    whole header of a compact dataset without attributes up to its data, and the data's
    padding."""
    dtype_body = encode_dtype(arr.dtype)
    if dtype_body is None:
        raise NotFast(f"dtype {arr.dtype}")
    head = _dataspace(arr.shape) + _message(MSG_DATATYPE, dtype_body, _CONSTANT)
    compact = head + _message(MSG_FILL, _FILL_COMPACT, _CONSTANT)
    contiguous = head + _message(MSG_FILL, _FILL_CONTIGUOUS, _CONSTANT)
    nbytes = arr.nbytes
    if nbytes > COMPACT_MAX:
        return compact, contiguous, b"", 0
    pad = -(4 + nbytes) % 8
    layout_head = _MSG_HEADER.pack(MSG_LAYOUT, 4 + nbytes + pad, 0) + struct.pack(
        "<BBH", 3, 0, nbytes
    )
    body_len = len(compact) + len(layout_head) + nbytes + pad
    whole = _OH_PREFIX.pack(1, 0, 4, 1, body_len) + compact + layout_head
    return compact, contiguous, whole, pad


def _link_parts(name: str, order: int) -> tuple[bytes, bytes]:
    raw = name.encode("utf-8")
    n = len(raw)
    if n < 256:
        head = _LINK_HEAD.pack(1, 0x14, order, 1, n)
    elif n < 65536:
        head = struct.pack("<BBQBH", 1, 0x15, order, 1, n)
    else:
        raise NotFast("a link name longer than 65535 bytes")
    size = len(head) + n + 8
    pad = -size % 8
    if size + pad > 65535:
        raise NotFast("a link message longer than 64 KiB")
    return _MSG_HEADER.pack(MSG_LINK, size + pad, 0) + head + raw, _ZEROS[:pad]


def _header_raw(head: bytes, layout: bytes, extra: list[bytes], nmsgs: int) -> bytes:
    body_len = len(head) + len(layout) + sum(len(e) for e in extra)
    prefix = _OH_PREFIX.pack(1, 0, nmsgs, 1, body_len)
    if extra:
        return b"".join([prefix, head, layout, *extra])
    return prefix + head + layout
