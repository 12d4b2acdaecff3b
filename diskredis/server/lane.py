"""The storage lane: where commands run, one batch at a time.

Room: ordering and batching of command execution. Imports: `config`, `errors`,
`keyspace.space`, `keyspace.types.hashes` (active expiry of fields), `resp.values`,
`storage`, `commands`, `resp.writer`, the standard library (no trio: the server calls
`run_batch` and gets back an `Outcome` to carry out).

Every connection hands the server a `Unit` (all complete requests of one read).
The server gathers the units of one pass of its event loop into a batch and calls
`run_batch`, which runs them in arrival order and only then releases the batch's
replies together with whatever the batch produced for other clients (MONITOR lines,
kills). The batch is one write transaction of the keyspace, committed before
`run_batch` returns: one fsync serves every client of the batch (group commit), and
no reply leaves before the writes it acknowledges are on disk. A failed commit
turns every reply of the batch into an error naming the cause; nothing of the
batch was written.

A batch runs on the event loop's own thread (no hand-off to another thread, which
would make the two fight for the GIL at every send and receive), scripts included: a
busy script's hook lets the server serve its sockets meanwhile (server/app.py). A
batch's transaction begins and ends inside one `run_batch` call, so on one thread, as
LMDB requires of write transactions (and of its long-lived top transaction, behind
its write-ahead log).

Between batches, and every 100 ms when idle, the lane removes expired keys and
reclaims flushed databases in bounded steps (`next_wakeup` says when), and with
`appendfsync everysec` the server syncs the engine once a second (`sync_due`).

CLIENT PAUSE holds a unit at its first paused command; held units resume, in
arrival order, when the pause ends.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diskredis import errors
from diskredis.commands.context import Block, Ctx, Hub, Offload, Resume, Shutdown, Stats
from diskredis.commands.dispatch import (
    NO_REPLY,
    PAUSE_ALL,
    PAUSE_WRITE,
    PAUSED,
    count_failure,
    execute,
    finish_call,
    finish_refusal,
    serve,
    served,
)
from diskredis.commands.replication import Snapshot
from diskredis.commands.tracking import Tracking
from diskredis.config import Config
from diskredis.errors import RedisError
from diskredis.keyspace.space import NOTIFY_CLASSES, Keyspace
from diskredis.keyspace.types import hashes
from diskredis.resp.values import Pushes
from diskredis.resp.writer import encode
from diskredis.storage import StorageError

log = logging.getLogger("diskredis.lane")

__all__ = ["Lane", "Unit"]


class Unit:
    """One read's worth of requests from one client, and what came of them (one is made
    per read: a plain class with slots, cheaper to make than a dataclass)."""

    __slots__ = (
        "after",
        "batch_start",
        "ctx",
        "done",
        "failed",
        "finish",
        "next",
        "parts",
        "pushed",
        "reply",
        "requests",
        "size",
    )

    def __init__(
        self, ctx: Ctx, requests: list[list[bytes]], done: Callable[[], None], size: int = 0
    ) -> None:
        self.ctx = ctx
        self.requests = requests
        self.done = done  # called on the trio side when `reply` is ready
        self.reply = b""
        self.next = 0  # index of the next request to run (a paused unit resumes here)
        self.size = size  # bytes read for the requests (the engine sizes its map with it)
        self.parts: list[bytes] = []
        self.batch_start = 0  # replies in `parts` from earlier batches (already committed)
        self.pushed: list[int] = []  # indexes in `parts` of pushes
        # Called in the batch once every request ran (a replica's stream: its offset
        # is stored with the writes), or a job with no request of its own.
        self.after: Callable[[], None] | None = None
        self.failed = False  # its batch failed to commit: nothing of it was written
        # The end of its last command, whose middle ran off the lane (`Resume`): run
        # first when the unit runs again.
        self.finish: Resume | None = None


@dataclass(eq=False)
class Parked:
    """A unit waiting in a blocking command (see `Block`)."""

    unit: Unit
    argv: list[bytes]
    keys: set[tuple[int, bytes]]
    block: Block

    @property
    def deadline_ms(self) -> int:
        return self.block.deadline_ms


@dataclass
class Outcome:
    """What a batch leaves for trio to do after its commit."""

    units: list[Unit] = field(default_factory=list)
    pushes: list[tuple[Any, bytes]] = field(default_factory=list)
    kills: list[Any] = field(default_factory=list)
    # Clients whose SYNC/PSYNC asked for a snapshot: the server sends it after the
    # batch (each unit's reply holds what comes first, +FULLRESYNC for PSYNC).
    snapshots: list[tuple[Any, Snapshot]] = field(default_factory=list)
    #: SHUTDOWNs, in order: each client's unit, held until the server has stopped or
    #: answers it.
    shutdowns: list[tuple[Unit, Shutdown]] = field(default_factory=list)
    #: Commands answered off the lane (`Offload`): each client's unit, held until its
    #: job's reply comes back (`Lane.resume`). The batch ended after the last of them.
    offloads: list[tuple[Unit, Offload]] = field(default_factory=list)


@functools.cache
def _notify_flags(classes: str) -> int:
    """notify-keyspace-events (its letters, 'A' expanded) as NOTIFY_* bits."""
    return sum(NOTIFY_CLASSES[c] for c in set(classes))


DEFAULT_CACHE = 128 << 20  # the memory budget when maxmemory is 0 (no limit set)


def cache_budget(config: Config) -> int:
    """The byte budget of the hot cache and the access table (`Keyspace.set_budget`):
    `maxmemory`, or DEFAULT_CACHE when it is 0."""
    return int(config["maxmemory"]) or DEFAULT_CACHE


_TICK = 0.1  # seconds between housekeeping passes when no client sends anything
_EXPIRE_BUDGET = 200  # keys removed by active expiry per pass
_GC_BUDGET = 2000  # records of flushed databases deleted per pass
_BUILD_SECONDS = 0.01  # time per batch for writing values stored in steps (RESTORE)


class Lane:
    """Where commands run, a batch of units at a time, on the event loop's thread; see
    the module docstring."""

    def __init__(
        self, keyspace: Keyspace, config: Config, hub: Hub, tracking: Tracking, stats: Stats
    ) -> None:
        self.ks = keyspace
        self.hub = hub
        self.tracking = tracking
        self.stats = stats
        # Units of this batch, by client id, that are not waiting: a push to their
        # client joins their reply stream where it happens.
        self._inline: dict[int, Unit] = {}
        self.config = config
        self._last_sync = time.monotonic()
        self._unsynced = False
        self._backlog = False  # expiry or reclamation left work for the next batch
        self.batches = 0  # batches run, and the client units and commits they held
        self.batched_units = 0
        self.write_commits = 0
        self._held: list[Unit] = []
        self._parked: list[Parked] = []  # blocked clients, in the order they blocked
        self._resume: list[Unit] = []  # units whose wait ended: continue them
        self._pending: deque[Unit] = deque()  # units of the running batch not started yet
        # An Offload ended the batch early: the units it had not started run first in
        # the next one, which comes at once.
        self._cut = False
        self._carry: list[Unit] = []
        # Commands whose value an Offload's job came back with (`Resume`): written a
        # step per batch (`_step_builds`), then `ready` to finish in the next batch.
        self._building: list[tuple[Unit, Resume]] = []
        self._ready: list[Unit] = []
        # This batch's build steps and finishes, undone if it fails: their clients get
        # its error, and their records go to gc in the next batch (`_abandoning`).
        self._stepped: list[tuple[Unit, Resume]] = []
        self._finishing: list[Resume] = []
        self._abandoning: list[Resume] = []
        self._abandoned: list[Resume] = []  # given up in this batch (again if it fails)
        self._build_waited = False  # the last batch carried clients and no build step
        self._pause_until = 0.0
        self._pause_writes_only = False
        # Writes held until FAILOVER, or a SHUTDOWN waiting for replicas, ends (pauses
        # of their own: CLIENT UNPAUSE leaves them): "failover", "shutdown".
        self.holds: set[str] = set()
        # Called in each batch's housekeeping (the server's FAILOVER progress).
        self.on_tick: Callable[[], None] | None = None
        self._outcome = Outcome()
        self._running: Any = None  # the session whose unit `_run_unit` runs
        self._after_reply: list[bytes] = []  # its MONITOR lines, sent after its reply

    # -- called by the server between batches ----------------------------------------
    def withdraw(self) -> list[Unit]:
        """Take back the units of the running batch not started yet (from a busy script's
        hook: the lane takes the next unit from the list only once the script
        returns)."""
        # (never a primary's stream, which runs whole, in a batch, after the script)
        units: list[Unit] = [
            u
            for u in self._pending
            if not u.parts and not u.next and not u.ctx.session.master and u.after is None
        ]
        for u in units:
            self._pending.remove(u)
            self._inline.pop(u.ctx.session.id, None)
        return units

    def waiting_units(self) -> list[Unit]:
        """Units that a batch may resume: held by a pause, or blocked."""
        return self._held + [p.unit for p in self._parked]

    def next_wakeup(self) -> float:
        """Seconds until the lane has housekeeping to do with no unit to run: the next
        tick (none while expiry or reclamation has a backlog), the end of a pause
        holding units, the first timeout of a blocked client."""
        busy = self._backlog or self._carry or self._resume
        if (self._building or self._abandoning) and self.ks.read_only_reason is None:
            busy = True  # (nothing is written while writes are refused)
        timeout = 0.0 if busy else _TICK
        if self._held and self._pause_until:
            timeout = min(max(self._pause_until - time.monotonic(), 0.0), timeout)
        deadlines = [p.deadline_ms for p in self._parked if p.deadline_ms]
        if deadlines:
            wait = (min(deadlines) - time.time_ns() // 1_000_000) / 1000
            timeout = min(max(wait, 0.0), timeout)
        return timeout

    def sync_due(self) -> bool:
        """appendfsync everysec: a batch wrote unsynced data and the last sync is a
        second old."""
        return (
            self._unsynced
            and self.config["appendfsync"] == "everysec"
            and time.monotonic() - self._last_sync >= 1.0
        )

    def sync(self) -> None:
        """Make the engine's writes durable (any thread, between batches)."""
        try:
            self.ks.engine.sync()
        except StorageError as e:
            log.error("appendfsync everysec: %s", e)
            return
        self._last_sync = time.monotonic()
        self._unsynced = False

    @property
    def compaction_pending(self) -> bool:
        return self.ks.compaction_pending

    def compact_due(self) -> None:
        """Compact the engine ranges batches have asked for (any thread, between batches:
        after the replies are on their way)."""
        try:
            self.ks.compact_due()
        except StorageError as e:
            log.error("%s", e)

    # -- called on the lane (through ServerPort) ----------------------------------
    def push(self, session: Any, data: bytes) -> None:
        """Out-of-band bytes for a client (pub/sub messages, MONITOR lines). A client
        with a unit in this batch gets them among its replies, in the order things
        happened; the others get them through their connection's output. Either way they
        leave after the batch's commit."""
        if session.closed:
            return
        unit = self._inline.get(session.id)
        if unit is not None:
            unit.pushed.append(len(unit.parts))
            unit.parts.append(data)
        elif session.offloaded:  # after the reply a worker thread is computing
            session.held_pushes.append(data)
        else:
            self._outcome.pushes.append((session, data))

    def feed_monitor(self, session: Any, line: bytes) -> None:
        """A MONITOR line for `session`. Redis feeds monitors once the command has
        replied, so a client that monitors itself gets its reply first, and a client that
        QUITs gets nothing after its +OK: a line for the client whose command runs waits
        for that command's reply (`_flush_monitor_lines`)."""
        if session is self._running:
            self._after_reply.append(line)
        else:
            self.push(session, line)

    def _flush_monitor_lines(self, session: Any) -> None:
        lines, self._after_reply = self._after_reply, []
        if not session.close_after_reply:
            for line in lines:
                self.push(session, line)

    def kill(self, session: Any) -> None:
        session.closed = True
        self._outcome.kills.append(session)

    def pause(self, until: float, writes_only: bool) -> None:
        # As Redis: a pause only ever gets longer and stricter (WRITE -> ALL).
        if self._pause_until <= time.monotonic():
            self._pause_until, self._pause_writes_only = until, writes_only
        else:
            self._pause_until = max(self._pause_until, until)
            self._pause_writes_only = self._pause_writes_only and writes_only
        self.ks.expire_paused = True  # from the next command of this batch on

    def unpause(self) -> None:
        self._pause_until = 0.0
        self.ks.expire_paused = bool(self.holds)

    def _pause_level(self) -> int:
        """What a pause holds now: 0 nothing (an elapsed pause ends here), PAUSE_WRITE or
        PAUSE_ALL."""
        if not self._pause_until:
            return PAUSE_WRITE if self.holds else 0
        if time.monotonic() >= self._pause_until:
            self._pause_until = 0.0
            self.ks.expire_paused = bool(self.holds)
            return PAUSE_WRITE if self.holds else 0
        return PAUSE_WRITE if self._pause_writes_only else PAUSE_ALL

    def run_batch(self, units: list[Unit]) -> Outcome:
        """Run `units` (after those a pause held) as one batch; return what the server
        must do with the result. Housekeeping only when `units` is empty."""
        for unit in self._held:  # they run again: held again if the pause goes on
            unit.ctx.session.blocked = False
        units = self._held + self._carry + units
        self._held, self._carry = [], []
        out = self._outcome
        ks = self.ks
        ks.expire_paused = bool(self._pause_level())
        fsync = self.config["appendfsync"] == "always"
        if fsync != ks.engine.fsync:
            ks.engine.set_fsync(fsync)
        ks.notify_flags = _notify_flags(self.config["notify-keyspace-events"])
        ks.access.lfu_log_factor = self.config["lfu-log-factor"]
        ks.access.lfu = self.config["maxmemory-policy"] in ("allkeys-lfu", "volatile-lfu")
        budget = cache_budget(self.config)
        if budget != ks.budget:
            ks.set_budget(budget)
        engine = ks.engine
        if engine.write_error is not None and engine.try_recover():
            log.warning("Writes to %s resume: there is room on its disk again.", engine.path)
        ks.read_only_reason = engine.write_error
        incoming = sum(u.size for u in units)
        self.hub.drop_gone()
        tracking = self.tracking
        tracking.drop_gone()
        tracking.max_keys = self.config["tracking-table-max-keys"]
        ks.begin(incoming)
        if engine.write_error is not None and ks.read_only_reason is None:
            log.error(
                "Writing to %s failed between batches: %s. Commands that write are "
                "refused (MISCONF) until the disk has room again; reads go on.",
                engine.path,
                engine.write_error,
            )
            ks.read_only_reason = engine.write_error
        # Waiting units may be answered in this batch: their replies so far are earlier.
        ran: list[Unit] = [p.unit for p in self._parked]
        seen = set(ran)
        for unit in ran:
            unit.batch_start = len(unit.parts)
            unit.pushed = []
        for unit in units:  # (one whose finish waits gets pushes after its reply)
            if unit.finish is None:
                self._inline[unit.ctx.session.id] = unit
        failed_offloads: list[Unit] = []
        failure = None
        pending = self._pending = deque(units)
        pending += self._end_waits()
        pending += self._resume
        self._resume = []
        try:
            while pending:
                unit = pending.popleft()
                if unit not in seen:
                    seen.add(unit)
                    ran.append(unit)
                    unit.batch_start = len(unit.parts)
                    unit.pushed = []
                try:
                    finished = self._run_unit(unit)
                    if finished is True and unit.after is not None:
                        unit.after()
                except StorageError:
                    # The failing command and the rest of its unit get the error reply.
                    unit.parts += [b""] * (len(unit.requests) - unit.next + 1)
                    unit.next = len(unit.requests)
                    out.units.append(unit)
                    raise
                if finished is True:
                    out.units.append(unit)
                elif finished is False:
                    self._held.append(unit)
                if self._cut:  # what the Offload saw must be all the batch commits
                    self._cut = False
                    self._carry = list(pending) + self._resume
                    pending.clear()
                    self._resume = []
                    for carried in self._carry:  # nothing of this batch reaches them
                        self._inline.pop(carried.ctx.session.id, None)
                    break
                if not pending and self._resume:
                    pending = self._pending = deque(self._resume)
                    self._resume = []
            self._backlog = False
            if self._building or self._abandoning:
                # A batch that carried clients leaves the step to the next one: a client
                # waits for one batch with a step at most.
                if ran and not self._build_waited:
                    self._build_waited = True
                else:
                    self._build_waited = False
                    self._step_builds()
            # Housekeeping writes, so it waits for room; DEBUG PAUSE-CRON stops it. Nothing
            # expires while clients are paused (Redis keeps the dataset still for a
            # failover).
            if ks.read_only_reason is None and not ks.cron_paused:
                expired = (
                    self._expire_cycle()
                    if ks.active_expire and not (ks.expire_paused or ks.following)
                    else 0
                )
                # A step that used its whole budget may have left more: the next batch
                # comes at once instead of at the next tick.
                reclaimed = ks.reclaim.step(_GC_BUDGET)
                self._backlog = expired >= _EXPIRE_BUDGET or reclaimed >= _GC_BUDGET
                self._replication_cron()
            if self.on_tick is not None:
                self.on_tick()
            repl = ks.repl
            if repl.getack:  # as beforeSleep: after the batch's commands, once
                repl.getack = False
                if repl.replicas and ks.read_only_reason is None:
                    repl.feed([b"REPLCONF", b"GETACK", b"*"])
            if tracking.clients:
                if tracking.over_limit():
                    tracking.evict()
                tracking.broadcast()  # as Redis's beforeSleep: once per batch
            ks.watches.drop_gone()
            dirty = ks.txn is not None and ks.txn.dirty
            ks.commit()
            for _, resume in self._stepped:
                if resume.build is not None:
                    resume.build.committed()
            self.batches += 1
            self.batched_units += len(ran)
            self.write_commits += dirty
            self._unsynced = self._unsynced or (dirty and not fsync)
        except StorageError as e:
            log.error(
                "Writing to %s failed; the commands of this batch were not applied "
                "and their clients got an error: %s. Commands that write are refused "
                "(MISCONF) until the disk has room again; reads go on.",
                ks.engine.path,
                e,
            )
            ks.abort()
            engine.write_failed(str(e))
            failure = RedisError("ERR storage error, nothing written: %s" % e)
            self._fail(ran, failure)
            self._held = list(pending) + self._held  # not run yet: in the next batch
            out.pushes.clear()  # nothing of the batch happened: nor did its messages
            out.snapshots.clear()
            for unit, offload in out.offloads:  # its job never runs: the batch's error
                offload.abandon()
                failed_offloads.append(unit)
            out.offloads.clear()
            # Build steps and finishes of the batch were undone: those commands end with
            # its error, and what earlier batches wrote of their values goes to gc.
            self._abandoning += self._finishing + self._abandoned
            for item in self._stepped:
                unit, resume = item
                if item in self._building:
                    self._building.remove(item)
                elif unit in self._ready and unit.finish is resume:
                    self._ready.remove(unit)
                    unit.finish = None
                else:
                    continue  # answered already (its giving up is queued again above)
                self._abandoning.append(resume)
                failed_offloads.append(unit)
        self._stepped, self._finishing, self._abandoned = [], [], []
        self._inline.clear()
        for unit in failed_offloads:
            unit.ctx.session.offloaded = False
            self.resume(unit, failure)
        for unit in self._ready:  # built: they end in the next batch
            self._resume.append(unit)
            if unit.finish is None:  # answered (a finish's pushes wait: `push`)
                self._inline[unit.ctx.session.id] = unit
        self._ready = []
        for unit in out.units:
            unit.reply = b"".join(unit.parts)
            unit.parts = []
        self._outcome = Outcome()
        return out

    def _expire_cycle(self) -> int:
        """Active expiry's bounded step; as Redis, a step slower than
        latency-monitor-threshold is an `expire-cycle` latency event."""
        started = time.monotonic()
        expired = self.ks.expire_due(budget=_EXPIRE_BUDGET)
        expired = max(expired, hashes.expire_fields(self.ks, _EXPIRE_BUDGET))
        threshold = self.config["latency-monitor-threshold"]
        if threshold:
            ms = int((time.monotonic() - started) * 1000)
            if ms >= threshold:
                self.stats.add_latency("expire-cycle", ms)
        return expired

    def _replication_cron(self) -> None:
        """replicationCron's part for a primary, in the housekeeping of a batch: a PING
        into the stream every repl-ping-replica-period while replicas are connected;
        the backlog freed after repl-backlog-ttl seconds without any (0: never)."""
        ks, config = self.ks, self.config
        repl, backlog = ks.repl, ks.backlog
        backlog.limit = config["repl-backlog-size"]  # (a replica's backlog too)
        if not backlog.recording:  # none, or a replica's: its primary feeds it
            return
        repl.expire_verb = b"UNLINK" if config["lazyfree-lazy-expire"] else b"DEL"
        now = time.monotonic()
        if repl.replicas:
            repl.alone_since = 0.0
            if now >= repl.next_ping:
                repl.feed([b"ping"])
                repl.next_ping = now + config["repl-ping-replica-period"]
            return
        ttl = config["repl-backlog-ttl"]
        if not repl.alone_since:
            repl.alone_since = now
        elif ttl and now - repl.alone_since > ttl:
            backlog.drop()
            repl.alone_since = 0.0
            log.info("Replication backlog freed after %d seconds without connected replicas.", ttl)

    def _fail(self, units: list[Unit], error: RedisError) -> None:
        """Replace the replies this batch produced with `error` (and drop its pushes)."""
        for unit in units:
            unit.failed = True
            pushed = set(unit.pushed)
            fresh = len(unit.parts) - unit.batch_start - len(pushed)
            unit.parts[unit.batch_start :] = [encode(error, unit.ctx.session.resp)] * fresh
            unit.pushed = []

    # -- blocking commands -----------------------------------------------------------
    def _end_waits(self) -> list[Unit]:
        """Drop the waits of gone clients; answer those whose timeout passed."""
        now = time.time_ns() // 1_000_000
        resumed = []
        for p in list(self._parked):
            session = p.unit.ctx.session
            if session.closed:
                self._unpark(p)
            elif p.deadline_ms and p.deadline_ms <= now:
                self._unpark(p)
                p.unit.next += 1  # past the blocking command, answered by its timeout
                self._emit(p.unit, p.block.timeout_value(p.unit.ctx))
                resumed.append(p.unit)
                self._inline[session.id] = p.unit
            elif p.block.poll is not None:
                reply = p.block.poll(p.unit.ctx)
                if reply is not None:  # what it waits for came (WAIT's acknowledgements)
                    self._unpark(p)
                    p.unit.next += 1
                    served(p.unit.ctx, p.argv, p.block, reply, 0)
                    self._emit(p.unit, reply)
                    resumed.append(p.unit)
                    self._inline[session.id] = p.unit
        return resumed

    @property
    def polling(self) -> bool:
        """Whether a parked client waits on something a batch must look at (WAIT)."""
        return any(p.block.poll is not None for p in self._parked)

    def _unpark(self, p: Parked) -> None:
        self._parked.remove(p)
        self.ks.waiters = bool(self._parked)
        p.unit.ctx.session.blocked = False

    def _serve_waiters(self) -> None:
        """After a command wrote keys clients wait on, serve them key by key, in the
        order the keys were written, first blocked first served, until no more can be
        served (as handleClientsBlockedOnKeys does after each command)."""
        ks = self.ks
        tracking = self.tracking
        while ks.written and self._parked:
            ready, ks.written = ks.written, {}
            for db_key in self._expand(ready):
                for p in list(self._parked):
                    if p not in self._parked or db_key not in p.keys:
                        continue
                    started = time.perf_counter_ns()
                    current, tracking.current = tracking.current, p.unit.ctx.session
                    try:
                        reply = serve(p.unit.ctx, p.block, db_key[1])
                    except RedisError as e:
                        reply = e
                    finally:
                        tracking.current = current
                    if reply is None:
                        continue
                    served(p.unit.ctx, p.argv, p.block, reply, time.perf_counter_ns() - started)
                    self._unpark(p)
                    unit = p.unit
                    unit.next += 1
                    self._emit(unit, reply)
                    self._resume.append(unit)
                    self._inline[unit.ctx.session.id] = unit
                    if tracking.pending:  # its own keys' invalidations, after its reply
                        tracking.flush_pending(unit.ctx.session)

    def _expand(self, ready: dict[tuple[int, bytes | None], None]) -> list[tuple[int, bytes]]:
        """The written keys, a whole database emptied or swapped (db, None) standing for
        every key waited on there, in the order clients blocked (as Redis's
        scanDatabaseForDeletedStreams and scanDatabaseForReadyKeys signal them)."""
        out: dict[tuple[int, bytes], None] = {}
        for db, key in ready:
            if key is not None:
                out[(db, key)] = None
                continue
            for p in self._parked:
                for db_key in p.keys:
                    if db_key[0] == db:
                        out[db_key] = None
        return list(out)

    def unblock(self, client_id: int, error: bool) -> bool:
        for p in self._parked:
            if p.unit.ctx.session.id == client_id:
                self._unpark(p)
                unit = p.unit
                unit.next += 1
                reply = (
                    RedisError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
                    if error
                    else p.block.timeout_value(unit.ctx)
                )
                served(unit.ctx, p.argv, p.block, reply, 0, unblocked=True)
                self._emit(unit, reply)
                self._resume.append(unit)
                self._inline[unit.ctx.session.id] = unit
                return True
        return False

    def disconnect_blocked(self) -> None:
        """disconnectAllBlockedClients (this server becomes a replica): every client
        waiting in a blocking command is told so, then closed."""
        error = RedisError(
            "UNBLOCKED force unblock from blocking operation, instance state changed "
            "(master -> replica?)"
        )
        for p in list(self._parked):
            self._unpark(p)
            unit = p.unit
            unit.next += 1
            served(unit.ctx, p.argv, p.block, error, 0, unblocked=True)
            self._emit(unit, error)
            unit.ctx.session.close_after_reply = True
            self._resume.append(unit)
            self._inline[unit.ctx.session.id] = unit

    def go_on(self, unit: Unit, resume: Resume) -> None:
        """An Offload's job came back with the rest of its command (between batches):
        its build steps run in the next batches, then its finish."""
        if resume.build is not None and not resume.build.done:
            self._building.append((unit, resume))
        else:  # (not inline: pushes wait until it has answered, see `push`)
            unit.finish = resume
            self._resume.append(unit)

    def _step_builds(self) -> None:
        """Housekeeping: write the next step of each value being built, sharing
        _BUILD_SECONDS of the batch; a finished one ends in the next batch. One whose
        client went away is given up; so are all of them, with MISCONF, while writes
        are refused (their records go to gc once writes work again)."""
        refused = self.ks.read_only_reason
        if refused is None:
            while self._abandoning:
                self._give_up(self._abandoning.pop())
        if not self._building:
            return
        share = _BUILD_SECONDS / len(self._building)
        for item in list(self._building):
            unit, resume = item
            assert resume.build is not None
            if refused is not None or unit.ctx.session.closed:
                self._building.remove(item)
                self._abandoning.append(resume)
                if refused is not None and not unit.ctx.session.closed:
                    self._answer(unit, errors.misconf(refused))
                continue
            self._stepped.append(item)
            try:
                done = resume.build.step(share)
            except StorageError:
                raise
            except Exception as e:  # a bug in a type's build must not kill the lane
                log.exception("storing a value in steps failed inside diskredis")
                self._building.remove(item)
                # given up once this batch is committed: a key id it took is the
                # build's then (`Build.committed`), and is freed
                self._abandoning.append(resume)
                self._answer(unit, errors.internal_error(e))
                continue
            if done:
                self._building.remove(item)
                unit.finish = resume
                self._ready.append(unit)

    def _give_up(self, resume: Resume) -> None:
        """Abandon a command whose end will not come (its records go to gc), in the
        running batch: again in the next one if this one fails."""
        self._abandoned.append(resume)
        resume.abandon()

    def _answer(self, unit: Unit, reply: Any) -> None:
        """Answer, from housekeeping, a unit whose command ran off the lane; the rest of
        its requests run in the next batch."""
        session = unit.ctx.session
        session.offloaded = False
        self._ready.append(unit)  # (queued for the next batch with the finished ones)
        self._inline[session.id] = unit  # what is pushed from now on follows the reply
        if isinstance(reply, RedisError):
            count_failure(unit.ctx, unit.requests[unit.next - 1], reply)
        self._emit(unit, reply)
        self._flush_held_pushes(unit)

    def resume(self, unit: Unit, reply: Any) -> None:
        """Answer a unit held outside the lane (a SHUTDOWN that failed, an Offload) with
        `reply`, followed by what was pushed to its client meanwhile; the rest of its
        requests run in the next batch."""
        self._emit(unit, reply)
        self._flush_held_pushes(unit)
        self._resume.append(unit)
        self._inline[unit.ctx.session.id] = unit

    @staticmethod
    def _flush_held_pushes(unit: Unit) -> None:
        """What was pushed to the client while its command ran off the lane, after the
        reply."""
        session = unit.ctx.session
        for data in session.held_pushes:
            unit.pushed.append(len(unit.parts))
            unit.parts.append(data)
        session.held_pushes = []

    @property
    def building(self) -> int:
        """Values being written in steps (`Resume.build`)."""
        return len(self._building)

    @property
    def blocked_clients(self) -> int:
        """Clients waiting in a blocking command or held by a pause (Redis counts both)."""
        return len(self._parked) + len(self._held)

    def _emit(self, unit: Unit, reply: Any) -> None:
        session = unit.ctx.session
        if reply is not NO_REPLY and (
            type(reply) is Pushes or not (session.reply_off or session.reply_skip)
        ):
            try:
                data = encode(reply, session.resp)
            except Exception as e:  # a reply diskredis cannot encode is a bug, not a crash
                log.exception("could not encode the reply to %s", session.last_cmd)
                data = encode(
                    errors.internal_error(e),
                    session.resp,
                )
            unit.parts.append(data)
        session.reply_skip = False
        if session.reply_skip_next:
            session.reply_skip = True
            session.reply_skip_next = False

    def run_now(self, unit: Unit) -> bool:
        """While a script is busy, from its hook (the batch running it is suspended
        inside the script): run `unit` at once, as Redis's processEventsWhileBlocked
        serves clients meanwhile. The commands flagged `allow_busy` run (MULTI, WATCH,
        FUNCTION STATS, SCRIPT KILL...), the others are refused with BUSY
        (`execute(busy=True)`). True when every request is answered (`unit.reply` is
        set); False when a pause holds the rest, which then waits for the lane."""
        session = unit.ctx.session
        outer_after, self._after_reply = self._after_reply, []
        outer_inline = self._inline.get(session.id)
        self._inline[session.id] = unit
        unit.pushed = []
        try:
            try:
                finished = self._run_unit(unit, busy=True)
            except StorageError as e:  # a read failed: this client is told, the script goes on
                self._emit(unit, errors.storage_error(e))
                finished = self._run_unit(unit, busy=True)
        finally:
            self._after_reply = outer_after
            if outer_inline is None:
                self._inline.pop(session.id, None)
            else:
                self._inline[session.id] = outer_inline
        if finished is not True:
            return False
        unit.reply = b"".join(unit.parts)
        unit.parts = []
        return True

    def _run_unit(self, unit: Unit, busy: bool = False) -> bool | None:
        """Run the unit's requests; False when a pause holds it, None when it waits in a
        blocking command (both resume later)."""
        ctx = unit.ctx
        session = ctx.session
        outer, self._running = self._running, session
        self.tracking.current = session
        self.ks.obeying = session.master
        try:
            return self._run_requests(unit, ctx, session, busy)
        finally:
            self._running = self.tracking.current = outer
            self.ks.obeying = False
            if self._after_reply:  # a unit that stopped early: nothing more goes to it
                self._after_reply = []

    def _run_requests(self, unit: Unit, ctx: Ctx, session: Any, busy: bool) -> bool | None:
        requests = unit.requests
        while unit.next < len(requests) or unit.finish is not None:
            if session.close_after_reply or session.closed:
                if unit.finish is not None:  # its end will not come: what it built goes
                    self._give_up(unit.finish)
                    unit.finish = None
                break
            finish = unit.finish
            if finish is None:
                argv = requests[unit.next]
                unit.next += 1
            else:
                argv = requests[unit.next - 1]
            if self.ks.written and not busy:
                self.ks.written = {}
            tracking = self.tracking
            if tracking.clients and tracking.over_limit():
                tracking.evict()
            try:
                # A primary's stream is applied whole, pause or not: its offset is
                # stored with the batch that applies it.
                paused = (
                    self._pause_level()
                    if (self._pause_until or self.holds) and not session.master
                    else 0
                )
                if finish is None:
                    reply = execute(ctx, argv, busy, paused)
                elif paused:  # it writes: it ends once the pause does
                    reply = PAUSED
                else:
                    unit.finish = None
                    session.offloaded = False
                    self._inline[session.id] = unit  # its own pushes precede its reply
                    reply = finish_refusal(ctx, argv)
                    if reply is not None:  # what it built goes, once writes work
                        self._abandoning.append(finish)
                    else:
                        self._finishing.append(finish)
                        reply = finish_call(ctx, argv, finish)
            except StorageError:
                raise  # the batch's transaction is unusable: _run_batch fails it whole
            except Exception as e:  # a bug in a handler must not kill the lane
                log.exception("command %r failed inside diskredis", argv[:1])
                reply = errors.internal_error(e)
            if reply is PAUSED:  # run again when the pause ends
                if finish is None:
                    unit.next -= 1
                session.blocked = True
                return False
            if type(reply) is Snapshot:
                if unit.parts:  # replies not sent yet: Redis refuses the same
                    reply = RedisError(errors.SYNC_PENDING_OUTPUT)
                else:
                    if reply.preamble:
                        unit.parts.append(reply.preamble)
                    self._outcome.snapshots.append((session, reply))
                    break  # the connection is a snapshot transfer from now on
            if type(reply) is Offload:  # held: its reply comes from a worker thread
                self._outcome.offloads.append((unit, reply))
                self._inline.pop(session.id, None)
                session.offloaded = True
                self._cut = reply.snapshot  # a job handed its data needs no snapshot
                if session.tracking is not None:  # CLIENT CACHING is used up
                    tracking.after_command(session, argv)
                if self._after_reply:
                    self._flush_monitor_lines(session)
                return None
            if type(reply) is Shutdown:  # held: the server stops, or answers it
                self._outcome.shutdowns.append((unit, reply))
                self._inline.pop(session.id, None)
                return None
            if isinstance(reply, Block):
                unit.next -= 1  # run again when a key is written
                db = session.db
                self._parked.append(Parked(unit, argv, {(db, k) for k in reply.keys}, reply))
                self.ks.waiters = True
                session.blocked = True
                self._inline.pop(session.id, None)  # pushes go out while it waits
                if self._after_reply:
                    self._flush_monitor_lines(session)
                return None
            self._emit(unit, reply)
            if finish is not None:
                self._flush_held_pushes(unit)
            if tracking.pending:
                tracking.flush_pending(session)
            if session.tracking is not None:
                tracking.after_command(session, argv)
            if self._after_reply:
                self._flush_monitor_lines(session)
            if self._parked and not busy:
                self._serve_waiters()
        return True
