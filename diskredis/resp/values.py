"""Reply values: what command handlers return, before any wire encoding.

Room: the vocabulary shared by `commands` and the writer. Imports: `errors` only.

Plain Python values carry most replies:

=================  ======================  ===========================
handler returns    RESP2                   RESP3
=================  ======================  ===========================
``bytes``          bulk string ``$``       bulk string ``$``
``str``            simple string ``+``     simple string ``+``
``int``            integer ``:``           integer ``:``
``bool``           integer ``:1``/``:0``   boolean ``#t``/``#f``
``float``          bulk string (%.17g)     double ``,``
``None``           null bulk ``$-1``       null ``_``
``list``/``tuple`` array ``*``             array ``*``
``dict``           flat array ``*``        map ``%``
``RedisError``     error ``-``             error ``-``
=================  ======================  ===========================

Wrappers exist only where a plain value would be ambiguous: `NULL_ARRAY`
(``*-1`` in RESP2), `RSet`, `Push`, `Pushes`, `Status`, `Verbatim`, `DoubleText` and
`BigNumber`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar


class _NullArray:
    """The RESP2 null array ``*-1`` (RESP3 ``_``), e.g. BLPOP's timeout reply."""

    _instance: _NullArray | None = None

    def __new__(cls) -> _NullArray:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()


class RSet(list[Any]):
    """A set reply: RESP3 ``~``, a plain array in RESP2. Ordered as given."""

    __slots__ = ()


class Push(list[Any]):
    """An out-of-band push: RESP3 ``>``, a plain array in RESP2 (pub/sub messages)."""

    __slots__ = ()


class Pushes(list[Any]):
    """Pushes sent in place of a reply (SUBSCRIBE's confirmations), possibly followed by
    a reply (DEBUG PROTOCOL push): written one after the other with no header of their
    own, and sent even under CLIENT REPLY OFF."""

    __slots__ = ()


class MapPairs(list[tuple[Any, Any]]):
    """A map given as (key, value) pairs, in which a key may repeat (LATENCY HISTOGRAM
    of a command named twice): RESP3 ``%``, RESP2 a flat array."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Status:
    """A simple string given as bytes (a script's status reply may hold any byte)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Attributed:
    """A reply with RESP3 attributes before it (``|n`` pairs); RESP2 has none, so only the
    reply goes (DEBUG PROTOCOL attrib)."""

    attributes: dict[Any, Any]
    reply: Any


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """An error line written as given (DEBUG ERROR's addReplySds): not a command's
    failure, so not counted in errorstats or failed_calls."""

    data: bytes


def format_double(value: float) -> bytes:
    """``%.17g`` with Redis's spellings of the non-finite values."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    return b"%.17g" % value


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A verbatim string: RESP3 ``=len\\r\\nfmt:data``, a bulk string in RESP2."""

    data: bytes
    fmt: bytes = b"txt"


@dataclass(frozen=True, slots=True)
class DoubleText:
    """A double already written out (addReplyHumanLongDouble): RESP3 ``,text``, a bulk
    string in RESP2."""

    text: bytes


@dataclass(frozen=True, slots=True)
class BigNumber:
    """A big number: RESP3 ``(``, a bulk string in RESP2 (its digits; a script may
    give any text, which Redis sends as it is)."""

    value: int | bytes


T = TypeVar("T")


def deeper(walk: Callable[[], T], frames: int) -> T:
    """`walk()` with room for `frames` Python frames: the second try of a recursive walk
    that ran out of them on a value nested thousands deep (since CPython 3.11 Python
    frames take no C stack, so this risks no crash)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, frames))
    try:
        return walk()
    finally:
        sys.setrecursionlimit(old)
