"""The access table: when each recently used key was last used, and its LFU counter.

Room: OBJECT IDLETIME and OBJECT FREQ, RESTORE's IDLETIME/FREQ, and the LRU/LFU clock
the maxmemory policies keep in Redis. Imports: `clock`, the standard library.

The table is bounded: `maxmemory` gives it ACCESS_SHARE of the budget at
ACCESS_ENTRY_COST bytes a key (its OrderedDict node and slot, its tuple and timestamp:
about 260 B measured with tracemalloc on CPython 3.11; tests/test_cache.py keeps the
figure honest); past its limit the least recently used key leaves. A key not in the
table is idle "since start-up", as one never used. Keys are meta keys (`Keyspace.mkey`).
"""

from __future__ import annotations

import random
from collections import OrderedDict

from diskredis.keyspace.clock import now_ms

ACCESS_SHARE = 0.2
ACCESS_ENTRY_COST = 300
ACCESS_MIN = 1000  # keys tracked whatever the budget
LFU_INIT = 5  # LFU_INIT_VAL: the counter of a key just created


class AccessTable:
    """Meta key -> (last access in ms, LFU counter), least recently used first."""

    __slots__ = ("entries", "lfu", "lfu_log_factor", "limit", "opened_ms")

    def __init__(self, opened_ms: int) -> None:
        self.entries: OrderedDict[bytes, tuple[int, int]] = OrderedDict()
        self.limit = ACCESS_MIN
        self.opened_ms = opened_ms
        self.lfu = False  # set by the lane: an LFU maxmemory-policy is selected
        self.lfu_log_factor = 10  # set by the lane: lfu-log-factor

    def __len__(self) -> int:
        return len(self.entries)

    def set_limit(self, budget: int) -> int:
        """The limit for a `budget` of bytes (ACCESS_SHARE of it); the bytes it takes."""
        self.limit = max(ACCESS_MIN, int(budget * ACCESS_SHARE) // ACCESS_ENTRY_COST)
        while len(self.entries) > self.limit:
            self.entries.popitem(last=False)
        return self.limit * ACCESS_ENTRY_COST

    def note(self, mkey: bytes, last_ms: int, counter: int) -> None:
        """Record a key's last access and LFU counter (at the table's recent end if the
        caller removed its old record)."""
        entries = self.entries
        entries[mkey] = (last_ms, counter)
        if len(entries) > self.limit:
            entries.popitem(last=False)

    def created(self, mkey: bytes) -> None:
        """A new key: used now, with the initial LFU counter (`note`, inlined: every
        write of a new key comes here)."""
        entries = self.entries
        entries[mkey] = (now_ms(), LFU_INIT)
        if len(entries) > self.limit:
            entries.popitem(last=False)

    def forget(self, mkey: bytes) -> None:
        self.entries.pop(mkey, None)

    def touch(self, mkey: bytes) -> None:
        """A key was used: under an LRU (or no) policy only its access time moves, as in
        Redis; under an LFU one its counter grows logarithmically too."""
        entries = self.entries
        if not self.lfu:  # `note`, inlined: every read of a key comes here
            last = entries.pop(mkey, None)  # and back in, at the recent end
            entries[mkey] = (now_ms(), LFU_INIT if last is None else last[1])
            if len(entries) > self.limit:
                entries.popitem(last=False)
            return
        counter = self.counter(mkey)
        if counter < 255:
            p = 1.0 / (max(counter - LFU_INIT, 0) * self.lfu_log_factor + 1)
            if random.random() < p:
                counter += 1
        self.entries.pop(mkey, None)
        self.note(mkey, now_ms(), counter)

    def restore(self, mkey: bytes, idle_ms: int | None, counter: int | None) -> None:
        """RESTORE's IDLETIME / FREQ (objectSetLRUOrLFU): under an LFU policy the counter
        is set, otherwise the last access is put `idle_ms` in the past."""
        if self.lfu:
            if counter is not None:
                self.entries.pop(mkey, None)
                self.note(mkey, now_ms(), counter)
        elif idle_ms is not None:
            last = self.entries.pop(mkey, None)
            self.note(mkey, now_ms() - idle_ms, last[1] if last else LFU_INIT)

    def idle_ms(self, mkey: bytes) -> int:
        """Time since the key was last used; for a key not used lately, since start-up."""
        last = self.entries.get(mkey)
        return now_ms() - (last[0] if last else self.opened_ms)

    def counter(self, mkey: bytes, decay_minutes: int = 1) -> int:
        """The key's LFU counter, decayed by a point per `decay_minutes` since its use."""
        last_ms, counter = self.entries.get(mkey, (self.opened_ms, LFU_INIT))
        if decay_minutes:
            periods = (now_ms() - last_ms) // 60_000 // decay_minutes
            counter = max(counter - periods, 0)
        return counter
