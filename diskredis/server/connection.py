"""Client connections and the reactor that drives them.

Room: one client's socket, its request reader and its output; the readiness loop
over every client. Imports: `errors`, `app`, `commands.context`, `resp`, `server.lane`, trio.

The connections have no task of their own. One task, `Reactor.run`, waits with trio
for the readiness of an epoll set holding every client socket (trio waits on the
epoll set's own descriptor), then for each ready client reads once, parses every
complete request, and hands them to the server as one unit. Replies are written
straight from the lane's outcome, the moment a batch is done. A request on a
connection with one task per client costs three trips through trio's scheduler
(its read, the hand-over to the batch, the wake-up to send); here a whole batch of
clients costs two (measured in docs/performance.md). trio still does all the
waiting; the sockets are non-blocking and never block the loop.

Rules each connection keeps:

- At most one unit on the lane at a time: the next requests (already read, or still in
  the kernel) wait until its reply is out, so a client's replies keep their order and a
  blocked client's later requests wait behind it.
- Everything a client is sent -- replies, pub/sub messages, MONITOR lines -- goes
  through one ordered output. What the kernel does not take at once waits there, and
  EPOLLOUT is watched until it drains. That output is bounded by
  `client-output-buffer-limit` for the client's class, hard and soft limits as in
  Redis: a client that does not read is disconnected, not buffered for.
- A protocol error or QUIT closes the connection once what it was sent is out. A peer
  that hangs up is dropped at once when it waits in a blocking command; otherwise what it
  sent before hanging up still runs and is answered (as Redis answers `echo PING | nc`),
  then it is dropped.
- While a unit is on the lane the socket is read only up to `_READ_AHEAD` bytes, so a
  client pipelining faster than the lane serves it waits in the kernel, not in memory.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

import trio

from diskredis.commands.context import Session
from diskredis.errors import RedisError
from diskredis.resp.reader import RequestReader
from diskredis.resp.writer import encode
from diskredis.server.lane import Unit

if TYPE_CHECKING:
    from diskredis.server.app import Server

log = logging.getLogger("diskredis")

__all__ = ["Connection", "Reactor"]

_READ_SIZE = 65536  # one read; a pipelined burst of small requests fits in one
_READ_AHEAD = 1 << 20  # bytes read ahead while a unit is on the lane (see the docstring)
_REPLY_BUFFER = 16 * 1024  # PROTO_REPLY_CHUNK_BYTES: not counted by output buffer limits
_FILE_CHUNK = 256 * 1024  # a snapshot is sent in reads of this size
_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_GONE = select.EPOLLHUP | select.EPOLLERR  # reported whatever the mask


class Connection:
    """One client: socket, reader, output; see the module docstring."""

    sealed = False  # whether `seal` turns data into other bytes for the wire (TLS)

    def __init__(
        self, server: Server, reactor: Reactor, sock: socket.socket, session: Session
    ) -> None:
        self.server = server
        self.reactor = reactor
        self.sock = sock
        self.fd = sock.fileno()
        self.session = session
        self.ctx = server.context(session)
        config = server.config
        self.reader = RequestReader(
            max_bulk_len=config["proto-max-bulk-len"],
            max_query_buffer=config["client-query-buffer-limit"],
        )
        self.unit: Unit | None = None  # the unit on the lane
        self.fed = 0  # bytes read since the last unit
        self.out: list[bytes] = []  # waiting for the kernel to take it, in order
        self.out_pos = 0  # bytes of out[0] the kernel has taken already
        self.out_bytes = 0
        self.soft_since = 0.0  # when the output went over the soft limit (0: it is not)
        self.mask = _IN  # what the reactor watches (0: the socket is out of its set)
        self.closing = False  # close once the output is sent
        self.hung_up = False  # the peer closed its side: close after the unit in flight
        self.closed = False
        # A snapshot transfer (SYNC): the client's input is read and dropped, the file is
        # sent as the socket takes it, then the connection ends.
        self.replica = False
        self.file: IO[bytes] | None = None
        self.file_trailer = b""
        self.on_sent: Callable[[], None] = lambda: None  # when the whole file is out
        self.close_when_sent = True
        self.on_input: Callable[[bytes], None] = lambda data: None  # what a replica sends

    # -- input -------------------------------------------------------------------------
    def receive(self) -> bytes | None:
        """What the client sent (b"" when it is gone; None when nothing came yet)."""
        try:
            return self.sock.recv(_READ_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            return b""  # reset by the peer: the same as a close

    def on_readable(self) -> None:
        data = self.receive()
        if data is None:
            return
        if not data:
            self._hang_up()
            return
        if self.replica:
            self.on_input(data)  # a replica's ACKs; nothing from a snapshot-only client
            return
        session = self.session
        session.last_interaction = time.monotonic()
        n = len(data)
        session.net_in += n
        server = self.server
        server.net_in += n
        server.reads += 1
        reader = self.reader
        # The reader's limits depend on it.
        reader.auth_required = not session.authenticated and server.acl.auth_required(session)
        reader.feed(data)
        self.fed += n
        session.qbuf = pending = reader.pending
        if self.unit is None:
            self.advance()
        elif pending >= _READ_AHEAD and not session.blocked:
            self._watch(self.mask & ~_IN)

    def on_gone(self) -> None:
        """EPOLLHUP/EPOLLERR: read what is left (a unix-socket peer that wrote and closed
        is reported so at once), unless that was done already."""
        if self.hung_up:
            self.close()
        else:
            self.on_readable()

    def _hang_up(self) -> None:
        if self.unit is None or self.session.blocked or self.replica:
            self.close()
        else:
            # Nothing more will come; stop watching (a hung-up socket stays readable)
            # until there is a reply to send.
            self.hung_up = True
            self._watch(self.mask & ~_IN)

    def advance(self) -> None:
        """Hand the next complete requests to the lane, or end the stream the reader
        ended (protocol error, query buffer overflow)."""
        if self.unit is not None or self.closing or self.closed or self.replica:
            return
        session = self.session
        reader = self.reader
        reader.auth_required = not session.authenticated and self.server.acl.auth_required(session)
        requests = reader.pop()
        if requests:
            unit = self.unit = Unit(self.ctx, requests, self._unit_done, size=self.fed)
            session.unit = unit
            self.fed = 0
            self.server.submit(self.unit)
            return
        if reader.error is not None:
            log.info(
                "Protocol error from client id=%d addr=%s: %s",
                session.id,
                session.addr,
                reader.error,
            )
            if not (session.reply_off or session.reply_skip):
                # As every error reply: CR/LF shown as spaces, client bytes as sent.
                self.write(encode(RedisError(reader.error), session.resp))
            self.close_after_output()
        elif reader.overflow:
            log.warning(
                "Closing client id=%d addr=%s that reached max query buffer length "
                "(client-query-buffer-limit %d bytes).",
                session.id,
                session.addr,
                self.server.config["client-query-buffer-limit"],
            )
            self.close()
        elif self.hung_up:
            self.close()
        elif not self.mask & _IN:
            self._watch(self.mask | _IN)

    def _unit_done(self) -> None:
        unit = self.unit
        self.unit = None
        self.session.unit = None
        if self.closed or unit is None:
            return
        session = self.session
        session.last_interaction = time.monotonic()
        reply = unit.reply
        if reply:
            # Redis counts what waits beyond its 16 KB reply buffer, and closes a client
            # whose pipelined replies pass the hard limit before sending any. What fits
            # the buffer is under every limit.
            if len(reply) <= _REPLY_BUFFER:
                self.soft_since = 0.0
            elif self._over_limit(len(reply) - _REPLY_BUFFER):
                self._log_over_limit(len(reply))
                self.close()
                return
            self.write(reply)
        if session.close_after_reply or session.closed:
            self.close_after_output()
            return
        if not self.replica:
            self.advance()

    # -- output ------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send `data` after what waits; keep what the kernel does not take (within
        the output buffer limits, except during a snapshot transfer)."""
        if self.closed or self.closing:
            return
        self.session.net_out += len(data)
        self.server.net_out += len(data)
        self.send_raw(self.seal(data) if self.sealed else data)

    def seal(self, data: bytes) -> bytes:
        """The bytes that carry `data` on the wire (TLS encrypts them)."""
        return data

    def send_raw(self, data: bytes) -> None:
        if self.closed:
            return
        n = len(data)
        if not self.out:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close()
                return
            self.server.writes += 1
            if sent == n:
                return
            self.out_pos = sent  # the rest is sent from there: no copy of a big reply
            n -= sent
            self._watch(self.mask | _OUT)
        self.out.append(data)
        self.out_bytes += n
        if not self.replica and self._over_limit(self.out_bytes):
            self._log_over_limit(self.out_bytes)
            self.close()

    def on_writable(self) -> None:
        sock = self.sock
        while self.out:
            data, pos = self.out[0], self.out_pos
            try:
                sent = sock.send(memoryview(data)[pos:] if pos else data)
            except BlockingIOError:
                return
            except OSError:
                self.close()
                return
            self.server.writes += 1
            self.out_bytes -= sent
            pos += sent
            if pos < len(data):
                self.out_pos = pos
                return
            self.out.pop(0)
            self.out_pos = 0
        self.soft_since = 0.0
        if self.file is not None:
            self._pump()
        elif self.closing:
            self.close()
        else:
            self._watch(self.mask & ~_OUT)

    # -- a snapshot transfer -----------------------------------------------------------
    def send_file(self, f: IO[bytes], header: bytes, trailer: bytes, close: bool = True) -> None:
        """Send `header`, the file, `trailer`, then close (as the socket takes them),
        unless not `close` (a replica: the command stream follows)."""
        self.write(header)
        self.file, self.file_trailer, self.close_when_sent = f, trailer, close
        if not self.out:
            self._pump()

    def _pump(self) -> None:
        while self.file is not None and not self.out and not self.closed:
            chunk = self.file.read(_FILE_CHUNK)
            if chunk:
                self.write(chunk)
                continue
            self.file.close()
            self.file = None
            if self.file_trailer:
                self.write(self.file_trailer)
            self.on_sent()
            if self.close_when_sent:
                self.close_after_output()

    def _log_over_limit(self, used: int) -> None:
        log.warning(
            "Client id=%d addr=%s closed for overcoming of output buffer limits "
            "(%d bytes waiting to be sent; client-output-buffer-limit %s).",
            self.session.id,
            self.session.addr,
            used,
            self.session.client_type(),
        )

    def _over_limit(self, used: int) -> bool:
        """checkClientOutputBufferLimits for `used` bytes waiting to be sent: the hard
        limit at once, the soft one when it has held for longer than its seconds."""
        hard: int
        soft: int
        seconds: int
        hard, soft, seconds = self.server.config["client-output-buffer-limit"][
            self.session.client_type()
        ]
        if hard and used >= hard:
            return True
        if not (soft and used >= soft):
            self.soft_since = 0.0
            return False
        now = time.monotonic()
        if not self.soft_since:
            self.soft_since = now
            return False
        return now - self.soft_since > seconds

    # -- the end -----------------------------------------------------------------------
    def close_after_output(self) -> None:
        if not self.out:
            self.close()
        else:
            self.closing = True
            self._watch(_OUT)

    def close(self) -> None:
        """Drop the client now; what waits to be sent is dropped too."""
        if self.closed:
            return
        self.closed = True
        self.session.closed = True
        if self.file is not None:
            self.file.close()
            self.file = None
        self.out = []
        self.out_pos = self.out_bytes = 0
        self.reactor.forget(self)
        self.mask = 0
        self.sock.close()
        self.server.forget(self)

    def _watch(self, mask: int) -> None:
        if mask != self.mask and not self.closed:
            old, self.mask = self.mask, mask
            self.reactor.modify(self, old, mask)


