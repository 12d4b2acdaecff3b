"""Collections of a million elements, on both engines (not timed): range reads touch only
what they return, DEL of each type returns while another client's PINGs go on being
answered, and the reclamation queue drains to empty afterwards.

`tools/bench/big_delete.py` measures the same deletes with a clock (PING latency during
the DEL, time to drain the queue).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from diskredis.errors import RedisError
from diskredis.transfer.offline import Offline
from tests.conftest import ServerProc, start_diskredis

pytestmark = pytest.mark.stress  # ./dev check leaves it out

N = 1_000_000
CHUNK = 2_000  # elements per command
TYPES = ("hash", "list", "set", "zset")


def commands(kind: str, key: str, n: int = N) -> list[list[bytes]]:
    """Multi-element commands building a collection of `n` elements."""
    k = key.encode()
    out = []
    for start in range(0, n, CHUNK):
        ids = range(start, min(start + CHUNK, n))
        if kind == "hash":
            out.append([b"HSET", k, *(x for i in ids for x in (b"f%07d" % i, b"v"))])
        elif kind == "list":
            out.append([b"RPUSH", k, *(b"%d" % i for i in ids)])
        elif kind == "set":
            out.append([b"SADD", k, *(b"m%07d" % i for i in ids)])
        else:
            out.append([b"ZADD", k, *(x for i in ids for x in (b"%d" % i, b"m%07d" % i))])
    return out


def fill(c: Any, kind: str, key: str, n: int = N) -> None:
    """Build a collection of `n` elements through a server, pipelined."""
    pipe = c.pipeline(transaction=False)
    for argv in commands(kind, key, n):
        pipe.execute_command(*argv)
        if len(pipe) >= 25:
            pipe.execute()
    pipe.execute()


def records_read(c: Any) -> int:
    return int(c.info("storage")["records_read"])


def drain_gc(c: Any) -> None:
    """Wait (polling, no sleep) until background reclamation, which reads records between
    batches, has nothing left: then the read counter moves only for our commands."""
    for _ in range(1_000_000):
        if c.info("storage")["gc_pending_jobs"] == 0:
            return
    raise AssertionError("reclamation never finished")


@pytest.fixture(scope="module")
def big(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """A server on a folder holding the four collections. They are built with the data
    folder opened offline (the same command handlers, in this process: a third of the
    time of four million elements sent over a socket), then served."""
    folder = str(tmp_path_factory.mktemp("scale-" + engine))
    with Offline(folder, engine, create=True) as data:
        for kind in TYPES:
            batch = commands(kind, "big:" + kind)
            for start in range(0, len(batch), 25):
                replies = data.execute(batch[start : start + 25])
                assert not [r for r in replies if isinstance(r, RedisError)], replies
    sp = start_diskredis(engine, data_dir=folder)
    yield sp
    sp.stop()


def test_spop_reads_one_position(big: ServerProc) -> None:
    c = big.client()
    drain_gc(c)
    before = records_read(c)
    member = c.spop("big:set")
    assert records_read(c) - before < 20 and c.sismember("big:set", member) == 0
    assert c.sadd("big:set", member) == 1


def test_sizes(big: ServerProc) -> None:
    c = big.client()
    assert (c.hlen("big:hash"), c.llen("big:list"), c.scard("big:set"), c.zcard("big:zset")) == (
        N,
        N,
        N,
        N,
    )


def test_range_reads_touch_only_what_they_return(big: ServerProc) -> None:
    c = big.client()
    drain_gc(c)
    for call, expected in (
        (
            lambda: c.zrangebyscore("big:zset", 500_000, "+inf", start=0, num=10),
            [b"m%07d" % i for i in range(500_000, 500_010)],
        ),
        (
            lambda: c.zrevrangebyscore("big:zset", 12_345, "-inf", start=0, num=3),
            [b"m%07d" % i for i in (12_345, 12_344, 12_343)],
        ),
        (lambda: c.zrange("big:zset", 999_998, -1), [b"m0999998", b"m0999999"]),
        (
            lambda: c.lrange("big:list", 600_000, 600_099),
            [b"%d" % i for i in range(600_000, 600_100)],
        ),
        (lambda: c.lrange("big:list", -5, -1), [b"%d" % i for i in range(N - 5, N)]),
        (lambda: c.zscore("big:zset", b"m0765432"), 765432.0),
        (lambda: c.srandmember("big:set", 5)[0].startswith(b"m"), True),
        (lambda: len(set(c.srandmember("big:set", 50))), 50),
        (lambda: c.sismember("big:set", c.srandmember("big:set")), True),
    ):
        before = records_read(c)
        assert call() == expected
        # The reply's records, the key's meta record and a few index probes; a scan of
        # the collection would read a million.
        assert records_read(c) - before < 150


@pytest.mark.parametrize("kind", TYPES)
def test_delete_returns_while_pings_are_answered(big: ServerProc, kind: str) -> None:
    c, pinger = big.client(), big.client()
    answered: list[bool] = []
    stop = threading.Event()

    def ping() -> None:
        while not stop.is_set():
            answered.append(bool(pinger.ping()))

    thread = threading.Thread(target=ping)
    thread.start()
    try:
        while not answered:  # the pinger is running before the delete starts
            c.ping()
        assert c.delete("big:" + kind) == 1
        count_at_delete = len(answered)
        assert c.exists("big:" + kind) == 0
        for _ in range(1_000_000):  # the lane reclaims between batches: poll, no sleep
            if c.info("storage")["gc_pending_jobs"] == 0:
                break
        assert c.info("storage")["gc_pending_jobs"] == 0
        while len(answered) <= count_at_delete:
            c.ping()  # PINGs went on being answered while the queue drained
    finally:
        stop.set()
        thread.join()
    assert all(answered)
    fill(c, kind, "big:" + kind, 10)  # the name is reusable at once, and starts empty
    assert c.type("big:" + kind) == kind.encode()
    c.delete("big:" + kind)


EXPIRING = (
    "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
    "redis.call('SET', 'exp:' .. i, 'v', 'PXAT', ARGV[3]) end return 1"
)


def test_mass_expiry_is_hidden_at_once_and_removed_in_steps(dr: ServerProc) -> None:
    """Many keys reaching their deadline together: DBSIZE, KEYS and INFO keyspace stop
    showing them at that moment, without removing them all in one command; active
    expiry then removes every one with no client asking for them."""
    c = dr.client()
    c.flushall()
    drain_gc(c)
    n = 20_000
    at = int((time.time() + 2 + n / 5_000) * 1000)  # after the writes, even on a slow box
    for start in range(0, n, 5_000):
        c.eval(EXPIRING, 0, start, start + 4_999, at)
    if time.time() * 1000 < at - 50:
        assert c.dbsize() == n and c.info("keyspace")["db0"]["expires"] == n
    before = int(c.info("stats")["expired_keys"])
    time.sleep(max(0.0, at / 1000 - time.time()) + 0.01)
    assert c.dbsize() == 0
    assert c.keys("exp:*") == [] and "db0" not in c.info("keyspace")
    assert c.exists("exp:0", "exp:19999") == 0
    for _ in range(1_000_000):  # polling: each INFO is also a batch of the lane
        if int(c.info("stats")["expired_keys"]) - before >= n:
            break
    assert int(c.info("stats")["expired_keys"]) - before == n
    assert c.dbsize() == 0 and c.info("keyspace") == {}
