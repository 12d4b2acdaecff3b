"""The `cjson` library of Redis's scripts: lua-cjson 2.1.0, its encoder options and its
decoder (the encoder walks Lua tables in the bootstrap, `bootstrap.lua`).

Room: `cjson.*` as Redis ships it. Imports: `base`, `util`, lupa, the standard library.
"""

from __future__ import annotations

from typing import Any

from lupa import lua51

from diskredis.commands.lua.base import (
    LibBase,
    Raise,
    lua_message,
    lua_number_text,
    text_of,
    to_number,
    type_name,
)
from diskredis.util import INT_MAX, strtod


class CJson(LibBase):
    """cjson.encode, decode and the encode_*/decode_* settings."""

    # -- cjson ------------------------------------------------------------------------
    def _cjson_encode(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._raise("bad argument #1 to 'encode' (expected 1 argument)")
        try:
            text: bytes = self._json_encode(args[0])
        except lua51.LuaError as e:
            raise Raise(self._where() + lua_message(e)) from None
        return text

    # The configuration functions (json_cfg_*): each returns the setting(s) after it.
    def _json_options(self, name: str, args: tuple[Any, ...], count: int) -> list[Any]:
        if len(args) > count:
            raise self._raise(
                "bad argument #%d to '%s' (found too many arguments)" % (count + 1, name)
            )
        return list(args) + [None] * (count - len(args))

    def _json_int(self, name: str, value: Any, key: bytes, lo: int, hi: int) -> int:
        if value is not None:
            number = to_number(value)
            if number is None:
                raise self._raise(
                    "bad argument #1 to '%s' (number expected, got %s)" % (name, type_name(value))
                )
            n = int(number)
            if not lo <= n <= hi:
                raise self._raise(
                    "bad argument #1 to '%s' (expected integer between %d and %d)" % (name, lo, hi)
                )
            self._json[key] = n
        return int(self._json[key])

    def _json_enum(
        self, name: str, value: Any, key: bytes, options: tuple[bytes, ...] = (b"off", b"on")
    ) -> Any:
        if value is not None:
            if type(value) is bool:
                self._json[key] = int(value)
            elif type(value) is bytes and value in options:
                self._json[key] = options.index(value)
            else:
                raise self._raise(
                    "bad argument #1 to '%s' (invalid option '%s')" % (name, text_of(value))
                )
        setting = int(self._json[key])
        return bool(setting) if setting in (0, 1) else options[setting]

    def _cjson_encode_sparse_array(self, *args: Any) -> tuple[Any, int, int]:
        convert, ratio, safe = self._json_options("encode_sparse_array", args, 3)
        return (
            self._json_enum("encode_sparse_array", convert, b"sparse_convert"),
            self._json_int("encode_sparse_array", ratio, b"sparse_ratio", 0, INT_MAX),
            self._json_int("encode_sparse_array", safe, b"sparse_safe", 0, INT_MAX),
        )

    def _cjson_encode_max_depth(self, *args: Any) -> int:
        (n,) = self._json_options("encode_max_depth", args, 1)
        return self._json_int("encode_max_depth", n, b"encode_depth", 1, INT_MAX)

    def _cjson_decode_max_depth(self, *args: Any) -> int:
        (n,) = self._json_options("decode_max_depth", args, 1)
        return self._json_int("decode_max_depth", n, b"decode_depth", 1, INT_MAX)

    def _cjson_encode_number_precision(self, *args: Any) -> int:
        (n,) = self._json_options("encode_number_precision", args, 1)
        return self._json_int("encode_number_precision", n, b"precision", 1, 14)

    def _cjson_encode_keep_buffer(self, *args: Any) -> Any:
        (v,) = self._json_options("encode_keep_buffer", args, 1)
        return self._json_enum("encode_keep_buffer", v, b"keep_buffer")

    def _cjson_encode_invalid_numbers(self, *args: Any) -> Any:
        (v,) = self._json_options("encode_invalid_numbers", args, 1)
        return self._json_enum(
            "encode_invalid_numbers", v, b"encode_invalid", (b"off", b"on", b"null")
        )

    def _cjson_decode_invalid_numbers(self, *args: Any) -> Any:
        (v,) = self._json_options("decode_invalid_numbers", args, 1)
        return self._json_enum("decode_invalid_numbers", v, b"decode_invalid")

    def _cjson_decode(self, *args: Any) -> Any:
        if len(args) != 1:
            raise self._raise("bad argument #1 to 'decode' (expected 1 argument)")
        data = args[0]
        if type(data) in (int, float):
            data = lua_number_text(data)
        if type(data) is not bytes:
            raise self._raise(
                "bad argument #1 to 'decode' (string expected, got %s)" % type_name(data)
            )
        if len(data) >= 2 and (data[0] == 0 or data[1] == 0):
            raise self._raise("JSON parser does not support UTF-16 or UTF-32")
        cut = data.find(b"\0")
        parser = _JsonParser(
            self,
            data if cut < 0 else data[:cut],
            int(self._json[b"decode_depth"]),
            bool(self._json[b"decode_invalid"]),
        )
        try:
            return parser.document()
        except _JsonError as e:
            raise self._raise(str(e)) from None


CJSON_FUNCTIONS = (
    "encode",
    "decode",
    "encode_sparse_array",
    "encode_max_depth",
    "decode_max_depth",
    "encode_number_precision",
    "encode_keep_buffer",
    "encode_invalid_numbers",
    "decode_invalid_numbers",
)


class _JsonError(Exception):
    pass


_ESCAPES = {
    ord('"'): b'"',
    ord("\\"): b"\\",
    ord("/"): b"/",
    ord("b"): b"\b",
    ord("t"): b"\t",
    ord("n"): b"\n",
    ord("f"): b"\f",
    ord("r"): b"\r",
}
_TOKEN_CHARS = {
    ord("{"): "T_OBJ_BEGIN",
    ord("}"): "T_OBJ_END",
    ord("["): "T_ARR_BEGIN",
    ord("]"): "T_ARR_END",
    ord(","): "T_COMMA",
    ord(":"): "T_COLON",
}


class _JsonParser:
    """lua-cjson's decoder: the same tokens, values, limits and error texts; tables are
    filled in document order, as the C code fills them."""

    def __init__(self, state: LibBase, data: bytes, max_depth: int, invalid_numbers: bool) -> None:
        self.state, self.data, self.pos = state, data, 0
        self.max_depth, self.depth, self.invalid = max_depth, 0, invalid_numbers

    def document(self) -> Any:
        kind, value, at = self.token()
        result = self.value(kind, value, at)
        kind, value, at = self.token()
        if kind != "T_END":
            self.fail("the end", kind, value, at)
        return result

    def fail(self, expected: str, kind: str, value: Any, at: int) -> None:
        found = value if kind == "T_ERROR" else kind
        raise _JsonError("Expected %s but found %s at character %d" % (expected, found, at + 1))

    def token(self) -> tuple[str, Any, int]:
        data, n = self.data, len(self.data)
        while self.pos < n and data[self.pos] in b" \t\n\r":
            self.pos += 1
        at = self.pos
        if at >= n:
            return "T_END", None, at
        c = data[at]
        if c in _TOKEN_CHARS:
            self.pos += 1
            return _TOKEN_CHARS[c], None, at
        if c == 0x22:
            return self.string(at)
        if c == 0x2D or 0x30 <= c <= 0x39:
            if not self.invalid and self.is_invalid_number():
                return "T_ERROR", "invalid number", at
            return self.number(at)
        if data.startswith(b"true", at):
            self.pos += 4
            return "T_BOOLEAN", True, at
        if data.startswith(b"false", at):
            self.pos += 5
            return "T_BOOLEAN", False, at
        if data.startswith(b"null", at):
            self.pos += 4
            return "T_NULL", None, at
        if self.invalid and c in b"iInN+" and self.is_invalid_number():
            return self.number(at)
        return "T_ERROR", "invalid token", at

    def is_invalid_number(self) -> bool:
        p = self.data[self.pos :]
        if p[:1] == b"+":
            return True
        if p[:1] == b"-":
            p = p[1:]
        if p[:1] == b"0":
            c2 = p[1:2]
            return c2.lower() == b"x" or c2.isdigit()
        if p[:1] and p[0] <= 0x39:
            return False
        return p[:3].lower() in (b"inf", b"nan")

    def number(self, at: int) -> tuple[str, Any, int]:
        value, used, _ = strtod(self.data[at:])
        if not used:
            return "T_ERROR", "invalid number", at
        self.pos = at + used
        return "T_NUMBER", value, at

    def string(self, at: int) -> tuple[str, Any, int]:
        data, n = self.data, len(self.data)
        i = at + 1
        out = bytearray()
        while True:
            if i >= n:
                self.pos = i
                return "T_ERROR", "unexpected end of string", i
            c = data[i]
            if c == 0x22:
                break
            if c == 0x5C:
                e = data[i + 1] if i + 1 < n else 0
                if e == 0x75:  # \u
                    decoded = _unicode_escape(data, i)
                    if decoded is None:
                        self.pos = i
                        return "T_ERROR", "invalid unicode escape code", i
                    out += decoded[0]
                    i += decoded[1]
                    continue
                if e not in _ESCAPES:
                    self.pos = i
                    return "T_ERROR", "invalid escape code", i
                out += _ESCAPES[e]
                i += 2
                continue
            out.append(c)
            i += 1
        self.pos = i + 1
        return "T_STRING", bytes(out), at

    def descend(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise _JsonError(
                "Found too many nested data structures (%d) at character %d"
                % (self.depth, self.pos)
            )

    def value(self, kind: str, value: Any, at: int) -> Any:
        """json_process_value, without recursion: open arrays and objects wait on a
        stack (table, is-object, slot being filled)."""
        stack: list[list[Any]] = []
        while True:
            if kind in ("T_STRING", "T_NUMBER", "T_BOOLEAN"):
                result = value
            elif kind == "T_NULL":
                result = self.state._null
            elif kind in ("T_OBJ_BEGIN", "T_ARR_BEGIN"):
                is_obj = kind == "T_OBJ_BEGIN"
                self.descend()
                table = self.state.rt.table()
                kind, value, at = self.token()
                if kind == ("T_OBJ_END" if is_obj else "T_ARR_END"):
                    self.depth -= 1
                    result = table
                else:
                    slot: Any = 1
                    if is_obj:
                        slot, kind, value, at = self.member(kind, value, at)
                    stack.append([table, is_obj, slot])
                    continue
            else:
                self.fail("value", kind, value, at)
            # Store the value in its container; close the containers that end here.
            while True:
                if not stack:
                    return result
                frame = stack[-1]
                table, is_obj, slot = frame
                table[slot] = result
                kind, value, at = self.token()
                if kind == ("T_OBJ_END" if is_obj else "T_ARR_END"):
                    self.depth -= 1
                    stack.pop()
                    result = table
                    continue
                if kind != "T_COMMA":
                    self.fail(
                        "comma or object end" if is_obj else "comma or array end", kind, value, at
                    )
                kind, value, at = self.token()
                if is_obj:
                    frame[2], kind, value, at = self.member(kind, value, at)
                else:
                    frame[2] = slot + 1
                break

    def member(self, kind: str, value: Any, at: int) -> tuple[bytes, str, Any, int]:
        """An object's "key": (key, then the token of its value)."""
        if kind != "T_STRING":
            self.fail("object key string", kind, value, at)
        key = value
        kind, value, at = self.token()
        if kind != "T_COLON":
            self.fail("colon", kind, value, at)
        kind, value, at = self.token()
        return key, kind, value, at


def _unicode_escape(data: bytes, i: int) -> tuple[bytes, int] | None:
    """json_append_unicode_escape: (UTF-8 bytes, escape length) or None if invalid."""

    def hex4(at: int) -> int:
        digits = data[at : at + 4]
        if len(digits) < 4 or any(chr(d) not in "0123456789abcdefABCDEF" for d in digits):
            return -1
        return int(digits, 16)

    code = hex4(i + 2)
    if code < 0:
        return None
    length = 6
    if code & 0xF800 == 0xD800:
        if code & 0x400 or data[i + 6 : i + 8] != b"\\u":
            return None
        low = hex4(i + 8)
        if low < 0 or low & 0xFC00 != 0xDC00:
            return None
        code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
        length = 12
    return chr(code).encode("utf-8", "surrogatepass"), length
