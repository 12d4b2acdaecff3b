"""Request parsing with no I/O: bytes in, argument vectors out.

Room: split a client's byte stream into requests exactly as Redis 7.0's
networking.c does. Imports: `quoting`, `util`, `hiredis`, `errors`. Rules kept:

- A request starting with ``*`` is a multibulk; anything else is an inline
  command split with Redis's quoting rules (`split_inline`).
- Header lines end at the first ``\\r`` (the byte after it is skipped unread);
  numbers follow Redis's ``string2ll`` (no sign but ``-``, no leading zero).
  A NUL byte hides what follows it from the line search, as ``strchr`` does.
- Limits and texts: multibulk count <= INT_MAX, bulk length <=
  ``proto-max-bulk-len``, header lines and inline requests <= 64 KiB, and for
  a client that still has to authenticate at most 10 arguments of 16 KiB each.
- ``*0`` and ``*-1`` requests and empty inline lines are skipped with no reply.
- A protocol error ends the stream: the requests before it are still
  returned, then `error` holds the reply and the connection must close after it.
- More than ``client-query-buffer-limit`` buffered bytes ends the stream with
  no reply (`overflow`), as Redis closes such a client silently.

Fast path: when no partial request is buffered and a read starts a request,
hiredis parses the whole read in C. hiredis reads RESP *replies*, so it would
accept some element types that Redis refuses in a request; the read goes to the
exact parser whenever one could hide there (`_SUSPECT_TYPE`, `_SUSPECT_COUNT`) or
hiredis returns anything but arrays of bulk strings. A read that ends inside a request hands its
unparsed tail to the exact parser, which then keeps the stream until it drains.
"""

from __future__ import annotations

import re

import hiredis

from diskredis import errors
from diskredis.quoting import split_inline
from diskredis.util import INT_MAX, string2ll

__all__ = ["RequestReader", "split_inline"]

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
_UNAUTH_MAX_ARGS = 10  # requests of a client that still has to AUTH...
_UNAUTH_MAX_BULK = 16384  # ...stay small (CVE-2021-32675)

# After a CRLF, RESP3 types that hiredis would take where Redis wants a bulk string
# or, at a request's start, a '*' (anything else starts an inline command there):
# simple strings, big numbers and verbatim strings become bytes; sets, pushes and
# attributes become lists, as a request would; maps become dicts. And array counts
# of a million or more, for which hiredis allocates the whole array at once (a client
# could make it take gigabytes with one short line). Two patterns, each starting with
# a literal, which the regex engine scans for quickly (one alternation of both took
# twice as long on a SET, four times on a pipelined read).
_SUSPECT_TYPE = re.compile(rb"\r\n[+(=|~>%]")
_SUSPECT_COUNT = re.compile(rb"\*[0-9]{7}")
_BULKS_ONLY = frozenset((bytes,))  # the element types of a request


