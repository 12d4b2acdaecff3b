"""Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT), differential against
redis-server 7.0 on both engines: the sandbox, the redis.* library, the conversions
both ways (RESP2 and RESP3), error texts with their script positions, script flags,
scripts inside MULTI; then redis-py's Lock, which runs on scripts."""

from __future__ import annotations

import re
import socket
import threading
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Diff, ServerProc, encode_command, unordered

# Scripts whose replies must be byte-identical. Each runs as EVAL <script> 1 k1 a1 a2.
SCRIPTS = [
    # the sandbox
    "x = 1",
    "return y",
    "string.foo = 1",
    "return os",
    "return io",
    "return print",
    "return require",
    "return dofile",
    "return loadfile",
    "return getfenv",
    "return setfenv",
    "return newproxy",
    "return _G.x",
    "return rawset(_G, 'x', 1)",
    "return {pcall(rawset, _G, 1, 2)}",
    "return setmetatable(_G, {})",
    "return rawget(_G, 'redis') ~= nil",
    "return getmetatable('').__index == string",
    "return loadstring('return os')()",
    "return pcall(loadstring('x=1'))",
    "return loadstring(string.dump(function() return 1 end))",
    "local n = 0 for k in pairs(_G) do n = n + 1 end return n",
    "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(math) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(bit) do t[#t + 1] = k end table.sort(t) return t",
    "return type(redis.call)",
    "return type(pcall)",
    "return gcinfo ~= nil",
    "return _VERSION",
    "KEYS[1] = 'changed' return KEYS[1]",
    # strings share a metatable: read-only, so no script can break string methods
    "getmetatable('').__index = nil",
    "rawset(getmetatable(''), '__index', nil)",
    "setmetatable(getmetatable(''), {})",
    "return ('abc'):len()",
    "return type(getmetatable(''))",
    "local f = loadstring('return 1') return f()",
    "return type(getmetatable(_G))",
    "return type(getmetatable(redis))",
    "local g = getmetatable(_G) return {type(g.__index), type(g.__newindex)}",
    "local g = getmetatable(_G) g.__index = {}",
    "return tostring(getmetatable(_G) == getmetatable(_G))",
    "return getmetatable(getmetatable(''))",
    "return loadstring('\\27Lua')",
    "return redis.call(unpack({'ping'}))",
    "local t = {} for i = 1, 8000 do t[i] = 'x' .. i end return redis.call('del', unpack(t))",
    "local t = {} for i = 1, 8000 do t[i] = i end return redis.call('del', unpack(t))",
    "local t = {} for i = 1, 1000000 do t[i] = 'x' end return #{unpack(t)}",
    # as many arguments as a script can pass to redis.call/pcall, and errors naming the
    # script's line however the call is made (tail calls, aliases, nested functions)
    "local t = {} for i = 1, 7999 do t[i] = i end return redis.call('lpush', KEYS[1], unpack(t))",
    "local t = {} for i = 1, 7999 do t[i] = 'a' end return redis.pcall('mset', unpack(t))",
    "local t = {} for i = 1, 7999 do t[i] = 'a' end return redis.call('mset', unpack(t))",
    "local t = {} for i = 1, 7000 do t[i] = 'a' end t[5000] = {} "
    "return redis.pcall('del', unpack(t))",
    "local t = {} for i = 1, 7000 do t[i] = 'a' end t[7000] = nil "
    "return redis.call('mset', unpack(t, 1, 7000))",
    "local t = {} for i = 1, 7999 do t[i] = 'x' end return redis.call('nosuch', unpack(t))",
    "local rcall = redis.call\nreturn rcall('nosuch')",
    "local function f()\n  return redis.call('nosuch')\nend\nreturn f()",
    "local function f(n)\n  if n == 0 then return redis.call('set') end\n"
    "  return f(n - 1)\nend\nreturn f(100)",
    "local function count(n, acc) if n == 0 then return acc end return count(n - 1, acc + 1) "
    "end return count(15000, 0)",
    "return pcall(redis.call, 'nosuch')",
    "local c = redis.pcall return c('nosuch')",
    "return (loadstring('return redis.call(\"nosuch\")'))()",
    # a constructor of more than 511 * 50 items stores its batch number as a raw word
    "local t = {" + "1," * 27050 + "} return #t",
    "return #(loadstring('return {' .. string.rep('1,', 29000) .. '}')())",
    # values from Lua to the client
    "return 1",
    "return 3.99",
    "return -3.7",
    "return 2^53",
    "return 1e20",
    "return 1/0",
    "return -1/0",
    "return 0/0",
    "return 'a\\nb'",
    "return true",
    "return false",
    "return nil",
    "return {1, 2, {3, 'x'}, nil, 5}",
    "return {1, {2, {3, {4}}}}",
    "return {err='bad'}",
    "return {err='MY thing'}",
    "return {err=1}",
    "return {ok=1}",
    "return {ok='a\\r\\nb'}",
    "return {err='a\\r\\nb'}",
    "return {double=3.5}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return {big_number='123'}",
    "return {verbatim_string={format='txt', string='hi'}}",
    "return print ~= nil",
    "return redis.error_reply('MY err')",
    "return redis.error_reply('oops')",
    "return redis.error_reply('-X')",
    "return redis.error_reply('')",
    "return redis.error_reply(1)",
    "return redis.status_reply('FINE')",
    "return redis.status_reply(1)",
    "return redis.status_reply()",
    "return KEYS[1] .. ARGV[2]",
    "return #KEYS + #ARGV",
    "return {KEYS, ARGV}",
    # errors and their positions
    "error('boom')",
    "error({err='MY thing'})",
    "error({err='X y'})",
    "error()",
    "error(nil)",
    "\n\nerror('line three')",
    "local t = nil\nreturn t.x",
    "syntax error here",
    "return redis.call('nosuch')",
    "return redis.call('get')",
    "return redis.call()",
    "return redis.call(1)",
    "return redis.call('ping', {})",
    "return redis.call('ping', true)",
    "return redis.call('config')",
    "return redis.call('client', 'nosuch')",
    "return redis.call('multi')",
    "return redis.call('subscribe', 'x')",
    "return redis.call('eval', 'return 1', 0)",
    "return redis.call('blpop', 'l', 0)",
    "return redis.pcall('nosuch')",
    "return redis.pcall()",
    "return {pcall(redis.call, 'nosuch')}",
    "return pcall(redis.call)",
    "return {pcall(error, 'x')}",
    "return {xpcall(function() error({err='Q w'}) end, function(e) return e.err end)}",
    "local co = coroutine.create(function() error('inco') end) return {coroutine.resume(co)}",
    "local co = coroutine.create(function() redis.call('nosuch') end) "
    "local ok, e = coroutine.resume(co) return e",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.log(9, 'x')",
    "return redis.log('x', 'y')",
    "return redis.log(1)",
    "return redis.set_repl(99)",
    "return redis.set_repl()",
    "return redis.sha1hex()",
    "return redis.acl_check_cmd('nosuch')",
    "return math.random(0)",
    "return math.random(1, 2, 3)",
    "return math.random('x')",
    "return math.randomseed()",
    # the library
    "return redis.sha1hex('')",
    "return redis.sha1hex(12)",
    "return redis.REDIS_VERSION",
    "return redis.REDIS_VERSION_NUM",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.replicate_commands()",
    "return redis.breakpoint()",
    "return redis.log(redis.LOG_WARNING, 'from a script', 1, {})",
    "return redis.acl_check_cmd('get', 'x')",
    "return redis.setresp(3)",
    "math.randomseed(1) return math.random(100)",
    "math.randomseed(7) return {math.random(1, 10), math.random(5), math.random(3, 3)}",
    "math.randomseed(3) return tostring(math.random())",
    "return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(1.5), bit.tobit(2.5)}",
    "return {bit.bnot(0), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.band(-1, 0xff)}",
    "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), "
    "bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.bswap(0x12345678)}",
    "return {bit.tohex(1), bit.tohex(-1), bit.tohex(255, -2), bit.tohex(0x12345678, 4)}",
    "return bit.band()",
    "return bit.band('12', '10')",
    "return bit.tohex(1, 'x')",
    "return string.format('%5.2f|%d|%s', 3.14159, 42, 'x')",
    "return tonumber('0x10')",
    "return tostring(1/0)",
    "return select('#', 1, 2, 3)",
    "return table.getn({1, 2})",
    "return loadstring('return 1+1')()",
    # commands from scripts, replies to Lua
    "return redis.call('set', KEYS[1], ARGV[1])",
    "return redis.call('get', KEYS[1])",
    "return redis.call('incr', KEYS[1])",
    "return redis.pcall('incr', KEYS[1])",
    "return redis.pcall('incr', KEYS[1])['err']",
    "return type(redis.pcall('incr', 'k1'))",
    "redis.call('del', 'l') return redis.call('rpush', 'l', 'x', 'y')",
    "return redis.call('lrange', 'l', 0, -1)",
    "return redis.call('lpop', 'l', 0)",
    "return redis.call('hgetall', 'nohash')",
    "return redis.call('get', 'nokey')",
    "return {redis.call('get', 'nokey'), 1}",
    "return redis.call('ping')",
    "return {redis.call('ping')}",
    "return redis.call('ping', 'x')",
    "return redis.call('exists', KEYS[1], 'zz')",
    "return redis.call('zadd', 'z', 1.5, 'a')",
    "return redis.call('zscore', 'z', 'a')",
    "return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "return redis.call('set', 'n', 2^53) and redis.call('get', 'n')",
    "return redis.call('set', 'n', 0.1) and redis.call('get', 'n')",
    "return redis.call('set', 'n', -0.5e300) and redis.call('get', 'n')",
    "return redis.call('blmpop', 0, 1, 'nolist', 'left')",
    "return redis.call('type', 'nothing')",
    "return redis.call('object', 'encoding', 'z')",
    "return redis.call('incrbyfloat', 'f', '1.5')",
    "return redis.call('lpush', 'z', 'x')",
    "return redis.pcall('lpush', 'z', 'x')",
    "return redis.call('command', 'count') > 0",
    "redis.setresp(3) return redis.call('zscore', 'z', 'a')",
    "redis.setresp(3) return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "redis.setresp(3) return redis.call('get', 'nokey')",
    "redis.setresp(3) return {redis.call('exists', 'z') == 1, redis.call('hgetall', 'nohash')}",
    "redis.call('hset', 'h', 'f', 'v') redis.setresp(3) return redis.call('hgetall', 'h')",
    "redis.setresp(3) return redis.call('smembers', 'nothing')",
    "redis.setresp(3) return {double=2.5}",
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "redis.call('select', 3) redis.call('set', 'in3', 'x') return redis.call('get', 'in3')",
    "return redis.call('get', 'in3')",
]

