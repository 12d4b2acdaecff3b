"""A data folder opened by a tool, with the server stopped (its lock is taken).

Room: reading and writing keys of a folder through the same value import/export as
DUMP and RESTORE, in batches of one transaction each. Imports: `errors`, `util`,
`engines`, `commands`, `keyspace`, `storage`, `config`, `rdb.model`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from diskredis.commands import dispatch
from diskredis.commands.context import Ctx, Hub, Session, Stats
from diskredis.commands.serialize import export_value, import_value
from diskredis.config import Config
from diskredis.engines import DEFAULT_ENGINE
from diskredis.errors import RedisError
from diskredis.keyspace import layout as L
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import Keyspace
from diskredis.rdb.model import Record
from diskredis.storage import ENGINES, StorageError, lock_folder, open_engine
from diskredis.util import glob_match

_CACHE = 16 << 20  # a tool needs little hot cache: it touches each key once


def engine_of(path: str) -> str | None:
    """The engine whose files are in `path`, if exactly one's are."""
    found = [name for name in ENGINES if os.path.isdir(os.path.join(path, name))]
    return found[0] if len(found) == 1 else None


class _NoServer:
    """The `ServerPort` of a folder opened by a tool: no clients, nothing to serve.
    Commands that act on a server (SHUTDOWN, CLIENT PAUSE, MONITOR...) are refused."""

    run_id = "0" * 40
    monitoring = False
    offloads = False
    failover_state = "no-failover"

    def sessions(self) -> list[Session]:
        return []

    def session_by_id(self, client_id: int) -> Session | None:
        return None

    def monitors(self) -> list[Session]:
        return []

    def push(self, session: Session, data: bytes) -> None:
        pass

    def feed_monitor(self, session: Session, line: bytes) -> None:
        pass

    def info_fields(self) -> dict[str, Any]:
        return {}

    def replica_states(self) -> list[Any]:
        return []

    def master_state(self) -> None:
        return None

    def request_ack(self) -> None:
        pass

    def abort_shutdown(self) -> bool:
        return False

    def shutdown_in_ms(self) -> None:
        return None

    def reset_stats(self) -> None:
        pass

    def checkpoint(self) -> None:
        pass

    def unblock(self, client_id: int, error: bool) -> bool:
        return False

    def apply_config(self, names: list[str]) -> None:
        pass

    def _refuse(self, *args: Any) -> None:
        raise RedisError(
            "ERR this command needs a running server; the tool has the data folder open without one"
        )

    kill = start_monitor = exit_now = pause = unpause = set_master = unset_master = _refuse
    start_failover = abort_failover = start_compaction = _refuse


class Offline:
    """The folder `path`, locked for this process. A new folder gets `engine`."""

    def __init__(
        self, path: str, engine: str | None = None, databases: int = 16, create: bool = False
    ) -> None:
        found = engine_of(path) if os.path.isdir(path) else None
        if found is None and not create:
            raise StorageError("%s holds no diskredis data (give --engine if it should)" % path)
        if engine is not None and found is not None and engine != found:
            raise StorageError("%s holds %s data, not %s" % (path, found, engine))
        self.engine_name = found or engine or DEFAULT_ENGINE
        os.makedirs(path, exist_ok=True)
        self.lock: IO[str] = lock_folder(path)
        try:
            # Batches commit unsynced; `close` syncs once: a tool's run is all or
            # nothing for its user anyway, and per-batch fsyncs would halve its speed.
            self.engine = open_engine(self.engine_name, path, fsync=False)
            self.ks = Keyspace(self.engine, databases, _CACHE)
        except BaseException:
            self.lock.close()
            raise
        self.ctx = Ctx(
            session=Session(0, "offline", "offline"),
            server=_NoServer(),
            config=Config(),
            stats=Stats(),
            ks=self.ks,
            hub=Hub(),
            scripts=None,
        )

    def close(self) -> None:
        try:
            self.engine.sync()
            self.engine.close()
        finally:
            self.lock.close()

    def __enter__(self) -> Offline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------
    def write(self, records: Iterable[Record], replace: bool) -> list[str | None]:
        """Store a batch of records in one transaction: for each, None when stored, or
        why it was not ("exists")."""
        ks, ctx = self.ks, self.ctx
        out: list[str | None] = []
        ks.begin()
        try:
            for r in records:
                ctx.session.db = r.db
                if ks.lookup(r.db, r.key, 0) is not None:
                    if not replace:
                        out.append("already in the target (use --replace)")
                        continue
                    ks.remove(r.db, r.key)
                import_value(ctx, r.key, r.value, r.expire_ms or L.NO_EXPIRY)
                out.append(None)
            ks.commit()
        except BaseException:
            ks.abort()
            raise
        return out

    def execute(self, commands: Iterable[list[bytes]]) -> list[Any]:
        """Run a batch of commands (a RESP command stream) in one transaction; their
        replies, errors as `RedisError` values. Database changes (SELECT) carry over."""
        ks = self.ks
        ks.begin()
        try:
            replies = [dispatch.execute(self.ctx, argv) for argv in commands]
            ks.commit()
        except BaseException:
            ks.abort()
            raise
        return replies

    # -- reading ----------------------------------------------------------------------
    def databases(self) -> list[int]:
        """The databases that hold keys."""
        ks = self.ks
        ks.txn = self.engine.read()
        try:
            return [db for db in range(ks.databases) if ks.dbsize(db)]
        finally:
            ks.txn.abort()
            ks.txn = None

    def read(self, dbs: Iterable[int], match: bytes | None = None) -> Iterator[Record]:
        """Every live key of `dbs`, in key order, from one consistent snapshot."""
        ks, ctx = self.ks, self.ctx
        ks.txn = self.engine.read()
        try:
            for db in dbs:
                ctx.session.db = db
                for _, key, meta in ks.iter_keys(db):
                    if match is not None and not glob_match(match, key):
                        continue
                    yield Record(db, key, export_value(ctx, meta), meta.expire or None)
        finally:
            ks.txn.abort()
            ks.txn = None

    def counts(self, db: int) -> tuple[int, int]:
        """(keys, keys with an expiry) of a database."""
        ks = self.ks
        ks.txn = self.engine.read()
        try:
            return ks.dbsize(db), ks.expires(db)
        finally:
            ks.txn.abort()
            ks.txn = None


def expired(r: Record) -> bool:
    """Past its deadline: rdbLoad leaves it out (now > deadline, as keyIsExpired)."""
    return r.expire_ms is not None and r.expire_ms < now_ms()
