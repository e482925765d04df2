"""A parser for the HDF5 subset of :mod:`nirhub.io._fast_format`, for untrusted files.

It serves the reader (:class:`nirhub.io.reader._Reader`) the same operations as the h5py
backend (:class:`nirhub.io._h5.H5Backend`), with the same checks and errors: datasets are
checked against the byte budget before anything is allocated, groups reached twice are
refused, and no link is followed outside the file. Every offset and size read from the file is
bounds-checked; a structure that cannot be right raises :class:`FileFormatError` naming the
object's path inside the file. A structure that is valid HDF5 but outside the subset (dense
groups, chunked or filtered data, soft/external links, shared messages, other datatypes...)
raises :class:`NotFast`, and the reader starts over with h5py, which reads everything.

Files up to :data:`WHOLE_FILE_MAX` bytes are read with one system call and parsed from
memory; larger files are parsed with positioned reads, and large arrays are read straight
into their final numpy buffers (no intermediate copy, no memory map).
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from typing import Any, NamedTuple

import numpy as np

from nirhub.errors import FileFormatError
from nirhub.io._fast_format import (
    DECODE_DTYPE,
    DTYPE_LENGTH,
    MARKER,
    MSG_ATTRIBUTE,
    MSG_COMMENT,
    MSG_CONTINUATION,
    MSG_DATASPACE,
    MSG_DATATYPE,
    MSG_FILL,
    MSG_FILL_OLD,
    MSG_FILTERS,
    MSG_GROUP_INFO,
    MSG_LAYOUT,
    MSG_LINK,
    MSG_LINK_INFO,
    MSG_MTIME,
    MSG_MTIME_OLD,
    MSG_NULL,
    MSG_REFCOUNT,
    MSG_SYMBOL_TABLE,
    SIGNATURE,
    UNDEF,
    USERBLOCK,
    NotFast,
    heap_objects,
)
from nirhub.io._h5 import _VLEN_ELEMENT_BYTES, Budget, not_utf8

#: files up to this size are read into memory at once
WHOLE_FILE_MAX = 16 << 20
#: large files: reads of up to this many bytes go through a cache of file blocks ...
_BLOCK_READ_MAX = 1 << 16
#: ... of 2 ** _BLOCK_SHIFT bytes (64 KiB), the most recent _BLOCKS_KEPT of them (1 MiB)
_BLOCK_SHIFT = 16
_BLOCKS_KEPT = 16
#: dataset headers kept to compare new ones with (a graph has few kinds of dataset)
_TEMPLATES_KEPT = 64
#: symbol-table group layouts remembered, and the largest name heap remembered
_NAMES_CACHED = 256
_NAMES_CACHED_MAX = 4096
#: the bytes of a header that select the one to compare it with
_KEY_END = 80
#: object header chunks one object may have (continuation messages)
_MAX_CHUNKS = 256
#: bytes read at once for a symbol node read past the block cache: its header and 8 entries
#: (libhdf5's default, 2 x "group leaf node K" = 4; a node with more reads the rest)
_SNOD_BYTES = 8 + 40 * 8
#: the ranks libhdf5 supports
_MAX_RANK = 32

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MSG = struct.Struct("<HHB")
_PREFIX = struct.Struct("<BBHII")
_QQ = struct.Struct("<QQ")
_QQQ = struct.Struct("<QQQ")
_II = struct.Struct("<II")
#: a chunk B-tree node (version 1, type 1) that is a leaf (level 0) with one entry
_ONE_ENTRY_LEAF = b"TREE\x01\x00\x01\x00"
#: the filter pipeline of h5py's ``compression="gzip"``: deflate alone
_DEFLATE = (1,)
#: a symbol table entry (40 bytes): the name's offset in the heap, the object's address
#: (then a cache type and scratch pad, unused)
_SYMBOL = struct.Struct("<QQ24x")
_LINK_COMMON = struct.Struct("<BBQBB")  # version, flags, creation order, charset, name length
_DESC = struct.Struct("<IQI")
_SKIP = frozenset(
    {MSG_NULL, MSG_FILL_OLD, MSG_FILL, MSG_GROUP_INFO, MSG_COMMENT, MSG_MTIME_OLD, MSG_MTIME,
     MSG_REFCOUNT}
)  # fmt: skip


_OBJECT = np.dtype(object)
#: numeric dtypes in native byte order (not bool, which is checked): dtype -> item size
_PLAIN_ITEMSIZE = {
    dt: dt.itemsize
    for dt in DECODE_DTYPE.values()
    if not isinstance(dt, str) and dt.kind in "iuf" and dt.isnative
}
#: "not found" for caches whose values may be None
_MISSING = object()
#: filters the parser undoes: deflate (gzip) and shuffle
_FILTERS = frozenset({1, 2})


def _by_order(entry: tuple[int, bytes, int]) -> int:
    return entry[0]


def _by_name(entry: tuple[int, bytes, int]) -> bytes:
    return entry[1]


class Group:
    __slots__ = ("addr", "names", "links")

    def __init__(
        self, addr: int, names: list[str] | tuple[str, ...], links: dict[str, int]
    ) -> None:
        self.addr = addr
        #: member names in listing order (creation order if tracked, else name order); read
        #: only (groups of one layout may share one tuple)
        self.names = names
        self.links = links


class _Template(NamedTuple):
    """The header of a plain dataset but for its layout message's body: the bytes before it
    (from the header's start, the layout message's own type and size included) and after it
    (to the end of the header chunk), and what they hold."""

    head: bytes
    layout_size: int
    tail: bytes
    shape: Any
    dtype: Any
    filters: tuple[int, ...]
    #: bytes of the data when it is a non-empty numeric array in native order (what the
    #: one-step reads of :meth:`FastBackend.read_plain_members` take), else 0
    nbytes: int = 0
    #: a chunked layout (v3) whose one chunk is the whole array (every small array h5py
    #: compresses): the layout body's bytes after the chunk B-tree's address (the chunk's
    #: dimensions, padding); else empty
    one_chunk: bytes = b""
    #: ... and the chunk B-tree leaf holding that chunk: signature and entry count, stored
    #: size, filter mask, the chunk's offsets in the array, its address (see _leaf_struct)
    leaf: Any = None
    #: the bytes of such a leaf the general path reads (header, two keys, one child)
    leaf_reach: int = 0
    #: the filter pipeline is deflate alone (h5py's ``compression="gzip"``)
    deflate_only: bool = False


class _StabTemplate(NamedTuple):
    """A symbol-table group read in full before, for :meth:`FastBackend._known_symbol_table`:
    its names segment, its B-tree leaf to the first key (header, one entry, siblings), its
    symbol node's header, a struct of the node's entries (name offsets and addresses), the
    name offsets, and the names with their order as the general path found them."""

    names_raw: bytes
    tree: bytes
    snod: bytes
    entries: Any
    offsets: tuple[int, ...]
    names: tuple[str, ...]
    order: Any


def _entries_struct(n: int) -> struct.Struct:
    """``n`` symbol table entries: (name offset, object address) each, the rest skipped."""
    return struct.Struct("<" + "QQ24x" * n)


def _leaf_struct(rank: int) -> struct.Struct:
    """A chunk B-tree node (version 1) of a dataset of ``rank`` dimensions, to its first
    child: signature, type, level and entry count (8 bytes), the siblings (skipped), the
    first key (chunk size, filter mask, rank + 1 offsets) and the first child's address."""
    return struct.Struct(f"<8s16xII{rank + 1}QQ")


class Dataset:
    __slots__ = (
        "shape", "dtype", "buf", "data_off", "data_size", "contiguous", "attrs", "chunk",
        "filters",
    )  # fmt: skip

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = ()
        self.dtype: Any = None
        #: compact: the buffer and the offset of the data in it; contiguous: ``buf`` is None
        #: and ``data_off`` is the data's address (relative to the superblock, UNDEF if none)
        self.buf: Any = None
        self.data_off = 0
        self.data_size = 0
        self.contiguous = False
        #: attribute messages: (buffer, offset, size)
        self.attrs: list[tuple[Any, int, int]] = []
        #: chunked: the chunk's dimensions (``data_off`` is then the chunk B-tree's address)
        self.chunk: tuple[int, ...] | None = None
        #: the filter pipeline: filter ids in the order they were applied when writing
        self.filters: tuple[int, ...] = ()