class RequestReader:
    """Incremental request parser for one connection.

    `feed()` bytes as they arrive, then `pop()` the complete requests. After
    `pop()`, `error` (a wire error text) or `overflow` may be set: the stream
    is over and the caller replies with `error` (if any) and closes.
    """

    def __init__(
        self, *, max_bulk_len: int = 512 * 1024 * 1024, max_query_buffer: int = 1024**3
    ) -> None:
        self.max_bulk_len = max_bulk_len
        self.max_query_buffer = max_query_buffer
        #: Set by the owner while the client must still authenticate; `pop`
        #: then returns one request at a time, as the limits depend on it.
        self.auth_required = False
        self.error: str | None = None
        self.overflow = False
        self._ready: list[list[bytes]] = []
        self._buf = bytearray()
        self._pos = 0
        self._argv: list[bytes] = []
        self._argv_bytes = 0
        self._mbulk = 0  # arguments still to read of the current multibulk
        self._bulklen = -1  # length of the argument being read, -1 = header next
        self._hiredis = hiredis.Reader()

    # -- public ------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self.error is not None or self.overflow or not data:
            return
        if (
            not self._buf
            and not self.auth_required
            and data[0] == 0x2A  # '*'
            and _SUSPECT_TYPE.search(data) is None
            and _SUSPECT_COUNT.search(data) is None
            and self._fast(data)
        ):
            return
        self._buf += data
        self._parse()

    def pop(self) -> list[list[bytes]]:
        """Complete requests so far (one at most while `auth_required`)."""
        if (
            self._pos < len(self._buf)
            and self.error is None
            and not (self.auth_required and self._ready)
        ):
            # Bytes held back while the client had to authenticate.
            self._parse()
        if self.auth_required:
            return [self._ready.pop(0)] if self._ready else []
        ready, self._ready = self._ready, []
        return ready

    @property
    def pending(self) -> int:
        """Bytes received and not yet returned as requests."""
        return len(self._buf) - self._pos + self._argv_bytes

    # -- fast path ---------------------------------------------------------------
    def _fast(self, data: bytes) -> bool:
        """Parse a read with hiredis; False leaves it to the exact parser."""
        reader = self._hiredis
        got: list[list[bytes]] = []
        try:
            reader.feed(data)
            while True:
                request = reader.gets()
                if request is False:  # a request begun and not ended in this read
                    at_boundary = False
                    break
                if type(request) is not list or not _BULKS_ONLY.issuperset(map(type, request)):
                    raise ValueError
                got.append(request)
                if not reader.has_data():  # nothing left unread: a request boundary
                    at_boundary = True
                    break
        except (hiredis.ProtocolError, ValueError, TypeError):
            # TypeError: hiredis builds RESP3 maps as dicts, and a map whose key is an
            # array ("%1\r\n*0\r\n...") fails as it is built. The exact parser
            # answers such input with Redis's protocol error.
            self._hiredis = hiredis.Reader()
            return False
        self._ready += filter(None, got)  # *0 requests are skipped
        if not at_boundary:
            # Everything hiredis returned was bulk strings only, so its wire size
            # is the canonical one: the rest of the read starts a request.
            self._hiredis = hiredis.Reader()
            self._buf += data[sum(_wire_size(r) for r in got) :]
            self._parse()
        return True

    # -- exact path --------------------------------------------------------------
    def _line_end(self, start: int, stop: bytes) -> int:
        """Index of `stop` from `start`, or -1 if absent or behind a NUL (strchr)."""
        buf = self._buf
        end = buf.find(stop, start)
        if end < 0:
            return -1
        nul = buf.find(b"\0", start, end)
        return -1 if nul >= 0 else end

    def _parse(self) -> None:
        buf = self._buf
        while self.error is None:
            if self.auth_required and self._ready:
                break
            if self._mbulk == 0:
                if self._pos >= len(buf):
                    break
                if buf[self._pos] != 0x2A:
                    if not self._inline():
                        break
                    continue
                if not self._multibulk_header():
                    break
                if self._mbulk == 0:  # *0 and *-1 are skipped silently
                    continue
            if not self._multibulk_args():
                break
        self._compact()
        if self.pending > self.max_query_buffer:
            self.overflow = True

    def _compact(self) -> None:
        if self._pos and (self._pos >= len(self._buf) or self._pos > 65536):
            del self._buf[: self._pos]
            self._pos = 0

    def _inline(self) -> bool:
        buf, pos = self._buf, self._pos
        newline = self._line_end(pos, b"\n")
        if newline < 0:
            if len(buf) - pos > INLINE_MAX:
                self.error = errors.PROTO_TOO_BIG_INLINE
            return False
        end = newline - 1 if newline > pos and buf[newline - 1] == 0x0D else newline
        argv = split_inline(bytes(buf[pos:end]))
        if argv is None:
            self.error = errors.PROTO_UNBALANCED_QUOTES
            return False
        self._pos = newline + 1
        if argv:
            self._ready.append(argv)
        return True

    def _multibulk_header(self) -> bool:
        buf, pos = self._buf, self._pos
        cr = self._line_end(pos, b"\r")
        if cr < 0:
            if len(buf) - pos > INLINE_MAX:
                self.error = errors.PROTO_TOO_BIG_MBULK_COUNT
            return False
        if cr + 2 > len(buf):
            return False
        count = string2ll(bytes(buf[pos + 1 : cr]))
        if count is None or count > INT_MAX:
            self.error = errors.PROTO_INVALID_MBULK
            return False
        if count > _UNAUTH_MAX_ARGS and self.auth_required:
            self.error = errors.PROTO_UNAUTH_MBULK
            return False
        self._pos = cr + 2
        if count > 0:
            self._mbulk = count
            self._argv = []
            self._bulklen = -1
        return True

    def _multibulk_args(self) -> bool:
        """Read arguments of the current multibulk; True once it is complete."""
        buf = self._buf
        while self._mbulk:
            pos = self._pos
            if self._bulklen < 0:
                cr = self._line_end(pos, b"\r")
                if cr < 0:
                    if len(buf) - pos > INLINE_MAX:
                        self.error = errors.PROTO_TOO_BIG_BULK_COUNT
                    return False
                if cr + 2 > len(buf):
                    return False
                if buf[pos] != 0x24:  # '$'
                    self.error = errors.proto_expected_dollar(buf[pos])
                    return False
                length = string2ll(bytes(buf[pos + 1 : cr]))
                if length is None or length < 0 or length > self.max_bulk_len:
                    self.error = errors.PROTO_INVALID_BULK
                    return False
                if length > _UNAUTH_MAX_BULK and self.auth_required:
                    self.error = errors.PROTO_UNAUTH_BULK
                    return False
                self._pos = pos = cr + 2
                self._bulklen = length
                if pos > 65536:
                    self._compact()
                    buf, pos = self._buf, self._pos
            if len(buf) - pos < self._bulklen + 2:
                return False
            self._argv.append(bytes(buf[pos : pos + self._bulklen]))
            self._argv_bytes += self._bulklen
            self._pos = pos + self._bulklen + 2
            self._bulklen = -1
            self._mbulk -= 1
        self._ready.append(self._argv)
        self._argv = []
        self._argv_bytes = 0
        return True


def _wire_size(request: list[bytes]) -> int:
    """Bytes a multibulk of bulk strings takes when written canonically."""
    lengths = [len(a) for a in request]
    return (
        3
        + len(str(len(request)))
        + 5 * len(request)
        + sum(lengths)
        + sum(len(str(n)) for n in lengths)
    )
