"""The Lua interpreter scripts run in: Lua 5.1 (lupa) sandboxed as Redis 7.0 does it.

Room: the Lua state, its sandbox, the `redis` library and the conversions between Lua
values and replies. Imports: this package (`base` and the library modules `bitop`,
`cjson`, `structpack`, `cmsgpack`), `resp.values`, `errors`, lupa. What Redis does in C
(script_lua.c, eval.c), this module does partly in a Lua bootstrap chunk
(`bootstrap.lua`) and partly in Python callables the chunk keeps as upvalues -- scripts
can reach neither the Python objects nor the unsandboxed globals:

- Scripts see exactly Redis's globals (`string`, `math`, `table`, `redis`, `pcall`...,
  no `os`, `io`, `require`, `print`, `loadfile`, `dofile`). Redis locks them with
  read-only tables; Lua 5.1 has none, so scripts get read-only proxies: writing a global
  or a library field raises "Attempt to modify a readonly table", reading a missing
  global raises "Script attempted to access nonexistent global variable", as in Redis.
  The thread's own global table is replaced too, so `loadstring` cannot reach past it.
- Errors carry Redis's shape: a table {err=..., source=..., line=...} built by an
  error handler that, like Redis's, reports the user's line, not the library's.
- `redis.call`/`redis.pcall` run commands through `dispatch.execute` as a script
  client (its own database and RESP version, no blocking), with Redis's checks
  (unknown command, arity, noscript, writes from read-only scripts).
- `math.random` is Redis's: lrand48, one sequence for the whole server, seeded by
  `math.randomseed`.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lupa import lua51

from diskredis.commands.lua.base import (
    CallRefused,
    LuaError,
    Raise,
    lua_message,
    lua_number_text,
    sha1hex,
    to_number,
)
from diskredis.commands.lua.bitop import BIT_OPS, BitOp
from diskredis.commands.lua.cjson import CJSON_FUNCTIONS, CJson
from diskredis.commands.lua.cmsgpack import Msgpack
from diskredis.commands.lua.structpack import Struct
from diskredis.errors import CountedError, RedisError
from diskredis.resp.values import (
    NULL_ARRAY,
    Attributed,
    BigNumber,
    DoubleText,
    Push,
    Pushes,
    RSet,
    Status,
    Verbatim,
    deeper,
    format_double,
)

log = logging.getLogger("diskredis.lua")

REDIS_VERSION_NUM = 0x0007000F
# The most memory one Lua state may hold. Redis sets no bound; a script asking for more
# than this gets "not enough memory" instead of taking the server's memory.
LUA_MEMORY_LIMIT = 1 << 30
# Lua 5.1's LUAI_MAXCSTACK, and the slots on the stack when Redis starts turning a
# script's result into a reply: a table nested in itself becomes 7995 arrays around an
# error, as in Redis.
_LUA_MAXCSTACK = 8000
_LUA_STACK_BASE = 2
_LOG_LEVELS = {0: logging.DEBUG, 1: 15, 2: logging.INFO, 3: logging.WARNING}


class _Lrand48:
    """redisLrand48/redisSrand48: the 48-bit linear congruential generator of rand.c."""

    def __init__(self) -> None:
        self.x = 0x1234ABCD330E

    def seed(self, seedval: int) -> None:
        self.x = ((seedval & 0xFFFFFFFF) << 16 | 0x330E) & 0xFFFFFFFFFFFF

    def next(self) -> int:
        self.x = (0x5DEECE66D * self.x + 0xB) & 0xFFFFFFFFFFFF
        value: int = self.x >> 17
        return value


# The bootstrap runs once in the unsandboxed state and returns the few Lua functions
# Python needs. Functions that raise errors for Redis are Python callables (`api`): to
# Lua they are C functions, so, as in Redis, the script's frame stays on the stack even
# when they are tail-called, and error positions name the script's line.
_BOOTSTRAP = (Path(__file__).parent / "bootstrap.lua").read_bytes()


# Script flags (scripts_flags_def), as shebangs and redis.register_function give them.
SCRIPT_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")


@dataclass
class Registered:
    """A function a library registered: its name, Lua callback, description, flags."""

    name: bytes
    callback: Any
    description: bytes | None
    flags: frozenset[str]


def valid_function_name(name: bytes) -> bool:
    """functionsVerifyName: letters, digits and underscores, at least one."""
    return bool(name) and all((chr(c).isalnum() and c < 128) or c == 0x5F for c in name)


class LuaState(BitOp, CJson, Struct, Msgpack):
    """One Lua state for EVAL scripts (FUNCTION libraries get their own, as in Redis).

    `command` is set by the caller for the duration of a run: it runs one command for
    redis.call/pcall and returns its reply value, or raises CallRefused.
    """

    def __init__(self, version: str) -> None:
        self.rt = lua51.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_no_attributes,
            max_memory=LUA_MEMORY_LIMIT,
        )
        self.rand = _Lrand48()
        self.resp = 2
        self.command: Callable[[list[bytes]], Any] = _outside_script
        # redis.acl_check_cmd: whether the caller may run argv (None: no such command).
        self.check_command: Callable[[list[bytes]], bool | None] = lambda argv: None
        # redis.set_repl: where the script's next writes are propagated (REPL_* bits).
        self.set_repl: Callable[[int], None] = lambda flags: None
        self.table_from = self.rt.table_from
        # See `_rebinding`: Lua values handed to Python from a coroutine, made the main
        # state's by passing them through this identity function.
        self._rebind = rebind = self.rt.eval("function(...) return ... end")
        # lupa's classes of Lua values (its base class and every subclass)
        self._lua_types = lua_types = _subclasses(type(self.rt.table()).__mro__[1])
        library: dict[bytes, Any] = {
            b"unwrap": _unwrap,
            b"rawset": self._rawset,
            b"setmetatable": self._setmetatable,
            b"random": self._random,
            b"randomseed": self._randomseed,
            b"call": self._call,
            b"pcall": self._pcall,
            b"sha1hex": self._sha1hex,
            b"call_table": self._call_table,
            b"pcall_table": self._pcall_table,
            b"no_tail_calls": _no_tail_calls,
            b"error_reply": self._error_reply,
            b"status_reply": self._status_reply,
            b"log": self._log,
            b"setresp": self._setresp,
            b"set_repl": self._set_repl,
            b"acl_check_cmd": self._acl_check_cmd,
            b"version_num": REDIS_VERSION_NUM,
            b"register_function": self._register_function,
            b"version": version.encode(),
            **{b"bit_" + name.encode(): getattr(self, "_bit_" + name) for name in BIT_OPS},
            **{
                b"cjson_" + name.encode(): getattr(self, "_cjson_" + name)
                for name in CJSON_FUNCTIONS
            },
            **{
                name.encode(): getattr(self, "_" + name)
                for name in (
                    "struct_pack",
                    "struct_unpack",
                    "struct_size",
                    "cmsgpack_pack",
                    "cmsgpack_unpack",
                    "cmsgpack_unpack_one",
                    "cmsgpack_unpack_limit",
                )
            },
        }
        api = self.rt.table_from(
            {
                name: _rebinding(rebind, lua_types, fn) if callable(fn) else fn
                for name, fn in library.items()
            }
        )
        chunk = self.rt.execute("return loadstring(...)", _BOOTSTRAP, b"=diskredis")
        (
            self._compile,
            self._run,
            self._set_hook,
            self._where,
            self._readonly,
            self._lua_rawset,
            self._lua_setmetatable,
            self._json_encode,
            self._json,
            self._null,
            self._mp_walk,
            self._load_library,
            self._call_function,
        ) = chunk(api)
        # FUNCTION LOAD collects here what redis.register_function registers.
        self.registering: list[Registered] | None = None

    # -- compiling and running --------------------------------------------------------
    def compile(self, body: bytes) -> Any:
        """The chunk of `body`; LuaError with Lua's message if it does not compile."""
        f, msg = self._compile(body, b"@user_script")
        if f is False:
            raise LuaError(msg)
        return f

    def run(self, chunk: Any, keys: list[bytes], argv: list[bytes]) -> Any:
        """Call `chunk` with KEYS and ARGV set; its Lua result, or LuaError."""
        self.resp = 2
        try:
            ok, value = self._run(chunk, self.rt.table(*keys), self.rt.table(*argv))
        except lua51.LuaMemoryError:  # LUA_ERRMEM skips the error handler, as in Redis
            raise LuaError(b"not enough memory") from None
        if not ok:
            raise LuaError(value)
        return value

    def set_hook(self, fn: Callable[..., None] | None, count: int = 100000) -> None:
        self._set_hook(None if fn is None else _rebinding(self._rebind, self._lua_types, fn), count)

    # -- Redis 7 functions --------------------------------------------------------------
    def load_library(self, code: bytes) -> list[Registered]:
        """Compile and run a library's code (without its shebang line, kept as an empty
        line); the functions it registered. LuaError: (stage, message)."""
        f, msg = self._compile(code, b"@user_function")
        if f is False:
            raise LuaError(("compile", msg))
        self.registering = []
        try:
            try:
                ok, err = self._load_library(f)
            except lua51.LuaMemoryError:
                ok, err = False, b"not enough memory"
            if not ok:
                raise LuaError(("register", err))
            return self.registering
        finally:
            self.registering = None

    def call_function(self, fn: Any, keys: list[bytes], argv: list[bytes]) -> Any:
        """Call a registered function with (keys, args); its result, or LuaError."""
        self.resp = 2
        try:
            ok, value = self._call_function(fn, self.rt.table(*keys), self.rt.table(*argv))
        except lua51.LuaMemoryError:
            raise LuaError(b"not enough memory") from None
        if not ok:
            raise LuaError(value)
        return value

    def _register_function(self, *args: Any) -> None:
        if self.registering is None:
            raise Raise(
                self.error_table(
                    b"redis.register_function can only be called on FUNCTION LOAD command"
                )
            )
        if not 1 <= len(args) <= 2:
            raise Raise(self.error_table(b"wrong number of arguments to redis.register_function"))
        if len(args) == 2:
            name, callback, desc, flags = args[0], args[1], None, frozenset[str]()
            if type(name) in (int, float):
                name = lua_number_text(name)
            if type(name) is not bytes:
                raise Raise(
                    self.error_table(b"first argument to redis.register_function must be a string")
                )
            if lua51.lua_type(callback) != "function":
                raise Raise(
                    self.error_table(
                        b"second argument to redis.register_function must be a function"
                    )
                )
        else:
            name, callback, desc, flags = self._named_registration(args[0])
        if not valid_function_name(name):
            raise Raise(
                self.error_table(
                    b"Library names can only contain letters, numbers, or underscores(_) and "
                    b"must be at least one character long"
                )
            )
        if any(r.name == name for r in self.registering):
            raise Raise(self.error_table(b"Function already exists in the library"))
        self.registering.append(Registered(name, callback, desc, flags))

    def _named_registration(self, table: Any) -> tuple[bytes, Any, bytes | None, frozenset[str]]:
        def fail(text: bytes) -> Raise:
            return Raise(self.error_table(text))

        if lua51.lua_type(table) != "table":
            raise fail(
                b"calling redis.register_function with a single argument is only "
                b"applicable to Lua table (representing named arguments)."
            )
        name = desc = callback = None
        flags: set[str] = set()
        for key, value in table.items():
            if type(key) in (int, float):
                key = lua_number_text(key)
            if type(key) is not bytes:
                raise fail(b"named argument key given to redis.register_function is not a string")
            if type(value) in (int, float):
                value = lua_number_text(value)
            word = key.lower()
            if word == b"function_name":
                if type(value) is not bytes:
                    raise fail(
                        b"function_name argument given to redis.register_function must be a string"
                    )
                name = value
            elif word == b"description":
                if type(value) is not bytes:
                    raise fail(
                        b"description argument given to redis.register_function must be a string"
                    )
                desc = value
            elif word == b"callback":
                if lua51.lua_type(value) != "function":
                    raise fail(
                        b"callback argument given to redis.register_function must be a function"
                    )
                callback = value
            elif word == b"flags":
                if lua51.lua_type(value) != "table":
                    raise fail(
                        b"flags argument to redis.register_function must be a table "
                        b"representing function flags"
                    )
                i = 1
                while value[i] is not None:
                    flag = value[i]
                    if type(flag) in (int, float):
                        flag = lua_number_text(flag)
                    text = flag.decode("latin-1").lower() if type(flag) is bytes else None
                    if text not in SCRIPT_FLAGS:
                        raise fail(b"unknown flag given")
                    flags.add(text)
                    i += 1
            else:
                raise fail(b"unknown argument given to redis.register_function")
        if name is None:
            raise fail(b"redis.register_function must get a function name argument")
        if callback is None:
            raise fail(b"redis.register_function must get a callback argument")
        return name, callback, desc, frozenset(flags)

    # -- the Python side of the library ----------------------------------------------
    def _rawset(self, *args: Any) -> Any:
        if args and self._readonly[args[0]]:  # raised by the VM in C: no position
            raise Raise(b"Attempt to modify a readonly table")
        return self._relay(self._lua_rawset, args)

    def _setmetatable(self, *args: Any) -> Any:
        if args and self._readonly[args[0]]:
            raise Raise(b"Attempt to modify a readonly table")
        return self._relay(self._lua_setmetatable, args)

    def _relay(self, fn: Any, args: tuple[Any, ...]) -> Any:
        try:
            return fn(*args)
        except lua51.LuaError as e:  # a bad argument: Lua's message, the script's position
            raise Raise(self._where() + lua_message(e)) from None

    def _checkint(self, args: tuple[Any, ...], n: int, fname: str) -> int:
        """luaL_checkint: luaL_checknumber, truncated."""
        number = self._check_number(args, n, fname)
        return int(number) if math.isfinite(number) else -(2**63)

    def _random(self, *args: Any) -> float:
        r = (self.rand.next() % 2147483647) / 2147483647
        if not args:
            return r
        if len(args) == 1:
            u = self._checkint(args, 1, "random")
            if u < 1:
                raise self._raise("bad argument #1 to 'random' (interval is empty)")
            return math.floor(r * u) + 1
        if len(args) == 2:
            lo, u = self._checkint(args, 1, "random"), self._checkint(args, 2, "random")
            if not lo <= u:
                raise self._raise("bad argument #2 to 'random' (interval is empty)")
            return math.floor(r * (u - lo + 1)) + lo
        raise self._raise("wrong number of arguments")

    def _randomseed(self, *args: Any) -> None:
        self.rand.seed(self._checkint(args, 1, "randomseed"))

    def _argv(self, args: tuple[Any, ...]) -> list[bytes]:
        """luaArgsToRedisArgv: strings as they are, numbers as Lua prints them."""
        if not args:
            raise Raise(
                self.error_table(b"Please specify at least one argument for this redis lib call")
            )
        argv = []
        for a in args:
            if type(a) is bytes:
                argv.append(a)
            elif type(a) in (int, float):
                argv.append(b"%.17g" % a)  # not Lua's %.14g: Redis prints every digit
            else:
                raise Raise(
                    self.error_table(b"Lua redis lib command arguments must be strings or integers")
                )
        return argv

    def _run_command(self, args: tuple[Any, ...], raise_errors: bool) -> Any:
        try:
            argv = self._argv(args)
            reply = self.command(argv)
        except Raise as e:
            if raise_errors:
                raise
            return e.value
        except CallRefused as e:
            table = self.error_table(str(e).encode("latin-1", "replace"))
            table[b"ignore_error_stats_update"] = True
            if raise_errors:
                raise Raise(table) from None
            return table
        value = self.to_lua(reply, self.resp)
        if raise_errors and isinstance(reply, RedisError):
            raise Raise(value)
        return value

    def _call(self, *args: Any) -> Any:
        return self._run_command(args, True)

    def _pcall(self, *args: Any) -> Any:
        return self._run_command(args, False)

    def _call_table(self, packed: Any) -> Any:
        return self._run_command(_unpacked(packed), True)

    def _pcall_table(self, packed: Any) -> Any:
        return self._run_command(_unpacked(packed), False)

    def _sha1hex(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise Raise(self.error_table(b"wrong number of arguments"))
        value = args[0]
        if type(value) in (int, float):
            value = lua_number_text(value)
        return sha1hex(value if type(value) is bytes else b"").encode()

    def _error_reply(self, *args: Any) -> Any:
        if len(args) != 1 or type(args[0]) is not bytes:
            return self.error_table(b"wrong number or type of arguments")
        text = args[0]
        return self.error_table(text if text[:1] == b"-" else b"-" + text)

    def _status_reply(self, *args: Any) -> Any:
        if len(args) != 1 or type(args[0]) is not bytes:
            return self.error_table(b"wrong number or type of arguments")
        return self.table_from({b"ok": args[0]})

    def _log(self, *args: Any) -> None:
        if len(args) < 2:
            raise Raise(self.error_table(b"redis.log() requires two arguments or more."))
        level = to_number(args[0])
        if level is None:
            raise Raise(self.error_table(b"First argument must be a number (log level)."))
        if not 0 <= level < 4:
            raise Raise(self.error_table(b"Invalid debug level."))
        parts = [
            lua_number_text(a) if type(a) in (int, float) else a
            for a in args[1:]
            if type(a) in (bytes, int, float)
        ]
        log.log(_LOG_LEVELS[int(level)], "%s", b" ".join(parts).decode("utf-8", "replace"))

    def _setresp(self, *args: Any) -> None:
        if len(args) != 1:
            raise Raise(self.error_table(b"redis.setresp() requires one argument."))
        resp = to_number(args[0])
        if resp is None or int(resp) not in (2, 3):
            raise Raise(self.error_table(b"RESP version must be 2 or 3."))
        self.resp = int(resp)

    def _set_repl(self, *args: Any) -> None:
        if len(args) != 1:
            raise Raise(self.error_table(b"redis.set_repl() requires two arguments."))
        flags = to_number(args[0])
        if flags is None or int(flags) & ~3:
            raise Raise(
                self.error_table(
                    b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
                )
            )
        self.set_repl(int(flags))  # REPL_AOF has no counterpart: every write is durable

    # -- struct ----------------------------------------------------------------------
    def _acl_check_cmd(self, *args: Any) -> bool:
        argv = self._argv(args)
        allowed = self.check_command(argv)
        if allowed is None:
            raise Raise(self.error_table(b"Invalid command passed to redis.acl_check_cmd()"))
        return allowed

    # -- conversions ------------------------------------------------------------------
    def to_lua(self, value: Any, resp: int) -> Any:
        """A reply value as the script sees it (redisProtocolToLuaType, RESP 2 or 3)."""
        t = type(value)
        if t is bytes:
            return value
        if t is int:
            return value
        if t is str:
            return self.table_from({b"ok": value.encode("latin-1", "replace")})
        if t is Status:
            return self.table_from({b"ok": value.data})
        if value is None or value is NULL_ARRAY:
            return None if resp == 3 else False
        if t is bool:
            return value if resp == 3 else int(value)
        if t is float:
            if resp == 3:
                return self.table_from({b"double": value})
            return format_double(value)
        if isinstance(value, RedisError):
            table = self.error_table(b"-" + value.text.encode("latin-1", "replace"))
            table[b"ignore_error_stats_update"] = True
            return table
        if t is dict:
            if resp == 3:
                inner = self.rt.table()
                for k, v in value.items():
                    inner[self.to_lua(k, resp)] = self.to_lua(v, resp)
                return self.table_from({b"map": inner})
            flat = [x for pair in value.items() for x in pair]
            return self._array(flat, resp)
        if t is RSet:
            if resp == 3:
                inner = self.rt.table()
                for item in value:
                    inner[self.to_lua(item, resp)] = True
                return self.table_from({b"set": inner})
            return self._array(value, resp)
        if t is Verbatim:
            if resp == 3:
                return self.table_from(
                    {
                        b"verbatim_string": self.table_from(
                            {b"string": value.data, b"format": value.fmt}
                        )
                    }
                )
            return value.data
        if t is DoubleText:
            if resp == 3:
                return self.table_from({b"double": float(value.text)})
            return value.text
        if t is BigNumber:
            digits = value.value if type(value.value) is bytes else b"%d" % value.value
            return self.table_from({b"big_number": digits}) if resp == 3 else digits
        if t is Attributed:  # scripts are not shown attributes (Redis's parser skips them)
            return self.to_lua(value.reply, resp)
        if t is Pushes:  # a push first (DEBUG PROTOCOL push): Redis's parser of replies
            return None  # for scripts has no reading of pushes, and the script gets nothing
        if t in (list, tuple, Push):
            return self._array(value, resp)
        raise TypeError("no Lua form for reply value of type %s" % t.__name__)

    def _array(self, items: Any, resp: int) -> Any:
        table = self.rt.table()
        for i, item in enumerate(items, 1):
            v = self.to_lua(item, resp)
            if v is not None:
                table[i] = v
        return table

    def to_reply(self, value: Any, resp: int) -> Any:
        """The script's result as a reply (luaReplyToRedisReply); `resp` is the script
        client's protocol (booleans differ). A reply nested as deep as Redis's Lua stack
        allows (a table holding itself, say) is walked with a raised recursion limit:
        Python frames, not C stack, since CPython 3.11."""
        try:
            return self._to_reply(value, resp, _LUA_STACK_BASE)
        except RecursionError:
            return deeper(lambda: self._to_reply(value, resp, _LUA_STACK_BASE), 4 * _LUA_MAXCSTACK)

    def _to_reply(self, value: Any, resp: int, top: int) -> Any:
        # `top`: the slots Redis's walk would hold on the Lua stack here; past
        # LUAI_MAXCSTACK its lua_checkstack(4) fails and the value becomes an error.
        if top + 4 > _LUA_MAXCSTACK:
            return RedisError("ERR reached lua stack limit")
        if value is None:
            return None
        t = type(value)
        if t is bytes:
            return value
        if t is bool:
            if resp == 2:
                return 1 if value else None
            return value
        if t is int:
            return value if -(2**63) <= value < 2**63 else -(2**63)
        if t is float:
            if not (math.isfinite(value) and -(2**63) <= value < 2**63):
                return -(2**63)  # what (long long) makes of them on x86
            return int(value)
        if lua51.lua_type(value) != "table":
            return None  # functions, coroutines, userdata
        rawget = self.rt.globals().rawget
        err = rawget(value, b"err")
        if type(err) is bytes:
            text = err.decode("latin-1")
            if rawget(value, b"ignore_error_stats_update"):  # a command's, counted there
                return CountedError(text)
            return RedisError(text)
        ok = rawget(value, b"ok")
        if type(ok) is bytes:
            return Status(ok.replace(b"\r", b" ").replace(b"\n", b" "))
        double = rawget(value, b"double")
        if type(double) in (int, float):
            return float(double)
        big = rawget(value, b"big_number")
        if type(big) is bytes:
            return BigNumber(big.replace(b"\r", b" ").replace(b"\n", b" "))
        verbatim = rawget(value, b"verbatim_string")
        if lua51.lua_type(verbatim) == "table":
            fmt, data = rawget(verbatim, b"format"), rawget(verbatim, b"string")
            if type(fmt) is bytes and type(data) is bytes:
                return Verbatim(data, fmt[:3])
        mapping = rawget(value, b"map")
        if lua51.lua_type(mapping) == "table":
            return {
                _frozen(self._to_reply(k, resp, top + 4)): self._to_reply(v, resp, top + 3)
                for k, v in mapping.items()
            }
        members = rawget(value, b"set")
        if lua51.lua_type(members) == "table":
            return RSet(self._to_reply(k, resp, top + 3) for k in members)
        out = []
        i = 1
        while True:
            item = rawget(value, i)
            if item is None:
                break
            out.append(self._to_reply(item, resp, top + 1))
            i += 1
        return out


def _frozen(reply: Any) -> Any:
    """A map key that is an array or a map (legal in RESP3) as a hashable equivalent
    (a tuple encodes as an array)."""
    if isinstance(reply, list):
        return tuple(_frozen(x) for x in reply)
    if isinstance(reply, dict):
        return tuple(x for pair in reply.items() for x in (_frozen(pair[0]), _frozen(pair[1])))
    return reply


def _outside_script(argv: list[bytes]) -> Any:
    raise CallRefused("redis.call/pcall can only be called inside a script invocation")


# Lua 5.1 opcodes (lopcodes.h): the low 6 bits of an instruction.
_OP_CALL, _OP_TAILCALL, _OP_SETLIST = 28, 29, 34


def _no_tail_calls(chunk: bytes) -> bytes:
    """A Lua 5.1 binary chunk (string.dump's) with every tail call made a plain call.

    The compiler always follows `return f(...)`'s TAILCALL A B 0 with RETURN A 0, so CALL
    A B 0 in its place returns the same values; the caller's frame stays on the stack,
    as it does in Redis when the callee is one of its C functions (redis.call...), so
    error positions still name the script's line when the callee is one of our Lua
    wrappers. The format (ldump.c): a 12-byte header, then the main function: source,
    line range, 4 bytes of counts, code, constants, nested functions, debug data."""
    if chunk[:6] != b"\x1bLua\x51\x00" or len(chunk) < 12:
        raise ValueError("not a Lua 5.1 binary chunk")
    order = "<" if chunk[6] == 1 else ">"
    int_size, size_t_size, number_size = chunk[7], chunk[8], chunk[10]
    int_fmt = order + {4: "i", 8: "q"}[int_size]
    size_fmt = order + {4: "I", 8: "Q"}[size_t_size]
    instr_fmt = order + "I"
    out = bytearray(chunk)
    pos = 12

    def integer() -> int:
        nonlocal pos
        (value,) = struct.unpack_from(int_fmt, out, pos)
        pos += int_size
        return int(value)

    def skip_string() -> None:
        nonlocal pos
        (length,) = struct.unpack_from(size_fmt, out, pos)
        pos += size_t_size + int(length)

    def function() -> None:
        nonlocal pos
        skip_string()  # source
        pos += 2 * int_size + 4  # line range; upvalues, params, vararg, stack
        count = integer()  # code
        code = struct.unpack_from(f"{order}{count}I", out, pos)
        raw = False  # the word after SETLIST A B 0 is a number, not an instruction
        for i, instr in enumerate(code):
            if raw:
                raw = False
            elif instr & 0x3F == _OP_TAILCALL:
                struct.pack_into(instr_fmt, out, pos + 4 * i, instr & ~0x3F | _OP_CALL)
            elif instr & 0x3F == _OP_SETLIST and (instr >> 14) & 0x1FF == 0:  # C field
                raw = True
        pos += 4 * count
        for _ in range(integer()):  # constants: nil, boolean, number, string
            kind = out[pos]
            pos += 1
            if kind == 1:
                pos += 1
            elif kind == 3:
                pos += number_size
            elif kind == 4:
                skip_string()
        for _ in range(integer()):  # nested functions
            function()
        lines = integer()  # the line of each instruction
        pos += lines * int_size
        for _ in range(integer()):  # local variables: name, start, end
            skip_string()
            pos += 2 * int_size
        for _ in range(integer()):  # upvalue names
            skip_string()

    function()
    if pos != len(out):
        raise ValueError("unexpected Lua binary chunk layout")
    return bytes(out)


def _unpacked(packed: Any) -> tuple[Any, ...]:
    """The arguments a Lua wrapper packed as {n = count, ...}."""
    return tuple(packed[i] for i in range(1, int(packed[b"n"]) + 1))


def _no_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("scripts have no access to Python objects")


def _subclasses(cls: type) -> frozenset[type]:
    """`cls` and every class derived from it."""
    found = {cls}
    sub: type
    for sub in cls.__subclasses__():
        found |= _subclasses(sub)
    return frozenset(found)


def _rebinding(
    rebind: Any, lua_types: frozenset[type], fn: Callable[..., Any]
) -> Callable[..., Any]:
    """`fn` for Lua, where every Lua value that outlives the call belongs to the main
    state: its arguments, and the error value it raises.

    lupa ties a Lua value it hands to Python, or that Python makes while Lua is calling
    it (table_from...), to the lua_State running at the time: a coroutine's when a
    script calls us from one. Once Lua has collected that coroutine, releasing or using
    the value touches freed memory and crashes the server. Such values outlive the call
    in the exception a failing call raises into Lua (with its traceback, freed later by
    Lua's collector) and in what redis.register_function keeps. Passed through a Lua
    function of the main state, they belong to it instead; the exception raised into
    Lua is a new one, holding only the rebound value."""

    def call(*args: Any) -> Any:
        if not lua_types.isdisjoint(map(type, args)):
            args = rebind(*args) if len(args) > 1 else (rebind(args[0]),)
        try:
            return fn(*args)
        except Raise as e:
            value = e.value
        except Exception as e:  # a bug of ours: the script gets an error, the log says
            value = _unwrap(e)
        # The exception caught is freed here, while its values' lua_State still lives;
        # so is the value, once replaced (this frame is in the new traceback).
        if type(value) in lua_types:
            value = rebind(value)
        raise Raise(value) from None

    return call


def _unwrap(error: Any) -> Any:
    """The Lua error a Python exception stands for (see `Raise`)."""
    if isinstance(error, Raise):
        return error.value
    log.error("internal error in a script library call: %r", error)
    return b"internal error in diskredis: %s" % type(error).__name__.encode()
