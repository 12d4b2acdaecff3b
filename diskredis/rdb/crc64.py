"""CRC-64/Jones, the checksum of RDB files and DUMP payloads (Redis's crc64.c).

Room: arithmetic only. Imports: anycrc (C) and the standard library.

Reflected polynomial 0xad93d23594c935a9, initial value 0, no final xor;
crc64(b"123456789") == 0xe9c6d914c4b8d9ca.

`crc64` is anycrc's CRC64-REDIS model (C); `crc64_python` the same checksum in pure
Python, "slicing by 8" (eight tables let one step eat a 64-bit word), about 15 MB/s,
kept as the tests' second opinion.
"""

from __future__ import annotations

import anycrc

_POLY = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed


def _tables() -> list[list[int]]:
    first = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        first.append(c)
    tables = [first]
    for _ in range(7):
        prev = tables[-1]
        tables.append([(prev[i] >> 8) ^ first[prev[i] & 0xFF] for i in range(256)])
    return tables


_T = _tables()
_MODEL = anycrc.Model("CRC64-REDIS")


def crc64(crc: int, data: bytes | bytearray | memoryview) -> int:
    """Continue the checksum `crc` over `data` (start with 0)."""
    value: int = _MODEL.calc(data, crc)
    return value


def crc64_python(crc: int, data: bytes | bytearray | memoryview) -> int:
    """The same, in pure Python."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _T
    view = memoryview(data).cast("B")
    whole = len(view) // 8 * 8
    for word in view[:whole].cast("Q"):  # native order: little-endian on every target
        x = crc ^ word
        crc = (
            t7[x & 0xFF]
            ^ t6[(x >> 8) & 0xFF]
            ^ t5[(x >> 16) & 0xFF]
            ^ t4[(x >> 24) & 0xFF]
            ^ t3[(x >> 32) & 0xFF]
            ^ t2[(x >> 40) & 0xFF]
            ^ t1[(x >> 48) & 0xFF]
            ^ t0[x >> 56]
        )
    for b in view[whole:]:
        crc = t0[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc
