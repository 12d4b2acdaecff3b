"""REPLCONF, SYNC and PSYNC: RDB snapshots for `redis-cli --rdb` and `--functions-rdb`,
loaded back into the real redis-server; their errors compared with Redis's."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Diff, RawClient, ServerProc, start_oracle
from tests.test_rdb_tools import LIBRARY, _fill_all, _same

# REPLCONF as a client that is not a replica sends it, and PSYNC/SYNC arities.
REPLCONF_CASES = [
    ("REPLCONF",),
    ("REPLCONF", "a"),
    ("REPLCONF", "a", "b"),
    ("REPLCONF", "rdb-only", "2"),
    ("REPLCONF", "rdb-only", "x"),
    ("REPLCONF", "rdb-only", "0"),
    ("REPLCONF", "capa", "foo"),
    ("REPLCONF", "capa", "eof", "capa", "psync2"),
    ("REPLCONF", "ip-address", "1.2.3.4"),
    ("REPLCONF", "ip-address", "x" * 300),
    ("REPLCONF", "listening-port", "99999"),
    ("REPLCONF", "listening-port", "-1"),
    ("REPLCONF", "listening-port", "x"),
    ("REPLCONF", "rdb-filter-only", "functions x"),
    ("REPLCONF", "rdb-filter-only", ""),
    ("REPLCONF", "rdb-filter-only", "FUNCTIONS"),
    ("REPLCONF", "rdb-filter-only", "'a"),
    ("REPLCONF", "rdb-only", "1", "rdb-only", "0"),
    ("REPLCONF", "capa", "eof", "x"),
    ("REPLCONF", "RDB-ONLY", "1", "bogus", "1"),
    ("PSYNC", "a"),
    ("PSYNC", "a", "b"),
    ("PSYNC", "?", "x"),
    ("PSYNC", "?", "x", "FAILOVER"),
    ("PSYNC", "abc", "1", "failover", "more"),
    ("SYNC", "x"),
    ("MULTI",),
    ("SYNC",),
    ("PSYNC", "?", "-1"),
    ("DISCARD",),
]


def test_replconf_and_sync_errors_as_redis(diff: Diff) -> None:
    for args in REPLCONF_CASES:
        diff(*args)


def test_ack_and_getack_get_no_reply(diff: Diff) -> None:
    diff.raw(b"REPLCONF ACK 5\r\nREPLCONF GETACK *\r\nREPLCONF ACK x\r\nPING\r\n")


def test_a_filtered_snapshot_needs_the_eof_capability(dr: ServerProc) -> None:
    c = dr.raw()
    assert c.command("REPLCONF", "rdb-filter-only", "functions") == b"+OK\r\n"
    assert c.command("REPLCONF", "rdb-only", "1") == b"+OK\r\n"
    assert c.command("SYNC") == b"-ERR Filtered replica requires EOF capability\r\n"
    assert c.command("PING") == b"+PONG\r\n"


def test_sync_with_pending_output_is_refused(dr: ServerProc, oracle: ServerProc) -> None:
    """SYNC pipelined behind a reply not sent yet: Redis's error, the same here."""
    for sp in (dr, oracle):
        c = sp.raw()
        assert c.command("REPLCONF", "rdb-only", "1") == b"+OK\r\n"
        c.send(b"PING\r\nSYNC\r\nPING\r\n")
        assert [c.reply() for _ in range(3)] == [
            b"+PONG\r\n",
            b"-ERR SYNC and PSYNC are invalid with pending output\r\n",
            b"+PONG\r\n",
        ]


@pytest.fixture
def scratch() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="sync-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _cli(sp: ServerProc, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["redis-cli", "-p", str(sp.port), *args], capture_output=True, text=True, timeout=300
    )


def test_redis_cli_rdb_loads_into_redis(dr: ServerProc, scratch: Path) -> None:
    """`redis-cli --rdb` from diskredis: redis-server loads the file and holds what
    diskredis holds (every type, two databases, TTLs, a function library)."""
    _fill_all(dr.client())
    out = _cli(dr, "--rdb", str(scratch / "dump.rdb"))
    assert out.returncode == 0 and "Transfer finished with success" in out.stderr, out.stderr
    loaded = start_oracle("--dir", str(scratch), "--dbfilename", "dump.rdb")
    try:
        _same(dr, loaded)
    finally:
        loaded.stop()
    assert "Snapshot sent to client" in dr.log()
    assert not [n for n in os.listdir(dr.dir) if n.startswith("temp-sync-")]


