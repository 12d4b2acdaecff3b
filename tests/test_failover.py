"""FAILOVER, Redis 7.0's coordinated failover, with diskredis on either side.

- a diskredis primary hands over to its replica (diskredis, or a real redis-server);
- a real redis-server primary hands over to a diskredis replica: the zero-downtime
  migration from a live Redis (docs/migration.md);
and FAILOVER's replies and errors match Redis's.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from tests.conftest import ServerProc, start_oracle
from tests.test_replica import _follow
from tests.test_replication import _caught_up, _wait, same_dataset


def _role(sp: ServerProc) -> str:
    return str(sp.client().info("replication")["role"])


def test_failover_errors_as_redis(dr_factory: Any, oracle: ServerProc) -> None:
    dr = dr_factory()
    cases = [
        ("FAILOVER", "ABORT"),
        ("FAILOVER", "TIMEOUT", "0"),
        ("FAILOVER", "TIMEOUT", "x"),
        ("FAILOVER", "TO", "127.0.0.1"),
        ("FAILOVER", "TO", "127.0.0.1", "x"),
        ("FAILOVER", "FORCE", "FORCE"),
        ("FAILOVER", "BOGUS"),
        ("FAILOVER",),
        ("FAILOVER", "TO", "127.0.0.1", "1", "FORCE"),
        ("FAILOVER", "ABORT", "TIMEOUT", "5"),
    ]
    for cmd in cases:
        assert dr.raw().command(*cmd) == oracle.raw().command(*cmd), cmd


def _fails_over(primary: ServerProc, replica: ServerProc, *extra: Any) -> None:
    """FAILOVER TO the replica: the roles swap, nothing is lost, and the old primary
    continues the same history as a replica (+CONTINUE, no full resync)."""
    c = primary.client()
    for i in range(50):
        c.set("k%d" % i, i)
    c.rpush("l", *range(100))
    before = replica.client().info("stats")["sync_full"]
    # (redis-server marks a diskless sync's replica online once its cron sees the
    # transfer's child exit, which may come after the replica has caught up)
    _wait(
        lambda: c.info("replication").get("slave0", {}).get("state") == "online",
        "the primary to see its replica online",
    )
    assert c.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port, *extra) == b"OK"
    _wait(lambda: _role(primary) == "slave" and _role(replica) == "master", "the failover")
    r = replica.client()
    assert r.info("replication")["master_failover_state"] == "no-failover"
    assert c.info("replication")["master_failover_state"] == "no-failover"
    assert r.set("after", "1")  # the new primary takes writes...
    _wait(lambda: _caught_up(replica, primary), "the old primary to follow")
    assert c.get("after") == b"1"  # ...and the old one follows it
    assert same_dataset(replica, primary) == []
    assert r.info("stats")["sync_full"] == before  # a partial resync


def test_a_diskredis_primary_fails_over_to_its_diskredis_replica(dr_factory: Any) -> None:
    primary = dr_factory()
    primary.client().set("seed", "1")
    replica = _follow(dr_factory, primary)
    _fails_over(primary, replica)


def test_a_diskredis_primary_fails_over_to_a_redis_replica(dr_factory: Any) -> None:
    primary = dr_factory()
    primary.client().set("seed", "1")
    replica = start_oracle("--replicaof", "127.0.0.1", str(primary.port))
    try:
        _wait(lambda: _caught_up(primary, replica), "the redis replica's sync")
        _fails_over(primary, replica, "TIMEOUT", "10000")
    finally:
        replica.stop()


def test_a_live_redis_hands_over_to_diskredis(dr_factory: Any) -> None:
    """The migration of docs/migration.md: a diskredis replica of the live Redis, then
    FAILOVER on the Redis primary: diskredis is the primary, Redis its replica."""
    primary = start_oracle("--repl-diskless-sync-delay", "0")
    try:
        primary.client().set("seed", "1")
        replica = _follow(dr_factory, primary)
        _fails_over(primary, replica)
    finally:
        primary.stop()


def test_failover_waits_for_the_replica_and_pauses_writes(dr_factory: Any) -> None:
    primary = dr_factory()
    c = primary.client()
    replica = _follow(dr_factory, primary)
    # A target that is not a replica, and FORCE without TIMEOUT, are refused.
    with pytest.raises(redis.ResponseError, match="FAILOVER target HOST and PORT is not a replica"):
        c.execute_command("FAILOVER", "TO", "127.0.0.1", "1")
    with pytest.raises(redis.ResponseError, match="FAILOVER with force option requires"):
        c.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port, "FORCE")
    # The replica stops acknowledging: the failover waits, writes are held, and a
    # TIMEOUT without FORCE gives up (writes go on).
    replica.proc.send_signal(19)  # SIGSTOP
    try:
        c.set("x", "1")
        assert c.execute_command("FAILOVER", "TIMEOUT", "500") == b"OK"
        with pytest.raises(redis.ResponseError, match="FAILOVER already in progress"):
            c.execute_command("FAILOVER")
        assert c.info("replication")["master_failover_state"] == "waiting-for-sync"
        assert c.set("y", "1")  # held until the failover gives up
        assert c.info("replication")["master_failover_state"] == "no-failover"
        assert _role(primary) == "master"
        assert c.execute_command("FAILOVER") == b"OK"
        assert c.execute_command("FAILOVER", "ABORT") == b"OK"
        with pytest.raises(redis.ResponseError, match="No failover in progress"):
            c.execute_command("FAILOVER", "ABORT")
    finally:
        replica.proc.send_signal(18)  # SIGCONT


@pytest.mark.parametrize("flavor", ["redis7", "valkey8"])
def test_a_live_redis_under_write_load_hands_over_and_no_write_is_lost(
    dr_factory: Any, flavor: str
) -> None:
    """docs/migration.md under load: a client writes to the live Redis (7.0, or Valkey
    8.0, whose full sync is RDB version 11) all along; once FAILOVER made diskredis the
    primary (Redis answers -READONLY), the client switches to diskredis. Every
    acknowledged write is on diskredis in the end."""
    primary = start_oracle("--repl-diskless-sync-delay", "0", flavor=flavor)
    try:
        replica = _follow(dr_factory, primary)
        acked: list[int] = []
        stop = threading.Event()

        def write() -> None:
            target, i = primary.client(socket_timeout=5), 0
            while not stop.is_set():
                try:
                    target.set("w:%d" % i, i)
                    acked.append(i)
                except redis.ReadOnlyError:  # the cut-over: the application switches
                    target = replica.client(socket_timeout=5)
                    continue
                i += 1

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        _wait(lambda: len(acked) > 300, "writes to Redis")
        c = primary.client()
        assert (
            c.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port, "TIMEOUT", "10000")
            == b"OK"
        )
        _wait(lambda: _role(replica) == "master", "the hand-over")
        count = len(acked)
        _wait(lambda: len(acked) > count + 300, "writes to diskredis")
        stop.set()
        thread.join(10)
        r = replica.client()
        present = {int(k[2:]) for k in r.scan_iter("w:*", count=1000)}
        assert set(acked) <= present, sorted(set(acked) - present)[:10]
        assert r.info("replication")["connected_slaves"] == 1  # Redis follows diskredis
    finally:
        primary.stop()
