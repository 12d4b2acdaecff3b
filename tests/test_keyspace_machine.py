"""A hypothesis state machine driving diskredis and redis-server with the same string and
keyspace commands across databases, comparing every reply."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.conftest import Diff

KEYS = st.sampled_from(["a", "b", "c", "long:" + "x" * 600])
VALUES = st.sampled_from(["0", "7", "-3", "hello", "", "3.5", "9223372036854775807"])
DBS = st.sampled_from(["0", "1", "2"])
FAR = int(time.time()) + 10_000  # a deadline no relative EXPIRE of the machine reaches


def test_keyspace_state_machine(diff: Diff) -> None:
    class Keyspace(RuleBasedStateMachine):
        @initialize()
        def empty(self) -> None:
            diff("FLUSHALL")
            diff("SELECT", "0")

        @rule(
            k=KEYS,
            v=VALUES,
            opt=st.sampled_from([(), ("NX",), ("XX",), ("GET",), ("KEEPTTL",), ("EX", "100")]),
        )
        def set(self, k: str, v: str, opt: tuple[str, ...]) -> None:
            diff("SET", k, v, *opt)

        @rule(
            cmd=st.sampled_from(
                [
                    "GET",
                    "INCR",
                    "DECR",
                    "STRLEN",
                    "TYPE",
                    "EXISTS",
                    "TTL",
                    "PERSIST",
                    "GETDEL",
                    "DEL",
                    "UNLINK",
                ]
            ),
            k=KEYS,
        )
        def one_key(self, cmd: str, k: str) -> None:
            diff(cmd, k)

        @rule(k=KEYS)
        def expiretime(self, k: str) -> None:
            """The deadline in seconds: the two servers took "now" a few ms apart, so a
            relative expiry may land on either side of a second boundary."""
            ours, theirs = (int(r[1:-2]) for r in diff.both("EXPIRETIME", k))
            assert ours == theirs or (min(ours, theirs) > 0 and abs(ours - theirs) == 1)

        @rule(
            cmd=st.sampled_from(["APPEND", "INCRBY", "SETNX", "GETSET", "INCRBYFLOAT"]),
            k=KEYS,
            v=VALUES,
        )
        def key_value(self, cmd: str, k: str, v: str) -> None:
            diff(cmd, k, v)

        @rule(
            k=KEYS,
            secs=st.sampled_from(["100", "200", "0", "-1"]),
            opt=st.sampled_from([(), ("NX",), ("XX",)]),
        )
        def expire(self, k: str, secs: str, opt: tuple[str, ...]) -> None:
            diff("EXPIRE", k, secs, *opt)

        # GT and LT compare deadlines: relative ones taken a millisecond apart on the two
        # servers could tie on one and not the other, so these use absolute times.
        @rule(k=KEYS, later=st.sampled_from([0, 300]), opt=st.sampled_from(["GT", "LT"]))
        def expire_compared(self, k: str, later: int, opt: str) -> None:
            diff("EXPIREAT", k, str(FAR + later), opt)

        @rule(cmd=st.sampled_from(["RENAME", "RENAMENX", "COPY"]), a=KEYS, b=KEYS)
        def two_keys(self, cmd: str, a: str, b: str) -> None:
            diff(cmd, a, b)

        @rule(k=KEYS, db=DBS)
        def move(self, k: str, db: str) -> None:
            diff("MOVE", k, db)

        @rule(a=KEYS, b=KEYS, db=DBS)
        def copy_db(self, a: str, b: str, db: str) -> None:
            diff("COPY", a, b, "DB", db, "REPLACE")

        @rule(db=DBS)
        def select(self, db: str) -> None:
            diff("SELECT", db)

        @rule(a=DBS, b=DBS)
        def swapdb(self, a: str, b: str) -> None:
            diff("SWAPDB", a, b)

        @rule()
        def flushdb(self) -> None:
            diff("FLUSHDB")

        @rule()
        def dbsize(self) -> None:
            diff("DBSIZE")

        @rule()
        def keys(self) -> None:
            ours, theirs = diff.both("KEYS", "*")
            assert sorted(_items(ours)) == sorted(_items(theirs))

        @rule(keys=st.lists(KEYS, min_size=1, max_size=3))
        def mget(self, keys: list[str]) -> None:
            diff("MGET", *keys)

    run_state_machine_as_test(
        Keyspace,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def _items(raw: bytes) -> list[Any]:
    import hiredis

    r = hiredis.Reader()
    r.feed(raw)
    return list(r.gets())
