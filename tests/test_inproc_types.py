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


# -- hash field expiry: the records behind it ---------------------------------------------
def _deadlines(node: Node, key: str, *fields: str) -> list[int]:
    return list(node.run("HPEXPIRETIME", key, "FIELDS", len(fields), *fields))


def test_field_deadlines_are_exact_and_survive_a_restart(node: Node, clock: Clock) -> None:
    long = "f" * 600  # past LMDB's key size: the deadline records are hashed too
    node.run("HSET", "h", "a", 1, "b", 2, long, 3, "plain", 4)
    assert node.run("HPEXPIRE", "h", 100, "FIELDS", 2, "a", long) == [1, 1]
    assert node.run("HPEXPIRE", "h", 300, "FIELDS", 1, "b") == [1]
    node.reopen()
    assert _deadlines(node, "h", "a", "b", long, "plain") == [
        START_MS + 100,
        START_MS + 300,
        START_MS + 100,
        -1,
    ]
    clock.advance(100)  # now == the deadline: still there (Redis: expired once past it)
    assert node.run("HGET", "h", "a") == b"1"
    clock.advance(1)
    assert node.run("HGET", "h", "a") is None  # found past it: deleted
    assert node.run("HLEN", "h") == 3  # the long field is past it too, not yet removed
    assert node.expire_due() == 1
    assert sorted(node.run("HKEYS", "h")) == [b"b", b"plain"]
    clock.advance(200)
    assert node.expire_due() == 1
    assert node.run("HGETALL", "h") == {b"plain": b"4"}
    assert node.run("OBJECT", "ENCODING", "h") == b"listpackex"


def test_active_expiry_of_fields_goes_in_bounded_steps(node: Node, clock: Clock) -> None:
    """A hash of 2,500 fields with one deadline: removed 1,000 fields a step (the test's
    budget), the hash with the last step; a hash due later is left alone meanwhile."""
    fields = ["f%d" % i for i in range(2500)]
    node.run("HSET", "big", *[x for f in fields for x in (f, "v")])
    node.run("HPEXPIRE", "big", 10, "FIELDS", len(fields), *fields)
    node.run("HSET", "later", "a", 1)
    node.run("HPEXPIRE", "later", 5000, "FIELDS", 1, "a")
    clock.advance(20)
    assert node.expire_due() == 1000
    assert node.run("HLEN", "big") == 1500
    assert node.expire_due() == 1000
    assert node.expire_due() == 500
    assert node.run("EXISTS", "big") == 0
    assert node.expire_due() == 0
    assert node.run("HLEN", "later") == 1
    clock.advance(5000)
    assert node.expire_due() == 1
    assert node.run("EXISTS", "later") == 0


def test_copies_renames_and_moves_take_their_deadlines_along(node: Node, clock: Clock) -> None:
    node.run("HSET", "h", "a", 1, "b", 2)
    node.run("HPEXPIRE", "h", 100, "FIELDS", 1, "a")
    node.run("COPY", "h", "copy")
    assert node.run("HPERSIST", "copy", "FIELDS", 1, "a") == [1]  # the copy's own
    assert _deadlines(node, "h", "a") == [START_MS + 100]
    node.run("RENAME", "h", "renamed")
    node.run("COPY", "renamed", "moved")
    node.run("MOVE", "moved", 1)
    clock.advance(101)
    assert node.expire_due() == 2  # renamed's and moved's "a", in their new places
    assert node.run("HGETALL", "renamed") == {b"b": b"2"}
    assert node.run("HGETALL", "copy") == {b"a": b"1", b"b": b"2"}
    node.run("SELECT", 1)
    assert node.run("HGETALL", "moved") == {b"b": b"2"}


def test_a_replaced_or_flushed_hash_leaves_no_deadline_behind(node: Node, clock: Clock) -> None:
    node.run("HSET", "h", "a", 1)
    node.run("HPEXPIRE", "h", 100, "FIELDS", 1, "a")
    node.run("SET", "h", "string now")
    node.run("HSET", "g", "a", 1)
    node.run("HPEXPIRE", "g", 100, "FIELDS", 1, "a")
    node.run("FLUSHALL")
    node.run("HSET", "g", "a", 1)
    clock.advance(200)
    assert node.expire_due() == 0
    assert node.run("GET", "h") is None and node.run("HGET", "g", "a") == b"1"
    ks = node.offline.ks
    ks.begin()
    try:
        assert not ks.has_field_deadlines()
    finally:
        ks.abort()


def test_a_folder_of_the_previous_format_opens_and_is_upgraded(engine: str) -> None:
    """Format 2 (before field expiry) only lacks records: it opens, is stamped 3, and
    its hashes take field deadlines."""
    from diskredis.keyspace import layout as L

    node = Node(engine)
    try:
        node.run("HSET", "h", "a", 1)
        ks = node.offline.ks
        ks.begin()
        ks.tx().put("stats", b"format", L.u32(2))
        ks.commit()
        node.reopen()
        assert node.run("HPEXPIRE", "h", 100, "FIELDS", 1, "a") == [1]
        ks = node.offline.ks
        ks.begin()
        try:
            assert L.read_u32(ks.tx().get("stats", b"format")) == 3
        finally:
            ks.abort()
    finally:
        node.close()


def test_many_fields_with_one_deadline_look_up_the_earliest_once(
    node: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HPEXPIRE, HPERSIST and active expiry of 2,000 fields sharing a deadline: the
    hash's earliest deadline is looked up again once per command, not once per field
    (which made them quadratic)."""
    from diskredis.keyspace.types import hashes

    calls = []
    earliest = hashes.Hash._earliest
    monkeypatch.setattr(hashes.Hash, "_earliest", lambda h: calls.append(1) or earliest(h))
    fields = ["f%d" % i for i in range(2000)]
    node.run("HSET", "h", *[x for f in fields for x in (f, "v")])
    node.run("HPEXPIRE", "h", 100, "FIELDS", len(fields), *fields)
    node.run("HPEXPIRE", "h", 200, "FIELDS", len(fields), *fields)
    assert len(calls) <= 1
    node.run("HPERSIST", "h", "FIELDS", 1000, *fields[:1000])
    assert len(calls) <= 2
    clock.advance(201)
    assert node.expire_due() == 1000
    assert len(calls) <= 3 and node.run("HLEN", "h") == 1000
