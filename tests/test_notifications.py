"""Keyspace notifications, differential against redis-server 7.0 on both engines.

With `notify-keyspace-events` on every class on both servers, a subscriber on each
listens to ``__key*__:*``; every step of the other test modules' scenarios is sent to
both servers and, after each one, the events each subscriber was sent are compared, in
order (event names, keys, databases, and K before E as Redis publishes them).

Active expiry is off on both during those comparisons (DEBUG SET-ACTIVE-EXPIRE 0): when a
background cycle removes a key is each server's own affair, so its "expired" events are
compared separately, as a set, once both have removed every key."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import (
    test_blocking,
    test_geo,
    test_hashes,
    test_hyperloglog,
    test_lists,
    test_sets,
    test_sort,
    test_streams,
    test_strings,
    test_transactions,
    test_zsets,
)
from tests.conftest import Diff, RawClient, ServerProc, _parse, encode_command

_tokens = itertools.count()

SCENARIOS: dict[str, list[tuple[Any, ...]]] = {}
for _module, _tables in (
    (test_strings, ("SCENARIOS", "KEYSPACE_SCENARIOS", "BITMAP_SCENARIOS")),
    (test_hashes, ("SCENARIOS",)),
    (test_lists, ("SCENARIOS",)),
    (test_sets, ("SCENARIOS",)),
    (test_zsets, ("SCENARIOS",)),
    (test_sort, ("SCENARIOS",)),
    (test_transactions, ("SCENARIOS",)),
    (test_hyperloglog, ("SCENARIOS",)),
    (test_geo, ("SCENARIOS",)),
    (test_streams, ("SCENARIOS",)),
):
    for _table in _tables:
        for _name, _steps in getattr(_module, _table).items():
            SCENARIOS["%s.%s" % (_module.__name__.split("_", 1)[1], _name)] = _steps
SCENARIOS["blocking.immediate"] = test_blocking.IMMEDIATE
SCENARIOS["strings.object"] = test_strings.OBJECT_SCENARIO


def _events(sub: RawClient) -> list[Any]:
    """The events `sub` was sent since the last call: a PING sentinel ends them."""
    token = b"sentinel-%d" % next(_tokens)
    sub.send(encode_command(("PING", token)))
    out = []
    while True:
        value = _parse(sub.reply())
        if value == [b"pong", token]:
            return out
        out.append(value)


class Listening:
    """A command client and a subscriber to every keyspace event, per server."""

    def __init__(
        self, ours: ServerProc, theirs: ServerProc, classes: str, active_expire: bool = False
    ) -> None:
        self.servers = (ours, theirs)
        self.diff = Diff(ours.raw(), theirs.raw())
        self.diff("FLUSHALL")
        self.diff("DEBUG", "SET-ACTIVE-EXPIRE", "1" if active_expire else "0")
        self.diff("CONFIG", "SET", "notify-keyspace-events", classes)
        self.subs = (ours.raw(), theirs.raw())
        for sub in self.subs:
            sub.command("PSUBSCRIBE", "__key*__:*")

    def step(self, *args: Any) -> list[Any]:
        """Send `args` to both (replies not compared: the modules' own tests do that);
        compare the events it caused."""
        self.diff.both(*args)
        ours, theirs = (_events(sub) for sub in self.subs)
        assert ours == theirs, "%r:\n  diskredis: %r\n  redis:     %r" % (args, ours, theirs)
        return ours

    def close(self) -> None:
        self.diff("CONFIG", "SET", "notify-keyspace-events", "")
        self.diff("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        self.diff("SELECT", "0")
        for client in (self.diff.ours, self.diff.theirs, *self.subs):
            client.close()


@pytest.fixture
def listening(dr: ServerProc, oracle: ServerProc) -> Iterator[Listening]:
    lst = Listening(dr, oracle, "AKEnm")
    yield lst
    lst.close()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_events(listening: Listening, name: str) -> None:
    for args in SCENARIOS[name]:
        listening.step(*args)


def test_generic_events(listening: Listening) -> None:
    for args in (
        ("SET", "a", "1"),
        ("RENAME", "a", "b"),
        ("RENAME", "b", "b"),
        ("RENAMENX", "b", "c"),
        ("SET", "d", "1"),
        ("RENAMENX", "c", "d"),
        ("MOVE", "c", "1"),
        ("COPY", "d", "e"),
        ("COPY", "d", "e", "REPLACE"),
        ("COPY", "d", "x", "DB", "2"),
        ("EXPIRE", "d", "100"),
        ("PERSIST", "d"),
        ("PEXPIRE", "d", "100000"),
        ("EXPIREAT", "d", "1"),
        ("EXISTS", "d"),
        ("SET", "f", "v", "EX", "100"),
        ("SET", "f", "w", "KEEPTTL"),
        ("GETEX", "f", "PERSIST"),
        ("GETEX", "f", "EX", "10"),
        ("GETDEL", "f"),
        ("GETEX", "f", "PX", "0"),
        ("SET", "g", "1"),
        ("GETEX", "g", "PX", "-5"),
        ("DEL", "e", "nosuch"),
        ("UNLINK", "d"),
        ("TOUCH", "a", "x"),
        ("GET", "missing"),
        ("MGET", "a", "b"),
        ("SELECT", "1"),
        ("SET", "h", "1"),
        ("SWAPDB", "0", "1"),
        ("FLUSHDB",),
        ("FLUSHALL",),
        ("SELECT", "0"),
    ):
        listening.step(*args)


def test_script_events(listening: Listening) -> None:
    """Writes made by scripts send the same events, in the script's order."""
    for args in (
        (
            "EVAL",
            "redis.call('set', KEYS[1], 1) redis.call('incr', KEYS[1]) "
            "redis.call('expire', KEYS[1], 100) return redis.call('del', KEYS[1])",
            "1",
            "s1",
        ),
        (
            "EVAL",
            "redis.call('rpush', 'l', 'a', 'b') redis.call('lpop', 'l') "
            "return redis.pcall('hset', 'l', 'f', 'v')",
            "0",
        ),
        ("EVAL_RO", "return redis.call('get', 'nothing')", "0"),
        ("EVAL", "redis.call('select', 2) return redis.call('set', 'x', 1)", "0"),
    ):
        listening.step(*args)


def test_lazy_expiry(listening: Listening) -> None:
    """A key used after its deadline: "expired" when it is looked up, then the miss."""
    for args in (
        ("SET", "a", "1", "PX", "20"),
        ("SET", "b", "1", "PX", "20"),
        ("SADD", "s", "m"),
        ("PEXPIRE", "s", "20"),
        ("SET", "c", "1", "PX", "20"),
    ):
        listening.step(*args)
    time.sleep(0.1)
    for args in (("GET", "a"), ("SET", "b", "2"), ("SADD", "s", "n"), ("DEL", "c")):
        listening.step(*args)


def test_active_expiry(dr: ServerProc, oracle: ServerProc) -> None:
    """Keys no one reads: active expiry removes them, with an "expired" event each."""
    lst = Listening(dr, oracle, "Ex", active_expire=True)
    try:
        for args in (
            ("SET", "a", "1", "PX", "30"),
            ("HSET", "h", "f", "v"),
            ("PEXPIRE", "h", "30"),
            ("SELECT", "3"),
            ("SET", "b", "1", "PX", "30"),
        ):
            lst.step(*args)
        for _ in range(100):  # each server expires keys on its own clock
            if all(_parse(c.command("DBSIZE")) == 0 for c in (lst.diff.ours, lst.diff.theirs)):
                break
            time.sleep(0.05)
        ours, theirs = (sorted(map(repr, _events(sub))) for sub in lst.subs)
        assert ours == theirs and len(ours) == 3, (ours, theirs)
    finally:
        lst.close()


@pytest.mark.parametrize("classes", ["K$", "Eg", "El", "KEx", "Kn", "Em", "KEA"])
def test_class_filters(dr: ServerProc, oracle: ServerProc, classes: str) -> None:
    lst = Listening(dr, oracle, classes)
    try:
        for args in (
            ("SET", "k", "1"),
            ("INCR", "k"),
            ("LPUSH", "l", "a"),
            ("EXPIRE", "k", "100"),
            ("DEL", "l"),
            ("GET", "nosuch"),
            ("SET", "t", "1", "PX", "1"),
        ):
            lst.step(*args)
    finally:
        lst.close()
