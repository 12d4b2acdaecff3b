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
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProc, _wait_ready, free_port, start_oracle
from tests.test_replication import _caught_up, _wait

pytestmark = pytest.mark.stress  # ./dev check leaves it out

_MASTER = "mymaster"


def _sentinel(primary_port: int) -> ServerProc:
    exe = shutil.which("redis-sentinel")
    if exe is None:
        pytest.fail("redis-sentinel (Debian's package) is not installed: run ./dev test")
    port = free_port()
    d = tempfile.mkdtemp(prefix="sentinel-")
    conf = Path(d) / "sentinel.conf"
    conf.write_text(
        "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"
        "sentinel monitor %s 127.0.0.1 %d 1\n"
        "sentinel down-after-milliseconds %s 1000\n"
        "sentinel failover-timeout %s 10000\n"
        "sentinel parallel-syncs %s 1\n"
        % (port, d, Path(d) / "server.log", _MASTER, primary_port, _MASTER, _MASTER, _MASTER)
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
        _wait(lambda: _caught_up(replica, back), "the old primary to follow", timeout=60)
        assert back.client().get("after") == b"1"
        assert n.info("stats")["sync_partial_ok"] >= 1
        assert "replicaof 127.0.0.1 %d" % replica.port in (tmp_path / "primary.conf").read_text()
    finally:
        sentinel.stop()
        other.stop()
