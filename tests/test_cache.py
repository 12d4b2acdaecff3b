"""The hot cache: bounded, scan-resistant, redundant (commit applies it, abort leaves it)."""

from __future__ import annotations

import gc
import random
import tracemalloc
from typing import Any

import pytest

from diskredis.keyspace import layout as L
from diskredis.keyspace.cache import ENTRY_OVERHEAD, HotCache
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import LOOKUP_CACHE, LOOKUP_READ, LOOKUP_TOUCH, Keyspace
from diskredis.storage import open_engine
from tests.conftest import ENGINES


def _meta(n: int = 10) -> Meta:
    return Meta(L.STRING, 0, b"x" * n)


def test_bounded_in_bytes() -> None:
    cache = HotCache(100_000)
    for i in range(10_000):
        cache.put(b"k%d" % i, _meta(100))
        assert cache.bytes <= cache.limit
    assert len(cache) <= 100_000 // (ENTRY_OVERHEAD + 100)


def test_one_pass_reads_do_not_flush_the_working_set() -> None:
    cache = HotCache(200 * (ENTRY_OVERHEAD + 20))
    hot = [b"hot%d" % i for i in range(50)]
    for k in hot:
        cache.put(k, _meta())
        cache.get(k)  # second touch: protected
    for i in range(5000):  # a SCAN-like sweep of keys read once
        cache.put(b"cold%d" % i, _meta())
    assert all(cache.get(k)[0] for k in hot)


def test_big_entries_are_not_cached() -> None:
    cache = HotCache(10_000)
    cache.put(b"big", _meta(5000))
    assert cache.get(b"big") == (False, None)


@pytest.fixture(params=ENGINES)
def ks(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    engine = open_engine(request.param, str(tmp_path))
    yield Keyspace(engine, 16, cache_bytes=1 << 20)
    engine.close()


def test_commit_updates_and_abort_leaves_the_cache(ks: Keyspace) -> None:
    ks.begin()
    ks.store(0, b"a", _meta())
    ks.commit()
    ks.begin()
    assert ks.lookup(0, b"a", LOOKUP_TOUCH) is not None  # now cached
    ks.commit()
    ks.begin()
    ks.store(0, b"a", Meta(L.STRING, 0, b"changed"))
    ks.remove(0, b"a")
    ks.abort()
    ks.begin()
    got = ks.lookup(0, b"a", LOOKUP_TOUCH)
    ks.commit()
    assert got is not None and got.payload == b"x" * 10
    ks.begin()
    ks.store(0, b"a", Meta(L.STRING, 0, b"new"))
    ks.commit()
    ks.begin()
    got = ks.lookup(0, b"a", LOOKUP_TOUCH)
    ks.commit()
    assert got is not None and got.payload == b"new"
    assert ks.cache.hits >= 2


def test_callers_cannot_change_cached_records(ks: Keyspace) -> None:
    ks.begin()
    ks.store(0, b"a", _meta())
    ks.commit()
    ks.begin()
    meta = ks.lookup(0, b"a", LOOKUP_TOUCH)
    assert meta is not None
    meta.payload = b"scribbled"  # a command changing its copy without storing it
    again = ks.lookup(0, b"a", LOOKUP_TOUCH)
    ks.commit()
    assert again is not None and again.payload == b"x" * 10


def test_emptying_the_cache_loses_nothing(ks: Keyspace) -> None:
    ks.begin()
    for i in range(100):
        ks.store(0, b"k%d" % i, _meta(i))
    ks.commit()
    ks.cache.clear()
    ks.begin()
    assert all(ks.lookup(0, b"k%d" % i, LOOKUP_TOUCH).payload == b"x" * i for i in range(100))
    ks.commit()


def _records(ks: Keyspace, kid: int) -> int:
    prefix = L.sub_prefix(kid)
    return sum(1 for _ in ks.tx().scan("sub", prefix, prefix + b"\xff"))


@pytest.mark.parametrize("records", [3, 20, 300, 5000])
def test_deleting_a_collection_reclaims_every_record(ks: Keyspace, records: int) -> None:
    """Collections keep more records than elements (a sorted set two per member): all of
    them go, inline or through the background queue."""
    ks.begin()
    kid = ks.new_kid()
    for i in range(records):
        ks.tx().put("sub", L.sub_prefix(kid) + b"\x02" + L.u64(i), b"")
    ks.store(0, b"z", Meta(L.ZSET, 0, L.coll_payload(kid, max(1, records // 2))))
    ks.commit()
    ks.begin()
    ks.remove(0, b"z")
    ks.commit()
    while True:
        ks.begin()
        done = ks.reclaim.step(1000)
        ks.commit()
        if not done:
            break
    ks.begin()
    assert _records(ks, kid) == 0 and ks.reclaim.pending() == 0
    ks.commit()


def test_cached_records_are_not_tracked_by_the_cycle_collector() -> None:
    """A full cache must not lengthen Python's full collections (each would stall every
    client): what it keeps for a key is untracked once a collection has seen it."""
    cache = HotCache(1 << 20)
    for i in range(100):
        cache.put(b"k%d" % i, Meta(L.STRING, i, b"v" * i))
        cache.get(b"k%d" % (i // 2))  # some move to the protected segment
    gc.collect()
    entries = list(cache.probation.values()) + list(cache.protected.values())
    assert len(entries) == 100 and not any(gc.is_tracked(e) for e in entries)
    found, meta = cache.get(b"k7")
    assert found and meta == Meta(L.STRING, 7, b"v" * 7)


def test_access_table_stays_bounded_however_many_keys_are_written(ks: Keyspace) -> None:
    # Every new key gets an access record (OBJECT IDLETIME); writing more keys than the
    # table holds must not grow it (it grew by one record per new key, without bound).
    assert ks.access.limit == 1000  # the floor: a 1 MB budget's share is smaller
    for start in range(0, 5000, 1000):
        ks.begin()
        for i in range(start, start + 1000):
            ks.store(0, b"new:%d" % i, _meta())
        ks.commit()
        assert len(ks.access) <= ks.access.limit
    ks.begin()
    assert ks.access.idle_ms(ks.mkey(0, b"new:4999")) < 60_000  # the latest keys are still tracked
    ks.commit()


@pytest.mark.parametrize("value", [16, 128, 1024])
def test_per_key_memory_stays_within_the_budget(tmp_path: Any, value: int) -> None:
    # maxmemory bounds the hot cache and the access table together: the Python objects
    # they hold after reading many more keys than fit stay under the budget.
    budget = 4 << 20
    engine = open_engine("lmdb", str(tmp_path))
    try:
        filler = Keyspace(engine, 16, cache_bytes=budget)
        for start in range(0, 30_000, 5000):
            filler.begin()
            for i in range(start, start + 5000):
                filler.store(0, b"key:%010d" % i, _meta(value))
            filler.commit()
        tracemalloc.start()
        try:
            ks = Keyspace(engine, 16, cache_bytes=budget)  # an empty cache, traced
            reader = LOOKUP_TOUCH | LOOKUP_READ | LOOKUP_CACHE  # as a read-only command
            rng = random.Random(value)
            for _ in range(60):
                ks.begin()
                for _ in range(2000):
                    key = b"key:%010d" % rng.randrange(30_000)
                    assert ks.lookup(0, key, reader) is not None
                ks.commit()
            mine = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(True, "*/keyspace/*")]
            )
            used = sum(stat.size for stat in mine.statistics("filename"))
        finally:
            tracemalloc.stop()
        assert len(ks.cache) > 1000 and len(ks.access) == ks.access.limit
        assert used <= budget, (used, budget)
    finally:
        engine.close()
