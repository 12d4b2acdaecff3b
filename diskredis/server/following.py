"""This server as a replica: following a primary (REPLICAOF, the `replicaof` setting).

Room: the link's life -- connect, handshake (`master_link.py`), a full resync's RDB
loaded, or a partial one continued, then the primary's stream applied -- and what a
replica sends back (REPLCONF ACK). Imports: `commands` (context, functions), `config`,
`keyspace`, `rdb`, `resp.reader`, `storage`, this package (failover, lane, master_link,
supervision), trio.

Guarantees, beyond Redis's:

- **The offset is stored with the writes it covers.** The stream is applied in units
  that end where no MULTI is open; each unit's commands and the stream bytes they came
  as (the replica's own backlog, whose end is its offset) are written by one batch. A
  replica restarted, or whose link broke, asks for `PSYNC <replid> <offset + 1>` and
  applies nothing twice and nothing less (Redis resyncs in full after a crash).
- **A full resync never shows a half-loaded dataset.** The RDB is written to a file in
  the data folder as it arrives (never held in memory), then loaded in bounded steps
  between client batches into fresh database slots that nothing reads; one batch then
  switches every database to them, with the new replication id and offset. Until then
  clients are served the old data (replica-serve-stale-data yes) or refused with
  -MASTERDOWN; a crash mid-load leaves the old data and offset, and the next start
  frees the half-loaded slots.
- **ACKs say what is written.** REPLCONF ACK, every second and when the primary asks
  (GETACK), gives the offset of the last committed batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import hiredis
import trio

from diskredis.commands.context import Ctx, MasterState, Session
from diskredis.commands.functions import replace_all
from diskredis.config import Config
from diskredis.keyspace import types
from diskredis.keyspace.backlog import encode_command
from diskredis.keyspace.space import Keyspace
from diskredis.rdb import codec
from diskredis.rdb.model import Record
from diskredis.resp.reader import RequestReader
from diskredis.server import supervision
from diskredis.server.failover import IN_PROGRESS
from diskredis.server.lane import Lane, Unit
from diskredis.server.master_link import LinkError, MasterLink, PsyncRefused, Resync
from diskredis.storage import StorageError

log = logging.getLogger("diskredis")

_RETRY = 1.0  # seconds before the first new attempt (Redis: every second, its cron)
_RETRY_MAX = 8.0  # ... doubling while attempts fail, up to this
_STEP_SECONDS = 0.02  # a load step's time on the lane, between client batches
_STEP_RECORDS = 2000  # ... and its records at most
_STEP_BYTES = 4 << 20  # what the engine is told a step may write
TRANSFER_PREFIX = "temp-replica-"  # a full resync's RDB, in the data folder while loaded
_NO_LIMIT = 1 << 62  # a primary's requests have no size limits (Redis: CLIENT_MASTER)


class Following:
    """The replica part of `Server` (a mixin: the state it uses is the server's)."""

    config: Config
    keyspace: Keyspace
    lane: Lane
    stats: Any
    scripts: Any
    hub: Any
    acl: Any
    tracking: Any
    next_id: int
    replicas: dict[int, Any]
    _tasks: trio.Nursery | None

    failover_state: str
    abort_failover: Callable[[str], None]
    end_failover: Callable[[], None]
    submit: Callable[[Unit], None]  # the server's (app.py)
    context: Callable[[Session], Ctx]  # the ServerPort's (port.py)

    def _init_following(self) -> None:
        self.master_addr: tuple[str, int] | None = None
        self._follow_gen = 0  # bumped by every REPLICAOF: stale tasks and jobs stop
        self._follow_scope: trio.CancelScope | None = None
        self._link_scope: trio.CancelScope | None = None
        self._link: MasterLink | None = None
        self.link_state = "none"
        self._link_down_since = 0.0
        self._master_session: Session | None = None
        self._read_offset = 0
        self._ack_now = trio.Event()
        self._ack_due = False
        target = self.config["replicaof"]
        ks = self.keyspace
        backlog = ks.backlog
        for name in os.listdir(self.config["dir"]):  # a transfer a crash cut short
            if name.startswith(TRANSFER_PREFIX) and name.endswith(".rdb"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.config["dir"], name))
        if target is not None:  # at start-up: the task starts with the server
            self._begin_following(target[0], target[1])
            if not backlog.was_following:
                ks.begin()
                backlog.mark_following(True)
                ks.commit()
        elif backlog.was_following:
            # A replica restarted as a primary: its own writes must not extend its old
            # primary's history under that id (Redis gives a primary a new id at
            # start, the old one kept as id2).
            ks.begin()
            if backlog.active:
                backlog.shift()
            backlog.mark_following(False)
            ks.commit()
            log.info(
                "This server was a replica and starts as a primary (no replicaof): "
                "replication id %s, the previous one kept as id2 up to offset %d",
                backlog.replid or "(none yet)",
                backlog.id2_offset,
            )

    # -- ServerPort ------------------------------------------------------------------
    def master_state(self) -> MasterState | None:
        if self.master_addr is None:
            return None
        link = self._link
        session = self._master_session
        connected = session is not None and not session.closed
        return MasterState(
            self.master_addr[0],
            self.master_addr[1],
            self.link_state,
            link.last_io if link is not None else 0.0,
            self._link_down_since,
            self.keyspace.backlog.offset if connected else -1,
            self._read_offset if connected else -1,
            link.total if link is not None else -1,
            link.read if link is not None else 0,
            link.last_io if link is not None else 0.0,
        )

    def set_master(self, host: str, port: int) -> None:
        """REPLICAOF host port, in a batch (replicationSetMaster): clients waiting in
        blocking commands are told and closed; the link starts after the batch."""
        self._stop_following()
        self.lane.disconnect_blocked()
        ks = self.keyspace
        ks.abandon_load(ks.loading_slots())  # a load another REPLICAOF cut short
        ks.backlog.mark_following(True)
        self._begin_following(host, port)
        self._start_link()
        log.info("Connecting to MASTER %s:%d", host, port)

    def unset_master(self) -> None:
        """REPLICAOF NO ONE, in a batch (replicationUnsetMaster): a primary again, under
        a new replication id that keeps the old one as id2; sub-replicas are
        disconnected so that they continue with it."""
        if self.master_addr is None:
            return
        self._stop_following()
        ks = self.keyspace
        ks.abandon_load(ks.loading_slots())
        self.master_addr = None
        self.config.values["replicaof"] = None
        ks.following = False
        backlog = ks.backlog
        backlog.follow(False)
        backlog.mark_following(False)
        if backlog.active:
            backlog.shift()
        ks.repl.seldb = -1  # the next write selects its database
        ks.repl.alone_since = 0.0  # repl-backlog-ttl counts from now (Redis too)
        self.link_state = "none"
        self._link_down_since = 0.0
        for replica in list(self.replicas.values()):
            replica.conn.close()
        log.warning(
            "MASTER MODE enabled (user request from REPLICAOF NO ONE); replication id "
            "now %s, the previous one kept as id2 up to offset %d",
            backlog.replid or "(none yet)",
            backlog.id2_offset,
        )

    def request_ack(self) -> None:
        self._ack_due = True

    # -- the link's life ---------------------------------------------------------------
    def _begin_following(self, host: str, port: int) -> None:
        self.master_addr = (host, port)
        self.config.values["replicaof"] = (host, port)
        self.keyspace.following = True
        self.keyspace.backlog.follow(True)
        self.link_state = "connect"
        self._link_down_since = 0.0

    def _start_link(self) -> None:
        """Start following `master_addr` (the server's task group is running)."""
        assert self._tasks is not None and self.master_addr is not None
        self._follow_gen += 1
        self._tasks.start_soon(self._follow, *self.master_addr, self._follow_gen)

    def _stop_following(self) -> None:
        self._follow_gen += 1
        if self._follow_scope is not None:
            self._follow_scope.cancel()
            self._follow_scope = None
        self._drop_master_session()

    def _drop_master_session(self) -> None:
        session = self._master_session
        if session is not None:
            session.closed = True  # its units not run yet stop at once
            self._master_session = None

    def drop_master_link(self) -> None:
        """CLIENT KILL of the primary's client: the link is closed; it reconnects, and
        continues with PSYNC, as Redis does."""
        if self._link_scope is not None:
            self._link_scope.cancel()

    async def _follow(self, host: str, port: int, gen: int) -> None:
        failures = 0  # attempts in a row that did not reach the stream: the backoff
        if gen != self._follow_gen:  # REPLICAOF again before this task started
            return
        with trio.CancelScope() as scope:
            self._follow_scope = scope
            while gen == self._follow_gen:
                why = ""
                try:
                    with trio.CancelScope() as link_scope:
                        self._link_scope = link_scope
                        await self._sync_and_apply(host, port, gen)
                except LinkError as e:
                    why = str(e)
                except OSError as e:
                    why = "unable to connect: %s" % (e.strerror or e)
                except codec.RdbError as e:
                    why = "its RDB can't be loaded (%s)" % e
                except Exception as e:  # a bug must not end the server: logged, retried
                    log.exception("Replication from MASTER %s:%d failed", host, port)
                    why = "internal error %s" % type(e).__name__
                finally:
                    if gen == self._follow_gen:  # (else a newer task owns them)
                        self._link_scope = None
                        self._link = None
                        self._drop_master_session()
                if gen != self._follow_gen:
                    return
                if self.link_state == "connected":  # an established link was lost
                    failures = 0
                    self._link_down_since = time.monotonic()
                self.link_state = "connect"
                delay = min(_RETRY * 2**failures, _RETRY_MAX)
                failures += 1
                log.warning(
                    "Replication from MASTER %s:%d: %s. The current data is kept (%s); "
                    "retrying in %d s.",
                    host,
                    port,
                    why or "the link was closed",
                    "served to clients"
                    if self.config["replica-serve-stale-data"]
                    else "clients get MASTERDOWN",
                    delay,
                )
                await trio.sleep(delay)

    async def _sync_and_apply(self, host: str, port: int, gen: int) -> None:
        config = self.config
        timeout = config["repl-timeout"]
        self.link_state = "connecting"
        stream: trio.SocketStream | None = None
        with trio.move_on_after(timeout):
            stream = await trio.open_tcp_stream(host, port)
        if stream is None:
            raise LinkError("timeout connecting to the MASTER (repl-timeout)")
        async with stream:
            link = self._link = MasterLink(stream, timeout)
            self.link_state = "handshake"
            backlog = self.keyspace.backlog
            failover = self.failover_state == IN_PROGRESS
            try:
                resync = await link.handshake(
                    config["replica-announce-port"] or config["port"],
                    backlog.replid if backlog.active else "",
                    backlog.offset,
                    config["masteruser"],
                    config["masterauth"],
                    config["replica-announce-ip"],
                    failover=failover,
                )
            except PsyncRefused:
                if failover:  # the target refused: a primary again (abortFailover)
                    await self._job(
                        lambda: self.abort_failover("Failover target rejected psync request"),
                        gen,
                    )
                raise
            if failover:
                self.end_failover()
            session = self._new_master_session(stream, host, port)
            if resync.full:
                log.info(
                    "Full resync from MASTER %s:%d: replication id %s, offset %d",
                    host,
                    port,
                    resync.replid,
                    resync.offset,
                )
                self.link_state = "sync"
                await self._full_resync(link, resync, session, gen)
            else:
                log.info("Successful partial resynchronization with MASTER %s:%d", host, port)
                supervision.current.synced(partial=True)
                if resync.replid != backlog.replid:
                    await self._job(lambda: backlog.rename(resync.replid), gen)
                    log.info("The MASTER's replication id is now %s", resync.replid)
                    self._drop_replicas()
                session.db = max(backlog.seldb, 0)
            self.link_state = "connected"
            self._link_down_since = 0.0
            self._read_offset = backlog.offset
            await self._stream_with_acks(link, session, gen)

    async def _stream_with_acks(self, link: MasterLink, session: Session, gen: int) -> None:
        """Apply the stream while a second task sends the ACKs; whichever fails first
        ends both, its error raised as it is (not in an exception group)."""
        failed: list[Exception] = []

        async def guarded(body: Callable[[], Awaitable[None]]) -> None:
            try:
                await body()
            except (LinkError, StorageError, OSError) as e:
                failed.append(e)
            nursery.cancel_scope.cancel()

        self._ack_now.set()  # at once, as Redis does once synchronized
        async with trio.open_nursery() as nursery:
            nursery.start_soon(guarded, lambda: self._send_acks(link))
            nursery.start_soon(guarded, lambda: self._apply_stream(link, session, gen))
        if failed:
            raise failed[0]

    def _new_master_session(self, stream: trio.SocketStream, host: str, port: int) -> Session:
        try:
            local = stream.socket.getsockname()
            laddr = "%s:%d" % (local[0], local[1])
        except OSError:
            laddr = ""
        session = Session(
            id=self.next_id,
            addr="%s:%d" % (host, port),
            laddr=laddr,
            fd=stream.socket.fileno(),
            authenticated=True,
            acl_user=None,
        )
        self.next_id += 1
        session.master = True
        self._master_session = session
        return session

    def _drop_replicas(self) -> None:
        """Our replicas must follow a new history (Redis's disconnectSlaves)."""
        for replica in list(self.replicas.values()):
            replica.conn.close()

    # -- lane jobs -----------------------------------------------------------------------
    async def _job(self, fn: Callable[[], Any], gen: int, size: int = 0) -> Any:
        """Run `fn` in the next batch (its transaction); its result. LinkError when
        REPLICAOF changed meanwhile or the batch failed to commit."""
        attempt = self._master_session  # a job of this link's attempt: not after it ends
        session = attempt or Session(id=0, addr="", laddr="", authenticated=True)
        box: list[Any] = []
        done = trio.Event()
        unit = Unit(self.context(session), [], done.set, size)

        def after() -> None:
            if gen != self._follow_gen or (attempt is not None and attempt.closed):
                box.append(LinkError("replication was reconfigured meanwhile"))
                return
            try:
                box.append(("ok", fn()))
            except StorageError:
                raise
            except Exception as e:
                box.append(e)

        unit.after = after
        self.submit(unit)
        await done.wait()
        if unit.failed:
            raise LinkError("writing to the data folder failed: nothing of this step was kept")
        result = box[0] if box else LinkError("the step did not run")
        if isinstance(result, Exception):
            raise result
        return result[1]

    # -- a full resync -----------------------------------------------------------------
    async def _full_resync(
        self, link: MasterLink, resync: Resync, session: Session, gen: int
    ) -> None:
        path = os.path.join(self.config["dir"], "%s%d-%d.rdb" % (TRANSFER_PREFIX, os.getpid(), gen))
        try:
            size = await link.receive_rdb(path)
            log.info("MASTER <-> REPLICA sync: received %d bytes of RDB; loading it", size)
            with open(path, "rb") as f:
                async with trio.open_nursery() as nursery:
                    # A newline a second tells the primary we live while we load
                    # (Redis's replicationSendNewlineToMaster).
                    nursery.start_soon(self._send_newlines, link)
                    try:
                        await self._load_rdb(f, size, resync, session, gen)
                    finally:
                        nursery.cancel_scope.cancel()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._drop_replicas()
        log.info("MASTER <-> REPLICA sync: Finished with success")
        supervision.current.synced(partial=False)

    async def _send_newlines(self, link: MasterLink) -> None:
        with contextlib.suppress(LinkError):
            while True:
                await trio.sleep(1)
                await link.send(b"\n")

    async def _load_rdb(
        self, f: Any, size: int, resync: Resync, session: Session, gen: int
    ) -> None:
        ks, config = self.keyspace, self.config
        reader = codec.FileReader(f)
        records: Iterator[Record] = iter(reader)
        shadow: list[int] = await self._job(ks.begin_load, gen)
        finished = False
        loaded = 0

        def step() -> None:
            nonlocal finished, loaded
            started = time.monotonic()
            n = 0
            with ks.loading_into(shadow):
                for r in records:
                    if r.db >= ks.databases:
                        raise LinkError(
                            "the MASTER's data has database %d; this server has %d "
                            "(set databases to at least %d)" % (r.db, ks.databases, r.db + 1)
                        )
                    if ks.record(r.db, r.key) is not None:
                        raise LinkError("the MASTER's RDB holds key %r twice" % r.key[:100])
                    types.load(ks, r.db, r.key, r.value, r.expire_ms or 0, config)
                    n += 1
                    if n >= _STEP_RECORDS or time.monotonic() - started >= _STEP_SECONDS:
                        break
                else:
                    finished = True
            loaded += n

        try:
            while not finished:
                await self._job(step, gen, size=_STEP_BYTES)
        except Exception:
            # Not when cancelled: REPLICAOF abandons it itself, and a shutdown leaves
            # it to the next start.
            if gen == self._follow_gen:
                await self._job(lambda: ks.abandon_load(shadow), gen)
            raise

        def switch() -> None:
            if self.tracking.clients:  # every key may have changed, as with FLUSHALL
                self.tracking.flushed()
            ks.finish_load(shadow)
            problems = replace_all(self.scripts, ks, reader.functions)
            for problem in problems:
                log.error("A function library from the MASTER was not loaded: %s", problem)
            raw = reader.aux.get(b"repl-stream-db")
            seldb = int(raw) if raw is not None and raw.lstrip(b"-").isdigit() else -1
            ks.backlog.adopt(resync.replid, resync.offset, seldb)
            session.db = max(seldb, 0)

        await self._job(switch, gen)
        log.info(
            "MASTER <-> REPLICA sync: loaded %d keys, %d bytes; the dataset is the "
            "MASTER's at offset %d",
            loaded,
            size,
            resync.offset,
        )

    # -- the stream ----------------------------------------------------------------------
    async def _apply_stream(self, link: MasterLink, session: Session, gen: int) -> None:
        reader = RequestReader(max_bulk_len=_NO_LIMIT, max_query_buffer=_NO_LIMIT)
        held: list[list[bytes]] = []  # an open MULTI's commands: applied with its EXEC
        in_multi = False
        data, link.buf = link.buf, b""
        self._read_offset += len(data)
        while True:
            if data:
                reader.feed(data)
                session.last_interaction = time.monotonic()
            ready: list[list[bytes]] = []
            for argv in reader.pop():
                held.append(argv)
                name = argv[0].lower()
                if name == b"multi":
                    in_multi = True
                elif name in (b"exec", b"discard"):
                    in_multi = False
                if not in_multi:
                    ready += held
                    held = []
            if reader.error is not None:
                raise LinkError("protocol error in the MASTER's stream: %s" % reader.error)
            if ready:
                await self._apply(ready, session, gen)
            data = await link.receive()
            self._read_offset += len(data)

    async def _apply(self, requests: list[list[bytes]], session: Session, gen: int) -> None:
        """Apply `requests` in one batch, their bytes and offset with them."""
        raw = b"".join(encode_command(argv) for argv in requests)
        backlog = self.keyspace.backlog
        expected = backlog.offset + len(raw)
        done = trio.Event()
        unit = Unit(self.context(session), requests, done.set, len(raw))

        ks = self.keyspace

        def after() -> None:
            # Writes refused (the disk is full: MISCONF): not applied, so the offset
            # stays; the link is retried and the primary sends them again.
            if gen == self._follow_gen and not session.closed and ks.read_only_reason is None:
                backlog.proxy(raw, session.db)

        unit.after = after
        self.submit(unit)
        await done.wait()
        if gen != self._follow_gen or session.closed:
            raise LinkError("replication was reconfigured meanwhile")
        if unit.failed or backlog.offset != expected:
            raise LinkError(
                "the MASTER's stream could not be written (offset %d): %s"
                % (backlog.offset, unit.reply[:200].decode("utf-8", "replace").strip())
            )
        reply = unit.reply
        if reply.startswith(b"-") or b"\r\n-" in reply:
            self._report_errors(requests, reply)
        if self._ack_due:
            self._ack_due = False
            self._ack_now.set()

    def _report_errors(self, requests: list[list[bytes]], reply: bytes) -> None:
        """A command of the primary's failed here (propagation-error-behavior ignore,
        Redis 7.0's default): logged, with the command, for the operator."""
        reader = hiredis.Reader()
        reader.feed(reply)
        for argv in requests:
            if argv[0].lower() == b"replconf":  # GETACK: no reply
                continue
            answer = reader.gets()
            inner = answer if isinstance(answer, list) else [answer]  # EXEC's replies
            failed = [x for x in inner if isinstance(x, hiredis.ReplyError)]
            if failed:
                log.warning(
                    "== CRITICAL == This replica got an error applying its MASTER's "
                    "command %s: %s. The datasets may differ; a full resync "
                    "(REPLICAOF NO ONE, then REPLICAOF again) makes them equal.",
                    " ".join(a[:40].decode("utf-8", "replace") for a in argv[:3]),
                    failed[0],
                )
                return

    async def _send_acks(self, link: MasterLink) -> None:
        """REPLCONF ACK <offset>: every second, and at once when the primary asks."""
        while True:
            with trio.move_on_after(1):
                await self._ack_now.wait()
            self._ack_now = trio.Event()
            offset = self.keyspace.backlog.offset
            await link.send(encode_command([b"REPLCONF", b"ACK", b"%d" % offset]))
