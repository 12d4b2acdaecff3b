"""WATCH: which clients watch which keys, and what makes their transactions fail.

Room: Redis's touchWatchedKey / touchAllWatchedKeysInDb and EXEC's check of watched keys
that expired. Imports: `clock`, `keyspace.layout` (the record type), the standard
library. The keyspace tells the registry of every key it stores or removes and of every
database flushed or swapped; the records it compares come through `record`, the
keyspace's own view (a key past its deadline included).
"""

from __future__ import annotations

from collections.abc import Callable

from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.layout import Meta

Record = Callable[[int, bytes], "Meta | None"]


class Watch:
    """One client's WATCHed keys: (db, key) -> whether it had already expired (still
    stored, but past its deadline) when watched. `dirty` once any of them changed."""

    __slots__ = ("dirty", "keys")

    def __init__(self) -> None:
        self.keys: dict[tuple[int, bytes], bool] = {}
        self.dirty = False


def _expired(meta: Meta | None, now: int) -> bool:
    return meta is not None and bool(meta.expire) and meta.expire < now


class Watches:
    """(db, key) -> the watches on it; and the watches of gone clients, to drop (the
    connection side appends, the lane empties: list operations are atomic)."""

    __slots__ = ("by_key", "gone", "record")

    def __init__(self, record: Record) -> None:
        self.by_key: dict[tuple[int, bytes], list[Watch]] = {}
        self.gone: list[Watch] = []
        self.record = record

    def watch(self, w: Watch, db: int, key: bytes) -> None:
        if (db, key) in w.keys:
            return
        w.keys[(db, key)] = _expired(self.record(db, key), now_ms())
        self.by_key.setdefault((db, key), []).append(w)

    def unwatch(self, w: Watch) -> None:
        for db_key in w.keys:
            watches = self.by_key.get(db_key, [])
            if w in watches:
                watches.remove(w)
            if not watches:
                self.by_key.pop(db_key, None)
        w.keys.clear()
        w.dirty = False

    def drop_gone(self) -> None:
        while self.gone:
            self.unwatch(self.gone.pop())

    def touched(self, db: int, key: bytes, deleted: bool) -> None:
        """touchWatchedKey: the key changed. A key that had expired when watched and is
        now deleted has not changed as far as the watcher can tell."""
        for w in self.by_key.get((db, key), ()):
            if w.keys.get((db, key)) and deleted:
                w.keys[(db, key)] = False
                continue
            w.dirty = True

    def touched_db(self, emptied: int, replaced_with: int | None = None) -> None:
        """touchAllWatchedKeysInDb: FLUSHDB/FLUSHALL (`emptied`) and SWAPDB (both)."""
        now = now_ms()
        for (db, key), watches in list(self.by_key.items()):
            if db != emptied:
                continue
            there = self.record(db, key)
            other = None if replaced_with is None else self.record(replaced_with, key)
            if there is None and other is None:
                continue
            other_expired = _expired(other, now)
            for w in watches:
                if w.keys.get((db, key)):  # watched while expired
                    if other is None:  # deleted now: no change a watcher can see
                        w.keys[(db, key)] = False
                        continue
                    if other_expired:  # expired it stays
                        continue
                elif there is None and other_expired:  # none becomes an expired one
                    w.keys[(db, key)] = True
                    continue
                w.dirty = True

    def expired_since(self, w: Watch) -> bool:
        """Whether a watched key (alive when watched) is now past its deadline."""
        now = now_ms()
        return any(
            not was_expired and _expired(self.record(db, key), now)
            for (db, key), was_expired in w.keys.items()
        )
