"""A whole-dataset RDB file from one read transaction of the engine.

Room: SYNC's and PSYNC's snapshot (and, later, a replica's full sync): every live key
of every database, as the type registry exports it, written by the RDB codec. Runs on
a worker thread: it shares nothing with the lane but the engine, which the caller has
pinned (`Engine.pin_readers`). Imports: `config`, `rdb`, `storage`, `keyspace`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from diskredis.config import Config
from diskredis.keyspace import types
from diskredis.keyspace.space import Keyspace
from diskredis.rdb import codec
from diskredis.storage import Engine

_CACHE = 4 << 20  # the snapshot's keyspace touches each key once


class Stopped(Exception):
    """A snapshot given up (the server is shutting down, or its client left)."""


@dataclass
class Written:
    """What a snapshot holds: its keys, and the replication stream's state it matches."""

    keys: int
    replid: str
    offset: int  # the stream's last byte the data includes
    seldb: int  # the database the stream has selected there (-1: none yet)


def write_rdb(
    engine: Engine,
    databases: int,
    out: BinaryIO,
    *,
    aux: Callable[[str, int, int], Iterable[tuple[bytes, bytes]]],
    data: bool,
    functions: list[bytes],
    compress: bool,
    stop: Callable[[], bool] = lambda: False,
    key_delay_us: int = 0,
) -> Written:
    """Write an RDB file to `out`: the fields `aux(replid, offset, seldb)` gives for the
    replication stream's state the snapshot holds, the keys (unless not `data`), the
    function libraries' code. `stop()` true gives up (raises `Stopped`). Values are
    exported with the default configuration's encodings. `key_delay_us`: a pause after
    each key (rdb-key-save-delay, which tests use to watch a transfer)."""
    ks = Keyspace(engine, databases, _CACHE, view=True)
    config = Config()
    keys = 0
    try:
        # Redis 7.0's version, or 7.4's where a hash has field deadlines (which 7.0
        # cannot hold: its load of the file fails, saying the version)
        version = 12 if ks.has_field_deadlines() else codec.RDB_VERSION
        rdb = codec.FileWriter(out, compress, version)
        b = ks.backlog
        for name, value in aux(b.replid, b.offset, b.seldb):
            rdb.aux(name, value)
        if data:
            for db in range(databases):
                count = ks.stored(db)  # a hint (RESIZEDB): it may count expired keys
                if not count:
                    continue
                rdb.select_db(db, count, ks.expires(db))
                for _, key, meta in ks.iter_keys(db):
                    if stop():
                        raise Stopped()
                    rdb.record(key, types.export(ks, meta, config), meta.expire or None)
                    keys += 1
                    if key_delay_us > 0:  # rdb-key-save-delay: a test knob, as in Redis
                        time.sleep(key_delay_us / 1e6)
        for code in functions:
            rdb.function(code)
        rdb.finish()
    finally:
        ks.close_view()
    return Written(keys, b.replid, b.offset, b.seldb)