def open_fast(path: str, budget: Budget, required: bool = False) -> FastBackend | None:
    """A backend for ``path`` if it carries nirhub's fast-layout marker, or if it is an HDF5
    file whose superblock is at its start (what h5py and so ``nir.write`` produce), else None.

    Files without the marker are *foreign*: the parser reads the common libhdf5 layouts too
    (symbol-table groups, chunked and deflate/shuffle-compressed data), but any structure it
    finds wrong or outside what it knows raises :class:`NotFast`, so that h5py, with its own
    checks, has the last word on such files.
    """
    try:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the backend
    except OSError:
        return None  # let the h5py path report it
    try:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(USERBLOCK + 96) if size > WHOLE_FILE_MAX else _read_all(fh, size)
        if head[: len(MARKER)] == MARKER and head[USERBLOCK : USERBLOCK + 8] == SIGNATURE:
            base, foreign = USERBLOCK, False
        elif head[:8] == SIGNATURE:
            base, foreign = 0, True
        else:
            if required:
                raise NotFast("the file does not carry nirhub's fast-layout marker")
            fh.close()
            return None
        if size <= WHOLE_FILE_MAX:  # (the file may have shrunk)
            return FastBackend(fh, len(head), head, budget, base, foreign)
        return FastBackend(fh, size, None, budget, base, foreign)
    except BaseException:
        fh.close()
        raise


def _read_all(fh: Any, size: int) -> bytes:
    data = fh.read(size)
    while len(data) < size:  # short reads
        more = fh.read(size - len(data))
        if not more:
            break
        data += more
    return data


