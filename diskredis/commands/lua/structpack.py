"""The `struct` library of Redis's scripts: struct 0.2 (Roberto Ierusalimschy's
lstrlib-like packing of binary strings), as Redis ships it.

Room: `struct.pack`, `unpack`, `size`. Imports: `base`, `util`, the standard library.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from diskredis.commands.lua.base import LibBase, Raise
from diskredis.util import INT_MAX, ULLONG_MAX


class Struct(LibBase):
    """struct.pack, struct.unpack, struct.size."""

    def _struct_pack(self, *args: Any) -> bytes:
        f = _StructFormat(self, "pack", self._check_string(args, 1, "pack"))
        args = (*args, None)  # b_pack pushes a nil after the arguments: a missing one is nil
        out = bytearray()
        arg = 2
        for opt, size in f.options():
            out += bytes(f.padding(len(out), opt, size))
            if opt in "bBhHlLTiI":
                out += _struct_int(self._check_number(args, arg, "pack"), size, f.little)
                arg += 1
            elif opt == "x":
                out.append(0)
            elif opt in "fd":
                value = self._check_number(args, arg, "pack")
                arg += 1
                code = ("<" if f.little else ">") + opt
                try:
                    out += struct.pack(code, value)
                except OverflowError:  # a float too big for 4 bytes is inf, as in C
                    out += struct.pack(code, math.copysign(math.inf, value))
            elif opt in "cs":
                s = self._check_string(args, arg, "pack")
                arg += 1
                n = size if size else len(s)
                if len(s) < n:
                    raise f.argerror(arg, "string too short")
                out += s[:n]
                if opt == "s":
                    out.append(0)
            else:
                f.control(opt)
        return bytes(out)

    def _struct_unpack(self, *args: Any) -> tuple[Any, ...]:
        f = _StructFormat(self, "unpack", self._check_string(args, 1, "unpack"))
        data = self._check_string(args, 2, "unpack")
        pos = (
            int(self._check_number(args, 3, "unpack"))
            if len(args) >= 3 and args[2] is not None
            else 1
        )
        if pos <= 0:
            raise f.argerror(3, "offset must be 1 or greater")
        pos -= 1
        out: list[Any] = []
        for opt, size in f.options():
            pos += f.padding(pos, opt, size)
            if not (size <= len(data) and pos <= len(data) - size):
                raise f.argerror(2, "data string too short")
            if opt in "bBhHlLTiI":
                raw = data[pos : pos + size]
                n = int.from_bytes(raw if f.little else raw[::-1], "little") & ULLONG_MAX
                if opt.islower():  # sign-extend from the field's top bit, as the C code
                    shift = size * 8 - 1
                    mask = (ULLONG_MAX << shift) & ULLONG_MAX if shift < 64 else 0
                    if n & mask:
                        n |= mask
                    if n >= 1 << 63:
                        n -= 1 << 64
                out.append(float(n))
            elif opt in "fd":
                code = ("<" if f.little else ">") + opt
                out.append(struct.unpack(code, data[pos : pos + size])[0])
            elif opt == "c":
                if size == 0:
                    if not out or type(out[-1]) is not float:
                        raise f.error("format 'c0' needs a previous size")
                    size = int(out.pop())
                    if not (size <= len(data) and pos <= len(data) - size):
                        raise f.argerror(2, "data string too short")
                out.append(data[pos : pos + size])
            elif opt == "s":
                end = data.find(b"\0", pos)
                if end < 0:
                    raise f.error("unfinished string in data")
                size = end - pos + 1
                out.append(data[pos:end])
            elif opt != "x":
                f.control(opt)
            pos += size
        out.append(pos + 1)
        return tuple(out)

    def _struct_size(self, *args: Any) -> int:
        f = _StructFormat(self, "size", self._check_string(args, 1, "size"))
        pos = 0
        for opt, size in f.options():
            pos += f.padding(pos, opt, size)
            if opt == "s":
                raise f.argerror(1, "option 's' has no fixed size")
            if opt == "c" and size == 0:
                raise f.argerror(1, "option 'c0' has no fixed size")
            if not opt.isalnum():
                f.control(opt)
            pos += size
        return pos


# -- struct (Roberto Ierusalimschy's lstrlib-like struct 0.2, as Redis ships it) ---------
_STRUCT_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_MAXALIGN = 8


class _StructFormat:
    """Walks a struct format string as the C code does (sizes, alignment, endianness)."""

    def __init__(self, state: LibBase, fname: str, fmt: bytes) -> None:
        self.state, self.fname, self.fmt, self.i = state, fname, fmt, 0
        self.little, self.align = True, 1

    def error(self, message: str) -> Raise:
        return self.state._raise(message)

    def argerror(self, n: int, message: str) -> Raise:
        return self.state._raise("bad argument #%d to '%s' (%s)" % (n, self.fname, message))

    def number(self, default: int) -> int:
        fmt = self.fmt
        if self.i >= len(fmt) or not chr(fmt[self.i]).isdigit():
            return default
        a = 0
        while self.i < len(fmt) and chr(fmt[self.i]).isdigit():
            digit = fmt[self.i] - 0x30
            if a > (INT_MAX // 10) or a * 10 > INT_MAX - digit:
                raise self.error("integral size overflow")
            a = a * 10 + digit
            self.i += 1
        return a

    def options(self) -> Any:
        """Yields (option, size, padding before it) for the data options."""
        while self.i < len(self.fmt):
            opt = chr(self.fmt[self.i])
            self.i += 1
            size = self.size(opt)
            yield opt, size

    def size(self, opt: str) -> int:
        if opt in _STRUCT_SIZES:
            return _STRUCT_SIZES[opt]
        if opt == "c":
            return self.number(1)
        if opt in "iI":
            sz = self.number(4)
            if sz > 32:
                raise self.error("integral size %d is larger than limit of 32" % sz)
            return sz
        return 0

    def padding(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str) -> None:
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            a = self.number(_MAXALIGN)
            if not (a > 0 and a & (a - 1) == 0):
                raise self.error("alignment %d is not a power of 2" % a)
            self.align = a
        else:
            raise self.argerror(1, "invalid format option '%s'" % opt)


def _struct_int(value: float, size: int, little: bool) -> bytes:
    n = int(value) if math.isfinite(value) else -(2**63)
    n &= (1 << 64) - 1
    out = bytearray()
    for _ in range(size):
        out.append(n & 0xFF)
        n >>= 8
    return bytes(out if little else out[::-1])
