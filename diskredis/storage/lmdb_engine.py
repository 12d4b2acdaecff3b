"""LMDB engine (the default): one environment in `<dir>/lmdb`, a named database per table,
and a write-ahead log beside it.

Room: the `Engine` contract over py-lmdb. Imports: `lmdb`, `storage.base`, `storage.wal`.

- Durability: a synced LMDB commit costs two fsyncs and a write of every page the
  transaction touched (65 ms for 8192 random SETs into a million keys on this project's
  machine, most of it the fdatasync of 16 MB of pages), so batches are not committed to
  LMDB one by one. A batch's writes go into memory **layers** and its operations into
  the log (`wal.py`) as one record, fdatasynced with appendfsync always (about 0.1 ms):
  the record makes the batch durable, the layer makes it visible. A read looks at the
  batch's own writes, then the layers, newest first, then LMDB's file.
- A **checkpoint** puts a layer into LMDB's file. After 8192 logged operations, 8 MB of
  log or a second, the writing layer is frozen and a new one takes the next batches,
  logged under the next epoch. A checkpoint thread begins an LMDB write transaction; the
  engine's thread fills it between batches with the frozen layer's writes (twice as
  many as the last batch wrote, 512 or more), and the checkpoint thread commits it,
  synced (LMDB's own crash-safe order: data pages, then the meta page), with the epoch
  that follows, while the event loop goes on serving; then the frozen layer is dropped.
  (LMDB's write lock belongs to the thread that begins a write transaction: hence a
  thread that begins and commits, and no other use of it.) If the writing layer reaches
  four times the operations or once the bytes before the checkpoint is done, the next
  batch waits for it.
- The log is two files: epoch E's records go to `wal-<E % 2>.log`, from its start (the
  file's older records are of epoch E - 2, which LMDB's file holds by then: a layer is
  frozen only when the one before it is checkpointed). LMDB's `stats` table stores the
  epoch of the first records the file does not hold; opening replays that epoch's
  records and the next one's (idempotent puts and deletes) and checkpoints them before
  anything else is written. A `wal.log` of an older release is replayed the same way,
  then removed.
- The environment is always opened synced (never NOSYNC, writemap or map_async: those
  can corrupt it on power loss), so the file is always a whole checkpoint.
- With fsync off (everysec, no) records are written without fdatasync and `sync()`
  fdatasyncs the logs; checkpoints stay synced.
- A failed log write fails its batch (nothing of it is kept) and refuses writes
  (`write_failed`). A failed checkpoint keeps its layer, so reads see every write; it
  refuses writes and is tried again when the disk has room (`try_recover`).
- Map size: LMDB needs a bound on the file size up front. The map starts at 1 GiB
  (virtual; the file grows only as data is written) and doubles between batches, with
  no transaction open, whenever less than half of it, or less than twice the incoming
  data plus what the layers may bring, is free. A checkpoint that still meets a full
  map is aborted, the map grown, and the checkpoint done again. While another thread of
  the process reads (a snapshot for SYNC: `pin_readers`), the map can't be moved: it is
  grown first to twice what is used plus 1 GiB, and keeps that size until the reader is
  done.
- Reads: on the engine's thread `read()` sees the layers; `snapshot()` (and `read()` on
  another thread) is a read transaction of LMDB's file, the last checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import lmdb

from diskredis.storage.base import (
    TABLES,
    Engine,
    Overlay,
    StorageError,
    Txn,
    disk_hint,
    folder_size,
    laid_over,
)
from diskredis.storage.wal import DELETE, Wal, WalError, encode, read_log

_INITIAL_MAP = 1 << 30  # virtual address space only; the file grows as data arrives
_MAX_READERS = 64
_EPOCH = b"wal-epoch"  # in `stats`: the epoch of the first log records not in the file
_TABLE_INDEX = {t: i for i, t in enumerate(TABLES)}
_STATS = _TABLE_INDEX["stats"]
#: The log files, by epoch parity; and the one log of releases before 2026-12-04.
LOG_NAMES = ("wal-0.log", "wal-1.log")
LEGACY_LOG = "wal.log"
#: A layer is checkpointed after this many logged operations, log bytes or seconds.
CHECKPOINT_OPS = 8192
CHECKPOINT_BYTES = 8 << 20
CHECKPOINT_AGE = 1.0
#: What the writing layer may grow to while a checkpoint runs; then the next batch
#: waits for it. Bytes: the frozen layer, the checkpoint's pages and the writing layer
#: are then each up to 8 MB of memory, outside the cache budget (with 16 MB, a test's
#: 1 GB of 64 KB values peaked at 107 MB of private memory instead of 83 MB).
_BACKLOG_OPS = 4 * CHECKPOINT_OPS
_BACKLOG_BYTES = CHECKPOINT_BYTES
#: Operations of a frozen layer put into the checkpoint's transaction between batches:
#: twice what the last batch logged (the checkpoint keeps ahead of the writes), at least
#: this many; in runs of `_FILL_RUN`. The stall this adds to a batch stays about as long
#: as the batch (2-3 µs per write).
_FILL_MIN = 512
_FILL_RUN = 256
_PAGE_GUESS = 3 * 4096  # new pages one logged operation may take in LMDB (map sizing)
#: A compaction copies the file, compacted, into this folder beside it (`lmdb/compact`),
#: then puts the copy in its place. Checkpoints wait meanwhile (the copy must stay what
#: the file holds), so writes stay in memory and in the log; past this many of them the
#: copy is given up and checkpoints go on (a folder a crash left is removed at open).
_COMPACT_DIR = "compact"
_COMPACT_HOLD_OPS = 64 * CHECKPOINT_OPS
_COMPACT_HOLD_BYTES = 16 * CHECKPOINT_BYTES
# The map's room is looked at again before a batch bringing this many bytes, or after
# this many logged operations (the map is kept at least half free: 512 MB or more).
_MAP_RECHECK = 1 << 20
_MAP_RECHECK_OPS = 256


def _error(path: str, what: str, e: Exception) -> StorageError:
    return StorageError("%s in %s: %s%s" % (what, path, e, disk_hint(path)))


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


class _Layer:
    """Writes not in LMDB's file yet, an overlay per table (by index)."""

    __slots__ = ("bytes", "epoch", "maps", "ops", "since")

    def __init__(self, epoch: int = 0) -> None:
        self.maps = [Overlay() for _ in TABLES]
        self.epoch = epoch  # the epoch its log records carry
        self.ops = 0  # operations logged into it
        self.bytes = 0  # bytes of its log records
        self.since = 0.0  # when its first batch came

    def absorb(self, batch: _Layer, ops: int, log_bytes: int) -> None:
        """Take a committed batch's writes (newer than its own)."""
        if not self.ops:
            self.since = time.monotonic()
        for mine, m in zip(self.maps, batch.maps, strict=True):
            if m:
                mine.absorb(m)
        self.ops += ops
        self.bytes = log_bytes


