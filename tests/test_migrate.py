"""MIGRATE, against redis-server 7.0, on both engines: the same MIGRATE sent from
diskredis and from Redis to the same target gives the same replies, moves the same
keys, and leaves the same keys behind; targets are Redis and diskredis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import (
    Diff,
    ServerProc,
    encode_command,
    free_port,
    start_diskredis,
    start_oracle,
)
from tests.test_dump_restore import snapshot

SIMPLE = ["SET", "s", "v"]


@pytest.fixture(scope="module", params=["redis-target", "diskredis-target"])
def target(request: pytest.FixtureRequest, engine: str) -> Iterator[ServerProc]:
    sp = start_oracle() if request.param == "redis-target" else start_diskredis(engine)
    yield sp
    sp.stop()


def _both(d: Diff, target: ServerProc, *args: Any) -> bytes:
    """Send MIGRATE to the target from both servers; each source's keys land in its own
    database of the target (diskredis: db 1, Redis: db 2), so the runs don't collide."""
    ours = d.ours.command("MIGRATE", "127.0.0.1", target.port, args[0], 1, *args[1:])
    theirs = d.theirs.command("MIGRATE", "127.0.0.1", target.port, args[0], 2, *args[1:])
    assert ours == theirs, "%r:\n  diskredis: %r\n  redis:     %r" % (args, ours, theirs)
    return ours


def _target_same(target: ServerProc) -> None:
    one, two = target.client(db=1), target.client(db=2)
    keys = sorted(one.keys())
    assert keys == sorted(two.keys())
    for k in keys:
        a, b = snapshot(one, k), snapshot(two, k)
        if a[0] == b"stream":  # delivery and seen times: when each source read it
            for info in (a[1], b[1]):
                for g in info["groups"]:
                    g["pending"] = [[i, c, n] for i, c, _, n in g["pending"]]
                    for c in g["consumers"]:
                        c.pop(b"seen-time")
                        c[b"pending"] = [[i, n] for i, _, n in c[b"pending"]]
        assert a == b, k
        assert (one.pttl(k) > 0) == (two.pttl(k) > 0), k


