"""The `cmsgpack` library of Redis's scripts: lua-cmsgpack 0.4.0 (the encoder walks Lua
tables in the bootstrap, `bootstrap.lua`).

Room: `cmsgpack.pack`, `unpack`, `unpack_one`, `unpack_limit`. Imports: `base`, `util`, the
standard library.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from diskredis.commands.lua.base import LibBase
from diskredis.util import INT_MAX, ULLONG_MAX


class Msgpack(LibBase):
    """cmsgpack.pack, unpack, unpack_one, unpack_limit."""

    # -- cmsgpack (lua-cmsgpack 0.4.0) -----------------------------------------------
    def _cmsgpack_pack(self, *args: Any) -> bytes:
        if not args:
            raise self._raise("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out = bytearray()
        kinds, values = self._mp_walk(*args)
        for i in range(1, len(kinds) + 1):
            _mp_encode(out, kinds[i], values[i])
        return bytes(out)

    def _cmsgpack_unpack(self, *args: Any) -> tuple[Any, ...]:
        return self._mp_unpack(self._check_string(args, 1, "unpack"), 0, 0)

    def _cmsgpack_unpack_one(self, *args: Any) -> tuple[Any, ...]:
        data = self._check_string(args, 1, "unpack_one")
        offset = (
            int(self._check_number(args, 2, "unpack_one"))
            if len(args) >= 2 and args[1] is not None
            else 0
        )
        return self._mp_unpack(data, 1, offset)

    def _cmsgpack_unpack_limit(self, *args: Any) -> tuple[Any, ...]:
        data = self._check_string(args, 1, "unpack_limit")
        limit = int(self._check_number(args, 2, "unpack_limit"))
        offset = (
            int(self._check_number(args, 3, "unpack_limit"))
            if len(args) >= 3 and args[2] is not None
            else 0
        )
        return self._mp_unpack(data, limit, offset)

    def _mp_unpack(self, data: bytes, limit: int, offset: int) -> tuple[Any, ...]:
        decode_all = not limit and not offset
        if offset < 0 or limit < 0:
            raise self._raise(
                "Invalid request to unpack with offset of %d and limit of %d." % (offset, len(data))
            )
        if offset > len(data):
            raise self._raise("Start offset %d greater than input length %d." % (offset, len(data)))
        if decode_all:
            limit = INT_MAX
        reader = _MsgpackReader(self, data, offset)
        values: list[Any] = []
        while reader.pos < len(data) and len(values) < limit:
            try:
                values.append(reader.value())
            except _MsgpackEOF:
                raise self._raise("Missing bytes in input.") from None
            except _MsgpackBadFormat:
                raise self._raise("Bad data format in input.") from None
        if not decode_all:
            values.insert(0, -1 if reader.pos >= len(data) else reader.pos)
        return tuple(values)


class _MsgpackEOF(Exception):
    pass


class _MsgpackBadFormat(Exception):
    pass


def _mp_encode(out: bytearray, kind: bytes, value: Any) -> None:
    """One item of the walk `mp_walk` made of the Lua values (lua_cmsgpack.c)."""
    if kind == b"s":
        n = len(value)
        if n < 32:
            out.append(0xA0 | n)
        elif n <= 0xFF:
            out += bytes((0xD9, n))
        elif n <= 0xFFFF:
            out += b"\xda" + n.to_bytes(2, "big")
        else:
            out += b"\xdb" + (n & 0xFFFFFFFF).to_bytes(4, "big")
        out += value
    elif kind == b"b":
        out.append(0xC3 if value else 0xC2)
    elif kind == b"n":
        number = float(value)
        if math.isfinite(number) and number == int(number) and -(2**63) <= number < 2**63:
            _mp_int(out, int(number))
        else:
            try:
                as_float = struct.pack(">f", number)
            except OverflowError:
                as_float = b""
            if as_float and struct.unpack(">f", as_float)[0] == number:  # never for NaN
                out += b"\xca" + as_float
            else:
                out += b"\xcb" + struct.pack(">d", number)
    elif kind in (b"A", b"M"):
        n = int(value)
        base, b16, b32 = (0x90, 0xDC, 0xDD) if kind == b"A" else (0x80, 0xDE, 0xDF)
        if n <= 15:
            out.append(base | n)
        elif n <= 0xFFFF:
            out += bytes((b16,)) + n.to_bytes(2, "big")
        else:
            out += bytes((b32,)) + (n & 0xFFFFFFFF).to_bytes(4, "big")
    else:
        out.append(0xC0)


def _mp_int(out: bytearray, n: int) -> None:
    if n >= 0:
        if n <= 127:
            out.append(n)
        elif n <= 0xFF:
            out += bytes((0xCC, n))
        elif n <= 0xFFFF:
            out += b"\xcd" + n.to_bytes(2, "big")
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + n.to_bytes(4, "big")
        else:
            out += b"\xcf" + n.to_bytes(8, "big")
    elif n >= -32:
        out.append(n & 0xFF)
    elif n >= -128:
        out += bytes((0xD0, n & 0xFF))
    elif n >= -32768:
        out += b"\xd1" + (n & 0xFFFF).to_bytes(2, "big")
    elif n >= -(2**31):
        out += b"\xd2" + (n & 0xFFFFFFFF).to_bytes(4, "big")
    else:
        out += b"\xd3" + (n & ULLONG_MAX).to_bytes(8, "big")


class _MsgpackReader:
    """mp_decode_to_lua_type over `data` from `pos`; tables filled in order, as in C."""

    def __init__(self, state: LibBase, data: bytes, pos: int) -> None:
        self.state, self.data, self.pos = state, data, pos

    def need(self, n: int) -> None:
        if len(self.data) - self.pos < n:
            raise _MsgpackEOF()

    def take(self, n: int) -> bytes:
        self.need(n)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def value(self) -> Any:
        self.need(1)
        c = self.data[self.pos]
        fixed = {
            0xCC: (1, False),
            0xCD: (2, False),
            0xCE: (4, False),
            0xCF: (8, True),
            0xD0: (1, True),
            0xD1: (2, True),
            0xD2: (4, True),
            0xD3: (8, True),
        }
        if c in fixed:
            size, signed = fixed[c]
            raw = self.take(1 + size)[1:]
            n = int.from_bytes(raw, "big", signed=signed)
            return float(n)
        if c == 0xC0:
            self.pos += 1
            return None
        if c in (0xC2, 0xC3):
            self.pos += 1
            return c == 0xC3
        if c == 0xCA:
            return struct.unpack(">f", self.take(5)[1:])[0]
        if c == 0xCB:
            return struct.unpack(">d", self.take(9)[1:])[0]
        if c in (0xD9, 0xDA, 0xDB):
            size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[c]
            self.need(1 + size)
            n = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "big")
            return self.take(1 + size + n)[1 + size :]
        if c in (0xDC, 0xDD, 0xDE, 0xDF):
            size = 2 if c in (0xDC, 0xDE) else 4
            n = int.from_bytes(self.take(1 + size)[1:], "big")
            return self.array(n) if c in (0xDC, 0xDD) else self.mapping(n)
        if c & 0x80 == 0:
            self.pos += 1
            return float(c)
        if c & 0xE0 == 0xE0:
            self.pos += 1
            return float(c - 256)
        if c & 0xE0 == 0xA0:
            return self.take(1 + (c & 0x1F))[1:]
        if c & 0xF0 == 0x90:
            self.pos += 1
            return self.array(c & 0xF)
        if c & 0xF0 == 0x80:
            self.pos += 1
            return self.mapping(c & 0xF)
        raise _MsgpackBadFormat()

    def array(self, n: int) -> Any:
        table = self.state.rt.table()
        for i in range(1, n + 1):
            item = self.value()
            if item is not None:
                table[i] = item
        return table

    def mapping(self, n: int) -> Any:
        table = self.state.rt.table()
        for _ in range(n):
            key = self.value()
            item = self.value()
            if key is None:  # lua_settable with a nil key raises in C
                raise self.state._raise("table index is nil")
            if item is not None:
                table[key] = item
        return table
