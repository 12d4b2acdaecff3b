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
