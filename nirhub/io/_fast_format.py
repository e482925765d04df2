"""The subset of HDF5 that nirhub's fast writer produces and its fast parser reads.

``.nir`` files are HDF5. libhdf5 costs ~100 µs per dataset however it is called, and a graph
of 4,000 small nodes has ~20,000 datasets; so nirhub writes (and reads back) a small, fixed
subset of the HDF5 format itself, in pure Python. The files are ordinary HDF5, read by
libhdf5/h5py, ``h5dump`` and the reference ``nir`` package like any other.

The subset (HDF5 File Format Specification 3.0; all sizes little-endian, 8-byte offsets and
lengths):

* a 512-byte **user block** starting with :data:`MARKER` (libhdf5 skips user blocks; the fast
  parser only tries files that carry the marker, everything else goes to h5py);
* **superblock version 0**, base address 512 (the superblock's own position);
* every object has a **version 1 object header** (no checksums) whose messages are:

  - groups ("new-style", compact): *Link Info* (creation order tracked and indexed, no dense
    storage), *Group Info*, and one *Link* message per member (hard links, UTF-8 names,
    creation order);
  - datasets: *Dataspace* (scalar, simple or null), *Datatype* (IEEE float 16/32/64,
    integers 8..64 bit, h5py's boolean enum, variable-length UTF-8 string), *Fill Value*,
    *Data Layout* version 3 (compact for small numeric data, contiguous otherwise) and
    optionally *Attribute* messages (scalar variable-length strings: nirhub's markers);

* variable-length strings live in **global heap collections**.

The parser accepts any file in this subset (whoever wrote it), follows continuation messages
and skips NULL/fill/time messages, and gives up (``NotFast``: the caller falls back to h5py)
on anything else, e.g. a group that libhdf5 converted to dense storage after an edit.
"""

from __future__ import annotations

import struct

import numpy as np


class NotFast(Exception):
    """Content outside the subset: the caller writes or reads the file with h5py instead."""


#: first bytes of the user block of a fast-written file
MARKER = b"nirhub fast-layout HDF5 v1\n"
USERBLOCK = 512
SIGNATURE = b"\x89HDF\r\n\x1a\n"
UNDEF = 0xFFFFFFFFFFFFFFFF

# object header message types
MSG_NULL = 0x0000
MSG_DATASPACE = 0x0001
MSG_LINK_INFO = 0x0002
MSG_DATATYPE = 0x0003
MSG_FILL_OLD = 0x0004
MSG_FILL = 0x0005
MSG_LINK = 0x0006
MSG_GROUP_INFO = 0x000A
MSG_LAYOUT = 0x0008
MSG_FILTERS = 0x000B
MSG_ATTRIBUTE = 0x000C
MSG_COMMENT = 0x000D
MSG_MTIME_OLD = 0x000E
MSG_CONTINUATION = 0x0010
MSG_MTIME = 0x0012
MSG_SYMBOL_TABLE = 0x0011
MSG_REFCOUNT = 0x0016

#: numeric data up to this size is stored inside the object header (compact layout)
COMPACT_MAX = 4096
#: a v1 object header counts its messages in 16 bits
MAX_MESSAGES = 65535

VLEN_DESCRIPTOR = struct.Struct("<IQI")  # length, global heap collection address, index

#: the ``(class, sign, exponent, mantissa fields, bias)`` of IEEE floats by size
_FLOAT_FIELDS = {
    2: (15, 10, 5, 0, 10, 15),
    4: (31, 23, 8, 0, 23, 127),
    8: (63, 52, 11, 0, 52, 1023),
}


def _pad8(body: bytes) -> bytes:
    return body + b"\0" * (-len(body) % 8)


def _float_type(size: int, big: bool) -> bytes:
    sign, eloc, esize, mloc, msize, bias = _FLOAT_FIELDS[size]
    bits0 = 0x20 | (1 if big else 0)  # mantissa normalization 2 ("implied 1"), byte order
    return struct.pack(
        "<BBBBIHHBBBBI", 0x11, bits0, sign, 0, size, 0, size * 8, eloc, esize, mloc, msize, bias
    )


