"""x87 80-bit long double arithmetic, as Redis's INCRBYFLOAT and HINCRBYFLOAT do it.

Room: exact emulation with fractions: parse like strtold, round to a 64-bit
significand, format like ``%.17Lf`` with trailing zeros removed (ld2string's
LD_STR_HUMAN). Python floats are doubles, which would print 0.1 + 0.2 as
0.30000000000000004 where Redis prints 0.3. Imports: the standard library.
"""

from __future__ import annotations

import re
from fractions import Fraction

_MANT = 64  # significand bits
_EMIN = -16382  # smallest normal exponent (value = m * 2**(e - 63))
_EMAX = 16383
_MAX_CHARS = 5 * 1024  # MAX_LONG_DOUBLE_CHARS
_DEC = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(
    rb"([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+))"
    rb"(?:[pP]([+-]?[0-9]+))?"
)
_INF = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)

INF = "inf"  # a marker: the value overflowed


def _round(x: Fraction) -> Fraction | str:
    """`x` rounded to the nearest long double (ties to even); INF on overflow."""
    if x == 0:
        return Fraction(0)
    sign = -1 if x < 0 else 1
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    # now 2**e <= a < 2**(e+1)
    e = max(e, _EMIN)  # below the normal range the step stays fixed (subnormals)
    step = Fraction(2) ** (e - (_MANT - 1))
    q, r = divmod(a / step, 1)
    q = int(q)
    if r > Fraction(1, 2) or (r == Fraction(1, 2) and q % 2):
        q += 1
    value = q * step
    if value >= Fraction(2) ** (_EMAX + 1):
        return INF
    return sign * value


def parse_long_double(raw: bytes) -> Fraction | str | None:
    """string2ld: the value strtold gives (INF for an infinity), or None where Redis
    refuses the string (not a number, NaN, overflow or underflow to zero)."""
    if not raw or len(raw) >= _MAX_CHARS or raw[:1].isspace():
        return None
    if _INF.fullmatch(raw):
        return INF
    m = _HEX.fullmatch(raw)
    if m:
        digits = m.group(2).replace(b".", b"")
        point = m.group(2).find(b".")
        frac_digits = 0 if point < 0 else len(m.group(2)) - point - 1
        value = Fraction(int(digits, 16)) * Fraction(2) ** (
            int(m.group(3) or b"0") - 4 * frac_digits
        )
    elif _DEC.fullmatch(raw):
        value = Fraction(raw.decode())
    else:
        return None
    if m and m.group(1) == b"-":
        value = -value
    rounded = _round(value)
    if rounded == INF or (rounded == 0 and value != 0):
        return None  # ERANGE: overflow, or underflow to zero
    assert isinstance(rounded, Fraction)
    return rounded


def format_human(x: Fraction) -> bytes | None:
    """The sum rounded to a long double, as ``%.17Lf`` minus trailing zeros; None if it
    overflowed (Redis: "increment would produce NaN or Infinity")."""
    rounded = _round(x)
    if not isinstance(rounded, Fraction):
        return None
    scaled = rounded * 10**17
    q, r = divmod(abs(scaled), 1)
    q = int(q)
    if r > Fraction(1, 2) or (r == Fraction(1, 2) and q % 2):
        q += 1
    digits = str(q).rjust(18, "0")
    text = digits[:-17] + "." + digits[-17:]
    text = text.rstrip("0").rstrip(".")
    if rounded < 0 and text != "0":
        text = "-" + text
    return text.encode()
