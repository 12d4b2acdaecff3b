"""The link to a primary, from a replica's side: handshake, full or partial resync.

Room: what a replica says and reads before it applies a primary's stream (Redis's
syncWithMaster and readSyncBulkPayload): PING, AUTH with masterauth/masteruser,
REPLCONF listening-port and capa, PSYNC, then the RDB of a full resync -- `$<length>`
or `$EOF:<mark>` framing, keepalive newlines before it -- written to a file in the
data folder, never held in memory. Imports: `keyspace.backlog` (the stream's command
encoding), trio, the standard library.

Loading the RDB and applying the stream are the server's (`following.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import trio

from diskredis.keyspace.backlog import encode_command

_MARK = 40  # the length of a $EOF: mark (CONFIG_RUN_ID_SIZE)
_CHUNK = 1 << 16
# Errors to PING that AUTH may cure: the handshake goes on (syncWithMaster).
_AUTH_LATER = (b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")


class LinkError(Exception):
    """The primary refused or broke the handshake; the message says what it said."""


class PsyncRefused(LinkError):
    """The primary answered PSYNC with something else than +FULLRESYNC or +CONTINUE."""


@dataclass
class Resync:
    """How the primary answered PSYNC."""

    full: bool
    replid: str
    offset: int  # full: the offset the RDB holds; partial: -1 (ours goes on)


class MasterLink:
    """One connection to a primary, through its handshake and transfer."""

    def __init__(self, stream: trio.abc.Stream, timeout: float = 60.0) -> None:
        self.stream = stream
        self.buf = b""
        self.timeout = timeout  # repl-timeout: seconds of silence before giving up
        self.last_io = time.monotonic()
        # A full resync's transfer: its size (-1 before the `$` line, 0 for an
        # EOF-marked one), what was read of it, when the last bytes came.
        self.total = -1
        self.read = 0

    async def receive(self) -> bytes:
        """The next bytes from the primary; LinkError when it closes or is silent for
        `timeout` seconds."""
        with trio.move_on_after(self.timeout):
            try:
                data = await self.stream.receive_some(_CHUNK)
            except (trio.BrokenResourceError, OSError) as e:
                raise LinkError("the connection with the primary broke: %s" % e) from None
            if not data:
                raise LinkError("the primary closed the connection")
            self.last_io = time.monotonic()
            return bytes(data)
        raise LinkError("no data from the primary for %d seconds (repl-timeout)" % self.timeout)

    async def send(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as e:
            raise LinkError("the connection with the primary broke: %s" % e) from None

    async def _fill(self) -> None:
        self.buf += await self.receive()

    async def line(self, keepalive: bool = False) -> bytes:
        """One reply line (without CRLF); with `keepalive`, empty lines are skipped."""
        while True:
            while b"\n" not in self.buf:
                await self._fill()
            line, _, self.buf = self.buf.partition(b"\n")
            line = line.rstrip(b"\r")
            if line or not keepalive:
                return line

    async def ask(self, *args: bytes) -> bytes:
        await self.send(encode_command(list(args)))
        return await self.line()

    async def handshake(
        self,
        listening_port: int,
        replid: str,
        offset: int,
        user: str = "",
        password: str = "",
        ip_address: str = "",
        failover: bool = False,
    ) -> Resync:
        """PING, AUTH, REPLCONF, PSYNC (`replid` "" for none: `PSYNC ? -1`, else
        `PSYNC replid offset+1`)."""
        pong = await self.ask(b"PING")
        if pong.startswith(b"-") and not pong.startswith(_AUTH_LATER):
            raise LinkError("error reply to PING from master: '%s'" % pong.decode("latin-1"))
        if password:
            auth = (user.encode(),) if user else ()
            reply = await self.ask(b"AUTH", *auth, password.encode())
            if reply.startswith(b"-"):
                raise LinkError("unable to AUTH to MASTER: %s" % reply.decode("latin-1"))
        # Errors to REPLCONF are logged by Redis and the handshake goes on (an older
        # primary may not know an option).
        await self.ask(b"REPLCONF", b"listening-port", b"%d" % listening_port)
        if ip_address:
            await self.ask(b"REPLCONF", b"ip-address", ip_address.encode())
        await self.ask(b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")
        # FAILOVER: we hand our role to this replica, which becomes our primary.
        extra = (b"FAILOVER",) if failover else ()
        if replid:
            await self.send(
                encode_command([b"PSYNC", replid.encode(), b"%d" % (offset + 1), *extra])
            )
        else:
            await self.send(encode_command([b"PSYNC", b"?", b"-1", *extra]))
        reply = await self.line(keepalive=True)
        if reply.startswith(b"+FULLRESYNC"):
            parts = reply.split()
            if len(parts) != 3:
                raise LinkError("unexpected +FULLRESYNC reply: %s" % reply.decode("latin-1"))
            return Resync(True, parts[1].decode("latin-1"), int(parts[2]))
        if reply.startswith(b"+CONTINUE"):
            parts = reply.split()
            new = parts[1].decode("latin-1") if len(parts) > 1 else replid
            return Resync(False, new, -1)
        raise PsyncRefused("unexpected reply to PSYNC from master: %s" % reply.decode("latin-1"))

    async def receive_rdb(self, path: str) -> int:
        """The RDB of a full resync, into the file `path`; its size."""
        header = await self.line(keepalive=True)
        if header.startswith(b"-"):
            raise LinkError("the primary failed the transfer: %s" % header.decode("latin-1"))
        if not header.startswith(b"$"):
            raise LinkError("bad protocol from master, the first byte is not '$'")
        size = 0
        with open(path, "wb") as f:
            if header.startswith(b"$EOF:"):
                mark = header[5:]
                if len(mark) != _MARK:
                    raise LinkError("bad $EOF: mark from master")
                self.total = 0
                tail = b""
                while True:
                    data = self.buf or await self.receive()
                    self.buf = b""
                    self.read += len(data)
                    tail += data
                    if tail.endswith(mark):
                        body = tail[:-_MARK]
                        f.write(body)
                        size += len(body)
                        break
                    keep = tail[-_MARK:]
                    f.write(tail[:-_MARK])
                    size += len(tail) - len(keep)
                    tail = keep
            else:
                try:
                    left = self.total = int(header[1:])
                except ValueError:
                    raise LinkError("bad transfer size from master: %r" % header) from None
                while left:
                    if not self.buf:
                        await self._fill()
                    chunk, self.buf = self.buf[:left], self.buf[left:]
                    self.read += len(chunk)
                    f.write(chunk)
                    size += len(chunk)
                    left -= len(chunk)
            # No fsync: the file is loaded at once and removed; a crash discards it.
        return size
