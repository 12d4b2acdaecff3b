"""The engine interface: ordered bytes in named tables, in transactions.

Room: what every engine promises, and nothing of Redis. Imports: the standard
library only. Engines implement it in `lmdb_engine` and `leveldb_engine`.

Rules every engine keeps (the contract suite in tests/test_engines.py checks them):

- Keys in a table are ordered bytewise; `scan` visits ``start <= key < stop``,
  ascending, or descending with ``reverse=True``.
- One write transaction at a time, on one thread (the storage lane). It sees its
  own writes, also in scans. Leaving `write()` by an exception aborts it; nothing
  of it reaches disk.
- With `fsync` on (appendfsync always), `commit()` returns once the transaction
  is on stable storage; with it off, that is left to `sync()` or to the OS.
  Either way a committed transaction survives a killed process.
- A failed commit raises `StorageError` naming the cause and leaves the data as
  it was before the transaction.
- Reopening an engine after `close()` (or after the process was killed) finds
  every committed transaction and nothing of an aborted one.
- After a failed commit the lane reports it (`write_failed`) and tries no write until
  `try_recover` says so: a second later, with `RESUME_FREE` bytes free on the disk.
  An engine whose state after a failed write is uncertain (LevelDB: a torn record at
  the end of its log, which later writes must not follow) reopens there.
"""

from __future__ import annotations

import bisect
import fcntl
import os
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO

#: The tables of the key layout (docs/storage-format.md). Engines create them all.
TABLES = ("meta", "sub", "zscore", "expire", "gc", "stats", "fexpire")

#: Free bytes the disk must have again before writes are tried after a failed commit:
#: room for a batch and for LevelDB to flush its 16 MB memory table on reopening.
RESUME_FREE = 32 << 20
_PINS = threading.Lock()


class StorageError(Exception):
    """The engine could not do what was asked: the message names the cause and the path."""


class FolderBusy(StorageError):
    """Another process holds the folder's lock; `holder` is its pid as it wrote it."""

    def __init__(self, path: str, holder: str) -> None:
        super().__init__("%s is in use by pid %s" % (path, holder))
        self.path, self.holder = path, holder


def lock_folder(path: str) -> IO[str]:
    """Take `<path>/diskredis.lock` (an exclusive flock, with our pid in it) and return
    the open file that holds it: one process per data folder. FolderBusy when another
    has it; StorageError when the folder cannot be written."""
    try:
        f = open(os.path.join(path, "diskredis.lock"), "a+")  # noqa: SIM115 - held open
    except OSError as e:
        raise StorageError(
            "can't write in the data directory %s: %s; give the server a "
            "folder it can write (dir) or fix its permissions or mount"
            % (os.path.abspath(path), e.strerror)
        ) from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise FolderBusy(os.path.abspath(path), holder) from None
    f.seek(0)
    f.truncate()
    f.write("%d\n" % os.getpid())
    f.flush()
    return f


def free_bytes(path: str) -> int:
    """Bytes free for us on the disk holding `path` (0 when it can't be told)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def disk_hint(path: str) -> str:
    """A note for an error message when the disk holding `path` is (nearly) full."""
    if not os.path.exists(path):
        return ""
    free = free_bytes(path)
    if free < 16 << 20:
        return "; the disk holding %s is full (%d bytes free): free space, then retry" % (
            path,
            free,
        )
    return ""


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with `prefix` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


class Overlay(dict[bytes, bytes | None]):
    """Writes not stored yet: key -> value, None for a delete; with the keys in order,
    made when a scan first asks for them and kept in order after that."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        super().__init__()
        self._keys: list[bytes] | None = None

    def set(self, key: bytes, value: bytes | None) -> None:
        if self._keys is not None and key not in self:
            bisect.insort(self._keys, key)  # kept in order: scans between writes stay cheap
        self[key] = value

    def absorb(self, newer: Mapping[bytes, bytes | None]) -> None:
        """Take writes newer than its own."""
        keys = self._keys
        if keys is not None:
            added = [k for k in newer if k not in self]
            if added:
                keys.extend(added)
                keys.sort()  # a sorted run and a short tail: linear
        self.update(newer)

    def keys_in(self, start: bytes, stop: bytes | None) -> list[bytes]:
        """Its keys with start <= key < stop, in order (a new list)."""
        keys = self._keys
        if keys is None:
            keys = self._keys = sorted(self)
        return keys[
            bisect.bisect_left(keys, start) : len(keys)
            if stop is None
            else bisect.bisect_left(keys, stop)
        ]


