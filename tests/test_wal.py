"""The LMDB engine's write-ahead log (diskredis/storage/wal.py, lmdb_engine.py): batches
are durable by their log record, LMDB gets them at checkpoints, and whatever the log
ends with -- a torn record, an older epoch's records, a failed write -- reopening finds
exactly the acknowledged batches."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from diskredis.storage import StorageError, lmdb_engine, open_engine
from diskredis.storage.lmdb_engine import LEGACY_LOG, LmdbEngine
from diskredis.storage.wal import Wal, WalError, encode
from tests.conftest import start_diskredis


def _batch(e: Any, **items: bytes) -> None:
    with e.write() as txn:
        for k, v in items.items():
            txn.put("meta", k.encode(), v)


def _crash_copy(src: Path, dest: Path) -> Path:
    """The folder as a killed process leaves it: the files as they are now (the page
    cache is the file), with the top transaction never committed."""
    shutil.copytree(src / "lmdb", dest / "lmdb", ignore=shutil.ignore_patterns("lock.mdb"))
    return dest


def _after_crash(src: Path, dest: Path) -> tuple[dict[bytes, bytes], int]:
    """What a server opening a crash copy of `src` finds, and the records it replayed."""
    c = open_engine("lmdb", str(_crash_copy(src, dest)))
    assert isinstance(c, LmdbEngine)
    try:
        return _all(c), c.replayed
    finally:
        c.close()


def _room_again(e: Any, monkeypatch: Any) -> None:
    """A second later, the disk has room: `try_recover` may try."""
    e._failed_at -= 5
    monkeypatch.setattr("diskredis.storage.base.free_bytes", lambda path: 1 << 40)


def _log(e: Any) -> str:
    """The log file the engine's batches go to now."""
    return os.path.basename(e.wal.path)


def _in_file(e: Any, key: bytes) -> bytes | None:
    """What LMDB's file (the last checkpoint) holds for `key` in meta."""
    t = e.snapshot()
    try:
        value: bytes | None = t.get("meta", key)
        return value
    finally:
        t.abort()


def _all(e: Any) -> dict[bytes, bytes]:
    t = e.read()
    try:
        return dict(t.scan("meta"))
    finally:
        t.abort()


def test_batches_live_in_the_log_until_a_checkpoint(tmp_path: Path) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    _batch(e, a=b"1")
    _batch(e, b=b"2")
    assert _in_file(e, b"a") is None  # LMDB's file: the last checkpoint, without them
    assert _all(e) == {b"a": b"1", b"b": b"2"}  # the lane sees them
    assert _after_crash(tmp_path / "a", tmp_path / "b") == ({b"a": b"1", b"b": b"2"}, 2)
    assert e.checkpoint() and e.checkpoints >= 1
    assert _in_file(e, b"b") == b"2"
    e.close()


def test_a_torn_last_record_is_left_out(tmp_path: Path) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"))
    _batch(e, a=b"1")
    _batch(e, b=b"2" * 100)
    log = _log(e)
    size = os.path.getsize(tmp_path / "a" / "lmdb" / log)
    copy = _crash_copy(tmp_path / "a", tmp_path / "b")
    with open(copy / "lmdb" / log, "r+b") as f:
        f.truncate(size - 10)  # the last record half written
    c = open_engine("lmdb", str(copy))
    assert _all(c) == {b"a": b"1"}
    c.close()
    copy2 = _crash_copy(tmp_path / "a", tmp_path / "c")
    with open(copy2 / "lmdb" / log, "r+b") as f:
        f.seek(size - 5)
        f.write(b"XXXXX")  # a checksum that fails
    c = open_engine("lmdb", str(copy2))
    assert _all(c) == {b"a": b"1"}
    c.close()
    e.close()


