"""Hash field expiry (HEXPIRE and its family, HPERSIST, HTTL and its family, HGETDEL,
HGETEX, HSETEX), differential against Redis 8.0.2 (tools/oracles.py) on both engines:
replies and errors to the byte in RESP2 and RESP3, keyspace events in order, and how
the other hash commands treat fields past their deadline.

Deadlines are absolute and far ahead, or already past, so that both servers see the
same state whatever the test's pace; where a field must pass its deadline while
present, both servers get the same 1 ms deadline, active expiry off (DEBUG
SET-ACTIVE-EXPIRE 0), and the test waits until both report the field gone.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.conftest import Diff, ServerProc, run_steps, start_oracle, unordered
from tests.test_notifications import Listening, _events
from tests.test_replication import _caught_up, _wait

_NOW = ("--repl-diskless-sync-delay", "0")

FAR = "4102444800"  # 2100-01-01, seconds
FAR_MS = FAR + "123"  # not a whole second: HEXPIRETIME rounds up
UNORDERED = {"HGETALL", "HKEYS", "HVALS", "HSCAN", "HRANDFIELD"}


@pytest.fixture(scope="module")
def oracle8() -> Iterator[ServerProc]:
    sp = start_oracle(flavor="redis8")
    yield sp
    sp.stop()
    shutil.rmtree(sp.dir, ignore_errors=True)


@pytest.fixture
def d8(dr: ServerProc, oracle8: ServerProc) -> Iterator[Diff]:
    d = Diff(dr.raw(), oracle8.raw())
    d("FLUSHALL")
    yield d
    d("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    d.ours.close()
    d.theirs.close()


SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "hexpire_errors": [
        ("SET", "s", "x"),
        ("HSET", "h", "a", "1"),
        ("HEXPIRE", "h", "10", "FIELDS", "1"),
        ("HEXPIRE", "s", "abc", "FOO", "1", "a"),
        ("HEXPIRE", "h", "abc", "FIELDS", "1", "a"),
        ("HEXPIRE", "nokey", "abc", "FIELDS", "2", "a", "b"),
        ("HEXPIRE", "h", "-1", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "-0", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "+1", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "01", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "-9223372036854775808", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "9223372036854775807", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "99999999999999999999", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "70368744177", "FIELDS", "1", "a"),
        ("HPEXPIRE", "h", "70368744177663", "FIELDS", "1", "a"),
        ("HEXPIREAT", "h", "70368744178", "FIELDS", "1", "a"),
        ("HEXPIREAT", "h", "70368744177", "FIELDS", "1", "a"),
        ("HPEXPIREAT", "h", "70368744177664", "FIELDS", "1", "a"),
        ("HPEXPIREAT", "h", "70368744177663", "FIELDS", "1", "a"),
        ("HPEXPIRETIME", "h", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "10", "FOO", "1", "a"),
        ("HEXPIRE", "h", "10", "1", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "10", "NX", "XX", "FIELDS", "1", "a"),
        ("HEXPIRE", "h", "10", "FIELDS", "0", "a"),
        ("HEXPIRE", "h", "10", "FIELDS", "-1", "a"),
        ("HEXPIRE", "h", "10", "FIELDS", "abc", "a"),
        ("HEXPIRE", "h", "10", "FIELDS", "01", "a"),
        ("HEXPIRE", "h", "10", "FIELDS", "+1", "a"),
        ("HEXPIRE", "h", "10", "FIELDS", "99999999999999999999", "a"),
        ("HEXPIRE", "h", "10", "FIELDS", "2", "a"),
        ("HEXPIRE", "h", "10", "NX", "FIELDS", "1"),
        ("HEXPIRE", "h", "10", "FIELDS", "1", "a", "b"),
        ("hexpire", "h", "10", "fields", "1", "a"),
        ("HTTL", "h", "FIELDS", "1", "a"),
        ("HPEXPIRE", "nokey", "10", "FIELDS", "3", "a", "b", "c"),
        ("EXISTS", "nokey"),
    ],
    "hexpire_conditions": [
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HPEXPIREAT", "h", FAR_MS, "XX", "FIELDS", "2", "a", "zz"),
        ("HPEXPIREAT", "h", FAR_MS, "GT", "FIELDS", "1", "a"),
        ("HPEXPIREAT", "h", FAR_MS, "NX", "FIELDS", "3", "a", "a", "zz"),
        ("HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "zz"),
        ("HEXPIRETIME", "h", "FIELDS", "3", "a", "b", "zz"),
        ("HPEXPIREAT", "h", FAR_MS, "NX", "FIELDS", "1", "a"),
        ("HPEXPIREAT", "h", FAR_MS, "GT", "FIELDS", "1", "a"),
        ("HPEXPIREAT", "h", FAR_MS, "LT", "FIELDS", "1", "a"),
        ("HPEXPIREAT", "h", FAR_MS, "FIELDS", "1", "a"),
        ("HEXPIREAT", "h", str(int(FAR) + 10), "gt", "fields", "2", "a", "b"),
        ("HEXPIREAT", "h", FAR, "lt", "fields", "2", "a", "b"),
        ("HEXPIREAT", "h", FAR, "XX", "FIELDS", "2", "a", "b"),
        ("HEXPIREAT", "h", FAR, "LT", "FIELDS", "1", "c"),
        ("HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "c"),
        ("HEXPIRE", "h", "1000", "FIELDS", "1", "b"),
        ("HTTL", "h", "FIELDS", "3", "a", "b", "c"),
        ("HPERSIST", "h", "FIELDS", "4", "a", "zz", "c", "a"),
        ("HTTL", "h", "FIELDS", "3", "a", "b", "c"),
        ("HLEN", "h"),
        ("OBJECT", "ENCODING", "h"),
    ],
    "past_deadlines_delete": [
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HEXPIRE", "h", "0", "FIELDS", "2", "a", "a"),
        ("HEXPIRE", "h", "0", "XX", "FIELDS", "1", "b"),
        ("HPEXPIREAT", "h", "1", "FIELDS", "3", "b", "zz", "c"),
        ("EXISTS", "h"),
        ("HSET", "h", "a", "1", "b", "2"),
        ("HPEXPIREAT", "h", FAR_MS, "FIELDS", "1", "a"),
        ("HEXPIREAT", "h", "100", "GT", "FIELDS", "1", "a"),
        ("HEXPIREAT", "h", "100", "LT", "FIELDS", "2", "a", "b"),
        ("HGETALL", "h"),
        ("HLEN", "h"),
    ],
    "encoding": [
        ("HSET", "h", "a", "1"),
        ("OBJECT", "ENCODING", "h"),
        ("HPERSIST", "h", "FIELDS", "1", "a"),
        ("HTTL", "h", "FIELDS", "1", "a"),
        ("OBJECT", "ENCODING", "h"),
        ("HEXPIRE", "h", "100", "FIELDS", "1", "zz"),
        ("OBJECT", "ENCODING", "h"),
        ("HPEXPIREAT", "h", FAR_MS, "FIELDS", "1", "a"),
        ("HPERSIST", "h", "FIELDS", "1", "a"),
        ("OBJECT", "ENCODING", "h"),
        ("HSET", "g", "a", "1"),
        ("HGETEX", "g", "PERSIST", "FIELDS", "1", "zz"),
        ("OBJECT", "ENCODING", "g"),
        ("HSET", "k", "a", "1"),
        ("HGETEX", "k", "FIELDS", "1", "a"),
        ("HSETEX", "k", "KEEPTTL", "FIELDS", "1", "a", "2"),
        ("OBJECT", "ENCODING", "k"),
        ("HSETEX", "k", "FNX", "EX", "100", "FIELDS", "1", "a", "2"),
        ("OBJECT", "ENCODING", "k"),
        ("HSETEX", "k", "FXX", "EX", "100", "FIELDS", "1", "a", "2"),
        ("OBJECT", "ENCODING", "k"),
        ("HSETEX", "big", "EX", "100", "FIELDS", "1", "a", "x" * 100),
        ("OBJECT", "ENCODING", "big"),
        ("HTTL", "big", "FIELDS", "1", "a"),
    ],
    "httl_family": [
        ("SET", "s", "x"),
        ("HTTL", "s", "FIELDS", "0", "a"),
        ("HSET", "h", "a", "1"),
        ("HTTL", "h"),
        ("HTTL", "h", "FIELDS", "1"),
        ("HTTL", "h", "FOO", "1", "a"),
        ("HTTL", "h", "FIELDS", "0", "a"),
        ("HTTL", "h", "FIELDS", "x", "a"),
        ("HTTL", "h", "FIELDS", "2", "a"),
        ("HTTL", "h", "FIELDS", "1", "a", "b"),
        ("HPTTL", "h", "fields", "1", "a"),
        ("HEXPIRETIME", "nokey", "FIELDS", "2", "a", "b"),
        ("HPEXPIRETIME", "h", "FIELDS", "2", "a", "zz"),
        ("HPEXPIREAT", "h", "4000000000001", "FIELDS", "1", "a"),
        ("HEXPIRETIME", "h", "FIELDS", "1", "a"),
        ("HPEXPIREAT", "h", "4000000000000", "FIELDS", "1", "a"),
        ("HEXPIRETIME", "h", "FIELDS", "1", "a"),
        ("HPEXPIRE", "h", "100500", "FIELDS", "1", "a"),
        ("HTTL", "h", "FIELDS", "1", "a"),
        ("HPERSIST", "s", "FIELDS", "1", "a"),
        ("HPERSIST", "h", "FIELDS", "0", "a"),
        ("HPERSIST", "h", "FOO", "1", "a"),
        ("HPERSIST", "nokey", "FIELDS", "1", "a"),
    ],
    "hgetdel": [
        ("SET", "s", "x"),
        ("HGETDEL", "s", "FOO", "0", "a"),
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HGETDEL", "h", "FOO", "1", "a"),
        ("HGETDEL", "h", "FIELDS", "0", "a"),
        ("HGETDEL", "h", "FIELDS", "2", "a"),
        ("HGETDEL", "nokey", "FIELDS", "2", "a", "b"),
        ("HGETDEL", "h", "FIELDS", "3", "a", "zz", "a"),
        ("HGETDEL", "h", "FIELDS", "1", "zz"),
        ("HLEN", "h"),
        ("HPEXPIREAT", "h", FAR_MS, "FIELDS", "1", "b"),
        ("HGETDEL", "h", "FIELDS", "1", "b"),
        ("HGETDEL", "h", "FIELDS", "2", "c", "b"),
        ("EXISTS", "h"),
    ],
    "hgetex": [
        ("SET", "s", "x"),
        ("HGETEX", "s", "EX", "abc", "FIELDS", "1", "a"),
        ("HSET", "h", "a", "1", "b", "2"),
        ("HGETEX", "h", "EX", "FIELDS", "1", "a"),
        ("HGETEX", "h", "EX", "-1", "FIELDS", "1", "a"),
        ("HGETEX", "h", "EX", "70368744178", "FIELDS", "1", "a"),
        ("HGETEX", "h", "EX", "10", "x"),
        ("HGETEX", "nokey", "EX", "10", "FIELDS"),
        ("HGETEX", "h", "PERSIST", "10", "FIELDS", "1", "a"),
        ("HGETEX", "h", "EX", "10", "PX", "10", "FIELDS", "1", "a"),
        ("HGETEX", "h", "KEEPTTL", "FIELDS", "1", "a"),
        ("HGETEX", "h", "FIELDS", "0", "a"),
        ("HGETEX", "h", "FIELDS", "10", "x"),
        ("HGETEX", "nokey", "FIELDS", "2", "a", "b"),
        ("HGETEX", "h", "FIELDS", "2", "a", "zz"),
        ("HGETEX", "h", "PXAT", FAR_MS, "FIELDS", "3", "a", "zz", "a"),
        ("HPEXPIRETIME", "h", "FIELDS", "2", "a", "b"),
        ("HGETEX", "h", "EXAT", FAR, "FIELDS", "1", "b"),
        ("HPEXPIRETIME", "h", "FIELDS", "2", "a", "b"),
        ("HGETEX", "h", "EX", "100", "FIELDS", "1", "a"),
        ("HTTL", "h", "FIELDS", "2", "a", "b"),
        ("HGETEX", "h", "persist", "fields", "2", "a", "zz"),
        ("HTTL", "h", "FIELDS", "2", "a", "b"),
        ("HGETEX", "h", "PX", "0", "FIELDS", "1", "b"),
        ("HGETALL", "h"),
        ("HGETEX", "h", "EXAT", "1", "FIELDS", "2", "a", "zz"),
        ("EXISTS", "h"),
    ],
    "hsetex": [
        ("SET", "s", "x"),
        ("HSETEX", "h", "FIELDS", "1", "a"),
        ("HSETEX", "h", "EX", "10", "PX"),
        ("HSETEX", "h", "FNX", "FXX"),
        ("HSETEX", "h", "FIELDS"),
        ("HSETEX", "h", "FNX", "FIELDS", "1", "a"),
        ("HSETEX", "h", "FIELDS", "0", "a", "1"),
        ("HSETEX", "h", "FIELDS", "x", "a", "1"),
        ("HSETEX", "h", "FIELDS", "2147483648", "a", "1"),
        ("HSETEX", "h", "FIELDS", "2", "a", "1"),
        ("HSETEX", "h", "FIELDS", "1", "a", "1", "b", "2"),
        ("HSETEX", "h", "FIELDS", "1", "a", "1", "EX", "10"),
        ("HSETEX", "h", "EX", "10", "PX", "10", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "EX", "10", "KEEPTTL", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "KEEPTTL", "EX", "10", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "EX", "x", "EX", "y", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "EX", "-5", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "FNX", "FXX", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "FOO", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "PERSIST", "FIELDS", "1", "a", "1"),
        ("HSETEX", "s", "FOO", "FIELDS", "1", "a", "1"),
        ("HSETEX", "s", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "FXX", "FIELDS", "1", "a", "1"),
        ("EXISTS", "h"),
        ("HSETEX", "h", "FNX", "FIELDS", "2", "a", "1", "b", "2"),
        ("HSETEX", "h", "FNX", "FIELDS", "1", "a", "9"),
        ("HSETEX", "h", "FXX", "FIELDS", "2", "a", "8", "zz", "1"),
        ("HSETEX", "h", "FXX", "PXAT", FAR_MS, "FIELDS", "2", "a", "7", "b", "6"),
        ("HPEXPIRETIME", "h", "FIELDS", "2", "a", "b"),
        ("HSETEX", "h", "KEEPTTL", "FIELDS", "1", "a", "5"),
        ("HPEXPIRETIME", "h", "FIELDS", "1", "a"),
        ("HSETEX", "h", "FIELDS", "1", "a", "4"),
        ("HPEXPIRETIME", "h", "FIELDS", "2", "a", "b"),
        ("HSETEX", "h", "fields", "2", "dup", "1", "dup", "2"),
        ("HSETEX", "h", "FIELDS", "1", "FIELDS", "1"),
        ("HSETEX", "h", "exat", FAR, "FIELDS", "1", "c", "3"),
        ("HTTL", "h", "FIELDS", "1", "c"),
        ("HSETEX", "h", "EX", "0", "FIELDS", "2", "a", "1", "c", "3"),
        ("HGETALL", "h"),
        ("HSETEX", "n", "PX", "0", "FIELDS", "1", "a", "1"),
        ("EXISTS", "n"),
    ],
    "other_commands_and_deadlines": [
        ("HSET", "h", "a", "1", "b", "2", "c", "1.5", "d", "x"),
        ("HPEXPIREAT", "h", FAR_MS, "FIELDS", "4", "a", "b", "c", "d"),
        ("HSET", "h", "a", "10"),
        ("HINCRBY", "h", "b", "5"),
        ("HINCRBYFLOAT", "h", "c", "1"),
        ("HSETNX", "h", "d", "y"),
        ("HMSET", "h", "e", "1"),
        ("HPEXPIRETIME", "h", "FIELDS", "5", "a", "b", "c", "d", "e"),
        ("HDEL", "h", "b"),
        ("HPEXPIRETIME", "h", "FIELDS", "2", "b", "c"),
        ("RENAME", "h", "r"),
        ("HPEXPIRETIME", "r", "FIELDS", "2", "c", "d"),
        ("COPY", "r", "k"),
        ("HPEXPIRETIME", "k", "FIELDS", "2", "c", "d"),
        ("MOVE", "k", "3"),
        ("SELECT", "3"),
        ("HPEXPIRETIME", "k", "FIELDS", "2", "c", "d"),
        ("SELECT", "0"),
        ("EXPIRE", "r", "1000"),
        ("TTL", "r"),
        ("HTTL", "r", "FIELDS", "1", "a"),
        ("SET", "r", "x"),
        ("HTTL", "r", "FIELDS", "1", "a"),
        ("HSET", "r2", "a", "1"),
        ("HPEXPIREAT", "r2", FAR_MS, "FIELDS", "1", "a"),
        ("DEL", "r2"),
        ("HSET", "r2", "a", "1"),
        ("HTTL", "r2", "FIELDS", "1", "a"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(d8: Diff, name: str) -> None:
    run_steps(d8, SCENARIOS[name], UNORDERED)


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_shapes(d8: Diff, proto: str) -> None:
    d8.both("HELLO", proto)  # (the servers name their own versions)
    run_steps(
        d8,
        [
            ("HSET", "h", "a", "1", "b", "2"),
            ("HEXPIRE", "h", "100", "FIELDS", "2", "a", "zz"),
            ("HTTL", "h", "FIELDS", "2", "a", "zz"),
            ("HPERSIST", "h", "FIELDS", "2", "a", "zz"),
            ("HGETDEL", "h", "FIELDS", "2", "a", "zz"),
            ("HGETDEL", "nokey", "FIELDS", "2", "a", "zz"),
            ("HGETEX", "h", "FIELDS", "2", "b", "zz"),
            ("HGETEX", "nokey", "PERSIST", "FIELDS", "1", "b"),
            ("HSETEX", "h", "FXX", "FIELDS", "1", "zz", "1"),
            ("HSETEX", "h", "FIELDS", "1", "zz", "1"),
            ("HGETALL", "h"),
            ("HTTL", "h", "FIELDS", "0", "b"),
        ],
        UNORDERED,
    )


def _wait_past(d: Diff, key: str, *fields: str) -> None:
    """Until both servers answer -2 (past its deadline) for each field."""
    args = ("HTTL", key, "FIELDS", str(len(fields)), *fields)
    gone = b"*%d\r\n" % len(fields) + b":-2\r\n" * len(fields)
    for _ in range(500):
        if d.ours.command(*args) == gone and d.theirs.command(*args) == gone:
            time.sleep(0.002)  # -2 from the deadline's own ms on; expired after it
            return
        time.sleep(0.01)
    pytest.fail("the fields' 1 ms deadlines did not pass within 5 s")


# Steps after `HPEXPIRE key 1` on some fields, with active expiry off: what each command
# does with a field past its deadline that is still stored.
PAST: dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = {
    "reads_skip_and_count": (
        [
            ("HSET", "h", "a", "1", "b", "2", "c", "3"),
            ("HPEXPIRE", "h", "1", "FIELDS", "2", "a", "b"),
        ],
        [
            ("HLEN", "h"),
            ("HGETALL", "h"),
            ("HKEYS", "h"),
            ("HVALS", "h"),
            ("HSCAN", "h", "0"),
            ("HTTL", "h", "FIELDS", "2", "a", "c"),
            ("HPERSIST", "h", "FIELDS", "2", "a", "c"),
            ("EXISTS", "h"),
            ("TYPE", "h"),
            ("DBSIZE",),
            ("HLEN", "h"),
            ("HGET", "h", "a"),
            ("HLEN", "h"),
            ("HEXISTS", "h", "b"),
            ("HLEN", "h"),
            ("HGETALL", "h"),
        ],
    ),
    "hmget_and_strlen": (
        [
            ("HSET", "h", "a", "1", "b", "2", "c", "3"),
            ("HPEXPIRE", "h", "1", "FIELDS", "2", "a", "b"),
        ],
        [("HSTRLEN", "h", "a"), ("HMGET", "h", "b", "c", "zz"), ("HLEN", "h")],
    ),
    "hmget_empties": (
        [("HSET", "h", "a", "1"), ("HPEXPIRE", "h", "1", "FIELDS", "1", "a")],
        [("HMGET", "h", "a", "x"), ("EXISTS", "h")],
    ),
    "writes_over_past_fields": (
        [
            ("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"),
            ("HPEXPIRE", "h", "1", "FIELDS", "4", "a", "b", "c", "d"),
        ],
        [
            ("HSET", "h", "a", "9"),
            ("HTTL", "h", "FIELDS", "1", "a"),
            ("HDEL", "h", "b"),
            ("HINCRBY", "h", "c", "5"),
            ("HSETNX", "h", "d", "z"),
            ("HLEN", "h"),
            ("HGETALL", "h"),
        ],
    ),
    "hexpire_revives": (
        [("HSET", "h", "a", "1", "b", "2"), ("HPEXPIRE", "h", "1", "FIELDS", "1", "a")],
        [
            ("HEXPIRE", "h", "100", "NX", "FIELDS", "1", "a"),
            ("HEXPIRE", "h", "100", "FIELDS", "1", "a"),
            ("HGET", "h", "a"),
        ],
    ),
    "hgetdel_hgetex_hsetex": (
        [
            ("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"),
            ("HPEXPIRE", "h", "1", "FIELDS", "3", "a", "b", "c"),
        ],
        [
            ("HGETDEL", "h", "FIELDS", "2", "a", "d"),
            ("HGETEX", "h", "EX", "100", "FIELDS", "2", "b", "zz"),
            ("HSETEX", "h", "FNX", "FIELDS", "1", "c", "9"),
            ("HGETALL", "h"),
        ],
    ),
    "hincrby_last_field": (
        [("HSET", "h", "a", "1"), ("HPEXPIRE", "h", "1", "FIELDS", "1", "a")],
        [("HINCRBYFLOAT", "h", "a", "2.5"), ("HGETALL", "h"), ("HTTL", "h", "FIELDS", "1", "a")],
    ),
    "hsetex_fxx_empties": (
        [("HSET", "h", "a", "1"), ("HPEXPIRE", "h", "1", "FIELDS", "1", "a")],
        [("HSETEX", "h", "FXX", "FIELDS", "1", "a", "2"), ("EXISTS", "h")],
    ),
    "hrandfield": (
        [("HSET", "h", "a", "1", "b", "2"), ("HPEXPIRE", "h", "1", "FIELDS", "1", "a")],
        [("HRANDFIELD", "h", "5"), ("HLEN", "h"), ("HPEXPIRE", "h", "1", "FIELDS", "1", "b")],
    ),
}


def _past(d: Diff, setup: list[tuple[Any, ...]]) -> None:
    d("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    run_steps(d, setup, UNORDERED)
    timed = [s for s in setup if s[0] == "HPEXPIRE"]
    for step in timed:
        _wait_past(d, step[1], *step[5:])


@pytest.mark.parametrize("name", sorted(PAST))
def test_fields_past_their_deadline(d8: Diff, name: str) -> None:
    setup, steps = PAST[name]
    _past(d8, setup)
    run_steps(d8, steps, UNORDERED)
    if name == "hrandfield":  # b's deadline, set by the last step, passes: all gone
        _wait_past(d8, "h", "b")
        run_steps(d8, [("HRANDFIELD", "h"), ("HRANDFIELD", "h", "0"), ("EXISTS", "h")], set())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_events(dr: ServerProc, oracle8: ServerProc, name: str) -> None:
    lst = Listening(dr, oracle8, "AKEnm")
    try:
        for step in SCENARIOS[name]:
            lst.step(*step)
    finally:
        lst.close()


@pytest.mark.parametrize("name", sorted(PAST))
def test_events_of_fields_past_their_deadline(
    dr: ServerProc, oracle8: ServerProc, name: str
) -> None:
    setup, steps = PAST[name]
    lst = Listening(dr, oracle8, "AKEnm")
    try:
        for step in setup:
            lst.step(*step)
        for step in setup:
            if step[0] == "HPEXPIRE":
                _wait_past(lst.diff, step[1], *step[5:])
        for step in steps:
            lst.step(*step)
    finally:
        lst.close()


def test_active_expiry_removes_fields_and_emptied_hashes(
    dr: ServerProc, oracle8: ServerProc
) -> None:
    """Both servers' background cycles remove the fields (and a hash they empty), with
    the same events -- compared as sets, since each cycle runs on its own time."""
    lst = Listening(dr, oracle8, "AKEh", active_expire=True)
    try:
        before = [sp.client().info("stats")["expired_subkeys"] for sp in lst.servers]
        lst.step("HSET", "h", "a", "1", "b", "2", "c", "3")
        lst.step("HSET", "g", "a", "1", "b", "2")
        lst.step("HPEXPIRE", "h", "20", "FIELDS", "2", "a", "b")
        lst.step("HPEXPIRE", "g", "20", "FIELDS", "2", "a", "b")
        for sp, start in zip(lst.servers, before, strict=True):
            c = sp.client()
            for _ in range(500):
                if c.exists("g") == 0 and c.hlen("h") == 1:
                    break
                time.sleep(0.01)
            assert c.exists("g") == 0 and c.hgetall("h") == {b"c": b"3"}, sp.kind
            assert c.info("stats")["expired_subkeys"] - start == 4, sp.kind
        ours, theirs = (sorted(map(repr, _events(sub))) for sub in lst.subs)
        assert ours == theirs
        assert "hexpired" in repr(ours) and "b'del'" in repr(ours), ours
    finally:
        lst.close()


# -- generated sequences ------------------------------------------------------------------
_KEYS = st.sampled_from(["h", "g"])
_FIELD = st.sampled_from(["a", "b", "c", "F" * 600])
_FIELDS = st.lists(_FIELD, min_size=1, max_size=3)
# Deadlines far ahead (distinct, so that GT and LT decide), or long past: never one
# that passes while the sequence runs.
_WHEN = st.sampled_from([FAR_MS, str(int(FAR_MS) + 5000), "1", "0"])
_COND = st.sampled_from([(), ("NX",), ("XX",), ("GT",), ("LT",)])


def _fields_arg(fields: list[str]) -> tuple[str, ...]:
    return ("FIELDS", str(len(fields)), *fields)


def test_field_expiry_state_machine(d8: Diff) -> None:
    """Random sequences of the field-expiry commands and the hash commands around them,
    reply by reply, against Redis 8.0."""

    class FieldExpiry(RuleBasedStateMachine):
        @initialize()
        def empty(self) -> None:
            d8("FLUSHALL")

        @rule(k=_KEYS, fields=_FIELDS)
        def hset(self, k: str, fields: list[str]) -> None:
            d8("HSET", k, *[x for f in fields for x in (f, "1")])

        @rule(k=_KEYS, when=_WHEN, cond=_COND, fields=_FIELDS)
        def hpexpireat(self, k: str, when: str, cond: tuple[str], fields: list[str]) -> None:
            d8("HPEXPIREAT", k, when, *cond, *_fields_arg(fields))

        @rule(
            cmd=st.sampled_from(["HPEXPIRETIME", "HEXPIRETIME", "HPERSIST", "HGETDEL"]),
            k=_KEYS,
            fields=_FIELDS,
        )
        def per_field(self, cmd: str, k: str, fields: list[str]) -> None:
            d8(cmd, k, *_fields_arg(fields))

        @rule(
            k=_KEYS,
            option=st.sampled_from([(), ("PERSIST",), ("PXAT", FAR_MS), ("PXAT", "1")]),
            fields=_FIELDS,
        )
        def hgetex(self, k: str, option: tuple[str, ...], fields: list[str]) -> None:
            d8("HGETEX", k, *option, *_fields_arg(fields))

        @rule(
            k=_KEYS,
            cond=st.sampled_from([(), ("FNX",), ("FXX",)]),
            option=st.sampled_from([(), ("KEEPTTL",), ("PXAT", FAR_MS), ("EXAT", "1")]),
            fields=_FIELDS,
        )
        def hsetex(
            self, k: str, cond: tuple[str], option: tuple[str, ...], fields: list[str]
        ) -> None:
            pairs = [x for f in fields for x in (f, "2")]
            d8("HSETEX", k, *cond, *option, "FIELDS", str(len(fields)), *pairs)

        @rule(cmd=st.sampled_from(["HGET", "HEXISTS", "HDEL", "HSTRLEN"]), k=_KEYS, f=_FIELD)
        def field(self, cmd: str, k: str, f: str) -> None:
            d8(cmd, k, f)

        @rule(k=_KEYS, f=_FIELD)
        def hincrby(self, k: str, f: str) -> None:
            d8("HINCRBY", k, f, "1")

        @rule(cmd=st.sampled_from(["HLEN", "EXISTS", "DEL"]), k=_KEYS)
        def whole(self, cmd: str, k: str) -> None:
            d8(cmd, k)

        @rule(cmd=st.sampled_from(["RENAME", "COPY"]))
        def move_around(self, cmd: str) -> None:
            d8(cmd, "h", "g")

        @rule(k=_KEYS)
        def listing(self, k: str) -> None:
            unordered(d8, "HGETALL", k)

    run_state_machine_as_test(
        FieldExpiry,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


# -- replication ------------------------------------------------------------------------
def _fields(sp: ServerProc) -> dict[bytes, Any]:
    """Each hash of db 0: its fields and values, and each field's deadline (ms)."""
    c = sp.client()
    out = {}
    for key in sorted(c.keys()):
        pairs = sorted(c.hgetall(key).items())
        names = [f for f, _ in pairs]
        when = c.execute_command("HPEXPIRETIME", key, "FIELDS", len(names), *names) if names else []
        out[key] = (pairs, when)
    return out


