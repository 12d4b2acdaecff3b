"""The write-ahead log of the LMDB engine: one file, records of whole batches.

Room: the log's bytes on disk, written and read back. Imports: the standard library.

A record is one committed batch, as the engine's physical operations (put or delete of
a key in a table):

    length u32 LE | crc32 u32 LE (of epoch and payload) | epoch u64 LE | payload
    payload = op*, op = kind u8 (1 put, 2 delete) | table u8 | klen u32 LE | key
                        [ | vlen u32 LE | value ]   (put only)

The engine's own files hold everything up to a checkpoint, which stores the epoch the
log continues with; the log then starts again at offset 0 with records of that epoch,
overwriting the old ones in place (an overwrite within the file's size needs no
metadata update, so `fdatasync` writes just the record's pages). Reading stops at the
first record that is torn (length or checksum wrong) or of another epoch: what follows
was never acknowledged, since each acknowledged record was synced after every byte
before it. Replaying a record twice is harmless: each operation sets or removes a key.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence

_HEAD = struct.Struct("<IIQ")  # length, crc32, epoch
_OP = struct.Struct("<BBI")  # kind, table, key length
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
PUT, DELETE = 1, 2
#: A log that grew past this (one huge batch) is cut back to nothing at a checkpoint.
_KEEP_BYTES = 64 << 20
#: One operation: kind, table index, key, value (None for a delete).
Op = tuple[int, int, bytes, bytes | None]


class WalError(OSError):
    """The log could not be written or synced (the OSError's message names the file)."""


class Wal:
    """The log file of one engine, open for reading back and for appending records."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.offset = 0  # where the next record goes
        self.written = 0  # bytes of records since the last checkpoint (== offset)
        self.unsynced = False  # records were written without an fdatasync since the last

    def records(self, epoch: int, limit: int | None = None) -> Iterator[list[Op]]:
        """The operations of each valid record of `epoch`, from the start, in order (up
        to byte `limit` when given); `offset` ends up after the last one."""
        data = _read_all(self.fd)
        for ops, end in _records(data if limit is None else data[:limit], epoch):
            yield ops
            self.offset = self.written = end

    def append(self, epoch: int, payload: bytes, sync: bool) -> None:
        """Write one record at the end of the log (and fdatasync it when `sync`)."""
        crc = zlib.crc32(payload, zlib.crc32(_U64.pack(epoch)))
        record = _HEAD.pack(len(payload), crc, epoch) + payload
        try:
            done = 0
            while done < len(record):
                done += os.pwrite(self.fd, record[done:] if done else record, self.offset + done)
            if sync:
                os.fdatasync(self.fd)
        except OSError as e:
            raise WalError(
                e.errno, "writing the log %s failed: %s" % (self.path, e.strerror)
            ) from None
        self.offset += len(record)
        self.written = self.offset
        self.unsynced = not sync  # an fdatasync covers the earlier records too

    def sync(self) -> None:
        try:
            os.fdatasync(self.fd)
        except OSError as e:
            raise WalError(
                e.errno, "syncing the log %s failed: %s" % (self.path, e.strerror)
            ) from None
        self.unsynced = False

    def restart(self) -> None:
        """After a checkpoint: the next record goes at offset 0 (a big file is cut)."""
        self.offset = self.written = 0
        try:
            if os.fstat(self.fd).st_size > _KEEP_BYTES:
                os.ftruncate(self.fd, 0)
        except OSError:
            pass  # a long file costs room, never correctness: records carry their epoch

    def cut(self) -> None:
        """Drop what follows the records written since `restart` (older epochs' records,
        which the data file holds): the file's length gives the room back."""
        with contextlib.suppress(OSError):  # room, never correctness (see `restart`)
            os.ftruncate(self.fd, self.offset)

    def close(self) -> None:
        os.close(self.fd)


def read_log(path: str, epoch: int) -> list[bytes]:
    """The valid records of `epoch` in the log at `path` (another process may be
    appending to it), each as written: for a copy of the log."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    try:
        data = _read_all(fd)
    finally:
        os.close(fd)
    out, start = [], 0
    for _ops, end in _records(data, epoch):
        out.append(data[start:end])
        start = end
    return out


def _records(data: bytes, epoch: int) -> Iterator[tuple[list[Op], int]]:
    pos, end = 0, len(data)
    while pos + _HEAD.size <= end:
        length, crc, rec_epoch = _HEAD.unpack_from(data, pos)
        body = pos + _HEAD.size
        if rec_epoch != epoch or body + length > end:
            return
        if zlib.crc32(data[pos + 8 : body + length]) != crc:
            return
        yield _decode(data, body, body + length), body + length
        pos = body + length


def encode(maps: Sequence[Mapping[bytes, bytes | None]]) -> tuple[bytes, int]:
    """A record's payload: a put (or, for None, a delete) of every key of `maps` (one
    per table, by index); and how many operations that is."""
    parts: list[bytes] = []
    pack, u32 = _OP.pack, _U32.pack
    n = 0
    for table, m in enumerate(maps):
        n += len(m)
        for key, value in m.items():
            if value is None:
                parts += (pack(DELETE, table, len(key)), key)
            else:
                parts += (pack(PUT, table, len(key)), key, u32(len(value)), value)
    return b"".join(parts), n


def _decode(data: bytes, pos: int, end: int) -> list[Op]:
    ops: list[Op] = []
    while pos < end:
        kind, table, klen = _OP.unpack_from(data, pos)
        pos += _OP.size
        key = data[pos : pos + klen]
        pos += klen
        value = None
        if kind == PUT:
            (vlen,) = _U32.unpack_from(data, pos)
            pos += 4
            value = data[pos : pos + vlen]
            pos += vlen
        ops.append((kind, table, key, value))
    return ops


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks, pos = [], 0
    while pos < size:
        chunk = os.pread(fd, min(size - pos, 16 << 20), pos)
        if not chunk:
            break
        chunks.append(chunk)
        pos += len(chunk)
    return b"".join(chunks)
