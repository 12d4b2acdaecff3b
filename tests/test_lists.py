"""List commands (the blocking ones are not here yet), differential against redis-server
7.0 on both engines."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.conftest import Diff, ServerProc

BOTH_CACHES = True  # every server test here runs with the hot cache on and off

SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "push-pop": [
        ("LPUSH", "l", "a", "b"),
        ("RPUSH", "l", "c", "d"),
        ("LRANGE", "l", "0", "-1"),
        ("LLEN", "l"),
        ("LPOP", "l"),
        ("RPOP", "l"),
        ("LPOP", "l", "0"),
        ("LPOP", "l", "5"),
        ("EXISTS", "l"),
        ("LPOP", "l"),
        ("LPOP", "l", "2"),
        ("RPOP", "none", "1"),
        ("LPOP", "l", "-1"),
        ("LPOP", "l", "x"),
        ("LPOP", "l", "1", "2"),
        ("LPUSHX", "l", "x"),
        ("RPUSHX", "l", "x"),
        ("RPUSH", "l", "1"),
        ("LPUSHX", "l", "0", "-1"),
        ("RPUSHX", "l", "2", "3"),
        ("LRANGE", "l", "0", "-1"),
        ("RPOP", "l", "3"),
        ("LLEN", "none"),
        ("TYPE", "l"),
        ("OBJECT", "ENCODING", "l"),
    ],
    "index-set-range": [
        ("RPUSH", "l", "a", "b", "c", "d", "e"),
        ("LINDEX", "l", "0"),
        ("LINDEX", "l", "-1"),
        ("LINDEX", "l", "5"),
        ("LINDEX", "l", "-6"),
        ("LINDEX", "l", "x"),
        ("LINDEX", "none", "0"),
        ("LSET", "l", "1", "B"),
        ("LSET", "l", "-1", "E"),
        ("LSET", "l", "5", "x"),
        ("LSET", "none", "0", "x"),
        ("LSET", "l", "x", "y"),
        ("LRANGE", "l", "1", "3"),
        ("LRANGE", "l", "-3", "-1"),
        ("LRANGE", "l", "3", "1"),
        ("LRANGE", "l", "-100", "100"),
        ("LRANGE", "l", "5", "10"),
        ("LRANGE", "none", "0", "1"),
        ("LRANGE", "l", "a", "1"),
    ],
    "trim-rem-insert": [
        ("RPUSH", "l", "a", "b", "a", "c", "a", "d"),
        ("LREM", "l", "1", "a"),
        ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "-1", "a"),
        ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "0", "zz"),
        ("LREM", "l", "0", "a"),
        ("LREM", "none", "0", "a"),
        ("LREM", "l", "x", "a"),
        ("LINSERT", "l", "BEFORE", "c", "X"),
        ("LINSERT", "l", "after", "d", "Y"),
        ("LINSERT", "l", "AFTER", "zz", "Y"),
        ("LINSERT", "l", "MIDDLE", "c", "Y"),
        ("LINSERT", "none", "BEFORE", "a", "b"),
        ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "1", "-2"),
        ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "0", "100"),
        ("LTRIM", "none", "0", "1"),
        ("LTRIM", "l", "5", "1"),
        ("EXISTS", "l"),
        ("RPUSH", "l", "1", "2", "3"),
        ("LTRIM", "l", "-1", "-1"),
        ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "x", "1"),
    ],
    "lpos": [
        ("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"),
        ("LPOS", "l", "c"),
        ("LPOS", "l", "c", "RANK", "2"),
        ("LPOS", "l", "c", "RANK", "-1"),
        ("LPOS", "l", "c", "COUNT", "2"),
        ("LPOS", "l", "c", "COUNT", "0"),
        ("LPOS", "l", "c", "RANK", "-2", "COUNT", "0"),
        ("LPOS", "l", "c", "MAXLEN", "3"),
        ("LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"),
        ("LPOS", "l", "zz"),
        ("LPOS", "l", "zz", "COUNT", "1"),
        ("LPOS", "none", "a"),
        ("LPOS", "none", "a", "COUNT", "1"),
        ("LPOS", "l", "c", "RANK", "0"),
        ("LPOS", "l", "c", "COUNT", "-1"),
        ("LPOS", "l", "c", "MAXLEN", "-1"),
        ("LPOS", "l", "c", "RANK"),
        ("LPOS", "l", "c", "FOO", "1"),
        ("LPOS", "l", "c", "RANK", "5"),
    ],
    "move-mpop": [
        ("RPUSH", "a", "1", "2", "3"),
        ("LMOVE", "a", "b", "LEFT", "RIGHT"),
        ("LMOVE", "a", "b", "RIGHT", "LEFT"),
        ("LRANGE", "b", "0", "-1"),
        ("LMOVE", "a", "a", "LEFT", "RIGHT"),
        ("LMOVE", "a", "b", "UP", "LEFT"),
        ("LMOVE", "none", "b", "LEFT", "LEFT"),
        ("RPOPLPUSH", "b", "a"),
        ("RPOPLPUSH", "a", "a"),
        ("LRANGE", "a", "0", "-1"),
        ("SET", "s", "x"),
        ("LMOVE", "a", "s", "LEFT", "LEFT"),
        ("LRANGE", "a", "0", "-1"),
        ("LMPOP", "2", "none", "a", "LEFT"),
        ("LMPOP", "2", "none", "b", "RIGHT", "COUNT", "5"),
        ("LMPOP", "1", "none", "LEFT"),
        ("LMPOP", "0", "a", "LEFT"),
        ("LMPOP", "x", "a", "LEFT"),
        ("LMPOP", "3", "a", "LEFT"),
        ("LMPOP", "1", "a", "UP"),
        ("LMPOP", "1", "a", "LEFT", "COUNT", "0"),
        ("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"),
        ("LMPOP", "1", "s", "LEFT"),
        ("EXISTS", "a", "b"),
        ("RPUSH", "x", "1"),
        ("LMPOP", "1", "x", "RIGHT", "FOO"),
    ],
    "wrongtype-and-keyspace": [
        ("SET", "s", "x"),
        ("LPUSH", "s", "a"),
        ("LLEN", "s"),
        ("LRANGE", "s", "0", "1"),
        ("LPOP", "s"),
        ("RPUSH", "l", "a", "b"),
        ("GET", "l"),
        ("RENAME", "l", "l2"),
        ("LRANGE", "l2", "0", "-1"),
        ("COPY", "l2", "l3"),
        ("RPUSH", "l3", "c"),
        ("LLEN", "l2"),
        ("LLEN", "l3"),
        ("MOVE", "l3", "1"),
        ("SELECT", "1"),
        ("LRANGE", "l3", "0", "-1"),
        ("SELECT", "0"),
        ("SCAN", "0", "TYPE", "list"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(kdiff: Diff, name: str) -> None:
    for args in SCENARIOS[name]:
        kdiff(*args)


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_shapes(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    for args in (
        ("RPUSH", "l", "a"),
        ("LPOP", "none", "2"),
        ("LPOP", "l", "0"),
        ("LMPOP", "1", "none", "LEFT"),
        ("LMPOP", "1", "l", "LEFT"),
        ("LPOS", "none", "a"),
        ("LINDEX", "none", "0"),
    ):
        kdiff(*args)
    kdiff.masked("HELLO", "2")


def test_long_list_ends_are_cheap_and_complete(dr: ServerProc) -> None:
    c = dr.client()
    c.delete("q")
    pipe = c.pipeline(transaction=False)
    for i in range(0, 20_000, 1000):
        pipe.rpush("q", *range(i, i + 1000))
    pipe.execute()
    for i in range(500):
        c.lpush("q", -1 - i)
    assert c.llen("q") == 20_500
    assert c.lindex("q", 0) == b"-500" and c.lindex("q", -1) == b"19999"
    assert c.lrange("q", 10_000, 10_002) == [b"9500", b"9501", b"9502"]
    assert c.lpop("q", 3) == [b"-500", b"-499", b"-498"]
    assert c.delete("q") == 1 and c.llen("q") == 0


VALUES = st.sampled_from(["a", "b", "c", "1", ""])


def test_list_state_machine(diff: Diff) -> None:
    class Lists(RuleBasedStateMachine):
        @initialize()
        def empty(self) -> None:
            diff("FLUSHALL")

        @rule(
            cmd=st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
            k=st.sampled_from(["l", "m"]),
            vs=st.lists(VALUES, min_size=1, max_size=3),
        )
        def push(self, cmd: str, k: str, vs: list[str]) -> None:
            diff(cmd, k, *vs)

        @rule(
            cmd=st.sampled_from(["LPOP", "RPOP"]),
            k=st.sampled_from(["l", "m"]),
            n=st.sampled_from([(), ("0",), ("1",), ("3",)]),
        )
        def pop(self, cmd: str, k: str, n: tuple[str, ...]) -> None:
            diff(cmd, k, *n)

        @rule(a=st.integers(-6, 6), b=st.integers(-6, 6))
        def ranges(self, a: int, b: int) -> None:
            diff("LRANGE", "l", str(a), str(b))

        @rule(a=st.integers(-6, 6), b=st.integers(-6, 6))
        def trim(self, a: int, b: int) -> None:
            diff("LTRIM", "l", str(a), str(b))

        @rule(i=st.integers(-6, 6), v=VALUES)
        def index_set(self, i: int, v: str) -> None:
            diff("LINDEX", "l", str(i))
            diff("LSET", "l", str(i), v)

        @rule(n=st.integers(-2, 2), v=VALUES)
        def rem(self, n: int, v: str) -> None:
            diff("LREM", "l", str(n), v)

        @rule(where=st.sampled_from(["BEFORE", "AFTER"]), p=VALUES, v=VALUES)
        def insert(self, where: str, p: str, v: str) -> None:
            diff("LINSERT", "l", where, p, v)

        @rule(
            v=VALUES, rank=st.sampled_from(["1", "-1", "2"]), count=st.sampled_from(["0", "1", "2"])
        )
        def pos(self, v: str, rank: str, count: str) -> None:
            diff("LPOS", "l", v, "RANK", rank, "COUNT", count)

        @rule(
            a=st.sampled_from(["l", "m"]),
            b=st.sampled_from(["l", "m"]),
            f=st.sampled_from(["LEFT", "RIGHT"]),
            t=st.sampled_from(["LEFT", "RIGHT"]),
        )
        def move(self, a: str, b: str, f: str, t: str) -> None:
            diff("LMOVE", a, b, f, t)

        @rule()
        def whole(self) -> None:
            diff("LRANGE", "m", "0", "-1")
            diff("LLEN", "l")

    run_state_machine_as_test(
        Lists,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