def _hfe_workload(c: Any) -> None:
    """Field deadlines set, changed, dropped, past (deleted at once) and passing (the
    primary's active expiry deletes them while the test waits)."""
    c.hset("hx", mapping={"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"})
    c.execute_command("HPEXPIREAT", "hx", FAR_MS, "FIELDS", "2", "a", "b")
    c.execute_command("HEXPIRE", "hx", "1000", "FIELDS", "1", "d")
    c.execute_command("HPERSIST", "hx", "FIELDS", "1", "a")
    c.execute_command("HEXPIRE", "hx", "0", "FIELDS", "1", "c")
    c.execute_command("HSETEX", "hy", "EX", "1000", "FIELDS", "2", "x", "1", "y", "2")
    c.execute_command("HGETEX", "hy", "PERSIST", "FIELDS", "1", "x")
    c.execute_command("HGETEX", "hy", "EXAT", FAR, "FIELDS", "1", "y")
    c.execute_command("HGETDEL", "hx", "FIELDS", "1", "e")
    c.hincrby("hx", "d", 5)
    c.hset("hz", mapping={"p": "1", "q": "2", "r": "3"})
    c.execute_command("HPEXPIRE", "hz", "30", "FIELDS", "2", "p", "q")
    c.hset("gone", mapping={"p": "1"})
    c.execute_command("HPEXPIRE", "gone", "30", "FIELDS", "1", "p")


