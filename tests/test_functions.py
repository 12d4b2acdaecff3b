"""Redis 7 functions (FUNCTION ..., FCALL, FCALL_RO), differential against redis-server
7.0 on both engines; DUMP/RESTORE payloads carried both ways between the two servers;
libraries surviving a restart; a busy function killed with FUNCTION KILL."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from tests.conftest import Diff, ServerProc, _parse, encode_command
from tests.test_scripting import _until_busy

LIB = (
    "#!lua name=mylib\n"
    "redis.register_function('myfunc', function(keys, args) "
    "return {keys[1], args[1], redis.call('incr', keys[1])} end)\n"
    "redis.register_function{function_name='ro', callback=function(k, a) "
    "return redis.call('get', k[1]) end, flags={'no-writes'}, description='read only'}"
)

STEPS: list[tuple[Any, ...]] = [
    ("FUNCTION", "LOAD", LIB),
    ("FUNCTION", "LOAD", LIB),
    ("FUNCTION", "LOAD", "REPLACE", LIB),
    ("FCALL", "myfunc", "1", "k", "a"),
    ("FCALL", "myfunc", "1", "k", "a"),
    ("FCALL_RO", "ro", "1", "k"),
    ("FCALL_RO", "myfunc", "1", "k", "a"),
    ("FCALL", "nosuch", "0"),
    ("FCALL", "myfunc", "x"),
    ("FCALL", "myfunc", "5"),
    ("FCALL", "myfunc", "-1"),
    ("FCALL",),
    ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "LIST", "BOGUS"),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "LOAD", "no shebang"),
    ("FUNCTION", "LOAD", "#!lua"),
    ("FUNCTION", "LOAD", "#!lua\n"),
    ("FUNCTION", "LOAD", "#!lua name=x y=z\n"),
    ("FUNCTION", "LOAD", "#!lua name=a name=b\n"),
    ("FUNCTION", "LOAD", "#!js name=x\nfoo"),
    ("FUNCTION", "LOAD", "#!lua name=bad-name\n"),
    ("FUNCTION", "LOAD", "#!lua name=empty\nlocal x = 1"),
    ("FUNCTION", "LOAD", "#!lua name=err\nerror('boom')"),
    ("FUNCTION", "LOAD", "#!lua name=err\nsyntax error"),
    ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function()"),
    ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function('a')"),
    ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function(1, 2)"),
    ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function({})"),
    ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function({function_name='x'})"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=err\nredis.register_function({function_name='x', "
        "callback=function() end, flags={'bogus'}})",
    ),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=err\nredis.register_function({function_name='x', "
        "callback=function() end, foo=1})",
    ),
    ("FUNCTION", "LOAD", "#!lua name=err\nredis.register_function('bad name', function() end)"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=err\nredis.register_function('f', function() end) "
        "redis.register_function('f', function() end)",
    ),
    ("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('myfunc', function() end)"),
    ("FUNCTION", "LOAD", "#!lua name=err\nredis.call('ping')"),
    ("FUNCTION", "LOAD", "#!lua name=err\nreturn string.len('x')"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=err\nredis.log(redis.LOG_NOTICE, 'loading') "
        "return redis.REDIS_VERSION .. redis.nope",
    ),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=lib2\nlocal function f(keys, args) error('in func') end "
        "redis.register_function('boom', f) "
        "redis.register_function('rf', function() return redis.register_function "
        "end) redis.register_function('u', function() return x end) "
        "redis.register_function('w', function(k, a) "
        "return redis.call('set', k[1], a[1]) end)",
    ),
    ("FCALL", "boom", "0"),
    ("FCALL", "rf", "0"),
    ("FCALL", "u", "0"),
    ("FCALL", "w", "1", "wk", "v"),
    ("FCALL_RO", "w", "1", "wk", "v"),
    ("GET", "wk"),
    ("FUNCTION", "LOAD", "BOGUS", LIB),
    ("FUNCTION", "LOAD"),
    ("FUNCTION", "LOAD", "REPLACE"),
    ("FUNCTION", "DELETE", "nosuch"),
    ("FUNCTION", "DELETE", "lib2"),
    ("FCALL", "boom", "0"),
    ("FUNCTION", "FLUSH", "BAD"),
    ("FUNCTION", "FLUSH", "SYNC", "X"),
    ("FUNCTION", "RESTORE", "junk"),
    ("FUNCTION", "RESTORE", "x", "BADPOLICY"),
    ("FUNCTION", "RESTORE", "a", "b", "c"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "HELP"),
    ("FUNCTION", "NOPE"),
    ("FUNCTION", "FLUSH", "ASYNC"),
    ("FCALL", "myfunc", "1", "k", "a"),
    # engine and function names are case-insensitive; library names are not
    (
        "FUNCTION",
        "LOAD",
        "#!LUA name=upper\nredis.register_function('MyF', function() return 'mixed' end)",
    ),
    ("FCALL", "MYF", "0"),
    ("FCALL", "myf", "0"),
    ("FCALL_RO", "mYf", "0"),
    ("FUNCTION", "LOAD", "#!Lua name=UPPER\nredis.register_function('myf', function() end)"),
    (
        "FUNCTION",
        "LOAD",
        "#!Lua name=UPPER\nredis.register_function('other', function() return 'other' end)",
    ),
    ("FCALL", "OTHER", "0"),
    ("FUNCTION", "DELETE", "Upper"),
    ("FUNCTION", "DELETE", "upper"),
    ("FCALL", "myf", "0"),
    ("FUNCTION", "STATS"),
    # as many arguments as a script can pass to redis.call
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=wide\nredis.register_function('wide', function(k, a) "
        "local t = {} for i = 1, 7999 do t[i] = i end "
        "return redis.call('rpush', k[1], unpack(t)) end)",
    ),
    ("FCALL", "wide", "1", "widelist"),
    ("LLEN", "widelist"),
    ("LINDEX", "widelist", "-1"),
]


def _listing(raw: bytes) -> Any:
    """FUNCTION LIST with the libraries and each library's functions in a stable order
    (Redis gives them in its hash tables' order)."""
    value = _parse(raw)
    if not isinstance(value, list):
        return value
    out = []
    for lib in value:
        lib = dict(zip(lib[::2], lib[1::2], strict=True))
        lib[b"functions"] = sorted(map(repr, lib[b"functions"]))
        out.append(lib)
    return sorted(out, key=repr)


@pytest.fixture
def fdiff(kdiff: Diff) -> Diff:
    kdiff("FUNCTION", "FLUSH")
    return kdiff


def test_functions(fdiff: Diff) -> None:
    for args in STEPS:
        fdiff(*args)
    fdiff("FUNCTION", "LOAD", LIB)
    for args in (
        ("FUNCTION", "LIST"),
        ("FUNCTION", "LIST", "WITHCODE"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "MY*"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "x*"),
    ):
        ours, theirs = fdiff.both(*args)
        assert _listing(ours) == _listing(theirs), args


@pytest.mark.parametrize("proto", ["2", "3"])
def test_function_replies(fdiff: Diff, proto: str) -> None:
    fdiff.masked("HELLO", proto)
    fdiff(
        "FUNCTION",
        "LOAD",
        "#!lua name=shapes\n"
        "redis.register_function('t', function(k, a) "
        "return {1, 'two', {double=3.5}, true, false} end)\n"
        "redis.register_function('m', function(k, a) redis.setresp(3) "
        "return redis.call('hgetall', 'nohash') end)",
    )
    fdiff("FCALL", "t", "0")
    fdiff("FCALL", "m", "0")
    fdiff("FUNCTION", "STATS")
    fdiff("FUNCTION", "FLUSH")
    fdiff(
        "FUNCTION",
        "LOAD",
        "#!lua name=one\nredis.register_function{function_name='f', "
        "callback=function() return 1 end, "
        "flags={'no-writes', 'allow-stale'}, description='d'}",
    )
    fdiff("FUNCTION", "LIST", "WITHCODE")


def test_dump_and_restore_between_servers(fdiff: Diff, dr: ServerProc, oracle: ServerProc) -> None:
    fdiff("FUNCTION", "LOAD", LIB)
    ours, theirs = dr.client(), oracle.client()
    from_redis = theirs.function_dump()
    from_us = ours.function_dump()
    assert from_us == from_redis  # the code LZF-compressed, as Redis does
    for c in (ours, theirs):
        c.config_set("rdbcompression", "no")
    try:
        assert ours.function_dump() == theirs.function_dump() != from_redis
    finally:
        for c in (ours, theirs):
            c.config_set("rdbcompression", "yes")
    for payload in (from_redis, from_us):
        fdiff("FUNCTION", "RESTORE", payload)  # APPEND: the library exists
        fdiff("FUNCTION", "RESTORE", payload, "REPLACE")
        fdiff("FUNCTION", "RESTORE", payload, "FLUSH")
        fdiff("FCALL", "myfunc", "1", "rk", "x")
        fdiff("FUNCTION", "RESTORE", payload[:-1] + bytes([payload[-1] ^ 1]))
        fdiff("FUNCTION", "RESTORE", payload[:5])


def test_functions_in_transactions_and_from_redis_py(dr: ServerProc) -> None:
    client = dr.client()
    client.function_flush()
    assert client.function_load(LIB) == b"mylib"
    pipe = client.pipeline(transaction=True)
    pipe.fcall("myfunc", 1, "tk", "x")
    pipe.fcall_ro("ro", 1, "tk")
    assert pipe.execute() == [[b"tk", b"x", 1], b"1"]
    assert client.fcall("myfunc", 1, "tk", "y") == [b"tk", b"y", 2]


def test_libraries_survive_restart(dr_factory: Any) -> None:
    sp = dr_factory()
    client = sp.client()
    client.function_load(LIB)
    client.function_load("#!lua name=gone\nredis.register_function('g', function() end)")
    client.function_delete("gone")
    assert sp.stop() == 0
    again = dr_factory(data_dir=sp.dir)
    c = again.client()
    assert c.fcall("myfunc", 1, "rk", "v") == [b"rk", b"v", 1]
    assert [
        dict(zip(lib[::2], lib[1::2], strict=True))[b"library_name"] for lib in c.function_list()
    ] == [b"mylib"]
    assert "Loaded 1 function libraries" in again.log()


def test_busy_function_is_killed(dr_factory: Any) -> None:
    sp = dr_factory("--busy-reply-threshold", "100")
    sp.client().function_load(
        "#!lua name=loop\nredis.register_function('spin', "
        "function() local i = 0 while true do i = i + 1 end end)"
    )
    runner = sp.raw()
    runner.send(encode_command(("FCALL", "spin", "0")))
    other = sp.client()
    assert _until_busy(other) == (
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    )
    with pytest.raises(redis.ResponseError, match=r"^BUSY .* FUNCTION KILL"):
        other.execute_command("SCRIPT", "KILL")
    assert other.execute_command("FUNCTION", "KILL") == b"OK"
    assert runner.reply().startswith(
        b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:"
    )
    assert other.ping()