def test_migrate_moves_keys(kdiff: Diff, target: ServerProc) -> None:
    d = kdiff
    target.client(db=1).flushdb()
    target.client(db=2).flushdb()
    d("SET", "s", "v")
    d("SET", "t", "v", "EX", "1000")
    d("RPUSH", "l", "a", "b", "c")
    d("HSET", "h", "f", "v")
    d("ZADD", "z", "1", "a", "2", "b")
    d("SADD", "set", "x", "y")
    d("XADD", "x", "1-1", "f", "v")
    d("XGROUP", "CREATE", "x", "g", "0")
    d("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">")
    assert _both(d, target, "s", "1000") == b"+OK\r\n"
    d("EXISTS", "s")
    assert _both(d, target, "missing", "1000") == b"+NOKEY\r\n"
    _both(d, target, "", "1000", "KEYS", "t", "l", "missing", "h")
    d("EXISTS", "t", "l", "h")
    _both(d, target, "", "1000", "COPY", "KEYS", "z", "set")
    d("EXISTS", "z", "set")
    assert _both(d, target, "z", "1000").startswith(
        b"-ERR Target instance replied with error: BUSYKEY"
    )
    d("EXISTS", "z")
    _both(d, target, "z", "1000", "REPLACE")
    d("EXISTS", "z")
    _both(d, target, "x", "0")  # timeout 0: Redis takes 1000 ms
    _both(d, target, "", "1000", "KEYS", "missing1", "missing2")
    _target_same(target)


def test_migrate_errors(kdiff: Diff, target: ServerProc) -> None:
    d = kdiff
    d("SET", "k", "v")
    closed = free_port()
    for args in [
        ("MIGRATE", "127.0.0.1", target.port, "k", "0", "1000", "KEYS", "a"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "0", "1000", "nope"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "0", "1000", "AUTH"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "0", "1000", "AUTH2", "user"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "x", "1000"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "0", "x"),
        ("MIGRATE", "127.0.0.1", target.port, "missing", "x", "1000"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "0"),
        ("MIGRATE", "127.0.0.1", closed, "k", "0", "1000"),
        ("MIGRATE", "127.0.0.1", "notaport", "k", "0", "1000"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "99", "1000", "COPY"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "0", "1000", "COPY", "AUTH", "pw"),
        ("MIGRATE", "127.0.0.1", target.port, "k", "0", "1000", "COPY", "AUTH2", "u", "pw"),
        ("EXISTS", "k"),
        ("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "0"),
        ("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "0", "AUTH", "KEYS", "KEYS", "a"),
        ("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "0", "COPY", "KEYS", "a", "b"),
    ]:
        d(*args)


def test_migrate_with_a_password(kdiff: Diff, engine: str) -> None:
    d = kdiff
    guarded = start_diskredis(engine, "--requirepass", "secret")
    try:
        d("SET", "k", "v")
        assert _both(d, guarded, "k", "1000", "COPY").startswith(
            b"-ERR Target instance replied with error: NOAUTH"
        )
        assert _both(d, guarded, "k", "1000", "COPY", "AUTH", "bad").startswith(
            b"-ERR Target instance replied with error: WRONGPASS"
        )
        _both(d, guarded, "k", "1000", "COPY", "REPLACE", "AUTH", "secret")
        _both(d, guarded, "k", "1000", "REPLACE", "AUTH2", "default", "secret")
        d("EXISTS", "k")
        for db in (1, 2):
            assert guarded.client(password="secret", db=db).get("k") == b"v"
    finally:
        guarded.stop()


# -- big values: read, encoded and sent on a worker thread ------------------------------
def _big_values(d: Diff) -> None:
    members = [str(x) for i in range(20_000) for x in (i, "m%d" % i)]
    d("ZADD", "z", *members)
    d("HSET", "h", *members)
    d("SET", "s", "x" * (2 << 20))
    d("SET", "small", "v", "EX", "1000")


def test_migrate_of_big_values(kdiff: Diff, target: ServerProc) -> None:
    """Values too big to encode on the lane go the same way as Redis's: the same
    replies, the same keys moved, copied or left."""
    d = kdiff
    target.client(db=1).flushdb()
    target.client(db=2).flushdb()
    _big_values(d)
    assert _both(d, target, "", "5000", "COPY", "KEYS", "z", "h") == b"+OK\r\n"
    d("EXISTS", "z", "h")
    assert _both(d, target, "", "5000", "KEYS", "z", "s", "small").startswith(
        b"-ERR Target instance replied with error: BUSYKEY"
    )
    d("EXISTS", "z", "s", "small")
    assert _both(d, target, "", "5000", "REPLACE", "KEYS", "z", "h") == b"+OK\r\n"
    d("EXISTS", "z", "h")
    _target_same(target)


@pytest.mark.parametrize("change", ["write", "delete"])
def test_a_big_value_changed_while_it_migrates(dr: ServerProc, change: str) -> None:
    """A key written by another client while its value is on the way to the target is
    migrated again, on the lane, with REPLACE: the target ends with the newer value and
    the source without the key. One deleted meanwhile gets NOKEY, and the target keeps
    the copy it took (nothing tells it is still that copy: never delete there). The
    target holds the first RESTORE (CLIENT PAUSE WRITE) until the change is made."""
    c = dr.client()
    c.delete("z")
    c.zadd("z", {"m%d" % i: i for i in range(20_000)})
    target = start_oracle()
    try:
        t = target.client()
        assert t.client_pause(30_000, all=False)
        calls = c.info("commandstats").get("cmdstat_migrate", {}).get("calls", 0)
        migrator = dr.raw(timeout=60)
        migrator.send(encode_command(["MIGRATE", "127.0.0.1", target.port, "z", 0, 20_000]))
        deadline = time.monotonic() + 30
        while c.info("commandstats").get("cmdstat_migrate", {}).get("calls", 0) == calls:
            assert time.monotonic() < deadline, "MIGRATE did not start"
            time.sleep(0.005)
        if change == "write":
            assert c.zadd("z", {"extra": -1}) == 1
        else:
            assert c.delete("z") == 1
        assert t.client_unpause()
        if change == "write":
            assert migrator.reply() == b"+OK\r\n"
            assert t.zcard("z") == 20_001 and t.zscore("z", "extra") == -1
        else:
            assert migrator.reply() == b"+NOKEY\r\n"
            assert t.zcard("z") == 20_000
        assert c.exists("z") == 0
    finally:
        target.stop()