def test_records_of_an_older_epoch_after_the_end_are_ignored(tmp_path: Path) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    first = _log(e)
    for i in range(5):
        _batch(e, **{"old%d" % i: b"x" * 200})
    assert e.checkpoint()
    assert _log(e) != first  # the next epoch logs into the other file
    _batch(e, middle=b"m")
    assert e.checkpoint() and _log(e) == first
    _batch(e, new=b"1")  # overwrites the start of the file; older records follow it
    e.wal.sync()
    assert _after_crash(tmp_path / "a", tmp_path / "b") == (
        {**{b"old%d" % i: b"x" * 200 for i in range(5)}, b"middle": b"m", b"new": b"1"},
        1,
    )
    e.close()


def test_deletes_replay(tmp_path: Path) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"))
    _batch(e, a=b"1", b=b"2")
    assert e.checkpoint()
    with e.write() as txn:
        assert txn.delete("meta", b"a")
        assert not txn.delete("meta", b"zz")
    assert _after_crash(tmp_path / "a", tmp_path / "b") == ({b"b": b"2"}, 1)
    e.close()


def _finish_checkpoint(e: LmdbEngine) -> None:
    """Batches come (empty ones) until the running checkpoint is done."""
    for _ in range(100_000):
        if e._job is None:
            return
        e.before_batch(0)
        time.sleep(0.001)
    raise AssertionError("the checkpoint thread never committed")


def test_checkpoint_after_so_many_operations(tmp_path: Path) -> None:
    """The batch after the limit freezes the writing layer; the checkpoint thread
    commits it while batches go on (into the next epoch's file); a crash at any moment
    finds every batch."""
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    per_batch = 64
    batches = lmdb_engine.CHECKPOINT_OPS // per_batch
    for i in range(batches):
        e.before_batch(0)
        assert e.checkpoints == 0 and e._frozen is None
        with e.write() as txn:
            for j in range(per_batch):
                txn.put("meta", b"%d-%d" % (i, j), b"v")
    first = _log(e)
    assert e.wal.offset > 0
    e.before_batch(0)
    assert e._frozen is not None and _log(e) != first and e.wal.offset == 0
    _batch(e, during=b"d")  # while the checkpoint runs
    assert len(_all(e)) == batches * per_batch + 1
    assert len(_after_crash(tmp_path / "a", tmp_path / "b")[0]) == batches * per_batch + 1
    _finish_checkpoint(e)
    assert e.checkpoints == 1 and e._frozen is None
    # LMDB's file holds the frozen layer, not the batch after it
    assert _in_file(e, b"0-0") == b"v" and _in_file(e, b"during") is None
    assert _after_crash(tmp_path / "a", tmp_path / "c") == (_all(e), 1)
    e.close()
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    assert e.replayed == 0 and len(_all(e)) == batches * per_batch + 1
    e.close()


def test_deletes_and_scans_see_every_layer(tmp_path: Path) -> None:
    """A scan lays the batch's writes, the writing layer and the frozen one over LMDB's
    file, newest first, both ways."""
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    _batch(e, a=b"file", b=b"file", c=b"file", d=b"file")
    assert e.checkpoint()
    _batch(e, b=b"frozen", x=b"frozen")
    with e.write() as txn:
        assert txn.delete("meta", b"c")
    e._freeze()  # the checkpoint thread has it; nothing fills it until the next batch
    _batch(e, x=b"active", f=b"active")
    with e.write() as txn:
        assert txn.delete("meta", b"a")
        assert not txn.delete("meta", b"c")
        txn.put("meta", b"g", b"mine")
        want = {b"b": b"frozen", b"d": b"file", b"x": b"active", b"f": b"active", b"g": b"mine"}
        assert dict(txn.scan("meta")) == want
        assert list(txn.scan("meta", reverse=True)) == sorted(want.items(), reverse=True)
        assert list(txn.scan("meta", b"c", b"g")) == [(b"d", b"file"), (b"f", b"active")]
        assert list(txn.scan("meta", b"c", b"g", reverse=True)) == [
            (b"f", b"active"),
            (b"d", b"file"),
        ]
        assert list(txn.scan("meta", b"g")) == [(b"g", b"mine"), (b"x", b"active")]
        assert txn.get("meta", b"a") is None and txn.get("meta", b"b") == b"frozen"
    assert _all(e) == want
    _finish_checkpoint(e)
    assert _all(e) == want
    assert _after_crash(tmp_path / "a", tmp_path / "b")[0] == want
    e.close()
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert _all(e) == want
    e.close()