# The libraries scripts load: cjson, struct, cmsgpack (bit is above).
LIBRARY_SCRIPTS = [
    "return cjson.encode({1,2,{a=1}})",
    "return cjson.encode('a/b\\\\\"\\n\\t\\1\\127é')",
    "return cjson.encode({})",
    "return cjson.encode({[1]=1, [3]=3})",
    "return cjson.encode({[1]=1, [20]=3})",
    "return cjson.encode({a={b={c={}}}, x=true, y=false})",
    "return cjson.encode(1/3)",
    "return cjson.encode(1e300)",
    "return cjson.encode(2^53)",
    "return cjson.encode(1/0)",
    "return cjson.encode(0/0)",
    "return cjson.encode({[1.5]=1})",
    "return cjson.encode({[true]=1})",
    "return cjson.encode(print)",
    "return cjson.encode(redis.call)",
    "return cjson.encode(nil)",
    "return cjson.encode()",
    "return cjson.encode(1, 2)",
    "return cjson.encode(cjson.null)",
    "return cjson.encode({cjson.null, 1})",
    "return cjson.encode({10, 20, nil, 40})",
    "return cjson.encode({a=1, b=2, c=3, d=4, e=5, f=6})",
    "return cjson.encode({[0]=1})",
    "return cjson.encode({['1']=1})",
    "local t = {} t.t = t return cjson.encode(t)",
    "return cjson.decode('[1,2,3]')",
    "return cjson.decode('{\"a\":1}').a",
    "return cjson.decode('\"x\\\\u00e9\\\\ud83d\\\\ude00\"')",
    "return cjson.decode('[1,2,{\"a\":null}]')[3].a == cjson.null",
    "return type(cjson.null)",
    "return cjson.decode('')",
    "return cjson.decode('[')",
    "return cjson.decode('[1,]')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('{1:1}')",
    "return cjson.decode('[1 2]')",
    "return cjson.decode('tru')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('\"\\\\q\"')",
    "return cjson.decode('\"\\\\u12\"')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('0x10')",
    "return cjson.decode('+5')",
    "return cjson.decode('-0')",
    "return cjson.decode('1e5')",
    "return cjson.decode('007')",
    "return cjson.decode('[inf]')",
    "return tostring(cjson.decode('nan'))",
    "return cjson.decode(123)",
    "return cjson.decode(nil)",
    "return cjson.decode()",
    "return cjson.decode('[[[[1]]]]')[1][1][1][1]",
    "return cjson.decode(string.rep('[', 1001))",
    'return cjson.encode(cjson.decode(\'{"k":[1,2,{"x":"y"}],"n":1.5}\'))',
    'return cjson.encode(cjson.decode(\'{"a":1,"b":2,"c":3,"d":4,"e":5}\'))',
    "return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}",
    "return {cjson.encode_sparse_array()}",
    "return cjson.encode_invalid_numbers()",
    "return cjson.decode_invalid_numbers()",
    "return cjson.encode_keep_buffer()",
    "return cjson.encode_number_precision(0)",
    "return cjson.encode_number_precision('x')",
    "return cjson.encode_invalid_numbers('maybe')",
    "return cjson._VERSION .. cjson._NAME",
    "return cjson.decode('\"a\\0b\"')",
    "return cjson.encode({1, 2, 3, nil, nil, nil, nil, nil, nil, nil, nil, nil, 13})",
    'return cjson.decode(\'{"a":1,"a":2}\').a',
    "return cjson.encode({[-1]=1})",
    "return struct.pack('>I2', 258)",
    "return struct.pack('<i', -2)",
    "return struct.pack('bBhHlLiI', 1, 2, 3, 4, 5, 6, 7, 8)",
    "return struct.pack('!4 b i', 1, 2)",
    "return struct.pack('>d', 1.5)",
    "return struct.pack('<f', 1.5)",
    "return struct.pack('c3', 'abcdef')",
    "return struct.pack('c0', 'abc')",
    "return struct.pack('s', 'hi')",
    "return struct.pack('x')",
    "return struct.pack('q', 1)",
    "return struct.pack('i', 'x')",
    "return struct.pack('i')",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('i40', 1)",
    "return struct.pack('!3', 1)",
    "return {struct.unpack('>I2', '\\1\\2')}",
    "return {struct.unpack('<i', struct.pack('<i', -2))}",
    "return {struct.unpack('bBhH', struct.pack('bBhH', -1, 255, -2, 65535))}",
    "return {struct.unpack('s', 'abc\\0def')}",
    "return {struct.unpack('b c0', '\\3abcdef')}",
    "return {struct.unpack('c2', 'abcd', 3)}",
    "return {struct.unpack('i', 'ab')}",
    "return {struct.unpack('i', 'abcd', 0)}",
    "return {struct.unpack('s', 'abc')}",
    "return {struct.unpack('c0', 'abc')}",
    "return {struct.unpack('>d', struct.pack('>d', 3.25))}",
    "return struct.size('i4 b d')",
    "return struct.size('!8 b d')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('y')",
    "return cmsgpack.pack(1, 'a', {1, 2}, {a=1}, true, false)",
    "return cmsgpack.pack(300, -1, -100, -1000, -100000, 2^40, -(2^40), 1.5, 0.1, 1/0)",
    "return cmsgpack.pack({})",
    "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300))",
    "return cmsgpack.pack()",
    "return cmsgpack.pack(cjson.null, print)",
    "return cmsgpack.pack({[1]=1, [3]=3})",
    "return cmsgpack.pack({{{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}}})",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1, 2}, true))}",
    "return cmsgpack.unpack(cmsgpack.pack({a=1, b={c='d'}})).b.c",
    "return {cmsgpack.unpack('\\146\\1\\2')}",
    "return {cmsgpack.unpack('\\129\\161a\\1')}",
    "return {cmsgpack.unpack('\\205\\1')}",
    "return {cmsgpack.unpack('\\193')}",
    "return {cmsgpack.unpack('')}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)}",
    "return {cmsgpack.unpack_one('\\1', 5)}",
    "return {cmsgpack.unpack_limit('\\1', -1)}",
    "return cmsgpack._VERSION",
    "return {cmsgpack.unpack(cmsgpack.pack(-0.5, 2^53, -(2^31), 4294967295))}",
    "return {cmsgpack.unpack('\\211\\255\\255\\255\\255\\255\\255\\255\\255')}",
    "return {cmsgpack.unpack('\\207\\128\\0\\0\\0\\0\\0\\0\\0')}",
    "return cjson.encode(cmsgpack.unpack(cmsgpack.pack({1, 'x', {y = 2}})))",
]

