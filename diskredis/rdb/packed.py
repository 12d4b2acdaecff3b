"""Redis's packed encodings inside RDB strings: listpack, ziplist, intset, zipmap.

Room: bytes to Python values and back. Imports: `util`, the standard library.

Readers return elements as bytes (integers as their decimal text, which is what Redis
gives back for them) and raise PackedError on anything malformed: a reader never
reads past its input, whatever the input holds. Only listpacks are written: Redis 7.0
writes streams as listpacks, and every other type has a plain RDB form.

Listpack (listpack.c): total bytes (u32 LE) | element count (u16 LE, 65535 when
unknown) | elements | 0xFF; an element is its encoding and data followed by the
length of both, written backwards in 7-bit groups ("backlen").
Ziplist (ziplist.c): total bytes (u32) | offset of the last entry (u32) | count (u16)
| entries | 0xFF; an entry is the previous entry's length, an encoding, the data.
Intset (intset.c): width (u32: 2, 4 or 8) | count (u32) | sorted integers.
Zipmap (zipmap.c, Redis < 2.6 hashes): count (u8) | (length, key, length, free,
value, free bytes)... | 0xFF.
"""

from __future__ import annotations

import struct

from diskredis.util import string2ll

_LP_HEADER = struct.Struct("<IH")
_ZL_HEADER = struct.Struct("<IIH")
_U32 = struct.Struct("<I")
_INTSET_WIDTHS = {2: "<%dh", 4: "<%di", 8: "<%dq"}


class PackedError(ValueError):
    pass


# -- listpack: writing and sizes ----------------------------------------------------------
def backlen(size: int) -> bytes:
    """lpEncodeBacklen: the element size, highest 7-bit group first, bit 7 set on all
    groups but the first."""
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes(
            (size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128, (size & 127) | 128)
        )
    return bytes(
        (
            size >> 28,
            ((size >> 21) & 127) | 128,
            ((size >> 14) & 127) | 128,
            ((size >> 7) & 127) | 128,
            (size & 127) | 128,
        )
    )


def _backlen_size(size: int) -> int:
    if size <= 127:
        return 1
    if size < 16383:
        return 2
    if size < 2097151:
        return 3
    return 4 if size < 268435455 else 5


def lp_int(v: int) -> bytes:
    """One integer element, backlen included (lpEncodeIntegerGetType)."""
    if 0 <= v <= 127:
        enc = bytes((v,))
    elif -4096 <= v <= 4095:
        u = v & 0x1FFF
        enc = bytes(((u >> 8) | 0xC0, u & 0xFF))
    elif -32768 <= v <= 32767:
        enc = b"\xf1" + (v & 0xFFFF).to_bytes(2, "little")
    elif -8388608 <= v <= 8388607:
        enc = b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little")
    elif -2147483648 <= v <= 2147483647:
        enc = b"\xf3" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    else:
        enc = b"\xf4" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    return enc + backlen(len(enc))


def lp_str(s: bytes) -> bytes:
    """One string element (an integer element when the string reads as one)."""
    v = string2ll(s)
    if v is not None:
        return lp_int(v)
    n = len(s)
    if n < 64:
        enc = bytes((0x80 | n,)) + s
    elif n < 4096:
        enc = bytes((0xE0 | (n >> 8), n & 0xFF)) + s
    else:
        enc = b"\xf0" + n.to_bytes(4, "little") + s
    return enc + backlen(len(enc))


def int_size(v: int) -> int:
    """Bytes of an integer element, its backlen included."""
    if 0 <= v <= 127:
        enc = 1
    elif -4096 <= v <= 4095:
        enc = 2
    elif -32768 <= v <= 32767:
        enc = 3
    elif -8388608 <= v <= 8388607:
        enc = 4
    elif -2147483648 <= v <= 2147483647:
        enc = 5
    else:
        enc = 9
    return enc + _backlen_size(enc)


def str_size(s: bytes) -> int:
    """Bytes of a string element (stored as an integer when it reads as one)."""
    v = string2ll(s)
    if v is not None:
        return int_size(v)
    n = len(s)
    enc = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return enc + _backlen_size(enc)


def listpack(elements: list[bytes]) -> bytes:
    """A listpack of already encoded elements (`lp_int`, `lp_str`)."""
    body = b"".join(elements)
    total = _LP_HEADER.size + len(body) + 1
    count = len(elements) if len(elements) < 65535 else 65535
    return _LP_HEADER.pack(total, count) + body + b"\xff"


# -- listpack: reading --------------------------------------------------------------------
def _signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >= 1 << (bits - 1) else u


