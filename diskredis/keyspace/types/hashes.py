"""Hashes: every field its own element record (`keyspace.elements`).

Room: the hash type's records, active expiry of its fields, and its registry entry.
Imports: `config`, `rdb.model`, `keyspace.clock`, `keyspace.elements`, `keyspace.layout`,
`keyspace.space`, `keyspace.types.base`.

Layout (docs/storage-format.md): the meta payload is id | count [| earliest field
deadline]; field f is the element record id | 0x00 | f -> its value (id | 0x01 |
SHA-256 for long fields). A field with a deadline (HEXPIRE, Redis 7.4) has a deadline
record (id | 0x04 | f -> ms) and an entry in its hash's deadline order (id | 0x06 |
ms | f -> f); the head's earliest deadline is exact (0: no field has one), and the
keyspace orders hashes by it in `fexpire`, which active expiry walks
(`expire_fields`). A field past its deadline reads as missing everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import islice

from diskredis.config import Config
from diskredis.keyspace import elements as E
from diskredis.keyspace import layout as L
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_HASH, Keyspace
from diskredis.keyspace.types.base import (
    BUILD_CHUNK,
    Collection,
    TypeSpec,
    build_loader,
    count_of,
    kid_of,
)
from diskredis.rdb import model as R

CODE = L.HASH


class Hash(Collection):
    """A hash being changed by one command (`save` writes its count and earliest field
    deadline back)."""

    # fexp: the earliest field deadline, or (`stale`) a lower bound of it while
    # deadlines change: looked up again once, when the head is stored, not after each
    # field (HPEXPIRE of thousands of fields with one deadline would redo it for each)
    __slots__ = ("ex", "fexp", "stale")
    code = CODE
    extra = True

    def _fresh(self) -> None:
        self.fexp, self.ex, self.stale = 0, False, False

    def _decode(self, extra: bytes) -> None:
        self.ex, self.stale = len(extra) >= 8, False
        self.fexp = L.read_u64(extra[:8]) if self.ex else 0

    def _encode(self) -> bytes:
        if self.stale:
            self.fexp, self.stale = self._earliest(), False
        return L.u64(self.fexp) if self.ex else b""

    def extend(self) -> bool:
        """Make the hash take field deadlines (Redis's listpack to listpackex, which
        stays so: OBJECT ENCODING); True if it did not before."""
        if self.ex:
            return False
        self.ex = True
        return True

    def get(self, field: bytes) -> bytes | None:
        """The field's value, past its deadline or not."""
        return E.get(self.ks, self.kid, field)

    def put(self, field: bytes, value: bytes) -> bool:
        """Set the field, dropping its deadline (HSET); True if it is new."""
        if self.fexp:
            self.persist(field)
        return self.write(field, value)

    def write(self, field: bytes, value: bytes) -> bool:
        """Set the field, keeping its deadline (KEEPTTL); True if it is new."""
        skey, hashed = L.sub_key(self.kid, field, self.ks.max_key)
        txn = self.txn
        new = txn.get("sub", skey) is None
        txn.put("sub", skey, L.sub_value(field, value, hashed))
        self.count += new
        return new

    def delete(self, field: bytes) -> bool:
        if self.fexp:
            self.persist(field)
        gone = E.delete(self.ks, self.kid, field)
        self.count -= gone
        return gone

    # -- field deadlines ---------------------------------------------------------------
    def deadline(self, field: bytes) -> int:
        """The field's deadline (absolute ms), 0 when it has none."""
        if not self.fexp:
            return 0
        return _deadline(self.ks, self.kid, field)

    def expire_at(self, field: bytes, when: int) -> None:
        """Give the (existing) field the deadline `when` (ms; 0 is stored as 1, as long
        past: 0 means "none" in the head)."""
        when = max(when, 1)
        old = self.deadline(field)
        txn, max_key = self.txn, self.ks.max_key
        if old:
            txn.delete("sub", L.field_due_key(self.kid, old, field, max_key))
        txn.put("sub", L.field_ttl_key(self.kid, field, max_key), L.u64(when))
        txn.put("sub", L.field_due_key(self.kid, when, field, max_key), field)
        self.ex = True
        if not self.fexp or when < self.fexp:
            self.fexp = when
        elif old == self.fexp:
            self.stale = True

    def persist(self, field: bytes) -> bool:
        """Drop the field's deadline; True if it had one."""
        old = self.deadline(field)
        if not old:
            return False
        txn, max_key = self.txn, self.ks.max_key
        txn.delete("sub", L.field_ttl_key(self.kid, field, max_key))
        txn.delete("sub", L.field_due_key(self.kid, old, field, max_key))
        if old == self.fexp:
            self.stale = True
        return True

    def _earliest(self) -> int:
        prefix = L.field_due_prefix(self.kid)
        for dkey, _ in self.txn.scan("sub", prefix, prefix + b"\xff" * 8):
            return L.due_deadline(dkey)
        return 0

    def expired(self, field: bytes, now: int) -> bool:
        """The field has a deadline before `now` (it may be missing)."""
        if not self.fexp or self.fexp >= now:
            return False
        when = self.deadline(field)
        return bool(when) and when < now

    def due(self, now: int, limit: int | None = None) -> list[bytes]:
        """Fields whose deadline is before `now`, earliest first (at most `limit`)."""
        if not self.fexp or self.fexp >= now:
            return []
        return _due(self.ks, self.kid, now, limit)


