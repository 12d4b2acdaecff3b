"""Argument parsing helpers shared by every command module.

Room: turn argument bytes into numbers and options with Redis's exact error
texts. Imports: `errors`, the standard library. Options are read with a
`Cursor` (``cur.eat(b"NX")``, ``cur.take_int()``), never by sniffing argv.
"""

from __future__ import annotations

import math
import re
from typing import Any

from diskredis import errors
from diskredis.errors import RedisError

_INT_RE = re.compile(rb"-?[1-9][0-9]*|0")
# What strtold accepts and Python's float() agrees on (no "_", no "nan").
_FLOAT_RE = re.compile(
    rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity)", re.IGNORECASE
)
_LLONG_MIN, _LLONG_MAX = -(2**63), 2**63 - 1


def parse_int(data: bytes, message: str = errors.NOT_INTEGER) -> int:
    """Redis string2ll on an argument, or `message` as the error."""
    if len(data) < 21 and _INT_RE.fullmatch(data):
        value = int(data)
        if _LLONG_MIN <= value <= _LLONG_MAX:
            return value
    raise RedisError(message)


def parse_float(data: bytes, message: str = errors.NOT_FLOAT) -> float:
    """Redis string2ld/strtold: decimal or inf, no spaces, no NaN."""
    if _FLOAT_RE.fullmatch(data) is None:
        raise RedisError(message)
    value = float(data)
    if math.isnan(value):
        raise RedisError(message)
    return value


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


class Cursor:
    """Walks the options of a command, case-insensitively."""

    __slots__ = ("argv", "pos")

    def __init__(self, argv: list[bytes], pos: int) -> None:
        self.argv = argv
        self.pos = pos

    def __bool__(self) -> bool:
        return self.pos < len(self.argv)

    @property
    def left(self) -> int:
        return len(self.argv) - self.pos

    def peek(self) -> bytes:
        return self.argv[self.pos]

    def eat(self, word: bytes, *, needs: int = 0) -> bool:
        """Consume `word` if it is next (and at least `needs` arguments follow it)."""
        if self.pos < len(self.argv) and self.argv[self.pos].lower() == word.lower():
            if self.left - 1 < needs:
                return False
            self.pos += 1
            return True
        return False

    def take(self) -> bytes:
        if self.pos >= len(self.argv):
            raise RedisError(errors.SYNTAX)
        value = self.argv[self.pos]
        self.pos += 1
        return value

    def take_int(self, message: str = errors.NOT_INTEGER) -> int:
        return parse_int(self.take(), message)


def help_reply(name: str, lines: list[str]) -> list[Any]:
    """addReplyHelp: a header, the given lines, and the HELP footer, as statuses."""
    return [
        "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name.upper(),
        *lines,
        "HELP",
        "    Prints this help.",
    ]