# Replies whose order is a hash table's on the Redis side.
UNORDERED_SCRIPTS = [
    "redis.call('sadd', 's', 'a', 'b', 'c') return redis.call('smembers', 's')",
    "redis.call('hset', 'h3', 'a', 1, 'b', 2) return redis.call('hgetall', 'h3')",
    "return {map={a=1, b=2, c=3}}",
    "return {set={a=true, b=true}}",
]


@pytest.fixture
def sdiff(kdiff: Diff) -> Diff:
    kdiff("SCRIPT", "FLUSH")
    return kdiff


@pytest.mark.parametrize("proto", ["2", "3"])
def test_scripts(sdiff: Diff, proto: str) -> None:
    sdiff.masked("HELLO", proto)
    for script in SCRIPTS + LIBRARY_SCRIPTS:
        sdiff("EVAL", script, "1", "k1", "a1", "a2")
    for script in UNORDERED_SCRIPTS:
        unordered(sdiff, "EVAL", script, "1", "k1", "a1", "a2")


def _raw_reply(sp: ServerProc, *args: Any) -> bytes:
    """A reply read as bytes up to its end (hiredis refuses replies nested this deep)."""
    with socket.create_connection(("127.0.0.1", sp.port), timeout=20) as sock:
        sock.sendall(encode_command(args) + encode_command(("PING",)))
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            chunk = sock.recv(1 << 16)
            assert chunk, data[-200:]
            data += chunk
    return data[: -len(b"+PONG\r\n")]


