"""The Lua interpreter scripts run in: Lua 5.1 (lupa) sandboxed as Redis 7.0 does it.

Room: the Lua state, its sandbox, the `redis` library and the conversions between Lua
values and replies. Imports: lupa, `commands` helpers, `errors`. What Redis does in
C (script_lua.c, eval.c), this module does partly in a Lua bootstrap chunk and partly
in Python callables the chunk keeps as upvalues -- scripts can reach neither the Python
objects nor the unsandboxed globals:

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

import hashlib
import logging
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lupa import lua51

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
from diskredis.util import INT_MAX, strtod

log = logging.getLogger("diskredis.lua")

__all__ = ["LuaError", "LuaState", "lua_number_text", "sha1hex"]

REDIS_VERSION_NUM = 0x0007000F
# The most memory one Lua state may hold. Redis sets no bound; a script asking for more
# than this gets "not enough memory" instead of taking the server's memory.
LUA_MEMORY_LIMIT = 1 << 30
# Lua 5.1's LUAI_MAXCSTACK, and the slots on the stack when Redis starts turning a
# script's result into a reply: a table nested in itself becomes 7995 arrays around an
# error, as in Redis.
_LUA_MAXCSTACK = 8000
_LUA_STACK_BASE = 2


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
_BOOTSTRAP = r"""
local api = ...
local real = _G
local error, type, tostring, select, rawget, rawset = error, type, tostring, select,
    rawget, rawset
local setmetatable, getmetatable, pairs, ipairs, unpack = setmetatable, getmetatable,
    pairs, ipairs, unpack
local lua_pcall, xpcall, loadstring, load, setfenv, getfenv = pcall, xpcall, loadstring,
    load, setfenv, getfenv
local getinfo, sethook, resume = debug.getinfo, debug.sethook, coroutine.resume
local unwrap, dump, no_tail_calls = api.unwrap, string.dump, api.no_tail_calls

-- A chunk compiled for scripts, reloaded with its tail calls made plain calls (see
-- _no_tail_calls): `return redis.call(...)` keeps the script's frame, so errors name
-- its line although redis.call is a Lua function here.
local function plain_calls(f)
  return loadstring(no_tail_calls(dump(f)), "=plain_calls") or f
end

local readonly = setmetatable({}, {__mode = "k"})   -- proxies scripts may not change
local backing = setmetatable({}, {__mode = "k"})    -- proxy -> the table it shows
local function deny() error("Attempt to modify a readonly table", 2) end
local function protect(t)
  local p = setmetatable({}, {__index = t, __newindex = deny, __metatable = false})
  readonly[p], backing[p] = true, t
  return p
end

