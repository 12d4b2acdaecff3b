"""The storage lane: the one thread where commands run.

Room: ordering and batching of command execution. Imports: `commands`,
`resp.writer`, the standard library (no trio: the lane talks back to trio only
through the `deliver` callback it is given).

Every connection hands the lane a `Unit` (all complete requests of one read).
The lane drains everything queued from all connections into one batch, runs
it in arrival order, and only then releases the batch's replies together with
whatever the batch produced for other clients (MONITOR lines, kills) in one
hop back to trio. Once storage lands, the batch's commit sits between the two,
so one fsync serves every client of the batch (group commit).

CLIENT PAUSE holds a unit at its first paused command; held units resume, in
arrival order, when the pause ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diskredis.commands.context import Ctx
from diskredis.commands.dispatch import NO_REPLY, execute
from diskredis.commands.registry import lookup
from diskredis.errors import RedisError
from diskredis.resp.writer import encode

log = logging.getLogger("diskredis.lane")

__all__ = ["Lane", "Unit"]


@dataclass(eq=False)
class Unit:
    """One read's worth of requests from one client, and what came of them."""

    ctx: Ctx
    requests: list[list[bytes]]
    done: Callable[[], None]  # called on the trio side when `reply` is ready
    reply: bytes = b""
    next: int = 0  # index of the next request to run (a paused unit resumes here)
    parts: list[bytes] = field(default_factory=list)


@dataclass
class Outcome:
    """What a batch leaves for trio to do after its commit."""

    units: list[Unit] = field(default_factory=list)
    pushes: list[tuple[Any, bytes]] = field(default_factory=list)
    kills: list[Any] = field(default_factory=list)
    shutdown: tuple[bool | None, bool, bool] | None = None


_STOP = object()


class Lane:
    """A dedicated thread running batches of units; see the module docstring."""

    def __init__(self, deliver: Callable[[Outcome], None]) -> None:
        self._deliver = deliver
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="diskredis-lane", daemon=True)
        self._held: list[Unit] = []
        self._pause_until = 0.0
        self._pause_writes_only = False
        self._outcome = Outcome()
        self.stopped = threading.Event()

    # -- called from trio ----------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, unit: Unit) -> None:
        self._queue.put(unit)

    def stop(self) -> None:
        """Finish what is queued, then end the thread (join it off the trio thread)."""
        self._queue.put(_STOP)

    def join(self) -> None:
        self._thread.join()

    # -- called on the lane (through ServerPort) ----------------------------------
    def push(self, session: Any, data: bytes) -> None:
        self._outcome.pushes.append((session, data))

    def kill(self, session: Any) -> None:
        session.closed = True
        self._outcome.kills.append(session)

    def shutdown(self, save: bool | None, now: bool, force: bool) -> None:
        self._outcome.shutdown = (save, now, force)

    def pause(self, until: float, writes_only: bool) -> None:
        # As Redis: a pause only ever gets longer and stricter (WRITE -> ALL).
        if self._pause_until <= time.monotonic():
            self._pause_until, self._pause_writes_only = until, writes_only
        else:
            self._pause_until = max(self._pause_until, until)
            self._pause_writes_only = self._pause_writes_only and writes_only

    def unpause(self) -> None:
        self._pause_until = 0.0

    # -- the thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                timeout = None
                if self._held:
                    timeout = max(self._pause_until - time.monotonic(), 0.0)
                try:
                    first = self._queue.get(timeout=timeout)
                except queue.Empty:
                    first = None
                batch: list[Any] = [] if first is None else [first]
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(u is _STOP for u in batch)
                units = self._held + [u for u in batch if u is not _STOP]
                self._held = []
                self._run_batch(units)
                if stop:
                    break
        except BaseException:  # pragma: no cover - a lane crash must be loud
            log.exception("the storage lane stopped on an unexpected error")
            raise
        finally:
            self.stopped.set()

    def _paused(self, argv: list[bytes]) -> bool:
        if not self._pause_until:
            return False
        if time.monotonic() >= self._pause_until:
            self._pause_until = 0.0
            return False
        if not self._pause_writes_only:
            return True
        cmd = lookup(argv)
        return cmd is not None and ("write" in cmd.flags or "may_replicate" in cmd.flags)

    def _run_batch(self, units: list[Unit]) -> None:
        out = self._outcome
        for unit in units:
            if self._run_unit(unit):
                out.units.append(unit)
            else:
                self._held.append(unit)
        # (The storage commit of the batch goes here: replies leave after it.)
        if out.units or out.pushes or out.kills or out.shutdown:
            self._outcome = Outcome()
            self._deliver(out)

    def _run_unit(self, unit: Unit) -> bool:
        """Run the unit's requests; False when a pause holds it (it resumes later)."""
        ctx = unit.ctx
        session = ctx.session
        parts = unit.parts
        requests = unit.requests
        while unit.next < len(requests):
            if session.close_after_reply or session.closed:
                break
            argv = requests[unit.next]
            if self._paused(argv):
                return False
            unit.next += 1
            try:
                reply = execute(ctx, argv)
            except Exception as e:  # a bug in a handler must not kill the lane
                log.exception("command %r failed inside diskredis", argv[:1])
                reply = RedisError("ERR internal error in diskredis: %s" % type(e).__name__)
            if reply is not NO_REPLY and not (session.reply_off or session.reply_skip):
                parts.append(encode(reply, session.resp))
            # resetClient: SKIP covers exactly the command after CLIENT REPLY SKIP.
            session.reply_skip = False
            if session.reply_skip_next:
                session.reply_skip = True
                session.reply_skip_next = False
        unit.reply = b"".join(parts)
        unit.parts = []
        return True