@pytest.mark.parametrize(
    "script",
    [
        "local t = {} t[1] = t return t",
        "local t = {} local c = t for i = 1, 10000 do c[1] = {} c = c[1] end return t",
        "local t = {} t[1] = {map={}} t[1].map.k = t return t",
        "local t = {} t.set = {} t.set[t] = true return {t}",
    ],
)
def test_replies_nested_past_the_lua_stack(dr: ServerProc, oracle: ServerProc, script: str) -> None:
    """A table holding itself becomes replies nested as deep as Redis's Lua stack goes,
    ending in its `reached lua stack limit` error (it was a RecursionError here)."""
    ours, theirs = (_raw_reply(sp, "EVAL", script, "0") for sp in (dr, oracle))
    assert ours == theirs
    assert dr.client().ping()


def test_error_table_without_message(dr: ServerProc) -> None:
    """error({}) crashes Redis 7.0 (a NULL message); here it is an error reply."""
    client = dr.client()
    with pytest.raises(redis.ResponseError, match="unknown error script: "):
        client.eval("error({})", 0)
    assert client.ping()


def test_script_help_without_debug(dr: ServerProc, oracle: ServerProc) -> None:
    """SCRIPT HELP is Redis's, less SCRIPT DEBUG: the Lua debugger is not implemented."""
    ours = dr.client().execute_command("SCRIPT", "HELP")
    theirs = oracle.client().execute_command("SCRIPT", "HELP")
    assert [line for line in theirs if b"DEBUG" not in line and b"debug mode" not in line] == ours