def _settled(primary: ServerProc, replica: ServerProc) -> bool:
    c = primary.client()
    return c.exists("gone") == 0 and c.hlen("hz") == 1 and _caught_up(primary, replica)


def test_a_replica_of_redis_8_keeps_field_deadlines(dr_factory: Any) -> None:
    """Redis 8.0's full sync (RDB 12) and stream (HPEXPIREAT, HPERSIST, HSETEX PXAT,
    HDELs of its active expiry) give the diskredis replica the same fields and
    deadlines; the replica deletes no field itself."""
    primary = start_oracle(*_NOW, flavor="redis8")
    try:
        c = primary.client()
        c.hset("before", mapping={"a": "1", "b": "2"})
        c.execute_command("HPEXPIREAT", "before", FAR_MS, "FIELDS", "1", "a")
        replica = dr_factory("--replicaof", "127.0.0.1", str(primary.port))
        _wait(lambda: _caught_up(primary, replica), "the replica's sync", timeout=30)
        assert _fields(replica) == _fields(primary)
        _hfe_workload(c)
        _wait(lambda: _settled(primary, replica), "the fields' deadlines and the replica")
        assert _fields(replica) == _fields(primary)
        assert replica.client().info("stats")["expired_subkeys"] == 0
    finally:
        primary.stop()


