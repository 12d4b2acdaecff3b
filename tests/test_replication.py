"""diskredis as a primary of a real redis-server 7.0 replica.

The replica is Debian's redis-server started with `--replicaof` this server. After a
mixed workload (every type, TTLs, MULTI, Lua, streams with groups, FLUSHDB, SWAPDB,
database moves), the replica holds the same dataset: compared key by key by
`same_dataset` (type, value, TTL within a second), on both engines.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.conftest import ServerProc, blocked_client, start_oracle

_DATABASES = 16


def _wait(predicate: Any, what: str, timeout: float = 20.0) -> None:
    """Poll `predicate` until true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for %s" % what)
        time.sleep(0.05)


def _value(c: redis.Redis, key: bytes, kind: bytes) -> Any:
    if kind == b"string":
        return c.get(key)
    if kind == b"list":
        return c.lrange(key, 0, -1)
    if kind == b"set":
        return sorted(c.smembers(key))
    if kind == b"zset":
        return c.zrange(key, 0, -1, withscores=True)
    if kind == b"hash":
        return sorted(c.hgetall(key).items())
    if kind == b"stream":
        groups = [
            (g["name"], g["last-delivered-id"], g["pending"], g["consumers"])
            for g in c.xinfo_groups(key)
        ]
        return c.xrange(key), groups
    raise AssertionError("unknown type %r" % kind)


def dataset(sp: ServerProc) -> dict[tuple[int, bytes], tuple[bytes, Any, int]]:
    """Every key of every database: (db, key) -> (type, value, pttl)."""
    out = {}
    for db in range(_DATABASES):
        c = sp.client(db=db)
        for key in c.scan_iter(count=1000):
            kind = c.type(key)
            out[(db, key)] = (kind, _value(c, key, kind), c.pttl(key))
        c.close()
    return out


def same_dataset(primary: ServerProc, replica: ServerProc) -> list[str]:
    """Differences between the two datasets (TTLs may differ by up to a second)."""
    ours, theirs = dataset(primary), dataset(replica)
    problems = []
    for k in sorted(set(ours) | set(theirs)):
        a, b = ours.get(k), theirs.get(k)
        if a is None or b is None:
            problems.append("%r only on the %s" % (k, "primary" if b is None else "replica"))
        elif a[:2] != b[:2]:
            problems.append("%r differs: %r != %r" % (k, a[:2], b[:2]))
        elif (a[2] < 0) != (b[2] < 0) or abs(a[2] - b[2]) > 1000:
            problems.append("%r TTL differs: %d != %d ms" % (k, a[2], b[2]))
    return problems


def _caught_up(primary: ServerProc, replica: ServerProc) -> bool:
    offset = primary.client().info("replication")["master_repl_offset"]
    info = replica.client().info("replication")
    return info.get("master_link_status") == "up" and info["slave_repl_offset"] >= offset


@pytest.fixture
def pair(dr_factory: Any) -> Iterator[tuple[ServerProc, ServerProc]]:
    primary = dr_factory()
    primary.client().set("before:replica", "1")
    replica = start_oracle("--replicaof", "127.0.0.1", str(primary.port))
    try:
        _wait(lambda: _caught_up(primary, replica), "the replica's first sync")
        yield primary, replica
    finally:
        replica.stop()


def _workload(c: redis.Redis) -> None:
    c.set("s", "v")
    c.set("ttl", "v", ex=1000)
    c.set("pxat", "v", pxat=4102444800000)
    c.incrbyfloat("f", 1.25)
    c.rpush("l", *range(20))
    c.lpop("l")
    c.lmove("l", "l2", "LEFT", "RIGHT")
    c.sadd("set", *range(10))
    c.spop("set")
    c.spop("set", 3)
    c.zadd("z", {"a": 1, "b": 2, "c": 3})
    c.zpopmin("z")
    c.hset("h", mapping={"f1": "v1", "f2": "v2"})
    c.hincrbyfloat("h", "n", 0.5)
    c.expire("h", 500)
    c.xadd("st", {"f": "v"}, id="1-1")
    c.xadd("st", {"f": "w"}, maxlen=10, approximate=True)
    c.xgroup_create("st", "g", id="0")
    c.xreadgroup("g", "alice", {"st": ">"}, count=1)
    c.xreadgroup("g", "bob", {"st": ">"}, noack=True)
    c.xclaim("st", "g", "carol", 0, ["1-1"])
    p = c.pipeline(transaction=True)
    p.set("m1", "1").incr("m1").sadd("mset", "x")
    p.execute()
    c.eval("redis.call('set', KEYS[1], 'lua'); redis.call('rpush', KEYS[2], 'x')", 2, "lk", "ll")
    c.set("moved", "1")
    c.move("moved", 3)
    c.copy("s", "copied", destination_db=4)
    c.execute_command("SELECT", "0")
    c.set("gone", "1", px=1)
    time.sleep(0.01)
    c.get("gone")  # expired: replicated as DEL
    kwargs = c.connection_pool.connection_kwargs
    d5 = redis.Redis(port=kwargs["port"], password=kwargs.get("password"), db=5)
    d5.set("in5", "x")
    d5.swapdb(5, 6)
    d5.set("flushed", "x")
    d5.flushdb()
    d5.close()