-- A read-only table whose missing names are errors, as Redis's globals.
local function strict(lookup, t)
  local p = setmetatable({}, {
    __index = function(_, k)
      local v = lookup(k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = deny, __metatable = false})
  readonly[p], backing[p] = true, t
  return p
end

local env = {}
local load_api = nil   -- FUNCTION LOAD: what a library's top level sees instead of env
local G = strict(function(k)
  if load_api then return load_api[k] end
  return env[k]
end, env)

for _, name in ipairs({"xpcall", "tostring", "setmetatable", "next", "assert", "tonumber",
    "rawequal", "collectgarbage", "getmetatable", "rawset", "type", "select", "unpack",
    "gcinfo", "pairs", "rawget", "ipairs", "_VERSION", "error"}) do
  env[name] = real[name]
end
-- Walking or raw-reading a proxy shows the table behind it; a Python function is a
-- "function", as the C functions it stands for.
local next, lua_type = next, type
env.next = function(t, k) return next(backing[t] or t, k) end
env.pairs = function(t) return env.next, t, nil end
env.ipairs = function(t)
  local b = backing[t] or t
  return function(_, i)
    i = i + 1
    local v = rawget(b, i)
    if v ~= nil then return i, v end
  end, t, 0
end
env.rawget = function(t, k) return rawget(backing[t] or t, k) end
local pyfunc = setmetatable({}, {__mode = "k"})
for _, f in pairs(api) do if lua_type(f) == "userdata" then pyfunc[f] = true end end
env.type = function(v)
  if pyfunc[v] then return "function" end
  return lua_type(v)
end
env.tostring = function(v)
  if pyfunc[v] then return "function: builtin" end
  return tostring(v)
end
env._G = G
env.string = protect(real.string)
getmetatable("").__index = env.string
-- What getmetatable shows, as Redis's read-only tables have it: the library tables have
-- none; the globals one, whose __index refuses missing names, read-only; strings share one
-- metatable, read-only too (no script can break string methods for the next).
local string_meta = getmetatable("")
local string_meta_shown = protect(string_meta)
local globals_meta_shown = protect({__index = function(_, k)  -- asked for what is missing
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end})
env.getmetatable = function(v)
  if v == G then return globals_meta_shown end
  if readonly[v] then return nil end
  local m = getmetatable(v)
  if m == string_meta then return string_meta_shown end
  return m
end
env.table = protect(real.table)
env.rawset = api.rawset
env.setmetatable = api.setmetatable

-- Errors raised by the Python side reach Lua as Python exception objects: whatever may
-- hand an error to the script shows it as Redis would (its table or its message).
local function pack(...) return {n = select("#", ...), ...} end
local function shown(e)
  if type(e) == "userdata" then return unwrap(e) end
  return e
end
env.pcall = function(f, ...)                       -- luaRedisPcall
  local r = pack(lua_pcall(f, ...))
  if not r[1] then
    local e = shown(r[2])
    if type(e) == "table" and type(rawget(e, "err")) == "string" then e = e.err end
    return false, e
  end
  return unpack(r, 1, r.n)
end
env.xpcall = function(f, h)
  return xpcall(f, function(e) return h(shown(e)) end)
end
local co = {}
for k, v in pairs(real.coroutine) do co[k] = v end
co.resume = function(...)
  local r = pack(resume(...))
  if not r[1] then r[2] = shown(r[2]) end
  return unpack(r, 1, r.n)
end
env.coroutine = protect(co)

-- Chunks loaded by scripts run in the sandbox; precompiled (binary) chunks are refused,
-- as Redis's Lua parses text only.
local function sandboxed(f, msg)
  if f then
    f = plain_calls(f)
    setfenv(f, G)
  end
  return f, msg
end
env.loadstring = function(s, name)
  if type(s) == "string" and s:byte(1) == 27 then
    local _, msg = loadstring("\1" .. s:sub(2), name)
    return nil, (msg:gsub("\1", "\27"):gsub("<\\1>", "<\\27>"))
  end
  return sandboxed(loadstring(s, name))
end
env.load = function(reader, name)
  local first = true
  local function text_only()
    local piece = reader()
    if first and type(piece) == "string" and piece:byte(1) == 27 then
      error("binary chunks are not accepted", 0)
    end
    first = false
    return piece
  end
  return sandboxed(load(text_only, name))
end

local m = {}
for k, v in pairs(real.math) do m[k] = v end
m.random, m.randomseed = api.random, api.randomseed
env.math = protect(m)

local bit = {}
for _, name in ipairs({"tobit", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift",
    "rol", "ror", "bswap", "tohex"}) do
  bit[name] = api["bit_" .. name]
end
env.bit = protect(bit)

-- cjson (lua-cjson 2.1.0 as Redis ships it). The encoder walks tables here, in Lua's
-- own order, as the C library does; cjson.encode/decode themselves are Python (errors
-- then carry the script's position, see LuaState._cjson_encode).
local null = newproxy(false)
local json = {sparse_convert = 0, sparse_ratio = 2, sparse_safe = 10, encode_depth = 1000,
              decode_depth = 1000, precision = 14, encode_invalid = 0, decode_invalid = 1,
              keep_buffer = 1}
local json_esc = {['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\127"] = "\\u007f",
                  ["\b"] = "\\b", ["\t"] = "\\t", ["\n"] = "\\n", ["\f"] = "\\f",
                  ["\r"] = "\\r"}
for i = 0, 31 do
  local c = string.char(i)
  if not json_esc[c] then json_esc[c] = string.format("\\u%04x", i) end
end
local huge, floor, format = math.huge, math.floor, string.format
local function json_string(s)
  return '"' .. (s:gsub('[%z\1-\31"\\/\127]', json_esc)) .. '"'
end
local function json_number(n)
  if n ~= n or n == huge or n == -huge then
    if json.encode_invalid == 0 then
      error("Cannot serialise number: must not be NaN or Inf", 0)
    elseif json.encode_invalid == 2 then
      return "null"
    elseif n ~= n then
      return "nan"
    end
  end
  return format("%." .. json.precision .. "g", n)
end
local json_value
local function json_array_length(t)
  local max, items = 0, 0
  for k in next, t do
    if type(k) == "number" and k ~= 0 and floor(k) == k and k >= 1 then
      if k > max then max = k end
      items = items + 1
    else
      return -1
    end
  end
  if json.sparse_ratio > 0 and max > items * json.sparse_ratio and max > json.sparse_safe then
    if json.sparse_convert == 0 then
      error("Cannot serialise table: excessively sparse array", 0)
    end
    return -1
  end
  return max
end
json_value = function(v, depth, out)
  local t = type(v)
  if t == "string" then out[#out + 1] = json_string(v)
  elseif t == "number" then out[#out + 1] = json_number(v)
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "nil" or v == null then out[#out + 1] = "null"
  elseif t == "table" then
    depth = depth + 1
    if depth > json.encode_depth then
      error("Cannot serialise, excessive nesting (" .. depth .. ")", 0)
    end
    local n = json_array_length(v)
    if n > 0 then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        json_value(rawget(v, i), depth, out)
      end
      out[#out + 1] = "]"
    else
      out[#out + 1] = "{"
      local comma = false
      for k, item in next, v do
        if comma then out[#out + 1] = "," end
        comma = true
        local kt = type(k)
        if kt == "number" then out[#out + 1] = '"' .. json_number(k) .. '":'
        elseif kt == "string" then out[#out + 1] = json_string(k) .. ":"
        else
          error("Cannot serialise " .. kt .. ": table key must be a number or string", 0)
        end
        json_value(item, depth, out)
      end
      out[#out + 1] = "}"
    end
  else
    error("Cannot serialise " .. env.type(v) .. ": type not supported", 0)
  end
end
local function json_encode(v)
  local out = {}
  json_value(v, 0, out)
  return table.concat(out)
end
local cjson = {_NAME = "cjson", _VERSION = "2.1.0", null = null}
for _, name in ipairs({"encode", "decode", "encode_sparse_array", "encode_max_depth",
    "decode_max_depth", "encode_number_precision", "encode_keep_buffer",
    "encode_invalid_numbers", "decode_invalid_numbers"}) do
  cjson[name] = api["cjson_" .. name]
end
cjson.new = function() return env.cjson end
env.cjson = protect(cjson)

env.struct = protect({pack = api.struct_pack, unpack = api.struct_unpack,
                      size = api.struct_size})

-- cmsgpack: the walk over Lua values is here (Lua's own table order, nesting limit 16,
-- array or map as table_is_an_array decides); Python writes the bytes.
local function mp_walk(...)
  local kinds, values = {}, {}
  local function add(k, v)
    local n = #kinds + 1
    kinds[n], values[n] = k, v
  end
  local function walk(v, level)
    local t = type(v)
    if t == "table" and level == 16 then t = "nil" end
    if t == "string" then add("s", v)
    elseif t == "boolean" then add("b", v)
    elseif t == "number" then add("n", v)
    elseif t == "table" then
      local count, max, array = 0, 0, true
      for k in next, v do
        if type(k) ~= "number" or k <= 0 or k ~= floor(k) or k > 2147483647 then
          array = false
          break
        end
        if k > max then max = k end
        count = count + 1
      end
      if array and max == count then
        local n = #v
        add("A", n)
        for j = 1, n do walk(v[j], level + 1) end
      else
        local n = 0
        for _ in next, v do n = n + 1 end
        add("M", n)
        for k, item in next, v do
          walk(k, level + 1)
          walk(item, level + 1)
        end
      end
    else
      add("z", false)
    end
  end
  for i = 1, select("#", ...) do walk((select(i, ...)), 0) end
  return kinds, values
end
env.cmsgpack = protect({pack = api.cmsgpack_pack, unpack = api.cmsgpack_unpack,
                        unpack_one = api.cmsgpack_unpack_one,
                        unpack_limit = api.cmsgpack_unpack_limit, _NAME = "cmsgpack",
                        _VERSION = "lua-cmsgpack 0.4.0",
                        _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
                        _DESCRIPTION = "MessagePack C implementation for Lua"})

local redis = {}
for _, name in ipairs({"sha1hex", "error_reply", "status_reply", "log", "setresp",
    "set_repl", "acl_check_cmd"}) do
  redis[name] = api[name]
end
-- redis.call and redis.pcall take as many arguments as a script can pass (8000, as
-- Redis's C functions): lupa hands Python at most ~7997 (it asks Lua for stack room the
-- limit refuses), so beyond a few thousand they travel as one table.
for _, name in ipairs({"call", "pcall"}) do
  local direct, packed = api[name], api[name .. "_table"]
  local f = function(...)
    if select("#", ...) > 4096 then return packed({n = select("#", ...), ...}) end
    return direct(...)
  end
  pyfunc[f] = true
  redis[name] = f
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL =
    0, 1, 2, 2, 3
redis.REDIS_VERSION_NUM, redis.REDIS_VERSION = api.version_num, api.version
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
env.redis = protect(redis)

-- The error handler: Redis's error table ({err=..., source=..., line=...}), pointing
-- at the user's line (as __redis__err__handler, which skips a C frame).
local function handler(err)
  sethook()  -- the script is ending: a kill must not strike again inside the handler
  err = shown(err)
  local level, i = 2, getinfo(2, "nSl")
  while i and (i.what == "C" or i.source == "=diskredis") do
    level = level + 1
    i = getinfo(level, "nSl")
  end
  if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end
env.__redis__err__handler = handler

local function compile(body, name)     -- name: "@user_script" or "@user_function"
  local f, msg = loadstring(body, name)
  if not f then return false, msg end
  f = plain_calls(f)
  setfenv(f, G)
  return f, false
end

local function run(f, keys, argv)               -- one result, as lua_pcall(lua, 0, 1)
  env.KEYS, env.ARGV = keys, argv
  local ok, result = xpcall(f, handler)
  return ok, result
end

-- Redis 7 functions: a library's code runs once at FUNCTION LOAD with only
-- redis.register_function, redis.log and the version in sight; the functions it
-- registers later run with everything scripts have, and take (keys, args).
local load_redis = {register_function = api.register_function, log = api.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM}
local load_table = {redis = strict(function(k) return load_redis[k] end, load_redis)}
local function load_library(chunk)
  load_api = load_table
  local ok, err = xpcall(chunk, handler)
  load_api = nil
  return ok, err
end
local function call_function(f, keys, argv)
  local ok, result = xpcall(function() return f(keys, argv) end, handler)
  return ok, result
end

local function set_hook(fn, count)
  if fn then sethook(function() fn() end, "", count) else sethook() end
end

-- luaL_where(1) as seen from a Python function called by the script: "user_script:3: ".
local function where()
  local level, i = 3, getinfo(3, "Sl")
  while i and i.source == "=diskredis" do   -- past our wrappers (redis.call...)
    level = level + 1
    i = getinfo(level, "Sl")
  end
  if i and i.currentline > 0 then return i.short_src .. ":" .. i.currentline .. ": " end
  return ""
end

for _, t in ipairs({env, co, m, bit, redis, cjson}) do
  for _, v in pairs(t) do
    if type(v) == "function" and getfenv(v) == real then lua_pcall(setfenv, v, G) end
  end
end
return compile, run, set_hook, where, readonly, rawset, setmetatable, json_encode, json,
    null, mp_walk, load_library, call_function
"""


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


class Raise(Exception):
    """Raised by the Python side of the `redis` library: `value` (an error table or a
    message) is the Lua error the script sees."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


class CallRefused(Exception):
    """What the command hook raises when redis.call may not run the command (unknown,
    wrong arity, not allowed from scripts...): the text of the script error."""


class LuaState:
    """One Lua state for EVAL scripts (FUNCTION libraries get their own, as in Redis).

    `command` is set by the caller for the duration of a run: it runs one command for
    redis.call/pcall and returns its reply value, or raises CallRefused.
    """

    def __init__(self, version: str) -> None:
        self.rt = lua51.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                                   unpack_returned_tuples=True,
                                   attribute_filter=_no_attributes,
                                   max_memory=LUA_MEMORY_LIMIT)
        self.rand = _Lrand48()
        self.resp = 2
        self.command: Callable[[list[bytes]], Any] = _outside_script
        # redis.acl_check_cmd: whether the caller may run argv (None: no such command).
        self.check_command: Callable[[list[bytes]], bool | None] = lambda argv: None
        self.table_from = self.rt.table_from
        # See `_rebinding`: Lua values handed to Python from a coroutine, made the main
        # state's by passing them through this identity function.
        self._rebind = rebind = self.rt.eval("function(...) return ... end")
        # lupa's classes of Lua values (its base class and every subclass)
        self._lua_types = lua_types = _subclasses(type(self.rt.table()).__mro__[1])
        library: dict[bytes, Any] = {
            b"unwrap": _unwrap, b"rawset": self._rawset, b"setmetatable": self._setmetatable,
            b"random": self._random, b"randomseed": self._randomseed,
            b"call": self._call, b"pcall": self._pcall, b"sha1hex": self._sha1hex,
            b"call_table": self._call_table, b"pcall_table": self._pcall_table,
            b"no_tail_calls": _no_tail_calls,
            b"error_reply": self._error_reply, b"status_reply": self._status_reply,
            b"log": self._log, b"setresp": self._setresp, b"set_repl": self._set_repl,
            b"acl_check_cmd": self._acl_check_cmd, b"version_num": REDIS_VERSION_NUM,
            b"register_function": self._register_function,
            b"version": version.encode(),
            **{b"bit_" + name.encode(): getattr(self, "_bit_" + name) for name in _BIT_OPS},
            **{b"cjson_" + name.encode(): getattr(self, "_cjson_" + name)
               for name in _CJSON_FUNCTIONS},
            **{name.encode(): getattr(self, "_" + name)
               for name in ("struct_pack", "struct_unpack", "struct_size", "cmsgpack_pack",
                            "cmsgpack_unpack", "cmsgpack_unpack_one",
                            "cmsgpack_unpack_limit")},
        }
        api = self.rt.table_from({name: _rebinding(rebind, lua_types, fn) if callable(fn)
                                  else fn for name, fn in library.items()})
        chunk = self.rt.execute("return loadstring(...)", _BOOTSTRAP.encode(), b"=diskredis")
        (self._compile, self._run, self._set_hook, self._where, self._readonly,
         self._lua_rawset, self._lua_setmetatable, self._json_encode, self._json,
         self._null, self._mp_walk, self._load_library, self._call_function) = chunk(api)
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
        self._set_hook(None if fn is None else _rebinding(self._rebind, self._lua_types, fn),
                       count)

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
            raise Raise(self.error_table(
                b"redis.register_function can only be called on FUNCTION LOAD command"))
        if not 1 <= len(args) <= 2:
            raise Raise(self.error_table(b"wrong number of arguments to "
                                         b"redis.register_function"))
        if len(args) == 2:
            name, callback, desc, flags = args[0], args[1], None, frozenset[str]()
            if type(name) in (int, float):
                name = lua_number_text(name)
            if type(name) is not bytes:
                raise Raise(self.error_table(b"first argument to redis.register_function "
                                             b"must be a string"))
            if lua51.lua_type(callback) != "function":
                raise Raise(self.error_table(b"second argument to redis.register_function "
                                             b"must be a function"))
        else:
            name, callback, desc, flags = self._named_registration(args[0])
        if not valid_function_name(name):
            raise Raise(self.error_table(
                b"Library names can only contain letters, numbers, or underscores(_) and "
                b"must be at least one character long"))
        if any(r.name == name for r in self.registering):
            raise Raise(self.error_table(b"Function already exists in the library"))
        self.registering.append(Registered(name, callback, desc, flags))

    def _named_registration(self, table: Any) -> tuple[bytes, Any, bytes | None, frozenset[str]]:
        def fail(text: bytes) -> Raise:
            return Raise(self.error_table(text))

        if lua51.lua_type(table) != "table":
            raise fail(b"calling redis.register_function with a single argument is only "
                       b"applicable to Lua table (representing named arguments).")
        name = desc = callback = None
        flags: set[str] = set()
        for key, value in table.items():
            if type(key) in (int, float):
                key = lua_number_text(key)
            if type(key) is not bytes:
                raise fail(b"named argument key given to redis.register_function is not a "
                           b"string")
            if type(value) in (int, float):
                value = lua_number_text(value)
            word = key.lower()
            if word == b"function_name":
                if type(value) is not bytes:
                    raise fail(b"function_name argument given to redis.register_function "
                               b"must be a string")
                name = value
            elif word == b"description":
                if type(value) is not bytes:
                    raise fail(b"description argument given to redis.register_function must "
                               b"be a string")
                desc = value
            elif word == b"callback":
                if lua51.lua_type(value) != "function":
                    raise fail(b"callback argument given to redis.register_function must be "
                               b"a function")
                callback = value
            elif word == b"flags":
                if lua51.lua_type(value) != "table":
                    raise fail(b"flags argument to redis.register_function must be a table "
                               b"representing function flags")
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
            raise Raise(self._where() + _lua_message(e)) from None

    def _wrong_type(self, args: tuple[Any, ...], n: int, fname: str, expected: str) -> Raise:
        """luaL_typerror: argument `n` of `fname` is not a `expected`."""
        got = "no value" if n > len(args) else _type_name(args[n - 1])
        return self._raise("bad argument #%d to '%s' (%s expected, got %s)"
                           % (n, fname, expected, got))

    def _check_number(self, args: tuple[Any, ...], n: int, fname: str) -> float:
        """luaL_checknumber: a number, or a string Lua reads as one."""
        number = _to_number(args[n - 1] if n <= len(args) else None)
        if number is None:
            raise self._wrong_type(args, n, fname, "number")
        return number

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
            raise Raise(self.error_table(
                b"Please specify at least one argument for this redis lib call"))
        argv = []
        for a in args:
            if type(a) is bytes:
                argv.append(a)
            elif type(a) in (int, float):
                argv.append(b"%.17g" % a)  # not Lua's %.14g: Redis prints every digit
            else:
                raise Raise(self.error_table(
                    b"Lua redis lib command arguments must be strings or integers"))
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
        level = _to_number(args[0])
        if level is None:
            raise Raise(self.error_table(b"First argument must be a number (log level)."))
        if not 0 <= level < 4:
            raise Raise(self.error_table(b"Invalid debug level."))
        parts = [lua_number_text(a) if type(a) in (int, float) else a
                 for a in args[1:] if type(a) in (bytes, int, float)]
        log.log(_LOG_LEVELS[int(level)], "%s", b" ".join(parts).decode("utf-8", "replace"))

    def _setresp(self, *args: Any) -> None:
        if len(args) != 1:
            raise Raise(self.error_table(b"redis.setresp() requires one argument."))
        resp = _to_number(args[0])
        if resp is None or int(resp) not in (2, 3):
            raise Raise(self.error_table(b"RESP version must be 2 or 3."))
        self.resp = int(resp)

    def _set_repl(self, *args: Any) -> None:
        if len(args) != 1:
            raise Raise(self.error_table(b"redis.set_repl() requires two arguments."))
        flags = _to_number(args[0])
        if flags is None or int(flags) & ~3:
            raise Raise(self.error_table(b"Invalid replication flags. Use REPL_AOF, "
                                         b"REPL_REPLICA, REPL_ALL or REPL_NONE."))
        # Accepted: there are no replicas nor AOF; every write is durable by itself.

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
        n = _signed(self._bits(args, "tohex", 2)[1]) if len(args) > 1 and args[1] is not None \
            else 8
        upper = n < 0
        n = min(abs(n), 8) if n != -(2**31) else 8
        text = b"%0*x" % (n, v & ((1 << (4 * n)) - 1)) if n else b""
        return text.upper() if upper else text

    # -- cjson ------------------------------------------------------------------------
    def _cjson_encode(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._raise("bad argument #1 to 'encode' (expected 1 argument)")
        try:
            text: bytes = self._json_encode(args[0])
        except lua51.LuaError as e:
            raise Raise(self._where() + _lua_message(e)) from None
        return text

    # The configuration functions (json_cfg_*): each returns the setting(s) after it.
    def _json_options(self, name: str, args: tuple[Any, ...], count: int) -> list[Any]:
        if len(args) > count:
            raise self._raise("bad argument #%d to '%s' (found too many arguments)"
                              % (count + 1, name))
        return list(args) + [None] * (count - len(args))

    def _json_int(self, name: str, value: Any, key: bytes, lo: int, hi: int) -> int:
        if value is not None:
            number = _to_number(value)
            if number is None:
                raise self._raise("bad argument #1 to '%s' (number expected, got %s)"
                                  % (name, _type_name(value)))
            n = int(number)
            if not lo <= n <= hi:
                raise self._raise("bad argument #1 to '%s' (expected integer between %d and "
                                  "%d)" % (name, lo, hi))
            self._json[key] = n
        return int(self._json[key])

    def _json_enum(self, name: str, value: Any, key: bytes,
                   options: tuple[bytes, ...] = (b"off", b"on")) -> Any:
        if value is not None:
            if type(value) is bool:
                self._json[key] = int(value)
            elif type(value) is bytes and value in options:
                self._json[key] = options.index(value)
            else:
                raise self._raise("bad argument #1 to '%s' (invalid option '%s')"
                                  % (name, _text_of(value)))
        setting = int(self._json[key])
        return bool(setting) if setting in (0, 1) else options[setting]

    def _cjson_encode_sparse_array(self, *args: Any) -> tuple[Any, int, int]:
        convert, ratio, safe = self._json_options("encode_sparse_array", args, 3)
        return (self._json_enum("encode_sparse_array", convert, b"sparse_convert"),
                self._json_int("encode_sparse_array", ratio, b"sparse_ratio", 0, INT_MAX),
                self._json_int("encode_sparse_array", safe, b"sparse_safe", 0, INT_MAX))

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
        return self._json_enum("encode_invalid_numbers", v, b"encode_invalid",
                               (b"off", b"on", b"null"))

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
            raise self._raise("bad argument #1 to 'decode' (string expected, got %s)"
                              % _type_name(data))
        if len(data) >= 2 and (data[0] == 0 or data[1] == 0):
            raise self._raise("JSON parser does not support UTF-16 or UTF-32")
        cut = data.find(b"\0")
        parser = _JsonParser(self, data if cut < 0 else data[:cut],
                             int(self._json[b"decode_depth"]),
                             bool(self._json[b"decode_invalid"]))
        try:
            return parser.document()
        except _JsonError as e:
            raise self._raise(str(e)) from None

    # -- struct ----------------------------------------------------------------------
    def _check_string(self, args: tuple[Any, ...], n: int, fname: str) -> bytes:
        value: Any = args[n - 1] if n <= len(args) else None
        if type(value) in (int, float):
            return lua_number_text(value)
        if type(value) is not bytes:
            raise self._wrong_type(args, n, fname, "string")
        return value

    def _struct_pack(self, *args: Any) -> bytes:
        f = _StructFormat(self, "pack", self._check_string(args, 1, "pack"))
        args = (*args, None)  # b_pack pushes a nil after the arguments: a missing one is nil
        out = bytearray()
        arg = 2
        for opt, size in f.options():
            out += bytes(f.padding(len(out), opt, size))
            if opt in "bBhHlLTiI":
                out += _struct_int(self._check_number(args, arg, "pack"), size, f.little)
                arg += 1
            elif opt == "x":
                out.append(0)
            elif opt in "fd":
                value = self._check_number(args, arg, "pack")
                arg += 1
                code = ("<" if f.little else ">") + opt
                try:
                    out += struct.pack(code, value)
                except OverflowError:  # a float too big for 4 bytes is inf, as in C
                    out += struct.pack(code, math.copysign(math.inf, value))
            elif opt in "cs":
                s = self._check_string(args, arg, "pack")
                arg += 1
                n = size if size else len(s)
                if len(s) < n:
                    raise f.argerror(arg, "string too short")
                out += s[:n]
                if opt == "s":
                    out.append(0)
            else:
                f.control(opt)
        return bytes(out)

    def _struct_unpack(self, *args: Any) -> tuple[Any, ...]:
        f = _StructFormat(self, "unpack", self._check_string(args, 1, "unpack"))
        data = self._check_string(args, 2, "unpack")
        pos = int(self._check_number(args, 3, "unpack")) if len(args) >= 3 and \
            args[2] is not None else 1
        if pos <= 0:
            raise f.argerror(3, "offset must be 1 or greater")
        pos -= 1
        out: list[Any] = []
        for opt, size in f.options():
            pos += f.padding(pos, opt, size)
            if not (size <= len(data) and pos <= len(data) - size):
                raise f.argerror(2, "data string too short")
            if opt in "bBhHlLTiI":
                raw = data[pos:pos + size]
                n = int.from_bytes(raw if f.little else raw[::-1], "little") & _U64
                if opt.islower():  # sign-extend from the field's top bit, as the C code
                    shift = size * 8 - 1
                    mask = (_U64 << shift) & _U64 if shift < 64 else 0
                    if n & mask:
                        n |= mask
                    if n >= 1 << 63:
                        n -= 1 << 64
                out.append(float(n))
            elif opt in "fd":
                code = ("<" if f.little else ">") + opt
                out.append(struct.unpack(code, data[pos:pos + size])[0])
            elif opt == "c":
                if size == 0:
                    if not out or type(out[-1]) is not float:
                        raise f.error("format 'c0' needs a previous size")
                    size = int(out.pop())
                    if not (size <= len(data) and pos <= len(data) - size):
                        raise f.argerror(2, "data string too short")
                out.append(data[pos:pos + size])
            elif opt == "s":
                end = data.find(b"\0", pos)
                if end < 0:
                    raise f.error("unfinished string in data")
                size = end - pos + 1
                out.append(data[pos:end])
            elif opt != "x":
                f.control(opt)
            pos += size
        out.append(pos + 1)
        return tuple(out)

    def _struct_size(self, *args: Any) -> int:
        f = _StructFormat(self, "size", self._check_string(args, 1, "size"))
        pos = 0
        for opt, size in f.options():
            pos += f.padding(pos, opt, size)
            if opt == "s":
                raise f.argerror(1, "option 's' has no fixed size")
            if opt == "c" and size == 0:
                raise f.argerror(1, "option 'c0' has no fixed size")
            if not opt.isalnum():
                f.control(opt)
            pos += size
        return pos

    # -- cmsgpack (lua-cmsgpack 0.4.0) -----------------------------------------------
    def _cmsgpack_pack(self, *args: Any) -> bytes:
        if not args:
            raise self._raise("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out = bytearray()
        kinds, values = self._mp_walk(*args)
        for i in range(1, len(kinds) + 1):
            _mp_encode(out, kinds[i], values[i])
        return bytes(out)

    def _cmsgpack_unpack(self, *args: Any) -> tuple[Any, ...]:
        return self._mp_unpack(self._check_string(args, 1, "unpack"), 0, 0)

    def _cmsgpack_unpack_one(self, *args: Any) -> tuple[Any, ...]:
        data = self._check_string(args, 1, "unpack_one")
        offset = int(self._check_number(args, 2, "unpack_one")) if len(args) >= 2 and \
            args[1] is not None else 0
        return self._mp_unpack(data, 1, offset)

    def _cmsgpack_unpack_limit(self, *args: Any) -> tuple[Any, ...]:
        data = self._check_string(args, 1, "unpack_limit")
        limit = int(self._check_number(args, 2, "unpack_limit"))
        offset = int(self._check_number(args, 3, "unpack_limit")) if len(args) >= 3 and \
            args[2] is not None else 0
        return self._mp_unpack(data, limit, offset)

    def _mp_unpack(self, data: bytes, limit: int, offset: int) -> tuple[Any, ...]:
        decode_all = not limit and not offset
        if offset < 0 or limit < 0:
            raise self._raise("Invalid request to unpack with offset of %d and limit of %d."
                              % (offset, len(data)))
        if offset > len(data):
            raise self._raise("Start offset %d greater than input length %d."
                              % (offset, len(data)))
        if decode_all:
            limit = INT_MAX
        reader = _MsgpackReader(self, data, offset)
        values: list[Any] = []
        while reader.pos < len(data) and len(values) < limit:
            try:
                values.append(reader.value())
            except _MsgpackEOF:
                raise self._raise("Missing bytes in input.") from None
            except _MsgpackBadFormat:
                raise self._raise("Bad data format in input.") from None
        if not decode_all:
            values.insert(0, -1 if reader.pos >= len(data) else reader.pos)
        return tuple(values)

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
                return self.table_from({b"verbatim_string": self.table_from(
                    {b"string": value.data, b"format": value.fmt})})
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
            return deeper(lambda: self._to_reply(value, resp, _LUA_STACK_BASE),
                          4 * _LUA_MAXCSTACK)

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
            return {_frozen(self._to_reply(k, resp, top + 4)): self._to_reply(v, resp, top + 3)
                    for k, v in mapping.items()}
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


_LOG_LEVELS = {0: logging.DEBUG, 1: 15, 2: logging.INFO, 3: logging.WARNING}
_CJSON_FUNCTIONS = ("encode", "decode", "encode_sparse_array", "encode_max_depth",
                    "decode_max_depth", "encode_number_precision", "encode_keep_buffer",
                    "encode_invalid_numbers", "decode_invalid_numbers")


class _JsonError(Exception):
    pass


_ESCAPES = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b",
            ord("t"): b"\t", ord("n"): b"\n", ord("f"): b"\f", ord("r"): b"\r"}
_TOKEN_CHARS = {ord("{"): "T_OBJ_BEGIN", ord("}"): "T_OBJ_END", ord("["): "T_ARR_BEGIN",
                ord("]"): "T_ARR_END", ord(","): "T_COMMA", ord(":"): "T_COLON"}


class _JsonParser:
    """lua-cjson's decoder: the same tokens, values, limits and error texts; tables are
    filled in document order, as the C code fills them."""

    def __init__(self, state: LuaState, data: bytes, max_depth: int,
                 invalid_numbers: bool) -> None:
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
        p = self.data[self.pos:]
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
            raise _JsonError("Found too many nested data structures (%d) at character %d"
                             % (self.depth, self.pos))

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
                    self.fail("comma or object end" if is_obj else "comma or array end",
                              kind, value, at)
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


# -- struct (Roberto Ierusalimschy's lstrlib-like struct 0.2, as Redis ships it) ---------
_STRUCT_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8,
                 "x": 1}
_MAXALIGN = 8


class _StructFormat:
    """Walks a struct format string as the C code does (sizes, alignment, endianness)."""

    def __init__(self, state: LuaState, fname: str, fmt: bytes) -> None:
        self.state, self.fname, self.fmt, self.i = state, fname, fmt, 0
        self.little, self.align = True, 1

    def error(self, message: str) -> Raise:
        return self.state._raise(message)

    def argerror(self, n: int, message: str) -> Raise:
        return self.state._raise("bad argument #%d to '%s' (%s)" % (n, self.fname, message))

    def number(self, default: int) -> int:
        fmt = self.fmt
        if self.i >= len(fmt) or not chr(fmt[self.i]).isdigit():
            return default
        a = 0
        while self.i < len(fmt) and chr(fmt[self.i]).isdigit():
            digit = fmt[self.i] - 0x30
            if a > (INT_MAX // 10) or a * 10 > INT_MAX - digit:
                raise self.error("integral size overflow")
            a = a * 10 + digit
            self.i += 1
        return a

    def options(self) -> Any:
        """Yields (option, size, padding before it) for the data options."""
        while self.i < len(self.fmt):
            opt = chr(self.fmt[self.i])
            self.i += 1
            size = self.size(opt)
            yield opt, size

    def size(self, opt: str) -> int:
        if opt in _STRUCT_SIZES:
            return _STRUCT_SIZES[opt]
        if opt == "c":
            return self.number(1)
        if opt in "iI":
            sz = self.number(4)
            if sz > 32:
                raise self.error("integral size %d is larger than limit of 32" % sz)
            return sz
        return 0

    def padding(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str) -> None:
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            a = self.number(_MAXALIGN)
            if not (a > 0 and a & (a - 1) == 0):
                raise self.error("alignment %d is not a power of 2" % a)
            self.align = a
        else:
            raise self.argerror(1, "invalid format option '%s'" % opt)


_U64 = (1 << 64) - 1


class _MsgpackEOF(Exception):
    pass


class _MsgpackBadFormat(Exception):
    pass


def _mp_encode(out: bytearray, kind: bytes, value: Any) -> None:
    """One item of the walk `mp_walk` made of the Lua values (lua_cmsgpack.c)."""
    if kind == b"s":
        n = len(value)
        if n < 32:
            out.append(0xA0 | n)
        elif n <= 0xFF:
            out += bytes((0xD9, n))
        elif n <= 0xFFFF:
            out += b"\xda" + n.to_bytes(2, "big")
        else:
            out += b"\xdb" + (n & 0xFFFFFFFF).to_bytes(4, "big")
        out += value
    elif kind == b"b":
        out.append(0xC3 if value else 0xC2)
    elif kind == b"n":
        number = float(value)
        if math.isfinite(number) and number == int(number) and -(2**63) <= number < 2**63:
            _mp_int(out, int(number))
        else:
            try:
                as_float = struct.pack(">f", number)
            except OverflowError:
                as_float = b""
            if as_float and struct.unpack(">f", as_float)[0] == number:  # never for NaN
                out += b"\xca" + as_float
            else:
                out += b"\xcb" + struct.pack(">d", number)
    elif kind in (b"A", b"M"):
        n = int(value)
        base, b16, b32 = (0x90, 0xDC, 0xDD) if kind == b"A" else (0x80, 0xDE, 0xDF)
        if n <= 15:
            out.append(base | n)
        elif n <= 0xFFFF:
            out += bytes((b16,)) + n.to_bytes(2, "big")
        else:
            out += bytes((b32,)) + (n & 0xFFFFFFFF).to_bytes(4, "big")
    else:
        out.append(0xC0)


def _mp_int(out: bytearray, n: int) -> None:
    if n >= 0:
        if n <= 127:
            out.append(n)
        elif n <= 0xFF:
            out += bytes((0xCC, n))
        elif n <= 0xFFFF:
            out += b"\xcd" + n.to_bytes(2, "big")
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + n.to_bytes(4, "big")
        else:
            out += b"\xcf" + n.to_bytes(8, "big")
    elif n >= -32:
        out.append(n & 0xFF)
    elif n >= -128:
        out += bytes((0xD0, n & 0xFF))
    elif n >= -32768:
        out += b"\xd1" + (n & 0xFFFF).to_bytes(2, "big")
    elif n >= -(2**31):
        out += b"\xd2" + (n & 0xFFFFFFFF).to_bytes(4, "big")
    else:
        out += b"\xd3" + (n & _U64).to_bytes(8, "big")


class _MsgpackReader:
    """mp_decode_to_lua_type over `data` from `pos`; tables filled in order, as in C."""

    def __init__(self, state: LuaState, data: bytes, pos: int) -> None:
        self.state, self.data, self.pos = state, data, pos

    def need(self, n: int) -> None:
        if len(self.data) - self.pos < n:
            raise _MsgpackEOF()

    def take(self, n: int) -> bytes:
        self.need(n)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def value(self) -> Any:
        self.need(1)
        c = self.data[self.pos]
        fixed = {0xCC: (1, False), 0xCD: (2, False), 0xCE: (4, False), 0xCF: (8, True),
                 0xD0: (1, True), 0xD1: (2, True), 0xD2: (4, True), 0xD3: (8, True)}
        if c in fixed:
            size, signed = fixed[c]
            raw = self.take(1 + size)[1:]
            n = int.from_bytes(raw, "big", signed=signed)
            return float(n)
        if c == 0xC0:
            self.pos += 1
            return None
        if c in (0xC2, 0xC3):
            self.pos += 1
            return c == 0xC3
        if c == 0xCA:
            return struct.unpack(">f", self.take(5)[1:])[0]
        if c == 0xCB:
            return struct.unpack(">d", self.take(9)[1:])[0]
        if c in (0xD9, 0xDA, 0xDB):
            size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[c]
            self.need(1 + size)
            n = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "big")
            return self.take(1 + size + n)[1 + size:]
        if c in (0xDC, 0xDD, 0xDE, 0xDF):
            size = 2 if c in (0xDC, 0xDE) else 4
            n = int.from_bytes(self.take(1 + size)[1:], "big")
            return self.array(n) if c in (0xDC, 0xDD) else self.mapping(n)
        if c & 0x80 == 0:
            self.pos += 1
            return float(c)
        if c & 0xE0 == 0xE0:
            self.pos += 1
            return float(c - 256)
        if c & 0xE0 == 0xA0:
            return self.take(1 + (c & 0x1F))[1:]
        if c & 0xF0 == 0x90:
            self.pos += 1
            return self.array(c & 0xF)
        if c & 0xF0 == 0x80:
            self.pos += 1
            return self.mapping(c & 0xF)
        raise _MsgpackBadFormat()

    def array(self, n: int) -> Any:
        table = self.state.rt.table()
        for i in range(1, n + 1):
            item = self.value()
            if item is not None:
                table[i] = item
        return table

    def mapping(self, n: int) -> Any:
        table = self.state.rt.table()
        for _ in range(n):
            key = self.value()
            item = self.value()
            if key is None:  # lua_settable with a nil key raises in C
                raise self.state._raise("table index is nil")
            if item is not None:
                table[key] = item
        return table


def _struct_int(value: float, size: int, little: bool) -> bytes:
    n = int(value) if math.isfinite(value) else -(2**63)
    n &= (1 << 64) - 1
    out = bytearray()
    for _ in range(size):
        out.append(n & 0xFF)
        n >>= 8
    return bytes(out if little else out[::-1])



def _unicode_escape(data: bytes, i: int) -> tuple[bytes, int] | None:
    """json_append_unicode_escape: (UTF-8 bytes, escape length) or None if invalid."""
    def hex4(at: int) -> int:
        digits = data[at:at + 4]
        if len(digits) < 4 or any(chr(d) not in "0123456789abcdefABCDEF" for d in digits):
            return -1
        return int(digits, 16)

    code = hex4(i + 2)
    if code < 0:
        return None
    length = 6
    if code & 0xF800 == 0xD800:
        if code & 0x400 or data[i + 6:i + 8] != b"\\u":
            return None
        low = hex4(i + 8)
        if low < 0 or low & 0xFC00 != 0xDC00:
            return None
        code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
        length = 12
    return chr(code).encode("utf-8", "surrogatepass"), length
_BIT_OPS = ("tobit", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol",
            "ror", "bswap", "tohex")


def _tobit(number: float) -> int:
    """LuaBitOp's normalisation: round half to even, keep the low 32 bits."""
    if not math.isfinite(number):
        return 0
    return round(number) & 0xFFFFFFFF


def _signed(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


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
        skip_string()                      # source
        pos += 2 * int_size + 4            # line range; upvalues, params, vararg, stack
        count = integer()                  # code
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
        for _ in range(integer()):         # constants: nil, boolean, number, string
            kind = out[pos]
            pos += 1
            if kind == 1:
                pos += 1
            elif kind == 3:
                pos += number_size
            elif kind == 4:
                skip_string()
        for _ in range(integer()):         # nested functions
            function()
        lines = integer()                  # the line of each instruction
        pos += lines * int_size
        for _ in range(integer()):         # local variables: name, start, end
            skip_string()
            pos += 2 * int_size
        for _ in range(integer()):         # upvalue names
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


def _rebinding(rebind: Any, lua_types: frozenset[type],
               fn: Callable[..., Any]) -> Callable[..., Any]:
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


def _to_number(value: Any) -> float | None:
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


def _lua_message(error: Exception) -> bytes:
    """A Lua error's message, without the traceback lupa appends."""
    text = error.args[0] if error.args else str(error)
    if isinstance(text, str):
        text = text.encode("latin-1", "replace")
    return bytes(text).split(b"\nstack traceback:", 1)[0]


def _text_of(value: Any) -> str:
    if type(value) is bytes:
        return value.decode("latin-1")
    if type(value) in (int, float):
        return lua_number_text(value).decode()
    return _type_name(value)


def _type_name(value: Any) -> str:
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