class FastBackend:
    """Reader operations on a fast-layout file (see :class:`nirhub.io._h5.H5Backend`)."""

    fast = True

    def __init__(
        self,
        fh: Any,
        size: int,
        whole: bytes | None,
        budget: Budget,
        base: int = USERBLOCK,
        foreign: bool = False,
    ) -> None:
        self.fh = fh
        self.size = size
        self.whole = whole
        #: the file read whole, as a memoryview (slices without copies)
        self._whole_view = None if whole is None else memoryview(whole)
        self.budget = budget
        self._max_bytes = budget.limits.max_bytes
        self.base = base
        #: a file without nirhub's marker: every problem found is NotFast (h5py decides)
        self.foreign = foreign
        #: global heap collection address -> {index: (buffer, offset, size)}
        self.heaps: dict[int, dict[int, tuple[Any, int, int]]] = {}
        #: blocks of a large file read for small structures: index -> bytes
        self._blocks: dict[int, bytes] = {}
        #: filter pipeline message bytes -> filter ids
        self._pipelines: dict[bytes, tuple[int, ...]] = {}
        #: Dataspace message bytes -> shape (datasets of a graph share few shapes)
        self._spaces: dict[bytes, Any] = {}
        #: headers of plain datasets seen, for :meth:`_plain_dataset`, by their bytes
        #: 8.._KEY_END (the header's size, its dataspace and most of its datatype)
        self._templates: dict[bytes, _Template] = {}
        #: symbol-table group headers seen: their bytes up to the message's body (its first 24:
        #: the prefix and the message's own header) -> the bytes after that body
        self._group_heads: dict[bytes, bytes] = {}
        #: the template of the last scalar string read by :meth:`read_plain_string`
        self._string_guess: _Template | None = None
        #: member name -> the template of the last plain array of that name read in one step
        #: (see :meth:`_plain_values`)
        self._guesses: dict[str, _Template] = {}
        #: symbol-table groups: (heap segment, name offsets) -> (names, (name index, member
        #: index) pairs), see :meth:`_old_group`
        self._member_names: dict[tuple[bytes, tuple[int, ...]], tuple[tuple[str, ...], Any]] = {}
        #: symbol-table groups read in full: the first 24 bytes of their local heap -> the
        #: pieces that do not depend on where they lie (see :meth:`_known_symbol_table`)
        self._stab_templates: dict[bytes, list[_StabTemplate]] = {}
        self._superblock()

    def __enter__(self) -> FastBackend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.fh.close()

    # -- raw access -------------------------------------------------------------------------
    def error(self, message: str, location: str) -> Exception:
        if self.foreign:
            return NotFast(f"{location}: {message}")
        return self.budget.error(message, location)

    def _bytes(self, addr: int, n: int, location: str) -> tuple[Any, int]:
        """(buffer, offset) holding the ``n`` bytes at relative address ``addr``."""
        start = self.base + addr
        if addr < 0 or n < 0 or start + n > self.size:
            raise self.error(
                f"is corrupt: it points to bytes {start:,}..{start + n:,}, beyond the end of "
                f"the file ({self.size:,} bytes)",
                location,
            )
        if self.whole is not None:
            return self.whole, start
        if n <= _BLOCK_READ_MAX:
            first = start >> _BLOCK_SHIFT
            if first == (start + n - 1) >> _BLOCK_SHIFT:  # within one cached block
                block = self._blocks.get(first)
                if block is None:
                    block = self._block(first)
                off = start - (first << _BLOCK_SHIFT)
                if off + n <= len(block):
                    return block, off
        self.fh.seek(start)
        data = _read_all(self.fh, n)
        if len(data) != n:
            raise self.error("is truncated (the file ends early)", location)
        return data, 0

    def _direct(self, addr: int, n: int, location: str) -> tuple[Any, int]:
        """(buffer, offset) of up to ``n`` bytes at relative address ``addr`` (at least 8;
        fewer than ``n`` at the end of the file), read past the block cache."""
        start = self.base + addr
        if addr < 0 or start + 8 > self.size:
            return self._bytes(addr, 8, location)  # (raises, naming the bytes)
        self.fh.seek(start)
        data = _read_all(self.fh, min(n, self.size - start))
        if len(data) < 8:
            raise self.error("is truncated (the file ends early)", location)
        return data, 0

    def _more(self, buf: Any, off: int, n: int, addr: int, location: str) -> tuple[Any, int]:
        """The ``n`` bytes at ``addr``, which follow ``buf[:off]`` in the file: still in
        ``buf`` (a cached block) if it holds them, else read."""
        if off + n <= len(buf):
            return buf, off
        return self._bytes(addr, n, location)

    def _span(self, addr: int, n: int) -> tuple[Any, int] | None:
        """(buffer, offset) of the ``n`` bytes at relative address ``addr`` if they are in
        memory: in the file read whole, or within one block of a large file (read into the
        cache if need be); else None, also for bytes outside the file (the one-step reads
        then leave the object to the general path, which reports what is wrong)."""
        start = self.base + addr
        if addr < 0 or start + n > self.size:
            return None
        whole = self.whole
        if whole is not None:
            return whole, start
        first = start >> _BLOCK_SHIFT
        if first != (start + n - 1) >> _BLOCK_SHIFT:
            return None
        block = self._blocks.get(first)
        if block is None:
            block = self._block(first)
        off = start - (first << _BLOCK_SHIFT)
        if off + n > len(block):  # (the file shrank)
            return None
        return block, off

    def _block(self, index: int) -> bytes:
        """Block ``index`` of the file (metadata of large files is read a block at a time;
        the few most recent blocks are kept)."""
        blocks = self._blocks
        if len(blocks) >= _BLOCKS_KEPT:
            del blocks[next(iter(blocks))]  # the oldest
        self.fh.seek(index << _BLOCK_SHIFT)
        block = blocks[index] = _read_all(self.fh, 1 << _BLOCK_SHIFT)
        return block

    def _superblock(self) -> None:
        buf, off = self._bytes(0, 96, "/")
        if buf[off + 8] != 0:
            raise NotFast(f"superblock version {buf[off + 8]}")
        if buf[off + 13] != 8 or buf[off + 14] != 8:
            raise NotFast("offsets or lengths that are not 8 bytes")
        (base,) = _U64.unpack_from(buf, off + 24)
        if self.foreign and base != self.base:
            raise NotFast(f"a superblock with base address {base}")
        (eof,) = _U64.unpack_from(buf, off + 40)
        if eof > self.size:
            if self.foreign:
                raise NotFast("the file is truncated")
            raise FileFormatError("is truncated (the HDF5 file ends early)", path=self.budget.path)
        (self.root_addr,) = _U64.unpack_from(buf, off + 64)

    # -- objects ----------------------------------------------------------------------------
    def _messages(self, addr: int, location: str) -> list[tuple[int, Any, int, int]]:
        """The messages of the v1 object header at ``addr``: (type, buffer, offset, size),
        continuation chunks followed, NULL/fill/time/comment messages left out."""
        whole = self.whole
        if whole is not None:
            start = self.base + addr
            if addr < 0 or start + 16 > self.size:
                raise self.error("is corrupt: it points beyond the end of the file", location)
            buf = whole
        else:
            buf, start = self._bytes(addr, 16, location)
        version, _, _nmsgs, _refs, size = _PREFIX.unpack_from(buf, start)
        if version != 1:
            if buf[start : start + 4] == b"OHDR":
                raise NotFast("a version 2 object header")
            raise self.error("is corrupt: not an HDF5 object header", location)
        if whole is None:
            buf, p = self._more(buf, start + 16, size, addr + 16, location)
        else:
            p = start + 16
            if p + size > self.size:
                raise self.error("is corrupt: its object header runs past the end", location)
        end = p + size
        out: list[tuple[int, Any, int, int]] = []
        unpack = _MSG.unpack_from
        pending: list[tuple[Any, int, int]] = []
        seen: set[int] | None = None
        while True:
            while p + 8 <= end:
                kind, msize, flags = unpack(buf, p)
                p += 8
                q = p + msize
                if q > end:
                    raise self.error("is corrupt: a header message runs past its chunk", location)
                if kind in _SKIP:
                    pass
                elif kind == MSG_CONTINUATION:
                    if msize < 16:
                        raise self.error("is corrupt: short continuation message", location)
                    caddr, clen = _QQ.unpack_from(buf, p)
                    if seen is None:
                        seen = {addr}
                    if caddr in seen or len(seen) > _MAX_CHUNKS:
                        raise self.error("is corrupt: object header chunks form a loop", location)
                    seen.add(caddr)
                    cbuf, coff = self._bytes(caddr, clen, location)
                    pending.append((cbuf, coff, coff + clen))
                else:
                    if flags & 0x02:
                        raise NotFast("a shared header message")
                    out.append((kind, buf, p, msize))
                p = q
            if not pending:
                return out
            buf, p, end = pending.pop()

    def _object(self, addr: int, location: str) -> Group | Dataset:
        group = self._known_group(addr, location)
        if group is not None:
            return group
        ds = self._plain_dataset(addr)
        if ds is not None:
            return ds
        messages = self._messages(addr, location)
        if messages and messages[0][0] == MSG_LINK_INFO:
            return self._group(addr, messages, location)
        if messages and messages[0][0] == MSG_SYMBOL_TABLE:
            return self._old_group(addr, messages, location)
        ds = Dataset()
        have = 0
        spaces = self._spaces
        for kind, buf, p, size in messages:
            if kind == MSG_DATASPACE:
                raw = buf[p : p + size]
                shape = spaces.get(raw, spaces)  # (the dict itself: not cached yet)
                if shape is spaces:
                    shape = spaces[raw] = self._dataspace(buf, p, size, location)
                ds.shape = shape
                have |= 1
            elif kind == MSG_DATATYPE:
                n = DTYPE_LENGTH.get(buf[p] & 0x0F)
                dtype = DECODE_DTYPE.get(buf[p : p + n]) if n is not None and n <= size else None
                if dtype is None:
                    raise NotFast("a datatype outside the subset")
                ds.dtype = dtype
                have |= 2
            elif kind == MSG_LAYOUT:
                self._layout(ds, buf, p, size, location)
                have |= 4
            elif kind == MSG_ATTRIBUTE:
                ds.attrs.append((buf, p, size))
            elif kind == MSG_FILTERS:
                raw = buf[p : p + size]
                filters = self._pipelines.get(raw)
                if filters is None:
                    filters = self._pipelines[raw] = self._filters(buf, p, size, location)
                ds.filters = filters
            elif kind in (MSG_LINK_INFO, MSG_LINK) and not have and not ds.attrs:
                return self._group(addr, messages, location)
            elif kind == MSG_SYMBOL_TABLE and not have and not ds.attrs:
                return self._old_group(addr, messages, location)
            else:  # links in a dataset, filters, external storage, attribute info, ...
                raise NotFast(f"header message type {kind:#x}")
        if have != 7:
            raise NotFast("an object that is neither a group nor a dataset of the subset")
        if ds.filters and ds.chunk is None:
            raise self.error("is corrupt: a filter pipeline on unchunked data", location)
        return ds

    def _plain_dataset(self, addr: int) -> Dataset | None:
        """The common dataset, in one pass over its header: one header chunk holding a
        dataspace, a datatype and a layout seen before (cached), maybe filters and attributes.

        Anything else (groups, continuation chunks, new shapes or pipelines, anything odd or
        corrupt) returns None, and :meth:`_object` parses the header the general way, with
        its checks and errors; the result is the same :class:`Dataset` either way. This path
        only saves the per-object cost that dominates files of many small nodes.
        """
        if addr < 0 or self.base + addr + 16 > self.size:
            return None
        buf: Any = self.whole
        if buf is not None:
            start = self.base + addr
        else:  # a large file: the header must lie in one cached block
            try:
                buf, start = self._bytes(addr, 16, "")
            except (NotFast, FileFormatError):
                return None
        if buf[start] != 1:
            return None
        p = start + 16
        end = p + _U32.unpack_from(buf, start + 8)[0]
        if end > len(buf):
            return None
        # Datasets of one shape and type have the same header bytes but for their layout
        # (where the data is): compare with a header seen before instead of parsing again
        tpl = self._templates.get(buf[start + 8 : start + _KEY_END])
        if tpl is not None:
            at = start + len(tpl.head)
            if (
                at + tpl.layout_size + len(tpl.tail) == end
                and buf.startswith(tpl.head, start)
                and buf.startswith(tpl.tail, end - len(tpl.tail))
            ):
                ds = Dataset()
                try:
                    self._layout(ds, buf, at, tpl.layout_size, "")
                except (NotFast, FileFormatError):
                    return None
                if tpl.filters and ds.chunk is None:
                    return None
                ds.shape = tpl.shape
                ds.dtype = tpl.dtype
                ds.filters = tpl.filters
                return ds
        unpack = _MSG.unpack_from
        shape: Any = _MISSING
        dtype: Any = None
        filters: tuple[int, ...] | None = ()
        attrs: list[tuple[Any, int, int]] | None = None
        layout = -1
        spaces = self._spaces
        while p + 8 <= end:
            kind, msize, flags = unpack(buf, p)
            p += 8
            q = p + msize
            if q > end:
                return None
            if kind in _SKIP:
                p = q
                continue
            if flags & 0x02:
                return None
            if kind == MSG_DATASPACE:
                shape = spaces.get(buf[p:q], _MISSING)
                if shape is _MISSING:
                    return None
            elif kind == MSG_DATATYPE:
                n = DTYPE_LENGTH.get(buf[p] & 0x0F)
                dtype = DECODE_DTYPE.get(buf[p : p + n]) if n is not None and n <= msize else None
                if dtype is None:
                    return None
            elif kind == MSG_LAYOUT:
                if layout >= 0:
                    return None
                layout, lsize = p, msize
            elif kind == MSG_ATTRIBUTE:
                if attrs is None:
                    attrs = []
                attrs.append((buf, p, msize))
            elif kind == MSG_FILTERS:
                filters = self._pipelines.get(buf[p:q])
                if filters is None:
                    return None
            else:
                return None
            p = q
        if shape is _MISSING or dtype is None or layout < 0:
            return None
        ds = Dataset()
        try:
            self._layout(ds, buf, layout, lsize, "")
        except (NotFast, FileFormatError):
            return None
        if filters and ds.chunk is None:
            return None
        ds.shape = shape
        ds.dtype = dtype
        ds.filters = filters
        if attrs is not None:
            ds.attrs = attrs
        else:  # (attributes are kept as positions in the buffer: no template for them)
            templates = self._templates
            head = bytes(buf[start:layout])
            if len(templates) < _TEMPLATES_KEPT and len(head) >= _KEY_END:
                itemsize = 0 if shape is None else _PLAIN_ITEMSIZE.get(dtype, 0)
                nbytes = itemsize * math.prod(shape) if itemsize else 0
                chunk = ds.chunk
                one_chunk, leaf, reach = b"", None, 0
                if nbytes and chunk is not None and chunk == (*shape, itemsize):
                    one_chunk = bytes(buf[layout + 11 : layout + lsize])
                    leaf = _leaf_struct(len(shape))
                    reach = 32 + 2 * (16 + 8 * len(shape))  # (header, two keys, one child)
                templates[head[8:_KEY_END]] = _Template(
                    head, lsize, bytes(buf[layout + lsize : end]), shape, dtype, filters,
                    nbytes, one_chunk, leaf, reach, filters == _DEFLATE,
                )  # fmt: skip
        return ds

    def _dataspace(self, buf: Any, p: int, size: int, location: str) -> tuple[int, ...] | None:
        if size < 8:
            raise self.error("is corrupt: short dataspace message", location)
        version, rank, flags, kind = buf[p], buf[p + 1], buf[p + 2], buf[p + 3]
        if rank > _MAX_RANK:
            raise self.error(f"is corrupt: a dataspace of rank {rank}", location)
        if version == 1:
            if flags & 0x02:
                raise NotFast("a dataspace with a permutation index")
            start = p + 8
        elif version == 2:
            if kind == 2:
                return None  # null dataspace
            if kind == 0:
                return ()
            if kind != 1:
                raise self.error(f"is corrupt: dataspace type {kind}", location)
            start = p + 4
        else:
            raise NotFast(f"dataspace version {version}")
        if start + 8 * rank > p + size:
            raise self.error("is corrupt: short dataspace message", location)
        return struct.unpack_from(f"<{rank}Q", buf, start)

    def _layout(self, ds: Dataset, buf: Any, p: int, size: int, location: str) -> None:
        if size < 4 or buf[p] not in (3, 4):
            raise NotFast("a data layout message version other than 3 and 4")
        cls = buf[p + 1]
        if cls == 0:  # compact: the data follows
            (n,) = _U16.unpack_from(buf, p + 2)
            if 4 + n > size:
                raise self.error("is corrupt: compact data runs past its message", location)
            ds.buf, ds.data_off, ds.data_size = buf, p + 4, n
        elif cls == 1:
            if size < 18:
                raise self.error("is corrupt: short data layout message", location)
            addr, n = _QQ.unpack_from(buf, p + 2)
            ds.contiguous = True
            ds.data_off, ds.data_size = addr, n
        elif cls == 2 and buf[p] == 3:
            # chunked, indexed by a version 1 B-tree: rank + 1 dimensions (the last one is
            # the element size)
            rank = buf[p + 2] if size > 2 else 0
            if rank < 2 or rank > _MAX_RANK + 1 or 11 + 4 * rank > size:
                raise self.error("is corrupt: bad chunked data layout message", location)
            (ds.data_off,) = _U64.unpack_from(buf, p + 3)
            ds.chunk = struct.unpack_from(f"<{rank}I", buf, p + 11)
            if 0 in ds.chunk:
                raise self.error("is corrupt: a chunk dimension of 0", location)
        else:
            raise NotFast("chunked (other than v3) or virtual storage")

    def _filters(self, buf: Any, p: int, size: int, location: str) -> tuple[int, ...]:
        """The ids of a filter pipeline message (deflate and shuffle, else NotFast)."""
        end = p + size
        if size < 2 or buf[p] not in (1, 2):
            raise NotFast("a filter pipeline message of another version")
        version, count = buf[p], buf[p + 1]
        q = p + (8 if version == 1 else 2)
        ids = []
        for _ in range(count):
            if q + 8 > end:
                raise self.error("is corrupt: short filter pipeline message", location)
            (fid,) = _U16.unpack_from(buf, q)
            if fid not in _FILTERS:
                raise NotFast(f"filter {fid}")
            if version == 1:
                name_len, _flags, ncd = struct.unpack_from("<HHH", buf, q + 2)
                q += 8 + name_len + 4 * ncd + 4 * (ncd % 2)
            else:  # (ids below 256 have no name field)
                _flags, ncd = struct.unpack_from("<HH", buf, q + 2)
                q += 6 + 4 * ncd
            if q > end:
                raise self.error("is corrupt: short filter pipeline message", location)
            ids.append(fid)
        return tuple(ids)

    def _known_group(self, addr: int, location: str) -> Group | None:
        """A symbol-table group whose header equals one parsed before but for the symbol
        table message's body (where its B-tree and heap lie); else None.

        Every node group of a file written by h5py has such a header (24 bytes): this skips
        parsing it twice (as a dataset, then as a group) for each node. Equal bytes mean the
        same messages, which the general parse of the first one checked. The header must be
        in memory (a file read whole, or one block of a large one)."""
        heads = self._group_heads
        if not heads:
            return None
        buf = self.whole
        if buf is not None:
            start = self.base + addr
            if addr < 0 or start + 40 > self.size:
                return None
        else:
            hit = self._span(addr, 40)
            if hit is None:
                return None
            buf, start = hit
        tail = heads.get(buf[start : start + 24])
        if tail is None:
            return None
        end = start + 16 + _U32.unpack_from(buf, start + 8)[0]
        if start + 40 + len(tail) != end or end > len(buf) or not buf.startswith(tail, start + 40):
            return None
        btree, heap = _QQ.unpack_from(buf, start + 24)
        return self._symbol_table(addr, btree, heap, location)

    def _old_group(self, addr: int, messages: list, location: str) -> Group:
        """A group with a symbol table (a v1 B-tree of symbol nodes and a local heap of
        names): how libhdf5 stores groups by default, so in every file h5py and nir write."""
        if len(messages) != 1 or messages[0][3] < 16:
            raise NotFast("a symbol-table group with other messages")
        _kind, buf, p, size = messages[0]
        btree, heap = _QQ.unpack_from(buf, p)
        hit = self._span(addr, 40)  # (before the blocks holding the header may be dropped)
        group = self._symbol_table(addr, btree, heap, location)
        if hit is not None and hit[0] is buf and p == hit[1] + 24 and size == 16:
            start = hit[1]
            end = start + 16 + _U32.unpack_from(buf, start + 8)[0]
            heads = self._group_heads
            if buf[start] == 1 and end <= len(buf) and len(heads) < _TEMPLATES_KEPT:
                heads[bytes(buf[start : start + 24])] = bytes(buf[start + 40 : end])
        return group

    def _symbol_table(self, addr: int, btree: int, heap: int, location: str) -> Group:
        """The members of a symbol-table group: its B-tree of symbol nodes and its heap of
        names."""
        if self.whole is not None and self._stab_templates:
            group = self._known_symbol_table(addr, btree, heap)
            if group is not None:
                return group
        hbuf, hoff = self._bytes(heap, 32, location)
        if hbuf[hoff : hoff + 4] != b"HEAP" or hbuf[hoff + 4] != 0:
            raise self.error("is corrupt: bad local heap", location)
        seg_size, _free, seg_addr = _QQQ.unpack_from(hbuf, hoff + 8)
        names_buf, names_off = self._bytes(seg_addr, seg_size, location)
        offsets: list[int] = []  # of each member's name in the heap, in B-tree order
        children: list[int] = []
        snods = self._btree_children(btree, 0, location)
        # the symbol nodes of a large group lie all over a large file: each is read with a
        # read of its own, not as a block of the cache (which would also drop the blocks
        # that hold the structures read next)
        direct = self.whole is None and len(snods) > 1
        for snod in snods:
            if direct:
                sbuf, soff = self._direct(snod, _SNOD_BYTES, location)
            else:
                sbuf, soff = self._bytes(snod, 8, location)
            if sbuf[soff : soff + 4] != b"SNOD" or sbuf[soff + 4] != 1:
                raise self.error("is corrupt: bad symbol table node", location)
            (n,) = _U16.unpack_from(sbuf, soff + 6)
            sbuf, soff = self._more(sbuf, soff + 8, 40 * n, snod + 8, location)
            for name_at, obj in _SYMBOL.iter_unpack(sbuf[soff : soff + 40 * n]):
                offsets.append(name_at)
                children.append(obj)
        # Groups of one node type hold the same names at the same heap offsets: the names are
        # decoded, checked and sorted once per such layout
        key = None
        if seg_size <= _NAMES_CACHED_MAX:
            key = (names_buf[names_off : names_off + seg_size], tuple(offsets))
            known = self._member_names.get(key)
            if known is not None:
                names, order = known
                if order is None:  # (B-tree order is name order: the usual case)
                    return Group(addr, list(names), dict(zip(names, children, strict=True)))
                return Group(addr, list(names), {names[k]: children[i] for k, i in order})
        entries: list[tuple[bytes, int]] = []
        for i, name_at in enumerate(offsets):
            if name_at >= seg_size:
                raise self.error("is corrupt: a link name outside the local heap", location)
            start = names_off + name_at
            stop = names_buf.find(b"\0", start, names_off + seg_size)
            if stop <= start:
                raise self.error("is corrupt: bad link name", location)
            entries.append((bytes(names_buf[start:stop]), i))
        entries.sort()
        names: list[str] = []
        links: dict[str, int] = {}
        for raw, i in entries:
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error(
                    f"holds a member whose name is not UTF-8: {raw!r}", location
                ) from None
            if name in links:
                raise self.error(f"is corrupt: member {name!r} appears twice", location)
            names.append(name)
            links[name] = children[i]
        if key is not None and len(self._member_names) < _NAMES_CACHED:
            order = tuple((k, i) for k, (_raw, i) in enumerate(entries))
            identity = all(k == i for k, i in order)
            self._member_names[key] = (tuple(names), None if identity else order)
            if len(snods) == 1 and self.whole is not None:
                self._remember_symbol_table(btree, heap, snods[0], key)
        return Group(addr, names, links)

    def _remember_symbol_table(
        self, btree: int, heap: int, snod: int, key: tuple[bytes, tuple[int, ...]]
    ) -> None:
        """Keep the pieces of a symbol-table group just read in full (a file read whole, a
        B-tree of one leaf pointing to one symbol node, names cached) that do not depend on
        where they lie, for :meth:`_known_symbol_table`."""
        whole = self.whole
        base = self.base
        h, t, s = base + heap, base + btree, base + snod
        tree = bytes(whole[t : t + 32])
        if tree[:8] != b"TREE\x00\x00\x01\x00":  # (a leaf with one child, one symbol node)
            return
        raw, offsets = key
        names, order = self._member_names[key]
        tpl = _StabTemplate(
            bytes(raw), tree, bytes(whole[s : s + 8]), _entries_struct(len(offsets)), offsets,
            names, order,
        )  # fmt: skip
        key = bytes(whole[h : h + 24])
        known_tpls = self._stab_templates.setdefault(key, [])
        if len(known_tpls) < 8 and tpl not in known_tpls:
            known_tpls.append(tpl)

    def _known_symbol_table(self, addr: int, btree: int, heap: int) -> Group | None:
        """A symbol-table group whose local heap (but for where its names lie), names, B-tree
        leaf (but for its child's address) and symbol node (but for the members' addresses)
        equal those of a group read in full before (every node group of one type that h5py
        writes): its members in one step; else None (the general path, with its checks).
        Equal bytes hold the same names at the same offsets, which the general path checked
        when it read the first such group."""
        whole = self.whole
        base = self.base
        size = self.size
        h = base + heap
        if heap < 0 or h + 32 > size:
            return None
        tpls = self._stab_templates.get(whole[h : h + 24])
        if tpls is None:
            return None
        names_at = base + _U64.unpack_from(whole, h + 24)[0]
        t = base + btree
        if btree < 0 or t + 48 > size:  # (the leaf's header, two keys and a child)
            return None
        for tpl in tpls:
            if not whole.startswith(tpl.names_raw, names_at) or not whole.startswith(tpl.tree, t):
                continue
            s = base + _U64.unpack_from(whole, t + 32)[0]
            entries = tpl.entries
            if s + 8 + entries.size > size or not whole.startswith(tpl.snod, s):
                return None
            values = entries.unpack_from(whole, s + 8)
            if values[0::2] != tpl.offsets:
                return None
            # (the names are the template's tuple, shared: the reader only reads them; the
            # entries struct has one child per name)
            names = tpl.names
            children = values[1::2]
            order = tpl.order
            if order is None:
                return Group(addr, names, dict(zip(names, children)))  # noqa: B905
            return Group(addr, names, {names[k]: children[i] for k, i in order})
        return None

    def _btree_nodes(self, addr: int, kind: int, location: str, key_size: int):
        """The leaves of a version 1 B-tree: yields (buffer, offset of the first key, entries)
        of each level-0 node, in key order. Levels must go down by one; a node reached twice
        is corrupt (a loop)."""
        stack = [(addr, None)]
        seen: set[int] = set()
        while stack:
            node, level = stack.pop()
            if node in seen:
                raise self.error("is corrupt: its B-tree has a loop", location)
            seen.add(node)
            buf, off = self._bytes(node, 24, location)
            if buf[off : off + 4] != b"TREE" or buf[off + 4] != kind:
                raise self.error("is corrupt: bad B-tree node", location)
            here = buf[off + 5]
            if (level is not None and here != level) or here > 64:
                raise self.error("is corrupt: bad B-tree level", location)
            (n,) = _U16.unpack_from(buf, off + 6)
            buf, off = self._more(buf, off + 24, n * (key_size + 8) + key_size, node + 24, location)
            if here == 0:
                yield buf, off, n
                continue
            children = [
                _U64.unpack_from(buf, off + key_size + i * (key_size + 8))[0] for i in range(n)
            ]
            stack.extend((child, here - 1) for child in reversed(children))

    def _btree_children(self, addr: int, kind: int, location: str) -> list[int]:
        """The child addresses of the leaves of a group B-tree, in key order."""
        if addr >= 0 and self.base + addr + 24 <= self.size:
            # the usual group of a node (a few members): a B-tree of one leaf
            buf, start = self._bytes(addr, 24, location)
            if buf.startswith(b"TREE", start) and buf[start + 4] == kind and not buf[start + 5]:
                (n,) = _U16.unpack_from(buf, start + 6)
                first = start + 32  # (past the node's header and the first key)
                if first + 16 * n <= len(buf):
                    unpack = _U64.unpack_from
                    return [unpack(buf, first + 16 * i)[0] for i in range(n)]
        out: list[int] = []
        for buf, off, n in self._btree_nodes(addr, kind, location, 8):
            out.extend(_U64.unpack_from(buf, off + 8 + i * 16)[0] for i in range(n))
        return out

    def _group(self, addr: int, messages: list, location: str) -> Group:
        tracked = False
        entries: list[tuple[int, bytes, int]] = []
        link = self._link
        for kind, buf, p, size in messages:
            if kind == MSG_LINK:
                entries.append(link(buf, p, size, location))
            elif kind == MSG_LINK_INFO:
                if size < 18 or buf[p] != 0:
                    raise NotFast("a link info message of another version")
                tracked = bool(buf[p + 1] & 1)
                (heap,) = _U64.unpack_from(buf, p + (10 if tracked else 2))
                if heap != UNDEF:
                    raise NotFast("a group with dense link storage")
            else:
                raise NotFast(f"header message type {kind:#x} in a group")
        entries.sort(key=_by_order if tracked else _by_name)
        names: list[str] = []
        links: dict[str, int] = {}
        for _order, raw, child in entries:
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error(
                    f"holds a member whose name is not UTF-8: {raw!r}", location
                ) from None
            names.append(name)
            links[name] = child
        return Group(addr, names, links)

    def _link(self, buf: Any, p: int, size: int, location: str) -> tuple[int, bytes, int]:
        """(creation order, name, object address) of a hard link message."""
        end = p + size
        if size >= 12:
            version, flags, order, _cset, n = _LINK_COMMON.unpack_from(buf, p)
            if version == 1 and flags == 0x14:  # what the fast writer writes
                q = p + 12
                if n and q + n + 8 <= end:
                    return order, buf[q : q + n], _U64.unpack_from(buf, q + n)[0]
                raise self.error("is corrupt: bad link message", location)
        if size < 4 or buf[p] != 1:
            raise self.error("is corrupt: bad link message", location)
        flags = buf[p + 1]
        q = p + 2
        if flags & 0x08:
            if buf[q] != 0:
                raise NotFast("a soft, external or user-defined link")
            q += 1
        order = 0
        if flags & 0x04:
            if q + 8 > end:
                raise self.error("is corrupt: bad link message", location)
            (order,) = _U64.unpack_from(buf, q)
            q += 8
        if flags & 0x10:
            q += 1
        width = 1 << (flags & 3)
        if q + width > end:
            raise self.error("is corrupt: bad link message", location)
        n = int.from_bytes(buf[q : q + width], "little")
        q += width
        if q + n + 8 > end or n == 0:
            raise self.error("is corrupt: bad link message", location)
        return order, bytes(buf[q : q + n]), _U64.unpack_from(buf, q + n)[0]

    # -- the backend interface --------------------------------------------------------------
    def root(self) -> Group:
        obj = self._object(self.root_addr, "/")
        if not isinstance(obj, Group):
            raise self.error("is not a group", "/")
        return obj

    @staticmethod
    def list_links(group: Group, location: str) -> list[str]:
        return group.names

    def open_object(self, group: Group, name: str, location: str) -> Group | Dataset:
        addr = group.links[name]
        obj = None
        if self.whole is not None and self._stab_templates:
            obj = self._known_node_group(addr)
        if obj is None:
            obj = self._object(addr, location)
        if isinstance(obj, Group):
            seen = self.budget.groups_seen
            if addr in seen:
                self.budget.visit_group(addr, location)  # (raises)
            seen.add(addr)
        return obj

    def _known_node_group(self, addr: int) -> Group | None:
        """:meth:`_known_group` then :meth:`_known_symbol_table` in one step, for a file read
        whole (every node group of a file written by h5py): the group, else None (then
        :meth:`_object` reads it, with its checks and errors)."""
        whole = self.whole
        start = self.base + addr
        if start + 40 > self.size:
            return None
        tail = self._group_heads.get(whole[start : start + 24])
        if tail is None:
            return None
        end = start + 16 + _U32.unpack_from(whole, start + 8)[0]
        if (
            start + 40 + len(tail) != end
            or end > len(whole)
            or not whole.startswith(tail, start + 40)
        ):
            return None
        btree, heap = _QQ.unpack_from(whole, start + 24)
        return self._known_symbol_table(addr, btree, heap)

    open_dataset = open_object

    def _template_hit(self, addr: int) -> tuple[_Template, Any, int] | None:
        """The dataset whose header is at ``addr``, if the header is in memory (see
        :meth:`_span`) and equals a template seen before but for its layout message's body:
        (template, buffer, offset of that body in it)."""
        whole = self.whole
        if whole is not None:
            start = self.base + addr
            if addr < 0 or start + _KEY_END > self.size:
                return None
            buf = whole
        else:
            hit = self._span(addr, _KEY_END)
            if hit is None:
                return None
            buf, start = hit
        if buf[start] != 1:
            return None
        tpl = self._templates.get(buf[start + 8 : start + _KEY_END])
        if tpl is None:
            return None
        at = start + len(tpl.head)
        end = start + 16 + _U32.unpack_from(buf, start + 8)[0]
        if (
            at + tpl.layout_size + len(tpl.tail) != end
            or end > len(buf)
            or buf[at] not in (3, 4)
            or not buf.startswith(tpl.head, start)
            or not buf.startswith(tpl.tail, end - len(tpl.tail))
        ):
            return None
        return tpl, buf, at

    def _plain_values(
        self, group: Group, names: Any, fields: Any, location: str, single: bool = False
    ) -> dict[str, np.ndarray]:
        """The members ``names`` of ``group`` that are in ``fields``, read in one step each,
        in order, up to the first one that is not the common dataset of a file of many nodes
        or is ``metadata`` (then the caller opens and reads the rest the general way, with
        its checks and errors, so that the budget is charged in the same order); members
        outside ``fields`` are skipped. ``location``: the group's (the member's if
        ``single``).

        The common dataset: its header is in memory (see :meth:`_span`) and equals a template
        seen before (same shape and type, no attributes) but for where its data lies, and its
        data is a non-empty numeric array in native order, stored contiguously or compact (in
        the header) without filters, or in one chunk (the whole array: how h5py stores each
        small compressed array) found through a chunk B-tree of one leaf with one entry, its
        filters (deflate, shuffle) undone as the general path undoes them (inflate bounded by
        the chunk's size). The budget is charged as the general path charges it, and a budget
        that runs out raises the general path's error before anything is read; anything odd
        or corrupt stops the pass before anything is charged for that member. (One loop, as
        this runs once per array of a file: tens of thousands of times for a graph of many
        small nodes.)"""
        out: dict[str, np.ndarray] = {}
        links = group.links
        whole = self.whole
        base = self.base
        size = self.size
        templates = self._templates
        guesses = self._guesses
        wview = self._whole_view
        budget = self.budget
        limit = self._max_bytes
        for name in names:
            if name not in fields:
                if name == "metadata":
                    break
                continue
            addr = links[name]
            if whole is not None:
                # the usual member of a file read whole, in a few steps: a header equal to
                # the last one of that name (see below) and contiguous data in the file; the
                # steps below check and read such a member the same way, so anything else
                # goes on to them
                tpl = guesses.get(name)
                if tpl is not None and not tpl.filters:
                    start = base + addr
                    at = start + len(tpl.head)
                    lsize = tpl.layout_size
                    if (
                        whole.startswith(tpl.head, start)
                        and whole.startswith(tpl.tail, at + lsize)
                        and whole[at + 1] == 1
                        and lsize >= 18
                        and whole[at] in (3, 4)
                    ):
                        offset, stored = _QQ.unpack_from(whole, at + 2)
                        need = tpl.nbytes
                        offset += base
                        if (
                            need <= limit
                            and offset - base != UNDEF
                            and stored >= need
                            and offset + need <= size
                        ):
                            if budget.used + need > limit:  # (raises, naming the member)
                                budget.charge(need, location if single else f"{location}/{name}")
                            budget.used += need
                            arr = np.empty(tpl.shape, tpl.dtype)
                            arr.data.cast("B")[:] = wview[offset : offset + need]
                            out[name] = arr
                            continue
                buf, start = whole, base + addr
                if addr < 0 or start + _KEY_END > size:
                    break
            else:
                span = self._span(addr, _KEY_END)
                if span is None:
                    break
                buf, start = span
            # where buf[0] lies in the file: the B-tree leaf and the chunk are looked for in
            # the same buffer first (in a large file they are usually in the header's block)
            origin = base + addr - start
            # the template this member's name had last time (members of one name have one
            # shape and type in a file of many nodes): its head holds the header's size, so
            # head and tail equal mean the same header but for the layout's body, as below
            tpl = guesses.get(name)
            if tpl is not None:
                head, lsize, tail = tpl.head, tpl.layout_size, tpl.tail
                at = start + len(head)
                if not buf.startswith(head, start) or not buf.startswith(tail, at + lsize):
                    tpl = None
            if tpl is None:
                if buf[start] != 1:
                    break
                tpl = templates.get(buf[start + 8 : start + _KEY_END])
                if tpl is None or not tpl.nbytes:
                    break
                head, lsize, tail = tpl.head, tpl.layout_size, tpl.tail
                at = start + len(head)
                end = start + 16 + _U32.unpack_from(buf, start + 8)[0]
                if (
                    at + lsize + len(tail) != end
                    or end > len(buf)
                    or not buf.startswith(head, start)
                    or not buf.startswith(tail, end - len(tail))
                ):
                    break
                if len(guesses) < _TEMPLATES_KEPT:
                    guesses[name] = tpl
            need = tpl.nbytes
            if need > limit:
                break  # (the general path names the limit)
            version, cls = buf[at], buf[at + 1]
            if cls == 2:  # chunked: the one-chunk arrays of h5py's compressed files
                leaf = tpl.leaf
                if (
                    leaf is None
                    or version != 3
                    or buf[at + 2] != len(tpl.shape) + 1
                    or not buf.startswith(tpl.one_chunk, at + 11)
                ):
                    break
                # the chunk B-tree: one leaf with one entry, the chunk at the array's origin
                # (the general path reads the leaf's second key too: its bounds are checked)
                (btree,) = _U64.unpack_from(buf, at + 3)
                reach = tpl.leaf_reach
                tree, node = buf, base + btree - origin
                if btree < 0 or node < 0 or node + reach > len(buf):
                    span = None if whole is not None else self._span(btree, reach)
                    if span is None:
                        break
                    tree, node = span
                    origin = base + btree - node
                entry = leaf.unpack_from(tree, node)
                if entry[0] != _ONE_ENTRY_LEAF or any(entry[3:-1]):
                    break
                stored, mask, chunk = entry[1], entry[2], entry[-1]
                if budget.used + need > limit:  # (raises, naming the member)
                    budget.charge(need, location if single else f"{location}/{name}")
                raw = None
                if tpl.deflate_only and not mask:  # (the usual chunk, inflated here)
                    pos = base + chunk - origin
                    if chunk >= 0 and pos >= 0 and pos + stored <= len(tree):
                        view = self._whole_view if tree is whole else memoryview(tree)
                        raw = view[pos : pos + stored]
                    elif whole is None:
                        span = self._span(chunk, stored)
                        if span is not None:
                            raw = memoryview(span[0])[span[1] : span[1] + stored]
                if raw is not None:  # (as _inflate, the bound included)
                    inflate = zlib.decompressobj()
                    try:
                        data: Any = inflate.decompress(raw, need)
                    except zlib.error:
                        break
                    if len(data) != need or inflate.unconsumed_tail or not inflate.eof:
                        break
                else:
                    try:
                        data = self._chunk_bytes(
                            tpl.filters, chunk, stored, mask, need, tpl.dtype.itemsize, location
                        )
                    except (NotFast, FileFormatError):
                        break
                offset = 0
            elif tpl.filters or version not in (3, 4):
                break
            elif cls == 1 and lsize >= 18:  # contiguous
                offset, stored = _QQ.unpack_from(buf, at + 2)
                if offset == UNDEF or stored < need or offset < 0 or base + offset + need > size:
                    break
                if whole is not None:
                    data, offset = whole, base + offset
                else:
                    span = self._span(offset, need) if need <= _BLOCK_READ_MAX else None
                    if span is None:
                        break  # (large data is read into place by the general path)
                    data, offset = span
            elif cls == 0 and lsize >= 4:  # compact: in the header
                if _U16.unpack_from(buf, at + 2)[0] != need or 4 + need > lsize:
                    break
                data, offset = buf, at + 4
            else:
                break
            if budget.used + need > limit:  # (raises, naming the member)
                budget.charge(need, location if single else f"{location}/{name}")
            budget.used += need
            # (an empty array filled through a byte view: half the cost of frombuffer + copy)
            arr = np.empty(tpl.shape, tpl.dtype)
            src = wview if data is whole else memoryview(data)
            arr.data.cast("B")[:] = src[offset : offset + need]
            out[name] = arr
        return out

    def read_plain(self, group: Group, name: str, location: str) -> np.ndarray | None:
        """The value of member ``name`` if it is the most common dataset of a file of many
        nodes (see :meth:`_plain_values`), else None (then the caller opens and reads it the
        general way). This is :meth:`open_object` and :meth:`read_dataset` of such a dataset
        in one call, with the same checks and the same budget; everything else, odd or
        corrupt, takes the general path with its errors. Files of many small nodes pay per
        member, so this matters there. ``location`` is the member's."""
        if name not in group.links:
            return None
        return self._plain_values(group, (name,), (name,), location, single=True).get(name)

    def read_plain_members(
        self, group: Group, names: list[str], fields: frozenset[str], location: str
    ) -> dict[str, np.ndarray]:
        """A node group's members read in one pass, as :meth:`read_plain` reads each: the
        members in ``names`` order that are in ``fields``, up to the first one that is not
        such a plain dataset or is ``metadata`` (where the caller goes on, member by member,
        so that the budget is charged in the same order). Members outside ``fields`` are
        skipped (the caller reports them). ``location`` is the group's."""
        return self._plain_values(group, names, fields, location)

    def read_plain_string(self, group: Group, name: str, location: str) -> str | None:
        """As :meth:`read_plain`, for a scalar variable-length string (every node's ``type``
        in files written by h5py/nir), stored contiguously or compact; else None."""
        addr = group.links.get(name)
        if addr is None:
            return None
        whole = self.whole
        # the template of the last such string (every node's type has the same header but
        # for where its descriptor lies): equal head and tail, as _template_hit compares
        tpl = self._string_guess
        if tpl is not None and whole is not None:
            start = self.base + addr
            at = start + len(tpl.head)
            if (
                whole.startswith(tpl.head, start)
                and whole.startswith(tpl.tail, at + tpl.layout_size)
                and whole[at] in (3, 4)
            ):
                buf = whole
            else:
                tpl = None
        if tpl is None:
            hit = self._template_hit(addr)
            if hit is None:
                return None
            tpl, buf, at = hit
            if tpl.dtype != "str" or tpl.shape != () or tpl.filters:
                return None
            if whole is not None:
                self._string_guess = tpl
        budget = self.budget
        if _VLEN_ELEMENT_BYTES > self._max_bytes:
            return None
        cls = buf[at + 1]
        if cls == 1:
            if tpl.layout_size < 18:
                return None
            data, stored = _QQ.unpack_from(buf, at + 2)
            if data == UNDEF or stored < 16:
                return None
            if whole is not None:
                off = self.base + data
                if off + 16 > self.size:
                    return None
                buf = whole
            else:
                span = self._span(data, 16)
                if span is None:
                    return None
                buf, off = span
        elif cls == 0:
            (n,) = _U16.unpack_from(buf, at + 2)
            if n != 16 or 4 + n > tpl.layout_size:
                return None
            off = at + 4
        else:
            return None
        if budget.used + _VLEN_ELEMENT_BYTES > self._max_bytes:
            budget.charge(_VLEN_ELEMENT_BYTES, location)  # (raises, naming the member)
        budget.used += _VLEN_ELEMENT_BYTES
        length, coll, idx = _DESC.unpack_from(buf, off)
        if length == 0:
            return ""
        if length <= _VLEN_ELEMENT_BYTES:  # (as _heap_string reads it, in one step)
            found = self.heaps.get(coll, _MISSING)
            if found is not _MISSING:
                found = found.get(idx)
                if found is not None and length <= found[2]:
                    hbuf, hoff, _size = found
                    raw = hbuf[hoff : hoff + length]
                    if raw.isascii():
                        return raw.decode("ascii")
        return self._heap_string(coll, idx, length, location)
        if length > _VLEN_ELEMENT_BYTES:  # (as _strings charges it)
            budget.charge(length - _VLEN_ELEMENT_BYTES, location)
        return self._heap_string(coll, idx, length, location)

    @staticmethod
    def is_group(obj: Any) -> bool:
        return isinstance(obj, Group)

    @staticmethod
    def is_dataset(obj: Any) -> bool:
        return isinstance(obj, Dataset)

    def read_dataset(self, ds: Dataset, location: str) -> Any:
        """As :func:`nirhub.io._h5.read_dataset`: native byte order, strings as str."""
        shape = ds.shape
        if shape is None:
            return None
        if ds.contiguous and ds.chunk is None and type(ds.dtype) is not str:
            # the common case, in one step: numbers in native order, stored contiguously, in a
            # file read whole or small enough to come from the block cache; anything else (or
            # anything wrong) takes the general path below
            itemsize = _PLAIN_ITEMSIZE.get(ds.dtype)
            if itemsize is not None:
                count = math.prod(shape)
                need = count * itemsize
                addr = ds.data_off
                whole = self.whole
                if (
                    count
                    and addr != UNDEF
                    and ds.data_size >= need
                    and addr >= 0
                    and self.base + addr + need <= self.size
                    and (whole is not None or need <= _BLOCK_READ_MAX)
                ):
                    budget = self.budget
                    if need > budget.limits.max_bytes:
                        budget.check_size(shape, ds.dtype, need, location)
                    budget.charge(need, location)
                    if whole is not None:
                        buf, start = whole, self.base + addr
                    else:
                        buf, start = self._bytes(addr, need, location)
                    out = np.frombuffer(buf, ds.dtype, count, start)
                    return (out if len(shape) == 1 else out.reshape(shape)).copy()
        count = 1
        for n in shape:
            count *= n
        dtype = ds.dtype
        strings = dtype == "str"
        itemsize = 16 if strings else dtype.itemsize
        nbytes = count * (_VLEN_ELEMENT_BYTES if strings else max(itemsize, 1))
        budget = self.budget
        budget.check_size(shape, _OBJECT if strings else dtype, nbytes, location)
        budget.charge(nbytes, location)
        need = count * itemsize
        if ds.chunk is not None:
            if strings:
                raise NotFast("chunked strings")
            native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
            return self._chunked(ds, shape, count, dtype, native, location)
        if ds.contiguous:
            if ds.data_off == UNDEF:
                if count:
                    raise NotFast("unallocated storage (fill values)")
            elif ds.data_size < need:
                raise self.error(
                    f"is corrupt: its storage holds {ds.data_size:,} bytes, {need:,} needed",
                    location,
                )
        elif ds.data_size != need:
            raise self.error(
                f"is corrupt: its compact data holds {ds.data_size:,} bytes, {need:,} needed",
                location,
            )
        if strings:
            return self._strings(ds, shape, count, location)
        native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
        if count == 0:
            return np.empty(shape, dtype=native)
        if ds.contiguous:
            buf, off = self._data(ds.data_off, need, location)
        else:
            buf, off = ds.buf, ds.data_off
        if buf is None:  # large data read straight into the array
            out = np.empty(shape, dtype=dtype)
            self._read_into(out, ds.data_off, location)
        else:
            out = np.frombuffer(buf, dtype=dtype, count=count, offset=off).reshape(shape)
        if dtype.kind == "b":
            raw = out.view(np.uint8)
            if raw.max() > 1:
                raise self.error("holds boolean values other than 0 and 1", location)
        if native is not dtype:
            return out.astype(native)
        return out.copy() if buf is not None else out

    def _chunked(
        self, ds: Dataset, shape: tuple[int, ...], count: int, dtype: Any, native: Any,
        location: str,
    ) -> np.ndarray:  # fmt: skip
        """A chunked dataset (the size was checked and charged): its chunks are found through
        the v1 B-tree, decompressed with a bound on their size, and placed; a dataset with
        chunks missing (fill values) is left to h5py."""
        chunk = ds.chunk
        assert chunk is not None
        rank = len(shape)
        itemsize = dtype.itemsize
        if len(chunk) != rank + 1 or chunk[-1] != itemsize:
            raise self.error("is corrupt: its chunks do not match its shape", location)
        cshape = chunk[:-1]
        chunk_bytes = itemsize
        for n in cshape:
            chunk_bytes *= n
        nbytes = count * itemsize
        if chunk_bytes > max(nbytes, 1 << 24):  # as the h5py backend refuses them
            raise self.budget.error(
                f"declares chunks of {chunk_bytes:,} bytes for {nbytes:,} bytes of data; refused",
                location,
            )
        if count == 0:
            return np.empty(shape, dtype=native)
        expected = 1
        for n, c in zip(shape, cshape, strict=True):
            expected *= -(-n // c)
        key_size = 8 + 8 * (rank + 1)
        whole_chunk = tuple(cshape) == tuple(shape)
        if whole_chunk:  # the usual case of small arrays: one leaf with one chunk
            buf, off = self._bytes(ds.data_off, 32 + 2 * key_size, location)
            if (
                buf[off : off + 6] == b"TREE\x01\x00"
                and _U16.unpack_from(buf, off + 6)[0] == 1
                and not any(buf[off + 32 : off + 24 + key_size])
            ):
                stored, mask = struct.unpack_from("<II", buf, off + 24)
                (addr,) = _U64.unpack_from(buf, off + 24 + key_size)
                data = self._chunk_bytes(
                    ds.filters, addr, stored, mask, chunk_bytes, itemsize, location
                )
                out = np.frombuffer(data, dtype=dtype, count=count).reshape(shape)
                return self._finish(out, dtype, native, location)
        out = None if whole_chunk else np.empty(shape, dtype=dtype)
        placed: set[tuple[int, ...]] = set()
        for buf, off, n in self._btree_nodes(ds.data_off, 1, location, key_size):
            for i in range(n):
                k = off + i * (key_size + 8)
                stored, mask = struct.unpack_from("<II", buf, k)
                origin = struct.unpack_from(f"<{rank}Q", buf, k + 8)
                (addr,) = _U64.unpack_from(buf, k + key_size)
                if origin in placed or len(placed) >= expected:
                    raise self.error("is corrupt: a chunk appears twice", location)
                if any(o % c or o >= d for o, c, d in zip(origin, cshape, shape, strict=True)):
                    raise self.error("is corrupt: a chunk outside the dataset", location)
                placed.add(origin)
                data = self._chunk_bytes(
                    ds.filters, addr, stored, mask, chunk_bytes, itemsize, location
                )
                piece = np.frombuffer(data, dtype=dtype, count=chunk_bytes // itemsize)
                piece = piece.reshape(cshape)
                if out is None:
                    out = piece
                    continue
                region = tuple(
                    slice(o, min(o + c, d)) for o, c, d in zip(origin, cshape, shape, strict=True)
                )
                out[region] = piece[tuple(slice(0, r.stop - r.start) for r in region)]
        if len(placed) != expected or out is None:
            raise NotFast("chunks not written (fill values)")
        return self._finish(out, dtype, native, location)

    def _finish(self, out: np.ndarray, dtype: Any, native: Any, location: str) -> np.ndarray:
        """Checked booleans, native byte order, and an array of its own (writeable)."""
        if dtype.kind == "b" and out.view(np.uint8).max() > 1:
            raise self.error("holds boolean values other than 0 and 1", location)
        if native is not dtype:
            return out.astype(native)
        if not out.flags.writeable:
            return out.copy()
        return out

    def _chunk_bytes(
        self, filters: tuple[int, ...], addr: int, stored: int, mask: int, chunk_bytes: int,
        itemsize: int, location: str,
    ) -> Any:  # fmt: skip
        """The raw bytes of one chunk, its filters undone (in reverse order)."""
        if not filters and stored != chunk_bytes:
            raise self.error("is corrupt: a chunk of the wrong size", location)
        span = self._span(addr, stored)
        raw, off = self._bytes(addr, stored, location) if span is None else span
        data: Any = memoryview(raw)[off : off + stored]
        if not filters:
            return data
        if filters == _DEFLATE and not mask:  # (h5py's compression="gzip")
            return self._inflate(data, chunk_bytes, location)
        for i in range(len(filters) - 1, -1, -1):
            if mask >> i & 1:
                continue  # (an optional filter that was skipped for this chunk)
            fid = filters[i]
            if fid == 1:
                data = self._inflate(data, chunk_bytes, location)
            else:  # shuffle: byte k of every element was stored together
                if len(data) != chunk_bytes:
                    raise self.error("is corrupt: a chunk of the wrong size", location)
                if itemsize > 1:
                    m = chunk_bytes // itemsize
                    planes = np.frombuffer(data, dtype=np.uint8).reshape(itemsize, m)
                    data = np.ascontiguousarray(planes.T).tobytes()
        if len(data) != chunk_bytes:
            raise self.error("is corrupt: a chunk of the wrong size", location)
        return data

    def _inflate(self, data: Any, chunk_bytes: int, location: str) -> bytes:
        """Deflate undone, with a bound of the chunk's size (no zip bombs)."""
        inflate = zlib.decompressobj()
        try:
            out = inflate.decompress(data, chunk_bytes)
        except zlib.error as exc:
            raise self.error(f"is corrupt: bad compressed data ({exc})", location) from None
        if len(out) != chunk_bytes or inflate.unconsumed_tail or not inflate.eof:
            raise self.error("is corrupt: a compressed chunk does not hold its size", location)
        return out

    def _data(self, addr: int, n: int, location: str) -> tuple[Any, int]:
        """Contiguous data: (buffer, offset), or (None, 0) if it is to be read into place."""
        if self.whole is None and n > 65536:
            self._bytes(addr, 0, location)  # bounds check only
            if self.base + addr + n > self.size:
                raise self.error("is truncated: its data runs past the end of the file", location)
            return None, 0
        return self._bytes(addr, n, location)

    def _read_into(self, out: np.ndarray, addr: int, location: str) -> None:
        view = memoryview(out.reshape(-1)).cast("B")
        self.fh.seek(self.base + addr)
        done = 0
        total = view.nbytes
        while done < total:
            n = self.fh.readinto(view[done:])
            if not n:
                raise self.error("is truncated: its data runs past the end of the file", location)
            done += n

    def _strings(self, ds: Dataset, shape: tuple[int, ...], count: int, location: str) -> Any:
        if count == 0:
            return np.empty(shape, dtype=object)
        if ds.contiguous:
            buf, off = self._bytes(ds.data_off, count * 16, location)
        else:
            buf, off = ds.buf, ds.data_off
        values = []
        heaps = self.heaps
        for length, coll, idx in _DESC.iter_unpack(buf[off : off + 16 * count]):
            if length == 0:
                values.append("")
                continue
            if length > _VLEN_ELEMENT_BYTES:  # 64 bytes per string were charged already
                self.budget.charge(length - _VLEN_ELEMENT_BYTES, location)
            else:  # (the usual short ASCII name, as _heap_string reads it, in one step)
                objects = heaps.get(coll)
                found = None if objects is None else objects.get(idx)
                if found is not None and length <= found[2]:
                    raw = found[0][found[1] : found[1] + length]
                    if raw.isascii():
                        values.append(raw.decode("ascii"))
                        continue
            values.append(self._heap_string(coll, idx, length, location))
        if not shape:
            return values[0]
        out = np.empty(count, dtype=object)
        out[:] = values
        return out.reshape(shape)

    def _heap_string(self, coll: int, idx: int, length: int, location: str) -> str:
        objects = self.heaps.get(coll)
        if objects is None:
            objects = self.heaps[coll] = self._collection(coll, location)
        found = objects.get(idx)
        if found is None:
            raise self.error(f"is corrupt: global heap object {idx} does not exist", location)
        buf, off, size = found
        if length > size:
            raise self.error("is corrupt: a string is longer than its heap object", location)
        raw = buf[off : off + length]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise not_utf8(self.budget, raw, location) from None

    def _collection(self, addr: int, location: str) -> dict[int, tuple[Any, int, int]]:
        """Objects of a global heap collection: index -> (buffer, offset, size)."""
        head, hoff = self._bytes(addr, 16, location)
        (size,) = _U64.unpack_from(head, hoff + 8)
        if head[hoff : hoff + 4] != b"GCOL" or size < 16:
            raise self.error("is corrupt: a string points to a bad global heap", location)
        buf, off = self._bytes(addr, size, location)
        try:
            objects = heap_objects(buf, off, size)
        except ValueError as exc:
            raise self.error(f"is corrupt: bad global heap collection ({exc})", location) from None
        return {idx: (buf, o, n) for idx, (o, n) in objects.items()}

    def str_attr(self, ds: Dataset, name: str) -> str | None:
        """A scalar string attribute (nirhub's markers), else None (also when malformed)."""
        if not ds.attrs:
            return None
        want = name.encode()
        for buf, p, size in ds.attrs:
            try:
                value = self._attr(buf, p, size, want)
            except (FileFormatError, NotFast, struct.error, IndexError, ValueError):
                return None
            if value is not None:
                return value
        return None

    def _attr(self, buf: Any, p: int, size: int, want: bytes) -> str | None:
        version = buf[p]
        if version not in (1, 3):
            return None
        name_size, type_size, space_size = struct.unpack_from("<HHH", buf, p + 2)
        if version == 1:
            q = p + 8
            pad = 8
        else:
            q = p + 9
            pad = 1
        name = bytes(buf[q : q + name_size]).rstrip(b"\0")
        if name != want:
            return None
        q += name_size + (-name_size % pad)
        n = DTYPE_LENGTH.get(buf[q] & 0x0F)
        if n is None or DECODE_DTYPE.get(buf[q : q + n]) != "str":
            return None
        q += type_size + (-type_size % pad)
        shape = self._dataspace(buf, q, space_size, "")
        if shape != ():
            return None
        q += space_size + (-space_size % pad)
        if q + 16 > p + size:
            return None
        length, coll, idx = _DESC.unpack_from(buf, q)
        return "" if length == 0 else self._heap_string(coll, idx, length, "")
