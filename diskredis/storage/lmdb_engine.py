"""LMDB engine (the default): one environment in `<dir>/lmdb`, a named database per table,
and a write-ahead log beside it.

Room: the `Engine` contract over py-lmdb. Imports: `lmdb`, `storage.base`, `storage.wal`.

- Durability: a synced LMDB commit costs two fsyncs and a write of every page the
  transaction touched (about 3 ms for 48 random SETs), so batches are not committed to
  LMDB one by one. Each batch is a nested transaction of one long-lived top-level write
  transaction (the "top"), and its operations are appended to the log (`wal.py`) as one
  record, fdatasynced with appendfsync always (about 0.1 ms): the record makes the batch
  durable, the nested commit makes it visible. A **checkpoint** commits the top to LMDB,
  synced (LMDB's own crash-safe order: data pages, then the meta page), together with the
  log's next epoch, and the log starts again: after 8192 logged operations, 16 MB of log,
  or a second, whichever comes first, and before another thread must see the data
  (`pin_readers`, `checkpoint`). The environment is always opened synced (never
  NOSYNC, writemap or map_async: those can corrupt it on power loss), so the file is
  always a whole checkpoint; opening replays the log's records of the stored epoch
  (idempotent puts and deletes) and checkpoints. The top and its nested transactions
  are used on the thread that opened the engine only (LMDB's write lock is held by the
  thread that began the top): a batch on another thread (a script's) gets a plain
  synced transaction, after the server checkpointed (`checkpoint`).
- With fsync off (everysec, no) records are written without fdatasync and `sync()`
  fdatasyncs the log; checkpoints stay synced.
- A failed log write or checkpoint leaves the top as the log has it (rebuilt from the
  log if need be), refuses writes (`write_failed`) and retries the checkpoint when the
  disk has room again.
- Map size: LMDB needs a bound on the file size up front. The map starts at 1 GiB
  (virtual; the file grows only as data is written) and doubles between batches
  (after a checkpoint: the map can't be resized while a transaction is open) whenever
  less than half of it, or less than twice the incoming data plus what the top may
  hold, is free. A batch that still meets a full map is aborted whole and the error
  says so; the data stays as it was. While another thread of the process reads (a
  snapshot for SYNC: `pin_readers`), the map can't be moved: it is grown first to
  twice what is used plus 1 GiB, and keeps that size until the reader is done.
- Reads: a batch reads the top (or, with no top open, a read transaction: a read-only
  batch never touches the disk); `snapshot()` is a read transaction of the last
  checkpoint, for other threads.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import lmdb

from diskredis.storage.base import TABLES, Engine, StorageError, Txn, disk_hint, folder_size
from diskredis.storage.wal import DELETE, Wal, WalError, op_delete, op_put, read_log

_INITIAL_MAP = 1 << 30  # virtual address space only; the file grows as data arrives
_MAX_READERS = 64
_EPOCH = b"wal-epoch"  # in `stats`: the epoch of the log records not yet checkpointed
_TABLE_INDEX = {t: i for i, t in enumerate(TABLES)}
LOG_NAME = "wal.log"
#: A checkpoint comes after this many logged operations, log bytes or seconds.
CHECKPOINT_OPS = 8192
CHECKPOINT_BYTES = 16 << 20
CHECKPOINT_AGE = 1.0
_PAGE_GUESS = 3 * 4096  # new pages one logged operation may take in the top (map sizing)
# The map's room is looked at again before a batch bringing this many bytes, or after
# this many logged operations (the map is kept at least half free: 512 MB or more).
_MAP_RECHECK = 1 << 20
_MAP_RECHECK_OPS = 256


def _error(path: str, what: str, e: Exception) -> StorageError:
    return StorageError("%s in %s: %s%s" % (what, path, e, disk_hint(path)))


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


class LmdbEngine(Engine):
    name = "lmdb"

    def __init__(self, path: str, fsync: bool = True) -> None:
        self.path = os.path.join(path, "lmdb")
        self.fsync = fsync
        os.makedirs(self.path, exist_ok=True)
        self._home = threading.get_ident()  # the thread that may hold the top
        self._top: Any = None  # the top-level write transaction (None: all checkpointed)
        self._top_since = 0.0
        self._ops = 0  # operations logged since the checkpoint
        self.logged = 0  # operations logged since the engine opened
        self._batch: _BatchTxn | None = None
        self.checkpoints = 0
        self.checkpoint_us = 0  # time spent committing checkpoints, and the last one's
        self.last_checkpoint_us = 0
        self.replayed = 0  # log records applied when the engine opened
        self._open()
        self.wal = Wal(os.path.join(self.path, LOG_NAME))
        self.epoch = self._stored_epoch()
        try:
            self.replayed = self._replay()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        existing = os.path.join(self.path, "data.mdb")
        size = max(_INITIAL_MAP, os.path.getsize(existing) * 2 if os.path.exists(existing) else 0)
        try:
            self.env = lmdb.open(
                self.path, map_size=size, max_dbs=len(TABLES) + 1, subdir=True,
                sync=True, metasync=True, readahead=False,
                max_readers=_MAX_READERS, writemap=False, map_async=False, lock=True,
            )
        except lmdb.Error as e:
            raise _error(self.path, "cannot open the LMDB environment", e) from None
        self.max_key_size = self.env.max_key_size()
        self.dbs = {t: self.env.open_db(t.encode()) for t in TABLES}
        self._db_list = [self.dbs[t] for t in TABLES]
        self._psize = self.env.stat()["psize"]
        self._map_checked = -_MAP_RECHECK_OPS  # `logged` when the map was last looked at

    def _stored_epoch(self) -> int:
        with self.env.begin(buffers=False) as txn:
            raw = txn.get(_EPOCH, db=self.dbs["stats"])
        return int.from_bytes(raw, "big") if raw is not None else 0

    # -- the log -------------------------------------------------------------------
    def _load_log(self, txn: Any, limit: int | None = None) -> int:
        """Apply the log's records of this epoch (up to byte `limit`) to `txn`; how many."""
        n = 0
        for ops in self.wal.records(self.epoch, limit):
            for kind, table, key, value in ops:
                if kind == DELETE:
                    txn.delete(key, db=self._db_list[table])
                else:
                    txn.put(key, value, db=self._db_list[table])
                self._ops += 1
            n += 1
        return n

    def _replay(self) -> int:
        """At open: what the log holds beyond the last checkpoint goes into LMDB."""
        self._ops = 0
        top = self.env.begin(write=True, buffers=False)
        try:
            n = self._load_log(top)
        except BaseException:
            top.abort()
            raise
        if not n:
            top.abort()
            self.wal.restart()
            return 0
        self._top, self._top_since = top, time.monotonic()
        if not self.checkpoint():
            raise StorageError(self.write_error or "the checkpoint after replaying the log "
                               "failed")
        return n

    def _rebuild(self) -> None:
        """The top is gone (a failed checkpoint) or holds more than the log (a failed log
        write): make it what the log holds again, so that reads see every acknowledged
        write. Nothing is written to disk."""
        if self._top is not None:
            self._top.abort()
            self._top = None
        self._ops = 0
        top = self.env.begin(write=True, buffers=False)
        good = self.wal.offset  # a failed append left it before its record
        self.wal.offset = self.wal.written = 0
        try:
            if self._load_log(top, good):
                self._top, self._top_since = top, time.monotonic()
            else:
                top.abort()
        except lmdb.Error:
            top.abort()  # the data file alone then: the log is applied again on reopening

    def checkpoint(self) -> bool:
        """Commit the top to LMDB, synced, with the log's next epoch (on the engine's
        thread, between batches). False when that failed: writes are refused until it
        works (`try_recover`), reads still see everything (the top is rebuilt)."""
        top = self._top
        if top is None:
            return True
        assert threading.get_ident() == self._home, "the top is used on its own thread only"
        self._top = None
        started = time.perf_counter()
        try:
            top.put(_EPOCH, _u64(self.epoch + 1), db=self.dbs["stats"])
            top.commit()
        except lmdb.Error as e:
            top.abort()
            self.write_failed(str(_error(self.path, "the checkpoint failed (the log keeps "
                                         "the writes)", e)))
            self._rebuild()
            return False
        self.epoch += 1
        self._ops = 0
        self._map_checked = -_MAP_RECHECK_OPS  # the file grew: look at the map again
        self.wal.restart()
        self.checkpoints += 1
        self.last_checkpoint_us = int((time.perf_counter() - started) * 1e6)
        self.checkpoint_us += self.last_checkpoint_us
        return True

    def _checkpoint_due(self) -> bool:
        return self._top is not None and (
            self._ops >= CHECKPOINT_OPS or self.wal.written >= CHECKPOINT_BYTES
            or time.monotonic() - self._top_since >= CHECKPOINT_AGE)

    # -- the Engine interface ----------------------------------------------------------
    def set_fsync(self, fsync: bool) -> None:
        if fsync and not self.fsync:
            self.sync()  # what was written unsynced is durable before we say so again
        self.fsync = fsync

    def read(self) -> Txn:
        if self._top is not None and threading.get_ident() == self._home:
            assert self._batch is None or self._batch.writer is None, "read() inside a batch"
            return _TopView(self)
        return _LmdbTxn(self)

    def snapshot(self) -> Txn:
        return _LmdbTxn(self)

    def write(self) -> Txn:
        assert self._batch is None, "one write transaction at a time"
        return _BatchTxn(self)

    def sync(self) -> None:
        try:
            self.wal.sync()
        except WalError as e:
            raise StorageError("%s%s" % (e.strerror, disk_hint(self.path))) from None

    def close(self) -> None:
        if self._top is not None and threading.get_ident() == self._home:
            with contextlib.suppress(WalError):
                self.wal.sync()  # a failed sync: the checkpoint is then all that counts
            self.checkpoint()  # on failure the log still holds it: replayed on opening
        if self._top is not None:
            self._top.abort()
            self._top = None
        self.env.close()
        self.wal.close()

    def disk_size(self) -> int:
        return folder_size(self.path)

    def info(self) -> list[tuple[str, int]]:
        return [("wal_bytes", self.wal.written), ("wal_operations", self._ops),
                ("wal_checkpoints", self.checkpoints),
                ("wal_checkpoint_usec", self.checkpoint_us),
                ("wal_last_checkpoint_usec", self.last_checkpoint_us),
                ("wal_replayed_records", self.replayed)]

    def pin_readers(self) -> None:
        if not self.checkpoint():  # the reader must see every write (it reads the file)
            raise StorageError(self.write_error or "the checkpoint failed")
        if not self._pins:
            info = self.env.info()
            used = (info["last_pgno"] + 1) * self.env.stat()["psize"]
            if info["map_size"] < 2 * used + (1 << 30) and self._top is None:
                self.env.set_mapsize(2 * used + (1 << 30))
        super().pin_readers()

    def _reopen_after_failure(self) -> bool:
        # LMDB keeps its file whole through a failed commit; only a failed write of its
        # meta page leaves the environment unusable (MDB_PANIC) until it is reopened.
        # The log may end in a torn record: a checkpoint and a new epoch leave it behind.
        if threading.get_ident() != self._home:
            return False  # the top lives on the engine's thread: try again from there
        if self.write_error is not None and "MDB_PANIC" in self.write_error:
            try:
                if self._top is not None:
                    self._top.abort()
                    self._top = None
                self.env.close()
                self._open()
                self._rebuild()
            except (StorageError, lmdb.Error) as e:
                self.write_failed(str(e))
                return False
        if self._top is None:
            self._top = self.env.begin(write=True, buffers=False)  # a new epoch anyway
        self.write_error = None
        return self.checkpoint()

    def before_batch(self, incoming_bytes: int) -> None:
        if self._pins or self.write_error is not None:
            return  # mdb_env_set_mapsize with a transaction open elsewhere: not allowed
        home = threading.get_ident() == self._home
        if home and self._checkpoint_due():
            self.checkpoint()
        if incoming_bytes < _MAP_RECHECK and self.logged - self._map_checked < _MAP_RECHECK_OPS:
            return  # at most a few MB more since the map was found at least half free
        self._map_checked = self.logged
        info = self.env.info()
        used = (info["last_pgno"] + 1) * self._psize
        size = info["map_size"]
        need = 2 * incoming_bytes + (self._ops * _PAGE_GUESS + self.wal.written
                                     if self._top is not None else 0)
        if size - used < max(size // 2, need):
            if self._top is not None and not (home and self.checkpoint()):
                return
            new = size
            while new - used < max(new // 2, 2 * incoming_bytes):
                new *= 2
            self.env.set_mapsize(new)


class _LmdbTxn(Txn):
    """A read transaction of what LMDB's file holds (the last checkpoint)."""

    def __init__(self, engine: LmdbEngine) -> None:
        self.engine = engine
        self.txn: Any = engine.env.begin(write=False, buffers=False)

    def get(self, table: str, key: bytes) -> bytes | None:
        value: bytes | None = self.txn.get(key, db=self.engine.dbs[table])
        if value is not None:
            self.engine.records_read += 1
        return value

    def scan(self, table: str, start: bytes = b"", stop: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        return _scan(self.engine, self.txn.cursor(db=self.engine.dbs[table]), start, stop,
                     reverse)

    def commit(self) -> None:
        self.txn.abort()

    def abort(self) -> None:
        self.txn.abort()


class _TopView(_LmdbTxn):
    """Reads of the top, on its thread between batches (nothing to end)."""

    def __init__(self, engine: LmdbEngine) -> None:
        self.engine = engine
        self.txn = engine._top

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _BatchTxn(_LmdbTxn):
    """A batch: reads the top (or a read transaction while there is none), and from its
    first write on a nested transaction of the top whose operations go to the log at
    commit. On another thread than the engine's: a plain synced transaction."""

    def __init__(self, engine: LmdbEngine) -> None:
        self.engine = engine
        self.home = threading.get_ident() == engine._home
        self.ops: list[bytes] = []
        self.writer: Any = None
        self.plain = False
        if engine._top is not None:
            self.reader: Any = None
            self.txn = engine._top
        else:
            self.reader = self.txn = engine.env.begin(write=False, buffers=False)
        engine._batch = self

    @property
    def dirty(self) -> bool:
        return self.writer is not None

    def _writer(self) -> Any:
        if self.writer is None:
            e = self.engine
            if e.write_error is not None:
                raise StorageError(e.write_error)
            if self.reader is not None:
                self.reader.abort()
                self.reader = None
            if not self.home:
                if e._top is not None:
                    raise StorageError("internal: a batch off the engine's thread while the "
                                       "log holds writes (the server checkpoints first)")
                self.plain = True
                self.writer = e.env.begin(write=True, buffers=False)
            else:
                if e._top is None:
                    e._top, e._top_since = e.env.begin(write=True, buffers=False), time.monotonic()
                self.writer = e.env.begin(write=True, parent=e._top, buffers=False)
            self.txn = self.writer
        return self.writer

    def put(self, table: str, key: bytes, value: bytes) -> None:
        try:
            self._writer().put(key, value, db=self.engine.dbs[table])
        except lmdb.MapFullError as e:
            raise _error(self.engine.path, "the LMDB map is full (the server grows it between "
                         "batches; this transaction was too big)", e) from None
        except lmdb.Error as e:
            raise _error(self.engine.path, "write failed", e) from None
        if not self.plain:
            self.ops.append(op_put(_TABLE_INDEX[table], key, value))

    def delete(self, table: str, key: bytes) -> bool:
        db = self.engine.dbs[table]
        if self.writer is None and self.txn.get(key, db=db) is None:
            return False
        try:
            found: bool = self._writer().delete(key, db=db)
        except lmdb.Error as e:
            raise _error(self.engine.path, "write failed", e) from None
        if found and not self.plain:
            self.ops.append(op_delete(_TABLE_INDEX[table], key))
        return found

    def commit(self) -> None:
        e = self.engine
        e._batch = None
        writer, self.writer = self.writer, None
        if writer is None:
            if self.reader is not None:
                self.reader.abort()
            return
        try:
            writer.commit()
        except lmdb.Error as ex:
            raise _error(e.path, "commit failed, nothing of this batch was written",
                         ex) from None
        if self.plain or not self.ops:
            return
        try:
            e.wal.append(e.epoch, b"".join(self.ops), e.fsync)
        except WalError as ex:
            # The top now holds a batch the log does not: take it out again.
            e.write_failed("%s%s" % (ex.strerror, disk_hint(e.path)))
            e._rebuild()
            raise StorageError("%s, nothing of this batch was written%s"
                               % (ex.strerror, disk_hint(e.path))) from None
        e._ops += len(self.ops)
        e.logged += len(self.ops)

    def abort(self) -> None:
        self.engine._batch = None
        if self.writer is not None:
            self.writer.abort()
            self.writer = None
        elif self.reader is not None:
            self.reader.abort()
            self.reader = None


def _scan(engine: Engine, cur: Any, start: bytes, stop: bytes | None,
          reverse: bool) -> Iterator[tuple[bytes, bytes]]:
    if not reverse:
        ok = cur.set_range(start) if start else cur.first()
        while ok:
            key = cur.key()
            if stop is not None and key >= stop:
                return
            engine.records_read += 1
            yield key, cur.value()
            ok = cur.next()
        return
    ok = cur.set_range(stop) if stop is not None else cur.last()
    if stop is not None:
        ok = cur.prev() if ok else cur.last()
    while ok:
        key = cur.key()
        if key < start:
            return
        engine.records_read += 1
        yield key, cur.value()
        ok = cur.prev()


def _epoch_of(env: Any) -> int:
    with env.begin(buffers=False) as txn:
        raw = txn.get(_EPOCH, db=env.open_db(b"stats", txn=txn, create=False))
    return int.from_bytes(raw, "big") if raw is not None else 0


def hot_copy(src: str, dest: str, progress: Callable[[int, int], None] | None = None) -> int:
    """Copy the LMDB environment of data folder `src` -- which a server may be using
    -- into data folder `dest`, compacted, from one read transaction, with the records
    of its log that the copy's checkpoint does not hold: a consistent point-in-time copy
    (LMDB readers never block the writer). The log is read first: if the copy's
    checkpoint is the one the log continued, the records go with the copy (the instant
    is when the log was read); if a later checkpoint came in between, the copy alone is
    that later instant. `progress(done, total)` is called as bytes arrive. Returns the
    bytes written."""
    path = os.path.join(src, "lmdb")
    if not os.path.exists(os.path.join(path, "data.mdb")):
        raise StorageError("%s holds no LMDB data (no lmdb/data.mdb)" % src)
    target = os.path.join(dest, "lmdb")
    os.makedirs(target, exist_ok=True)
    if os.listdir(target):
        raise StorageError("%s is not empty: give a new folder for the copy" % target)
    try:
        env = lmdb.open(path, readonly=True, lock=True, subdir=True, max_dbs=len(TABLES) + 1,
                        max_readers=_MAX_READERS,
                        map_size=max(_INITIAL_MAP, 2 * os.path.getsize(
                            os.path.join(path, "data.mdb"))))
    except lmdb.Error as e:
        raise _error(path, "cannot open the LMDB environment to copy it", e) from None
    out = os.path.join(target, "data.mdb")
    try:
        epoch = _epoch_of(env)
        records = read_log(os.path.join(path, LOG_NAME), epoch)
        info = env.info()
        total = (info["last_pgno"] + 1) * env.stat()["psize"]
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                if progress is not None and os.path.exists(out):
                    progress(os.path.getsize(out), total)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            with open(out, "wb") as f:
                env.copyfd(f.fileno(), compact=True)
                f.flush()
                os.fsync(f.fileno())
        except (lmdb.Error, OSError) as e:
            raise _error(target, "the copy failed", e) from None
        finally:
            done.set()
            watcher.join()
    finally:
        env.close()
    size = os.path.getsize(out)
    copy = lmdb.open(target, readonly=True, lock=False, subdir=True, max_dbs=len(TABLES) + 1)
    try:
        same = _epoch_of(copy) == epoch
    finally:
        copy.close()
    with open(os.path.join(target, LOG_NAME), "wb") as f:
        if same:
            f.write(b"".join(records))
        f.flush()
        os.fsync(f.fileno())
    if progress is not None:
        progress(size, size)
    return size
