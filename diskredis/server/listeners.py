"""Listening sockets and accepted connections.

Room: the server's sockets: listening on `bind`/`port`/`tls-port`/`unixsocket`,
rebinding on CONFIG SET, accepting (maxclients, protected mode, keepalive) and handing
each client to the reactor as a `Connection`. Imports: `commands.context`, `config`,
`errors`, `keyspace.space` (a type), this package (connection), trio, the standard
library.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import ssl
from typing import TYPE_CHECKING, Any, cast

import trio

from diskredis import errors
from diskredis.commands.context import Hub, Session, Stats
from diskredis.config import Config
from diskredis.keyspace.space import Keyspace
from diskredis.server.connection import Connection, Reactor, TlsConnection

if TYPE_CHECKING:
    pass

if TYPE_CHECKING:
    from diskredis.server.app import Server

log = logging.getLogger("diskredis")


class Listening:
    """The listener part of `Server` (a mixin: the state it uses is the server's)."""

    config: Config
    stats: Stats
    acl: Any
    hub: Hub
    keyspace: Keyspace
    tracking: Any
    reactor: Reactor
    tls: ssl.SSLContext | None
    connections: dict[int, Connection]
    listeners: list[trio.SocketListener]
    unix_path: str | None
    next_id: int
    _tasks: trio.Nursery | None
    _tls_listeners: set[trio.SocketListener]
    _accept_scopes: dict[trio.SocketListener, trio.CancelScope]
    syncing: dict[int, Any]  # replicas whose snapshot is written or sent (`snapshots.py`)

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
                    if optional and e.errno in (
                        errno.EADDRNOTAVAIL,
                        errno.EAFNOSUPPORT,
                        errno.EPROTONOSUPPORT,
                    ):
                        continue
                    for sock in socks:
                        sock.close()
                    raise OSError(
                        e.errno,
                        "Could not create server TCP listening socket "
                        "%s:%d: %s" % (host, port, e.strerror),
                    ) from None
        listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(sock)) for sock in socks]
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

    async def _accept_loop(self, listener: trio.SocketListener, scope: trio.CancelScope) -> None:
        assert self._tasks is not None
        with scope:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as e:
                    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        log.warning(
                            "Accepting client connection: %s (out of file descriptors?"
                            " raise ulimit -n or lower maxclients)",
                            e.strerror,
                        )
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
        old = [
            lst
            for lst in self.listeners
            if lst.socket.family != socket.AF_UNIX and (lst in self._tls_listeners or not tls_only)
        ]
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
        elif (
            self.config["protected-mode"]
            and self.acl.default.nopass
            and not is_unix
            and sock.getpeername()[0] not in ("127.0.0.1", "::1")
        ):
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
            id=self.next_id,
            addr=addr,
            laddr=laddr,
            fd=sock.fileno(),
            is_unix=is_unix,
            authenticated=self.acl.default_authenticated(),
            acl_user=self.acl.default,
        )
        self.next_id += 1
        self.stats.connections += 1
        server = cast("Server", self)  # this mixin is always the server's
        conn = (
            TlsConnection(server, self.reactor, sock, session, self.tls)
            if tls and self.tls is not None
            else Connection(server, self.reactor, sock, session)
        )
        self.connections[session.id] = conn
        self.reactor.add(conn)

    def forget(self, conn: Connection) -> None:
        """A connection closed: the lane drops what the client left behind."""
        session = conn.session
        if session.watch.keys:
            self.keyspace.watches.gone.append(session.watch)
        if session.pubsub:
            self.hub.gone.append(session)
        if session.tracking is not None:
            self.tracking.gone.append(session)
        self.connections.pop(session.id, None)
        self.syncing.pop(session.id, None)

    def _keepalive(self, sock: socket.socket) -> None:
        interval = self.config["tcp-keepalive"]
        if interval <= 0:
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        # As Redis's anetKeepAlive: first probe after `interval`, then every interval/3.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(interval // 3, 1))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def _listen(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for `host` (every address it resolves to), as
    trio.open_tcp_listeners makes them: SO_REUSEADDR, IPv6 sockets IPv6-only."""
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _, addr in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
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


def _fmt_addr(addr: Any) -> str:
    host, port = addr[0], addr[1]
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)
