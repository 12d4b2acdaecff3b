"""The data types' semantics, in-process (tests/inproc.py): no server, an exact clock.

Deadlines are checked to the millisecond (a key is expired once the clock is past its
deadline, as Redis's keyIsExpired: `now > when`), stream IDs come from the clock, and
every command runs on both engines.
"""

from __future__ import annotations

import pytest

from diskredis.errors import RedisError
from tests.inproc import START_MS, Clock, Node


def test_a_key_expires_once_the_clock_is_past_its_deadline(node: Node, clock: Clock) -> None:
    assert node.run("SET", "k", "v", "PX", 100) == "OK"
    clock.advance(99)
    assert node.run("PTTL", "k") == 1
    clock.advance(1)  # now == deadline: not expired yet
    assert node.run("PTTL", "k") == 0
    assert node.run("GET", "k") == b"v"
    clock.advance(1)
    assert node.run("GET", "k") is None
    assert node.run("PTTL", "k") == -2
    assert node.run("EXISTS", "k") == 0


def test_expire_options_and_times_are_exact(node: Node, clock: Clock) -> None:
    node.run("SET", "k", "v")
    assert node.run("EXPIRETIME", "k") == -1
    assert node.run("EXPIRE", "k", 100, "XX") == 0  # no TTL yet
    assert node.run("EXPIRE", "k", 100, "NX") == 1
    assert node.run("PEXPIRETIME", "k") == START_MS + 100_000
    assert node.run("EXPIRE", "k", 50, "GT") == 0
    assert node.run("EXPIRE", "k", 50, "LT") == 1
    assert node.run("EXPIRETIME", "k") == START_MS // 1000 + 50
    clock.advance(20_500)
    assert node.run("TTL", "k") == 30  # 29.5 s rounds as Redis rounds: (ttl+500)/1000
    assert node.run("PTTL", "k") == 29_500
    assert node.run("PERSIST", "k") == 1
    assert node.run("TTL", "k") == -1
    assert node.run("PEXPIREAT", "k", clock.ms - 1) == 1  # in the past: deleted at once
    assert node.run("EXISTS", "k") == 0


def test_getex_and_keepttl(node: Node, clock: Clock) -> None:
    node.run("SET", "k", "v", "EX", 10)
    clock.advance(4000)
    assert node.run("SET", "k", "w", "KEEPTTL") == "OK"
    assert node.run("PTTL", "k") == 6000
    assert node.run("GETEX", "k", "PX", 250) == b"w"
    assert node.run("PTTL", "k") == 250
    assert node.run("GETEX", "k", "PERSIST") == b"w"
    assert node.run("PTTL", "k") == -1
    with pytest.raises(RedisError, match="invalid expire time in 'getex' command"):
        node.run("GETEX", "k", "EX", 0)


def test_active_expiry_removes_what_is_past_its_deadline(node: Node, clock: Clock) -> None:
    for i in range(10):
        node.run("SET", "k%d" % i, i, "PX", 10 * (i + 1))
    node.run("SET", "forever", 1)
    clock.advance(50)  # k0..k3 are past their deadline; k4's is now
    assert node.expire_due() == 4
    assert node.run("DBSIZE") == 7
    clock.advance(1000)
    assert node.expire_due() == 6
    assert node.run("KEYS", "*") == [b"forever"]


def test_collections_expire_whole(node: Node, clock: Clock) -> None:
    node.run("RPUSH", "l", "a", "b", "c")
    node.run("HSET", "h", "f", "v")
    node.run("ZADD", "z", 1, "m")
    node.run("SADD", "s", "m")
    for key in ("l", "h", "z", "s"):
        assert node.run("PEXPIRE", key, 10) == 1
    clock.advance(11)
    assert [node.run("TYPE", k) for k in ("l", "h", "z", "s")] == ["none"] * 4
    node.run("RPUSH", "l", "x")  # a new list, not the old one's elements
    assert node.run("LRANGE", "l", 0, -1) == [b"x"]
    assert node.run("TTL", "l") == -1


def test_stream_ids_come_from_the_clock(node: Node, clock: Clock) -> None:
    assert node.run("XADD", "s", "*", "f", "1") == b"%d-0" % START_MS
    assert node.run("XADD", "s", "*", "f", "2") == b"%d-1" % START_MS
    clock.advance(5)
    assert node.run("XADD", "s", "*", "f", "3") == b"%d-0" % (START_MS + 5)
    clock.advance(-1000)  # the clock went back: IDs keep growing from the last one
    assert node.run("XADD", "s", "*", "f", "4") == b"%d-1" % (START_MS + 5)
    assert node.run("XADD", "s", "%d-*" % (START_MS + 9), "f", "5") == b"%d-0" % (START_MS + 9)
    with pytest.raises(RedisError, match="equal or smaller than the target stream top item"):
        node.run("XADD", "s", "%d-0" % START_MS, "f", "6")
    assert node.run("XLEN", "s") == 5
    node.run("XGROUP", "CREATE", "s", "g", "0")
    node.run("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
    clock.advance(3000)
    pending = node.run("XPENDING", "s", "g", "IDLE", 2500, "-", "+", 10)
    assert [p[2] for p in pending] == [3000, 3000]  # idle: the clock's ms since delivery


def test_sorted_set_and_hash_semantics(node: Node) -> None:
    assert node.run("ZADD", "z", 1, "a", 2, "b") == 2
    assert node.run("ZADD", "z", "GT", "CH", 0, "a", 3, "b") == 1
    assert node.run("ZADD", "z", "LT", "INCR", -1, "a") == 0.0  # a double: RESP3 ,0
    with pytest.raises(RedisError, match="GT, LT, and/or NX options at the same time"):
        node.run("ZADD", "z", "GT", "NX", 1, "a")
    assert node.run("ZRANGE", "z", "(0", "+inf", "BYSCORE", "WITHSCORES") == [b"b", 3.0]
    assert node.run("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert node.run("HINCRBYFLOAT", "h", "f", "1e3") == b"1010.5"
    with pytest.raises(RedisError, match="hash value is not an integer"):
        node.run("HINCRBY", "h", "f", 1)
    with pytest.raises(RedisError, match="WRONGTYPE"):
        node.run("LPUSH", "h", "x")