class TlsConnection(Connection):
    """A client on the TLS port: the same connection, with OpenSSL between the socket and
    the reader and writer (an `ssl.SSLObject` over memory buffers, so the reactor drives
    it like any socket). Nothing is read as requests until the handshake is done; a
    failed handshake (no certificate, an unknown CA...) is logged and closes the
    connection, as Redis logs "Error accepting a client connection"."""

    sealed = True

    def __init__(
        self,
        server: Server,
        reactor: Reactor,
        sock: socket.socket,
        session: Session,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(server, reactor, sock, session)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._ready = False

    def receive(self) -> bytes | None:
        raw = super().receive()
        if raw is None:
            return None
        if not raw:
            self._incoming.write_eof()
        else:
            self._incoming.write(raw)
        try:
            if not self._ready:
                try:
                    self._tls.do_handshake()
                except ssl.SSLWantReadError:
                    return b"" if not raw else None
                finally:
                    self._flush_tls()
                self._ready = True
            chunks: list[bytes] = []
            while True:
                try:
                    chunk = self._tls.read(_READ_SIZE)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:  # the client's close_notify
                    return b"".join(chunks) or b""
                if not chunk:
                    break
                chunks.append(chunk)
            self._flush_tls()  # what reading produced (session tickets, alerts)
        except ssl.SSLError as e:
            log.log(
                15, "Error accepting a client connection: %s (conn: fd=%d)", e.reason or e, self.fd
            )
            self._flush_tls()
            self.close_after_output()
            return None
        if chunks:
            return b"".join(chunks)
        return b"" if not raw else None

    def seal(self, data: bytes) -> bytes:
        try:
            self._tls.write(data)
        except ssl.SSLError:
            return b""
        return self._outgoing.read()

    def _flush_tls(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self.send_raw(pending)


class Reactor:
    """The readiness loop over every client socket (see the module docstring)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._conns: dict[int, Connection] = {}

    def add(self, conn: Connection) -> None:
        self._conns[conn.fd] = conn
        self._epoll.register(conn.fd, conn.mask)

    def modify(self, conn: Connection, old: int, mask: int) -> None:
        """Watch `mask` for `conn` instead of `old`; 0 takes it out of the set, where
        even EPOLLHUP is not reported."""
        if not mask:
            self._epoll.unregister(conn.fd)
        elif not old:
            self._epoll.register(conn.fd, mask)
        else:
            self._epoll.modify(conn.fd, mask)

    def forget(self, conn: Connection) -> None:
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
            if conn.mask:
                self._epoll.unregister(conn.fd)

    async def run(self) -> None:
        fd = self._epoll.fileno()
        try:
            while True:
                await trio.lowlevel.wait_readable(fd)
                self.poll_once()
        finally:
            trio.lowlevel.notify_closing(fd)
            self._epoll.close()

    def poll_once(self) -> None:
        """Serve every socket that is ready now, once (also called from a busy script's
        hook, while `run` waits behind it)."""
        conns = self._conns
        for cfd, events in self._epoll.poll(0):
            conn = conns.get(cfd)
            if conn is None:
                continue
            if events & _OUT:
                conn.on_writable()
            if conn.closed:
                continue
            if events & _GONE:
                conn.on_gone()
            elif events & _IN:
                conn.on_readable()

    def close_all(self) -> None:
        for conn in list(self._conns.values()):
            conn.close()