def test_an_older_release_log_is_replayed_then_removed(tmp_path: Path) -> None:
    """Releases before 2026-12-04 kept one `wal.log` (records of the stored epoch)."""
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    epoch = e._active.epoch
    e.close()
    legacy = tmp_path / "a" / "lmdb" / LEGACY_LOG
    old = Wal(str(legacy))
    old.append(epoch, encode([{b"old": b"1"}])[0], True)
    old.close()
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    assert e.replayed == 1 and _all(e) == {b"old": b"1"} and not legacy.exists()
    e.close()


def test_a_failed_log_write_fails_the_batch_and_nothing_else(
    tmp_path: Path, monkeypatch: Any
) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    _batch(e, a=b"1")
    real = Wal.append

    def full(self: Wal, epoch: int, payload: bytes, sync: bool) -> None:
        os.pwrite(self.fd, b"\x07" * 40, self.offset)  # a torn start of a record
        raise WalError(28, "writing the log %s failed: No space left on device" % self.path)

    monkeypatch.setattr(Wal, "append", full)
    with pytest.raises(StorageError, match="No space left"):
        _batch(e, b=b"2")
    assert e.write_error is not None
    assert _all(e) == {b"a": b"1"}  # the failed batch is gone, the acknowledged one is not
    with pytest.raises(StorageError), e.write() as txn:  # writes refused until recovery
        txn.put("meta", b"c", b"3")
    monkeypatch.setattr(Wal, "append", real)
    _room_again(e, monkeypatch)
    assert e.try_recover() and e.write_error is None
    _batch(e, c=b"3")
    assert _after_crash(tmp_path / "a", tmp_path / "b")[0] == {b"a": b"1", b"c": b"3"}
    e.close()


def test_a_failed_checkpoint_keeps_every_write_readable(tmp_path: Path, monkeypatch: Any) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    _batch(e, a=b"1")
    _batch(e, b=b"2")
    real = lmdb_engine._Checkpoint.run

    def failing_commit(job: Any) -> None:
        import lmdb

        job.txn = job.env.begin(write=True, buffers=False)
        job.began.set()
        job.filled.wait()
        job.txn.abort()
        job.error = lmdb.DiskError("No space left on device")
        job.done.set()

    monkeypatch.setattr(lmdb_engine._Checkpoint, "run", failing_commit)
    assert not e.checkpoint()
    assert e.write_error is not None and "checkpoint failed" in e.write_error
    assert _all(e) == {b"a": b"1", b"b": b"2"}  # the frozen layer still has them
    with pytest.raises(StorageError), e.write() as txn:  # writes refused until recovery
        txn.put("meta", b"c", b"3")
    monkeypatch.setattr(lmdb_engine._Checkpoint, "run", real)
    assert _after_crash(tmp_path / "a", tmp_path / "b")[0] == {b"a": b"1", b"b": b"2"}
    _room_again(e, monkeypatch)
    assert e.try_recover()
    assert _in_file(e, b"b") == b"2"
    e.close()


def test_an_unexpected_checkpoint_error_refuses_writes_and_does_not_hang(
    tmp_path: Path, monkeypatch: Any
) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"))
    assert isinstance(e, LmdbEngine)
    _batch(e, a=b"1")

    def broken(n: int) -> bytes:
        raise RuntimeError("a bug")

    monkeypatch.setattr(lmdb_engine, "_u64", broken)
    assert not e.checkpoint()
    assert e.write_error is not None and "a bug" in e.write_error
    assert _all(e) == {b"a": b"1"}
    monkeypatch.undo()
    _room_again(e, monkeypatch)
    assert e.try_recover()
    assert _in_file(e, b"a") == b"1"
    e.close()