def test_replicas_of_diskredis_keep_field_deadlines(dr_factory: Any) -> None:
    """A diskredis primary holding field deadlines: a diskredis replica and a Redis 8.0
    replica each get them by the full sync (RDB 12, which this primary writes when a
    hash has field deadlines) and by the stream, active expiry's HDELs included."""
    primary = dr_factory()
    c = primary.client()
    c.hset("before", mapping={"a": "1", "b": "2"})
    c.execute_command("HPEXPIREAT", "before", FAR_MS, "FIELDS", "1", "a")
    ours = dr_factory("--replicaof", "127.0.0.1", str(primary.port))
    theirs = start_oracle("--replicaof", "127.0.0.1", str(primary.port), flavor="redis8")
    try:
        for replica in (ours, theirs):
            _wait(lambda r=replica: _caught_up(primary, r), "the replica's sync", timeout=30)
            assert _fields(replica) == _fields(primary), replica.kind
        _hfe_workload(c)
        for replica in (ours, theirs):
            _wait(lambda r=replica: _settled(primary, r), "the deadlines and the replica")
            assert _fields(replica) == _fields(primary), replica.kind
    finally:
        theirs.stop()


# -- what a review found ------------------------------------------------------------------
def _past_fields(c: Any, key: str, *fields: str) -> None:
    """`fields` of `key` past their deadline and still stored (active expiry off)."""
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    c.execute_command("HPEXPIRE", key, 1, "FIELDS", len(fields), *fields)
    for _ in range(500):
        if c.execute_command("HPTTL", key, "FIELDS", len(fields), *fields) == [-2] * len(fields):
            time.sleep(0.002)
            return
        time.sleep(0.01)
    pytest.fail("the 1 ms deadlines did not pass")


