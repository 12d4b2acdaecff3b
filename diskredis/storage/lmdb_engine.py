"""LMDB engine (the default): one environment in `<dir>/lmdb`, a named database per table.

Room: the `Engine` contract over py-lmdb. Imports: `lmdb`, `storage.base`.

- Durability: with fsync on, the environment syncs on every commit (data pages, then
  the meta page: LMDB's own crash-safe order). With fsync off it is opened NOSYNC and
  `sync()` flushes; a killed process loses nothing, a power cut may lose what came
  after the last `sync()`. Never writemap/map_async: those can corrupt on power loss.
- Map size: LMDB needs a bound on the file size up front. The map starts at 1 GiB
  (virtual; the file grows only as data is written) and doubles between write
  transactions whenever less than half of it, or less than twice the incoming data,
  is free. A transaction that still meets a full map is aborted whole and the error
  says so; the data stays as it was. While another thread of the process reads (a
  snapshot for SYNC: `pin_readers`), the map can't be moved: it is grown first to
  twice what is used plus 1 GiB, and keeps that size until the reader is done.
- Transactions: a batch starts as a read transaction and turns into the write
  transaction at its first write (only the lane writes, so both see the same state);
  a read-only batch never touches the disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import lmdb

from diskredis.storage.base import TABLES, Engine, StorageError, Txn, disk_hint, folder_size

_INITIAL_MAP = 1 << 30  # virtual address space only; the file grows as data arrives
_MAX_READERS = 64


def _error(path: str, what: str, e: Exception) -> StorageError:
    return StorageError("%s in %s: %s%s" % (what, path, e, disk_hint(path)))


class LmdbEngine(Engine):
    name = "lmdb"

    def __init__(self, path: str, fsync: bool = True) -> None:
        self.path = os.path.join(path, "lmdb")
        self.fsync = fsync
        os.makedirs(self.path, exist_ok=True)
        self._open()

    def _open(self) -> None:
        self._opened_sync = self.fsync
        existing = os.path.join(self.path, "data.mdb")
        size = max(_INITIAL_MAP, os.path.getsize(existing) * 2 if os.path.exists(existing) else 0)
        try:
            self.env = lmdb.open(
                self.path, map_size=size, max_dbs=len(TABLES) + 1, subdir=True,
                sync=self.fsync, metasync=self.fsync, readahead=False,
                max_readers=_MAX_READERS, writemap=False, map_async=False, lock=True,
            )
        except lmdb.Error as e:
            raise _error(self.path, "cannot open the LMDB environment", e) from None
        self.max_key_size = self.env.max_key_size()
        self.dbs = {t: self.env.open_db(t.encode()) for t in TABLES}

    def set_fsync(self, fsync: bool) -> None:
        self.fsync = fsync
        self._reopen_if_needed()

    def _reopen_if_needed(self) -> None:
        """The environment's sync flags are set when it opens: open it again for a new
        `fsync` -- not while a pinned reader uses it. Until then a commit that must be
        durable is followed by a sync (see `_LmdbTxn.commit`)."""
        if self.fsync != self._opened_sync and not self._pins:
            self.env.sync(True)
            self.env.close()
            self._open()

    def read(self) -> Txn:
        return _LmdbTxn(self, write=False)

    def write(self) -> Txn:
        return _LmdbTxn(self, write=True)

    def sync(self) -> None:
        try:
            self.env.sync(True)
        except lmdb.Error as e:
            raise _error(self.path, "sync failed", e) from None

    def close(self) -> None:
        self.env.close()

    def disk_size(self) -> int:
        return folder_size(self.path)

    def pin_readers(self) -> None:
        if not self._pins:
            info = self.env.info()
            used = (info["last_pgno"] + 1) * self.env.stat()["psize"]
            if info["map_size"] < 2 * used + (1 << 30):
                self.env.set_mapsize(2 * used + (1 << 30))
        super().pin_readers()

    def _reopen_after_failure(self) -> bool:
        # LMDB keeps its file whole through a failed commit; only a failed write of its
        # meta page leaves the environment unusable (MDB_PANIC) until it is reopened.
        if self.write_error is not None and "MDB_PANIC" in self.write_error:
            try:
                self.env.close()
                self._open()
            except StorageError as e:
                self.write_failed(str(e))
                return False
        return True

    def before_batch(self, incoming_bytes: int) -> None:
        if self._pins:
            return  # mdb_env_set_mapsize with a transaction open elsewhere: not allowed
        self._reopen_if_needed()
        info = self.env.info()
        used = (info["last_pgno"] + 1) * self.env.stat()["psize"]
        size = info["map_size"]
        if size - used < max(size // 2, 2 * incoming_bytes):
            new = size
            while new - used < max(new // 2, 2 * incoming_bytes):
                new *= 2
            self.env.set_mapsize(new)


class _LmdbTxn(Txn):
    """Reads from a read transaction until the first write, then from the write one."""

    def __init__(self, engine: LmdbEngine, write: bool) -> None:
        self.engine = engine
        self.writable = write
        self.txn: Any = engine.env.begin(write=False, buffers=False)
        self._dirty = False

    @property
    def dirty(self) -> bool:
        return self._dirty

    def _writer(self) -> Any:
        if not self._dirty:
            if not self.writable:
                raise StorageError("write in a read-only transaction")
            self.txn.abort()
            self.txn = self.engine.env.begin(write=True, buffers=False)
            self._dirty = True
        return self.txn

    def get(self, table: str, key: bytes) -> bytes | None:
        value: bytes | None = self.txn.get(key, db=self.engine.dbs[table])
        if value is not None:
            self.engine.records_read += 1
        return value

    def put(self, table: str, key: bytes, value: bytes) -> None:
        try:
            self._writer().put(key, value, db=self.engine.dbs[table])
        except lmdb.MapFullError as e:
            raise _error(self.engine.path, "the LMDB map is full (the server grows it between "
                         "batches; this transaction was too big)", e) from None
        except lmdb.Error as e:
            raise _error(self.engine.path, "write failed", e) from None

    def delete(self, table: str, key: bytes) -> bool:
        if not self._dirty and self.txn.get(key, db=self.engine.dbs[table]) is None:
            return False
        found: bool = self._writer().delete(key, db=self.engine.dbs[table])
        return found

    def scan(self, table: str, start: bytes = b"", stop: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        cur = self.txn.cursor(db=self.engine.dbs[table])
        engine = self.engine
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

    def commit(self) -> None:
        engine = self.engine
        try:
            self.txn.commit()
            if engine.fsync and not engine._opened_sync:
                engine.env.sync(True)
        except lmdb.Error as e:
            raise _error(self.engine.path, "commit failed, nothing of this batch was written",
                         e) from None

    def abort(self) -> None:
        self.txn.abort()


def hot_copy(src: str, dest: str, progress: Callable[[int, int], None] | None = None) -> int:
    """Copy the LMDB environment of data folder `src` -- which a server may be using
    -- into data folder `dest`, compacted, from one read transaction: a consistent
    point-in-time copy (LMDB readers never block the writer). `progress(done, total)`
    is called as bytes arrive. Returns the bytes written."""
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
    if progress is not None:
        progress(size, size)
    return size
