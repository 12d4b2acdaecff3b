"""The hot cache: decoded meta records of recently used keys, bounded in bytes.

Room: a strictly redundant copy of committed records; emptying it loses nothing.
Imports: the standard library and `keyspace.layout`.

- Keyed by the meta key (slot | kind | key), so FLUSHDB and SWAPDB, which change
  slots, never serve a stale entry. A `None` entry remembers that a key is absent.
- Segmented LRU: a new entry enters *probation*; a second hit moves it to the
  *protected* segment (80 % of the budget). Eviction takes from probation first, so a
  SCAN, KEYS or a one-pass read of many keys cannot flush the keys in steady use.
- The keyspace stages the batch's changes, as entries (`to_entry`), and puts them only
  after the commit (`put_entry`); an aborted batch leaves the cache as it was.
- Size of an entry: key + payload + a fixed allowance for the Python objects.
- Entries are plain tuples of ints and bytes, which Python's cycle collector stops
  tracking, so a full cache adds nothing to its passes (as `Meta` objects, 100 000
  cached keys made each full collection a 100 ms pause); `get` builds a `Meta`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from diskredis.keyspace.layout import Meta

#: What an entry costs beyond its key's and value's bytes: its segment's OrderedDict slot,
#: index and node (90-130 B by how full the tables are), its tuple (72 B), the key's and
#: the value's object headers (about 40 B each). Measured with tracemalloc on CPython
#: 3.11 at 243-315 B as the tables fill (tests/test_cache.py holds the budget to it).
ENTRY_OVERHEAD = 320
_PROTECTED_SHARE = 0.8

# (type, expire, payload, full key or None) of a record, or None for "absent"
Entry = tuple[int, int, bytes, bytes | None] | None
_ABSENT: Any = object()  # not in a segment (None is a cached absence)


def to_entry(meta: Meta | None) -> Entry:
    """The cache's form of a record (or of its absence)."""
    return None if meta is None else (meta.type, meta.expire, meta.payload, meta.key)


def to_record(entry: Entry) -> Meta | None:
    """The record of a cache entry: a new object, the caller's to change."""
    return None if entry is None else Meta(*entry)


class HotCache:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.probation: OrderedDict[bytes, Entry] = OrderedDict()
        self.protected: OrderedDict[bytes, Entry] = OrderedDict()
        self.bytes = 0
        self._protected_bytes = 0
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _size(mkey: bytes, entry: Entry) -> int:
        return len(mkey) + ENTRY_OVERHEAD + (0 if entry is None else len(entry[2]))

    def get(self, mkey: bytes) -> tuple[bool, Meta | None]:
        """(found, record): found False means ask the engine."""
        protected = self.protected
        entry = protected.get(mkey, _ABSENT)
        if entry is not _ABSENT:
            protected.move_to_end(mkey)
            self.hits += 1
            return True, None if entry is None else Meta(*entry)
        if mkey in self.probation:
            entry = self.probation.pop(mkey)
            self.protected[mkey] = entry
            self._protected_bytes += self._size(mkey, entry)
            self._shrink_protected()
            self.hits += 1
            return True, to_record(entry)
        self.misses += 1
        return False, None

    def put(self, mkey: bytes, meta: Meta | None) -> None:
        """Remember a committed record (or its absence)."""
        self.put_entry(mkey, to_entry(meta))

    def put_entry(self, mkey: bytes, new: Entry) -> None:
        """`put`, of a record already in the cache's form."""
        size = len(mkey) + ENTRY_OVERHEAD + (0 if new is None else len(new[2]))
        if size > self.limit // 8:
            self.discard(mkey)  # too big to be worth a slot; never crowd out the rest
            return
        protected = self.protected
        old = protected.get(mkey, _ABSENT)
        if old is not _ABSENT:
            old_size = self._size(mkey, old)
            self._protected_bytes += size - old_size
            self.bytes -= old_size
            protected[mkey] = new
            protected.move_to_end(mkey)
        else:
            probation = self.probation
            old = probation.pop(mkey, _ABSENT)
            if old is not _ABSENT:
                self.bytes -= self._size(mkey, old)
            probation[mkey] = new
        self.bytes += size
        if self.bytes > self.limit:
            self._evict()

    def discard(self, mkey: bytes) -> None:
        if mkey in self.protected:
            size = self._size(mkey, self.protected.pop(mkey))
            self._protected_bytes -= size
            self.bytes -= size
        elif mkey in self.probation:
            self.bytes -= self._size(mkey, self.probation.pop(mkey))

    def clear(self) -> None:
        self.probation.clear()
        self.protected.clear()
        self.bytes = self._protected_bytes = 0

    def resize(self, limit: int) -> None:
        self.limit = limit
        self._shrink_protected()
        self._evict()

    def _shrink_protected(self) -> None:
        while self._protected_bytes > self.limit * _PROTECTED_SHARE and self.protected:
            mkey, entry = self.protected.popitem(last=False)
            size = self._size(mkey, entry)
            self._protected_bytes -= size
            self.probation[mkey] = entry  # demoted, still cached
            self.probation.move_to_end(mkey, last=False)

    def _evict(self) -> None:
        while self.bytes > self.limit and (self.probation or self.protected):
            segment = self.probation if self.probation else self.protected
            mkey, entry = segment.popitem(last=False)
            size = self._size(mkey, entry)
            self.bytes -= size
            if segment is self.protected:
                self._protected_bytes -= size

    def __len__(self) -> int:
        return len(self.probation) + len(self.protected)