def test_hrandfield_of_a_hash_all_past_while_nothing_may_be_deleted(dr_factory: Any) -> None:
    """CLIENT PAUSE WRITE: fields past their deadline are not deleted, HRANDFIELD finds
    none (an internal error before), and the stream to replicas goes on."""
    sp = dr_factory()
    c = sp.client()
    c.hset("h", mapping={"a": "1", "b": "2"})
    _past_fields(c, "h", "a", "b")
    c.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
    assert c.execute_command("HRANDFIELD", "h", -3) == []
    assert c.execute_command("HRANDFIELD", "h", 3, "WITHVALUES") == []
    assert c.execute_command("HRANDFIELD", "h") is None
    c.execute_command("CLIENT", "UNPAUSE")
    assert c.hlen("h") == 2  # (not deleted while paused)


def test_dump_and_full_sync_keep_fields_past_their_deadline(
    dr_factory: Any, oracle8: ServerProc
) -> None:
    """As Redis: a field past its deadline, not yet removed, is in DUMP and in the
    full sync with its deadline -- HEXPIRE may yet give it a new one, on the primary and
    on its replicas alike."""
    sp = dr_factory()
    c = sp.client()
    c.hset("h", mapping={"a": "1", "b": "2"})
    c.hset("all", mapping={"x": "1"})
    _past_fields(c, "h", "a")
    _past_fields(c, "all", "x")
    theirs = oracle8.client()
    theirs.delete("all")
    assert theirs.restore("all", 0, c.dump("all")) == b"OK"
    assert theirs.hlen("all") == 1  # (Redis keeps it until a command finds it)
    theirs.delete("all")
    replica = dr_factory("--replicaof", "127.0.0.1", str(sp.port))
    _wait(lambda: _caught_up(sp, replica), "the replica's sync", timeout=30)
    r = replica.client()
    assert r.hlen("h") == 2
    assert c.execute_command("HEXPIRE", "h", 100, "FIELDS", 1, "a") == [1]
    _wait(lambda: _caught_up(sp, replica), "the replica")
    assert c.hget("h", "a") == r.hget("h", "a") == b"1"
    assert r.execute_command("HTTL", "h", "FIELDS", 1, "a") == [100]


