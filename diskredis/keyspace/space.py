"""The keyspace: Redis keys over an engine, with expiry, key counts and reclamation.

Room: turning keys and values into records (`layout`) inside the storage lane's
batch transaction. Imports: this package (`access`, `cache`, `clock`, `cursors`,
`layout`, `reclaim`, `watches`), `storage` (the interface), `errors`. What is not about
records has a module of its own: the access table (OBJECT IDLETIME/FREQ), the WATCH
registry, SCAN's cursors and the reclaimer.

- The lane opens one write transaction per batch (`begin`), commands read and write
  through it, and the lane commits it (`commit`) before any reply of the batch leaves.
- Expiry: a key whose deadline has passed is removed when a command looks it up, and
  `active_expire` walks the ordered expire index in bounded steps; no command ever
  sees an expired key.
- Key counts live in `stats` per slot; changes are summed during the batch and
  written once at commit (DBSIZE is O(1)).
- FLUSHDB gives the database a fresh slot and queues the old one in `gc`; SWAPDB
  swaps two slot numbers. Both return at once; the reclaimer (`reclaim.py`) deletes
  queued slots and big collections in bounded steps between batches.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from diskredis.keyspace import layout as L
from diskredis.keyspace.access import AccessTable
from diskredis.keyspace.backlog import Backlog, Propagation
from diskredis.keyspace.cache import Entry, HotCache, to_entry
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.cursors import Cursors
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.reclaim import Reclaimer
from diskredis.keyspace.watches import Watches
from diskredis.storage import Engine, StorageError, Txn, prefix_end

#: `maxmemory` bounds the state kept in memory per key: the hot cache, and the access
#: table (`access.py`), which takes ACCESS_SHARE of it.


class SchemaError(StorageError):
    """The data folder holds another format than this diskredis reads."""


_LIVE_BOUNDS = 10_000  # ranges whose live bounds are remembered
_COMPACT_EVERY = 5_000  # deletes in one ordered range between two compactions of it
DUE_COUNT_LIMIT = 100_000  # expired keys DBSIZE looks for (~0.1 s) beyond those removed
_LOADING, _LOADING_END = b"loading-slot:", b"loading-slot;"  # a full resync's slots
_BUILDING, _BUILDING_END = L.BUILDING_KID, b"building-kid;"  # values stored in steps
_AVG_TTL_SCAN = 200  # keys of a database avg_ttl reads when the expire index gave none


# Keyspace notification classes (notify.c): bits of `Keyspace.notify_flags`.
# What a lookup does besides finding the record (`Keyspace.lookup`):
LOOKUP_TOUCH = 1  # update the key's access time and LFU counter
LOOKUP_READ = 2  # a read: keyspace_hits/misses, "keymiss" events
LOOKUP_NONOTIFY = 4  # no "keymiss" event
LOOKUP_CACHE = 8  # the command only reads: cache what is read from the engine at once

NOTIFY_KEYSPACE = 1 << 0  # K
NOTIFY_KEYEVENT = 1 << 1  # E
NOTIFY_GENERIC = 1 << 2  # g
NOTIFY_STRING = 1 << 3  # $
NOTIFY_LIST = 1 << 4  # l
NOTIFY_SET = 1 << 5  # s
NOTIFY_HASH = 1 << 6  # h
NOTIFY_ZSET = 1 << 7  # z
NOTIFY_EXPIRED = 1 << 8  # x
NOTIFY_EVICTED = 1 << 9  # e
NOTIFY_STREAM = 1 << 10  # t
NOTIFY_KEY_MISS = 1 << 11  # m
NOTIFY_MODULE = 1 << 12  # d
NOTIFY_NEW = 1 << 14  # n
NOTIFY_CLASSES = {
    "K": NOTIFY_KEYSPACE,
    "E": NOTIFY_KEYEVENT,
    "g": NOTIFY_GENERIC,
    "$": NOTIFY_STRING,
    "l": NOTIFY_LIST,
    "s": NOTIFY_SET,
    "h": NOTIFY_HASH,
    "z": NOTIFY_ZSET,
    "x": NOTIFY_EXPIRED,
    "e": NOTIFY_EVICTED,
    "t": NOTIFY_STREAM,
    "m": NOTIFY_KEY_MISS,
    "d": NOTIFY_MODULE,
    "n": NOTIFY_NEW,
}


class Keyspace:
    def __init__(
        self, engine: Engine, databases: int, cache_bytes: int = 128 << 20, *, view: bool = False
    ) -> None:
        """`view`: a read-only keyspace over one snapshot of `engine` (`close_view` ends
        it), which another thread than the lane's may use while the lane goes on (the
        engine must be pinned for it: `Engine.pin_readers`)."""
        self.engine = engine
        # The hot cache, and for OBJECT IDLETIME / FREQ the last access (ms) and LFU
        # counter of recently used keys: `cache_bytes` (maxmemory) bounds both.
        self.cache = HotCache(cache_bytes)
        self.opened_ms = now_ms()
        self.access = AccessTable(self.opened_ms)
        self.set_budget(cache_bytes)
        # This batch's records (written, or read by a write command), for the cache.
        self._staged: dict[bytes, Entry] = {}  # the batch's records, as cache entries
        self.max_key = engine.max_key_size
        self.databases = databases
        self.txn: Txn | None = None
        self._deltas: dict[bytes, int] = {}  # stats counter -> change in this batch
        self.expired_keys = 0
        self.expired_fields = 0  # hash fields removed past their deadline
        self.changes = 0  # keys stored or removed since the last SAVE (INFO's dirty count)
        self.cursors = Cursors()  # SCAN (`cursors.py`)
        # (db, key) stored or removed, in order; (db, None): every key of db may have
        # changed (FLUSHDB, FLUSHALL, SWAPDB). Kept only while `waiters` (the lane sets it
        # while a client waits in a blocking command and serves it from this).
        self.written: dict[tuple[int, bytes | None], None] = {}
        self.waiters = False
        # Client-side caching: told of every key stored or removed (`expired`: by expiry),
        # while anything is tracked (commands.tracking sets it).
        self.on_modified: Callable[[bytes, bool], None] | None = None
        # A script's start (ms; 0: none): keys expire as of then while it runs, as Redis
        # holds a script's clock, so a key it saw stays until it ends (scripting sets it).
        self.script_time = 0
        # CLIENT PAUSE (set by the lane): expired keys read as missing but stay, as Redis
        # expires nothing while clients are paused.
        self.expire_paused = False
        self.hits = 0
        self.misses = 0
        # Where scans of the queue-like tables start. Their fronts are deleted records,
        # which an LSM engine (LevelDB) keeps as tombstones until compaction: scanning
        # from the very start each time would slow down as they pile up.
        self._expire_from = b""  # every expire entry sorts at or after this
        self.fexpire_from = b""  # and every fexpire entry at or after this
        self._format = L.SCHEMA_VERSION  # the folder's storage format (`_open`)
        # deleted collections, flushed dbs (`reclaim.py`)
        self.reclaim = Reclaimer(self._t, engine.max_key_size)
        # Known-empty ends of ordered ranges (a sorted set's index): prefix -> (lowest,
        # highest-exclusive) key that may still hold a record. Queue-like use deletes
        # from one end; starting scans past the deleted stretch keeps an LSM engine from
        # walking its deletion markers on every call. Forgotten on abort.
        self._live: OrderedDict[bytes, tuple[bytes, bytes]] = OrderedDict()
        # Deletes per ordered range since it was last compacted; ranges due for it.
        self._deletes: dict[bytes, int] = {}
        self._compact_due: list[bytes] = []
        self.watches = Watches(self.record)  # WATCH (`watches.py`)
        # Replication: the stream on disk and what the running unit adds to it.
        self.backlog = Backlog(self._t)
        self.repl = Propagation(self.backlog)
        # Keyspace notifications: the enabled classes (set by the lane from
        # notify-keyspace-events) and who publishes them: (event, key, db).
        self.notify_flags = 0
        self.active_expire = True  # DEBUG SET-ACTIVE-EXPIRE
        # DEBUG PAUSE-CRON: the periodic work (active expiry, reclamation of big keys,
        # client timeouts, instantaneous statistics) stops until it is set back.
        self.cron_paused = False
        # Set by the lane while writes are refused after a failed commit (the reason):
        # an expired key then just reads as missing, nothing is deleted.
        self.read_only_reason: str | None = None
        # A replica (`following`) expires nothing itself: its primary sends the DELs.
        # An expired key reads as missing to its clients but is still there for the
        # primary's commands (`obeying`: the lane sets it while they run).
        self.following = False
        self.obeying = False
        self.loading = False  # storing into a full resync's loading slots
        self.on_event: Callable[[bytes, bytes, int], None] | None = None
        if view:
            self.txn = engine.snapshot()
            self.slots = [
                L.read_u32(raw) if raw is not None else 0
                for raw in (self.txn.get("stats", b"slot:" + L.u32(db)) for db in range(databases))
            ]
            self.backlog.load(self.txn)  # the stream's offset this snapshot holds
        else:
            self._open()

    def close_view(self) -> None:
        if self.txn is not None:
            self.txn.abort()
            self.txn = None

    def event(self, cls: int, name: bytes, key: bytes, db: int) -> None:
        """notifyKeyspaceEvent: publish event `name` of class `cls` on `key` if enabled."""
        if self.notify_flags & cls and self.on_event is not None:
            self.on_event(name, key, db)

    # -- set-up ------------------------------------------------------------------------
    def _open(self) -> None:
        with self.engine.write() as txn:
            version = txn.get("stats", b"format")
            if version is None:
                if next(iter(txn.scan("meta")), None) is not None:
                    raise SchemaError(
                        "%s holds data without a format record; it was not "
                        "written by diskredis" % self.engine.path
                    )
                txn.put("stats", b"format", L.u32(L.SCHEMA_VERSION))
            elif L.read_u32(version) in L.READABLE_VERSIONS:
                # Format 2 stays 2 (its release can still open it) until a field gets
                # a deadline: records only format 3 has (`_store`).
                self._format = L.read_u32(version)
            else:
                raise SchemaError(
                    "%s holds storage format %d; this diskredis reads format %d. Use the "
                    "diskredis release that wrote it, or dump and restore the data"
                    % (self.engine.path, L.read_u32(version), L.SCHEMA_VERSION)
                )
            self.slots = [self._slot_of(txn, db) for db in range(self.databases)]
            self.backlog.load(txn)
            self.repl.seldb = self.backlog.seldb
            self.txn = txn
            try:  # a full resync's load that a crash cut short: its slots go to gc
                self.abandon_load(self.loading_slots())
                for kid in self.building_kids():  # and values a crash cut short
                    self.abandon_build(kid)
            finally:
                self.txn = None

    def _slot_of(self, txn: Txn, db: int) -> int:
        raw = txn.get("stats", b"slot:" + L.u32(db))
        if raw is not None:
            return L.read_u32(raw)
        return self._new_slot(txn, db)

    def _new_slot(self, txn: Txn, db: int) -> int:
        slot = self._fresh_slot(txn)
        txn.put("stats", b"slot:" + L.u32(db), L.u32(slot))
        return slot

    @staticmethod
    def _fresh_slot(txn: Txn) -> int:
        raw = txn.get("stats", b"next-slot")
        slot = L.read_u32(raw) if raw is not None else 1
        txn.put("stats", b"next-slot", L.u32(slot + 1))
        return slot

    # -- batches -----------------------------------------------------------------------
    def begin(self, incoming_bytes: int = 0) -> None:
        self.engine.before_batch(incoming_bytes)
        self.txn = self.engine.write()
        self._deltas = {}

    def commit(self) -> None:
        """Write the batch; raises StorageError (and leaves nothing written) on failure."""
        txn = self._t()
        try:
            for name, delta in self._deltas.items():
                if delta:
                    txn.put("stats", name, L.u64(self._stored(name) + delta))
            self._deltas = {}
            if txn.dirty:
                txn.commit()
            else:
                txn.abort()
            self.backlog.commit()
            put = self.cache.put_entry
            for mkey, entry in self._staged.items():
                put(mkey, entry)
            self._staged = {}
        except BaseException:
            self.abort()
            raise
        finally:
            self.txn = None

    def abort(self) -> None:
        if self.txn is not None:
            self.txn.abort()
            self.txn = None
        self._deltas = {}
        self._staged = {}
        self.slots = [self._slot_of_committed(db) for db in range(self.databases)]
        self._expire_from = self.fexpire_from = b""  # re-read them
        self.reclaim.reset()
        self._live.clear()
        read = self.engine.read()
        try:
            self.backlog.abort(read)
        finally:
            read.abort()
        self.repl.reset()  # the unit went with the batch, and what it selected

    def _slot_of_committed(self, db: int) -> int:
        txn = self.engine.read()
        try:
            raw = txn.get("stats", b"slot:" + L.u32(db))
        finally:
            txn.abort()
        return L.read_u32(raw) if raw is not None else self.slots[db]

    def _t(self) -> Txn:
        assert self.txn is not None, "keyspace used outside a batch"
        return self.txn

    def tx(self) -> Txn:
        """The batch's transaction, for the type modules that own element records."""
        txn = self.txn
        assert txn is not None, "keyspace used outside a batch"
        return txn

    # -- keys --------------------------------------------------------------------------
    def _mkey(self, db: int, key: bytes) -> tuple[bytes, bool]:
        return L.meta_key(self.slots[db], key, self.max_key)

    def _raw(self, mkey: bytes, key: bytes, hashed: bool, cache: int = 0) -> Meta | None:
        """The stored record (expired or not): this batch's, the cache's, or the engine's.
        Callers get their own copy: they may change it before storing it back. A record
        read from the engine goes to the cache at once if `cache` (a read-only command:
        nothing of this batch can change it), else with the batch's commit."""
        staged = self._staged
        if mkey in staged:
            entry = staged[mkey]
            meta = None if entry is None else Meta(*entry)
        else:
            found, meta = self.cache.get(mkey)  # a new object, or
            if not found:
                raw = self._t().get("meta", mkey)
                meta = None if raw is None else L.decode_meta(raw)  # one the cache copies
                if cache:
                    self.cache.put(mkey, meta)  # committed state: no write of this batch
                else:  # a write command: kept for the batch, cached once at its commit
                    staged[mkey] = to_entry(meta)
        if meta is None:
            return None
        if hashed and meta.key != key:
            raise StorageError(
                "two long keys share the hash %s; refusing to mix them up" % mkey[5:].hex()
            )
        return meta

    def clock(self) -> int:
        """The time keys expire by: now, or the running script's start."""
        return self.script_time or now_ms()

    def lookup(self, db: int, key: bytes, flags: int) -> Meta | None:
        """The key's record, or None when it does not exist or has expired.

        `flags` (Redis's lookupKey flags, the other way round): LOOKUP_TOUCH updates a
        found key's access time and LFU counter; a LOOKUP_READ counts in
        keyspace_hits/misses and, missing, sends a "keymiss" event unless
        LOOKUP_NONOTIFY -- Redis's lookupKeyRead; LOOKUP_CACHE: the command only reads
        (see `_raw`). The caller says them for each call (a command through
        `Ctx.lookup`, which knows the command and the client); the keyspace keeps no
        per-command state."""
        mkey, hashed = self._mkey(db, key)
        meta = self._raw(mkey, key, hashed, flags & LOOKUP_CACHE)
        if meta is not None and meta.expire and meta.expire < self.clock():
            if self.following:
                if not self.obeying:
                    meta = None
            elif self.read_only_reason is None and not self.expire_paused:
                self._drop(db, mkey, meta, expired=True)
                self.expired_keys += 1
                self.event(NOTIFY_EXPIRED, b"expired", key, db)
                meta = None
            else:
                meta = None
        if flags & LOOKUP_READ:
            if meta is None:
                self.misses += 1
                if not flags & LOOKUP_NONOTIFY:
                    self.event(NOTIFY_KEY_MISS, b"keymiss", key, db)
            else:
                self.hits += 1
        if meta is not None and flags & LOOKUP_TOUCH:
            self.access.touch(mkey)
        return meta

    def set_budget(self, budget: int) -> None:
        """Share `budget` (bytes: `maxmemory`) between the access table and the cache."""
        self.budget = budget
        self.cache.resize(max(budget - self.access.set_limit(budget), budget // 2))

    def mkey(self, db: int, key: bytes) -> bytes:
        """The key's meta key: what the access table and the cache know it by."""
        return L.meta_key(self.slots[db], key, self.max_key)[0]

    def store(self, db: int, key: bytes, meta: Meta, quiet: bool = False) -> None:
        """Create or replace `key` with `meta` (its expiry included). `quiet`: a change
        of the record that is none of the value's (a hash made ready for field
        deadlines): no WATCH, tracking or waiting client is told, nothing counted."""
        mkey, hashed = self._mkey(db, key)
        self._store(db, key, meta, mkey, hashed, self._raw(mkey, key, hashed), quiet)

    def replace(self, db: int, key: bytes, meta: Meta, old: Meta | None) -> None:
        """`store`, for a caller that has just had `old` from `lookup` of the key (and
        changed nothing since): saves reading the record again."""
        mkey, hashed = self._mkey(db, key)
        self._store(db, key, meta, mkey, hashed, old)

    def _store(
        self,
        db: int,
        key: bytes,
        meta: Meta,
        mkey: bytes,
        hashed: bool,
        old: Meta | None,
        quiet: bool = False,
    ) -> None:
        txn = self._t()
        if (
            old is not None
            and L.is_collection(old.type)
            and (
                not L.is_collection(meta.type)
                or L.coll_head(old.payload)[0] != L.coll_head(meta.payload)[0]
            )
        ):
            self.reclaim.free(*L.coll_head(old.payload))  # overwritten: reclaim
        if old is None:
            self._add(b"count:", db, 1)
        elif old.expire and old.expire < self.clock():
            # Past its deadline but not yet removed: as Redis, it expires, then a new
            # key takes its place.
            self.expired_keys += 1
            self.event(NOTIFY_EXPIRED, b"expired", key, db)
        max_key = self.max_key
        if old is not None and old.expire and old.expire != meta.expire:
            txn.delete("expire", L.expire_entry(old.expire, mkey, max_key)[0])
        fields_before, fields_now = L.field_expire(old), L.field_expire(meta)
        if fields_before != fields_now:
            if fields_before:
                txn.delete("fexpire", L.expire_entry(fields_before, mkey, max_key)[0])
            if fields_now:
                fkey, fvalue = L.expire_entry(fields_now, mkey, max_key)
                txn.put("fexpire", fkey, fvalue)
                if fkey < self.fexpire_from:
                    self.fexpire_from = fkey
                if self._format < 3:  # the first field deadline: format 3 from now on
                    txn.put("stats", b"format", L.u32(3))
                    self._format = 3
        had = bool(old is not None and old.expire)
        if had != bool(meta.expire):
            self._add(b"expires:", db, 1 if meta.expire else -1)
        meta.key = key if hashed else None
        if not self.loading and not quiet:
            if self.waiters:
                self.written[(db, key)] = None
            if self.watches.by_key:
                self.watches.touched(db, key, deleted=False)
            if self.on_modified is not None:
                self.on_modified(key, False)
        self.changes += not quiet
        if old is None or (old.expire and old.expire < self.clock()):
            self.access.created(mkey)
            if not self.loading:
                self.event(NOTIFY_NEW, b"new", key, db)
        txn.put("meta", mkey, meta.encode())
        self._staged[mkey] = (meta.type, meta.expire, meta.payload, meta.key)
        if meta.expire and (old is None or old.expire != meta.expire):
            ekey, evalue = L.expire_entry(meta.expire, mkey, max_key)
            txn.put("expire", ekey, evalue)
            if ekey < self._expire_from:
                self._expire_from = ekey

    def remove(self, db: int, key: bytes, free: bool = True) -> bool:
        """Delete `key`; True if it existed (and had not expired). With `free` False a
        collection's elements stay (RENAME and MOVE take them along)."""
        mkey, hashed = self._mkey(db, key)
        meta = self._raw(mkey, key, hashed)
        if meta is None:
            return False
        if self.waiters:
            self.written[(db, key)] = None
        expired = bool(meta.expire and meta.expire < self.clock()) and not self.obeying
        self._drop(db, mkey, meta, free, expired)
        if expired:
            self.expired_keys += 1
            self.event(NOTIFY_EXPIRED, b"expired", key, db)
            return False
        return True

    def _drop(
        self, db: int, mkey: bytes, meta: Meta, free: bool = True, expired: bool = False
    ) -> None:
        if self.watches.by_key:
            self.watches.touched(db, L.user_key(mkey, meta), deleted=True)
        if self.on_modified is not None:
            self.on_modified(L.user_key(mkey, meta), expired)
        if expired:  # not a change of a command's (Redis's dirty), but replicated
            if self.backlog.recording:
                self.repl.also(db, [self.repl.expire_verb, L.user_key(mkey, meta)])
        else:
            self.changes += 1
        if free and L.is_collection(meta.type):
            self.reclaim.free(*L.coll_head(meta.payload))
        txn = self._t()
        txn.delete("meta", mkey)
        self._staged[mkey] = None
        self.access.forget(mkey)
        if meta.expire:
            txn.delete("expire", L.expire_entry(meta.expire, mkey, self.max_key)[0])
            self._add(b"expires:", db, -1)
        fields = L.field_expire(meta)
        if fields:
            txn.delete("fexpire", L.expire_entry(fields, mkey, self.max_key)[0])
        self._add(b"count:", db, -1)

    # -- counts ------------------------------------------------------------------------
    def _stored(self, name: bytes) -> int:
        raw = self._t().get("stats", name)
        return L.read_u64(raw) if raw is not None else 0

    def _add(self, counter: bytes, db: int, n: int) -> None:
        name = counter + L.u32(self.slots[db])
        self._deltas[name] = self._deltas.get(name, 0) + n

    def _counter(self, counter: bytes, db: int) -> int:
        name = counter + L.u32(self.slots[db])
        return self._stored(name) + self._deltas.get(name, 0)

    def persist(self, db: int, key: bytes, meta: Meta) -> None:
        """Drop the key's expiry (the record stays)."""
        meta.expire = L.NO_EXPIRY
        self.store(db, key, meta)

    def dbsize(self, db: int) -> int:
        """Keys in `db`, less those active expiry is about to remove (see `leaving`)."""
        return self._counter(b"count:", db) - self.leaving().get(db, 0)

    def leaving(self) -> dict[int, int]:
        """db -> keys whose deadline has passed that DBSIZE and INFO keyspace leave out:
        active expiry removes them in bounded steps (see `due_counts`), as Redis's does
        within its next cycles. With active expiry off (DEBUG SET-ACTIVE-EXPIRE 0) or
        paused (CLIENT PAUSE), only an access removes them: they count, as in Redis."""
        if not self.active_expire or self.expire_paused or self.cron_paused or self.following:
            return {}
        return self.due_counts()

    def expires(self, db: int) -> int:
        """Keys of `db` with a deadline (INFO keyspace), as counted."""
        return self._counter(b"expires:", db)

    def stored(self, db: int) -> int:
        """Keys of `db` as counted, whose deadline may have passed (what a read-only
        view can tell without removing them)."""
        return self._counter(b"count:", db)

    def due_counts(self, limit: int = DUE_COUNT_LIMIT) -> dict[int, int]:
        """db -> keys whose deadline has passed and that active expiry has not removed
        yet. A read: it walks the due part of the expire index, at most `limit`
        entries (a mass expiry leaves at most that many uncounted for a moment, as
        Redis's DBSIZE counts every such key)."""
        txn = self._t()
        slot_db = {slot: i for i, slot in enumerate(self.slots)}
        counts: dict[int, int] = {}
        for n, (ekey, evalue) in enumerate(txn.scan("expire", self._expire_from, L.u64(now_ms()))):
            if n >= limit:
                break
            owner = slot_db.get(L.read_u32(L.split_expire_entry(ekey, evalue)[1][:4]))
            if owner is not None:
                counts[owner] = counts.get(owner, 0) + 1
        return counts

    def expire_due(self, budget: int | None = None, quietly: bool = False) -> int:
        """Remove keys whose deadline has passed, at most `budget` expire entries;
        how many entries were handled (== `budget`: there may be more). `quietly`: not
        counted in expired_keys nor announced (as a reload leaves them out)."""
        txn = self._t()
        slot_db = {slot: i for i, slot in enumerate(self.slots)}
        repl = self.repl
        queued = len(repl.ops)
        due: list[tuple[bytes, bytes]] = []  # taken first: no deletes under an open scan
        for entry in txn.scan("expire", self._expire_from, L.u64(now_ms())):
            if budget is not None and len(due) >= budget:
                break
            due.append(entry)
        for ekey, evalue in due:
            _, mkey = L.split_expire_entry(ekey, evalue)
            owner = slot_db.get(L.read_u32(mkey[:4]))
            txn.delete("expire", ekey)
            if owner is None:  # a flushed slot: gc reclaims its keys
                continue
            raw = txn.get("meta", mkey)
            if raw is not None:
                meta = L.decode_meta(raw)
                self._drop(owner, mkey, meta, expired=True)
                if quietly:
                    continue
                self.expired_keys += 1
                if self.notify_flags & NOTIFY_EXPIRED:
                    self.event(NOTIFY_EXPIRED, b"expired", L.user_key(mkey, meta), owner)
        if due:
            self._expire_from = max(self._expire_from, due[-1][0])
        if quietly:  # a reload's leftovers: nothing to tell replicas
            del repl.ops[queued:]
        else:
            self.housekeeping_done()
        return len(due)

    def has_field_deadlines(self) -> bool:
        """Some hash of a database has a field with a deadline (`fexpire` holds it;
        entries of flushed databases, which reclamation removes, do not count)."""
        live = {L.u32(slot) for slot in self.slots}
        for ekey, evalue in self._t().scan("fexpire"):
            if L.split_expire_entry(ekey, evalue)[1][:4] in live:
                return True
        return False

    def fields_expired(self, db: int, key: bytes, fields: list[bytes]) -> None:
        """Hash fields of `key` removed past their deadline: counted
        (expired_subkeys) and told to replicas, an HDEL each, as Redis does."""
        if not fields:
            return
        self.expired_fields += len(fields)
        if self.backlog.recording:
            for field in fields:
                self.repl.also(db, [b"HDEL", key, field])

    def housekeeping_done(self) -> None:
        """After a step of active expiry: what it queued for replicas goes out now,
        never inside a MULTI."""
        repl = self.repl
        if repl.ops and not repl.depth:
            repl.no_multi = True
            try:
                repl.flush()
            finally:
                repl.no_multi = False

    # -- live bounds of ordered ranges ----------------------------------------------------
    def live_bounds(self, prefix: bytes) -> tuple[bytes, bytes]:
        """[low, high): no record of the range under `prefix` lies outside it."""
        bounds = self._live.get(prefix)
        if bounds is not None:
            return bounds
        end = prefix_end(prefix)
        assert end is not None, "a range prefix is never all 0xff bytes"
        return prefix, end

    def learn_bounds(
        self, prefix: bytes, low: bytes | None = None, high: bytes | None = None
    ) -> None:
        """A scan found nothing below `low` (or from `high` on) under `prefix`."""
        lo, hi = self.live_bounds(prefix)
        self._live[prefix] = (
            max(lo, low) if low is not None else lo,
            min(hi, high) if high is not None else hi,
        )
        self._live.move_to_end(prefix)
        if len(self._live) > _LIVE_BOUNDS:
            self._live.popitem(last=False)

    def note_delete(self, prefix: bytes) -> None:
        """A record under `prefix` was deleted: every `_COMPACT_EVERY` of them, have the
        engine drop the deletion markers (one-ended queues leave them where every scan
        from that end would walk them)."""
        n = self._deletes.get(prefix, 0) + 1
        if n >= _COMPACT_EVERY:
            self._compact_due.append(prefix)
            n = 0
        self._deletes[prefix] = n
        if len(self._deletes) > _LIVE_BOUNDS:
            self._deletes.pop(next(iter(self._deletes)))

    @property
    def compaction_pending(self) -> bool:
        return bool(self._compact_due)

    def compact_due(self) -> None:
        """Between batches: compact the ranges that are due."""
        while self._compact_due:
            prefix = self._compact_due.pop()
            end = prefix_end(prefix)
            assert end is not None
            self.engine.compact("sub", prefix, end)

    def note_insert(self, prefix: bytes, key: bytes) -> None:
        """A record was written under `prefix`: widen its live bounds to hold it."""
        bounds = self._live.get(prefix)
        if bounds is not None and not bounds[0] <= key < bounds[1]:
            self._live[prefix] = (min(bounds[0], key), max(bounds[1], key + b"\x00"))

    # -- records as they are --------------------------------------------------------
    def record(self, db: int, key: bytes) -> Meta | None:
        """The key's stored record, expired or not, left as it is (WATCH, DEBUG OBJECT)."""
        mkey, hashed = self._mkey(db, key)
        return self._raw(mkey, key, hashed)

    # -- whole databases ---------------------------------------------------------------
    def forget_cached(self) -> None:
        """Drop the hot cache: what follows reads the data from the engine (DEBUG RELOAD).
        The cache holds committed state only, so this batch's writes stay staged."""
        self.cache.clear()

    def flush(self, db: int, slot: int = 0) -> None:
        """Empty `db` at once: it gets a fresh slot (or `slot`, a loaded one); the old
        one is queued for gc."""
        if self.watches.by_key:
            self.watches.touched_db(db)
        if self.waiters:
            self.written[(db, None)] = None
        txn = self._t()
        old = self.slots[db]
        for counter in (b"count:", b"expires:"):
            self._deltas.pop(counter + L.u32(old), None)
            txn.delete("stats", counter + L.u32(old))
        self.reclaim.free_slot(old)
        if slot:
            txn.put("stats", b"slot:" + L.u32(db), L.u32(slot))
            self.slots[db] = slot
        else:
            self.slots[db] = self._new_slot(txn, db)

    # -- a replica's full resync: the primary's data loaded beside the served data -----
    def begin_load(self) -> list[int]:
        """Fresh slots, one per database, to load a primary's dataset into while the
        current data is still served (`loading_into`, then `finish_load`). They are
        recorded, so that a crash before the switch frees them at the next start."""
        txn = self._t()
        self.abandon_load(self.loading_slots())  # one a cancelled attempt left
        shadow = []
        for db in range(self.databases):
            slot = self._fresh_slot(txn)
            txn.put("stats", _LOADING + L.u32(db), L.u32(slot))
            shadow.append(slot)
        return shadow

    def loading_slots(self) -> list[int]:
        """The slots of a load not finished (`begin_load`), as committed."""
        return [L.read_u32(v) for _, v in self._t().scan("stats", _LOADING, _LOADING_END)]

    @contextmanager
    def loading_into(self, shadow: list[int]) -> Iterator[None]:
        """Within: the databases are the loading slots (a step of the load). What is
        stored there is no change of the served data: no WATCH is touched, no client
        told (tracking, keyspace events, blocked clients), nothing counted."""
        saved, self.slots = self.slots, shadow
        changes, self.loading = self.changes, True
        try:
            yield
        finally:
            self.slots = saved
            self.changes, self.loading = changes, False

    def finish_load(self, shadow: list[int]) -> None:
        """Switch every database to its loaded slot at once (one batch: clients see
        the old dataset or the new one, never a mix); the old slots go to gc."""
        txn = self._t()
        for db, slot in enumerate(shadow):
            self.flush(db, slot)
            txn.delete("stats", _LOADING + L.u32(db))

    def abandon_load(self, shadow: list[int]) -> None:
        """Give up a load: its slots, whatever they hold, go to gc."""
        txn = self._t()
        for db, slot in enumerate(shadow):
            for counter in (b"count:", b"expires:"):
                self._deltas.pop(counter + L.u32(slot), None)
                txn.delete("stats", counter + L.u32(slot))
            self.reclaim.free_slot(slot)
            txn.delete("stats", _LOADING + L.u32(db))

    def swap(self, a: int, b: int) -> None:
        if self.watches.by_key:
            self.watches.touched_db(a, b)
            self.watches.touched_db(b, a)
        if self.waiters:
            self.written[(a, None)] = self.written[(b, None)] = None
        txn = self._t()
        self.slots[a], self.slots[b] = self.slots[b], self.slots[a]
        txn.put("stats", b"slot:" + L.u32(a), L.u32(self.slots[a]))
        txn.put("stats", b"slot:" + L.u32(b), L.u32(self.slots[b]))

    # -- collections and reclamation ---------------------------------------------------
    def building(self, kid: int) -> None:
        """Record that elements are being written under `kid`, which no key points to
        yet (a value stored in steps: `types.Build`): a crash before `built` leaves its
        records to gc at the next start."""
        self._t().put("stats", _BUILDING + L.u64(kid), b"")

    def built(self, kid: int) -> None:
        """A key points to `kid` now (or its records went to gc)."""
        self._t().delete("stats", _BUILDING + L.u64(kid))

    def building_kids(self) -> list[int]:
        """The ids recorded by `building` and not `built`, as committed."""
        return [
            L.read_u64(k[len(_BUILDING) :])
            for k, _ in self._t().scan("stats", _BUILDING, _BUILDING_END)
        ]

    def abandon_build(self, kid: int) -> None:
        """Give up a value being stored in steps: its records go to gc."""
        self.built(kid)
        self.reclaim.free(kid, L.INLINE_FREE + 1)

    def new_kid(self) -> int:
        """A fresh collection id (never reused)."""
        txn = self._t()
        raw = txn.get("stats", b"next-kid")
        kid = L.read_u64(raw) if raw is not None else 1
        txn.put("stats", b"next-kid", L.u64(kid + 1))
        return kid

    def avg_ttl(self, db: int, probes: int = 20) -> int:
        """INFO keyspace's avg_ttl: the mean remaining TTL (ms) of a sample of `db`'s
        expiring keys, found by seeking the expire index (all databases') at `probes`
        deadlines spread between now and its last deadline, or else among `db`'s first
        keys (Redis too estimates it from samples); 0 when none is found."""
        txn = self._t()
        slot = L.u32(self.slots[db])
        now = now_ms()
        last = next(iter(txn.scan("expire", reverse=True)), None)
        if last is None:
            return 0
        top = L.split_expire_entry(*last)[0]
        if top <= now:
            return 0
        ttls = []
        for i in range(probes):
            start = L.u64(now + (top - now) * i // probes)
            for n, (ekey, evalue) in enumerate(txn.scan("expire", start)):
                deadline, mkey = L.split_expire_entry(ekey, evalue)
                if mkey[:4] == slot and deadline > now:
                    ttls.append(deadline - now)
                    break
                if n >= 8:
                    break
        if not ttls:  # the index is mostly other databases': read `db`'s first keys
            prefix = L.slot_prefix(self.slots[db])
            for n, (_, raw) in enumerate(txn.scan("meta", prefix, prefix_end(prefix))):
                if n >= _AVG_TTL_SCAN:
                    break
                deadline = L.decode_meta(raw).expire
                if deadline > now:
                    ttls.append(deadline - now)
        return sum(ttls) // len(ttls) if ttls else 0

    def clone_elements(self, kid: int) -> int:
        """Copy every element of `kid` under a new id (COPY); returns the new id."""
        txn = self._t()
        new = self.new_kid()
        prefix = L.sub_prefix(kid)
        head = L.sub_prefix(new)
        for skey, value in list(txn.scan("sub", prefix, prefix_end(prefix))):
            txn.put("sub", head + skey[8:], value)
        return new

    # -- iteration ---------------------------------------------------------------------
    def iter_keys(
        self, db: int, after: bytes = b"", due: bool = False
    ) -> Iterator[tuple[bytes, bytes, Meta]]:
        """(meta key, user key, record) of live keys in meta-key order, after `after`;
        with `due`, keys past their deadline not removed yet too (DEBUG DIGEST)."""
        prefix = L.slot_prefix(self.slots[db])
        start = after + b"\x00" if after else prefix
        now = 0 if due else now_ms()
        for mkey, raw in self._t().scan("meta", start, prefix_end(prefix)):
            meta = L.decode_meta(raw)
            if meta.expire and meta.expire < now:
                continue
            yield mkey, L.user_key(mkey, meta), meta

    # -- SCAN ------------------------------------------------------------------------
    def scan_page(self, db: int, cursor: int, count: int) -> tuple[int, list[tuple[bytes, Meta]]]:
        """One SCAN step: (next cursor, 0 when done; [(user key, record)] of live keys).
        What a cursor holds, and Redis's guarantee kept: `cursors.py`."""
        out: list[tuple[bytes, Meta]] = []
        now = now_ms()
        nxt, page = self.cursors.page(
            self._t(), "meta", L.slot_prefix(self.slots[db]), cursor, count
        )
        for mkey, raw in page:
            meta = L.decode_meta(raw)
            if not (meta.expire and meta.expire < now):
                out.append((L.user_key(mkey, meta), meta))
        return nxt, out

    def element_page(
        self, kid: int, cursor: int, count: int
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        """One HSCAN/SSCAN/ZSCAN step over a collection's elements: (next cursor,
        [(field, value)]), with the cursors and guarantee of `scan_page` (index and
        position records are not elements)."""
        prefix = L.sub_prefix(kid)
        nxt, page = self.cursors.page(
            self._t(), "sub", prefix, cursor, count, prefix + L.ELEMENTS_END
        )
        return nxt, [L.decode_sub(skey, raw) for skey, raw in page]

    def random_key(self, db: int) -> bytes | None:
        """A live key of `db` picked at a random position; None if the database is empty."""
        prefix = L.slot_prefix(self.slots[db])
        now = now_ms()
        pivot = prefix + b"\x00" + os.urandom(8)
        for first, second in ((pivot, prefix_end(prefix)), (prefix, pivot)):
            for mkey, raw in self._t().scan("meta", first, second):
                meta = L.decode_meta(raw)
                if not (meta.expire and meta.expire < now):
                    return L.user_key(mkey, meta)
        return None

    def storage_size(self, db: int, key: bytes, samples: int = 5) -> int | None:
        """Bytes the key's records take (meta record, expire entry); None if missing."""
        mkey, hashed = self._mkey(db, key)
        meta = self.lookup(db, key, LOOKUP_READ | LOOKUP_NONOTIFY)  # objectCommandLookup
        if meta is None:
            return None
        size = (
            len(mkey) + len(meta.encode())
            if not hashed
            else len(mkey) + len(L.Meta(meta.type, meta.expire, meta.payload, key).encode())
        )
        if meta.expire:
            size += 8 + len(mkey)
        if L.is_collection(meta.type):
            size += self._elements_size(*L.coll_head(meta.payload), samples)
        return size

    def _elements_size(self, kid: int, count: int, samples: int) -> int:
        """Bytes of a collection's element records: exact over the first `samples`
        elements (0: all), extrapolated to the count, as Redis samples."""
        prefix = L.sub_prefix(kid)
        seen = total = 0
        for skey, value in self._t().scan("sub", prefix, prefix_end(prefix)):
            if samples and seen >= samples:
                break
            seen += 1
            total += len(skey) + len(value)
        return total if not seen or seen >= count else total * count // seen
