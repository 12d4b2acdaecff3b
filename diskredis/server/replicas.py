"""Replicas of this server: the command stream sent from the backlog, their ACKs.

Room: the connections that asked for the replication stream (PSYNC, SYNC) once their
snapshot is out (or at once, for +CONTINUE): one task each sends the backlog from the
replica's offset as the lane commits it, and what the replica sends back (REPLCONF
ACK) is read here. Imports: `commands.replication`, `config`, `keyspace`,
`resp.reader`, `storage`, `util`, this package (connection), trio.

The stream is read from the backlog on disk, never kept per replica in memory: a slow
replica costs its socket buffer and its place in the backlog; one that falls behind the
backlog's first byte is disconnected (it resyncs, fully).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import trio

from diskredis.commands.replication import ReplicaRequest, Snapshot
from diskredis.config import Config
from diskredis.keyspace.space import Keyspace
from diskredis.resp.reader import RequestReader
from diskredis.server.connection import Connection
from diskredis.storage import StorageError
from diskredis.util import string2ll

log = logging.getLogger("diskredis")

_CHUNK = 1 << 20  # stream bytes read from the backlog at a time
_HIGH_WATER = 4 << 20  # bytes waiting in a replica's socket before the task waits


@dataclass
class Replica:
    """One replica: where it is in the stream and what it last acknowledged."""

    conn: Connection
    request: ReplicaRequest
    position: int  # the next stream offset to send
    ack: int = 0  # repl_ack_off: the offset it said it has
    ack_time: float = field(default_factory=time.monotonic)
    reader: RequestReader = field(default_factory=lambda: RequestReader(max_query_buffer=1 << 20))
    acks: bool = True  # a PSYNC replica acknowledges (a plain SYNC one never does)

    @property
    def name(self) -> str:
        return "id=%d addr=%s" % (self.conn.session.id, self.conn.session.addr)


class Replicating:
    """The replica part of `Server` (a mixin: the state it uses is the server's)."""

    engine: Any
    keyspace: Keyspace
    config: Config
    _tasks: trio.Nursery | None
    replicas: dict[int, Replica]
    _stream_grew: trio.Event
    _gather_wake: trio.Event
    lane: Any

    def _attach_replica(self, conn: Connection, snapshot: Snapshot, start: int) -> None:
        """`conn` takes the stream from offset `start` on."""
        assert self._tasks is not None and snapshot.request is not None
        conn.replica = True
        replica = Replica(conn, snapshot.request, start, acks=snapshot.fullresync or start > 0)
        self.replicas[conn.session.id] = replica
        self.keyspace.repl.replicas = len(self.replicas)
        conn.on_input = lambda data: self._replica_input(replica, data)
        log.info("Replica %s is online, streaming from offset %d", replica.name, start)
        self._tasks.start_soon(self._stream, replica)

    def _stream_moved(self) -> None:
        """The lane committed stream bytes: wake the replicas' tasks."""
        self._stream_grew.set()
        self._stream_grew = trio.Event()

    async def _stream(self, replica: Replica) -> None:
        conn, backlog = replica.conn, self.keyspace.backlog
        try:
            while not conn.closed:
                if conn.out_bytes > _HIGH_WATER:
                    await trio.sleep(0.005)  # the socket drains first
                    continue
                if self._timed_out(replica):
                    return
                if replica.position > backlog.offset:
                    with trio.move_on_after(1):  # and look at the replica's ACKs
                        await self._stream_grew.wait()
                    continue
                txn = self.engine.read()
                try:
                    data = backlog.read(txn, replica.position, _CHUNK)
                except StorageError:
                    log.warning(
                        "Replica %s fell behind the replication backlog (it needs offset "
                        "%d, the backlog starts at %d); disconnecting it: it will resync "
                        "in full. A larger repl-backlog-size lets slow replicas catch up.",
                        replica.name,
                        replica.position,
                        backlog.first,
                    )
                    conn.close()
                    return
                finally:
                    txn.abort()
                if data:
                    conn.write(data)
                    replica.position += len(data)
                else:
                    with trio.move_on_after(1):
                        await self._stream_grew.wait()
        finally:
            if self.replicas.get(conn.session.id) is replica:
                del self.replicas[conn.session.id]
                self.keyspace.repl.replicas = len(self.replicas)
                log.info("Connection with replica %s lost", replica.name)

    def _timed_out(self, replica: Replica) -> bool:
        """Close a replica silent for repl-timeout seconds (no ACK): it reconnects."""
        timeout = self.config["repl-timeout"]
        if not replica.acks or time.monotonic() - replica.ack_time <= timeout:
            return False
        log.warning("Disconnecting timedout replica (streaming sync): %s", replica.name)
        replica.conn.close()
        return True

    def _replica_input(self, replica: Replica, data: bytes) -> None:
        """What a replica sends: REPLCONF ACK <offset>, and newlines while it loads a
        snapshot; any input shows it is alive (as Redis refreshes repl_ack_time).
        Anything else is ignored."""
        reader = replica.reader
        reader.feed(data)
        replica.ack_time = time.monotonic()
        for request in reader.pop():  # (empty lines are skipped)
            if (
                len(request) >= 3
                and request[0].lower() == b"replconf"
                and request[1].lower() == b"ack"
            ):
                offset = string2ll(request[2])
                if offset is None:
                    continue
                replica.ack = max(replica.ack, offset)
                if self.lane.polling:  # a WAIT may be answered: a batch looks
                    self._gather_wake.set()
        if reader.error is not None or reader.overflow:
            log.warning(
                "Replica %s sent what is not a request (%s); disconnecting it",
                replica.name,
                reader.error or "too long",
            )
            replica.conn.close()