def test_a_real_replica_ends_with_the_same_dataset(pair: tuple[ServerProc, ServerProc]) -> None:
    primary, replica = pair
    c = primary.client()
    _workload(c)
    _wait(lambda: _caught_up(primary, replica), "the replica to catch up")
    assert same_dataset(primary, replica) == []
    info = primary.client().info("replication")
    assert info["connected_slaves"] == 1 and info["repl_backlog_active"] == 1
    assert info["slave0"]["state"] == "online"
    role = primary.client().execute_command("ROLE")
    assert role[0] == b"master" and role[1] == info["master_repl_offset"]
    assert [r[1] for r in role[2]] == [str(replica.port).encode()]


def test_a_valkey_replica_ends_with_the_same_dataset(dr_factory: Any) -> None:
    """Valkey 8.0 as the replica: it loads the RDB version 10 full sync and applies the
    stream; after a reconnection it continues from the backlog."""
    primary = dr_factory()
    primary.client().set("before:replica", "1")
    replica = start_oracle("--replicaof", "127.0.0.1", str(primary.port), flavor="valkey8")
    try:
        _wait(lambda: _caught_up(primary, replica), "the replica's first sync")
        c = primary.client()
        _workload(c)
        _wait(lambda: _caught_up(primary, replica), "the replica to catch up")
        assert same_dataset(primary, replica) == []
        replica.client().execute_command("CLIENT", "KILL", "TYPE", "master")
        c.set("after", "1")
        _wait(lambda: _caught_up(primary, replica), "the replica to reconnect")
        assert replica.client().get("after") == b"1"
        stats = c.info("stats")
        assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 1
    finally:
        replica.stop()


def test_a_replica_that_reconnects_continues_from_the_backlog(
    pair: tuple[ServerProc, ServerProc],
) -> None:
    primary, replica = pair
    c = primary.client()
    c.set("a", "1")
    _wait(lambda: _caught_up(primary, replica), "the replica to catch up")
    replica.client().execute_command("CLIENT", "KILL", "TYPE", "master")
    c.set("b", "2")  # written while the link is down
    _wait(lambda: _caught_up(primary, replica), "the replica to reconnect")
    stats = c.info("stats")
    assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 1
    assert same_dataset(primary, replica) == []


def test_a_restarted_primary_lets_its_replica_continue(dr_factory: Any) -> None:
    primary = dr_factory()
    replica = start_oracle("--replicaof", "127.0.0.1", str(primary.port))
    try:
        primary.client().set("a", "1")
        _wait(lambda: _caught_up(primary, replica), "the first sync")
        replid = primary.client().info("replication")["master_replid"]
        port, folder = primary.port, primary.dir
        primary.stop()
        primary = dr_factory(port=port, data_dir=folder)
        primary.client().set("b", "2")
        _wait(lambda: _caught_up(primary, replica), "the replica to reconnect")
        assert primary.client().info("replication")["master_replid"] == replid
        stats = primary.client().info("stats")
        assert stats["sync_full"] == 0 and stats["sync_partial_ok"] == 1
        assert same_dataset(primary, replica) == []
    finally:
        replica.stop()


def test_wait_counts_the_replicas_that_acknowledged(pair: tuple[ServerProc, ServerProc]) -> None:
    primary, _ = pair
    c = primary.client()
    c.set("k", "v")
    assert c.execute_command("WAIT", 1, 10000) == 1
    assert c.execute_command("WAIT", 2, 200) == 1  # only one: the count at the timeout

    def acked_all() -> bool:
        info = c.info("replication")
        return bool(info["slave0"]["offset"] >= info["master_repl_offset"])

    _wait(acked_all, "the replica's next ACK")  # GETACKs themselves are acked later
    p = c.pipeline(transaction=True)
    p.set("k", "w").execute_command("WAIT", 5, 0)
    assert p.execute() == [True, 1]  # in MULTI it never waits


def test_min_replicas_to_write_counts_replicas_that_acknowledge(
    pair: tuple[ServerProc, ServerProc],
) -> None:
    primary, _ = pair
    c = primary.client()
    c.config_set("min-replicas-max-lag", "10")
    c.config_set("min-replicas-to-write", "1")
    assert c.set("k", "v")
    c.config_set("min-replicas-to-write", "2")
    with pytest.raises(redis.ResponseError, match="NOREPLICAS Not enough good replicas"):
        c.set("k", "w")
    c.config_set("min-replicas-to-write", "0")


