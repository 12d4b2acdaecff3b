"""The server: listeners, connections, the lane, timers, shutdown.

Room: sockets and tasks; no Redis semantics. Imports: everything below it, trio.

Accepted sockets become `Connection`s driven by one `Reactor` task
(`server/connection.py`): it reads what each client sent, parses every complete
request (pipelining) and submits them to the lane as one unit. The units of one pass
run as one batch (`_gatherer`), whose replies, pub/sub messages and MONITOR lines go
out through each connection's ordered output the moment the batch is done.

Every batch runs on the event loop's thread, scripts included. A script that runs past
`busy-reply-threshold` keeps the loop inside it; from then on its Lua hook (every
100,000 instructions) calls `_while_busy_poll`, which does what Redis's
processEventsWhileBlocked does: accepts new clients and serves the ready sockets, whose
requests run at once through the dispatcher in its busy mode (`Lane.run_now`): the
commands flagged allow_busy run, the others get BUSY; only what a CLIENT PAUSE holds
waits for the lane (`_route`). No batch changes threads, so none pays for a
hand-off (250 µs of CPU each on this project's benchmark machine) or a checkpoint.

Shutdown (SIGTERM, SIGINT, SHUTDOWN): stop accepting, let the lane finish the
batch in flight, sync, close every connection, remove the unix socket and pid
file. A connection's failure (reset, protocol error) only ever ends that
connection.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import gc
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from typing import Any

import trio

from diskredis import errors
from diskredis.commands.acl import start_acl
from diskredis.commands.context import REDIS_VERSION, Hub, Session, Stats
from diskredis.commands.functions import load_saved
from diskredis.commands.pubsub import keyspace_publisher
from diskredis.commands.replication import Snapshot, Stopped, write_snapshot
from diskredis.commands.scripting import Scripts, load_saved_scripts
from diskredis.commands.tracking import Tracking
from diskredis.config import Config, ConfigError
from diskredis.errors import RedisError
from diskredis.keyspace.space import Keyspace
from diskredis.server.connection import Connection, Reactor, TlsConnection
from diskredis.server.lane import Lane, Outcome, Unit, cache_budget
from diskredis.server.tls import TlsError, tls_context
from diskredis.storage import FolderBusy, StorageError, lock_folder, open_engine

log = logging.getLogger("diskredis")

__all__ = ["Server", "serve"]

SNAPSHOT_PREFIX = "temp-sync-"  # snapshot files for SYNC, in the data folder
_SAMPLE_EVERY = 0.1  # instantaneous_ops_per_sec samples, as Redis (16 samples, 100 ms)


class Server:
    """Owns the listeners, the connections and the lane; implements `ServerPort`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stats = Stats()
        self.run_id = secrets.token_hex(20)
        self.connections: dict[int, Connection] = {}
        self._monitors: list[Session] = []
        self.monitoring = False  # ServerPort: bool(self._monitors), or stale True
        self._gathered: list[Unit] = []
        self._gather_wake = trio.Event()
        self.next_id = 1
        self._lock = _lock_dir(config["dir"])
        fsync = config["appendfsync"] == "always"
        self.engine = open_engine(config["engine"], config["dir"], fsync)
        self.keyspace = Keyspace(self.engine, config["databases"], cache_budget(config))
        self.hub = Hub()
        self.scripts = Scripts(REDIS_VERSION)
        self.scripts.on_busy = self._on_busy
        self.scripts.while_busy = self._while_busy_poll
        if load_saved(self.scripts, self.keyspace):
            log.info("Loaded %d function libraries", len(self.scripts.libraries))
        if load_saved_scripts(self.scripts, self.keyspace):
            log.info("Loaded %d scripts into the script cache", len(self.scripts.cache))
        self.keyspace.on_event = keyspace_publisher(self.hub, self, self.keyspace)
        self.acl = start_acl(config)
        self.tls: ssl.SSLContext | None = None
        self._tls_listeners: set[trio.SocketListener] = set()
        if config["tls-port"]:
            try:
                self.tls = tls_context(config)
            except TlsError as e:
                raise TlsStartError("Failed to configure TLS: %s" % e) from None
        self.tracking = Tracking(self, self.keyspace)
        self.lane = Lane(self.keyspace, config, self.hub, self.tracking, self.stats)
        self.reactor = Reactor()
        self.token: trio.lowlevel.TrioToken | None = None
        self._loop_thread = threading.get_ident()
        self._draining = False  # shutting down: the gatherer runs what it has, then ends
        self._drained = trio.Event()
        self._snapshot_writers = 0  # SYNC snapshots being written (on worker threads)
        self._snapshots_idle = trio.Event()
        self._stopping_snapshots = False
        _remove_stale_snapshots(config["dir"])
        self.shutting_down = trio.Event()
        #: Whether the stop saves (a final checkpoint): SHUTDOWN's, or the signal's.
        self.shutdown_save = True
        self.listeners: list[trio.SocketListener] = []
        self.ports: list[int] = []
        self.unix_path: str | None = None
        self.net_in = self.net_out = self.reads = self.writes = 0
        self.startup_rss = 0
        self._samples: list[tuple[float, int, int, int]] = []
        self._tasks: trio.Nursery | None = None
        self._accept_scopes: dict[trio.SocketListener, trio.CancelScope] = {}

    # -- ServerPort (called on the lane) -------------------------------------------
    def sessions(self) -> list[Session]:
        return [c.session for c in list(self.connections.values())]

    def session_by_id(self, client_id: int) -> Session | None:
        conn = self.connections.get(client_id)
        return None if conn is None else conn.session

    def kill(self, session: Session) -> None:
        self.lane.kill(session)

    def unblock(self, client_id: int, error: bool) -> bool:
        return self.lane.unblock(client_id, error)

    def start_monitor(self, session: Session) -> None:
        self._monitors.append(session)
        self.monitoring = True

    def monitors(self) -> list[Session]:
        """Sessions in MONITOR mode (asked for every command: kept as a list)."""
        if self._monitors and any(s.closed or not s.monitor for s in self._monitors):
            self._monitors = [s for s in self._monitors if s.monitor and not s.closed]
            self.monitoring = bool(self._monitors)
        return self._monitors

    def push(self, session: Session, data: bytes) -> None:
        self.lane.push(session, data)

    def feed_monitor(self, session: Session, line: bytes) -> None:
        self.lane.feed_monitor(session, line)

    def pause(self, until_monotonic: float, writes_only: bool) -> None:
        self.lane.pause(until_monotonic, writes_only)

    def unpause(self) -> None:
        self.lane.unpause()

    def exit_now(self, why: str) -> None:
        """SHUTDOWN NOSAVE while a script is busy: the lane cannot be waited for, so the
        process ends at once. Every acknowledged write is already durable; the script's
        writes were never committed, so they are gone, as they would be from Redis."""
        log.warning("%s: exiting now without waiting for the script; its writes are "
                    "discarded.", why)
        for path in (self.unix_path, self.config["pidfile"]):
            if path:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        logging.shutdown()
        os._exit(0)

    def checkpoint(self) -> None:
        """SAVE, BGSAVE, shutdown: make every committed write durable (it already is with
        appendfsync always)."""
        self.engine.sync()

    def reset_stats(self) -> None:
        self.net_in = self.net_out = self.reads = self.writes = 0
        self._samples.clear()

    def apply_config(self, names: list[str]) -> None:
        """React to CONFIG SET of parameters the running server must act on (on the lane,
        whichever thread carries it)."""
        if "loglevel" in names:
            set_log_level(self.config["loglevel"])
        if "requirepass" in names:
            self.acl.set_requirepass(self.config["requirepass"])
        tls_names = [n for n in names if n.startswith("tls-")]
        if tls_names and (self.config["tls-port"] or self.tls is not None):
            try:
                self.tls = tls_context(self.config)
            except TlsError as e:
                log.warning("%s", e)
                raise ConfigError("Unable to update TLS configuration. Check server "
                                  "logs.", param=tls_names[0]) from None
        if "bind" in names or "port" in names or "tls-port" in names:
            only = "bind" not in names and "port" not in names
            try:
                if threading.get_ident() == self._loop_thread:
                    self._rebind(only)
                else:
                    trio.from_thread.run_sync(self._rebind, only, trio_token=self.token)
            except OSError as e:
                log.warning("CONFIG SET could not listen: %s", e)
                if "bind" in names:  # Redis's applyBind and updatePort texts
                    raise ConfigError("Failed to bind to specified addresses.",
                                      param="bind") from None
                raise ConfigError("Unable to listen on this port. Check server logs.",
                                  param="port" if "port" in names else "tls-port") from None

    def info_fields(self) -> dict[str, Any]:
        ops, in_kbps, out_kbps = self._instantaneous()
        return {
            "run_id": self.run_id,
            "executable": os.path.abspath(sys.argv[0]),
            "startup_rss": self.startup_rss,
            "ops_per_sec": ops,
            "in_kbps": in_kbps,
            "out_kbps": out_kbps,
            "net_in": self.net_in,
            "net_out": self.net_out,
            "reads": self.reads,
            "writes": self.writes,
            "expired_keys": self.keyspace.expired_keys,
            "blocked_clients": self.lane.blocked_clients,
            "keyspace_hits": self.keyspace.hits,
            "keyspace_misses": self.keyspace.misses,
            "keyspace": self._keyspace_info,  # called only for INFO keyspace
            "storage": [("disk_bytes", self.engine.disk_size()),
                        ("fsync_each_commit", int(self.engine.fsync)),
                        ("cache_limit_bytes", self.keyspace.cache.limit),
                        ("cache_used_bytes", self.keyspace.cache.bytes),
                        ("cache_keys", len(self.keyspace.cache)),
                        ("cache_hits", self.keyspace.cache.hits),
                        ("cache_misses", self.keyspace.cache.misses),
                        ("access_table_keys", len(self.keyspace.access)),
                        ("access_table_limit", self.keyspace.access_limit),
                        ("gc_pending_jobs", self.keyspace.gc_pending()),
                        ("records_read", self.engine.records_read),
                        ("lane_batches", self.lane.batches),
                        ("lane_batched_clients", self.lane.batched_units),
                        ("lane_write_commits", self.lane.write_commits),
                        *self.engine.info()],
        }

    def _keyspace_info(self) -> list[tuple[str, str]]:
        out = []
        ks = self.keyspace
        due = ks.leaving()
        for db in range(ks.databases):
            keys = ks.stored(db) - due.get(db, 0)
            if keys:
                expires = ks.expires(db) - due.get(db, 0)
                out.append(("db%d" % db, "keys=%d,expires=%d,avg_ttl=%d" % (
                    keys, expires, ks.avg_ttl(db) if expires else 0)))
        return out

    def _instantaneous(self) -> tuple[int, float, float]:
        s = self._samples
        if len(s) < 2:
            return 0, 0.0, 0.0
        (t0, c0, i0, o0), (t1, c1, i1, o1) = s[0], s[-1]
        dt = max(t1 - t0, 1e-9)
        return int((c1 - c0) / dt), (i1 - i0) / dt / 1024, (o1 - o0) / dt / 1024

    # -- a busy script ---------------------------------------------------------------
    def _route(self, units: list[Unit]) -> None:
        """While a script is busy: answer units here, as Redis does meanwhile
        (`Lane.run_now`), and gather the rest of those a pause holds for the lane."""
        waiting = []
        for unit in units:
            if self.lane.run_now(unit):
                unit.done()
            else:
                waiting.append(unit)
        if waiting:
            self._gathered += waiting
            self._gather_wake.set()

    def _on_busy(self) -> None:
        """The running script just went past busy-reply-threshold (trio thread): the
        units waiting for the lane are answered now instead of waiting."""
        gathered, self._gathered = self._gathered, []
        self._route(self.lane.withdraw() + gathered)

    def _while_busy_poll(self) -> None:
        """From the busy script's hook, on the event loop's thread: accept new clients and
        serve every ready socket once (their units go to `submit`, which answers them
        while the script is busy). A failure here is the server's, not the script's: it
        is logged, never raised into the script as a Lua error."""
        try:
            for lst in self.listeners:
                self._accept_ready(lst)
            self.reactor.poll_once()
        except Exception:
            log.exception("serving clients while the script %s was busy failed",
                          self.scripts.name)

    def _accept_ready(self, lst: trio.SocketListener) -> None:
        """Accept what waits on `lst` without blocking (its accept task can't run while a
        script holds the loop)."""
        tsock = lst.socket
        try:
            dup = socket.fromfd(tsock.fileno(), tsock.family, tsock.type)
        except OSError:
            return
        try:
            dup.setblocking(False)
            while True:
                try:
                    sock, _ = dup.accept()
                except OSError:  # nothing more (or out of descriptors: the task says so)
                    return
                self._handle_socket(sock, lst in self._tls_listeners)
        finally:
            dup.close()

    # -- lane hand-off ---------------------------------------------------------------
    def submit(self, unit: Unit) -> None:
        """A connection's unit for the lane: gathered for the next batch, or answered
        here while a script is busy."""
        if self.scripts.busy:
            self._route([unit])
        else:
            gathered = self._gathered
            if not gathered:  # the gatherer takes them all: one wake-up for the first
                self._gather_wake.set()
            gathered.append(unit)

    async def _gatherer(self) -> None:
        """Run the units of each pass of the event loop as one batch.

        Every connection that has input runs in the same pass; waiting for the pass
        to end (one checkpoint) lets one batch, and one commit, serve them all. With
        nothing to run, the lane still wakes for its housekeeping (`next_wakeup`).
        """
        lane = self.lane
        while True:
            with trio.move_on_after(lane.next_wakeup()):
                await self._gather_wake.wait()
            self._gather_wake = trio.Event()
            await trio.lowlevel.cancel_shielded_checkpoint()
            units, self._gathered = self._gathered, []
            await self._run_batch(units)
            if self._draining:
                self._drained.set()
                return

    async def _run_batch(self, units: list[Unit]) -> None:
        """One batch on the lane, here on the event loop's thread; then what the batch
        left to do, and the slow chores between batches (range compaction, the everysec
        sync) on a worker thread."""
        lane = self.lane
        self._deliver(lane.run_batch(units))
        if lane.compaction_pending:
            await trio.to_thread.run_sync(lane.compact_due)
        if lane.sync_due():
            await trio.to_thread.run_sync(lane.sync)

    def _deliver(self, outcome: Outcome) -> None:
        # Killed clients first: what the batch had for them is dropped, as Redis frees a
        # killed client with its output. Then pushes: those of a client with a unit in the
        # batch are inside its reply; the others happened while it waited or before it
        # sent anything.
        for session in outcome.kills:
            conn = self.connections.get(session.id)
            if conn is not None:
                conn.close()
        for session, data in outcome.pushes:
            conn = self.connections.get(session.id)
            if conn is not None:
                conn.write(data)
        for unit in outcome.units:
            unit.done()
        for session, snapshot in outcome.snapshots:
            conn = self.connections.get(session.id)
            if conn is not None:
                self._start_snapshot(conn, snapshot)
        if outcome.shutdown is not None:
            unit, request = outcome.shutdown
            log.warning("User requested shutdown...")
            if not self._prepare_shutdown(request.save, request.force):
                self.lane.resume(unit, RedisError(errors.SHUTDOWN_FAILED))
                self._gather_wake.set()

    def _prepare_shutdown(self, save: bool, force: bool) -> bool:
        """Redis's finishShutdown, between batches: the save (a checkpoint: the restart
        then has no log to replay) when asked for, then the stop. False when the save
        failed and `force` is not set: the server serves on (the log keeps every write)."""
        if save:
            log.info("Saving the final checkpoint before exiting.")
            error = self._save()
            if error is not None:
                if not force:
                    log.warning("Error trying to save the DB, can't exit: %s", error)
                    log.warning("Errors trying to shut down the server. Check the logs for "
                                "more information.")
                    return False
                log.warning("Error trying to save the DB. Exit anyway: %s. The log keeps "
                            "every write: the restart replays it.", error)
        self.shutdown_save = save
        self.engine.hold_checkpoints = not save  # exit at once: the log is replayed
        self.shutting_down.set()
        return True

    def _save(self) -> str | None:
        """Sync the log, then checkpoint it into the engine's files; what failed, if so."""
        try:
            self.engine.sync()
        except StorageError as e:
            return str(e)
        if not self.engine.checkpoint():
            return self.engine.write_error or "the checkpoint failed"
        return None

    # -- snapshots for SYNC ------------------------------------------------------------
    def _start_snapshot(self, conn: Connection, snapshot: Snapshot) -> None:
        """Between batches (no transaction open): hand `conn` over to a snapshot
        transfer; the engine keeps its mapping for the reader (`pin_readers`)."""
        assert self._tasks is not None
        conn.replica = True
        try:
            self.engine.pin_readers()
        except StorageError as e:  # the snapshot would miss acknowledged writes
            log.warning("Could not start the snapshot for client id=%d addr=%s: %s; its "
                        "connection is closed. Free space on the disk of the data folder.",
                        conn.session.id, conn.session.addr, e)
            conn.close()
            return
        self._snapshot_writers += 1
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

        def write() -> tuple[int, int]:
            try:
                with open(path, "wb") as f:
                    keys = write_snapshot(
                        self.engine, self.config["databases"], f, snapshot, codes,
                        bool(self.config["rdbcompression"]), self.run_id,
                        stop=lambda: self._stopping_snapshots or conn.closed)
                return keys, os.path.getsize(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                raise

        assert self._tasks is not None
        self._tasks.start_soon(keepalive)
        try:
            keys, size = await trio.to_thread.run_sync(write)
        except Stopped:
            conn.close()
            return
        except Exception as e:  # a failed snapshot ends its connection, nothing else
            log.warning("Could not write the snapshot for %s to %s: %s; its connection is "
                        "closed. Check the disk of the data folder.", name, path, e)
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
            log.warning("Could not read back the snapshot for %s from %s: %s; its "
                        "connection is closed.", name, path, e)
            conn.close()
            return
        if conn.closed:
            f.close()
            return
        seconds = time.monotonic() - started

        def sent() -> None:
            log.info("Snapshot sent to %s: %d keys, %d bytes, written in %.2f s; closing "
                     "the connection (rdb-only replica)", name, keys, size, seconds)

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

    # -- listeners and connections ---------------------------------------------------
    def _open_tcp(self, tls: bool = False) -> list[trio.SocketListener]:
        """Listen on every `bind` address, on `port` or `tls-port` (synchronous, so that
        CONFIG SET can rebind from the lane): a "-" address that does not exist here is
        skipped, as in Redis."""
        port = self.config["tls-port" if tls else "port"]
        backlog = self.config["tcp-backlog"]
        socks: list[socket.socket] = []
        if port:
            for raw in self.config["bind"]:
                optional = raw.startswith("-")
                host = raw[1:] if optional else raw
                host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
                try:
                    socks += _listen(host, port, backlog)
                except OSError as e:
                    if optional and e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT,
                                                errno.EPROTONOSUPPORT):
                        continue
                    for sock in socks:
                        sock.close()
                    raise OSError(e.errno, "Could not create server TCP listening socket "
                                  "%s:%d: %s" % (host, port, e.strerror)) from None
        listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(sock))
                     for sock in socks]
        if tls:
            self._tls_listeners.update(listeners)
        return listeners

    async def _open_unix(self) -> list[trio.SocketListener]:
        path = self.config["unixsocket"]
        backlog = self.config["tcp-backlog"]
        if not path:
            return []
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        await sock.bind(path)
        perm = self.config["unixsocketperm"]
        if perm:
            os.chmod(path, perm)
        sock.listen(backlog)
        self.unix_path = path
        return [trio.SocketListener(sock)]

    def _start_accepting(self, listeners: list[trio.SocketListener]) -> None:
        assert self._tasks is not None
        for lst in listeners:
            scope = trio.CancelScope()
            self._accept_scopes[lst] = scope
            self._tasks.start_soon(self._accept_loop, lst, scope)
        self.listeners += listeners
        self.ports = [
            lst.socket.getsockname()[1] for lst in self.listeners
            if lst.socket.family != socket.AF_UNIX and lst not in self._tls_listeners
        ]

    async def _accept_loop(self, listener: trio.SocketListener, scope: trio.CancelScope) -> None:
        assert self._tasks is not None
        with scope:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as e:
                    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        log.warning("Accepting client connection: %s (out of file descriptors?"
                                    " raise ulimit -n or lower maxclients)", e.strerror)
                        await trio.sleep(0.1)
                        continue
                    raise
                self._handle(stream, listener in self._tls_listeners)

    def _stop_accepting(self, listeners: list[trio.SocketListener]) -> None:
        for lst in listeners:
            self._accept_scopes.pop(lst).cancel()
            self.listeners.remove(lst)
            self._tls_listeners.discard(lst)
            with contextlib.suppress(Exception):
                lst.socket.close()

    def _rebind(self, tls_only: bool = False) -> None:
        """CONFIG SET port/bind/tls-port: listen anew first, then close the old TCP
        sockets (only the TLS ones for tls-port)."""
        new = self._open_tcp(tls=True)
        if not tls_only:
            new += self._open_tcp()
        old = [lst for lst in self.listeners if lst.socket.family != socket.AF_UNIX
               and (lst in self._tls_listeners or not tls_only)]
        self._stop_accepting(old)
        self._start_accepting(new)

    def _handle(self, stream: trio.SocketStream, tls: bool = False) -> None:
        self._handle_socket(socket.socket(fileno=stream.socket.detach()), tls)

    def _handle_socket(self, sock: socket.socket, tls: bool = False) -> None:
        """An accepted socket: refused (maxclients, protected mode) or handed to the
        reactor as a new connection (through TLS when it came to the TLS port)."""
        sock.setblocking(False)
        is_unix = sock.family == socket.AF_UNIX
        try:
            if is_unix:
                addr = self.unix_path + ":0" if self.unix_path else ":0"
                laddr = self.unix_path or ""
            else:
                addr, laddr = _fmt_addr(sock.getpeername()), _fmt_addr(sock.getsockname())
                self._keepalive(sock)
        except OSError:  # gone before we looked
            sock.close()
            return
        refusal = None
        if len(self.connections) >= self.config["maxclients"]:
            refusal = errors.MAXCLIENTS
        elif (self.config["protected-mode"] and self.acl.default.nopass
              and not is_unix and sock.getpeername()[0] not in ("127.0.0.1", "::1")):
            # Protected mode: with no password, only loopback clients (Redis's rule).
            log.debug("refused %s: protected mode is on and no password is set", addr)
            refusal = errors.PROTECTED_MODE
        if refusal is not None:
            self.stats.rejected_connections += 1
            with contextlib.suppress(OSError):
                sock.send(b"-%s\r\n" % refusal.encode())  # small: fits the buffer
            sock.close()
            return
        session = Session(
            id=self.next_id, addr=addr, laddr=laddr,
            fd=sock.fileno(), is_unix=is_unix,
            authenticated=self.acl.default_authenticated(), acl_user=self.acl.default,
        )
        self.next_id += 1
        self.stats.connections += 1
        conn = (TlsConnection(self, self.reactor, sock, session, self.tls)
                if tls and self.tls is not None else Connection(self, self.reactor, sock,
                                                                 session))
        self.connections[session.id] = conn
        self.reactor.add(conn)

    def forget(self, conn: Connection) -> None:
        """A connection closed: the lane drops what the client left behind."""
        session = conn.session
        if session.watch.keys:
            self.keyspace.gone_watches.append(session.watch)
        if session.pubsub:
            self.hub.gone.append(session)
        if session.tracking is not None:
            self.tracking.gone.append(session)
        self.connections.pop(session.id, None)

    def _keepalive(self, sock: socket.socket) -> None:
        interval = self.config["tcp-keepalive"]
        if interval <= 0:
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        # As Redis's anetKeepAlive: first probe after `interval`, then every interval/3.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(interval // 3, 1))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)

    # -- timers ----------------------------------------------------------------------
    async def _cron(self) -> None:
        """Client timeouts and the instantaneous statistics."""
        while True:
            await trio.sleep(_SAMPLE_EVERY)
            if self.keyspace.cron_paused:  # DEBUG PAUSE-CRON
                continue
            now = time.monotonic()
            self._samples.append((now, self.stats.commands, self.net_in, self.net_out))
            del self._samples[:-16]
            timeout = self.config["timeout"]
            if timeout:
                for conn in list(self.connections.values()):
                    s = conn.session
                    # As Redis: no timeout for monitors, replicas (a snapshot being
                    # sent), clients waiting in a blocking command, or subscribers.
                    if s.monitor or conn.replica or s.blocked or s.pubsub:
                        continue
                    if now - s.last_interaction > timeout:
                        log.log(15, "Closing idle client id=%d addr=%s", s.id, s.addr)
                        conn.close()

    async def _signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    _reopen_log_files()
                    log.warning("Received SIGHUP, reopened the log file (for log rotation)")
                    continue
                name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
                if self.shutting_down.is_set():
                    if signum == signal.SIGINT:  # Ctrl+C twice: the user insists
                        log.warning("You insist... exiting now.")
                        os._exit(1)
                    continue
                log.warning("Received %s scheduling shutdown...", name)
                # shutdown-on-sigterm / -sigint: "default", or SHUTDOWN's flags
                flags = self.config["shutdown-on-" + name.lower()]
                save = "save" in flags or ("nosave" not in flags and bool(self.config["save"]))
                self._prepare_shutdown(save, "force" in flags)

    # -- the whole life --------------------------------------------------------------
    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self.startup_rss = _rss()
        self._loop_thread = threading.get_ident()
        opened = self._open_tcp() + self._open_tcp(tls=True) + await self._open_unix()
        if not opened:
            raise OSError("no listening socket configured: set port or unixsocket")
        pidfile = self.config["pidfile"]
        if pidfile:
            with open(pidfile, "w") as f:
                f.write("%d\n" % os.getpid())
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._signals)
                nursery.start_soon(self._cron)
                nursery.start_soon(self._gatherer)
                nursery.start_soon(self.reactor.run)
                self._tasks = nursery
                self._start_accepting(opened)
                # What start-up made (modules, the command table, ...) lives as long as
                # the process: out of the cycle collector's sight, its full passes
                # look only at what serving creates.
                gc.freeze()
                log.info("Ready to accept connections")
                task_status.started(self)
                await self.shutting_down.wait()
                # Stop accepting, let the lane finish what it has, then drop clients.
                self._stop_accepting(list(self.listeners))
                self._draining = True
                self._gather_wake.set()
                await self._drained.wait()
                self.reactor.close_all()
                await self._stop_snapshots()
                self.engine.close(checkpoint=self.shutdown_save)
                nursery.cancel_scope.cancel()
        finally:
            if self.unix_path:
                with contextlib.suppress(OSError):
                    os.unlink(self.unix_path)
            if pidfile:
                with contextlib.suppress(OSError):
                    os.unlink(pidfile)
            log.warning("diskredis is now ready to exit, bye bye...")


