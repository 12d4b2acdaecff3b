"""LZF, the compression of long strings in RDB files (liblzf, as bundled with Redis).

Room: bytes to bytes. Imports: python-lzf (liblzf 3.6 in C) and the standard library.

`compress` and `decompress` are liblzf's own, through python-lzf: the same bytes as
Redis writes (tests compare them with redis-server's DUMP), at C speed (about 1000x
the pure-Python loops here). `compress_python` and `decompress_python` are those
loops, kept as the format's executable description and the tests' second opinion.

The format: a control byte below 32 starts a literal run of control+1 bytes; any other
control byte is a back reference of length (control >> 5) + 2 (7 means an extra length
byte follows) at distance ((control & 31) << 8 | next byte) + 1. Any compressor's output
that follows the format loads in Redis; the Python one is a simple greedy one with a
hash of three bytes, like liblzf's, but does not always produce liblzf's exact bytes.
"""

from __future__ import annotations

import lzf as _c

_MAX_LIT = 32
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)  # longest match: 264 bytes
# At most what an input byte expands to: a back reference of three bytes copies 264.
_MAX_EXPANSION = _MAX_REF // 3


class LzfError(ValueError):
    pass


def decompress(data: bytes, size: int) -> bytes:
    """The `size` bytes `data` expands to; LzfError when it does not fit the format."""
    if size == 0:
        raise LzfError("expands to nothing")  # lzf_decompress returns 0: an error to Redis
    if size > _MAX_EXPANSION * len(data):
        # More than any input of this length expands to: an error to Redis too (its
        # lzf_decompress returns less). Asked of python-lzf, a size it cannot allocate
        # crashes the process (it does not check its malloc).
        raise LzfError("%d bytes cannot expand to %d" % (len(data), size))
    try:
        out: bytes | None = _c.decompress(data, size)
    except ValueError as e:
        raise LzfError(str(e)) from None
    if out is None or len(out) != size:
        raise LzfError("does not expand to %d bytes" % size)
    return out


def compress(data: bytes, limit: int) -> bytes | None:
    """`data` compressed, or None if that takes more than `limit` bytes (lzf_compress
    into a buffer of `limit` bytes, as rdbSaveLzfStringObject gives it len - 4)."""
    if limit <= 0 or not data:
        return None
    out: bytes | None = _c.compress(data, limit)
    return out


def decompress_python(data: bytes, size: int) -> bytes:
    """The same, in pure Python."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > n:
                raise LzfError("literal run past the end of the input")
            out += data[i : i + run]
            i += run
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise LzfError("truncated back reference")
            length += data[i]
            i += 1
        if i >= n:
            raise LzfError("truncated back reference")
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        length += 2
        if ref < 0:
            raise LzfError("back reference before the start of the output")
        if ref + length <= len(out):
            out += out[ref : ref + length]
        else:  # overlapping: the copy repeats what it has just written
            for k in range(length):
                out.append(out[ref + k])
        if len(out) > size:
            break
    if len(out) != size:
        raise LzfError("expands to %d bytes, not %d" % (len(out), size))
    return bytes(out)


def compress_python(data: bytes, limit: int) -> bytes | None:
    """The same, in pure Python (not always liblzf's exact bytes)."""
    n = len(data)
    out = bytearray()
    table: dict[bytes, int] = {}
    lit_start = 0
    i = 0
    while i < n - 2:
        key = data[i : i + 3]
        ref = table.get(key)
        table[key] = i
        if ref is None or i - ref > _MAX_OFF:
            i += 1
            continue
        length = 3
        most = min(_MAX_REF, n - i)
        while length < most and data[ref + length] == data[i + length]:
            length += 1
        _literals(out, data, lit_start, i)
        off = i - ref - 1
        code = length - 2
        if code < 7:
            out.append((code << 5) | (off >> 8))
        else:
            out.append((7 << 5) | (off >> 8))
            out.append(code - 7)
        out.append(off & 0xFF)
        if len(out) > limit:
            return None
        end = i + length
        for j in range(i + 1, min(end, n - 2)):
            table[data[j : j + 3]] = j
        i = lit_start = end
    _literals(out, data, lit_start, n)
    return bytes(out) if len(out) <= limit else None


def _literals(out: bytearray, data: bytes, start: int, end: int) -> None:
    while start < end:
        run = min(_MAX_LIT, end - start)
        out.append(run - 1)
        out += data[start : start + run]
        start += run
