"""Disk space comes back: COMPACT on a running server, `auto-compact-percent`,
`diskredis-backup --compact`, and the engine's compaction in-process (a copy given
up when writes outgrow it, the switch waiting for a reader). Both engines.

The data folder's size is measured whole (data files and logs). That clients are
served during a compaction is checked here by what they get (every acknowledged write
is found, across a crash too); how long they wait is measured by
`tools/bench/compaction.py`, beside nothing (no timed assertions in tests).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from diskredis.storage import open_engine
from tests.conftest import ROOT, ServerProc, start_diskredis


def folder_size(path: str) -> int:
    """Bytes of every file under `path`."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _fill(c: redis.Redis, keys: int, size: int, keep_every: int) -> bytes:
    """`keys` values of `size` random bytes, then all but every `keep_every`-th
    deleted; the value kept."""
    value = os.urandom(size)
    pipe = c.pipeline(transaction=False)
    for i in range(keys):
        pipe.set("k%d" % i, value)
        if i % 50 == 49:
            pipe.execute()
    pipe.execute()
    doomed = ["k%d" % i for i in range(keys) if i % keep_every]
    for i in range(0, len(doomed), 500):
        c.delete(*doomed[i : i + 500])
    return value


def _compacted(c: redis.Redis, before: int = 0, timeout: float = 300.0) -> dict[str, Any]:
    """INFO storage once a compaction after `before` finished."""
    deadline = time.monotonic() + timeout
    while True:
        storage: dict[str, Any] = c.info("storage")
        if storage["compactions"] > before and not storage["compaction_in_progress"]:
            return storage
        if time.monotonic() > deadline:
            pytest.fail("the compaction did not end: %r" % storage)
        time.sleep(0.05)


class Writer(threading.Thread):
    """A client that writes (INCR) all along; what was acknowledged."""

    def __init__(self, sp: ServerProc) -> None:
        super().__init__(daemon=True)
        self.c = sp.client()
        self.acked = 0
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.acked = int(self.c.incr("counter"))
        except redis.ConnectionError:
            pass  # the server was killed


@pytest.mark.stress
def test_a_gigabyte_mostly_deleted_shrinks_to_what_is_left(dr_factory: Any) -> None:
    """1 GB written, 90 % deleted, COMPACT while a client writes: the folder is under
    200 MB, every key left and every acknowledged write read back, before and after a
    restart."""
    sp = dr_factory()
    c = sp.client()
    value = _fill(c, 10_000, 100_000, 10)
    grown = folder_size(sp.dir)
    assert grown > 1_000_000_000
    writer = Writer(sp)
    writer.start()
    assert c.execute_command("COMPACT") == b"OK"
    storage = _compacted(c)
    writer.stop.set()
    writer.join()
    size = folder_size(sp.dir)
    assert size < 200_000_000, (grown, size, storage)
    assert storage["last_compaction_freed_bytes"] > 700_000_000, storage
    assert storage["reclaimable_bytes"] < 50_000_000, storage
    assert c.dbsize() == 1001
    assert all(c.get("k%d" % i) == value for i in range(0, 10_000, 10))
    assert int(c.get("counter")) == writer.acked > 0
    sp.stop()
    again = start_diskredis(sp.args[sp.args.index("--engine") + 1], data_dir=sp.dir)
    try:
        c = again.client()
        assert c.dbsize() == 1001 and int(c.get("counter")) == writer.acked
        assert c.get("k5000") == value
    finally:
        again.stop()


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3])
def test_a_crash_during_a_compaction_loses_nothing(
    dr_factory: Any, engine: str, delay: float
) -> None:
    """SIGKILL while the compaction copies, switches or is done: a restart finds every
    acknowledged write."""
    sp = dr_factory()
    c = sp.client()
    value = _fill(c, 300, 100_000, 4)
    writer = Writer(sp)
    writer.start()
    time.sleep(0.05)
    c.execute_command("COMPACT")
    time.sleep(delay)
    sp.proc.send_signal(signal.SIGKILL)
    sp.proc.wait(timeout=30)
    writer.stop.set()
    writer.join()
    again = start_diskredis(engine, data_dir=sp.dir)
    try:
        c = again.client()
        assert int(c.get("counter")) >= writer.acked > 0
        assert c.dbsize() == 76
        assert all(c.get("k%d" % i) == value for i in range(0, 300, 4))
        assert not (Path(sp.dir) / "lmdb" / "compact").exists()
    finally:
        again.stop()


def test_compact_is_refused_where_redis_refuses_admin_commands(dr: ServerProc) -> None:
    c = dr.client()
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'compact'"):
        c.execute_command("COMPACT", "now")
    with pytest.raises(redis.ResponseError, match="This Redis command is not allowed from script"):
        c.eval("return redis.call('COMPACT')", 0)
    info = c.info("storage")
    for field in ("live_bytes", "reclaimable_bytes", "compaction_in_progress", "compactions"):
        assert field in info, field
    with pytest.raises(redis.ResponseError, match="must be between 0 and 100 inclusive"):
        c.config_set("auto-compact-percent", 101)


