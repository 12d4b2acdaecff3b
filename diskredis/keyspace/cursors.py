"""SCAN cursors: integers (clients parse them as numbers) that resume a scan of an
ordered range of records.

Room: SCAN, HSCAN, SSCAN and ZSCAN's cursors and Redis's guarantee. Imports: `storage`
(the interface), the standard library.

A cursor is the next key's first six position bytes (kind byte and five key bytes,
zero-padded) above a 22-bit serial number. The serial finds the exact next key in a
table of recent cursors; a cursor the table no longer has (evicted, or issued before a
restart) resumes at its six bytes, at or before the exact key. Either way no key present
for the whole scan is skipped, as Redis guarantees; the fallback may repeat a few keys,
which Redis allows too.
"""

from __future__ import annotations

from diskredis.storage import Txn, prefix_end

_SERIAL_BITS = 22  # a serial below the position bytes...
_POS_BYTES = 6  # ...kind byte (0 or 1) and five key bytes: 41 + 22 bits, below 2**63
_CURSOR_TABLE = 100_000  # recent cursors remembered with their exact next key


class Cursors:
    """The recent cursors of one keyspace, with their exact next key."""

    __slots__ = ("recent", "serial")

    def __init__(self) -> None:
        self.recent: dict[int, tuple[bytes, bytes]] = {}
        self.serial = 0

    def page(
        self,
        txn: Txn,
        table: str,
        prefix: bytes,
        cursor: int,
        count: int,
        stop: bytes | None = None,
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Up to `count` records of `table` under `prefix` (and before `stop`) from
        `cursor` (0: the start): (the next cursor, 0 when done; the records)."""
        start = prefix
        if cursor:
            exact = self.recent.get(cursor)
            if exact is not None and exact[0] == prefix:
                start = exact[1]
            else:
                position = (cursor >> _SERIAL_BITS).to_bytes(_POS_BYTES, "big")
                start = prefix + position.rstrip(b"\x00")
        out: list[tuple[bytes, bytes]] = []
        for rkey, raw in txn.scan(table, start, stop or prefix_end(prefix)):
            if len(out) >= count:
                return self._new(prefix, rkey), out
            out.append((rkey, raw))
        return 0, out

    def _new(self, prefix: bytes, next_key: bytes) -> int:
        self.serial = self.serial % ((1 << _SERIAL_BITS) - 1) + 1
        at = len(prefix)
        position = next_key[at : at + _POS_BYTES].ljust(_POS_BYTES, b"\x00")
        cursor = (int.from_bytes(position, "big") << _SERIAL_BITS) | self.serial
        self.recent[cursor] = (prefix, next_key)
        if len(self.recent) > _CURSOR_TABLE:
            del self.recent[next(iter(self.recent))]
        return cursor