def _deadline(ks: Keyspace, kid: int, field: bytes) -> int:
    raw = ks.tx().get("sub", L.field_ttl_key(kid, field, ks.max_key))
    return 0 if raw is None else L.read_u64(raw)


def _due(ks: Keyspace, kid: int, now: int, limit: int | None = None) -> list[bytes]:
    prefix = L.field_due_prefix(kid)
    out: list[bytes] = []
    for _, field in ks.tx().scan("sub", prefix, prefix + L.u64(now)):
        out.append(field)
        if limit is not None and len(out) >= limit:
            break
    return out


def get(ks: Keyspace, meta: Meta, field: bytes) -> bytes | None:
    """The value of one field of the hash `meta`, or None (missing or past its
    deadline)."""
    kid = kid_of(meta)
    fexp = L.field_expire(meta)
    if fexp and fexp < ks.clock():
        when = _deadline(ks, kid, field)
        if when and when < ks.clock():
            return None
    return E.get(ks, kid, field)


def deadline(ks: Keyspace, meta: Meta, field: bytes) -> int | None:
    """The field's deadline (absolute ms, past or not), 0 when it has none, None when
    the field is missing."""
    kid = kid_of(meta)
    if E.get(ks, kid, field) is None:
        return None
    if not L.field_expire(meta):
        return 0
    return _deadline(ks, kid, field)


def may_have_expired(ks: Keyspace, meta: Meta) -> bool:
    """Some field of the hash may be past its deadline (else none is: no field needs
    a look at its deadline)."""
    fexp = L.field_expire(meta)
    return bool(fexp) and fexp < ks.clock()


def _gone(ks: Keyspace, meta: Meta) -> set[bytes]:
    """The fields of the hash past their deadline (still stored)."""
    fexp, now = L.field_expire(meta), ks.clock()
    if not fexp or fexp >= now:
        return set()
    return set(_due(ks, kid_of(meta), now))


def pairs(ks: Keyspace, meta: Meta) -> Iterator[tuple[bytes, bytes]]:
    """(field, value) of every field not past its deadline, in the order of the
    fields' bytes."""
    gone = _gone(ks, meta)
    for _, field, value in E.scan(ks, kid_of(meta)):
        if field not in gone:
            yield field, value


def deadlines(ks: Keyspace, meta: Meta) -> dict[bytes, int]:
    """field -> deadline of the fields that have one (past it or not)."""
    if not L.field_expire(meta):
        return {}
    prefix = L.field_due_prefix(kid_of(meta))
    return {
        field: L.due_deadline(dkey)
        for dkey, field in ks.tx().scan("sub", prefix, prefix + b"\xff" * 8)
    }


def random_field(ks: Keyspace, meta: Meta) -> bytes | None:
    """A uniformly random live field of a non-empty hash (None if all are past their
    deadline)."""
    gone = _gone(ks, meta)
    if not gone:
        return E.random_element(ks, kid_of(meta), count_of(meta))[0]
    fields = [f for f, _ in pairs(ks, meta)]
    return random.choice(fields) if fields else None


