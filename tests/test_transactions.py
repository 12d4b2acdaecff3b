"""MULTI/EXEC/DISCARD/WATCH/UNWATCH, differential against redis-server 7.0 on both
engines, with two clients where WATCH needs another writer, and redis-py's own use of
them (pipelines with transaction=True, WATCH retry loops)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from tests.conftest import Diff, RawClient, ServerProc, run_steps

SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "basics": [
        ("EXEC",),
        ("DISCARD",),
        ("MULTI",),
        ("MULTI",),
        ("SET", "a", "1"),
        ("INCR", "a"),
        ("GET", "a"),
        ("LPUSH", "a", "x"),
        ("EXEC",),
        ("GET", "a"),
        ("EXEC",),
        ("MULTI",),
        ("EXEC",),
        ("MULTI",),
        ("SET", "b", "1"),
        ("DISCARD",),
        ("EXISTS", "b"),
        ("UNWATCH",),
        ("WATCH", "a"),
        ("UNWATCH",),
        ("WATCH",),
    ],
    "queue-errors-abort": [
        ("MULTI",),
        ("SET", "a", "1"),
        ("NOSUCHCOMMAND", "x"),
        ("SET", "b", "2"),
        ("EXEC",),
        ("EXISTS", "a", "b"),
        ("MULTI",),
        ("GET",),
        ("SET", "a", "1"),
        ("EXEC",),
        ("EXISTS", "a"),
        ("MULTI",),
        ("SAVE",),
        ("EXEC",),
        ("MULTI",),
        ("SHUTDOWN",),
        ("DISCARD",),
        ("MULTI",),
        ("WATCH", "a"),
        ("SET", "a", "1"),
        ("EXEC",),
        ("GET", "a"),
    ],
    "blocking-inside": [
        ("MULTI",),
        ("BLPOP", "none", "0"),
        ("BRPOPLPUSH", "none", "x", "0"),
        ("BZPOPMIN", "none", "0"),
        ("RPUSH", "l", "v"),
        ("BLPOP", "l", "0"),
        ("EXEC",),
    ],
    "nested-replies": [
        ("RPUSH", "l", "1", "2"),
        ("MULTI",),
        ("LRANGE", "l", "0", "-1"),
        ("HGETALL", "h"),
        ("ZADD", "z", "1.5", "m"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("GET", "none"),
        ("EXEC",),
    ],
    "watch-own-writes": [
        ("SET", "k", "1"),
        ("WATCH", "k"),
        ("SET", "k", "2"),
        ("MULTI",),
        ("GET", "k"),
        ("EXEC",),
        ("WATCH", "k"),
        ("MULTI",),
        ("SET", "k", "3"),
        ("EXEC",),
        ("GET", "k"),
        ("WATCH", "k", "other"),
        ("DEL", "other"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("WATCH", "k"),
        ("UNWATCH",),
        ("SET", "k", "9"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("WATCH", "k"),
        ("FLUSHALL",),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("WATCH", "gone"),
        ("FLUSHALL",),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("SET", "s", "1"),
        ("WATCH", "s"),
        ("SWAPDB", "0", "1"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("SWAPDB", "0", "1"),
        ("WATCH", "s"),
        ("EXPIRE", "s", "100"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("WATCH", "s"),
        ("HSET", "h", "f", "v"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("WATCH", "nope"),
        ("SET", "nope", "x"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(kdiff: Diff, name: str) -> None:
    run_steps(kdiff, SCENARIOS[name], set())


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_shapes(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    for args in (
        ("SET", "w", "1"),
        ("WATCH", "w"),
        ("SET", "w", "2"),
        ("MULTI",),
        ("GET", "w"),
        ("EXEC",),
        ("MULTI",),
        ("ZADD", "z", "1", "a"),
        ("ZSCORE", "z", "a"),
        ("HGETALL", "none"),
        ("EXEC",),
        ("MULTI",),
        ("FOO",),
        ("EXEC",),
    ):
        kdiff(*args)
    kdiff.masked("HELLO", "2")


def _two(dr: ServerProc, oracle: ServerProc) -> tuple[Diff, Diff]:
    first, second = Diff(dr.raw(), oracle.raw()), Diff(dr.raw(), oracle.raw())
    first("FLUSHALL")
    return first, second


def test_another_clients_write_aborts_exec(dr: ServerProc, oracle: ServerProc) -> None:
    a, b = _two(dr, oracle)
    a("SET", "k", "1")
    a("WATCH", "k", "untouched")
    b("SET", "k", "2")
    a("MULTI")
    a("SET", "k", "mine")
    a("EXEC")  # nil: k changed since WATCH
    a("GET", "k")
    a("WATCH", "k")
    b("GET", "k")  # reads do not count
    b("SET", "unrelated", "x")
    a("MULTI")
    a("INCR", "counter")
    a("EXEC")
    a("WATCH", "list")
    b("RPUSH", "list", "x")
    a("MULTI")
    a("PING")
    a("EXEC")


def test_watched_key_expiring_aborts_exec(dr: ServerProc, oracle: ServerProc) -> None:
    a, b = _two(dr, oracle)
    a("SET", "t", "1", "PX", "1")
    a("SET", "u", "1")
    a("WATCH", "u")
    b("PEXPIRE", "u", "1")
    for d in (dr, oracle):  # both servers see the deadline pass
        c = RawClient(d.port)
        while c.command("PTTL", "u") != b":-2\r\n":
            pass
    a("MULTI")
    a("PING")
    a("EXEC")  # nil


def test_client_list_flags(dr: ServerProc) -> None:
    c, other = dr.raw(), dr.raw()
    my_id = int(c.command("CLIENT", "ID")[1:-2])
    c.command("WATCH", "f")
    other.command("SET", "f", "changed")
    c.command("MULTI")
    line = other.command("CLIENT", "LIST", "ID", my_id)
    assert b"flags=xd " in line
    assert c.command("EXEC") == b"*-1\r\n"
    assert b"flags=N " in other.command("CLIENT", "LIST", "ID", my_id)


def test_reset_and_disconnect_forget_the_transaction(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("WATCH", "r")
    c.command("MULTI")
    c.command("SET", "r", "1")
    assert c.command("RESET") == b"+RESET\r\n"
    assert c.command("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert c.command("EXISTS", "r") == b":0\r\n"
    gone = dr.raw()
    gone.command("WATCH", "r", "s")
    gone.close()
    c.command("SET", "r", "2")  # a write after the watcher left disturbs no one
    assert c.command("GET", "r") == b"$1\r\n2\r\n"


def test_exec_wakes_blocked_clients_after_the_transaction(dr: ServerProc) -> None:
    from tests.test_blocking import _block

    c = dr.raw()
    c.command("DEL", "q", "zq")
    waiter = _block(dr, "BLPOP", "q", "0")
    zwaiter = _block(dr, "BZPOPMIN", "zq", "0")
    c.command("MULTI")
    c.command("RPUSH", "q", "a")
    c.command("LPOP", "q")  # the transaction sees its own push and takes it back
    c.command("RPUSH", "q", "b")
    c.command("ZADD", "zq", "1", "m")
    assert c.command("EXEC") == b"*4\r\n:1\r\n$1\r\na\r\n:1\r\n:1\r\n"
    assert waiter.reply() == b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n"
    assert zwaiter.reply() == b"*3\r\n$2\r\nzq\r\n$1\r\nm\r\n$1\r\n1\r\n"


def test_redis_py_pipeline_and_watch_retry(dr: ServerProc) -> None:
    c = dr.client()
    c.delete("balance", "log")
    c.set("balance", 100)
    with c.pipeline(transaction=True) as pipe:
        pipe.decrby("balance", 30).rpush("log", "spent 30").get("balance")
        assert pipe.execute() == [70, 1, b"70"]
    other = dr.client()
    attempts = 0

    def spend(pipe: Any) -> None:
        nonlocal attempts
        attempts += 1
        value = int(pipe.get("balance"))
        if attempts == 1:
            other.incrby("balance", 5)  # a concurrent writer: the first EXEC must fail
        pipe.multi()
        pipe.set("balance", value - 10)

    c.transaction(spend, "balance")
    assert attempts == 2 and c.get("balance") == b"65"
    with pytest.raises(redis.exceptions.ResponseError), c.pipeline(transaction=True) as pipe:
        pipe.set("x", 1).execute_command("NOSUCH").execute()
    assert c.exists("x") == 0


def test_refusals_around_transactions(kdiff: Diff) -> None:
    """What a transaction refuses (SAVE, SHUTDOWN: not allowed inside), queues (CONFIG SET
    with a bad value: its error is in EXEC's reply), answers inside EXEC (BGSAVE and
    BGREWRITEAOF are "scheduled"), and a refused EXEC, in MULTI or not, which discards
    the transaction with EXECABORT."""
    for seq in [
        [("CONFIG", "RESETSTAT")],
        [("MULTI",), ("SAVE",), ("SET", "x", "1"), ("EXEC",)],
        [("MULTI",), ("SHUTDOWN",), ("EXEC",)],
        [
            ("MULTI",),
            ("CONFIG", "SET", "maxmemory", "xyz"),
            ("CONFIG", "SET", "nosuch", "1"),
            ("SET", "y", "1"),
            ("EXEC",),
        ],
        [("MULTI",), ("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-policy", "bad"), ("EXEC",)],
        [("MULTI",), ("BGSAVE",), ("BGREWRITEAOF",), ("EXEC",)],
        [("EXEC", "x")],
        [("MULTI",), ("EXEC", "x"), ("EXEC",)],
        [("MULTI",), ("SUBSCRIBE", "x"), ("EXEC",), ("MULTI",), ("EXEC",), ("RESET",)],
        [("INFO", "errorstats")],
    ]:
        for args in seq:
            kdiff(*args)


def test_swapdb_and_stale_keys_under_watch(kdiff: Diff) -> None:
    """SWAPDB touches a watched key only when what a client can see changes: a missing
    key replaced by an expired one, or an expired one by another, is no change."""
    kdiff("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for setup in (
            [("SELECT", "0"), ("SET", "x", "foo", "PX", "1")],
            [
                ("SELECT", "0"),
                ("SET", "x", "foo", "PX", "1"),
                ("SELECT", "1"),
                ("SET", "x", "bar", "PX", "1"),
            ],
            [("SELECT", "0"), ("SET", "x", "foo")],
        ):
            kdiff("FLUSHALL")
            for args in setup:
                kdiff(*args)
            threading.Event().wait(0.005)  # past the keys' 1 ms
            kdiff("SELECT", "1")
            kdiff("WATCH", "x")
            kdiff("SWAPDB", "0", "1")
            kdiff("MULTI")
            kdiff("PING")
            kdiff("EXEC")
    finally:
        kdiff("SELECT", "0")
        kdiff("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_min_replicas_to_write_refuses_writes(
    kdiff: Diff, dr: ServerProc, oracle: ServerProc
) -> None:
    """min-replicas-to-write > 0 with no replica: every write is refused (NOREPLICAS):
    plain commands, queued ones (EXEC aborts), scripts that may write, functions; reads
    and no-writes scripts go on. Also set while a transaction is queued (Redis's
    "exec with write commands and state change")."""
    kdiff("FLUSHALL")
    kdiff("FUNCTION", "FLUSH")
    kdiff(
        "FUNCTION",
        "LOAD",
        "#!lua name=nr\nredis.register_function('w', function(k) "
        "return redis.call('set', k[1], 1) end)",
    )
    kdiff("SET", "x", "some value")
    kdiff("SET", "xx", "1")
    kdiff("MULTI")
    kdiff("INCR", "xx")
    try:
        for sp in (dr, oracle):  # from another client, as in Redis's test
            other = sp.raw()
            assert other.command("CONFIG", "SET", "min-replicas-to-write", "2") == b"+OK\r\n"
            other.close()
        for args in (
            ("EXEC",),
            ("GET", "xx"),
            ("SET", "x", "1"),
            ("GET", "x"),
            ("PING",),
            ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','x')", "1", "x"),
            ("EVAL", "return redis.call('get','x')", "1", "x"),
            ("EVAL", "#!lua\nreturn redis.call('get','x')", "1", "x"),
            ("EVAL", "return redis.call('set','x', 1)", "1", "x"),
            ("EVAL", "return redis.pcall('set','x', 1)", "1", "x"),
            ("FCALL", "w", "1", "x"),
            ("FUNCTION", "DELETE", "nr"),
            ("FLUSHALL",),
            ("MULTI",),
            ("SET", "x", "2"),
            ("EXEC",),
            ("MULTI",),
            ("GET", "x"),
            ("EXEC",),
            ("CONFIG", "SET", "min-replicas-max-lag", "0"),
            ("SET", "x", "3"),
            ("CONFIG", "SET", "min-replicas-max-lag", "10"),
            ("DEL", "x"),
        ):
            kdiff(*args)
    finally:
        kdiff("CONFIG", "SET", "min-replicas-to-write", "0")
    kdiff("DEL", "x")
    kdiff("FUNCTION", "FLUSH")
