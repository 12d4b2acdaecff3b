"""Client-side caching (CLIENT TRACKING): each scenario runs on diskredis and on the real
redis-server and every byte its clients receive is compared (client ids masked): RESP3
invalidation pushes, RESP2 redirection to a client subscribed to __redis__:invalidate,
BCAST with prefixes, OPTIN/OPTOUT with CLIENT CACHING, NOLOOP, scripts, transactions,
blocked clients, expiry, flushes, tracking-table-max-keys, CLIENT TRACKINGINFO/GETREDIR,
INFO's tracking fields. Then redis-py's own client-side cache against diskredis."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import redis
from redis.cache import CacheConfig

from tests.conftest import RawClient, ServerProc, _mask

Scenario = Callable[[ServerProc, list[bytes]], None]


class _Log:
    """What the scenario's clients receive, in order."""

    def __init__(self, out: list[bytes]) -> None:
        self.out = out

    def __call__(self, c: RawClient, *args: Any, ids: bool = False) -> bytes:
        """Send `args` (none: read what comes next); `ids`: the integers in the reply are
        client ids, which differ between the servers."""
        reply = c.command(*args) if args else c.reply()
        masked = _mask(reply)
        self.out.append(re.sub(rb":\d+\r\n", b":?\r\n", masked) if ids else masked)
        return reply

    def tracking_info(self, c: RawClient, section: str) -> None:
        """The tracking_* fields of an INFO section."""
        self.out.append(b"".join(re.findall(rb"tracking_\w+:\d+\r\n", c.command("INFO", section))))


def _client(sp: ServerProc, resp: int = 2) -> tuple[RawClient, int]:
    c = RawClient(sp.port, timeout=10)
    cid = int(c.command("CLIENT", "ID")[1:-2])
    if resp == 3:
        c.command("HELLO", "3")
    return c, cid