def read_listpack(lp: bytes) -> list[bytes | int]:
    """The elements of a listpack: strings as bytes, integers as int."""
    n = len(lp)
    if n < _LP_HEADER.size + 1:
        raise PackedError("listpack shorter than its header")
    total, _count = _LP_HEADER.unpack_from(lp)
    if total != n:
        raise PackedError("listpack says %d bytes, has %d" % (total, n))
    out: list[bytes | int] = []
    i = _LP_HEADER.size
    while True:
        if i >= n:
            raise PackedError("listpack without its end byte")
        b = lp[i]
        if b == 0xFF:
            if i != n - 1:
                raise PackedError("bytes after the listpack's end")
            return out
        item: bytes | int
        if b < 0x80:
            item, size = b, 1
        elif b < 0xC0:
            length = b & 0x3F
            item, size = lp[i + 1 : i + 1 + length], 1 + length
        elif b < 0xE0:
            if i + 2 > n:
                raise PackedError("truncated listpack element")
            item, size = _signed(((b & 0x1F) << 8) | lp[i + 1], 13), 2
        elif b < 0xF0:
            if i + 2 > n:
                raise PackedError("truncated listpack element")
            length = ((b & 0x0F) << 8) | lp[i + 1]
            item, size = lp[i + 2 : i + 2 + length], 2 + length
        elif b == 0xF0:
            if i + 5 > n:
                raise PackedError("truncated listpack element")
            length = _U32.unpack_from(lp, i + 1)[0]
            item, size = lp[i + 5 : i + 5 + length], 5 + length
        elif 0xF1 <= b <= 0xF4:
            width = (2, 3, 4, 8)[b - 0xF1]
            size = 1 + width
            if i + size > n:
                raise PackedError("truncated listpack element")
            item = _signed(int.from_bytes(lp[i + 1 : i + size], "little"), width * 8)
        else:
            raise PackedError("bad listpack encoding byte 0x%02x" % b)
        end = i + size
        back = backlen(size)
        if end + len(back) > n - 1:
            raise PackedError("truncated listpack element")
        if lp[end : end + len(back)] != back:
            raise PackedError("listpack element with a wrong back length")
        out.append(item)
        i = end + len(back)


def texts(items: list[bytes | int]) -> list[bytes]:
    """Elements as Redis gives them back: integers as their decimal text."""
    return [x if isinstance(x, bytes) else b"%d" % x for x in items]


# -- ziplist ------------------------------------------------------------------------------
def read_ziplist(zl: bytes) -> list[bytes]:
    n = len(zl)
    if n < _ZL_HEADER.size + 1:
        raise PackedError("ziplist shorter than its header")
    total, _tail, _count = _ZL_HEADER.unpack_from(zl)
    if total != n:
        raise PackedError("ziplist says %d bytes, has %d" % (total, n))
    out: list[bytes] = []
    i = _ZL_HEADER.size
    while True:
        if i >= n:
            raise PackedError("ziplist without its end byte")
        if zl[i] == 0xFF:
            if i != n - 1:
                raise PackedError("bytes after the ziplist's end")
            return out
        i += 1 if zl[i] < 254 else 5  # the previous entry's length
        if i >= n:
            raise PackedError("truncated ziplist entry")
        e = zl[i]
        kind = e >> 6
        if kind == 0:
            length, i = e & 0x3F, i + 1
        elif kind == 1:
            if i + 2 > n:
                raise PackedError("truncated ziplist entry")
            length, i = ((e & 0x3F) << 8) | zl[i + 1], i + 2
        elif e == 0x80:
            if i + 5 > n:
                raise PackedError("truncated ziplist entry")
            length, i = int.from_bytes(zl[i + 1 : i + 5], "big"), i + 5
        else:
            width = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}.get(e)
            if width is None:
                if 0xF1 <= e <= 0xFD:
                    out.append(b"%d" % ((e & 0x0F) - 1))
                    i += 1
                    continue
                raise PackedError("bad ziplist encoding byte 0x%02x" % e)
            if i + 1 + width > n:
                raise PackedError("truncated ziplist entry")
            v = int.from_bytes(zl[i + 1 : i + 1 + width], "little", signed=True)
            out.append(b"%d" % v)
            i += 1 + width
            continue
        if i + length > n - 1:
            raise PackedError("truncated ziplist entry")
        out.append(zl[i : i + length])
        i += length


# -- intset and zipmap ------------------------------------------------------------------
def read_intset(raw: bytes) -> list[bytes]:
    if len(raw) < 8:
        raise PackedError("intset shorter than its header")
    width, count = struct.unpack_from("<II", raw)
    fmt = _INTSET_WIDTHS.get(width)
    if fmt is None:
        raise PackedError("intset of %d-byte integers" % width)
    if len(raw) != 8 + width * count:
        raise PackedError("intset of %d integers in %d bytes" % (count, len(raw)))
    return [b"%d" % v for v in struct.unpack_from(fmt % count, raw, 8)]


def read_zipmap(zm: bytes) -> list[bytes]:
    """Field, value, field, value... of a zipmap."""
    n = len(zm)
    out: list[bytes] = []
    i = 1  # the count byte is only a hint
    while True:
        if i >= n:
            raise PackedError("zipmap without its end byte")
        for is_value in (False, True):
            b = zm[i]
            if b == 0xFF and not is_value:
                return out
            if b < 254:
                length, i = b, i + 1
            elif b == 254:
                if i + 5 > n:
                    raise PackedError("truncated zipmap entry")
                length, i = _U32.unpack_from(zm, i + 1)[0], i + 5
            else:
                raise PackedError("truncated zipmap entry")
            free = 0
            if is_value:
                if i >= n:
                    raise PackedError("truncated zipmap entry")
                free, i = zm[i], i + 1
            if i + length + free > n:
                raise PackedError("truncated zipmap entry")
            out.append(zm[i : i + length])
            i += length + free
            if i >= n:
                raise PackedError("zipmap without its end byte")