def test_keys_at_the_engines_length_limit_take_deadlines(dr_factory: Any) -> None:
    """A key of 506 bytes (its record key fits LMDB's 511, its deadline entry does not):
    field and key deadlines alike, then expiry removes both."""
    sp = dr_factory()
    c = sp.client()
    for n in (499, 503, 506, 520):
        key = "k" * n
        c.hset(key, "a", "1")
        assert c.execute_command("HPEXPIRE", key, 50, "FIELDS", 1, "a") == [1]
        assert c.set("s" * n, "v", px=50)
    for _ in range(500):
        if c.dbsize() == 0:
            break
        time.sleep(0.02)
    assert c.dbsize() == 0
    assert c.info("stats")["expired_subkeys"] >= 4


def test_a_deadline_of_zero_on_a_replica_is_a_deadline(dr_factory: Any) -> None:
    """A primary's HPEXPIREAT 0 (a replica keeps the deadlines it is sent): the field
    has a deadline long past; the hash's other deadlines stay right."""
    sp = dr_factory("--replica-read-only", "no")
    c = sp.client()
    primary = dr_factory()
    c.replicaof("127.0.0.1", primary.port)
    p = primary.client()
    p.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    p.execute_command("HPEXPIREAT", "h", 0, "FIELDS", 1, "a")  # (past: deleted at once)
    _wait(lambda: _caught_up(primary, sp), "the replica")
    c.execute_command("HPEXPIREAT", "h", 0, "FIELDS", 1, "b")  # kept: it is a replica
    assert c.execute_command("HPEXPIRETIME", "h", "FIELDS", 1, "b") == [-2]
    c.replicaof("no", "one")
    c.execute_command("HPEXPIRE", "h", 100_000, "FIELDS", 1, "c")
    c.execute_command("HPERSIST", "h", "FIELDS", 1, "b")
    assert 99_000 < c.execute_command("HPTTL", "h", "FIELDS", 1, "c")[0] <= 100_000


def test_watch_is_not_touched_when_no_field_changes(dr: ServerProc, oracle8: ServerProc) -> None:
    """HEXPIRE of missing fields, or of none that qualifies (the hash is made ready for
    deadlines, as Redis's listpack becomes listpackex): a WATCH of it holds, in both."""
    for sp in (dr, oracle8):
        a, b = sp.raw(), sp.raw()
        a.command("DEL", "h")
        a.command("HSET", "h", "a", "1")
        for change in (
            ("HEXPIRE", "h", "100", "FIELDS", "1", "zz"),
            ("HEXPIRE", "h", "100", "XX", "FIELDS", "1", "a"),
            ("HGETEX", "h", "PERSIST", "FIELDS", "1", "a"),
            ("HGETEX", "h", "EX", "100", "FIELDS", "1", "zz"),
        ):
            a.command("WATCH", "h")
            b.command(*change)
            a.command("MULTI")
            a.command("SET", "x", "1")
            assert a.command("EXEC") == b"*1\r\n+OK\r\n", (sp.kind, change)
        a.close()
        b.close()