def page(
    ks: Keyspace, meta: Meta, cursor: int, count: int
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """About `count` (field, value) pairs from `cursor` on (HSCAN): (next cursor, pairs)."""
    nxt, found = ks.element_page(kid_of(meta), cursor, count)
    gone = _gone(ks, meta)
    return nxt, [p for p in found if p[0] not in gone] if gone else found


def encoding(ks: Keyspace, meta: Meta, config: Config) -> str:
    """listpack while Redis would keep the hash small (entries and value lengths within
    hash-max-listpack-*), else hashtable; listpackex for a small one with field
    deadlines."""
    if count_of(meta) > config["hash-max-listpack-entries"]:
        return "hashtable"
    limit = config["hash-max-listpack-value"]
    for _, field, value in E.scan(ks, kid_of(meta)):
        if len(field) > limit or len(value) > limit:
            return "hashtable"
    return "listpackex" if L.coll_extra(meta.payload) else "listpack"


def _export(ks: Keyspace, meta: Meta, config: Config) -> R.RHash:
    """Every stored field with its deadline, past or not, as Redis's DUMP and RDB carry
    them (a replica's full sync must hold what its primary holds: a field past its
    deadline may yet be given a new one)."""
    fields = [(field, value) for _, field, value in E.scan(ks, kid_of(meta))]
    return R.RHash(fields, deadlines(ks, meta))


def _build(ks: Keyspace, key: bytes, value: R.RHash, config: Config) -> Iterator[Hash | None]:
    yield None  # (nothing to do before the keyspace is needed)
    h = Hash(ks, key, None)
    pairs = value.pairs
    for i in range(0, len(pairs), BUILD_CHUNK):
        for f, v in pairs[i : i + BUILD_CHUNK]:
            h.write(f, v)
        yield h
    for i, (f, when) in enumerate(value.expires.items(), 1):
        h.expire_at(f, when)
        if not i % BUILD_CHUNK:
            yield h
    yield h


# -- active expiry of fields ------------------------------------------------------------
def expire_fields(ks: Keyspace, budget: int) -> int:
    """Remove hash fields past their deadline, at most `budget` of them, earliest
    hash first (`fexpire`); a hash left empty is deleted. Each field goes to replicas
    as an HDEL of its own (outside MULTI); each hash raises one "hexpired" event (and
    "del" when emptied). Returns the fields removed (== `budget`: there may be more)."""
    txn = ks.tx()
    now = now_ms()
    slot_db = {slot: i for i, slot in enumerate(ks.slots)}
    # Taken first: no deletes under an open scan. Scans start past the entries handled
    # before (an LSM engine keeps deleted ones as markers until it compacts); a hash put
    # back under an earlier deadline moves the start back (`Keyspace._store`).
    hashes = list(islice(txn.scan("fexpire", ks.fexpire_from, L.u64(now + 1)), budget))
    if hashes:
        ks.fexpire_from = max(ks.fexpire_from, hashes[-1][0])
    removed = 0
    for ekey, evalue in hashes:
        if removed >= budget:
            ks.fexpire_from = min(ks.fexpire_from, ekey)  # not reached: next time
            break
        _, mkey = L.split_expire_entry(ekey, evalue)
        owner = slot_db.get(L.read_u32(mkey[:4]))
        if owner is None:  # a flushed database's: reclamation removes it with the key
            continue
        raw = txn.get("meta", mkey)
        if raw is None:  # (never: the entry goes with its key) a stale entry
            txn.delete("fexpire", ekey)
            continue
        key = L.user_key(mkey, L.decode_meta(raw))
        meta = ks.lookup(owner, key, 0)
        if meta is None or meta.type != CODE:  # the key expired (and took its entry)
            txn.delete("fexpire", ekey)
            continue
        h = Hash(ks, key, meta)
        fields = h.due(now + 1, budget - removed)  # deadline <= now, as Redis's cycle
        if not fields:  # (never: the head's earliest deadline is exact) set it right
            h.stale = True
        for f in fields:
            h.delete(f)
        removed += len(fields)
        if removed >= budget:  # this hash may have more due: start from it next time
            ks.fexpire_from = min(ks.fexpire_from, ekey)
        ks.fields_expired(owner, key, fields)
        kept = h.save(owner)
        if fields:
            ks.event(NOTIFY_HASH, b"hexpired", key, owner)
        if not kept:
            ks.event(NOTIFY_GENERIC, b"del", key, owner)
    ks.housekeeping_done()
    return removed


SPEC = TypeSpec(
    code=CODE,
    name="hash",
    obj=4,
    model=R.RHash,
    collection=True,
    encoding=encoding,
    export=_export,
    load=build_loader(_build),
    build=_build,
)