def test_select_inside_script_stays_inside(sdiff: Diff) -> None:
    for args in (
        ("EVAL", "redis.call('select', 5) return redis.call('set', 'x', 1)", "0"),
        ("GET", "x"),
        ("SELECT", "5"),
        ("GET", "x"),
        ("SELECT", "0"),
    ):
        sdiff(*args)


def test_eval_arguments_and_script_cache(sdiff: Diff) -> None:
    body = "return {KEYS[1], ARGV[1]}"
    sha = sdiff("SCRIPT", "LOAD", body).split(b"\r\n")[1].decode()
    for args in (
        ("EVAL", body, "x"),
        ("EVAL", body, "-1"),
        ("EVAL", body, "2", "a"),
        ("EVAL", body, "0"),
        ("EVAL", body, "1", "a", "b", "c"),
        ("EVAL",),
        ("EVALSHA", sha, "1", "k", "v"),
        ("EVALSHA", sha.upper(), "0"),
        ("EVALSHA", "ffff", "0"),
        ("EVALSHA", "f" * 40, "0"),
        ("EVALSHA", sha, "x"),
        ("SCRIPT", "EXISTS", sha, sha.upper(), "nope", "f" * 40),
        ("SCRIPT", "EXISTS"),
        ("SCRIPT", "LOAD", "syntax error"),
        ("SCRIPT", "LOAD"),
        ("SCRIPT", "NOPE"),
        ("SCRIPT", "KILL"),
        ("SCRIPT", "FLUSH", "BAD"),
        ("SCRIPT", "FLUSH", "ASYNC", "SYNC"),
        ("SCRIPT", "FLUSH", "SYNC"),
        ("SCRIPT", "EXISTS", sha),
        ("EVALSHA", sha, "0"),
        ("SCRIPT", "FLUSH", "ASYNC"),
        ("SCRIPT", "FLUSH"),
        ("SCRIPT", "LOAD", body),
        ("EVALSHA_RO", sha, "1", "r", "o"),
        ("EVAL_RO", body, "1", "a", "b"),
    ):
        sdiff(*args)


def test_read_only_scripts_and_flags(sdiff: Diff) -> None:
    for args in (
        ("EVAL_RO", "return redis.call('set', 'a', 1)", "0"),
        ("EVAL_RO", "return redis.pcall('set', 'a', 1)", "0"),
        ("EVAL_RO", "return redis.call('get', 'a')", "0"),
        ("EVAL_RO", "return redis.call('publish', 'c', 'm')", "0"),
        ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 1)", "0"),
        ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'a')", "0"),
        ("EVAL_RO", "#!lua\nreturn 1", "0"),
        ("EVAL_RO", "#!lua flags=no-writes,allow-oom\nreturn 1", "0"),
        ("EVAL", "#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\nreturn 2", "0"),
        ("EVAL", "#!lua flags=bogus\nreturn 1", "0"),
        ("EVAL", "#!lua", "0"),
        ("EVAL", "#!python\nreturn 1", "0"),
        ("EVAL", "#!lua foo=bar\nreturn 1", "0"),
        ("EVAL", "#!lua\nerror('line two')", "0"),
        ("EVAL", "#!lua flags=\nreturn 3", "0"),
    ):
        sdiff(*args)


def test_scripts_in_transactions(sdiff: Diff) -> None:
    sdiff.raw(b"MULTI\r\n")
    sdiff("EVAL", "return redis.call('incr', 'm')", "0")
    sdiff("EVAL", "return redis.call('nosuch')", "0")
    sdiff("EVAL", "return redis.call('incr', 'm')", "0")
    sdiff("EXEC")
    sdiff("GET", "m")


def test_blocking_pop_in_script_does_not_block(sdiff: Diff) -> None:
    sdiff("EVAL", "return redis.call('blmpop', 1, 1, 'l', 'left')", "0")
    sdiff("RPUSH", "l", "a")
    sdiff("EVAL", "return redis.call('blmpop', 0, 1, 'l', 'left')", "0")


