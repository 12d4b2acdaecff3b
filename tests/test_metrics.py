"""Prometheus metrics through Debian's prometheus-redis-exporter, pointed at diskredis
as at a Redis: it is started on loopback, `/metrics` is scraped, and what it exports
is checked against INFO (keyspace, commandstats, latencystats, errorstats,
persistence, replication) and, through tools/prometheus/diskredis-storage.lua,
diskredis's own storage figures. On both engines.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import ROOT, ServerProc, free_port

SCRIPT = Path(ROOT) / "tools" / "prometheus" / "diskredis-storage.lua"
_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$")


class Exporter:
    def __init__(self, sp: ServerProc) -> None:
        exe = shutil.which("prometheus-redis-exporter")
        if exe is None:
            pytest.fail("prometheus-redis-exporter is not installed: run ./dev test")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                exe,
                "--redis.addr=redis://127.0.0.1:%d" % sp.port,
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--script=%s" % SCRIPT,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def scrape(self) -> dict[str, float]:
        """name{labels} -> value of every sample of one scrape."""
        for _ in range(200):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port) as r:
                    text = r.read().decode()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the exporter never answered: %s" % self.stop())
        out = {}
        for line in text.splitlines():
            m = _SAMPLE.match(line)
            if m and not line.startswith("#"):
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return out

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        return str(err)


@pytest.fixture
def exporter_of(dr_factory: Any) -> Iterator[Any]:
    started: list[Exporter] = []

    def make(sp: ServerProc) -> Exporter:
        e = Exporter(sp)
        started.append(e)
        return e

    yield make
    for e in started:
        e.stop()


def test_the_exporter_exports_what_info_says(dr_factory: Any, exporter_of: Any) -> None:
    sp = dr_factory("--latency-tracking-info-percentiles", "50 99 99.9")
    c = sp.client()
    c.set("a", "1")
    c.set("b", "2", ex=1000)
    c.hset("h", mapping={"f": "v"})
    c.get("a")
    c.get("missing")
    with pytest.raises(redis.ResponseError):
        c.execute_command("NOSUCH")
    with pytest.raises(redis.ResponseError):
        c.incr("h")
    m = exporter_of(sp).scrape()
    assert m["redis_up"] == 1
    info = c.info("everything")
    labels = m[
        'redis_instance_info{maxmemory_policy="noeviction",os="%s",process_id="%d",'
        % (
            info["os"],
            info["process_id"],
        )
        + 'redis_build_id="%s",redis_mode="standalone",redis_version="7.0.15",role="master",'
        % (info["redis_build_id"])
        + 'run_id="%s",tcp_port="%d"}' % (info["run_id"], sp.port)
    ]
    assert labels == 1
    assert m['redis_db_keys{db="db0"}'] == c.dbsize() == 3
    assert m['redis_db_keys_expiring{db="db0"}'] == info["db0"]["expires"] == 1
    assert 990 < m['redis_db_avg_ttl_seconds{db="db0"}'] <= 1000
    assert m['redis_commands_total{cmd="set"}'] == info["cmdstat_set"]["calls"] == 2
    assert m['redis_commands_total{cmd="get"}'] == 2
    assert m['redis_commands_failed_calls_total{cmd="incrby"}'] == 1  # (redis-py's INCR)
    assert m['redis_errors_total{err="ERR"}'] == info["errorstat_ERR"]["count"]
    assert m['redis_errors_total{err="WRONGTYPE"}'] == 1
    assert m["redis_keyspace_hits_total"] == info["keyspace_hits"] == 1
    assert m["redis_keyspace_misses_total"] == info["keyspace_misses"] == 1
    for quantile in ("50", "99", "99.9"):
        assert m['redis_latency_percentiles_usec{cmd="set",quantile="%s"}' % quantile] > 0
    assert m["redis_rdb_changes_since_last_save"] == info["rdb_changes_since_last_save"]
    assert m["redis_rdb_last_save_timestamp_seconds"] == info["rdb_last_save_time"]
    assert m["redis_aof_enabled"] == 0
    assert m["redis_memory_used_bytes"] > 0 and m["redis_uptime_in_seconds"] >= 0
    assert m["redis_connected_slaves"] == 0


def test_storage_figures_and_replication(dr_factory: Any, exporter_of: Any) -> None:
    """diskredis's own figures (the storage script), then a replica: the replication
    metrics of both ends."""
    sp = dr_factory()
    c = sp.client()
    for i in range(100):
        c.set("k%d" % i, i)
    m = exporter_of(sp).scrape()
    storage = c.info("storage")
    for field in ("cache_keys", "gc_pending_jobs", "fsync_each_commit"):
        assert m['redis_script_values{key="%s"}' % field] == storage[field], field
    assert (
        100 <= m['redis_script_values{key="lane_write_commits"}'] <= storage["lane_write_commits"]
    )
    assert m['redis_script_values{key="fsyncs"}'] >= 100  # a commit each, appendfsync always
    assert m['redis_script_values{key="disk_bytes"}'] > 0
    replica = dr_factory("--replicaof", "127.0.0.1", str(sp.port))
    for _ in range(400):
        info = replica.client().info("replication")
        if info.get("master_link_status") == "up":
            break
        time.sleep(0.05)
    c.set("after", "1")
    c.execute_command("WAIT", 1, 10_000)
    ours, theirs = exporter_of(sp).scrape(), exporter_of(replica).scrape()
    offset = c.info("replication")["master_repl_offset"]
    assert ours["redis_connected_slaves"] == 1
    assert ours["redis_master_repl_offset"] == offset
    where = '{master_host="127.0.0.1",master_port="%d"}' % sp.port
    assert theirs["redis_master_link_up" + where] == 1
    assert theirs["redis_slave_repl_offset" + where] == offset
    assert theirs['redis_db_keys{db="db0"}'] == 101
    role = next(k for k in theirs if k.startswith("redis_instance_info{"))
    assert 'role="slave"' in role
