"""What a handler sees: its client's session, the server port, settings, statistics.

Room: the state commands read and change, and the `ServerPort` protocol through
which they reach the server (CLIENT KILL, SHUTDOWN, MONITOR...). Imports:
`diskredis` (its version), `config`, `errors`, `keyspace`, the standard library.
Everything here is touched only on the storage lane, except the few session counters
the connection updates (documented on `Session`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from diskredis import __version__
from diskredis.config import Config
from diskredis.keyspace.space import LOOKUP_NONOTIFY, LOOKUP_READ, LOOKUP_TOUCH, Keyspace
from diskredis.keyspace.types import Build, Meta
from diskredis.keyspace.watches import Watch

REDIS_VERSION = "7.0.15"  # the Redis release whose behaviour diskredis follows
DISKREDIS_VERSION = __version__


@dataclass(eq=False)
class Session:
    """One client connection's state, as CLIENT LIST shows it.

    The connection task writes `last_interaction`, `qbuf`, `net_in`, `net_out`;
    everything else is written on the lane only.
    """

    id: int
    addr: str
    laddr: str
    fd: int = -1
    #: The replication stream's offset after this client's last command: what WAIT
    #: waits for replicas to acknowledge.
    woff: int = 0
    is_unix: bool = False
    created: float = field(default_factory=time.time)
    last_interaction: float = field(default_factory=time.monotonic)
    name: bytes = b""
    lib_name: bytes = b""
    lib_ver: bytes = b""
    db: int = 0
    resp: int = 2
    authenticated: bool = True
    user: str = "default"
    acl_user: Any = None  # the `acl.User` the client runs as (None: no ACLs, e.g. tools)
    # CLIENT REPLY: off, skip (this command), skip_next (the next one)
    reply_off: bool = False
    reply_skip: bool = False
    reply_skip_next: bool = False
    close_after_reply: bool = False
    closed: bool = False  # set when the connection is gone or killed
    is_script: bool = False  # the client a Lua script's commands run as
    monitor: bool = False
    blocked: bool = False  # waiting in a blocking command (BLPOP...)
    offloaded: bool = False  # its command runs on a worker thread (`Offload`)
    #: What was pushed to it meanwhile (an invalidation of the key it reads...): sent
    #: after that command's reply, as Redis, which answers before anything else happens.
    held_pushes: list[bytes] = field(default_factory=list)
    no_evict: bool = False
    no_touch: bool = False
    last_cmd: str = "NULL"
    qbuf: int = 0  # bytes read and not yet parsed into requests
    #: Its unit on the lane (`server.lane.Unit`: its requests and the index of the next
    #: to run): what Redis's query buffer still holds (`query_buffer`).
    unit: Any = None
    net_in: int = 0
    net_out: int = 0
    # MULTI: the queued commands (None outside a transaction); whether one was refused
    # while queueing (EXEC then aborts); set while EXEC runs them.
    multi: list[list[bytes]] | None = None
    multi_error: bool = False
    in_exec: bool = False
    watch: Watch = field(default_factory=Watch)
    # Pub/sub subscriptions, in subscription order (the hub holds the reverse maps).
    channels: dict[bytes, None] = field(default_factory=dict)
    patterns: dict[bytes, None] = field(default_factory=dict)
    shard_channels: dict[bytes, None] = field(default_factory=dict)
    #: In pub/sub mode: subscribed to anything, shard channels included (kept by `Hub`,
    #: which alone changes the three maps above; read for every command).
    pubsub: bool = False
    # What the client said of itself with REPLCONF (`replication.ReplicaRequest`).
    replica: Any = None
    #: The link to this server's primary (a replica's "master client"): its commands
    #: are obeyed (no READONLY, no pause) and get no reply.
    master: bool = False
    #: Client-side caching: its mode (`tracking.Tracked`), None when not tracking.
    tracking: Any = None

    @property
    def subscriptions(self) -> int:
        """Channels plus patterns (clientSubscriptionsCount)."""
        return len(self.channels) + len(self.patterns)

    def query_buffer(self, running: bool) -> int:
        """CLIENT LIST's qbuf: the bytes of the requests not run yet (the one running
        included, for the client that asks), as clients send them, and those not parsed
        yet."""
        size = self.qbuf
        unit = self.unit
        if unit is not None:
            start = unit.next - (1 if running else 0)
            for argv in unit.requests[max(start, 0) :]:
                size += len(b"*%d\r\n" % len(argv)) + sum(
                    len(b"$%d\r\n" % len(a)) + len(a) + 2 for a in argv
                )
        return size

    def client_type(self) -> str:
        """getClientType: MONITOR clients count as normal ones, as in Redis."""
        if self.master:
            return "master"
        return "pubsub" if self.pubsub else "normal"

    def flags_text(self) -> str:
        """The `flags=` field of CLIENT LIST (networking.c getClientInfoString)."""
        out = "M" if self.master else ""
        if self.monitor:
            out += "O"
        if self.pubsub:
            out += "P"
        if self.multi is not None:
            out += "x"
        if self.blocked:
            out += "b"
        if self.tracking is not None:
            out += "t"
            if self.tracking.broken:
                out += "R"
            if self.tracking.bcast:
                out += "B"
        if self.watch.dirty:
            out += "d"
        if self.close_after_reply:
            out += "c"
        if self.is_unix:
            out += "U"
        if self.no_evict:
            out += "e"
        if self.no_touch:
            out += "T"
        return out or "N"


@dataclass
class ReplicaState:
    """A replica as the primary sees it (INFO's slaveN line, ROLE)."""

    ip: str
    port: int
    state: str  # "wait_bgsave", "send_bulk" or "online"
    ack: int  # the offset it acknowledged
    lag: int  # seconds since its last ACK


@dataclass
class MasterState:
    """A replica's primary and the link to it (INFO replication, ROLE)."""

    host: str
    port: int
    # "connect", "connecting", "handshake", "sync" (a full resync's transfer and
    # load) or "connected" (the stream is applied)
    state: str
    last_io: float  # monotonic time of the last bytes from the primary (0: none yet)
    down_since: float  # monotonic time the link went down (0: never up since REPLICAOF)
    offset: int  # the stream's offset applied (-1: no link to the primary)
    read_offset: int  # the stream's offset read
    transfer_total: int  # a full resync's RDB: its size (-1 unknown, 0 EOF-marked)
    transfer_read: int  # what was read of it
    transfer_last_io: float  # when its last bytes came


class ServerPort(Protocol):
    """What commands may ask of the server; implemented in `server/`."""

    run_id: str
    #: Whether a client may be in MONITOR mode: False only when `monitors()` is empty
    #: (True may be stale: `monitors()` then drops the gone ones). Read for every command.
    monitoring: bool

    @property
    def offloads(self) -> bool:
        """Whether a command may answer with an `Offload` now (a server's lane runs
        them, a few at a time; the offline tools run every command inline)."""
        ...

    def sessions(self) -> list[Session]: ...

    def session_by_id(self, client_id: int) -> Session | None:
        """The client with that id, if connected (lookupClientByID)."""
        ...

    def kill(self, session: Session) -> None: ...

    def start_monitor(self, session: Session) -> None: ...

    def monitors(self) -> list[Session]: ...

    def push(self, session: Session, data: bytes) -> None: ...

    def feed_monitor(self, session: Session, line: bytes) -> None:
        """A MONITOR line for `session`, sent after the reply of the command running."""
        ...

    def exit_now(self, why: str) -> None:
        """SHUTDOWN NOSAVE while a script is busy: end the process at once (logged with
        `why`); never returns."""
        ...

    def pause(self, until_monotonic: float, writes_only: bool) -> None: ...

    def unpause(self) -> None: ...

    def checkpoint(self) -> None: ...

    def start_compaction(self) -> None:
        """COMPACT: give the space of deleted data back, in the background."""

    def info_fields(self) -> dict[str, Any]: ...

    def replica_states(self) -> list[ReplicaState]:
        """The replicas taking the stream (INFO replication, ROLE, WAIT)."""
        ...

    def master_state(self) -> MasterState | None:
        """This server's primary and the link to it; None when it is a primary."""
        ...

    def set_master(self, host: str, port: int) -> None:
        """REPLICAOF host port (in a batch): follow that primary from now on."""
        ...

    def unset_master(self) -> None:
        """REPLICAOF NO ONE (in a batch): a primary again, under a new replication id."""
        ...

    #: FAILOVER's state: "no-failover", "waiting-for-sync" or "failover-in-progress".
    failover_state: str

    def start_failover(self, target: tuple[str, int] | None, timeout_ms: int, force: bool) -> None:
        """FAILOVER (checked): hold writes until a replica has the whole stream."""
        ...

    def abort_failover(self, why: str) -> None:
        """FAILOVER ABORT (in a batch): writes go on; a primary again if it had begun."""
        ...

    def abort_shutdown(self) -> bool:
        """SHUTDOWN ABORT: call off a shutdown waiting for replicas; False if none."""
        ...

    def shutdown_in_ms(self) -> int | None:
        """Milliseconds left to a shutdown waiting for replicas; None when none waits."""
        ...

    def request_ack(self) -> None:
        """REPLCONF GETACK from the primary: acknowledge once this batch is written."""
        ...

    def reset_stats(self) -> None: ...

    def unblock(self, client_id: int, error: bool) -> bool:
        """CLIENT UNBLOCK: end the wait of a blocked client; False if it is not blocked."""
        ...

    def apply_config(self, names: list[str]) -> None:
        """Act on parameters CONFIG SET has just changed; raise ConfigError to undo."""
        ...


@dataclass
class SlowlogEntry:
    id: int
    when: int
    usec: int
    argv: list[bytes]
    addr: str
    name: bytes


@dataclass
class Stats:
    """Server-wide counters (INFO stats, commandstats, errorstats, SLOWLOG, LATENCY)."""

    started: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    commands: int = 0
    connections: int = 0
    rejected_connections: int = 0
    net_input: int = 0
    net_output: int = 0
    errors_total: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    slowlog: deque[SlowlogEntry] = field(default_factory=deque)
    slowlog_next_id: int = 0
    latency: dict[str, deque[tuple[int, int]]] = field(default_factory=dict)
    latency_max: dict[str, int] = field(default_factory=dict)
    last_save: int = field(default_factory=lambda: int(time.time()))
    saves: int = 0
    sync_full: int = 0  # full resyncs served (INFO stats)
    sync_partial_ok: int = 0
    sync_partial_err: int = 0

    def count_error(self, code: str) -> None:
        self.errors_total += 1
        # Redis keeps at most 128 distinct codes, then folds new ones away.
        if code in self.errors or len(self.errors) < 128:
            self.errors[code] = self.errors.get(code, 0) + 1

    def add_latency(self, event: str, ms: int) -> None:
        """Record a latency spike (LATENCY LATEST/HISTORY); 160 samples an event."""
        now = int(time.time())
        samples = self.latency.setdefault(event, deque(maxlen=160))
        if samples and samples[-1][0] == now:
            samples[-1] = (now, max(samples[-1][1], ms))
        else:
            samples.append((now, ms))
        self.latency_max[event] = max(self.latency_max.get(event, 0), ms)


@dataclass
class Block:
    """A blocking command's answer when it has to wait: the lane parks the client and,
    each time one of `keys` (in the client's database) is written, calls `serve` with
    the client's context and that key; the first non-None answer is the command's reply
    (Redis serves a waiter from the key that became ready, only when it holds the type
    the command pops). At `deadline_ms` (0: never) the answer is `timeout_reply`."""

    keys: list[bytes]
    deadline_ms: int
    timeout_reply: Any
    serve: Callable[[Ctx, bytes], Any]
    #: The answer where the client may not block (inside MULTI/EXEC), when it differs
    #: from `timeout_reply` (BLMOVE: a null bulk string, not a null array).
    nonblocking_reply: Any = NotImplemented
    #: Set by the dispatcher when the client waits: the command and how long its call
    #: took (SLOWLOG and the latency histogram count it once it is served).
    cmd: Any = None
    elapsed_ns: int = 0
    #: A wait on something other than keys (WAIT: replicas' acknowledgements): asked
    #: at each batch; its first non-None answer is the reply.
    poll: Callable[[Ctx], Any] | None = None
    #: The reply at the timeout when it is computed then (WAIT: the count so far).
    on_timeout: Callable[[Ctx], Any] | None = None

    def timeout_value(self, ctx: Ctx) -> Any:
        """The reply at the timeout (or CLIENT UNBLOCK)."""
        return self.timeout_reply if self.on_timeout is None else self.on_timeout(ctx)

    def reply_without_waiting(self) -> Any:
        if self.nonblocking_reply is NotImplemented:
            return self.timeout_reply
        return self.nonblocking_reply


@dataclass(frozen=True)
class Offload:
    """A reply computed away from the lane, for a command whose work on a big value would
    hold every other client (DUMP of a big collection or string). When it asks for a
    snapshot, the lane ends its batch after the command, so that the engine snapshot
    the server takes once the batch is committed holds exactly what the command saw;
    `job` then runs on a worker thread with a read-only keyspace over that snapshot
    (None without one: the job was handed what it needs), and what it returns (a value
    or a RedisError) is the reply. The client's later requests, and what is pushed to
    it, wait behind it. Only where a client may wait: not inside MULTI/EXEC or a
    script (`Ctx.may_offload`)."""

    job: Callable[[Keyspace | None], Any]
    snapshot: bool = True
    #: on the lane, when the job does not run or fails (what the command took is let go)
    abandon: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Resume:
    """What an Offload's job may return instead of a reply: the rest of its command, run
    on the lane. First `build`, if given (a `types.Build`), writes its value a bounded
    step per batch; then `finish(ctx)` ends the command as its handler would -- within
    a call (replicated as the command unless it rewrites itself, keyspace events,
    tracking, blocked clients served), once nothing holds writes -- and what it returns
    is the reply: a value, a RedisError, or another Offload. When the command cannot
    end so (the client went away, a batch failed, writes are refused now), `abandon`
    runs instead, in a batch."""

    finish: Callable[[Ctx], Any]
    abandon: Callable[[], None] = lambda: None
    build: Build | None = None


@dataclass(frozen=True)
class Shutdown:
    """SHUTDOWN's answer when the server is to stop: the lane holds the client (Redis's
    BLOCKED_SHUTDOWN) and, after its batch is committed, the server saves when `save`
    is set (the checkpoint that leaves the restart no log to replay) and stops, or,
    when the save failed and `force` is not set, answers the client with an error and
    serves on. `now`: do not wait for replicas to catch up (shutdown-timeout)."""

    save: bool
    now: bool
    force: bool


@dataclass
class Hub:
    """Pub/sub: who listens to what. Each map goes from a channel (or pattern) to its
    subscribers in subscription order; a name leaves its map with its last subscriber.
    Touched on the lane only; sessions of closed connections wait in `gone` until
    the lane drops their subscriptions."""

    channels: dict[bytes, dict[Session, None]] = field(default_factory=dict)
    patterns: dict[bytes, dict[Session, None]] = field(default_factory=dict)
    shard_channels: dict[bytes, dict[Session, None]] = field(default_factory=dict)
    gone: list[Session] = field(default_factory=list)

    def add(self, kind: str, session: Session, name: bytes) -> bool:
        """Subscribe `session` to `name` in table `kind` ("channels", "patterns" or
        "shard_channels"); False if it already was."""
        mine: dict[bytes, None] = getattr(session, kind)
        if name in mine:
            return False
        mine[name] = None
        session.pubsub = True
        table: dict[bytes, dict[Session, None]] = getattr(self, kind)
        table.setdefault(name, {})[session] = None
        return True

    def remove(self, kind: str, session: Session, name: bytes) -> bool:
        """Unsubscribe `session` from `name`; False if it was not subscribed."""
        mine: dict[bytes, None] = getattr(session, kind)
        if name not in mine:
            return False
        del mine[name]
        session.pubsub = bool(session.channels or session.patterns or session.shard_channels)
        table: dict[bytes, dict[Session, None]] = getattr(self, kind)
        subscribers = table[name]
        del subscribers[session]
        if not subscribers:
            del table[name]
        return True

    def forget(self, session: Session) -> None:
        """Drop every subscription of `session` (RESET, a closed connection)."""
        for kind in ("channels", "patterns", "shard_channels"):
            for name in list(getattr(session, kind)):
                self.remove(kind, session, name)

    def drop_gone(self) -> None:
        """Forget the sessions of connections closed since the last call (lane)."""
        while self.gone:
            self.forget(self.gone.pop())


@dataclass
class Ctx:
    """A handler's view: the calling session plus the server-wide objects."""

    session: Session
    server: ServerPort
    config: Config
    stats: Stats
    ks: Keyspace
    hub: Hub
    #: The server's scripts (`scripting.Scripts`).
    scripts: Any
    #: Set by the dispatcher: the command being run (for errors naming it).
    name: str = ""
    #: The server's users and ACL log (`acl.Acl`); None where no server runs (tools).
    acl: Any = None
    #: Client-side caching (`tracking.Tracking`); None where no server runs (tools).
    tracking: Any = None
    #: Set by the dispatcher for the command being run: how its lookups go
    #: (`Keyspace.lookup`'s flags): LOOKUP_TOUCH unless the client is NO-TOUCH (TOUCH
    #: itself always touches), LOOKUP_READ | LOOKUP_CACHE for a read-only command.
    lookup_flags: int = LOOKUP_TOUCH

    @property
    def may_offload(self) -> bool:
        """Whether this command may answer with an `Offload`: a server runs it, and the
        client may wait (not inside MULTI/EXEC or a script, not a primary's stream)."""
        s = self.session
        return self.server.offloads and not (s.in_exec or s.is_script or s.master)

    def propagate_as(self, *argv: bytes) -> None:
        """Replicate this call as `argv` instead of what the client sent (when writes
        are recorded for replicas)."""
        repl = self.ks.repl
        if repl.backlog.recording:
            repl.rewritten = list(argv)

    def deletion(self, lazy_param: str) -> bytes:
        """The command a deletion replicates as: UNLINK when the lazyfree parameter
        (lazyfree-lazy-expire, lazyfree-lazy-user-del) is yes, else DEL."""
        return b"UNLINK" if self.config[lazy_param] else b"DEL"

    def lookup(
        self,
        key: bytes,
        db: int | None = None,
        read: bool | None = None,
        touch: bool = True,
        notify_miss: bool = True,
    ) -> Meta | None:
        """The key's record in the client's database (or `db`), as the running command
        looks it up; `read` (a read whatever the command: GETSET's, SORT's, a
        *STORE's sources, as Redis's lookupKeyRead) and the rest change its flags."""
        flags = self.lookup_flags
        if read is not None:
            flags = flags | LOOKUP_READ if read else flags & ~LOOKUP_READ
        if not touch:
            flags &= ~LOOKUP_TOUCH
        if not notify_miss:
            flags |= LOOKUP_NONOTIFY
        return self.ks.lookup(self.session.db if db is None else db, key, flags)

    def notify(self, cls: int, event: bytes, key: bytes, db: int | None = None) -> None:
        """A keyspace notification for `key` in the client's database (or `db`)."""
        self.ks.event(cls, event, key, self.session.db if db is None else db)
