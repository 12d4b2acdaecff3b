"""HyperLogLog commands, differential against redis-server 7.0, on both engines. The
values are compared byte for byte (GET), not only the counts: they are Redis's format."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from diskredis.commands import hll as H
from tests.conftest import Diff, ServerProc, run_steps

BOTH_CACHES = True

SPARSE_HLL = b"HYLL\x01" + bytes(11) + b"\x7f\xff"  # a fresh HLL: one XZERO of 16384

SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "basics": [
        ("PFADD", "h"),
        ("GET", "h"),
        ("TYPE", "h"),
        ("PFADD", "h"),
        ("PFCOUNT", "h"),
        ("PFADD", "h", "a", "b", "c", "a"),
        ("PFADD", "h", "a"),
        ("PFCOUNT", "h"),
        ("GET", "h"),
        ("PFCOUNT", "h", "none"),
        ("PFCOUNT", "none"),
        ("PFCOUNT", "none", "x"),
        ("PFDEBUG", "ENCODING", "h"),
        ("PFDEBUG", "DECODE", "h"),
        ("STRLEN", "h"),
        ("EXPIRE", "h", "100"),
        ("PFADD", "h", "z"),
        ("TTL", "h"),
        ("PFCOUNT", "h"),
        ("GET", "h"),
    ],
    "merge": [
        ("PFADD", "a", "1", "2", "3"),
        ("PFADD", "b", "3", "4", "5"),
        ("PFMERGE", "c", "a", "b"),
        ("PFCOUNT", "c"),
        ("GET", "c"),
        ("PFMERGE", "a", "b"),
        ("GET", "a"),
        ("PFMERGE", "d"),
        ("GET", "d"),
        ("PFMERGE", "e", "none"),
        ("PFCOUNT", "e"),
        ("PFMERGE", "a", "a"),
        ("PFCOUNT", "a", "b", "c"),
        ("PFDEBUG", "TODENSE", "b"),
        ("PFDEBUG", "TODENSE", "b"),
        ("PFDEBUG", "ENCODING", "b"),
        ("PFMERGE", "f", "a", "b"),
        ("PFDEBUG", "ENCODING", "f"),
        ("GET", "f"),
        ("PFCOUNT", "f"),
        ("PFDEBUG", "DECODE", "f"),
    ],
    "errors": [
        ("SET", "s", "plain"),
        ("PFADD", "s", "x"),
        ("PFCOUNT", "s"),
        ("PFCOUNT", "s", "t"),
        ("PFMERGE", "d", "s"),
        ("PFMERGE", "s", "none"),
        ("EXISTS", "d"),
        ("LPUSH", "l", "x"),
        ("PFADD", "l", "x"),
        ("PFCOUNT", "l"),
        ("PFMERGE", "l"),
        ("PFDEBUG", "GETREG", "l"),
        ("PFDEBUG", "GETREG", "none"),
        ("PFDEBUG", "nope", "none"),
        ("PFADD", "h", "x"),
        ("PFDEBUG", "nope", "h"),
        ("PFDEBUG", "GETREG", "h", "x"),
        ("PFDEBUG", "GETREG"),
        ("PFSELFTEST", "x"),
        ("PFADD",),
        ("PFCOUNT",),
        ("PFMERGE",),
        ("SET", "short", "HYLL"),
        ("PFCOUNT", "short"),
        ("SET", "dense-size", b"HYLL\x00" + bytes(11) + bytes(100)),
        ("PFCOUNT", "dense-size"),
        ("SET", "enc", b"HYLL\x02" + bytes(20)),
        ("PFADD", "enc", "a"),
        ("SET", "12345678901234567", "1"),
        ("PFADD", "12345678901234567", "a"),
    ],
    "corrupt": [  # registers that do not add up to 16384: INVALIDOBJ, as Redis says it
        ("SET", "short", SPARSE_HLL[:-1] + b"\x00"),
        ("PFCOUNT", "short"),
        ("PFADD", "short", "a", "b"),
        ("PFMERGE", "d", "short"),
        ("PFCOUNT", "short", "x"),
        ("PFDEBUG", "TODENSE", "short"),
        ("PFDEBUG", "GETREG", "short"),
        ("SET", "long", SPARSE_HLL + b"\x80"),
        ("PFCOUNT", "long"),
        ("PFADD", "long", *["e%d" % i for i in range(40)]),
        ("GET", "long"),
        ("SET", "cut", SPARSE_HLL[:-1]),
        ("PFCOUNT", "cut"),
        ("PFADD", "cut", "x"),
        ("APPEND", "cut", "\xff"),
        ("PFCOUNT", "cut"),
    ],
    "cache": [  # the cached cardinality is written back by PFCOUNT, stale after a change
        ("PFADD", "h", "a", "b"),
        ("GETRANGE", "h", "8", "15"),
        ("PFCOUNT", "h"),
        ("GETRANGE", "h", "8", "15"),
        ("PFADD", "h", "a"),
        ("GETRANGE", "h", "8", "15"),
        ("PFADD", "h", "c"),
        ("GETRANGE", "h", "8", "15"),
        ("PFCOUNT", "h", "h"),
        ("GETRANGE", "h", "8", "15"),
        ("PFCOUNT", "h"),
        ("GET", "h"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(kdiff: Diff, name: str) -> None:
    run_steps(kdiff, SCENARIOS[name], set())


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_shapes(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    kdiff("PFADD", "h", *["x%d" % i for i in range(50)])
    for args in (
        ("PFCOUNT", "h"),
        ("PFDEBUG", "ENCODING", "h"),
        ("PFDEBUG", "DECODE", "h"),
        ("PFDEBUG", "GETREG", "h"),
        ("PFDEBUG", "TODENSE", "h"),
        ("PFMERGE", "h"),
    ):
        kdiff(*args)
    kdiff.masked("HELLO", "2")


def _fill(d: Diff, key: str, count: int, prefix: str) -> None:
    """PFADD `count` elements in batches, comparing every reply and the bytes after each."""
    for start in range(0, count, 500):
        d("PFADD", key, *["%s%d" % (prefix, i) for i in range(start, min(count, start + 500))])
        d("GET", key)
    d("PFCOUNT", key)


def test_growth_to_dense_and_counts(kdiff: Diff) -> None:
    """Sparse until hll-sparse-max-bytes, then dense; same bytes and counts throughout."""
    for n in (10, 200, 1000, 2500, 30000):
        _fill(kdiff, "h%d" % n, n, "e")
        kdiff("PFDEBUG", "ENCODING", "h%d" % n)
    kdiff("PFCOUNT", "h10", "h1000", "h30000")
    kdiff("PFMERGE", "m", "h10", "h200", "h1000")  # sparse sources: sparse result
    kdiff("GET", "m")
    kdiff("PFMERGE", "m2", "h200", "h30000")  # one dense source: dense result
    kdiff("GET", "m2")
    kdiff("PFCOUNT", "m2")


def test_sparse_max_bytes_setting(kdiff: Diff) -> None:
    kdiff("CONFIG", "SET", "hll-sparse-max-bytes", "100")
    try:
        _fill(kdiff, "h", 60, "x")
        kdiff("PFDEBUG", "ENCODING", "h")
    finally:
        kdiff("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_values_move_between_servers(diff: Diff, dr: ServerProc, oracle: ServerProc) -> None:
    """An HLL made by Redis, SET into diskredis (and the reverse), counts and grows alike."""
    diff("FLUSHALL")
    ours, theirs = dr.client(), oracle.client()
    theirs.pfadd("from-redis", *["r%d" % i for i in range(5000)])
    ours.pfadd("from-us", *["u%d" % i for i in range(100)])
    ours.set("from-redis", theirs.get("from-redis"))
    theirs.set("from-us", ours.get("from-us"))
    for key in ("from-redis", "from-us"):
        assert ours.pfcount(key) == theirs.pfcount(key)
        diff("PFADD", key, "new1", "new2")
        diff("GET", key)


def test_selftest(dr: ServerProc, oracle: ServerProc) -> None:
    assert (
        dr.client().execute_command("PFSELFTEST")
        == oracle.client().execute_command("PFSELFTEST")
        == b"OK"
    )


def test_registers_pack_and_unpack() -> None:
    regs = bytes((i * 7 + i // 3) % 64 for i in range(H.REGISTERS))
    packed = H.pack_dense(regs)
    assert H.unpack_dense(bytes(packed)) == regs
    assert [H.dense_get(packed, i) for i in range(0, H.REGISTERS, 97)] == list(regs[::97])


def test_murmur_matches_redis_registers(diff: Diff) -> None:
    """PFDEBUG GETREG after one element: the register and run Redis computes."""
    for element in ("", "a", "abcdefgh", "abcdefghi", "\xff" * 17):
        diff("DEL", "one")
        diff("PFADD", "one", element)
        diff("PFDEBUG", "GETREG", "one")


ELEMENTS = st.text(alphabet="abcdef", min_size=0, max_size=3)
KEYS = st.sampled_from(["a", "b", "c"])


def test_hll_state_machine(diff: Diff) -> None:
    class HLLs(RuleBasedStateMachine):
        @initialize()
        def empty(self) -> None:
            diff("FLUSHALL")

        @rule(k=KEYS, es=st.lists(ELEMENTS, max_size=30))
        def add(self, k: str, es: list[str]) -> None:
            diff("PFADD", k, *es)

        @rule(k=KEYS, n=st.integers(1, 3000), prefix=ELEMENTS)
        def add_many(self, k: str, n: int, prefix: str) -> None:
            diff("PFADD", k, *["%s%d" % (prefix, i) for i in range(n)])

        @rule(ks=st.lists(KEYS, min_size=1, max_size=3))
        def count(self, ks: list[str]) -> None:
            diff("PFCOUNT", *ks)

        @rule(d=KEYS, ks=st.lists(KEYS, max_size=3))
        def merge(self, d: str, ks: list[str]) -> None:
            diff("PFMERGE", d, *ks)

        @rule(k=KEYS, sub=st.sampled_from(["ENCODING", "DECODE", "TODENSE"]))
        def debug(self, k: str, sub: str) -> None:
            diff("PFDEBUG", sub, k)

        @rule(k=KEYS)
        def value(self, k: str) -> None:
            diff("GET", k)

    run_state_machine_as_test(
        HLLs,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