def test_redis_cli_functions_rdb(dr: ServerProc, scratch: Path) -> None:
    c = dr.client()
    c.flushall()
    c.function_flush()
    c.function_load(LIBRARY)
    c.set("not-in-it", "x")
    out = _cli(dr, "--functions-rdb", str(scratch / "f.rdb"))
    assert out.returncode == 0 and "Transfer finished with success" in out.stderr, out.stderr
    loaded = start_oracle("--dir", str(scratch), "--dbfilename", "f.rdb")
    try:
        assert loaded.client().fcall("answer", 0) == 42
        assert loaded.client().dbsize() == 0
    finally:
        loaded.stop()


def test_psync_sends_fullresync_then_the_snapshot(dr: ServerProc) -> None:
    c = dr.client()
    c.flushall()
    c.set("k", "v")
    raw = RawClient(dr.port)
    assert raw.command("REPLCONF", "rdb-only", "1") == b"+OK\r\n"
    raw.send(b"PSYNC ? -1\r\n")
    data = b""
    while True:
        chunk = raw.sock.recv(65536)
        if not chunk:
            break
        data += chunk
    run_id = c.info("server")["run_id"].encode()
    head = b"+FULLRESYNC %s 0\r\n" % run_id
    assert data.startswith(head)
    body = data[len(head) :].lstrip(b"\n")
    size, _, rdb = body.partition(b"\r\n")
    assert int(size[1:]) == len(rdb) and rdb.startswith(b"REDIS0010")
    assert b"\x00\x01k\x01v" in rdb  # the key, as a plain string record


def test_snapshot_is_one_instant_while_clients_write(dr: ServerProc, scratch: Path) -> None:
    """A snapshot taken under writes holds a prefix of them: counter n and every list
    element below n, never a gap -- the writes are one transaction each."""
    c = dr.client()
    c.flushall()
    stop = threading.Event()

    def writer() -> None:
        w = dr.client()
        i = 0
        while not stop.is_set():
            p = w.pipeline(transaction=True)
            p.rpush("seq", i)
            p.set("n", i + 1)
            p.execute()
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for i in range(3):
            path = scratch / ("s%d.rdb" % i)
            out = _cli(dr, "--rdb", str(path))
            assert out.returncode == 0, out.stderr
    finally:
        stop.set()
        t.join()
    for i in range(3):
        d = scratch / ("load%d" % i)
        d.mkdir()
        shutil.copy(scratch / ("s%d.rdb" % i), d / "dump.rdb")
        loaded = start_oracle("--dir", str(d))
        try:
            lc = loaded.client()
            n = int(lc.get("n") or 0)
            assert lc.lrange("seq", 0, -1) == [b"%d" % j for j in range(n)]
        finally:
            loaded.stop()


def test_client_gone_mid_snapshot_leaves_nothing(dr: ServerProc) -> None:
    c = dr.client()
    c.flushall()
    c.mset({"big:%d" % i: "x" * 1000 for i in range(20000)})
    raw = RawClient(dr.port)
    raw.command("REPLCONF", "rdb-only", "1")
    raw.send(b"SYNC\r\n")
    raw.sock.recv(10)
    raw.close()
    # The server sees the close asynchronously: when a send to the client fails (the
    # writer's next chunk, or the keepalive newline once a second). A liveness bound,
    # not a speed check.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not [n for n in os.listdir(dr.dir) if n.startswith("temp-sync-")]:
            break
        time.sleep(0.01)
    assert not [n for n in os.listdir(dr.dir) if n.startswith("temp-sync-")]
    assert c.ping()
    c.flushall()


def test_shutdown_while_a_snapshot_is_written(dr_factory: Any) -> None:
    """SIGTERM during a snapshot: the writer gives up, the server exits cleanly and
    leaves no snapshot file; the data is all there after a restart."""
    sp = dr_factory()
    c = sp.client()
    for i in range(5):
        c.mset({"s%d:%d" % (i, j): "x" * 500 for j in range(10000)})
    raw = RawClient(sp.port)
    raw.command("REPLCONF", "rdb-only", "1")
    raw.send(b"SYNC\r\n")
    raw.sock.recv(1)  # the first keepalive newline, or the header
    assert sp.stop() == 0
    assert not [n for n in os.listdir(sp.dir) if n.startswith("temp-sync-")]
    again = dr_factory(data_dir=sp.dir)
    assert again.client().dbsize() == 50000
