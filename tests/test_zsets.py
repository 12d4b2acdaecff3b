"""Sorted set commands, differential against redis-server 7.0, on both engines. Replies
whose order Redis leaves open are compared as sets; random picks by shape."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.conftest import Diff, ServerProc, _parse, run_steps

BOTH_CACHES = True  # every server test here runs with the hot cache on and off

LONG = "L" * 70  # longer than zset-max-listpack-value: Redis keeps a skiplist

SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "zadd-options": [
        ("ZADD", "z", "1", "a", "2", "b"),
        ("ZADD", "z", "NX", "5", "a", "3", "c"),
        ("ZADD", "z", "XX", "5", "a", "9", "d"),
        ("ZADD", "z", "XX", "CH", "6", "a", "9", "d"),
        ("ZADD", "z", "GT", "CH", "1", "a", "7", "b"),
        ("ZADD", "z", "LT", "CH", "0", "a"),
        ("ZADD", "z", "INCR", "2", "a"),
        ("ZADD", "z", "NX", "INCR", "2", "a"),
        ("ZADD", "z", "XX", "INCR", "2", "zz"),
        ("ZADD", "z", "GT", "INCR", "-1", "a"),
        ("ZADD", "z", "LT", "INCR", "-1", "a"),
        ("ZADD", "none", "XX", "1", "a"),
        ("ZADD", "none", "XX", "INCR", "1", "a"),
        ("EXISTS", "none"),
        ("ZADD", "z", "NX", "XX", "1", "a"),
        ("ZADD", "z", "GT", "LT", "1", "a"),
        ("ZADD", "z", "NX", "GT", "1", "a"),
        ("ZADD", "z", "INCR", "1", "a", "2", "b"),
        ("ZADD", "z", "1"),
        ("ZADD", "z", "1", "a", "2"),
        ("ZADD", "z", "x", "a"),
        ("ZADD", "z", "1", "a", "nan", "b"),
        ("ZADD", "z", "FOO", "1", "a"),
        ("ZADD", "z", "ch", "nx", "10", "new", "11", "a"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZINCRBY", "z", "1.5", "a"),
        ("ZINCRBY", "z", "x", "a"),
        ("ZINCRBY", "n2", "3", "m"),
        ("ZADD", "z", "inf", "i"),
        ("ZINCRBY", "z", "-inf", "i"),
        ("ZADD", "z", "-inf", "j"),
        ("ZINCRBY", "z", "inf", "j"),
        ("ZSCORE", "z", "j"),
    ],
    "scores": [
        (
            "ZADD",
            "z",
            "0x10",
            "hex",
            "1.1",
            "f",
            "1e18",
            "big",
            "-0",
            "nz",
            "4e-320",
            "tiny",
            "+inf",
            "pinf",
            "-INF",
            "ninf",
            "1e300",
            "huge",
            "0.1",
            "p1",
            "-2.5e-3",
            "neg",
        ),
        ("ZADD", "z", " 1", "a"),
        ("ZADD", "z", "1 ", "a"),
        ("ZADD", "z", "1e400", "a"),
        ("ZADD", "z", "1e-400", "a"),
        ("ZADD", "z", "", "a"),
        ("ZADD", "z", "1_0", "a"),
        ("ZADD", "z", "0x", "a"),
        ("ZADD", "z", "infinity", "inf2"),
        ("ZADD", "z", "nan", "a"),
        ("ZSCORE", "z", "f"),
        ("ZSCORE", "z", "nz"),
        ("ZSCORE", "z", "tiny"),
        ("ZSCORE", "z", "zz"),
        ("ZSCORE", "none", "a"),
        ("ZMSCORE", "z", "f", "zz", "big"),
        ("ZMSCORE", "none", "a", "b"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZSCAN", "z", "0"),
        ("ZRANK", "z", "nz"),
        ("ZREVRANK", "z", "pinf"),
        ("ZRANK", "z", "zz"),
        ("ZRANK", "none", "a"),
        ("ZCARD", "z"),
        ("ZCARD", "none"),
    ],
    "negative-zero": [
        ("ZADD", "z", "-0", "a", "0", "b"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZADD", "s", "-0", LONG, "0", "b"),
        ("ZRANGE", "s", "0", "-1", "WITHSCORES"),
        ("ZSCORE", "s", LONG),
        ("ZINCRBY", "s", "-0", "c"),
        ("ZSCAN", "s", "0", "MATCH", "L*"),
        ("OBJECT", "ENCODING", "s"),
        ("OBJECT", "ENCODING", "z"),
        ("ZUNION", "2", "z", "s", "WEIGHTS", "-1", "1", "WITHSCORES"),
    ],
    "ranges-by-rank": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"),
        ("ZRANGE", "z", "0", "-1"),
        ("ZRANGE", "z", "1", "3", "WITHSCORES"),
        ("ZRANGE", "z", "-2", "-1"),
        ("ZRANGE", "z", "3", "1"),
        ("ZRANGE", "z", "-100", "100"),
        ("ZRANGE", "z", "5", "9"),
        ("ZRANGE", "z", "0", "0", "REV", "WITHSCORES"),
        ("ZREVRANGE", "z", "0", "1"),
        ("ZREVRANGE", "z", "1", "-1", "WITHSCORES"),
        ("ZREVRANGE", "z", "0", "1", "REV"),
        ("ZRANGE", "z", "x", "1"),
        ("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"),
        ("ZRANGE", "z", "0", "1", "FOO"),
        ("ZRANGE", "none", "0", "-1"),
        ("ZRANGE", "z", "0", "1", "BYLEX", "WITHSCORES"),
        ("ZRANGE", "z", "0", "1", "LIMIT", "0"),
        ("ZRANGE", "z", "0", "1", "withscores", "rev"),
        ("ZRANK", "z", "a"),
        ("ZRANK", "z", "e"),
        ("ZREVRANK", "z", "a"),
        ("ZRANK", "z", "c"),
    ],
    "ranges-by-score": [
        ("ZADD", "z", "1", "a", "2", "b", "2", "bb", "3", "c", "-inf", "ni", "inf", "pi"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"),
        ("ZRANGEBYSCORE", "z", "(1", "3"),
        ("ZRANGEBYSCORE", "z", "(1", "(3"),
        ("ZRANGEBYSCORE", "z", "2", "2"),
        ("ZRANGEBYSCORE", "z", "(2", "(2"),
        ("ZRANGEBYSCORE", "z", "3", "1"),
        ("ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "1", "2"),
        ("ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "-1", "2"),
        ("ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "1", "-1"),
        ("ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "0", "0"),
        ("ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "10", "1"),
        ("ZRANGEBYSCORE", "z", "x", "3"),
        ("ZRANGEBYSCORE", "z", "1", "(x"),
        ("ZRANGEBYSCORE", "z", "", "(2"),
        ("ZRANGEBYSCORE", "z", "(", "2"),
        ("ZRANGEBYSCORE", "z", " 1", "0x2"),
        ("ZRANGEBYSCORE", "z", "nan", "1"),
        ("ZRANGEBYSCORE", "z", "1e400", "inf"),
        ("ZRANGEBYSCORE", "z", "-inf", "-1e400"),
        ("ZRANGEBYSCORE", "z", "(-inf", "(inf"),
        ("ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "1"),
        ("ZREVRANGEBYSCORE", "z", "3", "1", "WITHSCORES"),
        ("ZREVRANGEBYSCORE", "z", "(3", "-inf", "LIMIT", "1", "2"),
        ("ZREVRANGEBYSCORE", "z", "1", "3"),
        ("ZRANGE", "z", "(1", "3", "BYSCORE", "WITHSCORES"),
        ("ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "LIMIT", "0", "2"),
        ("ZCOUNT", "z", "-inf", "inf"),
        ("ZCOUNT", "z", "(1", "2"),
        ("ZCOUNT", "z", "x", "2"),
        ("ZCOUNT", "none", "0", "1"),
        ("ZCOUNT", "none", "x", "1"),
        ("ZRANGEBYSCORE", "none", "0", "1"),
    ],
    "ranges-by-lex": [
        ("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "ab"),
        ("ZRANGEBYLEX", "z", "-", "+"),
        ("ZRANGEBYLEX", "z", "[b", "(d"),
        ("ZRANGEBYLEX", "z", "(a", "[c"),
        ("ZRANGEBYLEX", "z", "+", "-"),
        ("ZRANGEBYLEX", "z", "-", "-"),
        ("ZRANGEBYLEX", "z", "[b", "[b"),
        ("ZRANGEBYLEX", "z", "(b", "(b"),
        ("ZRANGEBYLEX", "z", "[", "+"),
        ("ZRANGEBYLEX", "z", "a", "+"),
        ("ZRANGEBYLEX", "z", "-", "+x"),
        ("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "3"),
        ("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "-1", "3"),
        ("ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"),
        ("ZREVRANGEBYLEX", "z", "+", "-"),
        ("ZREVRANGEBYLEX", "z", "(d", "[ab"),
        ("ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "2", "2"),
        ("ZRANGE", "z", "[b", "+", "BYLEX"),
        ("ZRANGE", "z", "+", "[b", "BYLEX", "REV"),
        ("ZLEXCOUNT", "z", "-", "+"),
        ("ZLEXCOUNT", "z", "[b", "(d"),
        ("ZLEXCOUNT", "z", "x", "+"),
        ("ZLEXCOUNT", "none", "-", "+"),
        ("ZADD", "m", "1", "a", "2", "b", "0", "c"),
        ("ZRANGEBYLEX", "m", "-", "+"),
        ("ZRANGEBYLEX", "m", "[b", "+"),
        ("ZRANGEBYLEX", "m", "-", "[b"),
        ("ZREVRANGEBYLEX", "m", "[b", "-"),
        ("ZLEXCOUNT", "m", "[a", "[b"),
    ],
    "remove": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"),
        ("ZREM", "z", "a", "zz", "a"),
        ("ZREM", "none", "a"),
        ("ZREMRANGEBYRANK", "z", "0", "0"),
        ("ZREMRANGEBYRANK", "z", "-1", "-1"),
        ("ZREMRANGEBYRANK", "z", "5", "9"),
        ("ZREMRANGEBYRANK", "z", "x", "1"),
        ("ZRANGE", "z", "0", "-1"),
        ("ZREMRANGEBYSCORE", "z", "(3", "4"),
        ("ZREMRANGEBYSCORE", "z", "x", "1"),
        ("ZREMRANGEBYSCORE", "none", "x", "1"),
        ("ZRANGE", "z", "0", "-1"),
        ("ZADD", "l", "0", "a", "0", "b", "0", "c"),
        ("ZREMRANGEBYLEX", "l", "(a", "+"),
        ("ZREMRANGEBYLEX", "l", "x", "+"),
        ("ZRANGE", "l", "0", "-1"),
        ("ZREMRANGEBYLEX", "l", "-", "+"),
        ("EXISTS", "l"),
        ("ZREM", "z", "c", "e"),
        ("EXISTS", "z"),
        ("ZREMRANGEBYRANK", "none", "0", "1"),
    ],
    "pop": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"),
        ("ZPOPMIN", "z"),
        ("ZPOPMAX", "z"),
        ("ZPOPMIN", "z", "0"),
        ("ZPOPMIN", "z", "-1"),
        ("ZPOPMIN", "z", "x"),
        ("ZPOPMIN", "z", "1", "2"),
        ("ZPOPMAX", "z", "5"),
        ("EXISTS", "z"),
        ("ZPOPMIN", "none"),
        ("ZPOPMIN", "none", "0"),
        ("ZADD", "a", "1", "x", "2", "y"),
        ("ZMPOP", "2", "none", "a", "MIN"),
        ("ZMPOP", "2", "none", "a", "MAX", "COUNT", "5"),
        ("ZMPOP", "1", "a", "MIN"),
        ("ZMPOP", "0", "a", "MIN"),
        ("ZMPOP", "-1", "a", "MIN"),
        ("ZMPOP", "x", "a", "MIN"),
        ("ZMPOP", "3", "a", "MIN"),
        ("ZMPOP", "1", "a", "UP"),
        ("ZMPOP", "1", "a", "MIN", "COUNT", "0"),
        ("ZMPOP", "1", "a", "MIN", "COUNT"),
        ("ZMPOP", "1", "a", "MIN", "COUNT", "1", "COUNT", "1"),
        ("ZMPOP", "1", "a", "MIN", "FOO"),
        ("SET", "s", "v"),
        ("ZMPOP", "2", "none", "s", "MIN"),
        ("ZPOPMIN", "s"),
        ("ZMPOP", "2", "s", "none", "MAX"),
    ],
    "algebra": [
        ("ZADD", "a", "1", "x", "2", "y", "3", "z"),
        ("ZADD", "b", "10", "y", "20", "z", "30", "w"),
        ("SADD", "s", "x", "w", "q"),
        ("ZUNION", "2", "a", "b"),
        ("ZUNION", "2", "a", "b", "WITHSCORES"),
        ("ZINTER", "2", "a", "b", "WITHSCORES"),
        ("ZDIFF", "2", "a", "b", "WITHSCORES"),
        ("ZDIFF", "2", "b", "a"),
        ("ZUNION", "3", "a", "b", "s", "WEIGHTS", "1", "2", "3", "WITHSCORES"),
        ("ZINTER", "2", "a", "s", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZINTER", "2", "a", "b", "AGGREGATE", "min", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "inf", "-inf", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "0", "1", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "1"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"),
        ("ZUNION", "2", "a", "b", "AGGREGATE", "AVG"),
        ("ZUNION", "2", "a", "b", "AGGREGATE"),
        ("ZUNION", "0", "a"),
        ("ZUNION", "3", "a", "b"),
        ("ZUNION", "x", "a"),
        ("ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"),
        ("ZUNION", "1", "none"),
        ("ZINTER", "2", "a", "none"),
        ("ZUNIONSTORE", "d", "2", "a", "b"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "2", "0.5"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZDIFFSTORE", "d", "2", "a", "a"),
        ("EXISTS", "d"),
        ("ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES"),
        ("ZINTERSTORE", "a", "2", "a", "b"),
        ("ZRANGE", "a", "0", "-1", "WITHSCORES"),
        ("SET", "str", "v"),
        ("ZUNION", "2", "b", "str"),
        ("ZUNION", "2", "none", "str", "FOO"),
        ("ZUNIONSTORE", "str", "1", "b"),
        ("TYPE", "str"),
        ("ZINTERCARD", "2", "b", "s"),
        ("ZINTERCARD", "1", "b", "LIMIT", "2"),
        ("ZINTERCARD", "1", "b", "LIMIT", "-1"),
        ("ZINTERCARD", "1", "b", "LIMIT", "x"),
        ("ZINTERCARD", "0", "b"),
        ("ZINTERCARD", "2", "b"),
        ("ZINTERCARD", "1", "b", "WITHSCORES"),
        ("ZINTERCARD", "1", "none"),
        ("ZINTERCARD", "1", "b", "LIMIT", "0"),
    ],
    "rangestore": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"),
        ("ZRANGESTORE", "d", "z", "0", "1"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "d", "z", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "d", "z", "[c", "-", "BYLEX", "REV"),
        ("ZRANGESTORE", "d", "z", "5", "6"),
        ("EXISTS", "d"),
        ("ZRANGESTORE", "d", "none", "0", "-1"),
        ("ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES"),
        ("ZRANGESTORE", "z", "z", "1", "1"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("SET", "s", "v"),
        ("ZRANGESTORE", "s", "z", "0", "-1"),
        ("TYPE", "s"),
    ],
    "keyspace-commands": [
        ("ZADD", "z", "1", "a", "2", "b"),
        ("EXPIRE", "z", "100"),
        ("TTL", "z"),
        ("PERSIST", "z"),
        ("TTL", "z"),
        ("MOVE", "z", "1"),
        ("EXISTS", "z"),
        ("SELECT", "1"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("RENAME", "z", "y"),
        ("TYPE", "y"),
        ("COPY", "y", "x"),
        ("ZADD", "x", "3", "c"),
        ("ZCARD", "y"),
        ("ZCARD", "x"),
        ("PEXPIRE", "x", "100000"),
        ("SELECT", "0"),
        ("ZADD", "e", "1", "a"),
        ("PEXPIREAT", "e", "1"),
        ("EXISTS", "e"),
        ("ZCARD", "e"),
        ("TYPE", "e"),
        ("SCAN", "0", "TYPE", "zset"),
        ("DEL", "missing"),
    ],
    "wrongtype": [
        ("SET", "s", "v"),
        ("ZADD", "s", "1", "a"),
        ("ZADD", "s", "x", "a"),
        ("ZINCRBY", "s", "1", "a"),
        ("ZREM", "s", "a"),
        ("ZCARD", "s"),
        ("ZSCORE", "s", "a"),
        ("ZMSCORE", "s", "a"),
        ("ZRANK", "s", "a"),
        ("ZCOUNT", "s", "0", "1"),
        ("ZCOUNT", "s", "x", "1"),
        ("ZRANGE", "s", "0", "1"),
        ("ZRANGE", "s", "x", "1"),
        ("ZRANGEBYLEX", "s", "-", "+"),
        ("ZREMRANGEBYRANK", "s", "0", "1"),
        ("ZPOPMIN", "s"),
        ("ZRANDMEMBER", "s"),
        ("ZRANDMEMBER", "s", "2"),
        ("ZSCAN", "s", "0"),
        ("ZADD", "z", "1", "a"),
        ("LPUSH", "z", "x"),
        ("SADD", "z", "x"),
        ("GET", "z"),
        ("TYPE", "z"),
        ("BZPOPMIN", "s", "0.01"),
        ("BZMPOP", "0.01", "1", "s", "MIN"),
    ],
    "randmember-scan-encoding": [
        ("ZRANDMEMBER", "none"),
        ("ZRANDMEMBER", "none", "3"),
        ("ZRANDMEMBER", "none", "-3"),
        ("ZRANDMEMBER", "z", "x"),
        ("ZADD", "z", "1", "only"),
        ("ZRANDMEMBER", "z"),
        ("ZRANDMEMBER", "z", "3"),
        ("ZRANDMEMBER", "z", "-2", "WITHSCORES"),
        ("ZRANDMEMBER", "z", "0"),
        ("ZRANDMEMBER", "z", "1", "FOO"),
        ("ZRANDMEMBER", "z", "1", "WITHSCORES", "x"),
        ("ZRANDMEMBER", "z", "-9223372036854775808"),
        ("ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"),
        ("ZSCAN", "z", "0", "MATCH", "o*"),
        ("ZSCAN", "z", "x"),
        ("ZSCAN", "z", "0", "COUNT", "0"),
        ("ZSCAN", "none", "0"),
        ("OBJECT", "ENCODING", "z"),
        ("ZADD", "z", "2", LONG),
        ("OBJECT", "ENCODING", "z"),
        ("COPY", "z", "z2"),
        ("OBJECT", "ENCODING", "z2"),
        ("ZREM", "z2", LONG),
        ("OBJECT", "ENCODING", "z2"),
        ("ZADD", "z2", "-0", "nz"),
        ("ZSCORE", "z2", "nz"),
        ("ZUNIONSTORE", "u", "1", "z2"),
        ("OBJECT", "ENCODING", "u"),
        ("ZSCORE", "u", "nz"),
        ("ZRANGE", "z2", "0", "-1"),
        ("RENAME", "z2", "z3"),
        ("ZCARD", "z3"),
        ("DEL", "z3"),
        ("EXISTS", "z3"),
    ],
}

UNORDERED = {"ZRANDMEMBER"}


def scan_pairs(d: Diff, *args: Any) -> None:
    """ZSCAN of a set Redis keeps as a skiplist comes in hash order: compare the cursor
    and the member -> score pairs."""
    ours, theirs = (_parse(raw) for raw in d.both(*args))
    if isinstance(ours, list) and isinstance(theirs, list):
        assert ours[0] == theirs[0], args
        assert dict(zip(ours[1][::2], ours[1][1::2], strict=True)) == dict(
            zip(theirs[1][::2], theirs[1][1::2], strict=True)
        ), args
    else:
        assert ours == theirs, args


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(kdiff: Diff, name: str) -> None:
    run_steps(kdiff, SCENARIOS[name], UNORDERED)


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_shapes(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    for args in (
        ("ZADD", "z", "1.5", "a", "2", "b", "inf", "c"),
        ("ZSCORE", "z", "a"),
        ("ZSCORE", "z", "c"),
        ("ZMSCORE", "z", "a", "q"),
        ("ZINCRBY", "z", "1", "a"),
        ("ZADD", "z", "INCR", "1", "b"),
        ("ZADD", "z", "NX", "INCR", "1", "b"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZRANGE", "z", "0", "-1"),
        ("ZRANGEBYSCORE", "z", "-inf", "inf", "WITHSCORES"),
        ("ZUNION", "1", "z", "WITHSCORES"),
        ("ZINTER", "1", "z", "WITHSCORES"),
        ("ZDIFF", "1", "z", "WITHSCORES"),
        ("ZRANDMEMBER", "none", "2"),
        ("ZSCAN", "z", "0"),
        ("ZPOPMIN", "z"),
        ("ZPOPMIN", "z", "1"),
        ("ZPOPMAX", "z", "0"),
        ("ZPOPMIN", "none"),
        ("ZMPOP", "1", "z", "MAX"),
        ("ZMPOP", "1", "none", "MAX"),
        ("ZRANK", "none", "a"),
        ("ZADD", "y", "1", "m"),
        ("ZRANDMEMBER", "y", "1", "WITHSCORES"),
        ("ZRANDMEMBER", "y", "-2", "WITHSCORES"),
        ("BZPOPMIN", "y", "0"),
        ("BZPOPMAX", "none", "0.01"),
        ("BZMPOP", "0.01", "1", "none", "MIN"),
    ):
        kdiff(*args)
    kdiff.masked("HELLO", "2")


def test_big_sorted_set_ranges_scan_and_delete(dr: ServerProc) -> None:
    """Thousands of members: ranges by rank from both ends, by score and by lex seek to
    what they return; ZSCAN covers every member once; DEL returns at once."""
    c = dr.client()
    c.delete("big")
    members = {b"m%05d" % i: float(i % 1000) + i / 10_000 for i in range(5000)}
    pipe = c.pipeline(transaction=False)
    items = list(members.items())
    for chunk in range(0, 5000, 1000):
        pipe.zadd("big", dict(items[chunk : chunk + 1000]))
    pipe.execute()
    ordered = sorted(members, key=lambda m: (members[m], m))
    assert c.zcard("big") == 5000
    assert c.zrange("big", 0, 9) == ordered[:10]
    assert c.zrange("big", -10, -1) == ordered[-10:]
    assert c.zrange("big", 2500, 2504) == ordered[2500:2505]
    assert c.zrevrange("big", 0, 2) == ordered[::-1][:3]
    assert c.zrank("big", ordered[4321]) == 4321 and c.zrevrank("big", ordered[10]) == 4989
    assert c.zrank("big", ordered[17]) == 17
    assert c.zrangebyscore("big", 500, "(501") == [m for m in ordered if 500 <= members[m] < 501]
    assert c.zcount("big", "-inf", "+inf") == 5000
    seen: dict[bytes, float] = {}
    cursor = 0
    while True:
        cursor, page = c.zscan("big", cursor, count=250)
        seen.update(page)
        if cursor == 0:
            break
    assert seen == members
    assert c.object("encoding", "big") == b"skiplist"
    assert c.delete("big") == 1 and c.zcard("big") == 0


def test_lex_ranges_on_one_score_seek(dr: ServerProc) -> None:
    c = dr.client()
    c.delete("lex")
    words = [b"w%04d" % i for i in range(3000)]
    c.zadd("lex", dict.fromkeys(words, 0))
    assert c.zrangebylex("lex", b"[w1000", b"(w1005") == words[1000:1005]
    assert c.zrevrangebylex("lex", b"[w2999", b"-", start=0, num=3) == words[::-1][:3]
    assert c.zlexcount("lex", b"(w0009", b"[w0019") == 10
    assert c.zremrangebylex("lex", b"-", b"(w1000") == 1000 and c.zcard("lex") == 2000


def test_long_members(dr: ServerProc) -> None:
    """Members longer than the engine's key: their own order within a score holds for
    members that differ early; scores, ranks and removal work."""
    c = dr.client()
    c.delete("lm")
    a, b, short = b"A" * 100_000, b"B" * 2000, b"short"
    c.zadd("lm", {a: 1, b: 1, short: 0.5})
    assert c.zrange("lm", 0, -1, withscores=True) == [(short, 0.5), (a, 1.0), (b, 1.0)]
    assert c.zscore("lm", a) == 1.0 and c.zrank("lm", b) == 2
    assert c.zrangebylex("lm", b"[A", b"+")[-2:] == [a, b]
    assert c.zincrby("lm", 5, a) == 6.0 and c.zrange("lm", -1, -1) == [a]
    assert c.zrem("lm", a) == 1 and c.zcard("lm") == 2


MEMBERS = st.sampled_from(["a", "b", "c", "d", "M" * 70])
SCORES = st.sampled_from(["0", "1", "-1", "2.5", "inf", "-inf", "1e20", "(1", "x"])
KEYS = st.sampled_from(["z1", "z2"])
BOUNDS = st.sampled_from(["-inf", "+inf", "0", "(0", "1", "(2.5", "x"])
LEX = st.sampled_from(["-", "+", "[a", "(b", "[c", "(M", "x"])
INDEXES = st.sampled_from(["0", "1", "-1", "-2", "3", "10"])


def test_zset_state_machine(diff: Diff) -> None:
    class ZSets(RuleBasedStateMachine):
        @initialize()
        def empty(self) -> None:
            diff("FLUSHALL")

        @rule(
            k=KEYS,
            opts=st.lists(
                st.sampled_from(["NX", "XX", "GT", "LT", "CH", "INCR"]), max_size=2, unique=True
            ),
            pairs=st.lists(st.tuples(SCORES, MEMBERS), min_size=1, max_size=3),
        )
        def zadd(self, k: str, opts: list[str], pairs: list[tuple[str, str]]) -> None:
            diff("ZADD", k, *opts, *[x for p in pairs for x in p])

        @rule(k=KEYS, s=SCORES, m=MEMBERS)
        def zincrby(self, k: str, s: str, m: str) -> None:
            diff("ZINCRBY", k, s, m)

        @rule(
            cmd=st.sampled_from(["ZREM", "ZMSCORE"]),
            k=KEYS,
            ms=st.lists(MEMBERS, min_size=1, max_size=3),
        )
        def members(self, cmd: str, k: str, ms: list[str]) -> None:
            diff(cmd, k, *ms)

        @rule(cmd=st.sampled_from(["ZRANK", "ZREVRANK", "ZSCORE"]), k=KEYS, m=MEMBERS)
        def one(self, cmd: str, k: str, m: str) -> None:
            diff(cmd, k, m)

        @rule(
            k=KEYS,
            a=INDEXES,
            b=INDEXES,
            opts=st.sampled_from([(), ("WITHSCORES",), ("REV",), ("REV", "WITHSCORES")]),
        )
        def by_rank(self, k: str, a: str, b: str, opts: tuple[str, ...]) -> None:
            diff("ZRANGE", k, a, b, *opts)

        @rule(
            k=KEYS,
            a=BOUNDS,
            b=BOUNDS,
            rev=st.booleans(),
            limit=st.sampled_from([(), ("LIMIT", "0", "2"), ("LIMIT", "1", "-1")]),
        )
        def by_score(self, k: str, a: str, b: str, rev: bool, limit: tuple[str, ...]) -> None:
            diff("ZRANGE", k, a, b, "BYSCORE", *(("REV",) if rev else ()), *limit, "WITHSCORES")
            diff("ZCOUNT", k, a, b)

        # Lex ranges are specified for members of one score only (Redis leaves the rest
        # to its skiplist's random levels): they run on "lx", whose scores are all 0.
        @rule(ms=st.lists(MEMBERS, min_size=1, max_size=3))
        def lex_add(self, ms: list[str]) -> None:
            diff("ZADD", "lx", *[x for m in ms for x in ("0", m)])

        @rule(
            a=LEX,
            b=LEX,
            rev=st.booleans(),
            limit=st.sampled_from([(), ("LIMIT", "1", "2"), ("LIMIT", "0", "-1")]),
        )
        def by_lex(self, a: str, b: str, rev: bool, limit: tuple[str, ...]) -> None:
            diff("ZRANGE", "lx", a, b, "BYLEX", *(("REV",) if rev else ()), *limit)
            diff("ZLEXCOUNT", "lx", a, b)

        @rule(a=LEX, b=LEX)
        def remrange_lex(self, a: str, b: str) -> None:
            diff("ZREMRANGEBYLEX", "lx", a, b)

        @rule(
            cmd=st.sampled_from(["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE"]),
            k=KEYS,
            a=st.sampled_from(["0", "-1", "(1", "-inf", "x"]),
            b=st.sampled_from(["1", "-1", "+inf", "(2.5"]),
        )
        def remrange(self, cmd: str, k: str, a: str, b: str) -> None:
            diff(cmd, k, a, b)

        @rule(
            cmd=st.sampled_from(["ZPOPMIN", "ZPOPMAX"]),
            k=KEYS,
            n=st.sampled_from([(), ("1",), ("2",), ("0",)]),
        )
        def pop(self, cmd: str, k: str, n: tuple[str, ...]) -> None:
            diff(cmd, k, *n)

        @rule(
            cmd=st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
            dst=KEYS,
            agg=st.sampled_from([(), ("AGGREGATE", "MIN"), ("WEIGHTS", "2", "-1")]),
        )
        def algebra(self, cmd: str, dst: str, agg: tuple[str, ...]) -> None:
            diff(cmd, dst, "2", "z1", "z2", *(() if cmd == "ZDIFFSTORE" else agg))

        @rule(k=st.sampled_from(["z1", "z2", "lx"]))
        def whole(self, k: str) -> None:
            diff("ZRANGE", k, "0", "-1", "WITHSCORES")
            diff("ZCARD", k)
            diff("OBJECT", "ENCODING", k)
            scan_pairs(diff, "ZSCAN", k, "0")

    run_state_machine_as_test(
        ZSets,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
