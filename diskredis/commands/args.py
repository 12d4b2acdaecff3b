"""Argument parsing helpers shared by every command module.

Room: turn argument bytes into numbers with Redis's exact error texts (integers,
doubles, timeouts, numkeys, counts). Imports: `util`, `errors`, the standard library.

A command reads its options with a loop shaped as its own loop in Redis's C source (the
`for (j = ...; j < c->argc; j++)` of each command), because which error a bad request
gets depends on the order that loop finds things in; an option cursor shared by all
commands was tried and used once in 38 loops, so it is gone (2026-12-07).
"""

from __future__ import annotations

import math
import re
from typing import Any

from diskredis import errors
from diskredis.errors import RedisError
from diskredis.util import string2ll, strtod

# What strtold accepts and Python's float() agrees on (no "_", no "nan").
_FLOAT_RE = re.compile(
    rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity)", re.IGNORECASE
)


def parse_int(data: bytes, message: str = errors.NOT_INTEGER) -> int:
    """`util.string2ll` on an argument, or `message` as the error."""
    value = string2ll(data)
    if value is None:
        raise RedisError(message)
    return value


def parse_positive(data: bytes) -> int:
    """getPositiveLongFromObjectOrReply: an integer >= 0, one error for anything else."""
    value = parse_int(data, errors.NOT_POSITIVE)
    if value < 0:
        raise RedisError(errors.NOT_POSITIVE)
    return value


def parse_float(data: bytes, message: str = errors.NOT_FLOAT) -> float:
    """Redis string2ld/strtold: decimal or inf, no spaces, no NaN."""
    if _FLOAT_RE.fullmatch(data) is None:
        raise RedisError(message)
    value = float(data)
    if math.isnan(value):
        raise RedisError(message)
    return value


def parse_double(data: bytes, message: str = errors.NOT_FLOAT) -> float:
    """Redis string2d (getDoubleFromObject): the whole argument is one strtod number,
    with no leading space, no overflow or underflow to zero, and not NaN."""
    if 0 < len(data) <= 15 and data.isdigit():  # a plain integer, exact as a double
        return float(data)
    value, used, erange = strtod(data)
    if (
        not data
        or used != len(data)
        or data[:1] in b" \t\n\v\f\r"
        or (erange and (math.isinf(value) or value == 0))
        or math.isnan(value)
    ):
        raise RedisError(message)
    return value


def parse_bound(data: bytes) -> tuple[float, bool] | None:
    """One end of a score range as zslParseRange reads it: (value, exclusive), or None
    when it is not a float. strtod reads up to the first NUL byte, skipping leading
    spaces; an empty number is 0."""
    exclusive = data[:1] == b"("
    text = data[1:] if exclusive else data
    text = text.split(b"\0", 1)[0]
    value, used, _ = strtod(text)
    if used != len(text) or math.isnan(value):
        return None
    return value, exclusive


def parse_timeout_ms(data: bytes, *, seconds: bool, now_ms: int) -> int:
    """getTimeoutFromObjectOrReply: an absolute deadline in ms, 0 for "forever"."""
    if seconds:
        value = parse_float(data, errors.TIMEOUT_NOT_FLOAT)
        if value < 0:
            raise RedisError(errors.TIMEOUT_NEGATIVE)
        ms = int(value * 1000)
    else:
        ms = parse_int(data, errors.TIMEOUT_NOT_INTEGER)
        if ms < 0:
            raise RedisError(errors.TIMEOUT_NEGATIVE)
    return now_ms + ms if ms > 0 else 0


def clamp_range(count: int, start: int, end: int) -> tuple[int, int] | None:
    """Redis's start/end index rules (LRANGE, ZRANGE, ZREMRANGEBYRANK...): negatives count
    from the end; None when the range is empty, else (start, end) inside 0..count-1."""
    if start < 0:
        start += count
    if end < 0:
        end += count
    start = max(start, 0)
    if start > end or start >= count:
        return None
    return start, min(end, count - 1)


def parse_mpop(
    argv: list[bytes], at: int, sides: tuple[bytes, bytes]
) -> tuple[list[bytes], bool, int]:
    """The arguments of LMPOP/ZMPOP and their blocking forms (lmpopGenericCommand,
    zmpopGenericCommand): numkeys at `at`, the keys, one of `sides` (lower case), then
    [COUNT n]. Returns (keys, whether the second side was named, count)."""
    numkeys = parse_int(argv[at], errors.NUMKEYS_POSITIVE)
    if numkeys < 1:
        raise RedisError(errors.NUMKEYS_POSITIVE)
    where_at = at + numkeys + 1
    if where_at >= len(argv):
        raise RedisError(errors.SYNTAX)
    where = argv[where_at].lower()
    if where not in sides:
        raise RedisError(errors.SYNTAX)
    count = -1
    j = where_at + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            count = parse_int(argv[j + 1], "ERR count should be greater than 0")
            if count < 1:
                raise errors.err("count should be greater than 0")
            j += 2
        else:
            raise RedisError(errors.SYNTAX)
    return argv[at + 1 : where_at], where == sides[1], 1 if count == -1 else count


def help_reply(name: str, lines: list[str]) -> list[Any]:
    """addReplyHelp: a header, the given lines, and the HELP footer, as statuses."""
    return [
        "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name.upper(),
        *lines,
        "HELP",
        "    Prints this help.",
    ]
