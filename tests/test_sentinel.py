"""Automatic failover of diskredis by Debian's redis-sentinel.

A real `redis-sentinel` monitors a diskredis primary with a diskredis replica and a
real redis-server replica. The primary is killed with SIGKILL: Sentinel promotes the
diskredis replica (MULTI, SLAVEOF NO ONE, CONFIG REWRITE, CLIENT KILL, EXEC), points the
other replica at it, and, once the old primary is back, makes it a replica of the new
one, which continues partially (the new primary keeps the old history as id2). Writes
that WAIT confirmed before the kill are all on the new primary.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.sentinel import Sentinel

from tests.conftest import ServerProc, _wait_ready, free_port, start_oracle
from tests.test_replication import _caught_up, _wait

pytestmark = pytest.mark.stress  # ./dev check leaves it out

_MASTER = "mymaster"


def _sentinel(primary_port: int, quorum: int = 1) -> ServerProc:
    """A sentinel for `primary_port`. down-after 3 s (30 s by default): a PING answered
    later than that counts as down, and on a loaded 2-core machine a batch's fsync can
    hold a reply for a second."""
    exe = shutil.which("redis-sentinel")
    if exe is None:
        pytest.fail("redis-sentinel (Debian's package) is not installed: run ./dev test")
    port = free_port()
    d = tempfile.mkdtemp(prefix="sentinel-")
    conf = Path(d) / "sentinel.conf"
    conf.write_text(
        "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"
        "sentinel monitor %s 127.0.0.1 %d %d\n"
        "sentinel down-after-milliseconds %s 3000\n"
        "sentinel failover-timeout %s 10000\n"
        "sentinel parallel-syncs %s 1\n"
        % (
            port,
            d,
            Path(d) / "server.log",
            _MASTER,
            primary_port,
            quorum,
            _MASTER,
            _MASTER,
            _MASTER,
        )
    )
    proc = subprocess.Popen(
        [exe, str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sp = ServerProc("redis-sentinel", port, proc, d, [exe, str(conf)])
    _wait_ready(sp)
    return sp


def _conf_server(dr_factory: Any, tmp: Path, name: str, *lines: str) -> ServerProc:
    """A diskredis started on a configuration file (Sentinel rewrites it)."""
    conf = tmp / ("%s.conf" % name)
    conf.write_text("".join(line + "\n" for line in lines))
    return dr_factory(conf=str(conf))


def _master_port(sentinel: ServerProc) -> int:
    _, port = sentinel.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", _MASTER)
    return int(port)


def test_sentinel_fails_over_to_a_diskredis_replica(dr_factory: Any, tmp_path: Path) -> None:
    primary = _conf_server(dr_factory, tmp_path, "primary")
    replica = _conf_server(dr_factory, tmp_path, "replica", "replicaof 127.0.0.1 %d" % primary.port)
    # A real redis-server replica that Sentinel must never promote (priority 0): it is
    # pointed at the new primary instead.
    other = start_oracle("--replicaof", "127.0.0.1", str(primary.port), "--replica-priority", "0")
    sentinel = _sentinel(primary.port)
    try:
        c = primary.client()
        for i in range(100):
            c.set("k%d" % i, i)
        assert c.execute_command("WAIT", 2, 10000) == 2

        def knows_replicas() -> bool:
            found = sentinel.client().execute_command("SENTINEL", "REPLICAS", _MASTER)
            return len(found) == 2

        _wait(knows_replicas, "Sentinel to find both replicas", timeout=30)
        old_port, old_dir = primary.port, primary.dir
        primary.proc.kill()  # SIGKILL
        primary.proc.wait(10)
        _wait(lambda: _master_port(sentinel) == replica.port, "the failover", timeout=60)
        n = replica.client()
        _wait(lambda: n.info("replication")["role"] == "master", "the promotion")
        assert [n.get("k%d" % i) for i in range(100)] == [b"%d" % i for i in range(100)]
        assert n.set("after", "1")
        _wait(lambda: _caught_up(replica, other), "the redis replica to follow it", timeout=60)
        assert other.client().get("after") == b"1"
        assert "replicaof" not in (tmp_path / "replica.conf").read_text()  # CONFIG REWRITE
        # The old primary comes back: Sentinel makes it a replica of the new one, which
        # it continues from where it was (the new primary keeps its history as id2).
        back = dr_factory(conf=str(tmp_path / "primary.conf"), port=old_port, data_dir=old_dir)
        try:
            _wait(lambda: _caught_up(replica, back), "the old primary to follow", timeout=60)
        except pytest.fail.Exception:
            pytest.fail(
                "the old primary (port %d) did not follow the replica (port %d):\n%s\n%s\n%s"
                % (
                    old_port,
                    replica.port,
                    back.log()[-3000:],
                    replica.log()[-3000:],
                    sentinel.log()[-4000:],
                )
            )
        assert back.client().get("after") == b"1"
        assert n.info("stats")["sync_partial_ok"] >= 1
        assert "replicaof 127.0.0.1 %d" % replica.port in (tmp_path / "primary.conf").read_text()
    finally:
        sentinel.stop()
        other.stop()


class _Writer:
    """Writes w:0, w:1, ... through redis-py's Sentinel client, 20 at a time in a
    pipeline, each pipeline then confirmed with WAIT 1: which writes were acknowledged,
    and which WAIT confirmed on a replica (an acknowledged write not confirmed yet may
    be lost by a failover, with Redis's asynchronous replication as with ours)."""

    def __init__(self, sentinels: list[ServerProc]) -> None:
        self.client = Sentinel(
            [("127.0.0.1", s.port) for s in sentinels], socket_timeout=1
        ).master_for(_MASTER, socket_timeout=1)
        self.acked: set[int] = set()
        self.confirmed: set[int] = set()
        self.failed = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        i = 0
        while not self.stopping:
            batch = range(i, i + 20)
            i += 20
            try:
                p = self.client.pipeline(transaction=False)
                for n in batch:
                    p.set("w:%d" % n, n)
                p.execute()
                self.acked.update(batch)
                if self.client.execute_command("WAIT", 1, 500) >= 1:
                    self.confirmed.update(batch)
            except redis.RedisError:
                self.failed += 1
                time.sleep(0.05)

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(30)

    def lost(self, sp: ServerProc) -> tuple[int, int]:
        """(acknowledged writes missing from `sp`, WAIT-confirmed ones missing)."""
        c = sp.client()
        present = {int(k.split(b":")[1]) for k in c.scan_iter("w:*", count=1000)}
        return len(self.acked - present), len(self.confirmed - present)


def _failover_under_load(
    primary: ServerProc, replicas: list[ServerProc]
) -> tuple[_Writer, ServerProc, list[ServerProc]]:
    """Three sentinels (quorum 2) on `primary`; SIGKILL it under write load; the
    writer, the promoted replica, the sentinels."""
    for r in replicas:
        _wait(lambda r=r: _caught_up(primary, r), "a replica's sync", timeout=30)
    sentinels = [_sentinel(primary.port, quorum=2) for _ in range(3)]

    def all_known() -> bool:
        for s in sentinels:
            c = s.client()
            if len(c.execute_command("SENTINEL", "REPLICAS", _MASTER)) != len(replicas):
                return False
            if len(c.execute_command("SENTINEL", "SENTINELS", _MASTER)) != 2:
                return False
        return True

    _wait(all_known, "the sentinels to know each other and the replicas", timeout=60)
    writer = _Writer(sentinels)
    _wait(lambda: len(writer.confirmed) >= 2000, "confirmed writes", timeout=60)
    primary.proc.kill()
    primary.proc.wait(10)
    _wait(lambda: _master_port(sentinels[0]) != primary.port, "the failover", timeout=60)
    promoted = next(r for r in replicas if r.port == _master_port(sentinels[0]))
    count = len(writer.acked)
    _wait(lambda: len(writer.acked) >= count + 2000, "writes after the failover", timeout=60)
    writer.stop()
    return writer, promoted, sentinels


def test_three_sentinels_fail_over_under_load_and_lose_no_confirmed_write(
    dr_factory: Any, tmp_path: Path
) -> None:
    """Three sentinels, a diskredis primary and two diskredis replicas, redis-py's
    Sentinel client writing: kill -9 the primary. Writes WAIT confirmed are never lost;
    the loss of unconfirmed ones is measured beside real Redis's in the same scenario."""
    primary = _conf_server(dr_factory, tmp_path, "p")
    replicas = [
        _conf_server(dr_factory, tmp_path, "r%d" % i, "replicaof 127.0.0.1 %d" % primary.port)
        for i in range(2)
    ]
    writer, promoted, sentinels = _failover_under_load(primary, replicas)
    try:
        lost, lost_confirmed = writer.lost(promoted)
        assert lost_confirmed == 0
        other = next(r for r in replicas if r is not promoted)
        _wait(lambda: _caught_up(promoted, other), "the other replica to follow", timeout=60)
        back = dr_factory(conf=str(tmp_path / "p.conf"), port=primary.port, data_dir=primary.dir)
        _wait(lambda: _caught_up(promoted, back), "the old primary to rejoin", timeout=60)
        assert back.client().info("replication")["role"] == "slave"
    finally:
        for s in sentinels:
            s.stop()
    oracle_primary = start_oracle()
    oracles = [start_oracle("--replicaof", "127.0.0.1", str(oracle_primary.port)) for _ in range(2)]
    try:
        o_writer, o_promoted, o_sentinels = _failover_under_load(oracle_primary, oracles)
        o_lost, o_lost_confirmed = o_writer.lost(o_promoted)
        for s in o_sentinels:
            s.stop()
    finally:
        for sp in oracles:
            sp.stop()
    report = (
        "writes lost at a SIGKILL failover (acknowledged / WAIT-confirmed): diskredis "
        "%d of %d / %d of %d; redis-server %d of %d / %d of %d"
        % (
            lost,
            len(writer.acked),
            lost_confirmed,
            len(writer.confirmed),
            o_lost,
            len(o_writer.acked),
            o_lost_confirmed,
            len(o_writer.confirmed),
        )
    )
    print(report)  # (pytest -s shows it: the figures of the note)
