"""Reply encoding for RESP2 and RESP3, with no I/O.

Room: turn reply values (see `values`) into bytes for one protocol version.
Imports: `errors`, `values`. Rules kept:

- Doubles are written with ``%.17g`` and ``inf``/``-inf``/``nan`` as Redis 7.0's
  addReplyDouble does; in RESP2 they are bulk strings.
- An error's text never carries CR/LF (`RedisError` maps them to spaces).
- Simple strings (``str``) are trusted not to hold CR/LF: handlers build them.
"""

from __future__ import annotations

from typing import Any

from diskredis.errors import RedisError
from diskredis.resp.values import (
    NULL_ARRAY,
    Attributed,
    BigNumber,
    DoubleText,
    ErrorLine,
    MapPairs,
    Push,
    Pushes,
    RSet,
    Status,
    Verbatim,
    deeper,
    format_double,
)

__all__ = ["encode", "format_double"]

_OK = b"+OK\r\n"
_NULL2 = b"$-1\r\n"
_NULL3 = b"_\r\n"
# Frames allowed while encoding a reply nested deeper than the default recursion limit
# (Python frames only since CPython 3.11: no C stack at risk). Scripts nest at most
# about 8000 deep (Lua's own stack limit).
_DEEP_REPLY = 40_000


def error_bytes(text: str) -> bytes:
    """An error's text on the wire: Latin-1 (client bytes quoted in it come back as
    they were sent), or UTF-8 for texts that hold other characters."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def encode(value: Any, proto: int = 2) -> bytes:
    """Encode one reply for protocol `proto` (2 or 3)."""
    # Fast paths for the replies that dominate real traffic.
    if value == "OK" and type(value) is str:
        return _OK
    t = type(value)
    if t is bytes:
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if t is int:
        return b":%d\r\n" % value
    out: list[bytes] = []
    try:
        _encode_into(value, proto, out)
    except RecursionError:  # a reply nested thousands deep (a script's table, say)
        out = []
        deeper(lambda: _encode_into(value, proto, out), _DEEP_REPLY)
    return b"".join(out)


def _encode_into(value: Any, proto: int, out: list[bytes]) -> None:
    t = type(value)
    if t is bytes or t is bytearray or t is memoryview:
        out.append(b"$%d\r\n" % len(value))
        out.append(bytes(value))
        out.append(b"\r\n")
    elif t is str:
        out.append(b"+%s\r\n" % value.encode())
    elif t is bool:
        if proto >= 3:
            out.append(b"#t\r\n" if value else b"#f\r\n")
        else:
            out.append(b":1\r\n" if value else b":0\r\n")
    elif t is int:
        out.append(b":%d\r\n" % value)
    elif value is None:
        out.append(_NULL3 if proto >= 3 else _NULL2)
    elif t is list or t is tuple:
        out.append(b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(item, proto, out)
    elif t is dict:
        if proto >= 3:
            out.append(b"%%%d\r\n" % len(value))
        else:
            out.append(b"*%d\r\n" % (2 * len(value)))
        for k, v in value.items():
            _encode_into(k, proto, out)
            _encode_into(v, proto, out)
    elif t is float:
        text = format_double(value)
        if proto >= 3:
            out.append(b",%s\r\n" % text)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(text), text))
    elif isinstance(value, RedisError):
        out.append(b"-%s\r\n" % error_bytes(value.text))
    elif value is NULL_ARRAY:
        out.append(_NULL3 if proto >= 3 else b"*-1\r\n")
    elif t is RSet:
        out.append((b"~%d\r\n" if proto >= 3 else b"*%d\r\n") % len(value))
        for item in value:
            _encode_into(item, proto, out)
    elif t is Push:
        out.append((b">%d\r\n" if proto >= 3 else b"*%d\r\n") % len(value))
        for item in value:
            _encode_into(item, proto, out)
    elif t is Status:
        out.append(b"+%s\r\n" % value.data)
    elif t is MapPairs:
        out.append(
            (b"%%%d\r\n" if proto >= 3 else b"*%d\r\n")
            % (len(value) if proto >= 3 else 2 * len(value))
        )
        for k, v in value:
            _encode_into(k, proto, out)
            _encode_into(v, proto, out)
    elif t is Attributed:
        if proto >= 3:
            out.append(b"|%d\r\n" % len(value.attributes))
            for k, v in value.attributes.items():
                _encode_into(k, proto, out)
                _encode_into(v, proto, out)
        _encode_into(value.reply, proto, out)
    elif t is ErrorLine:
        out.append(b"-%s\r\n" % value.data)
    elif t is Pushes:
        for item in value:
            _encode_into(item, proto, out)
    elif t is Verbatim:
        if proto >= 3:
            body = value.fmt + b":" + value.data
            out.append(b"=%d\r\n%s\r\n" % (len(body), body))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value.data), value.data))
    elif t is DoubleText:
        if proto >= 3:
            out.append(b",%s\r\n" % value.text)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value.text), value.text))
    elif t is BigNumber:
        digits = value.value if type(value.value) is bytes else b"%d" % value.value
        if proto >= 3:
            out.append(b"(%s\r\n" % digits)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(digits), digits))
    else:
        raise TypeError("cannot encode reply value of type %s" % t.__name__)
