"""FAILOVER: a primary hands its role to one of its replicas, with no write lost.

Room: the coordinated failover of Redis 7.0 (replication.c failoverCommand,
updateFailoverStatus): writes are paused, the primary waits for a replica to
acknowledge the whole stream, then becomes that replica's replica with `PSYNC <replid>
<offset> FAILOVER`, which makes the replica a primary that continues the same history.
Imports: `commands.context`, `keyspace.space` (a type), this package (lane), the
standard library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from diskredis.commands.context import ReplicaState
from diskredis.keyspace.space import Keyspace
from diskredis.server.lane import Lane

log = logging.getLogger("diskredis")

NO_FAILOVER = "no-failover"
WAITING = "waiting-for-sync"
IN_PROGRESS = "failover-in-progress"


class Failover:
    """The failover part of `Server` (a mixin: the state it uses is the server's)."""

    keyspace: Keyspace
    lane: Lane
    replica_states: Callable[[], list[ReplicaState]]  # the ServerPort's (port.py)
    set_master: Callable[[str, int], None]  # following.py
    unset_master: Callable[[], None]

    def _init_failover(self) -> None:
        self.failover_state = NO_FAILOVER
        self._failover_target: tuple[str, int] | None = None
        self._failover_end = 0.0  # monotonic deadline (0: none)
        self._failover_force = False
        self.lane.on_tick = self.update_failover

    # -- ServerPort ------------------------------------------------------------------
    def start_failover(self, target: tuple[str, int] | None, timeout_ms: int, force: bool) -> None:
        """FAILOVER's request, checked by the command: pause writes and wait."""
        if target is not None:
            log.info("FAILOVER requested to %s:%d.", *target)
        else:
            log.info("FAILOVER requested to any replica.")
        self._failover_target = target
        self._failover_end = time.monotonic() + timeout_ms / 1000 if timeout_ms else 0.0
        self._failover_force = force
        self.failover_state = WAITING
        self.lane.holds.add("failover")

    def abort_failover(self, why: str) -> None:
        """In a batch: give up the failover (FAILOVER ABORT, a timeout, a refusal)."""
        if self.failover_state == NO_FAILOVER:
            return
        if self._failover_target is not None:
            log.info("FAILOVER to %s:%d aborted: %s", *self._failover_target, why)
        else:
            log.info("FAILOVER to any replica aborted: %s", why)
        if self.failover_state == IN_PROGRESS:
            self.unset_master()
        self._clear_failover()

    def end_failover(self) -> None:
        """The target accepted our PSYNC FAILOVER: we are its replica (clearFailoverState)."""
        log.info(
            "FAILOVER to %s:%d done: this server is its replica now.",
            *(self._failover_target or ("?", 0)),
        )
        self._clear_failover()

    def _clear_failover(self) -> None:
        self.failover_state = NO_FAILOVER
        self._failover_target = None
        self._failover_end = 0.0
        self._failover_force = False
        self.lane.holds.discard("failover")

    def update_failover(self) -> None:
        """In each batch's housekeeping (updateFailoverStatus)."""
        if self.failover_state != WAITING:
            return
        if self._failover_end and time.monotonic() >= self._failover_end:
            if self._failover_force and self._failover_target is not None:
                log.info(
                    "FAILOVER to %s:%d time out exceeded, failing over.", *self._failover_target
                )
                self.failover_state = IN_PROGRESS
                self.set_master(*self._failover_target)
            else:
                self.abort_failover("Replica never caught up before timeout")
            return
        offset = self.keyspace.backlog.end  # (with this batch's PING, if any)
        target = self._failover_target
        for r in self.replica_states():
            if r.state != "online":
                continue
            if target is None and r.ack == offset:
                target = self._failover_target = (r.ip, r.port)
            if target is not None and (r.ip.lower(), r.port) == (target[0].lower(), target[1]):
                if r.ack == offset:
                    log.info("Failover target %s:%d is synced, failing over.", *target)
                    self.failover_state = IN_PROGRESS
                    self.set_master(*target)
                return