class _Checkpoint:
    """One checkpoint transaction: begun and committed on the checkpoint thread, filled
    with a frozen layer's writes by the engine's thread between batches."""

    def __init__(self, engine: LmdbEngine, layer: _Layer) -> None:
        self.env = engine.env
        self.layer = layer
        self.stats_db = engine._db_list[_STATS]
        self.items = self._items(engine._db_list)
        self.began = threading.Event()
        self.filled = threading.Event()
        self.done = threading.Event()
        self.txn: Any = None
        self.keep = True  # commit once filled (False: abort)
        self.error: Exception | None = None
        self.busy_us = 0  # time it took of the engine's thread (filling) and of its own

    def _items(self, dbs: list[Any]) -> Iterator[tuple[Any, list[tuple[bytes, bytes | None]]]]:
        """The layer's writes in runs of at most `_FILL_RUN`, per table, in key order
        (LMDB's pages in order)."""
        for t, m in enumerate(self.layer.maps):
            if m:
                items = sorted(m.items())
                for i in range(0, len(items), _FILL_RUN):
                    yield dbs[t], items[i : i + _FILL_RUN]

    def run(self) -> None:
        """On the checkpoint thread: begin, wait until filled, commit. Whatever happens,
        the events end set, so the engine's thread never waits for nothing."""
        try:
            self.txn = self.env.begin(write=True, buffers=False)
            self.began.set()
            self.filled.wait()
            started = time.perf_counter()
            try:
                if self.keep:
                    self.txn.commit()
                else:
                    self.txn.abort()
            finally:
                self.txn = None
                self.busy_us += int((time.perf_counter() - started) * 1e6)
        except Exception as e:  # lmdb.Error, or anything else: the checkpoint failed
            self.error = e
        finally:
            self.began.set()
            self.filled.set()
            self.done.set()

    def fill(self, budget: int | None) -> None:
        """On the engine's thread: put about `budget` more writes (None: all) into the
        transaction; after the last one, the epoch that follows the layer's."""
        started = time.perf_counter()
        txn, n = self.txn, 0
        try:
            for db, run in self.items:
                puts = [item for item in run if item[1] is not None]
                if puts:
                    txn.cursor(db=db).putmulti(puts)
                if len(puts) < len(run):
                    for key, value in run:
                        if value is None:
                            txn.delete(key, db=db)
                n += len(run)
                if budget is not None and n >= budget:
                    return
            txn.put(_EPOCH, _u64(self.layer.epoch + 1), db=self.stats_db)
            self.filled.set()
        except Exception as e:  # lmdb.Error (a full map: grown, then again) or worse
            self.error, self.keep = e, False
            self.filled.set()
        finally:
            self.busy_us += int((time.perf_counter() - started) * 1e6)