# -- hypothesis: scripts doing random commands through redis.pcall ---------------------
_KEYS = st.sampled_from(["a", "b"])
_VALUES = st.sampled_from(["1", "x", "-2", "2.5", ""])
_COMMANDS = st.one_of(
    st.tuples(st.sampled_from(["set", "append", "getset", "setnx"]), _KEYS, _VALUES),
    st.tuples(
        st.sampled_from(
            [
                "get",
                "incr",
                "decr",
                "del",
                "exists",
                "type",
                "strlen",
                "llen",
                "lpop",
                "rpop",
                "scard",
                "hlen",
                "ttl",
            ]
        ),
        _KEYS,
    ),
    st.tuples(
        st.sampled_from(["incrby", "lpush", "rpush", "sadd", "srem", "expire"]),
        _KEYS,
        st.sampled_from(["1", "3", "x", "100"]),
    ),
    st.tuples(st.just("hset"), _KEYS, _VALUES, _VALUES),
    st.tuples(st.just("lrange"), _KEYS, st.just("0"), st.just("-1")),
    st.tuples(st.just("zadd"), _KEYS, st.sampled_from(["1", "2.5", "x"]), _VALUES),
)


def _lua_call(args: tuple[str, ...]) -> str:
    return "redis.pcall(%s)" % ", ".join("'%s'" % a for a in args)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=st.lists(_COMMANDS, min_size=1, max_size=8), resp=st.sampled_from([2, 3]))
def test_random_scripts(dr: ServerProc, oracle: ServerProc, calls: list[Any], resp: int) -> None:
    d = Diff(dr.raw(), oracle.raw())
    try:
        d("FLUSHALL")
        body = "redis.setresp(%d)\nreturn {%s}" % (resp, ", ".join(_lua_call(c) for c in calls))
        d("EVAL", body, "0")
        d("EVAL", body.replace("return {", "local r = {").replace("}", "} return #r"), "0")
    finally:
        d.ours.close()
        d.theirs.close()


# -- client libraries ------------------------------------------------------------------------
def test_redis_py_lock(dr: ServerProc) -> None:
    """redis-py's Lock runs on Lua scripts: acquire, extend, release across two clients."""
    a, b = dr.client(), dr.client()
    lock_a = a.lock("resource", timeout=30)
    lock_b = b.lock("resource", timeout=30, blocking=False)
    assert lock_a.acquire()
    assert not lock_b.acquire()
    assert lock_a.extend(10)
    assert 30_000 < a.pttl("resource") <= 40_000
    assert lock_a.reacquire()
    with pytest.raises(redis.exceptions.LockNotOwnedError):  # the release script refuses
        lock_b.do_release(b"somebody else's token")
    lock_a.release()
    assert lock_b.acquire()
    assert not lock_a.locked() or lock_b.owned()
    lock_b.release()
    assert not a.exists("resource")