def _int_type(size: int, signed: bool, big: bool) -> bytes:
    bits0 = (0x08 if signed else 0) | (1 if big else 0)
    return struct.pack("<BBBBIHH", 0x10, bits0, 0, 0, size, 0, size * 8)


#: h5py's boolean: an enum of int8 with FALSE = 0, TRUE = 1
BOOL_TYPE = (
    struct.pack("<BBBBI", 0x18, 2, 0, 0, 1)
    + _int_type(1, True, False)
    + b"FALSE\0\0\0TRUE\0\0\0\0"
    + b"\x00\x01"
)
#: variable-length string, null-padded, UTF-8, of unsigned 8-bit characters (what h5py writes)
VLEN_STR_TYPE = struct.pack("<BBBBI", 0x19, 0x01, 0x01, 0, 16) + _int_type(1, False, False)


_LITTLE = np.little_endian


def encode_dtype(dtype: np.dtype) -> bytes | None:
    """The Datatype message body for a numpy dtype, or None if outside the subset."""
    kind, size = dtype.kind, dtype.itemsize
    big = dtype.byteorder == ">" or (dtype.byteorder == "=" and not _LITTLE)
    if kind == "f" and size in _FLOAT_FIELDS:
        return _float_type(size, big)
    if kind in "iu" and size in (1, 2, 4, 8):
        return _int_type(size, kind == "i", big)
    if kind == "b":
        return BOOL_TYPE
    return None


#: unpadded length of a Datatype message body by type class (fixed-point, float, enum, vlen)
DTYPE_LENGTH = {0: 12, 1: 20, 8: 38, 9: 20}
#: Datatype message bodies the parser understands -> numpy dtype ("str" for vlen strings)
DECODE_DTYPE: dict[bytes, np.dtype | str] = {}
for _size in _FLOAT_FIELDS:
    for _big in (False, True):
        DECODE_DTYPE[_float_type(_size, _big)] = np.dtype(f"{'>' if _big else '<'}f{_size}")
for _size in (1, 2, 4, 8):
    for _signed in (False, True):
        for _big in (False, True):
            DECODE_DTYPE[_int_type(_size, _signed, _big)] = np.dtype(
                f"{'>' if _big else '<'}{'i' if _signed else 'u'}{_size}"
            )
DECODE_DTYPE[BOOL_TYPE] = np.dtype(np.bool_)
DECODE_DTYPE[VLEN_STR_TYPE] = "str"
# ASCII variable-length strings (other writers; h5py reads them as str too)
DECODE_DTYPE[struct.pack("<BBBBI", 0x19, 0x01, 0x00, 0, 16) + _int_type(1, False, False)] = "str"


_HEAP_OBJ = struct.Struct("<HHIQ")


def heap_objects(buf: bytes, off: int, size: int) -> dict[int, tuple[int, int]]:
    """The objects of the global heap collection ``buf[off:off + size]``: index ->
    (offset of the data in ``buf``, size), walking it exactly as libhdf5 does.

    Raises ValueError for anything libhdf5 would misread; notably a free-space object of size
    0, on which libhdf5 (up to at least 2.0) loops forever.
    """
    if size < 16 or buf[off : off + 4] != b"GCOL" or buf[off + 4] != 1:
        raise ValueError("not a global heap collection")
    end = off + size
    p = off + 16
    objects: dict[int, tuple[int, int]] = {}
    unpack = _HEAP_OBJ.unpack_from
    while p < end:
        if p + 16 > end:  # too small for an object header: free space
            break
        idx, _refs, _reserved, osize = unpack(buf, p)
        if idx == 0:  # free space; its size includes its header
            if osize < 16:
                raise ValueError(f"a free-space object of {osize} bytes")
            need = osize
        else:
            need = 16 + osize + (-osize % 8)
            if p + 16 + osize > end:
                raise ValueError(f"object {idx} runs past the end of its collection")
            objects[idx] = (p + 16, osize)
        p += need
    if p > end:
        raise ValueError("the free space runs past the end of the collection")
    return objects
