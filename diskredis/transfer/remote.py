"""A running server -- diskredis or Redis -- reached over TCP or a unix socket.

Room: a small blocking RESP2 client with pipelining, for the tools. Imports: hiredis,
the standard library. Errors come back as `ReplyError` values in the reply lists.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import IO, Any

import hiredis


class ReplyError(Exception):
    pass


class RemoteError(Exception):
    """The server could not be reached or answered something unexpected."""


def encode(args: Sequence[bytes | str | int]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Remote:
    """One connection; `call` one command, `pipeline` many with one round trip."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        unix: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.where = unix or "%s:%d" % (host, port)
        try:
            if unix:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(unix)
            else:
                self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise RemoteError("can't connect to %s: %s" % (self.where, e)) from None
        self.reader = hiredis.Reader(replyError=ReplyError)
        self.db = 0
        if password is not None:
            args = ["AUTH", user, password] if user else ["AUTH", password]
            reply = self.call(*args)
            if isinstance(reply, ReplyError):
                raise RemoteError("%s refused the password: %s" % (self.where, reply))

    def close(self) -> None:
        self.sock.close()

    def call(self, *args: bytes | str | int) -> Any:
        return self.pipeline([list(args)])[0]

    def pipeline(self, commands: Sequence[Sequence[bytes | str | int]]) -> list[Any]:
        try:
            self.sock.sendall(b"".join(encode(c) for c in commands))
            replies: list[Any] = []
            while len(replies) < len(commands):
                got = self.reader.gets()
                if got is False:
                    chunk = self.sock.recv(1 << 20)
                    if not chunk:
                        raise RemoteError("%s closed the connection" % self.where)
                    self.reader.feed(chunk)
                    continue
                replies.append(got)
            return replies
        except OSError as e:
            raise RemoteError("lost %s: %s" % (self.where, e)) from None

    def select(self, db: int) -> None:
        if db != self.db:
            reply = self.call("SELECT", db)
            if isinstance(reply, ReplyError):
                raise RemoteError("%s: SELECT %d: %s" % (self.where, db, reply))
            self.db = db

    def snapshot(self, out: IO[bytes], progress: Callable[[int, int], None]) -> int:
        """The server's dataset as one RDB file, written to `out`, through
        `REPLCONF rdb-only 1` and `SYNC` (as `redis-cli --rdb` asks for it; diskredis
        and Redis serve it). `progress(done, total)` as bytes arrive. Returns its size."""
        reply = self.call("REPLCONF", "rdb-only", "1")
        if isinstance(reply, ReplyError):
            raise RemoteError("%s does not serve snapshots: %s" % (self.where, reply))
        try:
            self.sock.sendall(b"SYNC\r\n")
            buf = b""
            while True:  # newlines keep the connection alive while the server prepares
                buf = buf.lstrip(b"\n")
                end = buf.find(b"\r\n")
                if end >= 0:
                    break
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise RemoteError("%s closed the connection before the snapshot" % self.where)
                buf += chunk
            head, buf = buf[:end], buf[end + 2 :]
            if not head.startswith(b"$") or not head[1:].isdigit():
                raise RemoteError(
                    "%s answered SYNC with %r" % (self.where, head.decode("utf-8", "replace"))
                )
            size = int(head[1:])
            done = 0
            while done < size:
                if not buf:
                    buf = self.sock.recv(min(1 << 20, size - done))
                    if not buf:
                        raise RemoteError(
                            "%s closed the connection after %d of the "
                            "snapshot's %d bytes" % (self.where, done, size)
                        )
                part, buf = buf[: size - done], buf[size - done :]
                out.write(part)
                done += len(part)
                progress(done, size)
            return size
        except OSError as e:
            raise RemoteError("lost %s: %s" % (self.where, e)) from None
