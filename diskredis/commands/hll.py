"""HyperLogLog values in Redis's own string format (hyperloglog.c's layout).

Room: the bytes of an HLL string and the arithmetic on them, no keyspace. Imports:
the standard library.

A value is a 16-byte header -- ``HYLL``, the encoding (0 dense, 1 sparse), three
unused bytes, a little-endian cached cardinality whose top bit marks it stale --
then either 16384 six-bit registers packed little-endian (dense), or run-length
opcodes (sparse): ``00xxxxxx`` ZERO (1-64 zero registers), ``01xxxxxx xxxxxxxx``
XZERO (1-16384), ``1vvvvvxx`` VAL (1-4 registers of value 1-32).

Every step that Redis takes on the bytes is taken here the same way (the sparse
update splits one opcode and merges equal neighbours within five opcodes; a value
over 32, or a sparse string that would outgrow ``hll-sparse-max-bytes``, turns
dense), so the bytes stored are the bytes Redis would store: GET, DUMP and RESTORE
move HLLs between the two servers and both count the same. The sparse opcodes are
kept as a list with the first register of each, so finding a register is a bisect
rather than a walk.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right
from collections.abc import Iterable

P = 14
REGISTERS = 1 << P  # 16384
Q = 64 - P
HEADER = 16
DENSE_BYTES = REGISTERS * 6 // 8  # 12288
DENSE_SIZE = HEADER + DENSE_BYTES
DENSE, SPARSE = 0, 1
MAGIC = b"HYLL"
_ZERO, _XZERO, _VAL = 0, 1, 2
_VAL_MAX_VALUE, _VAL_MAX_LEN, _ZERO_MAX_LEN, _XZERO_MAX_LEN = 32, 4, 64, 16384
_ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)
_SEED = 0xADC83B19
_M = 0xC6A4A7935BD1E995
_MASK64 = (1 << 64) - 1


class Invalid(Exception):
    """The value is a HYLL string whose registers do not add up (INVALIDOBJ)."""


def murmur64a(data: bytes, seed: int = _SEED) -> int:
    """MurmurHash64A, endian-neutral as Redis uses it."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK64
    blocks = n >> 3
    if blocks:
        for k in struct.unpack_from("<%dQ" % blocks, data):
            k = (k * _M) & _MASK64
            k ^= k >> 47
            h ^= (k * _M) & _MASK64
            h = (h * _M) & _MASK64
    tail = n & 7
    if tail:
        h ^= int.from_bytes(data[n - tail :], "little")
        h = (h * _M) & _MASK64
    h ^= h >> 47
    h = (h * _M) & _MASK64
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """(register, run length of the 0...01 pattern) that `element` hashes to."""
    h = murmur64a(element)
    rest = (h >> P) | (1 << Q)
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


def is_hll(value: bytes) -> bool:
    """isHLLObjectOrReply's test: header, magic, known encoding, exact dense size."""
    if len(value) < HEADER or value[:4] != MAGIC or value[4] > SPARSE:
        return False
    return value[4] != DENSE or len(value) == DENSE_SIZE


# -- dense registers, unpacked 4 at a time from each 3 bytes ------------------------------
def _table(fn: object) -> bytes:
    return bytes(fn(b) & 0xFF for b in range(256))  # type: ignore[operator]


_LOW6 = _table(lambda b: b & 63)
_HIGH2 = _table(lambda b: b >> 6)
_LOW4_UP2 = _table(lambda b: (b & 15) << 2)
_HIGH4 = _table(lambda b: b >> 4)
_LOW2_UP4 = _table(lambda b: (b & 3) << 4)
_HIGH6 = _table(lambda b: b >> 2)
_UP6 = _table(lambda b: b << 6)
_DOWN2 = _table(lambda b: b >> 2)
_UP4 = _table(lambda b: b << 4)
_DOWN4 = _table(lambda b: b >> 4)
_UP2 = _table(lambda b: b << 2)


def _or(a: bytes, b: bytes) -> bytes:
    """Byte-wise OR of two equal-length strings."""
    n = len(a)
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(n, "little")


def unpack_dense(packed: bytes) -> bytes:
    """16384 registers, one byte each, from the 12288 packed bytes."""
    b0, b1, b2 = packed[0::3], packed[1::3], packed[2::3]
    out = bytearray(REGISTERS)
    out[0::4] = b0.translate(_LOW6)
    out[1::4] = _or(b0.translate(_HIGH2), b1.translate(_LOW4_UP2))
    out[2::4] = _or(b1.translate(_HIGH4), b2.translate(_LOW2_UP4))
    out[3::4] = b2.translate(_HIGH6)
    return bytes(out)


def pack_dense(registers: bytes) -> bytearray:
    """The 12288 packed bytes of 16384 registers (each below 64)."""
    r0, r1, r2, r3 = (registers[i::4] for i in range(4))
    out = bytearray(DENSE_BYTES)
    out[0::3] = _or(r0, r1.translate(_UP6))
    out[1::3] = _or(r1.translate(_DOWN2), r2.translate(_UP4))
    out[2::3] = _or(r2.translate(_DOWN4), r3.translate(_UP2))
    return out