class TlsStartError(Exception):
    """The TLS port can't start: its settings are wrong (the text says which)."""


def _remove_stale_snapshots(folder: str) -> None:
    """Snapshot files a killed server left (a finished one is unlinked once opened)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if name.startswith(SNAPSHOT_PREFIX) and name.endswith(".rdb"):
                os.unlink(os.path.join(folder, name))
                log.info("Removed %s, a snapshot left by a server that stopped while it "
                         "wrote it", os.path.join(folder, name))


def _listen(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for `host` (every address it resolves to), as
    trio.open_tcp_listeners makes them: SO_REUSEADDR, IPv6 sockets IPv6-only."""
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _, addr in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(backlog)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


_fault_file: Any = None  # where faulthandler writes (the log file, kept open)


def report_faults(logfile: str) -> None:
    """A fatal error in native code (LevelDB, LMDB, Lua) or in the interpreter ends the
    process without a Python exception; faulthandler then writes every thread's stack to
    the log file (stderr without one), so the log says what was running."""
    global _fault_file
    old = _fault_file
    try:
        _fault_file = open(logfile, "a") if logfile else None  # noqa: SIM115 - kept open
    except OSError:
        _fault_file = None
    faulthandler.enable(file=_fault_file or sys.stderr, all_threads=True)
    if old is not None:
        old.close()


def _reopen_log_files() -> None:
    """SIGHUP: close the log file; the next line opens it again by name, so a log rotated
    away (renamed) is followed by a fresh file (Redis opens its log for every line).
    The fatal-error report moves to the new file too."""
    for handler in logging.getLogger("diskredis").handlers:
        if isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                handler.close()
            finally:
                handler.release()
            report_faults(handler.baseFilename)


def _lock_dir(path: str) -> Any:
    """Hold `<dir>/diskredis.lock` for the life of the process: one server per folder."""
    try:
        return lock_folder(path)
    except FolderBusy as e:
        raise StorageError("another diskredis (pid %s) is using the data in %s; stop it or "
                           "choose another dir" % (e.holder, e.path)) from None


def _fmt_addr(addr: Any) -> str:
    host, port = addr[0], addr[1]
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


_LEVELS = {"debug": logging.DEBUG, "verbose": 15, "notice": logging.INFO,
           "warning": logging.WARNING}


def set_log_level(level: str) -> None:
    logging.getLogger("diskredis").setLevel(_LEVELS[level])


def serve(config: Config) -> None:
    """Run a server until it is shut down."""
    trio.run(Server(config).serve)
