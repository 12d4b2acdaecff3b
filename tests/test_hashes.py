"""Hash commands, differential against redis-server 7.0, on both engines. Replies whose
order Redis leaves open (HGETALL, HKEYS, HVALS, HSCAN, HRANDFIELD) are compared as sets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.conftest import Diff, ServerProc, _parse, run_steps, unordered

BOTH_CACHES = True  # every server test here runs with the hot cache on and off

SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "basics": [
        ("HSET", "h", "a", "1"),
        ("HSET", "h", "a", "2", "b", "3"),
        ("HGET", "h", "a"),
        ("HGET", "h", "zz"),
        ("HGET", "none", "a"),
        ("HLEN", "h"),
        ("HLEN", "none"),
        ("HSET", "h", "a"),
        ("HSET", "h", "a", "1", "b"),
        ("HMSET", "h", "c", "4"),
        ("HMSET", "h", "c"),
        ("HSETNX", "h", "c", "9"),
        ("HSETNX", "h", "d", "5"),
        ("HMGET", "h", "a", "zz", "d"),
        ("HMGET", "none", "a", "b"),
        ("HEXISTS", "h", "a"),
        ("HEXISTS", "h", "zz"),
        ("HSTRLEN", "h", "a"),
        ("HSTRLEN", "h", "zz"),
        ("HDEL", "h", "a", "a", "zz"),
        ("HDEL", "none", "a"),
        ("HLEN", "h"),
        ("TYPE", "h"),
        ("HDEL", "h", "b", "c", "d"),
        ("EXISTS", "h"),
        ("HSET", "h", "", ""),
        ("HGET", "h", ""),
        ("HSTRLEN", "h", ""),
    ],
    "wrongtype": [
        ("SET", "s", "x"),
        ("HSET", "s", "a", "1"),
        ("HGET", "s", "a"),
        ("HMGET", "s", "a"),
        ("HLEN", "s"),
        ("HDEL", "s", "a"),
        ("HINCRBY", "s", "a", "1"),
        ("HGETALL", "s"),
        ("HSCAN", "s", "0"),
        ("HRANDFIELD", "s"),
        ("HSET", "h", "a", "1"),
        ("GET", "h"),
        ("APPEND", "h", "x"),
        ("INCR", "h"),
        ("SET", "h", "over"),
        ("GET", "h"),
        ("HGET", "h", "a"),
    ],
    "hincrby": [
        ("HINCRBY", "h", "n", "5"),
        ("HINCRBY", "h", "n", "-10"),
        ("HINCRBY", "h", "n", "x"),
        ("HINCRBY", "h", "n", "1.5"),
        ("HSET", "h", "s", "abc"),
        ("HINCRBY", "h", "s", "1"),
        ("HSET", "h", "big", "9223372036854775807"),
        ("HINCRBY", "h", "big", "1"),
        ("HINCRBY", "h", "n", "-9223372036854775808"),
        ("HSET", "h", "sp", " 1"),
        ("HINCRBY", "h", "sp", "1"),
        ("HGET", "h", "n"),
    ],
    "hincrbyfloat": [
        ("HINCRBYFLOAT", "h", "f", "0.1"),
        ("HINCRBYFLOAT", "h", "f", "0.2"),
        ("HINCRBYFLOAT", "h", "f", "x"),
        ("HINCRBYFLOAT", "h", "f", "inf"),
        ("HINCRBYFLOAT", "h", "f", "nan"),
        ("HSET", "h", "s", "abc"),
        ("HINCRBYFLOAT", "h", "s", "1"),
        ("HSET", "h", "big", "1e4932"),
        ("HINCRBYFLOAT", "h", "big", "1e4932"),
        ("HINCRBYFLOAT", "h", "f", "-0.3"),
        ("HINCRBYFLOAT", "h", "g", "5.0e3"),
        ("HGET", "h", "f"),
    ],
    "hrandfield": [
        ("HRANDFIELD", "none"),
        ("HRANDFIELD", "none", "5"),
        ("HRANDFIELD", "none", "-5"),
        ("HSET", "h", "a", "1"),
        ("HRANDFIELD", "h"),
        ("HRANDFIELD", "h", "0"),
        ("HRANDFIELD", "h", "-3"),
        ("HRANDFIELD", "h", "3", "WITHVALUES"),
        ("HRANDFIELD", "h", "-2", "WITHVALUES"),
        ("HRANDFIELD", "h", "1", "FOO"),
        ("HRANDFIELD", "h", "1", "WITHVALUES", "x"),
        ("HRANDFIELD", "h", "x"),
        ("HRANDFIELD", "h", "-9223372036854775808"),
        ("HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"),
        ("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
    ],
    "hscan-errors": [
        ("HSCAN", "none", "0"),
        ("HSCAN", "none", "x"),
        ("HSET", "h", "a", "1"),
        ("HSCAN", "h", "x"),
        ("HSCAN", "h", "0", "COUNT", "0"),
        ("HSCAN", "h", "0", "MATCH"),
        ("HSCAN", "h", "0", "FOO", "1"),
        ("HSCAN", "h", "0", "MATCH", "a*", "COUNT", "5"),
        ("HSCAN", "h", "0", "MATCH", "z*"),
        ("HSCAN", "h", "7"),
    ],
    "keyspace-with-hashes": [
        ("HSET", "h", "a", "1", "b", "2"),
        ("RENAME", "h", "h2"),
        ("HGETALL", "h2"),
        ("COPY", "h2", "h3"),
        ("HSET", "h3", "c", "3"),
        ("HLEN", "h2"),
        ("HLEN", "h3"),
        ("MOVE", "h3", "1"),
        ("SELECT", "1"),
        ("HGETALL", "h3"),
        ("SELECT", "0"),
        ("EXPIRE", "h2", "100"),
        ("TTL", "h2"),
        ("HSET", "h2", "z", "9"),
        ("TTL", "h2"),
        ("DEL", "h2"),
        ("HGETALL", "h2"),
        ("SCAN", "0", "TYPE", "hash"),
        ("SELECT", "1"),
        ("SCAN", "0", "TYPE", "hash"),
        ("OBJECT", "ENCODING", "h3"),
        ("HSET", "h3", "long", "x" * 100),
        ("OBJECT", "ENCODING", "h3"),
        ("COPY", "h3", "h4", "DB", "0"),
        ("SWAPDB", "0", "1"),
        ("HGETALL", "h4"),
    ],
}

UNORDERED = {"HGETALL", "HKEYS", "HVALS", "HRANDFIELD", "SCAN", "HSCAN"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(kdiff: Diff, name: str) -> None:
    for args in SCENARIOS[name]:
        if (
            args[0] == "HRANDFIELD"
            and args[1] == "h"
            and len(args) > 2
            and args[2] not in ("0", "x")
            and args[-1] not in ("FOO", "x")
        ):
            # random picks: the same shape and length, from the same fields
            raw_ours, raw_theirs = kdiff.both(*args)
            if raw_theirs.startswith(b"-"):
                assert raw_ours == raw_theirs, args
                continue
            ours, theirs = _parse(raw_ours), _parse(raw_theirs)
            assert type(ours) is type(theirs) and len(ours) == len(theirs), args
            continue
        run_steps(kdiff, [args], UNORDERED)


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_shapes(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    kdiff("HSET", "h", "a", "1")
    kdiff("HGETALL", "h")
    kdiff("HGETALL", "none")
    kdiff("HRANDFIELD", "h", "1", "WITHVALUES")
    kdiff("HRANDFIELD", "h", "-2", "WITHVALUES")
    kdiff("HSCAN", "h", "0")
    kdiff.masked("HELLO", "2")


def test_big_hash_scan_and_random(dr: ServerProc) -> None:
    c = dr.client()
    c.delete("big")
    fields = {b"f%05d" % i: b"v%d" % i for i in range(2000)}
    c.hset("big", mapping=fields)
    assert c.hlen("big") == 2000
    seen: dict[bytes, bytes] = {}
    cursor = 0
    while True:
        cursor, page = c.hscan("big", cursor, count=97)
        seen.update(page)
        if cursor == 0:
            break
    assert seen == fields
    picks = [c.hrandfield("big") for _ in range(200)]
    assert len(set(picks)) > 100 and all(p in fields for p in picks)
    assert len(set(c.hrandfield("big", 500))) == 500
    assert c.object("encoding", "big") == b"hashtable"


def test_deleting_a_big_hash_returns_at_once_and_space_comes_back(dr: ServerProc) -> None:
    c = dr.client()
    c.delete("huge")
    pipe = c.pipeline(transaction=False)
    for chunk in range(20):
        pipe.hset("huge", mapping={b"%d:%d" % (chunk, i): b"x" * 50 for i in range(5000)})
    pipe.execute()
    assert c.hlen("huge") == 100_000
    before = c.memory_usage("huge", samples=0)
    assert c.delete("huge") == 1  # queues the 100 000 records for background reclamation
    assert c.exists("huge") == 0 and c.hlen("huge") == 0
    c.hset("huge", "new", "1")  # a new hash under the same name starts empty
    assert c.hgetall("huge") == {b"new": b"1"}
    assert before > 100_000 * 50
    for _ in range(100_000):  # the lane reclaims between batches; no sleeping
        if c.info("storage")["gc_pending_jobs"] == 0:
            break
    assert c.info("storage")["gc_pending_jobs"] == 0


def test_long_fields_and_values(dr: ServerProc) -> None:
    c = dr.client()
    c.delete("lf")
    a, b = b"F" * 100_000, b"F" * 99_999 + b"G"
    c.hset("lf", mapping={a: b"one", b: b"two", b"short": b"V" * 1_000_000})
    assert c.hget("lf", a) == b"one" and c.hget("lf", b) == b"two"
    assert c.hlen("lf") == 3 and sorted(c.hkeys("lf")) == sorted([a, b, b"short"])
    assert c.hdel("lf", a) == 1 and c.hget("lf", a) is None and c.hget("lf", b) == b"two"


FIELDS = st.sampled_from(["a", "b", "c", "n", "F" * 600])
VALUES = st.sampled_from(["0", "1", "-7", "x", "", "2.5"])


def test_hash_state_machine(diff: Diff) -> None:
    class Hashes(RuleBasedStateMachine):
        @initialize()
        def empty(self) -> None:
            diff("FLUSHALL")

        @rule(
            k=st.sampled_from(["h", "g"]),
            pairs=st.lists(st.tuples(FIELDS, VALUES), min_size=1, max_size=3),
        )
        def hset(self, k: str, pairs: list[tuple[str, str]]) -> None:
            diff("HSET", k, *[x for p in pairs for x in p])

        @rule(k=st.sampled_from(["h", "g"]), f=FIELDS, v=VALUES)
        def hsetnx(self, k: str, f: str, v: str) -> None:
            diff("HSETNX", k, f, v)

        @rule(
            cmd=st.sampled_from(["HGET", "HEXISTS", "HSTRLEN", "HDEL"]),
            k=st.sampled_from(["h", "g"]),
            f=FIELDS,
        )
        def field(self, cmd: str, k: str, f: str) -> None:
            diff(cmd, k, f)

        @rule(
            cmd=st.sampled_from(["HINCRBY", "HINCRBYFLOAT"]),
            f=FIELDS,
            by=st.sampled_from(["1", "-3", "0.5", "x"]),
        )
        def incr(self, cmd: str, f: str, by: str) -> None:
            diff(cmd, "h", f, by)

        @rule(cmd=st.sampled_from(["HLEN", "TYPE", "EXISTS", "DEL"]), k=st.sampled_from(["h", "g"]))
        def whole(self, cmd: str, k: str) -> None:
            diff(cmd, k)

        @rule(cmd=st.sampled_from(["HGETALL", "HKEYS", "HVALS"]))
        def listing(self, cmd: str) -> None:
            unordered(diff, cmd, "h")

        @rule(cmd=st.sampled_from(["RENAME", "COPY"]))
        def move_around(self, cmd: str) -> None:
            diff(cmd, "h", "g")

        @rule()
        def hmget(self) -> None:
            diff("HMGET", "h", "a", "b", "F" * 600)

    run_state_machine_as_test(
        Hashes,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_flushall_reclaims_collections_in_the_background(dr_factory: Any) -> None:
    sp = dr_factory()
    c = sp.client()
    pipe = c.pipeline(transaction=False)
    for chunk in range(10):
        pipe.hset("h%d" % (chunk % 3), mapping={b"%d:%d" % (chunk, i): b"x" for i in range(3000)})
    pipe.execute()
    assert c.flushall() is True and c.dbsize() == 0
    for _ in range(100_000):
        if c.info("storage")["gc_pending_jobs"] == 0:
            break
    assert c.info("storage")["gc_pending_jobs"] == 0
    c.hset("h0", "a", "1")
    assert c.hgetall("h0") == {b"a": b"1"}