@pytest.mark.stress
def test_auto_compact_percent_starts_one_by_itself(dr_factory: Any) -> None:
    """LMDB (LevelDB's files do not tell what is reclaimable: it compacts by itself)."""
    sp = dr_factory("--engine", "lmdb")
    c = sp.client()
    c.config_set("auto-compact-percent", 50)
    assert c.config_get("auto-compact-percent") == {"auto-compact-percent": "50"}
    assert "auto-compact-percent" not in c.config_get("*")  # (hidden, as engine)
    value = _fill(c, 150, 1_000_000, 10)
    _compacted(c, timeout=60)
    assert "auto-compact-percent 50" in sp.log()
    assert c.dbsize() == 15 and c.get("k0") == value
    assert c.info("storage")["reclaimable_bytes"] < 10_000_000


def test_backup_compact(dr_factory: Any, engine: str, tmp_path: Path) -> None:
    sp = dr_factory()
    c = sp.client()
    value = _fill(c, 300, 100_000, 10)
    sp.stop()  # (a LevelDB folder is copied directly with its server stopped)
    dest = tmp_path / "copy"
    out = subprocess.run(
        [sys.executable, "-m", "diskredis.transfer.backup", "-q", "--compact", sp.dir, str(dest)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "compacted the copy" in out.stdout and "checked the copy: 30 string" in out.stdout
    assert folder_size(str(dest)) < 10_000_000  # 3 MB live
    copy = start_diskredis(engine, data_dir=str(dest))
    try:
        assert copy.client().get("k290") == value
    finally:
        copy.stop()


# -- the engine, in-process ---------------------------------------------------------------
def _engine_with(path: str, keys: int) -> Any:
    store = open_engine("lmdb", path)
    for i in range(keys):
        txn = store.write()
        txn.put("meta", b"k%d" % i, b"x" * 1000)
        txn.commit()
    store.checkpoint()
    return store


def test_writes_that_outgrow_the_copy_give_it_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diskredis.storage import lmdb_engine

    # (half a million synced commits at the real limit: two minutes of the suite)
    monkeypatch.setattr(lmdb_engine, "_COMPACT_HOLD_OPS", 300)
    store = _engine_with(str(tmp_path), 100)
    try:
        copy = store.begin_compaction()
        for i in range(lmdb_engine._COMPACT_HOLD_OPS + 10):  # writes held in memory...
            store.before_batch(0)
            txn = store.write()
            txn.put("meta", b"n%d" % i, b"v")
            txn.commit()
        copy()  # ...until there are too many: the copy is given up, checkpoints go on
        assert store.finish_compaction() is False
        assert not (tmp_path / "lmdb" / "compact").exists()
        txn = store.read()
        assert txn.get("meta", b"k5") == b"x" * 1000 and txn.get("meta", b"n9") == b"v"
        txn.abort()
    finally:
        store.close()


def test_the_switch_waits_for_a_reader_of_the_file(tmp_path: Path) -> None:
    store = _engine_with(str(tmp_path), 100)
    try:
        for i in range(0, 100, 2):
            txn = store.write()
            txn.delete("meta", b"k%d" % i)
            txn.commit()
        store.checkpoint()
        copy = store.begin_compaction()
        copy()
        store.pin_readers()  # a snapshot is being read on another thread
        assert store.finish_compaction() is None
        store.unpin_readers()
        assert store.finish_compaction() is True
        txn = store.read()
        assert txn.get("meta", b"k1") == b"x" * 1000 and txn.get("meta", b"k2") is None
        txn.abort()
        live, reclaimable = store.space()
        assert reclaimable < 8192 and live > 50 * 1000
    finally:
        store.close()


def test_leveldb_compacts_in_slices(tmp_path: Path) -> None:
    """LevelDB's compaction goes a slice of about 4 MB of files at a time (pauses
    between them leave the disk to the clients' synced commits): the slices follow
    each other in key order without overlapping, cover every key written, and the
    keys sharing a long prefix (a database's slot) are split finer, a key equal to a
    range's prefix included."""
    from diskredis.storage import leveldb_engine

    store = open_engine("leveldb", str(tmp_path))
    try:
        value = os.urandom(1000)
        for batch in range(40):
            txn = store.write()
            for i in range(1000):  # (values of their own: LevelDB compresses its blocks)
                n = batch * 1000 + i
                txn.put("meta", b"\x00\x00\x00\x01k%06d" % n, os.urandom(1000))
            txn.put("sub", b"s%03d" % batch, value)
            txn.put("meta", b"\x00\x00\x00\x01", value)  # the empty name: a range's start
            txn.commit()
        store.db.compact_range(start=b"\x00", stop=b"\xff" * 16)  # into table files
        slices = leveldb_engine._slices(store.db)
        assert len(slices) >= 4  # 40 MB of meta records
        assert slices[0][0] == b"\x01" and slices[-1][1] == b"\xff" * 16
        for (_, stop), (start, _) in itertools.pairwise(slices):
            assert stop == start  # one after the other
        keys = [k for k in store.db.iterator(include_value=False) if k[:1] in (b"\x01", b"\x02")]
        assert all(any(a <= k < b for a, b in slices) for k in keys)
        work = store.begin_compaction()
        work()
        assert store.finish_compaction() is True
        txn = store.read()
        assert txn.get("sub", b"s039") == value and txn.get("meta", b"\x00\x00\x00\x01k039999")
        txn.abort()
    finally:
        store.close()