def test_a_batch_on_another_thread(tmp_path: Path) -> None:
    """Batches may run on any thread, one at a time (the lane's order): a batch on
    another thread goes through the layers and the log like any other."""
    e = open_engine("lmdb", str(tmp_path / "a"))
    _batch(e, a=b"1")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _batch(e, b=b"2")
        except BaseException as ex:
            errors.append(ex)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert not errors
    assert _all(e) == {b"a": b"1", b"b": b"2"}
    assert _after_crash(tmp_path / "a", tmp_path / "b")[0] == {b"a": b"1", b"b": b"2"}
    assert e.checkpoint()
    assert _in_file(e, b"b") == b"2"
    e.close()


def test_fsync_off_writes_records_unsynced_and_sync_makes_them_durable(
    tmp_path: Path, monkeypatch: Any
) -> None:
    e = open_engine("lmdb", str(tmp_path / "a"), fsync=False)
    calls: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd))[1])
    _batch(e, a=b"1")
    assert calls == []
    e.sync()
    assert len(calls) == 1
    e.set_fsync(True)
    _batch(e, b=b"2")
    assert len(calls) >= 2
    e.close()


def test_a_killed_server_replays_its_log() -> None:
    """INFO storage shows the log; a server killed with writes only in its log finds
    them all when it starts again (and says it replayed them). LMDB only: LevelDB's
    own log does this job there."""
    sp = start_diskredis("lmdb")
    again = None
    try:
        c = sp.client()
        for i in range(50):
            c.set("k%d" % i, i)
        s = c.info("storage")
        assert int(s["wal_operations"]) > 0 and int(s["wal_bytes"]) > 0
        sp.proc.kill()
        sp.proc.wait()
        again = start_diskredis("lmdb", data_dir=sp.dir)
        c = again.client()
        assert c.mget(["k%d" % i for i in range(50)]) == [b"%d" % i for i in range(50)]
        s = c.info("storage")
        assert int(s["wal_replayed_records"]) > 0 and int(s["wal_checkpoints"]) >= 1
        assert 0 < int(s["wal_last_checkpoint_usec"]) <= int(s["wal_checkpoint_usec"])
    finally:
        if again is not None:
            again.stop()
        shutil.rmtree(sp.dir, ignore_errors=True)


def test_script_writes_go_through_the_log() -> None:
    """A batch that runs a script is a batch like any other: its writes are logged (no
    checkpoint before it, as when scripts ran on a worker thread) and a killed server
    replays them."""
    sp = start_diskredis("lmdb")
    again = None
    try:
        c = sp.client()
        c.set("warm", 1)  # the first batch's top transaction exists
        before = int(c.info("storage")["wal_checkpoints"])
        for i in range(50):
            assert c.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "s%d" % i, i) == b"OK"
        s = c.info("storage")
        # One checkpoint may come from the log's age (1 s); one per script would be 50.
        assert int(s["wal_checkpoints"]) - before <= 2
        assert int(s["wal_operations"]) >= 50
        sp.proc.kill()
        sp.proc.wait()
        again = start_diskredis("lmdb", data_dir=sp.dir)
        c = again.client()
        assert c.mget(["s%d" % i for i in range(50)]) == [b"%d" % i for i in range(50)]
    finally:
        if again is not None:
            again.stop()
        shutil.rmtree(sp.dir, ignore_errors=True)


def test_no_snapshot_reader_while_a_checkpoint_fails(tmp_path: Path, monkeypatch: Any) -> None:
    """A SYNC snapshot reads LMDB's file: if the log's writes can't be put there first,
    the reader must not start (it would miss acknowledged writes)."""
    e = open_engine("lmdb", str(tmp_path / "a"))
    _batch(e, a=b"1")
    monkeypatch.setattr(LmdbEngine, "checkpoint", lambda self: False)
    with pytest.raises(StorageError):
        e.pin_readers()
    assert e._pins == 0
    monkeypatch.undo()
    e.pin_readers()  # now it checkpoints, and the snapshot sees the batch
    assert _in_file(e, b"a") == b"1"
    e.unpin_readers()
    e.close()