# -- the estimator (Ertl's, as Redis 5+) --------------------------------------------------
def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        before = z
        z += x * y
        y += y
        if before == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        before = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if before == z:
            return z / 3


def estimate(histogram: list[int]) -> int:
    """hllCount's estimate from the histogram of register values (64 slots)."""
    m = float(REGISTERS)
    z = m * _tau((m - histogram[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    e = _ALPHA_INF * m * m / z
    whole = math.floor(e)
    return int(whole + 1 if e - whole >= 0.5 else whole)  # llroundl


def histogram_of(registers: bytes) -> list[int]:
    hist = [registers.count(v) for v in range(64)]
    return hist


# -- one HLL value -------------------------------------------------------------------
class HLL:
    """An HLL string being read or changed; `bytes(hll)` is the stored value."""

    __slots__ = ("dense", "firsts", "header", "max_sparse", "ops", "size", "total")

    def __init__(self, value: bytes, max_sparse: int = 3000) -> None:
        """`value` must pass `is_hll`. `max_sparse`: hll-sparse-max-bytes."""
        self.header = bytearray(value[:HEADER])
        self.max_sparse = max_sparse
        self.dense: bytearray | None = None
        self.ops: list[tuple[int, int, int]] = []  # (kind, run length, value)
        self.firsts: list[int] = []  # the first register of each opcode
        self.size = len(value)  # the sparse string's length, header included
        self.total = 0
        if value[4] == DENSE:
            self.dense = bytearray(value[HEADER:])
            return
        first, i, n = 0, HEADER, len(value)
        ops, firsts = self.ops, self.firsts
        while i < n:
            b = value[i]
            if b & 0x80:
                op = (_VAL, (b & 3) + 1, ((b >> 2) & 31) + 1)
                i += 1
            elif b & 0x40:
                low = value[i + 1] if i + 1 < n else 0  # the C string's terminator
                op = (_XZERO, (((b & 63) << 8) | low) + 1, 0)
                i += 2
            else:
                op = (_ZERO, b + 1, 0)
                i += 1
            ops.append(op)
            firsts.append(first)
            first += op[1]
        self.total = first

    @classmethod
    def empty(cls, max_sparse: int) -> HLL:
        """createHLLObject: sparse, every register zero, cached cardinality 0."""
        run = REGISTERS - 1  # one XZERO opcode covers them all
        return cls(
            MAGIC + bytes([SPARSE]) + bytes(11) + bytes((0x40 | (run >> 8), run & 0xFF)), max_sparse
        )

    # -- the value ---------------------------------------------------------------
    def __bytes__(self) -> bytes:
        if self.dense is not None:
            return bytes(self.header) + bytes(self.dense)
        out = bytearray(self.header)
        for kind, run, val in self.ops:
            if kind == _VAL:
                out.append(0x80 | ((val - 1) << 2) | (run - 1))
            elif kind == _XZERO:
                out += bytes((0x40 | ((run - 1) >> 8), (run - 1) & 0xFF))
            else:
                out.append(run - 1)
        return bytes(out)

    @property
    def encoding(self) -> str:
        return "sparse" if self.dense is None else "dense"

    def cached(self) -> int | None:
        """The cached cardinality, or None when it is stale."""
        if self.header[15] & 0x80:
            return None
        return int.from_bytes(self.header[8:16], "little")

    def set_cached(self, card: int) -> None:
        self.header[8:16] = card.to_bytes(8, "little")

    def invalidate(self) -> None:
        self.header[15] |= 0x80

    def decode(self) -> str:
        """PFDEBUG DECODE's text: the sparse opcodes, `z:len Z:len v:value,len`."""
        words = []
        for kind, run, val in self.ops:
            if kind == _VAL:
                words.append("v:%d,%d" % (val, run))
            else:
                words.append("%s:%d" % ("Z" if kind == _XZERO else "z", run))
        return " ".join(words)

    @property
    def valid(self) -> bool:
        return self.dense is not None or self.total == REGISTERS

    # -- registers -----------------------------------------------------------------
    def registers(self) -> bytes:
        """All 16384 registers, one byte each (Invalid for a broken sparse value)."""
        if self.dense is not None:
            return unpack_dense(bytes(self.dense))
        if not self.valid:
            raise Invalid
        out = bytearray(REGISTERS)
        for (kind, run, val), first in zip(self.ops, self.firsts, strict=True):
            if kind == _VAL:
                out[first : first + run] = bytes((val,)) * run
        return bytes(out)

    def count(self) -> int:
        """hllCount: the estimate (Invalid for a broken sparse value)."""
        if self.dense is not None:
            return estimate(histogram_of(self.registers()))
        hist = [0] * 64
        for kind, run, val in self.ops:
            hist[val if kind == _VAL else 0] += run
        if self.total != REGISTERS:
            raise Invalid
        return estimate(hist)

    def add(self, element: bytes) -> bool:
        """hllAdd: True when a register grew (Invalid for a broken sparse value)."""
        index, count = pattern(element)
        return self.set(index, count)

    def set(self, index: int, count: int) -> bool:
        if self.dense is not None:
            return _dense_set(self.dense, index, count)
        return self._sparse_set(index, count)

    def to_dense(self) -> bool:
        """hllSparseToDense: True if it converted (Invalid for a broken sparse value)."""
        if self.dense is not None:
            return False
        if not self.valid:
            raise Invalid
        regs = self.registers()
        self.dense = pack_dense(regs)
        self.header[4] = DENSE
        self.ops, self.firsts = [], []
        return True

    def _sparse_set(self, index: int, count: int) -> bool:
        if count > _VAL_MAX_VALUE:
            return self._promote(index, count)
        ops, firsts = self.ops, self.firsts
        if index >= self.total:
            raise Invalid
        i = bisect_right(firsts, index) - 1
        kind, run, val = ops[i]
        first = firsts[i]
        prev = i - 1 if i > 0 else None
        if kind == _VAL:
            if val >= count:
                return False
            if run == 1:
                ops[i] = (_VAL, 1, count)
                return self._merged(prev)
        if kind == _ZERO and run == 1:
            ops[i] = (_VAL, 1, count)
            return self._merged(prev)
        last = first + run - 1
        seq: list[tuple[int, int, int]] = []
        if kind == _VAL:
            if index != first:
                seq.append((_VAL, index - first, val))
            seq.append((_VAL, 1, count))
            if index != last:
                seq.append((_VAL, last - index, val))
        else:
            if index != first:
                seq.append(_zeros(index - first))
            seq.append((_VAL, 1, count))
            if index != last:
                seq.append(_zeros(last - index))
        delta = sum(2 if k == _XZERO else 1 for k, _, _ in seq) - (2 if kind == _XZERO else 1)
        if delta > 0 and self.size + delta > self.max_sparse:
            return self._promote(index, count)
        starts, at = [], first
        for op in seq:
            starts.append(at)
            at += op[1]
        ops[i : i + 1] = seq
        firsts[i : i + 1] = starts
        self.size += delta
        return self._merged(prev)

    def _merged(self, prev: int | None) -> bool:
        """Step 4 of hllSparseSet: merge equal adjacent VALs, five opcodes from `prev`."""
        ops, firsts = self.ops, self.firsts
        p = prev if prev is not None else 0
        budget = 5
        while p < len(ops) and budget > 0:
            budget -= 1
            kind, run, val = ops[p]
            if kind != _VAL:
                p += 1
                continue
            if p + 1 < len(ops):
                kind2, run2, val2 = ops[p + 1]
                if kind2 == _VAL and val2 == val and run + run2 <= _VAL_MAX_LEN:
                    ops[p : p + 2] = [(_VAL, run + run2, val)]
                    del firsts[p + 1]
                    self.size -= 1
                    continue
            p += 1
        self.invalidate()
        return True

    def _promote(self, index: int, count: int) -> bool:
        self.to_dense()
        assert self.dense is not None
        return _dense_set(self.dense, index, count)


def _zeros(run: int) -> tuple[int, int, int]:
    return (_XZERO if run > _ZERO_MAX_LEN else _ZERO, run, 0)


def dense_get(dense: bytearray, index: int) -> int:
    """Register `index` of packed registers (HLL_DENSE_GET_REGISTER)."""
    bit = index * 6
    byte, shift = bit >> 3, bit & 7
    nxt = dense[byte + 1] if byte + 1 < DENSE_BYTES else 0
    return ((dense[byte] >> shift) | (nxt << (8 - shift))) & 63


def dense_put(dense: bytearray, index: int, value: int) -> None:
    """Write register `index` of packed registers (HLL_DENSE_SET_REGISTER)."""
    bit = index * 6
    byte, shift = bit >> 3, bit & 7
    dense[byte] = (dense[byte] & ~(63 << shift) & 0xFF) | ((value << shift) & 0xFF)
    if byte + 1 < DENSE_BYTES:
        high = 8 - shift
        dense[byte + 1] = (dense[byte + 1] & ~(63 >> high) & 0xFF) | (value >> high)


def _dense_set(dense: bytearray, index: int, count: int) -> bool:
    if count <= dense_get(dense, index):
        return False
    dense_put(dense, index, count)
    return True


def merge_max(into: bytearray, registers: bytes) -> None:
    """into[i] = max(into[i], registers[i]) for every register."""
    into[:] = bytes(map(max, into, registers))


def merged_registers(values: Iterable[HLL]) -> bytearray:
    """The register-wise maximum of `values` (Invalid if one is broken)."""
    out = bytearray(REGISTERS)
    for hll in values:
        merge_max(out, hll.registers())
    return out
