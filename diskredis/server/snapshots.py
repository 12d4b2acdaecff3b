"""Snapshots for SYNC and PSYNC (`redis-cli --rdb`, rdb-only replicas), and for
commands answered off the lane (`Offload`: DUMP, RESTORE and MIGRATE of big values).

Room: writing a consistent snapshot of the data folder to an RDB file on a worker
thread (the engine keeps its mapping for the reader), then sending it to the client
that asked; running an Offload's job on a worker thread over a snapshot taken between
two batches, and handing what it returns to the lane (a reply, or the rest of the
command: `Resume`). Imports: `commands.context`, `commands.registry`,
`commands.replication`, `commands.scripting`, `config`, `errors`, `keyspace.snapshot`,
`keyspace.space`, `storage`, this package (connection, lane), trio, the standard
library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from diskredis import errors
from diskredis.commands.context import Offload, Resume
from diskredis.commands.registry import find
from diskredis.commands.replication import ReplicaRequest, Snapshot, rdb_aux
from diskredis.commands.scripting import Scripts
from diskredis.config import Config
from diskredis.errors import RedisError
from diskredis.keyspace.snapshot import Stopped, Written, write_rdb
from diskredis.keyspace.space import Keyspace
from diskredis.server.connection import Connection
from diskredis.server.lane import Lane, Unit
from diskredis.storage import StorageError

log = logging.getLogger("diskredis")

SNAPSHOT_PREFIX = "temp-sync-"  # snapshot files for SYNC, in the data folder
_VIEW_CACHE = 4 << 20  # an Offload's keyspace reads one value
# Offload jobs at once: each holds an LMDB reader (126 in all) and a worker thread of
# its own limiter; past it, commands run on the lane as they would without offloading.
OFFLOADS_AT_ONCE = 4


class Snapshotting:
    """The snapshot part of `Server` (a mixin: the state it uses is the server's)."""

    config: Config
    engine: Any
    scripts: Scripts
    run_id: str
    _tasks: trio.Nursery | None
    _snapshot_writers: int
    _snapshots_idle: trio.Event
    _stopping_snapshots: bool
    _attach_replica: Callable[[Connection, Snapshot, int], None]  # `replicas.py`
    syncing: dict[int, Syncing]  # clients whose snapshot is being written or sent
    lane: Lane
    stats: Any
    _gather_wake: trio.Event
    _offloading: int  # Offload jobs started and not answered yet
    _offload_limiter: trio.CapacityLimiter

    @property
    def offloads(self) -> bool:
        """ServerPort: whether a command may answer with an Offload now (fewer than
        OFFLOADS_AT_ONCE run, and the engine takes snapshots: no failed write)."""
        return self._offloading < OFFLOADS_AT_ONCE and self.engine.write_error is None

    def _start_offload(self, unit: Unit, offload: Offload) -> None:
        """Between batches (the one that ran the command is committed, the next has not
        begun): a snapshot of the engine as the command saw it, then the job on a worker
        thread; its result answers the unit's command."""
        assert self._tasks is not None
        self._offloading += 1
        view = None
        if offload.snapshot:
            try:
                self.engine.pin_readers()
            except StorageError as e:  # the snapshot would miss acknowledged writes
                offload.abandon()
                self._answer_offload(unit, errors.storage_error(e))
                return
            try:
                view = Keyspace(self.engine, self.config["databases"], _VIEW_CACHE, view=True)
            except Exception as e:  # e.g. no LMDB reader slot left: this client is told
                self.engine.unpin_readers()
                log.warning("Could not open a snapshot for %s: %s", unit.ctx.session.addr, e)
                offload.abandon()
                self._answer_offload(unit, errors.storage_error(e))
                return
        self._snapshot_writers += 1  # shutdown waits for it (a reader of the engine)
        self._tasks.start_soon(self._run_offload, unit, offload, view)

    async def _run_offload(self, unit: Unit, offload: Offload, view: Keyspace | None) -> None:
        def run() -> object:
            try:
                return offload.job(view)
            except RedisError as e:
                return e

        try:
            reply = await trio.to_thread.run_sync(run, limiter=self._offload_limiter)
        except Exception as e:  # a bug in a job must not kill the server
            log.exception("an offloaded command failed inside diskredis")
            offload.abandon()
            reply = errors.internal_error(e)
        finally:
            if view is not None:
                view.close_view()
                self.engine.unpin_readers()
            self._snapshot_writers -= 1
            self._snapshots_idle.set()
        self._answer_offload(unit, reply)

    def _answer_offload(self, unit: Unit, reply: object) -> None:
        self._offloading -= 1
        if type(reply) is Resume:  # the rest of the command runs on the lane
            self.lane.go_on(unit, reply)
            self._gather_wake.set()
            return
        unit.ctx.session.offloaded = False
        if isinstance(reply, RedisError):  # errorstats, as for any error reply
            self.stats.count_error(reply.code)
            find(unit.requests[unit.next - 1]).failed_calls += 1
        self.lane.resume(unit, reply)
        self._gather_wake.set()  # the next batch sends it and runs what the client sent next

    def _start_snapshot(self, conn: Connection, snapshot: Snapshot) -> None:
        """Between batches (no transaction open): hand `conn` over to a snapshot
        transfer; the engine keeps its mapping for the reader (`pin_readers`)."""
        assert self._tasks is not None
        conn.replica = True
        try:
            self.engine.pin_readers()
        except StorageError as e:  # the snapshot would miss acknowledged writes
            log.warning(
                "Could not start the snapshot for client id=%d addr=%s: %s; its "
                "connection is closed. Free space on the disk of the data folder.",
                conn.session.id,
                conn.session.addr,
                e,
            )
            conn.close()
            return
        if snapshot.stream and not snapshot.fullresync and not snapshot.data:
            self.engine.unpin_readers()  # +CONTINUE: nothing to write, only the stream
            self._attach_replica(conn, snapshot, snapshot.start)
            return
        self._snapshot_writers += 1
        self.syncing[conn.session.id] = Syncing(conn, snapshot.request, "wait_bgsave")
        self._tasks.start_soon(self._send_snapshot, conn, snapshot)

    async def _send_snapshot(self, conn: Connection, snapshot: Snapshot) -> None:
        name = "client id=%d addr=%s" % (conn.session.id, conn.session.addr)
        log.info("Replica %s asks for synchronization: writing a snapshot", name)
        path = os.path.join(self.config["dir"], "%s%d.rdb" % (SNAPSHOT_PREFIX, conn.session.id))
        codes = [lib.code for lib in self.scripts.libraries.values()]
        started = time.monotonic()
        written = trio.Event()

        async def keepalive() -> None:  # as Redis: a newline a second while it prepares
            while not written.is_set():
                with trio.move_on_after(1):
                    await written.wait()
                if not written.is_set():
                    conn.write(b"\n")

        def write() -> tuple[Written, int]:
            try:
                with open(path, "wb") as f:
                    result = write_rdb(
                        self.engine,
                        self.config["databases"],
                        f,
                        aux=lambda replid, offset, seldb: rdb_aux(
                            replid or self.run_id, offset, seldb
                        ),
                        data=snapshot.data,
                        functions=codes if snapshot.functions else [],
                        compress=bool(self.config["rdbcompression"]),
                        stop=lambda: self._stopping_snapshots or conn.closed,
                        key_delay_us=self.config["rdb-key-save-delay"],
                    )
                return result, os.path.getsize(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                raise

        assert self._tasks is not None
        self._tasks.start_soon(keepalive)
        try:
            result, size = await trio.to_thread.run_sync(write)
        except Stopped:
            conn.close()
            return
        except Exception as e:  # a failed snapshot ends its connection, nothing else
            log.warning(
                "Could not write the snapshot for %s to %s: %s; its connection is "
                "closed. Check the disk of the data folder.",
                name,
                path,
                e,
            )
            conn.close()
            return
        finally:
            written.set()
            self.engine.unpin_readers()
            self._snapshot_writers -= 1
            self._snapshots_idle.set()
        try:
            f = open(path, "rb")  # noqa: SIM115 - the connection closes it once sent
            os.unlink(path)  # the open file stays readable; nothing is left behind
        except OSError as e:
            log.warning(
                "Could not read back the snapshot for %s from %s: %s; its connection is closed.",
                name,
                path,
                e,
            )
            conn.close()
            return
        if conn.closed:
            f.close()
            return
        syncing = self.syncing.get(conn.session.id)
        if syncing is not None:
            syncing.state = "send_bulk"
        seconds = time.monotonic() - started
        if snapshot.stream:  # a replica: the stream follows from the snapshot's offset
            if snapshot.fullresync:
                conn.write(b"+FULLRESYNC %s %d\r\n" % (result.replid.encode(), result.offset))

            def synced() -> None:
                log.info(
                    "Synchronization with replica %s succeeded: %d keys, %d bytes, "
                    "written in %.2f s; streaming from offset %d",
                    name,
                    result.keys,
                    size,
                    seconds,
                    result.offset + 1,
                )
                self.syncing.pop(conn.session.id, None)
                self._attach_replica(conn, snapshot, result.offset + 1)

            conn.on_sent = synced
            conn.send_file(f, b"$%d\r\n" % size, b"", close=False)
            return

        def sent() -> None:
            self.syncing.pop(conn.session.id, None)
            log.info(
                "Snapshot sent to %s: %d keys, %d bytes, written in %.2f s; closing "
                "the connection (rdb-only replica)",
                name,
                result.keys,
                size,
                seconds,
            )

        conn.on_sent = sent
        if snapshot.eof_mark:
            mark = secrets.token_hex(20).encode()
            conn.send_file(f, b"$EOF:%s\r\n" % mark, mark)
        else:
            conn.send_file(f, b"$%d\r\n" % size, b"")

    async def _stop_snapshots(self) -> None:
        """Shutdown: the snapshot writers give up, and are waited for (they read the
        engine, which is about to close)."""
        self._stopping_snapshots = True
        while self._snapshot_writers:
            self._snapshots_idle = trio.Event()
            await self._snapshots_idle.wait()


@dataclass
class Syncing:
    """A replica (or rdb-only client) whose snapshot is being written ("wait_bgsave")
    or sent ("send_bulk"): INFO's slaveN lines show it, as Redis does."""

    conn: Connection
    request: ReplicaRequest | None
    state: str


def remove_stale_snapshots(folder: str) -> None:
    """Snapshot files a killed server left (a finished one is unlinked once opened)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if name.startswith(SNAPSHOT_PREFIX) and name.endswith(".rdb"):
                os.unlink(os.path.join(folder, name))
                log.info(
                    "Removed %s, a snapshot left by a server that stopped while it wrote it",
                    os.path.join(folder, name),
                )