def _run(dr: ServerProc, oracle: ServerProc, scenario: Scenario) -> None:
    logs: list[list[bytes]] = []
    for sp in (dr, oracle):
        admin = sp.raw()
        admin.command("FLUSHALL")
        admin.command("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        log: list[bytes] = []
        scenario(sp, log)
        logs.append(log)
    ours, theirs = logs
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, "reply %d:\n  diskredis: %r\n  redis:     %r" % (i, a, b)


def _basic(sp: ServerProc, out: list[bytes]) -> None:
    log = _Log(out)
    a, _ = _client(sp, 3)
    other, _ = _client(sp)
    log(a, "CLIENT", "TRACKING", "on")
    log(a, "GET", "k1")
    log(a, "MGET", "k2", "k3")
    log(a, "HSET", "h", "f", "1")
    log(a, "HGET", "h", "f")
    log(other, "SET", "k1", "v")
    log(a, "PING")  # the invalidation came first
    log(a)
    log(a, "SET", "k2", "x")  # its own key: the invalidation after the reply
    log(a)
    log(a, "HDEL", "h", "f")
    log(a)
    log(a, "CLIENT", "TRACKINGINFO")
    log(a, "CLIENT", "GETREDIR")
    log(a, "CLIENT", "INFO")
    log(other, "CLIENT", "TRACKINGINFO")
    log(other, "CLIENT", "GETREDIR")
    log.tracking_info(a, "clients")
    log(a, "GET", "k3")
    log(a, "FLUSHDB")
    log(a)
    log(a, "CLIENT", "TRACKING", "off")
    log(a, "CLIENT", "TRACKINGINFO")
    for args in (
        ("CLIENT", "TRACKING", "on", "REDIRECT", "999999"),
        ("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
        ("CLIENT", "TRACKING", "maybe"),
        ("CLIENT", "TRACKING", "on", "bogus"),
        ("CLIENT", "TRACKING", "on", "REDIRECT", "x"),
        ("CLIENT", "TRACKING", "on", "PREFIX", "p"),
        ("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
        ("CLIENT", "CACHING", "yes"),
        ("CLIENT", "CACHING"),
        ("CLIENT", "TRACKING"),
    ):
        log(a, *args)


def _redirect(sp: ServerProc, out: list[bytes]) -> None:
    log = _Log(out)
    sub, sub_id = _client(sp)
    log(sub, "SUBSCRIBE", "__redis__:invalidate")
    a, _ = _client(sp)
    b, _ = _client(sp, 3)
    writer, _ = _client(sp)
    log(a, "CLIENT", "TRACKING", "on", "REDIRECT", sub_id, "NOLOOP")
    log(b, "CLIENT", "TRACKING", "on", "REDIRECT", sub_id)
    log(a, "GET", "r1")
    log(a, "GET", "r2")
    log(b, "GET", "r1")
    log(writer, "SET", "r1", "x")  # two clients tracked it: two messages
    log(sub)
    log(sub)
    log(a, "SET", "r2", "y")  # NOLOOP: not for a's own write
    log(writer, "SET", "r1", "again")  # no longer tracked
    log(a, "GET", "r1")
    log(writer, "DEL", "r1")
    log(sub)
    log(a, "FLUSHALL")  # null messages for both, through the redirection
    log(sub)
    log(sub)
    log(sub, "UNSUBSCRIBE")
    # the redirection goes: RESP3 gets tracking-redir-broken, RESP2 nothing
    log(b, "GET", "r3")
    sub.command("QUIT")
    sub.close()
    for _ in range(1000):
        if b"id=%d " % sub_id not in writer.command("CLIENT", "LIST"):
            break
    log(writer, "SET", "r3", "z")
    log(b, "PING", ids=True)
    log(b)
    log(b, "CLIENT", "TRACKINGINFO", ids=True)
    log(b, "CLIENT", "LIST", "ID", int(b.command("CLIENT", "ID")[1:-2]))


def _bcast(sp: ServerProc, out: list[bytes]) -> None:
    log = _Log(out)
    a, _ = _client(sp, 3)
    n, _ = _client(sp, 3)
    writer, _ = _client(sp)
    log(a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:")
    log(a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:x")
    log(a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX", "xy")
    log(a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:")  # adds a prefix
    log(a, "CLIENT", "TRACKING", "on")  # no switching modes
    log(n, "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP")  # every key
    log(writer, "MSET", "a:2", "1", "a:1", "2", "b:1", "3", "z", "4")
    log(a)
    log(a)
    log(n)
    log(n, "SET", "c:own", "1")  # NOLOOP: n hears nothing of its own write
    log(a)
    log(n, "PING")
    log(a, "CLIENT", "TRACKINGINFO")
    log(a, "CLIENT", "INFO")
    log.tracking_info(a, "stats")
    log(a, "CLIENT", "TRACKING", "off")
    log(a, "CLIENT", "TRACKING", "on")
    log(a, "GET", "plain")
    log(a, "CLIENT", "TRACKING", "off")
    log(a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "q:")
    log(writer, "SET", "plain", "1")  # remembered before BCAST: no message now
    log(writer, "SET", "q:1", "1")
    log(a)


def _optin_optout(sp: ServerProc, out: list[bytes]) -> None:
    log = _Log(out)
    a, _ = _client(sp, 3)
    writer, _ = _client(sp)
    log(a, "CLIENT", "TRACKING", "on", "OPTIN")
    log(a, "CLIENT", "CACHING", "no")
    log(a, "GET", "o1")  # not remembered
    log(a, "CLIENT", "CACHING", "yes")
    log(a, "CLIENT", "TRACKINGINFO")
    log(a, "GET", "o2")  # remembered, and CACHING is used up
    log(a, "CLIENT", "TRACKINGINFO")
    log(a, "GET", "o3")
    log(a, "CLIENT", "CACHING", "yes")
    log(a, "MULTI")
    log(a, "GET", "o4")
    log(a, "GET", "o5")
    log(a, "EXEC")  # the whole transaction is remembered
    log(writer, "MSET", "o1", "1", "o2", "1", "o3", "1", "o4", "1", "o5", "1")
    log(a)
    log(a)
    log(a)
    log(a, "PING")
    log(a, "CLIENT", "TRACKING", "on", "OPTOUT")
    log(a, "CLIENT", "TRACKING", "off")
    log(a, "CLIENT", "TRACKING", "on", "OPTOUT")
    log(a, "GET", "p1")
    log(a, "CLIENT", "CACHING", "no")
    log(a, "CLIENT", "TRACKINGINFO")
    log(a, "GET", "p2")
    log(writer, "MSET", "p1", "1", "p2", "1")
    log(a)
    log(a, "PING")


def _scripts_and_transactions(sp: ServerProc, out: list[bytes]) -> None:
    log = _Log(out)
    a, _ = _client(sp, 3)
    writer, _ = _client(sp)
    log(a, "CLIENT", "TRACKING", "on")
    # a script remembers its declared keys, and only when it runs a read
    log(a, "EVAL", "redis.call('set', 'key3', 'bar')", 2, "key1", "key2")
    log(writer, "MSET", "key2", "2", "key1", "2")
    log(a, "EVAL", "redis.call('get', 'key3')", 2, "key1", "key2")
    log(writer, "MSET", "key2", "2", "key1", "2")
    log(a)
    log(a)
    log(a, "EVAL_RO", "redis.call('ping')", 2, "key1", "key2")
    log(writer, "MSET", "key2", "2", "key1", "2")
    log(a, "EVAL_RO", "redis.call('get', 'key1')", 2, "key1", "key2")
    log(writer, "MSET", "key2", "3", "key1", "3")
    log(a)
    log(a)
    log(a, "PING")
    # own invalidations come after the transaction's reply
    log(a, "MSET", "t1", "1", "t2", "2")
    log(a, "GET", "t1")
    log(a, "MULTI")
    log(a, "INCR", "t1")
    log(a, "GET", "t2")
    log(a, "EXEC")
    log(a)
    log(a, "MULTI")
    log(a, "GET", "t2")
    log(a, "FLUSHDB")
    log(a, "EXEC")
    log(a)
    log(a, "CLIENT", "TRACKING", "off")
    log(a, "CLIENT", "TRACKING", "on", "NOLOOP")
    log(a, "SET", "key1", "1")
    log(a, "GET", "key1")
    log(a, "EVAL", "return redis.call('set', 'key1', '2')", 1, "key1")
    log(a, "GET", "key1")


def _blocked_and_expired(sp: ServerProc, out: list[bytes]) -> None:
    log = _Log(out)
    writer, _ = _client(sp)
    log(writer, "RPUSH", "list2", "a")
    w, _ = _client(sp, 3)
    log(w, "CLIENT", "TRACKING", "on")
    log(w, "LRANGE", "list2", 0, -1)
    blocked, _ = _client(sp, 3)
    log(blocked, "CLIENT", "TRACKING", "on")
    log(blocked, "LRANGE", "list2", 0, -1)
    waiter = blocked_client_on(sp, blocked, "BLMOVE", "list1", "list2", "LEFT", "LEFT", 0)
    log(writer, "RPUSH", "list1", "foo")
    log(waiter)  # the BLMOVE reply, then the invalidation of its own key
    log(waiter)
    log(w)
    # lazy expiry
    log(writer, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
    log(w, "SET", "y", "2", "PX", "100")
    log(w, "SET", "clock", "2", "PX", "100")  # expires with y: polled instead of y
    log(w, "GET", "y")
    for _ in range(10_000):
        if writer.command("EXISTS", "clock") == b":0\r\n":
            break
    log(w, "MGET", "x", "y")  # y expires now: its invalidation follows the reply
    log(w)
    log(writer, "DEBUG", "SET-ACTIVE-EXPIRE", "1")


def blocked_client_on(sp: ServerProc, c: RawClient, *args: Any) -> RawClient:
    """`c` sends `args` and waits (CLIENT LIST shows flags=b)."""
    cid = int(c.command("CLIENT", "ID")[1:-2])
    c.send(
        b"*%d\r\n" % len(args)
        + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a)
            for a in (x if isinstance(x, bytes) else str(x).encode() for x in args)
        )
    )
    admin = sp.raw()
    for _ in range(100_000):
        if b"b" in re.search(rb"flags=(\S+)", admin.command("CLIENT", "LIST", "ID", cid)).group(1):  # type: ignore[union-attr]
            return c
    raise AssertionError("never blocked")


def _table_limit(sp: ServerProc, out: list[bytes]) -> None:
    log = _Log(out)
    rd, _ = _client(sp, 3)
    log(rd, "CLIENT", "TRACKING", "on")
    log(rd, "MGET", "1{tag}", "2{tag}")
    log.tracking_info(rd, "stats")
    log(rd, "MULTI")
    admin = sp.raw()
    log(admin, "CONFIG", "SET", "tracking-table-max-keys", "1")
    rd.send(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nEXEC\r\n")
    first = rd.reply()
    assert first.startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\n"), first
    out.append(b"invalidation of one of the two keys")
    log(rd)  # QUEUED
    log(rd)  # the EXEC
    log(admin, "CONFIG", "SET", "tracking-table-max-keys", "1000000")


SCENARIOS = [
    _basic,
    _redirect,
    _bcast,
    _optin_optout,
    _scripts_and_transactions,
    _blocked_and_expired,
    _table_limit,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
def test_tracking_as_redis(dr: ServerProc, oracle: ServerProc, scenario: Scenario) -> None:
    _run(dr, oracle, scenario)


def test_info_counts_follow_the_table(dr: ServerProc) -> None:
    a, _ = _client(dr, 3)
    a.command("FLUSHALL")
    a.command("CLIENT", "TRACKING", "on")
    a.command("MGET", "i1", "i2", "i3")
    b, _ = _client(dr, 3)
    b.command("CLIENT", "TRACKING", "on")
    b.command("GET", "i1")
    stats = a.command("INFO", "stats")
    assert b"tracking_total_keys:3\r\n" in stats
    assert b"tracking_total_items:4\r\n" in stats
    assert b"tracking_clients:2\r\n" in a.command("INFO", "clients")
    b.close()
    dr.raw().command("SET", "i1", "x")
    assert a.reply() == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\ni1\r\n"
    stats = a.command("INFO", "stats")
    assert b"tracking_total_keys:2\r\n" in stats and b"tracking_total_items:2\r\n" in stats
    for _ in range(1000):
        if b"tracking_clients:1\r\n" in a.command("INFO", "clients"):
            break
    assert b"tracking_clients:1\r\n" in a.command("INFO", "clients")


def test_redis_py_client_side_cache(
    dr: ServerProc, oracle: ServerProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py's own client-side cache (RESP3, cache_config) sees other clients'
    writes: a cached read is dropped when the key changes or the database is flushed.
    redis-py turns its cache on only for servers that say they are 7.4 or later, real
    Redis 7.0 included, although tracking is Redis 6.0's: the test lowers that bar and
    runs the same steps on both servers."""
    monkeypatch.setattr(redis.connection.CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")
    for sp in (dr, oracle):
        _client_side_cache(sp)


def _client_side_cache(sp: ServerProc) -> None:
    cached = redis.Redis(port=sp.port, protocol=3, cache_config=CacheConfig(), socket_timeout=20)
    writer = sp.client()
    writer.delete("csc", "csch")
    writer.set("csc", "one")
    assert cached.get("csc") == b"one"
    assert cached.get("csc") == b"one"  # from the cache now
    cache = cached.get_cache()
    assert cache is not None and cache.size == 1
    writer.set("csc", "two")
    for _ in range(1000):  # the invalidation is read with the next command
        if cached.get("csc") == b"two":
            break
    assert cached.get("csc") == b"two"
    writer.hset("csch", "f", "1")
    assert cached.hget("csch", "f") == b"1"
    writer.hset("csch", "f", "2")
    for _ in range(1000):
        if cached.hget("csch", "f") == b"2":
            break
    assert cached.hget("csch", "f") == b"2"
    writer.flushdb()
    for _ in range(1000):
        if cached.get("csc") is None:
            break
    assert cached.get("csc") is None
    cached.close()