def test_redis_py_lock_contention(dr: ServerProc) -> None:
    """Many threads incrementing under a Lock: no update is lost."""
    client = dr.client()
    client.set("counter", 0)

    def work() -> None:
        c = dr.client()
        for _ in range(20):
            with c.lock("counter-lock", timeout=10, blocking_timeout=30):
                c.set("counter", int(c.get("counter")) + 1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert int(client.get("counter")) == 80


def test_redis_py_register_script(dr: ServerProc) -> None:
    """Script objects load with EVALSHA and fall back to EVAL on NOSCRIPT."""
    client = dr.client()
    incr_expire = client.register_script(
        "local v = redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], ARGV[1]) return v"
    )
    assert [incr_expire(keys=["rate"], args=[60]) for _ in range(3)] == [1, 2, 3]
    client.script_flush()
    assert incr_expire(keys=["rate"], args=[60]) == 4
    assert 0 < client.ttl("rate") <= 60


# -- busy scripts --------------------------------------------------------------------------
def _until_busy(client: redis.Redis) -> str:
    """PING until the server answers BUSY (the script passed busy-reply-threshold)."""
    for _ in range(400):
        try:
            client.ping()
        except redis.exceptions.BusyLoadingError as e:  # redis-py maps BUSY here
            return str(e)
        except redis.ResponseError as e:
            return str(e)
        threading.Event().wait(0.025)
    raise AssertionError("the script never became busy")


BUSY = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."


def test_busy_script_is_killed(dr_factory: Any) -> None:
    sp = dr_factory("--busy-reply-threshold", "100")
    runner = sp.raw()
    runner.send(encode_command(("EVAL", "local i = 0 while true do i = i + 1 end", "0")))
    other = sp.client()
    assert _until_busy(other) == BUSY
    with pytest.raises(redis.ResponseError, match="^" + BUSY.replace(".", r"\.") + "$"):
        other.get("x")
    with pytest.raises(redis.ResponseError, match=r"^unknown command"):
        other.execute_command("NOSUCH")
    meanwhile = sp.raw()  # the connection's own commands are answered meanwhile
    assert meanwhile.command("HELLO", "3").startswith(b"%7\r\n")
    assert meanwhile.command("MULTI") == b"+OK\r\n"
    assert meanwhile.command("GET", "x").startswith(b"-BUSY ")
    assert meanwhile.command("QUIT") == b"+OK\r\n"
    assert other.execute_command("SCRIPT", "KILL") == b"OK"
    reply = runner.reply()
    assert reply.startswith(b"-ERR Script killed by user with SCRIPT KILL... script: ")
    assert other.ping()
    with pytest.raises(redis.ResponseError, match=r"^NOTBUSY No scripts in execution"):
        other.execute_command("SCRIPT", "KILL")
    # A pcall cannot swallow the kill.
    runner.send(
        encode_command(("EVAL", "while true do pcall(function() while true do end end) end", "0"))
    )
    _until_busy(other)
    assert other.execute_command("SCRIPT", "KILL") == b"OK"
    assert runner.reply().startswith(b"-ERR Script killed by user with SCRIPT KILL...")
    assert "Slow script detected" in sp.log()


def test_busy_script_that_wrote_needs_shutdown_nosave(dr_factory: Any) -> None:
    sp = dr_factory("--busy-reply-threshold", "100")
    client = sp.client()
    client.set("kept", "acknowledged")
    runner = sp.raw()
    runner.send(encode_command(("EVAL", "redis.call('set', 'lost', 1) while true do end", "0")))
    other = sp.client()
    _until_busy(other)
    with pytest.raises(redis.ResponseError, match=r"^UNKILLABLE Sorry the script already"):
        other.execute_command("SCRIPT", "KILL")
    with pytest.raises(redis.ResponseError, match="^" + BUSY.replace(".", r"\.") + "$"):
        other.execute_command("SHUTDOWN")
    with pytest.raises(redis.ConnectionError):
        other.execute_command("SHUTDOWN", "NOSAVE")
    assert sp.proc.wait(30) == 0
    again = dr_factory(data_dir=sp.dir)
    c = again.client()
    assert c.get("kept") == b"acknowledged"
    assert c.exists("lost") == 0


def test_script_cache_survives_restart(dr_factory: Any) -> None:
    """A script seen once (EVAL or SCRIPT LOAD) is still cached after a restart -- unlike
    Redis, so that EVALSHA keeps working -- until SCRIPT FLUSH."""
    sp = dr_factory()
    client = sp.client()
    by_eval = "return 'from eval'"
    assert client.eval(by_eval, 0) == b"from eval"
    loaded = client.script_load("return {KEYS[1], ARGV[1]}")
    assert sp.stop() == 0
    again = dr_factory(data_dir=sp.dir)
    c = again.client()
    assert c.evalsha(loaded, 1, "k", "v") == [b"k", b"v"]
    assert c.script_exists(redis_sha1(by_eval), loaded) == [True, True]
    assert "Loaded 2 scripts into the script cache" in again.log()
    c.script_flush()
    assert again.stop() == 0
    third = dr_factory(data_dir=sp.dir)
    with pytest.raises(redis.exceptions.NoScriptError):
        third.client().evalsha(loaded, 1, "k", "v")


def redis_sha1(body: str) -> str:
    import hashlib

    return hashlib.sha1(body.encode()).hexdigest()


# glibc fills freed memory with this byte and Python allocates through glibc: a use of
# freed memory then crashes at once instead of now and then.
FREED_MEMORY_POISONED = {"GLIBC_TUNABLES": "glibc.malloc.perturb=165", "PYTHONMALLOC": "malloc"}
IN_COROUTINES = (
    "for i = 1, 200 do local co = coroutine.create(function() %s end) "
    "coroutine.resume(co) end collectgarbage() collectgarbage() return 1"
)


def test_library_calls_inside_coroutines_outlive_them(dr_factory: Any) -> None:
    """Lua values a library call made or got inside a coroutine (its error table, its
    arguments) are the main state's: once Lua collected the coroutine, freeing them
    crashed the server (CI lost a test server to this, SIGABRT)."""
    sp = dr_factory(env=FREED_MEMORY_POISONED)
    c = sp.client()
    for body in (
        "redis.log('x', 'y')",
        "redis.call('nosuch')",
        "redis.setresp(9)",
        "redis.call('set', 'a', {})",
        "bit.tohex({})",
        "setmetatable({}, 5)",
        "return cmsgpack.unpack(cmsgpack.pack({1, {2}}))",
    ):
        for _ in range(3):
            assert c.eval(IN_COROUTINES % body, 0) == 1, body
    assert c.ping() and sp.alive()


def test_script_memory_is_bounded(dr: ServerProc) -> None:
    """A script asking for more than the Lua memory limit gets "not enough memory" (Redis
    would try to allocate it); the server and the Lua state keep working."""
    client = dr.client()
    assert client.eval("return pcall(string.rep, 'x', 1610612736)", 0) is None  # pcall: false
    with pytest.raises(redis.ResponseError, match="not enough memory"):
        client.eval("return string.rep('x', 1610612736)", 0)
    assert client.eval("return 1 + 1", 0) == 2


_SPIN_300_MS = (
    "local t0 = redis.call('TIME') local t repeat t = redis.call('TIME') until "
    "(t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 "
)


def test_keys_expire_as_of_the_script_start(sdiff: Diff) -> None:
    """A script's clock stands still: a key that expires while it runs is still there
    for it (and gone after), as Redis keeps it for replication's sake."""
    sdiff(
        "EVAL",
        "redis.call('set', KEYS[1], 'v', 'px', 100) "
        + _SPIN_300_MS
        + "return {redis.call('get', KEYS[1]), redis.call('exists', KEYS[1])}",
        "1",
        "sk",
    )
    sdiff("GET", "sk")
    sdiff(
        "EVAL",
        "redis.call('set', KEYS[1], 'v', 'px', 100) "
        + _SPIN_300_MS
        + "return redis.call('del', KEYS[1])",
        "1",
        "sk",
    )


ERROR_COUNTING = [
    "return redis.call('nosuch')",
    "return redis.pcall('nosuch')",
    "return redis.call('incr', 'k3', 'x')",
    "return redis.pcall('set', 'x')",
    "error('x')",
    "return redis.error_reply('MY err')",
    "return {err='OOPS x'}",
    "redis.call('set','s','x') return redis.call('incr','s')",
    "return redis.pcall('incr','s')",
    "return redis.call('client','list')",
    "local ok = pcall(redis.call, 'incr', 's') return 1",
    "return redis.pcall('config', 'set', 'x', 'y')",
    "return redis.call('get', 's', 'x')",
    "return redis.call('hget', 's', 'x')",
    "return redis.call('select', 99)",
]


@pytest.mark.parametrize("script", ERROR_COUNTING)
def test_errors_of_scripts_are_counted_once(sdiff: Diff, script: str) -> None:
    """A refused call counts where it is refused (errorstats and the command's
    rejected_calls), a failed command where it fails, and neither again when the script
    passes the error on."""
    sdiff("CONFIG", "RESETSTAT")
    sdiff("EVAL", script, "0")
    sdiff("INFO", "errorstats")
    stats = []
    for raw in sdiff.both("INFO", "commandstats"):
        stats.append(
            sorted(
                re.sub(rb"usec=\d+,usec_per_call=[\d.]+,", b"", x)
                for x in re.findall(rb"cmdstat_[^:]+:[^\r]+", raw)
            )
        )
    assert stats[0] == stats[1]


@pytest.mark.parametrize("proto", ["2", "3"])
def test_replies_of_every_type_reach_scripts(sdiff: Diff, proto: str) -> None:
    """With DEBUG SET-DISABLE-DENY-SCRIPTS 1 a script may call DEBUG PROTOCOL: every RESP3
    type read by a RESP2 or RESP3 script, returned to a RESP2 or RESP3 client."""
    sdiff.masked("HELLO", proto)
    sdiff("EVAL", "return redis.call('debug', 'protocol', 'map')", "0")  # still refused
    sdiff("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")
    try:
        for resp in ("2", "3"):
            for kind in (
                "bignum",
                "map",
                "set",
                "double",
                "null",
                "verbatim",
                "true",
                "false",
                "attrib",
                "array",
                "integer",
                "string",
            ):
                for script in (
                    "redis.setresp(%s) return redis.call('debug', 'protocol', '%s')",
                    "redis.setresp(%s) return {redis.pcall('debug', 'protocol', '%s')}",
                ):
                    args = ("EVAL", script % (resp, kind), "0")
                    if kind in ("map", "set"):
                        unordered(sdiff, *args)
                    else:
                        sdiff(*args)
        sdiff("EVAL", "redis.setresp(3) return redis.pcall('debug', 'protocol', 'push')", "0")
        sdiff(
            "EVAL",
            "redis.call('set', 'key', 'value', 'PX', '1') "
            "redis.call('debug', 'sleep', 0.01) return redis.call('exists', 'key')",
            "0",
        )
        sdiff("EXISTS", "key")
        sdiff("EVAL", "return redis.call('blpop', 'nolist', '0')", "0")
        sdiff("EVAL", "return redis.call('config', 'get', 'maxmemory')", "0")
    finally:
        sdiff("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")


def test_scripts_never_run_scripts(dr: ServerProc) -> None:
    """Even with DEBUG SET-DISABLE-DENY-SCRIPTS 1, a script may not run a script, a
    transaction or a subscription (redis-server stops on a script inside a script)."""
    c = dr.raw()
    assert c.command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1") == b"+OK\r\n"
    try:
        for call in (
            "'eval', 'return 1', '0'",
            "'fcall', 'f', '0'",
            "'script', 'flush'",
            "'function', 'flush'",
            "'multi'",
            "'subscribe', 'ch'",
            "'monitor'",
            "'shutdown', 'nosave'",
            "'client', 'reply', 'off'",
        ):
            reply = c.command("EVAL", "return redis.pcall(%s)" % call, "0")
            assert reply == b"-ERR This Redis command is not allowed from script\r\n", call
        assert c.command("PING") == b"+PONG\r\n"
    finally:
        c.command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")