def laid_over(
    base: Iterator[tuple[bytes, bytes]],
    keys: list[bytes],
    layers: Sequence[Mapping[bytes, bytes | None]],
    reverse: bool,
) -> Iterator[tuple[bytes, bytes]]:
    """The stored pairs of a scan (`base`, in scan order) with writes not yet stored
    laid over them: `keys` are the written keys of the scanned range, in scan order,
    each once; a key's value is the first layer's that holds it (None: deleted)."""

    def value(key: bytes) -> bytes | None:
        for layer in layers:
            if key in layer:
                return layer[key]
        return None

    i, n = 0, len(keys)
    for key, stored in base:
        while i < n and (keys[i] > key if reverse else keys[i] < key):
            own = value(keys[i])
            if own is not None:
                yield keys[i], own
            i += 1
        if i < n and keys[i] == key:
            i += 1
            own = value(key)
            if own is not None:
                yield key, own
            continue
        yield key, stored
    for k in keys[i:]:
        own = value(k)
        if own is not None:
            yield k, own


class Txn(ABC):
    """A transaction: reads always; writes when it came from `Engine.write()`."""

    @abstractmethod
    def get(self, table: str, key: bytes) -> bytes | None: ...

    @abstractmethod
    def scan(
        self, table: str, start: bytes = b"", stop: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs with ``start <= key < stop`` (stop None: to the end).

        The iterator is valid until the transaction ends or the table is written.
        """

    def put(self, table: str, key: bytes, value: bytes) -> None:
        raise StorageError("write in a read-only transaction")

    def delete(self, table: str, key: bytes) -> bool:
        """Remove `key`; True if it was there."""
        raise StorageError("write in a read-only transaction")

    @property
    def dirty(self) -> bool:
        """True once something was written."""
        return False

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...

    def __enter__(self) -> Txn:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


class Engine(ABC):
    """An open store in one folder."""

    #: The longest key a table accepts (LMDB: 511 bytes); longer keys are the
    #: keyspace's business (it hashes them).
    max_key_size: int = 511

    name: str = ""
    path: str = ""
    fsync: bool = True
    #: Records read so far (each get that finds one, each record a scan yields): INFO
    #: storage shows it, and tests use it to check that a command reads only what it
    #: needs.
    records_read: int = 0
    #: Set when the server stops without saving (SHUTDOWN NOSAVE): no checkpoint is begun
    #: any more, `close` included; what the log holds is replayed at the next opening.
    hold_checkpoints: bool = False
    #: syncs to disk so far: group commits with fsync on, everysec's syncs, checkpoints
    fsyncs: int = 0

    @abstractmethod
    def __init__(self, path: str, fsync: bool = True) -> None:
        """Open (creating when missing) the engine's files under `path`/`name`."""

    @classmethod
    def copy_folder(
        cls, src: str, dest: str, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """diskredis-backup: copy the engine's files of data folder `src` into the new
        folder `dest`; the bytes written. This default copies the files of a folder no
        server uses (FolderBusy when one does: the backup then goes through the server);
        an engine whose files may be read while its server writes does better."""
        lock = lock_folder(src)
        try:
            target = os.path.join(dest, cls.name)
            if os.path.exists(target):
                raise StorageError("%s exists: give a new folder for the copy" % target)
            shutil.copytree(os.path.join(src, cls.name), target)
        finally:
            lock.close()
        return folder_size(target)

    @abstractmethod
    def set_fsync(self, fsync: bool) -> None:
        """Change whether each commit waits for stable storage (between transactions)."""

    @abstractmethod
    def read(self) -> Txn:
        """A consistent snapshot for reading."""

    @abstractmethod
    def write(self) -> Txn:
        """The write transaction (one at a time)."""

    def snapshot(self) -> Txn:
        """A read transaction that another thread may use while the lane goes on: a
        consistent state at least as new as the last `checkpoint` (or `pin_readers`)."""
        return self.read()

    def checkpoint(self) -> bool:
        """Between batches, on the thread that opened the engine: put everything
        committed into the engine's own files, so that another thread's transaction
        (a snapshot, a batch that runs a script) sees it and may begin. False when that
        failed: `write_error` says why (reads still see every committed write)."""
        return True

    @abstractmethod
    def sync(self) -> None:
        """Make every committed transaction durable (for appendfsync everysec)."""

    @abstractmethod
    def close(self) -> None:
        """Sync and close; with `hold_checkpoints` set, what the log holds is left to be
        replayed at the next opening (SHUTDOWN NOSAVE) instead of put into the files."""

    @abstractmethod
    def disk_size(self) -> int:
        """Bytes the engine's files take on disk."""

    def info(self) -> list[tuple[str, int]]:
        """Engine-specific INFO storage fields."""
        return []

    def before_batch(self, incoming_bytes: int) -> None:  # noqa: B027 - optional hook
        """Called between write transactions with a hint of how much may be written."""

    #: Readers on other threads (`pin_readers`): the engine is not moved or reopened.
    _pins: int = 0
    #: Why writes are refused since a commit failed (None: they are not).
    write_error: str | None = None
    _failed_at: float = 0.0

    def pin_readers(self) -> None:
        """Between write transactions, on the lane: a `snapshot()` transaction is about
        to be used on another thread while the lane goes on; the engine must keep what it
        maps in place until `unpin_readers` (any thread). StorageError when the snapshot
        could not hold every committed write (the reader must not start)."""
        with _PINS:
            self._pins += 1

    def unpin_readers(self) -> None:
        """The reader announced with `pin_readers` is done."""
        with _PINS:
            self._pins -= 1

    def write_failed(self, error: str) -> None:
        """A commit failed: refuse writes until `try_recover` succeeds."""
        self.write_error = error
        self._failed_at = time.monotonic()

    def try_recover(self) -> bool:
        """Between batches: True when writes may be tried again (see the module
        docstring)."""
        if self.write_error is None:
            return True
        if time.monotonic() - self._failed_at < 1.0 or free_bytes(self.path) < RESUME_FREE:
            return False
        if self._pins or not self._reopen_after_failure():
            return False
        self.write_error = None
        return True

    def _reopen_after_failure(self) -> bool:
        """What an engine must do before writing again after a failed commit."""
        return True

    def compact(self, table: str, start: bytes, stop: bytes) -> None:  # noqa: B027
        """Between write transactions: drop what deleted records leave behind in
        [start, stop) of `table` (LevelDB's deletion markers; nothing to do on LMDB)."""

    # -- giving disk space back (COMPACT) ------------------------------------------------
    def space(self) -> tuple[int, int]:
        """(live bytes, reclaimable bytes) of the engine's files, as well as the engine
        can tell cheaply: what a compaction would keep, and what it would give back."""
        size = self.disk_size()
        return size, 0

    def begin_compaction(self) -> Callable[[], None] | None:
        """Between write transactions, on the lane: start giving back the space of
        deleted data. Returns the long part, for a worker thread while the lane goes on;
        then `finish_compaction` on the lane. None: not now (call again after a batch);
        StorageError when it cannot start."""
        return lambda: None

    def finish_compaction(self) -> bool | None:
        """Between write transactions, on the lane, once the long part returned (or
        raised): True when done, None to be called again later (a reader still holds
        the old files), False when the compaction was given up (nothing changed)."""
        return True


def folder_size(path: str) -> int:
    """Bytes the files in `path` take; a file removed while it is counted (LevelDB drops
    files as it compacts) counts as nothing."""
    total = 0
    with os.scandir(path) as entries:
        for entry in entries:
            try:
                total += entry.stat().st_size
            except FileNotFoundError:
                continue
    return total
