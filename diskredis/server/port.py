"""The `ServerPort`: what commands ask of the server, in one place.

Room: the one seam between commands and the server. The lane's own parts (kill,
unblock, push, feed_monitor, pause, unpause) are the lane's methods, bound here as they
are (`bind_lane`); the rest needs the connections, the engine or the process. Imports:
`commands.context`, `config`, `keyspace.space` (a type), this package (lane, listeners,
tls), trio, the standard library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import trio

from diskredis.commands.context import Ctx, ReplicaState, Session
from diskredis.config import ConfigError
from diskredis.keyspace.space import Keyspace
from diskredis.server.lane import Lane
from diskredis.server.listeners import Listening
from diskredis.server.tls import TlsError, tls_context

log = logging.getLogger("diskredis")


class Port(Listening):
    """`ServerPort` as the server implements it (a mixin: the state is the server's;
    CONFIG SET port rebinds its listeners)."""

    engine: Any
    keyspace: Keyspace
    lane: Lane
    compaction_info: Callable[[], list[tuple[str, Any]]]  # (compaction.py's)
    run_id: str
    monitoring: bool
    token: trio.lowlevel.TrioToken | None
    startup_rss: int
    net_in: int
    net_out: int
    reads: int
    writes: int
    _monitors: list[Session]
    replicas: dict[int, Any]  # `replicas.Replica` by client id (`replicas.py`)
    _master_session: Session | None  # a replica's link to its primary (`following.py`)
    syncing: dict[int, Any]  # `snapshots.Syncing` by client id
    scripts: Any
    _samples: list[tuple[float, int, int, int]]
    _loop_thread: int

    # The lane's own: commands call them on the lane, with no frame of ours between.
    kill: Callable[[Session], None]
    unblock: Callable[[int, bool], bool]
    push: Callable[[Session, bytes], None]
    feed_monitor: Callable[[Session, bytes], None]
    pause: Callable[[float, bool], None]
    unpause: Callable[[], None]

    def bind_lane(self, lane: Lane) -> None:
        self.kill, self.unblock, self.push = lane.kill, lane.unblock, lane.push
        self.feed_monitor, self.pause, self.unpause = lane.feed_monitor, lane.pause, lane.unpause

    def context(self, session: Session) -> Ctx:
        """The context `session`'s commands run in."""
        return Ctx(
            session,
            self,  # type: ignore[arg-type]
            self.config,
            self.stats,
            self.keyspace,
            self.hub,
            self.scripts,
            acl=self.acl,
            tracking=self.tracking,
        )

    def sessions(self) -> list[Session]:
        out = [c.session for c in list(self.connections.values())]
        master = self._master_session
        if master is not None and not master.closed:
            out.append(master)
        return out

    def session_by_id(self, client_id: int) -> Session | None:
        conn = self.connections.get(client_id)
        return None if conn is None else conn.session

    def start_monitor(self, session: Session) -> None:
        self._monitors.append(session)
        self.monitoring = True

    def monitors(self) -> list[Session]:
        """Sessions in MONITOR mode (asked for every command: kept as a list)."""
        if self._monitors and any(s.closed or not s.monitor for s in self._monitors):
            self._monitors = [s for s in self._monitors if s.monitor and not s.closed]
            self.monitoring = bool(self._monitors)
        return self._monitors

    def exit_now(self, why: str) -> None:
        """SHUTDOWN NOSAVE while a script is busy: the lane cannot be waited for, so the
        process ends at once. Every acknowledged write is already durable; the script's
        writes were never committed, so they are gone, as they would be from Redis."""
        log.warning(
            "%s: exiting now without waiting for the script; its writes are discarded.", why
        )
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
                raise ConfigError(
                    "Unable to update TLS configuration. Check server logs.", param=tls_names[0]
                ) from None
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
                    raise ConfigError(
                        "Failed to bind to specified addresses.", param="bind"
                    ) from None
                raise ConfigError(
                    "Unable to listen on this port. Check server logs.",
                    param="port" if "port" in names else "tls-port",
                ) from None

    def replica_states(self) -> list[ReplicaState]:
        now = time.monotonic()
        online = [
            ReplicaState(
                _replica_ip(r.request, r.conn.session),
                r.request.listening_port,
                "online",
                r.ack,
                int(now - r.ack_time),
            )
            for r in self.replicas.values()
        ]
        syncing = [
            ReplicaState(
                _replica_ip(s.request, s.conn.session),
                s.request.listening_port if s.request is not None else 0,
                s.state,
                0,
                0,
            )
            for s in self.syncing.values()
        ]
        return online + syncing

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
            "expired_subkeys": self.keyspace.expired_fields,
            "blocked_clients": self.lane.blocked_clients,
            "keyspace_hits": self.keyspace.hits,
            "keyspace_misses": self.keyspace.misses,
            "keyspace": self._keyspace_info,  # called only for INFO keyspace
            "storage": [
                ("disk_bytes", self.engine.disk_size()),
                ("fsync_each_commit", int(self.engine.fsync)),
                ("fsyncs", self.engine.fsyncs),
                ("cache_limit_bytes", self.keyspace.cache.limit),
                ("cache_used_bytes", self.keyspace.cache.bytes),
                ("cache_keys", len(self.keyspace.cache)),
                ("cache_hits", self.keyspace.cache.hits),
                ("cache_misses", self.keyspace.cache.misses),
                ("access_table_keys", len(self.keyspace.access)),
                ("access_table_limit", self.keyspace.access.limit),
                ("gc_pending_jobs", self.keyspace.reclaim.pending()),
                ("values_building", self.lane.building),
                ("records_read", self.engine.records_read),
                ("lane_batches", self.lane.batches),
                ("lane_batched_clients", self.lane.batched_units),
                ("lane_write_commits", self.lane.write_commits),
                *self.compaction_info(),
                *self.engine.info(),
            ],
        }

    def _keyspace_info(self) -> list[tuple[str, str]]:
        out = []
        ks = self.keyspace
        due = ks.leaving()
        for db in range(ks.databases):
            keys = ks.stored(db) - due.get(db, 0)
            if keys:
                expires = ks.expires(db) - due.get(db, 0)
                out.append(
                    (
                        "db%d" % db,
                        "keys=%d,expires=%d,avg_ttl=%d"
                        % (keys, expires, ks.avg_ttl(db) if expires else 0),
                    )
                )
        return out

    def _instantaneous(self) -> tuple[int, float, float]:
        s = self._samples
        if len(s) < 2:
            return 0, 0.0, 0.0
        (t0, c0, i0, o0), (t1, c1, i1, o1) = s[0], s[-1]
        dt = max(t1 - t0, 1e-9)
        return int((c1 - c0) / dt), (i1 - i0) / dt / 1024, (o1 - o0) / dt / 1024


_LEVELS = {
    "debug": logging.DEBUG,
    "verbose": 15,
    "notice": logging.INFO,
    "warning": logging.WARNING,
}


def set_log_level(level: str) -> None:
    logging.getLogger("diskredis").setLevel(_LEVELS[level])


def _replica_ip(request: Any, session: Session) -> str:
    """REPLCONF ip-address, else the address the replica connects from."""
    given = request.ip_address.decode() if request is not None else ""
    return given or session.addr.rsplit(":", 1)[0]
