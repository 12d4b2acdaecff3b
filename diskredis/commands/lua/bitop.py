"""The `bit` library of Redis's scripts: LuaBitOp 1.0, 32-bit operations on Lua numbers.

Room: `bit.*` as Redis ships it. Imports: `base`, the standard library.
"""

from __future__ import annotations

import math
from typing import Any

from diskredis.commands.lua.base import LibBase


class BitOp(LibBase):
    """bit.tobit, bnot, band, bor, bxor, lshift, rshift, arshift, rol, ror, bswap, tohex."""

    # -- bit (LuaBitOp 1.0: 32-bit operations on Lua numbers) -----------------------
    def _bits(self, args: tuple[Any, ...], fname: str, n: int | None = None) -> list[int]:
        count = len(args) if n is None else n
        if count == 0:
            count = 1
        return [_tobit(self._check_number(args, i, fname)) for i in range(1, count + 1)]

    def _bit_tobit(self, *args: Any) -> int:
        return _signed(self._bits(args, "tobit", 1)[0])

    def _bit_bnot(self, *args: Any) -> int:
        return _signed(~self._bits(args, "bnot", 1)[0])

    def _bit_band(self, *args: Any) -> int:
        result = -1
        for v in self._bits(args, "band"):
            result &= v
        return _signed(result)

    def _bit_bor(self, *args: Any) -> int:
        result = 0
        for v in self._bits(args, "bor"):
            result |= v
        return _signed(result)

    def _bit_bxor(self, *args: Any) -> int:
        result = 0
        for v in self._bits(args, "bxor"):
            result ^= v
        return _signed(result)

    def _shift(self, args: tuple[Any, ...], fname: str) -> tuple[int, int]:
        v, n = self._bits(args, fname, 2)
        return v & 0xFFFFFFFF, n & 31

    def _bit_lshift(self, *args: Any) -> int:
        v, n = self._shift(args, "lshift")
        return _signed(v << n)

    def _bit_rshift(self, *args: Any) -> int:
        v, n = self._shift(args, "rshift")
        return _signed(v >> n)

    def _bit_arshift(self, *args: Any) -> int:
        v, n = self._shift(args, "arshift")
        return _signed(_signed(v) >> n)

    def _bit_rol(self, *args: Any) -> int:
        v, n = self._shift(args, "rol")
        return _signed((v << n) | (v >> (32 - n)) if n else v)

    def _bit_ror(self, *args: Any) -> int:
        v, n = self._shift(args, "ror")
        return _signed((v >> n) | (v << (32 - n)) if n else v)

    def _bit_bswap(self, *args: Any) -> int:
        v = self._bits(args, "bswap", 1)[0] & 0xFFFFFFFF
        return _signed(int.from_bytes(v.to_bytes(4, "little"), "big"))

    def _bit_tohex(self, *args: Any) -> bytes:
        v = self._bits(args, "tohex", 1)[0] & 0xFFFFFFFF
        n = _signed(self._bits(args, "tohex", 2)[1]) if len(args) > 1 and args[1] is not None else 8
        upper = n < 0
        n = min(abs(n), 8) if n != -(2**31) else 8
        text = b"%0*x" % (n, v & ((1 << (4 * n)) - 1)) if n else b""
        return text.upper() if upper else text


BIT_OPS = (
    "tobit",
    "bnot",
    "band",
    "bor",
    "bxor",
    "lshift",
    "rshift",
    "arshift",
    "rol",
    "ror",
    "bswap",
    "tohex",
)


def _tobit(number: float) -> int:
    """LuaBitOp's normalisation: round half to even, keep the low 32 bits."""
    if not math.isfinite(number):
        return 0
    return round(number) & 0xFFFFFFFF


def _signed(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v
