"""What the Lua libraries share: the errors scripts see, and luaL's argument checks.

Room: the base of `LuaState` that the library modules (`bitop`, `cjson`, `structpack`,
`cmsgpack`) build on, and the conversions of Lua values they all use. Imports: lupa,
the standard library.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lupa import lua51


def sha1hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def lua_number_text(n: float) -> bytes:
    """How Lua 5.1 turns a number into a string (LUAI_NUMFFORMAT "%.14g")."""
    return b"%.14g" % n


class LuaError(Exception):
    """A script failed: `value` is the Lua error value (normally Redis's error table)."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


class Raise(Exception):
    """Raised by the Python side of the `redis` library: `value` (an error table or a
    message) is the Lua error the script sees."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


class CallRefused(Exception):
    """What the command hook raises when redis.call may not run the command (unknown,
    wrong arity, not allowed from scripts...): the text of the script error."""


class LibBase:
    """The part of `LuaState` the library modules use: set up by `LuaState.__init__`."""

    #: the lupa runtime, its table constructor, and Lua functions of the bootstrap
    rt: Any
    table_from: Any
    _where: Any
    _json: Any
    _json_encode: Any
    _mp_walk: Any
    _null: Any

    def error_table(self, text: bytes) -> Any:
        """luaPushErrorBuff: {err="CODE msg"} from "-CODE msg" (or "msg": code ERR)."""
        code, msg = b"ERR", text
        if text[:1] == b"-":
            head, space, rest = text[1:].partition(b" ")
            code, msg = (head, rest) if space else (b"ERR", text[1:])
        return self.table_from({b"err": code + b" " + msg.strip(b"\r\n")})

    def _raise(self, message: str) -> Raise:
        """An error as luaL_error raises it from a C function: the caller's position."""
        return Raise(self._where() + message.encode())

    def _wrong_type(self, args: tuple[Any, ...], n: int, fname: str, expected: str) -> Raise:
        """luaL_typerror: argument `n` of `fname` is not a `expected`."""
        got = "no value" if n > len(args) else type_name(args[n - 1])
        return self._raise(
            "bad argument #%d to '%s' (%s expected, got %s)" % (n, fname, expected, got)
        )

    def _check_number(self, args: tuple[Any, ...], n: int, fname: str) -> float:
        """luaL_checknumber: a number, or a string Lua reads as one."""
        number = to_number(args[n - 1] if n <= len(args) else None)
        if number is None:
            raise self._wrong_type(args, n, fname, "number")
        return number

    def _check_string(self, args: tuple[Any, ...], n: int, fname: str) -> bytes:
        value: Any = args[n - 1] if n <= len(args) else None
        if type(value) in (int, float):
            return lua_number_text(value)
        if type(value) is not bytes:
            raise self._wrong_type(args, n, fname, "string")
        return value


def to_number(value: Any) -> float | None:
    """lua_tonumber: numbers, and strings Lua reads as numbers (strtod, or hexadecimal);
    None otherwise."""
    if type(value) in (int, float):
        return float(value)
    if type(value) is not bytes:
        return None
    text = value.strip(b" \t\n\r\f\v")
    if b"_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(int(text, 16)) if text.lower().lstrip(b"+-").startswith(b"0x") else None
    except ValueError:
        return None


def lua_message(error: Exception) -> bytes:
    """A Lua error's message, without the traceback lupa appends."""
    text = error.args[0] if error.args else str(error)
    if isinstance(text, str):
        text = text.encode("latin-1", "replace")
    return bytes(text).split(b"\nstack traceback:", 1)[0]


def text_of(value: Any) -> str:
    if type(value) is bytes:
        return value.decode("latin-1")
    if type(value) in (int, float):
        return lua_number_text(value).decode()
    return type_name(value)


def type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if type(value) is bool:
        return "boolean"
    if type(value) is bytes:
        return "string"
    if type(value) in (int, float):
        return "number"
    kind = lua51.lua_type(value)
    return kind if kind else "userdata"