class _CheckpointThread:
    """The thread that begins and commits checkpoint transactions, one at a time."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[_Checkpoint | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def submit(self, job: _Checkpoint) -> None:
        if self.thread is None:
            self.thread = threading.Thread(
                target=self._run, name="diskredis-checkpoint", daemon=True
            )
            self.thread.start()
        self.jobs.put(job)

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            job.run()

    def stop(self) -> None:
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join()
            self.thread = None


class LmdbEngine(Engine):
    name = "lmdb"

    @classmethod
    def copy_folder(
        cls, src: str, dest: str, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """A copy made while the server runs: `hot_copy`."""
        return hot_copy(src, dest, progress)

    def __init__(self, path: str, fsync: bool = True) -> None:
        self.path = os.path.join(path, "lmdb")
        self.fsync = fsync
        os.makedirs(self.path, exist_ok=True)
        self._home = threading.get_ident()  # the thread whose reads see the layers
        self._active = _Layer()  # where batches' writes go
        self._frozen: _Layer | None = None  # being checkpointed (or failed to be)
        self._job: _Checkpoint | None = None  # the running checkpoint
        self._worker = _CheckpointThread()
        self.logged = 0  # operations logged since the engine opened
        self._last_batch_ops = 0  # operations the last batch logged
        self.checkpoints = 0
        self.checkpoint_us = 0  # time checkpoints took (filling and committing), the last's
        self.last_checkpoint_us = 0
        self.replayed = 0  # log records applied when the engine opened
        # A compaction: None, or its state ("copying", then "copied"), with its error
        # and whether writes outgrew what may wait for it ("spoiled": given up).
        self._compaction: str | None = None
        self._compact_error: str | None = None
        self._compact_spoiled = False
        self._copy_done = threading.Event()
        self._copy_done.set()
        shutil.rmtree(os.path.join(self.path, _COMPACT_DIR), ignore_errors=True)
        self._open()
        self.wals = [Wal(os.path.join(self.path, name)) for name in LOG_NAMES]
        self.wal = self.wals[0]
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
                self.path,
                map_size=size,
                max_dbs=len(TABLES) + 1,
                subdir=True,
                sync=True,
                metasync=True,
                readahead=False,
                max_readers=_MAX_READERS,
                writemap=False,
                map_async=False,
                lock=True,
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

    # -- the log and the layers ------------------------------------------------------
    def _replay(self) -> int:
        """At open: the log's records of the stored epoch and of the next one (and an
        older release's log) go into LMDB's file before anything is written."""
        stored = self._stored_epoch()
        layer = _Layer(stored + 1)
        sources = [(self.wals[stored % 2], stored), (self.wals[(stored + 1) % 2], stored + 1)]
        legacy = os.path.join(self.path, LEGACY_LOG)
        old = Wal(legacy) if os.path.exists(legacy) else None
        if old is not None:
            sources.insert(0, (old, stored))  # its records all came before the new files'
        n = 0
        try:
            for wal, epoch in sources:
                for ops in wal.records(epoch):
                    for kind, table, key, value in ops:
                        layer.maps[table][key] = None if kind == DELETE else value
                        layer.ops += 1
                    n += 1
        finally:
            if old is not None:
                old.close()
        if n:
            # Both files hold records the file does not: the epoch after both.
            self._frozen, self._active = layer, _Layer(stored + 2)
            if not self.checkpoint():
                raise StorageError(
                    self.write_error or "the checkpoint after replaying the log failed"
                )
        else:
            self._active = _Layer(stored)
        self.wal = self.wals[self._active.epoch % 2]
        self.wal.restart()
        if old is not None:
            os.unlink(legacy)  # its records are in the file (or of an older epoch)
        return n

    def _freeze(self) -> None:
        """The writing layer goes to a checkpoint; the next one logs the next epoch into
        the other file, whose records the file holds (no layer was frozen meanwhile)."""
        assert self._frozen is None and self._job is None
        self._frozen = self._active
        self._active = _Layer(self._frozen.epoch + 1)
        self.wal = self.wals[self._active.epoch % 2]
        self.wal.restart()
        self._begin_checkpoint()

    def _begin_checkpoint(self) -> None:
        assert self._frozen is not None
        self._job = _Checkpoint(self, self._frozen)
        self._worker.submit(self._job)

    def _step(self, budget: int | None) -> bool | None:
        """Take the running checkpoint on: fill up to `budget` writes (None: all of them,
        and wait for the commit). True when it is done, False when it failed (writes are
        refused), None when it is still running or was begun again after growing a full
        map."""
        job = self._job
        assert job is not None
        if not job.began.is_set():
            if budget is not None:
                return None  # the thread has not begun the transaction yet
            job.began.wait()
        if not job.filled.is_set():
            job.fill(budget)
            if not job.filled.is_set():
                return None
        if budget is not None and not job.done.is_set():
            return None
        job.done.wait()
        self._job = None
        self.checkpoint_us += job.busy_us
        if job.error is None:
            self.last_checkpoint_us = job.busy_us
            self._frozen = None
            self.checkpoints += 1
            self.fsyncs += 1  # (LMDB's synced commit)
            self._map_checked = -_MAP_RECHECK_OPS  # the file grew: look at the map again
            return True
        if isinstance(job.error, lmdb.MapFullError) and not self._pins:
            self._grow_map(self._pending_bytes(0))
            self._begin_checkpoint()
            return None
        self.write_failed(
            str(_error(self.path, "the checkpoint failed (the log keeps the writes)", job.error))
        )
        return False

    def _pending_bytes(self, incoming_bytes: int) -> int:
        """Room in the map the layers and an incoming batch may take."""
        need = 2 * incoming_bytes
        for layer in (self._active, self._frozen):
            if layer is not None:
                need += layer.ops * _PAGE_GUESS + layer.bytes
        return need

    def _grow_map(self, need: int) -> None:
        """Between batches, with no transaction open: make the map at least half free
        and `need` bytes free."""
        info = self.env.info()
        used = (info["last_pgno"] + 1) * self._psize
        size = new = info["map_size"]
        while new - used < max(new // 2, need):
            new *= 2
        if new != size:
            self.env.set_mapsize(new)

    def _checkpoint_due(self) -> bool:
        a = self._active
        if self._compaction == "copying" and not self._compact_spoiled:
            if a.ops < _COMPACT_HOLD_OPS and a.bytes < _COMPACT_HOLD_BYTES:
                return False  # the copy must stay what the file holds
            self._compact_spoiled = True  # too much waits: give the copy up, go on
        return (
            self._frozen is None
            and a.ops > 0
            and not self.hold_checkpoints
            and (
                a.ops >= CHECKPOINT_OPS
                or a.bytes >= CHECKPOINT_BYTES
                or time.monotonic() - a.since >= CHECKPOINT_AGE
            )
        )

    def checkpoint(self) -> bool:
        """Put every logged write into LMDB's file now (waiting for the checkpoint
        thread). False when that failed: writes are refused until it works
        (`try_recover`); reads still see everything."""
        for _ in range(8):  # a full map is grown and the checkpoint begun again
            if self._job is None:
                if self._frozen is not None:
                    self._begin_checkpoint()  # one that failed: again
                elif self._active.ops:
                    self._freeze()
                else:
                    return True
            if self._step(None) is False:
                return False
        return self._frozen is None and not self._active.ops

    # -- the Engine interface ----------------------------------------------------------
    def set_fsync(self, fsync: bool) -> None:
        if fsync and not self.fsync:
            self.sync()  # what was written unsynced is durable before we say so again
        self.fsync = fsync

    def read(self) -> Txn:
        if threading.get_ident() == self._home:
            return _LayeredTxn(self)
        return _LmdbTxn(self)

    def snapshot(self) -> Txn:
        return _LmdbTxn(self)

    def write(self) -> Txn:
        return _BatchTxn(self)

    def sync(self) -> None:
        try:
            for wal in self.wals:  # a frozen layer's records are in the other file
                if wal.unsynced:
                    wal.sync()
                    self.fsyncs += 1
        except WalError as e:
            raise StorageError("%s%s" % (e.strerror, disk_hint(self.path))) from None

    def close(self) -> None:
        self._copy_done.wait()  # a compaction's copy reads the environment
        with contextlib.suppress(StorageError):
            self.sync()  # when that fails, the checkpoint is all that counts
        if not self.hold_checkpoints:
            self.checkpoint()  # on failure the log still holds it: replayed on opening
        else:  # one running is finished (its thread holds the write lock); one begun
            while self._job is not None:  # again after growing a full map, too
                self._step(None)
        self._worker.stop()
        self.env.close()
        for wal in self.wals:
            wal.close()

    def disk_size(self) -> int:
        return folder_size(self.path)

    def info(self) -> list[tuple[str, int]]:
        layers = [x for x in (self._active, self._frozen) if x is not None]
        return [
            ("wal_bytes", sum(x.bytes for x in layers)),
            ("wal_operations", sum(x.ops for x in layers)),
            ("wal_checkpoints", self.checkpoints),
            ("wal_checkpoint_usec", self.checkpoint_us),
            ("wal_last_checkpoint_usec", self.last_checkpoint_us),
            ("wal_replayed_records", self.replayed),
        ]

    def pin_readers(self) -> None:
        if not self.checkpoint():  # the reader must see every write (it reads the file)
            raise StorageError(self.write_error or "the checkpoint failed")
        if not self._pins:
            info = self.env.info()
            used = (info["last_pgno"] + 1) * self.env.stat()["psize"]
            if info["map_size"] < 2 * used + (1 << 30):
                self.env.set_mapsize(2 * used + (1 << 30))
        super().pin_readers()

    # -- compaction ------------------------------------------------------------------
    def space(self) -> tuple[int, int]:
        """Live: the pages the tables use (LMDB's own count); the rest of the file is
        free pages, which LMDB reuses but never gives back until a compaction."""
        try:
            size = os.path.getsize(os.path.join(self.path, "data.mdb"))
        except OSError:
            return 0, 0
        pages = 2 + sum(  # (the two meta pages)
            stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
            for stat in self._table_stats()
        )
        live = min(size, pages * self._psize)
        return live, size - live

    def _table_stats(self) -> list[Any]:
        with self.env.begin(buffers=False) as txn:
            return [self.env.stat(), *[txn.stat(db) for db in self._db_list]]

    def begin_compaction(self) -> Callable[[], None] | None:
        if self._compaction is not None:
            raise StorageError("a compaction of %s is in progress" % self.path)
        if self.write_error is not None:
            raise StorageError(self.write_error)
        if self._job is not None or self._frozen is not None:
            return None  # a checkpoint is on its way (batch by batch): after it
        # The copy starts from the file as the last checkpoint left it, epoch E; the
        # writing layer's records since are in the log under E, which replays them over
        # the copy as over the file. Nothing is checkpointed here: no stall.
        target = os.path.join(self.path, _COMPACT_DIR)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        info = self.env.info()  # the map stays where the copy reads it: room first
        used = (info["last_pgno"] + 1) * self._psize
        if info["map_size"] < 2 * used + (1 << 30):
            self.env.set_mapsize(2 * used + (1 << 30))
        Engine.pin_readers(self)
        self._compaction, self._compact_error, self._compact_spoiled = "copying", None, False
        self._copy_done.clear()

        def copy() -> None:
            try:
                self.env.copy(target, compact=True)
                fd = os.open(os.path.join(target, "data.mdb"), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except (lmdb.Error, OSError) as e:
                self._compact_error = "the compacted copy in %s failed: %s%s" % (
                    target,
                    e,
                    disk_hint(self.path),
                )
            finally:
                self._copy_done.set()

        return copy

    def finish_compaction(self) -> bool | None:
        if self._compaction is None:
            return False
        if not self._copy_done.is_set():
            return None
        if self._compaction == "copying":
            self._compaction = "copied"
            self.unpin_readers()
        target = os.path.join(self.path, _COMPACT_DIR)
        if self._compact_error is not None or self._compact_spoiled:
            shutil.rmtree(target, ignore_errors=True)
            self._compaction = None
            return False
        if self._pins or self._job is not None:
            return None  # a reader still maps the file: later
        # The copy holds what the file holds (checkpoints waited): the same epoch, so the
        # log replays the same records over either. The rename is the switch.
        self.env.close()
        data = os.path.join(self.path, "data.mdb")
        # The old file stays open here until a worker thread closes it: freeing a big
        # file's blocks takes the thread that drops its last reference 0.2 s a GB.
        old = os.open(data, os.O_RDONLY | os.O_CLOEXEC)
        threading.Timer(0.1, os.close, (old,)).start()
        try:
            os.replace(os.path.join(target, "data.mdb"), data)
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            self._open()  # the new file, or the old one if the rename failed
            self._compaction = None
            shutil.rmtree(target, ignore_errors=True)
        self._map_checked = -_MAP_RECHECK_OPS
        for wal in self.wals:  # the other file's records are all in the data file
            if wal is not self.wal:
                wal.offset = 0
            wal.cut()
        return True

    def _reopen_after_failure(self) -> bool:
        # LMDB keeps its file whole through a failed commit; only a failed write of its
        # meta page leaves the environment unusable (MDB_PANIC) until it is reopened.
        # The layers keep every logged write meanwhile.
        if self.write_error is not None and "MDB_PANIC" in self.write_error:
            try:
                self.env.close()
                self._open()
            except (StorageError, lmdb.Error) as e:
                self.write_failed(str(e))
                return False
        self.write_error = None
        return self.checkpoint()

    def before_batch(self, incoming_bytes: int) -> None:
        if self.write_error is not None:
            return
        if self._job is not None:
            a = self._active
            backlog = a.ops >= _BACKLOG_OPS or a.bytes >= _BACKLOG_BYTES
            self._step(None if backlog else self._fill_budget())
            if self._job is not None:
                return  # no map change while its transaction is open
        if not self._pins and (
            incoming_bytes >= _MAP_RECHECK or self.logged - self._map_checked >= _MAP_RECHECK_OPS
        ):
            self._map_checked = self.logged
            self._grow_map(self._pending_bytes(incoming_bytes))
        if self._checkpoint_due():
            self._freeze()
            self._step(self._fill_budget())

    def _fill_budget(self) -> int:
        return max(_FILL_MIN, 2 * self._last_batch_ops)


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

    def scan(
        self, table: str, start: bytes = b"", stop: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        engine = self.engine
        for pair in _scan(self.txn.cursor(db=engine.dbs[table]), start, stop, reverse):
            engine.records_read += 1
            yield pair

    def commit(self) -> None:
        self.txn.abort()

    def abort(self) -> None:
        self.txn.abort()


class _LayeredTxn(Txn):
    """Reads on the engine's thread: the layers, newest first, over LMDB's file (a read
    transaction begun at the first read that needs it)."""

    def __init__(self, engine: LmdbEngine) -> None:
        self.engine = engine
        self.txn: Any = None
        frozen = engine._frozen
        self.layers = [engine._active] if frozen is None else [engine._active, frozen]

    def _file(self) -> Any:
        if self.txn is None:
            self.txn = self.engine.env.begin(write=False, buffers=False)
        return self.txn

    def _find(self, t: int, key: bytes) -> bytes | None:
        for layer in self.layers:
            m = layer.maps[t]
            if key in m:
                return m[key]
        value: bytes | None = self._file().get(key, db=self.engine._db_list[t])
        return value

    def get(self, table: str, key: bytes) -> bytes | None:
        value = self._find(_TABLE_INDEX[table], key)
        if value is not None:
            self.engine.records_read += 1
        return value

    def scan(
        self, table: str, start: bytes = b"", stop: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        t = _TABLE_INDEX[table]
        engine = self.engine
        base = _scan(self._file().cursor(db=engine._db_list[t]), start, stop, reverse)
        ranges = [
            keys
            for keys in (
                layer.maps[t].keys_in(start, stop) for layer in self.layers if layer.maps[t]
            )
            if keys
        ]
        if ranges:
            keys = ranges[0] if len(ranges) == 1 else sorted(set().union(*ranges))
            if reverse:
                keys.reverse()
            base = laid_over(base, keys, [layer.maps[t] for layer in self.layers], reverse)
        for pair in base:
            engine.records_read += 1
            yield pair

    def _end(self) -> None:
        if self.txn is not None:
            self.txn.abort()
            self.txn = None

    def commit(self) -> None:
        self._end()

    def abort(self) -> None:
        self._end()


class _BatchTxn(_LayeredTxn):
    """A batch: its writes in a layer of its own (read first), logged as one record at
    commit (the last write of each key), then taken into the engine's writing layer."""

    def __init__(self, engine: LmdbEngine) -> None:
        super().__init__(engine)
        self.mine = _Layer()
        self.layers.insert(0, self.mine)
        self.writes = 0

    @property
    def dirty(self) -> bool:
        return self.writes > 0

    def _may_write(self, key: bytes) -> None:
        e = self.engine
        if e.write_error is not None:
            raise StorageError(e.write_error)
        if not key or len(key) > e.max_key_size:
            raise StorageError(
                "a key of %d bytes can't be stored in %s (LMDB takes 1 to %d)"
                % (len(key), e.path, e.max_key_size)
            )

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self._may_write(key)
        self.mine.maps[_TABLE_INDEX[table]].set(key, value)
        self.writes += 1

    def delete(self, table: str, key: bytes) -> bool:
        t = _TABLE_INDEX[table]
        if self._find(t, key) is None:
            return False
        self._may_write(key)
        self.mine.maps[t].set(key, None)
        self.writes += 1
        return True

    def commit(self) -> None:
        self._end()
        if not self.writes:
            return
        self.writes = 0
        e = self.engine
        active = e._active
        assert self.layers[1] is active, "the writing layer changed during a batch"
        payload, ops = encode(self.mine.maps)
        try:
            e.wal.append(active.epoch, payload, e.fsync)
            e.fsyncs += e.fsync
        except WalError as ex:
            e.write_failed("%s%s" % (ex.strerror, disk_hint(e.path)))
            raise StorageError(
                "%s, nothing of this batch was written%s" % (ex.strerror, disk_hint(e.path))
            ) from None
        active.absorb(self.mine, ops, e.wal.written)
        e.logged += ops
        e._last_batch_ops = ops

    def abort(self) -> None:
        self._end()
        self.writes = 0


def _scan(
    cur: Any, start: bytes, stop: bytes | None, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    if not reverse:
        ok = cur.set_range(start) if start else cur.first()
        while ok:
            key = cur.key()
            if stop is not None and key >= stop:
                return
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
    (LMDB readers never block the writer). The logs are read first, the next epoch's
    file before the stored epoch's (if the next epoch has records, the stored one's are
    complete); the copy keeps the records of the epochs its own checkpoint does not hold
    (the instant is when the logs were read); if later checkpoints came in between, the
    copy alone is that later instant. `progress(done, total)` is called as bytes arrive.
    Returns the bytes written."""
    path = os.path.join(src, "lmdb")
    if not os.path.exists(os.path.join(path, "data.mdb")):
        raise StorageError("%s holds no LMDB data (no lmdb/data.mdb)" % src)
    target = os.path.join(dest, "lmdb")
    os.makedirs(target, exist_ok=True)
    if os.listdir(target):
        raise StorageError("%s is not empty: give a new folder for the copy" % target)
    try:
        env = lmdb.open(
            path,
            readonly=True,
            lock=True,
            subdir=True,
            max_dbs=len(TABLES) + 1,
            max_readers=_MAX_READERS,
            map_size=max(_INITIAL_MAP, 2 * os.path.getsize(os.path.join(path, "data.mdb"))),
        )
    except lmdb.Error as e:
        raise _error(path, "cannot open the LMDB environment to copy it", e) from None
    out = os.path.join(target, "data.mdb")
    try:
        epoch = _epoch_of(env)
        newer = read_log(os.path.join(path, LOG_NAMES[(epoch + 1) % 2]), epoch + 1)
        older = read_log(os.path.join(path, LOG_NAMES[epoch % 2]), epoch)
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
        held = _epoch_of(copy)  # the copy's file holds every record before this epoch
    finally:
        copy.close()
    keep = {
        epoch % 2: older if held <= epoch else [],
        (epoch + 1) % 2: newer if held <= epoch + 1 else [],
    }
    for i, name in enumerate(LOG_NAMES):
        with open(os.path.join(target, name), "wb") as f:
            f.write(b"".join(keep[i]))
            f.flush()
            os.fsync(f.fileno())
    if progress is not None:
        progress(size, size)
    return size
