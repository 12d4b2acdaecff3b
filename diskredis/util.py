"""Redis's util.c: glob matching, number parsing, the C integer limits.

Room: leaf fact, for every layer: stringmatchlen (the glob patterns of KEYS, SCAN
MATCH, PSUBSCRIBE, ACL and CONFIG GET), string2ll and string2ull, C's strtod and atoi,
and the limits of the C integer types Redis's checks are written against. Imports: the
standard library.
"""

from __future__ import annotations

import math
import re
import sys

__all__ = [
    "FIELD_DEADLINE_MAX",
    "INT_MAX",
    "INT_MIN",
    "LLONG_MAX",
    "LLONG_MIN",
    "UINT_MAX",
    "ULLONG_MAX",
    "atoi",
    "glob_match",
    "string2ll",
    "string2ull",
    "strtod",
]

LLONG_MIN, LLONG_MAX = -(2**63), 2**63 - 1
ULLONG_MAX = 2**64 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
UINT_MAX = 2**32 - 1
#: HFE_MAX_ABS_TIME_MSEC: the latest deadline (Unix ms) a hash field takes (Redis 7.4)
FIELD_DEADLINE_MAX = (1 << 46) - 1

_INTEGER = re.compile(rb"-?[1-9][0-9]*|0")


def string2ll(text: bytes) -> int | None:
    """Redis's string2ll: the canonical decimal form of a signed 64-bit integer (no
    sign on 0, no leading zero or space, fewer than 21 characters), else None. Also
    what a listpack stores as an integer (lpStringToInt64) and OBJECT ENCODING's
    "int"."""
    if not text or len(text) >= 21 or _INTEGER.fullmatch(text) is None:
        return None
    value = int(text)
    return value if LLONG_MIN <= value <= LLONG_MAX else None


def string2ull(text: bytes) -> int | None:
    """Redis's string2ull: a string2ll number that is not negative, else what C's
    strtoull reads from the whole text (leading spaces, a sign: "-1" wraps to
    ULLONG_MAX), else None."""
    value = string2ll(text)
    if value is not None:
        return None if value < 0 else value
    m = _STRTOULL.fullmatch(text)
    if m is None:
        return None
    value = int(m.group(2))
    if value > ULLONG_MAX:
        return None
    return (-value) & ULLONG_MAX if m.group(1) == b"-" else value


_STRTOULL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)")


def atoi(text: bytes) -> int:
    """C's atoi: the leading integer (after spaces), 0 if there is none."""
    digits = _ATOI_RE.match(text)
    return int(digits.group(1)) if digits else 0


_ATOI_RE = re.compile(rb"[ \t\n\v\f\r]*([+-]?\d+)")


_STRTOD_RE = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?)(?:"
    rb"(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(infinity|inf)|(nan(?:\([0-9A-Za-z_]*\))?))",
    re.IGNORECASE,
)


def strtod(data: bytes) -> tuple[float, int, bool]:
    """C strtod (glibc, C locale) on `data`: (value, bytes consumed, ERANGE). Nothing
    consumed means no number was found (value 0). Hex floats, inf/infinity and nan are
    read as glibc reads them; an overflow gives inf and an underflow to zero 0, both with
    ERANGE set."""
    m = _STRTOD_RE.match(data)
    if m is None:
        return 0.0, 0, False
    sign, hexa, dec, inf, _nan = m.groups()
    negative = sign == b"-"
    if inf is not None:
        return (-math.inf if negative else math.inf), m.end(), False
    if _nan is not None:
        return math.nan, m.end(), False
    text = (hexa or dec).decode()
    if hexa is not None:
        try:
            value = float.fromhex(text)
        except OverflowError:
            value = math.inf
        mantissa = text[2:].lower().split("p")[0]
    else:
        value = float(text)
        mantissa = text.lower().split("e")[0]
    erange = (
        math.isinf(value)
        or (value == 0 and mantissa.strip("0.") != "")
        or 0 < abs(value) < sys.float_info.min
    )  # glibc flags subnormals too
    return (-value if negative else value), m.end(), erange


def glob_match(pattern: bytes, text: bytes, nocase: bool = False) -> bool:
    """Redis's stringmatchlen: ``*``, ``?``, ``[...]`` with ``^`` and ranges, ``\\`` escapes."""
    return _glob(pattern, 0, text, 0, nocase, [False])


def _low(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def _glob(p: bytes, pi: int, s: bytes, si: int, nocase: bool, skip: list[bool]) -> bool:
    plen, slen = len(p), len(s)

    def at(i: int) -> int:  # C reads the string's terminator
        return p[i] if i < plen else 0

    while pi < plen and si < slen:
        c = p[pi]
        if c == 0x2A:  # '*'
            while pi + 1 < plen and p[pi + 1] == 0x2A:
                pi += 1
            if pi + 1 == plen:
                return True
            while si < slen:
                if _glob(p, pi + 1, s, si, nocase, skip):
                    return True
                if skip[0]:
                    return False
                si += 1
            # Nothing matches the rest from anywhere: longer matches of an
            # earlier '*' cannot help either.
            skip[0] = True
            return False
        if c == 0x3F:  # '?'
            si += 1
        elif c == 0x5B:  # '['
            pi += 1
            negate = at(pi) == 0x5E
            if negate:
                pi += 1
            matched = False
            sc = s[si]
            while True:
                if at(pi) == 0x5C and plen - pi >= 2:
                    pi += 1
                    if p[pi] == sc:
                        matched = True
                elif at(pi) == 0x5D:
                    break
                elif pi >= plen:
                    pi -= 1
                    break
                elif plen - pi >= 3 and p[pi + 1] == 0x2D:
                    lo, hi, ch = p[pi], p[pi + 2], sc
                    if lo > hi:
                        lo, hi = hi, lo
                    if nocase:
                        lo, hi, ch = _low(lo), _low(hi), _low(ch)
                    pi += 2
                    if lo <= ch <= hi:
                        matched = True
                elif (_low(p[pi]) == _low(sc)) if nocase else (p[pi] == sc):
                    matched = True
                pi += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        else:
            if c == 0x5C and plen - pi >= 2:
                pi += 1
                c = p[pi]
            if (_low(c) != _low(s[si])) if nocase else (c != s[si]):
                return False
            si += 1
        pi += 1
        if si == slen:
            while at(pi) == 0x2A:
                pi += 1
            break
    return pi == plen and si == slen
