"""LevelDB engine (`engine leveldb`), through plyvel: one database in `<dir>/leveldb`.

Room: the `Engine` contract over plyvel. Imports: `plyvel`, `storage.base`.

- Tables are one-byte key prefixes (meta = 0x01, sub = 0x02, ... in `TABLES` order).
- A write transaction keeps its writes in an overlay, so reads and scans inside it
  see them (LevelDB batches are write-only); commit writes the overlay as one atomic
  `WriteBatch`, synced when fsync is on. Abort drops the overlay.
- A read transaction reads a LevelDB snapshot.
- Every table ends with a fence: a live key (the table's prefix, then nine 0xff) that no
  scan returns. A LevelDB seek skips deletion markers until it finds a live key, past the
  range asked for; without fences, a seek into an empty range would walk the markers of
  the tables after it until compaction drops them (FLUSHALL and deleted collections leave
  many).
- fsync off: batches are written unsynced (a killed process loses nothing: LevelDB
  appends them to its log before returning); `sync()` writes a synced marker, which
  makes the whole log durable.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import plyvel

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

_PREFIX = {t: bytes([i + 1]) for i, t in enumerate(TABLES)}
_SYNC_MARK = b"\xff"  # a key of its own, outside every table, for sync()
_FENCE = b"\xff" * 9  # after every key the layout writes (see the module docstring)


class LeveldbEngine(Engine):
    name = "leveldb"
    max_key_size = 511  # same layout on both engines: the keyspace hashes longer keys

    def __init__(self, path: str, fsync: bool = True) -> None:
        self.path = os.path.join(path, "leveldb")
        self.fsync = fsync
        os.makedirs(self.path, exist_ok=True)
        self.db: Any = None
        self._open()

    def _open(self) -> None:
        try:
            self.db = plyvel.DB(
                self.path,
                create_if_missing=True,
                paranoid_checks=True,
                write_buffer_size=16 << 20,
                max_open_files=512,
                lru_cache_size=8 << 20,
                block_size=16 << 10,
                bloom_filter_bits=10,
            )
        except plyvel.Error as e:
            raise StorageError(
                "cannot open the LevelDB database in %s: %s%s"
                % (self.path, e, disk_hint(self.path))
            ) from None
        missing = [p + _FENCE for p in _PREFIX.values() if self.db.get(p + _FENCE) is None]
        if missing:
            with self.db.write_batch(transaction=True, sync=True) as batch:
                for key in missing:
                    batch.put(key, b"")

    def _reopen_after_failure(self) -> bool:
        # A write that failed may have left part of a record at the end of the log;
        # LevelDB would append the next writes after it, and then refuse to open
        # (paranoid checks: a bad record inside the log). Reopening ends that log where
        # it is (a torn tail is read as its end) and starts a new one; it also clears
        # LevelDB's own sticky error after a failed compaction.
        if self._compact_done is not None and not self._compact_done.is_set():
            return False  # a compaction uses the database: once it has ended
        if self.db is not None:
            self.db.close()
            self.db = None
        try:
            self._open()
        except (StorageError, plyvel.Error) as e:
            self.write_failed(str(e))
            return False
        return True

    def _db(self) -> Any:
        if self.db is None:  # a reopen after a failed write did not succeed yet
            try:
                self._open()
            except StorageError as e:
                raise StorageError(
                    "the LevelDB database in %s could not be opened again "
                    "after a failed write: %s" % (self.path, e)
                ) from None
        return self.db

    def set_fsync(self, fsync: bool) -> None:
        if fsync and not self.fsync:
            self.sync()
        self.fsync = fsync

    def read(self) -> Txn:
        self._db()
        return _LeveldbTxn(self, write=False)

    def write(self) -> Txn:
        self._db()
        return _LeveldbTxn(self, write=True)

    def sync(self) -> None:
        try:
            self._db().put(_SYNC_MARK, b"", sync=True)
            self.fsyncs += 1
        except plyvel.Error as e:
            raise StorageError("sync failed in %s: %s" % (self.path, e)) from None

    def close(self) -> None:
        if self._compact_done is not None:
            self._compact_stop = True  # (it stops after its current slice)
            self._compact_done.wait()  # a compaction's CompactRange uses the database
        if self.db is not None:  # its own log is all it replays: nothing to checkpoint
            with contextlib.suppress(StorageError):
                self.sync()  # writes of appendfsync everysec/no are durable at exit
            self.db.close()

    def compact(self, table: str, start: bytes, stop: bytes) -> None:
        prefix = _PREFIX[table]
        try:
            self._db().compact_range(start=prefix + start, stop=prefix + stop)
        except plyvel.Error as e:
            raise StorageError(
                "compaction failed in %s: %s%s" % (self.path, e, disk_hint(self.path))
            ) from None

    def disk_size(self) -> int:
        return folder_size(self.path)

    # -- compaction ------------------------------------------------------------------
    # LevelDB compacts by itself as it writes; COMPACT makes it compact everything now
    # (CompactRange over the whole key space, on a worker thread: LevelDB serves reads
    # and writes meanwhile), a slice of about 4 MB at a time with pauses between them:
    # in one call, the clients' synced commits queued behind its I/O for up to 0.42 s
    # (1 GB, 90 % deleted; 62 ms in slices: docs/operations.md). It does not tell live
    # bytes apart from what deleted and overwritten records still hold until it
    # compacts: `space` counts the files.
    _compact_error: str | None = None
    _compacting = False
    _compact_stop = False  # set at close: a compaction stops after its slice
    _compact_done: threading.Event | None = None  # set when its CompactRange returned

    def begin_compaction(self) -> Callable[[], None]:
        if self._compacting:
            raise StorageError("a compaction of %s is in progress" % self.path)
        self._compacting, self._compact_error = True, None
        db = self._db()
        done = self._compact_done = threading.Event()

        def compact() -> None:
            try:
                for start, stop in _slices(db):
                    if self._compact_stop:  # the server is stopping
                        break
                    began = time.monotonic()
                    db.compact_range(start=start, stop=stop)
                    # the disk to the clients' synced commits for as long again
                    time.sleep(max(_SLICE_PAUSE, time.monotonic() - began))
            except (plyvel.Error, RuntimeError) as e:  # (RuntimeError: it was closed)
                self._compact_error = "compaction failed in %s: %s%s" % (
                    self.path,
                    e,
                    disk_hint(self.path),
                )
            finally:
                done.set()

        return compact

    def finish_compaction(self) -> bool | None:
        if not self._compacting:
            return False
        if self._compact_done is not None and not self._compact_done.is_set():
            return None
        self._compacting = False
        return self._compact_error is None


_SLICE_BYTES = 4 << 20  # a compaction's step: about this much of the files
_SLICE_PAUSE = 0.02  # seconds between two steps, at least
# How deep a range is split: past it, a range is one step whatever its size (a key id
# and the first bytes of a name; 256 size estimates per split).
_SLICE_DEPTH = 16


def _slices(db: Any) -> list[tuple[bytes, bytes]]:
    """The key space in ranges of about _SLICE_BYTES of table files each, in order,
    one after the other from the first table's start to the end:
    each table's range split by its keys' next byte while LevelDB estimates a part
    bigger than that (key prefixes are shared: a database's keys all begin with its
    slot), to _SLICE_DEPTH bytes deep."""
    out: list[tuple[bytes, bytes]] = []
    sizes: list[int] = []

    def split(prefix: bytes, low: bytes, high: bytes) -> None:
        """[low, high): the keys beginning with `prefix` (and `low` itself, which may
        be the prefix or the key before it)."""
        size = db.approximate_size(low, high)
        if size <= _SLICE_BYTES or len(prefix) >= _SLICE_DEPTH:
            # (an empty estimate too: its keys may sit in a block of a bigger file)
            if out and out[-1][1] == low and sizes[-1] + size <= _SLICE_BYTES:
                out[-1] = (out[-1][0], high)  # next to the last one, and small: joined
                sizes[-1] += size
            else:
                out.append((low, high))
                sizes.append(size)
            return
        for b in range(256):  # (the first from `low`: a key may equal the prefix)
            child = prefix + bytes([b])
            split(child, low if b == 0 else child, prefix + bytes([b + 1]) if b < 255 else high)

    for table in TABLES:
        prefix = _PREFIX[table]
        split(prefix, prefix, bytes([prefix[0] + 1]))
    out.append((bytes([len(TABLES) + 1]), b"\xff" * 16))  # after the tables: the sync mark
    return out


class _LeveldbTxn(Txn):
    def __init__(self, engine: LeveldbEngine, write: bool) -> None:
        self.engine = engine
        self.writable = write
        self.source: Any = engine.db if write else engine.db.snapshot()
        self.overlay = Overlay()

    @property
    def dirty(self) -> bool:
        return bool(self.overlay)

    def get(self, table: str, key: bytes) -> bytes | None:
        full = _PREFIX[table] + key
        if full in self.overlay:
            return self.overlay[full]
        value: bytes | None = self.source.get(full)
        if value is not None:
            self.engine.records_read += 1
        return value

    def _write(self, full: bytes, value: bytes | None) -> None:
        if not self.writable:
            raise StorageError("write in a read-only transaction")
        self.overlay.set(full, value)

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self._write(_PREFIX[table] + key, value)

    def delete(self, table: str, key: bytes) -> bool:
        if self.get(table, key) is None:
            return False
        self._write(_PREFIX[table] + key, None)
        return True

    def scan(
        self, table: str, start: bytes = b"", stop: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        prefix = _PREFIX[table]
        lo = prefix + start
        hi = prefix + (stop if stop is not None and stop < _FENCE else _FENCE)
        cut = len(prefix)
        engine = self.engine
        base = _reverse(self.source, lo, hi) if reverse else self.source.iterator(start=lo, stop=hi)
        if not self.overlay:
            for key, value in base:
                engine.records_read += 1
                yield key[cut:], value
            return
        mine = self.overlay.keys_in(lo, hi)
        if reverse:
            mine.reverse()
        for k, v in laid_over(base, mine, (self.overlay,), reverse):
            engine.records_read += 1
            yield k[cut:], v

    def commit(self) -> None:
        if not self.overlay:
            self.abort()
            return
        try:
            with self.engine.db.write_batch(transaction=True, sync=self.engine.fsync) as batch:
                for full, value in self.overlay.items():
                    if value is None:
                        batch.delete(full)
                    else:
                        batch.put(full, value)
            self.engine.fsyncs += self.engine.fsync
        except plyvel.Error as e:
            raise StorageError(
                "commit failed in %s, nothing of this batch was written: %s%s"
                % (self.engine.path, e, disk_hint(self.engine.path))
            ) from None
        finally:
            self.overlay = Overlay()

    def abort(self) -> None:
        self.overlay = Overlay()
        if not self.writable:
            self.source.close()


def _reverse(source: Any, lo: bytes, hi: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Keys in [lo, hi) from the last down, with a raw iterator: plyvel's reverse
    iterator with both bounds skips the range when `lo` itself is a key."""
    it = source.raw_iterator()
    it.seek(hi)
    if it.valid():
        it.prev()
    else:
        it.seek_to_last()
    while it.valid():
        key = it.key()
        if key < lo:
            return
        if key < hi:
            yield key, it.value()
        it.prev()
