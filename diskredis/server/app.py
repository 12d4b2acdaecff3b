"""The server: the lane's batches, the ServerPort, timers, signals, shutdown.

Room: sockets and tasks; no Redis semantics. Imports: `commands` (acl, context,
functions, pubsub, scripting, tracking), `config`, `errors`, `keyspace.space`,
`storage`, this package (busy, compaction, connection, lane, snapshots, supervision,
tls), trio.

Accepted sockets (`listeners.py`) become `Connection`s driven by one `Reactor` task
(`connection.py`): it reads what each client sent, parses every complete request
(pipelining) and submits them to the lane as one unit. The units of one pass run as
one batch (`_gatherer`), whose replies, pub/sub messages and MONITOR lines go out
through each connection's ordered output the moment the batch is done.

Every batch runs on the event loop's thread, scripts included, so none pays for a
thread hand-off (250 µs of CPU each on this project's benchmark machine). A script
that runs past `busy-reply-threshold` keeps the loop inside it; its Lua hook serves
clients meanwhile (`busy.py`). SYNC snapshots are written on worker threads
(`snapshots.py`).

Shutdown (SIGTERM, SIGINT, SHUTDOWN): stop accepting, let the lane finish the
batch in flight, sync, close every connection, remove the unix socket and pid
file. A connection's failure (reset, protocol error) only ever ends that
connection.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import logging
import os
import secrets
import signal
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import trio

from diskredis import errors
from diskredis.commands.acl import start_acl
from diskredis.commands.context import REDIS_VERSION, Hub, Session, Stats
from diskredis.commands.functions import load_saved
from diskredis.commands.pubsub import keyspace_publisher
from diskredis.commands.scripting import Scripts, load_saved_scripts
from diskredis.commands.tracking import Tracking
from diskredis.config import Config
from diskredis.errors import RedisError
from diskredis.keyspace.space import Keyspace
from diskredis.server import supervision
from diskredis.server.busy import BusyServing
from diskredis.server.compaction import Compacting
from diskredis.server.connection import Connection, Reactor
from diskredis.server.failover import Failover
from diskredis.server.following import Following
from diskredis.server.lane import Lane, Outcome, Unit, cache_budget
from diskredis.server.port import Port
from diskredis.server.replicas import Replica, Replicating
from diskredis.server.snapshots import (
    OFFLOADS_AT_ONCE,
    Snapshotting,
    Syncing,
    remove_stale_snapshots,
)
from diskredis.server.tls import TlsError, tls_context
from diskredis.storage import FolderBusy, StorageError, lock_folder, open_engine

log = logging.getLogger("diskredis")

__all__ = ["Server", "serve"]

_SAMPLE_EVERY = 0.1  # instantaneous_ops_per_sec samples, as Redis (16 samples, 100 ms)


class Server(Port, BusyServing, Snapshotting, Replicating, Following, Failover, Compacting):
    """Owns the listeners, the connections and the lane. What commands ask of it
    (`ServerPort`, `port.py`), its listeners (`listeners.py`), the serving while a
    script is busy (`busy.py`) and the SYNC snapshots (`snapshots.py`) are mixins of
    their own modules."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stats = Stats()
        self.run_id = secrets.token_hex(20)
        self.connections: dict[int, Connection] = {}
        self._monitors: list[Session] = []
        self.monitoring = False  # ServerPort: bool(self._monitors), or stale True
        self._offloading = 0  # Offload jobs running (`snapshots.py`)
        self._offload_limiter = trio.CapacityLimiter(OFFLOADS_AT_ONCE)
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
        self.bind_lane(self.lane)
        self.reactor = Reactor()
        self.token: trio.lowlevel.TrioToken | None = None
        self._loop_thread = threading.get_ident()
        self._draining = False  # shutting down: the gatherer runs what it has, then ends
        self._drained = trio.Event()
        self._snapshot_writers = 0  # SYNC snapshots being written (on worker threads)
        self._snapshots_idle = trio.Event()
        self._stopping_snapshots = False
        self.replicas: dict[int, Replica] = {}  # replicas by client id (`replicas.py`)
        self.syncing: dict[int, Syncing] = {}  # their snapshots, before (`snapshots.py`)
        self._stream_grew = trio.Event()
        self._streamed = self.keyspace.backlog.offset  # the stream's end they were told of
        self._init_following()  # a replica (`replicaof`): its link starts with serve()
        self._init_failover()
        remove_stale_snapshots(config["dir"])
        self.shutting_down = trio.Event()
        # A signal's (save, force, now), pending; a shutdown waiting for replicas.
        self._signalled: tuple[bool, bool, bool] | None = None
        self._shutdown_wait: _ShutdownWait | None = None
        self.listeners: list[trio.SocketListener] = []
        self.unix_path: str | None = None
        self.net_in = self.net_out = self.reads = self.writes = 0
        self.startup_rss = 0
        self._samples: list[tuple[float, int, int, int]] = []
        self._tasks: trio.Nursery | None = None
        self._accept_scopes: dict[trio.SocketListener, trio.CancelScope] = {}

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
            if self._signalled is not None and not self.shutting_down.is_set():
                save, force, now = self._signalled
                self._signalled = None
                log.warning("User requested shutdown...")
                supervision.current.stopping()
                self._request_shutdown(save, force, now, None)
            if self._shutdown_wait is not None:
                self._check_shutdown()
            if self._draining:
                self._drained.set()
                return

    async def _run_batch(self, units: list[Unit]) -> None:
        """One batch on the lane, here on the event loop's thread; then what the batch
        left to do, and the slow chores between batches (range compaction, the everysec
        sync) on a worker thread."""
        lane = self.lane
        self._deliver(lane.run_batch(units))
        if self.keyspace.backlog.offset != self._streamed:
            self._streamed = self.keyspace.backlog.offset
            self._stream_moved()
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
            elif session.master:
                self.drop_master_link()
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
        for unit, offload in outcome.offloads:
            self._start_offload(unit, offload)
        for unit, request in outcome.shutdowns:  # the first that succeeds stops the server
            if self._shutdown_wait is None:
                log.warning("User requested shutdown...")
                supervision.current.stopping()
            if self._request_shutdown(request.save, request.force, request.now, unit):
                break

    # -- shutdown ----------------------------------------------------------------------
    def _request_shutdown(self, save: bool, force: bool, now: bool, unit: Unit | None) -> bool:
        """prepareForShutdown: stop now, or first let lagging replicas catch up, for at
        most shutdown-timeout seconds, with writes held (unless `now`). True when the
        server stops; `unit`, the SHUTDOWN client's, waits until then or gets an error."""
        wait = self._shutdown_wait
        if wait is not None:  # one is in progress: this client waits with it
            if unit is not None:
                wait.units.append(unit)
            return False
        timeout = self.config["shutdown-timeout"]
        if not now and timeout and not self._replicas_in_sync():
            units = [unit] if unit is not None else []
            self._shutdown_wait = _ShutdownWait(time.monotonic() + timeout, save, force, units)
            self.keyspace.repl.getack = True  # replicas are asked at once (sendGetack)
            self.lane.holds.add("shutdown")
            log.info("Waiting for replicas before shutting down.")
            self._gather_wake.set()
            return False
        return self._finish_shutdown(save, force, [unit] if unit is not None else [])

    def _replicas_in_sync(self) -> bool:
        offset = self.keyspace.backlog.offset
        return all(r.ack == offset for r in self.replicas.values())

    def _check_shutdown(self) -> None:
        """After each batch: the wait ends when every replica has acknowledged the
        stream, or at the timeout."""
        wait = self._shutdown_wait
        assert wait is not None
        if time.monotonic() < wait.deadline and not self._replicas_in_sync():
            return
        self._shutdown_wait = None
        self.lane.holds.discard("shutdown")
        self._finish_shutdown(wait.save, wait.force, wait.units)

    def _finish_shutdown(self, save: bool, force: bool, units: list[Unit]) -> bool:
        """finishShutdown: lagging replicas logged, then the save and the stop; when the
        save fails (without `force`), the waiting clients get an error and the server
        serves on."""
        offset = self.keyspace.backlog.offset
        lagging = [r for r in self.replicas.values() if r.ack != offset]
        for r in lagging:
            log.warning(
                "Lagging replica %s reported offset %d behind master, lag=%d, state=online.",
                r.name,
                offset - r.ack,
                int(time.monotonic() - r.ack_time),
            )
        if self.replicas:
            log.info(
                "%d of %d replicas are in sync when shutting down.",
                len(self.replicas) - len(lagging),
                len(self.replicas),
            )
        if self._prepare_shutdown(save, force):
            return True
        self._fail_shutdown(units)
        return False

    def _fail_shutdown(self, units: list[Unit]) -> None:
        for unit in units:
            self.stats.count_error("ERR")  # an error reply, as afterErrorReply counts it
            self.lane.resume(unit, RedisError(errors.SHUTDOWN_FAILED))
        self._gather_wake.set()

    def abort_shutdown(self) -> bool:
        """SHUTDOWN ABORT (in a batch): a shutdown waiting for replicas, or a signal's
        not acted on yet, is called off; its clients get an error. False: none."""
        wait = self._shutdown_wait
        if wait is None:
            if self._signalled is None:
                return False
            self._signalled = None
        else:
            self._shutdown_wait = None
            self.lane.holds.discard("shutdown")
            self._fail_shutdown(wait.units)
        log.info("Shutdown manually aborted.")
        return True

    def shutdown_in_ms(self) -> int | None:
        """INFO server's shutdown_in_milliseconds while a shutdown waits for replicas."""
        wait = self._shutdown_wait
        return None if wait is None else max(int((wait.deadline - time.monotonic()) * 1000), 0)

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
                    log.warning(
                        "Errors trying to shut down the server. Check the logs for "
                        "more information."
                    )
                    return False
                log.warning(
                    "Error trying to save the DB. Exit anyway: %s. The log keeps "
                    "every write: the restart replays it.",
                    error,
                )
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
                    # sent), clients waiting in a blocking command, or subscribers;
                    # nor for one whose command runs on a worker thread (Offload).
                    if s.monitor or conn.replica or s.blocked or s.pubsub or s.offloaded:
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
                # shutdown-on-sigterm / -sigint: "default", or SHUTDOWN's flags; acted on
                # by the gatherer between batches (no chore of the last one in flight)
                flags = self.config["shutdown-on-" + name.lower()]
                save = "save" in flags or ("nosave" not in flags and bool(self.config["save"]))
                self._signalled = (save, "force" in flags, "now" in flags)
                self._gather_wake.set()

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
                nursery.start_soon(self._auto_compaction)
                nursery.start_soon(self._gatherer)
                nursery.start_soon(self.reactor.run)
                self._tasks = nursery
                if self.master_addr is not None:
                    self._start_link()
                self._start_accepting(opened)
                # What start-up made (modules, the command table, ...) lives as long as
                # the process: out of the cycle collector's sight, its full passes
                # look only at what serving creates.
                gc.freeze()
                log.info("Ready to accept connections")
                supervision.current.ready(self.master_addr is not None)
                task_status.started(self)
                await self.shutting_down.wait()
                # Stop accepting, let the lane finish what it has, then drop clients.
                self._stop_accepting(list(self.listeners))
                self._draining = True
                self._gather_wake.set()
                await self._drained.wait()
                self.reactor.close_all()
                await self._stop_snapshots()
                self.engine.close()
                nursery.cancel_scope.cancel()
        finally:
            if self.unix_path:
                with contextlib.suppress(OSError):
                    os.unlink(self.unix_path)
            if pidfile:
                with contextlib.suppress(OSError):
                    os.unlink(pidfile)
            log.warning("diskredis is now ready to exit, bye bye...")


@dataclass
class _ShutdownWait:
    """A shutdown waiting for lagging replicas (Redis's shutdown_mstime)."""

    deadline: float  # monotonic
    save: bool
    force: bool
    units: list[Unit]  # the SHUTDOWN clients held until then


class TlsStartError(Exception):
    """The TLS port can't start: its settings are wrong (the text says which)."""


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
        raise StorageError(
            "another diskredis (pid %s) is using the data in %s; stop it or "
            "choose another dir" % (e.holder, e.path)
        ) from None


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def serve(config: Config) -> None:
    """Run a server until it is shut down."""
    trio.run(Server(config).serve)