def test_clients_served_later_are_replicated_as_their_plain_pops(
    pair: tuple[ServerProc, ServerProc],
) -> None:
    primary, replica = pair
    c = primary.client()
    waiting = [
        blocked_client(primary, "BLPOP", "q", "0"),
        blocked_client(primary, "BLMOVE", "q2", "dst", "RIGHT", "LEFT", "0"),
        blocked_client(primary, "BZPOPMIN", "z", "0"),
        blocked_client(primary, "BLMPOP", "0", "1", "q3", "LEFT", "COUNT", "2"),
    ]
    c.rpush("q", "a", "b")
    c.rpush("q2", "x", "y")
    c.zadd("z", {"m": 1, "n": 2})
    c.rpush("q3", "1", "2", "3")
    for w in waiting:
        assert w.reply()[:1] in (b"*", b"$")  # served
        w.close()
    _wait(lambda: _caught_up(primary, replica), "the replica to catch up")
    assert same_dataset(primary, replica) == []


def test_shutdown_waits_for_a_lagging_replica(dr_factory: Any) -> None:
    """As Redis 7.0: SHUTDOWN holds writes and waits (shutdown-timeout) until every
    replica has acknowledged the stream; SHUTDOWN ABORT calls the wait off."""
    primary = dr_factory()
    replica = start_oracle("--replicaof", "127.0.0.1", str(primary.port))
    try:
        c = primary.client()
        c.set("a", "1")
        _wait(lambda: _caught_up(primary, replica), "the replica's sync")
        replica.proc.send_signal(signal.SIGSTOP)  # it lags from now on
        c.set("b", "2")
        stopper = primary.raw(timeout=30)
        stopper.send(b"SHUTDOWN\r\n")
        _wait(lambda: "shutdown_in_milliseconds" in c.info("server"), "the wait")
        writer = blocked_client(primary, "SET", "c", "3")  # held, as by CLIENT PAUSE WRITE
        assert c.get("a") == b"1"  # reads go on
        assert c.execute_command("SHUTDOWN", "ABORT") is True
        assert stopper.reply() == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        assert writer.reply() == b"+OK\r\n"
        assert "shutdown_in_milliseconds" not in c.info("server")
        replica.proc.send_signal(signal.SIGCONT)
        stopper.send(b"SHUTDOWN\r\n")
        assert primary.proc.wait(30) == 0
        assert "1 of 1 replicas are in sync when shutting down." in primary.log()
        r = replica.client()
        assert [r.get(k) for k in ("a", "b", "c")] == [b"1", b"2", b"3"]
    finally:
        replica.proc.send_signal(signal.SIGCONT)
        replica.stop()


def test_shutdown_stops_waiting_at_the_timeout_or_with_now(dr_factory: Any) -> None:
    for how in (("SHUTDOWN",), ("SHUTDOWN", "NOW")):
        primary = dr_factory("--shutdown-timeout", "1")
        replica = start_oracle("--replicaof", "127.0.0.1", str(primary.port))
        try:
            _wait(lambda p=primary, r=replica: _caught_up(p, r), "the replica's sync")
            replica.proc.send_signal(signal.SIGSTOP)
            primary.client().set("late", "1")
            primary.raw().send(b" ".join(w.encode() for w in how) + b"\r\n")
            assert primary.proc.wait(30) == 0
            log = primary.log()
            assert "Lagging replica" in log and "0 of 1 replicas are in sync" in log
            waited = "Waiting for replicas before shutting down." in log
            assert waited == (how == ("SHUTDOWN",)), how
        finally:
            replica.proc.send_signal(signal.SIGCONT)
            replica.stop()


def test_info_shows_a_replica_whose_snapshot_is_written_then_sent(dr_factory: Any) -> None:
    """slaveN state wait_bgsave while the snapshot is written (rdb-key-save-delay slows
    it down, as Redis's own tests do), then online."""
    primary = dr_factory("--rdb-key-save-delay", "200000")  # 0.2 s a key
    c = primary.client()
    c.mset({"k%d" % i: i for i in range(10)})
    replica = start_oracle("--replicaof", "127.0.0.1", str(primary.port))
    try:
        _wait(lambda: "slave0" in c.info("replication"), "the replica to connect")
        info = c.info("replication")
        assert info["slave0"]["state"] == "wait_bgsave" and info["connected_slaves"] == 1
        assert c.execute_command("ROLE")[2] == []  # ROLE lists online replicas only
        with pytest.raises(redis.ResponseError, match="FAILOVER target replica is not online"):
            c.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port)
        _wait(lambda: _caught_up(primary, replica), "the replica's sync")
        assert c.info("replication")["slave0"]["state"] == "online"
    finally:
        replica.stop()


def test_writes_replicate_while_clients_track_keys(pair: tuple[ServerProc, ServerProc]) -> None:
    """Client-side caching on the primary (CLIENT TRACKING): every write still answers
    and reaches the replica (a name clash in dispatch made each one an internal error
    and stopped the stream)."""
    primary, replica = pair
    tracker = primary.client()
    tracker.execute_command("CLIENT", "TRACKING", "ON")
    tracker.get("tracked")
    c = primary.client()
    assert c.set("tracked", "1") and c.incr("n") == 1
    _wait(lambda: _caught_up(primary, replica), "the replica")
    assert replica.client().get("tracked") == b"1" and replica.client().get("n") == b"1"
