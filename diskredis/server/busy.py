"""Serving clients while a script is busy.

Room: what Redis's processEventsWhileBlocked does: once a script runs past
`busy-reply-threshold`, its Lua hook accepts new clients and serves the ready sockets,
and their requests run at once through the dispatcher in its busy mode
(`Lane.run_now`, `dispatch.execute(busy=True)`); only what a CLIENT PAUSE holds waits
for the lane. Imports: `commands.scripting`, this package (listeners, lane,
connection), trio, the standard library.
"""

from __future__ import annotations

import logging
import socket

import trio

from diskredis.commands.scripting import Scripts
from diskredis.server.lane import Lane, Unit
from diskredis.server.listeners import Listening

log = logging.getLogger("diskredis")


class BusyServing(Listening):
    """The busy-script part of `Server` (a mixin: the state it uses is the server's)."""

    lane: Lane
    scripts: Scripts
    _gathered: list[Unit]
    _gather_wake: trio.Event

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
            log.exception("serving clients while the script %s was busy failed", self.scripts.name)

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
