"""The key layout: how Redis keys and values become records (docs/storage-format.md).

Room: byte formats only, no I/O. Imports: the standard library.

- A database is a *slot*: a u32 chosen when the database is created or flushed, so
  FLUSHDB and SWAPDB change one mapping instead of touching every key.
- meta key  = slot (u32 BE) | 0x00 | user key, or, when that is longer than the
  engine takes, slot | 0x01 | SHA-256(user key), with the full key kept in the value.
- meta value = type (u8) | flags (u8) | expire ms (u64 BE, 0 = none)
  [| key length (u32 BE) | key, when flags has LONG_KEY] | payload.
  Strings carry their bytes as the payload.
- expire key = deadline ms (u64 BE) | meta key; value empty (for a meta key within 8
  bytes of the engine's key limit: deadline | SHA-256(meta key) -> the meta key).
- stats: b"format" = schema version; b"slot:" + db (u16 BE) = its slot;
  b"count:" + slot = number of keys; b"next-slot" = the next free slot.
- gc key = sequence (u64 BE); value = b"slot" | slot: a flushed database to reclaim,
  or b"kid " | key id (u64): the elements of a deleted collection.
- Collections (hash, ...): meta payload = key id (u64) | element count (u64) | extras;
  each element is a `sub` record: key id | 0x00 | field -> value, or, for a field too
  long for the engine, key id | 0x01 | SHA-256(field) -> field length (u32) | field |
  value. Sorted sets add index records (id | 0x02 | ...), sets position records
  (id | 0x03 | position u64 -> member; a member's value is its position), hashes
  field deadlines (id | 0x04 | field, or 0x05 | SHA-256(field), -> deadline u64) and
  their order (id | 0x06 | deadline u64 | 0x00 | field, or 0x01 | SHA-256, -> field).
- A hash with field deadlines carries the earliest (u64) after id | count; the
  `fexpire` table orders such hashes: key = that deadline | meta key, value empty.
Type codes are never reused.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

SCHEMA_VERSION = 3  # 2: sets' position records; 3: hash field expiry (`fexpire`)
READABLE_VERSIONS = (2, 3)  # opened, and stamped SCHEMA_VERSION: 3 only adds records

STRING = 1
LIST = 2
SET = 3
ZSET = 4
HASH = 5
STREAM = 6  # each type's name and module: keyspace.types
LONG_KEY = 1  # flags bit: the meta key is a hash; the value holds the full key

_HEAD = struct.Struct(">BBQ")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
NO_EXPIRY = 0


def meta_key(slot: int, key: bytes, max_key: int) -> tuple[bytes, bool]:
    """The meta record's key, and whether it is the hashed form."""
    plain = _U32.pack(slot) + b"\x00" + key
    if len(plain) <= max_key:
        return plain, False
    return _U32.pack(slot) + b"\x01" + hashlib.sha256(key).digest(), True


def slot_prefix(slot: int) -> bytes:
    return _U32.pack(slot)


@dataclass(slots=True)
class Meta:
    """A key's record: its type, expiry (ms, 0 = none) and payload."""

    type: int
    expire: int
    payload: bytes
    key: bytes | None = None  # the full user key, kept only for hashed meta keys

    def encode(self) -> bytes:
        if self.key is None:
            return _HEAD.pack(self.type, 0, self.expire) + self.payload
        return (
            _HEAD.pack(self.type, LONG_KEY, self.expire)
            + _U32.pack(len(self.key))
            + self.key
            + self.payload
        )


def decode_meta(raw: bytes) -> Meta:
    kind, flags, expire = _HEAD.unpack_from(raw)
    if flags & LONG_KEY:
        (n,) = _U32.unpack_from(raw, _HEAD.size)
        start = _HEAD.size + _U32.size
        return Meta(kind, expire, raw[start + n :], raw[start : start + n])
    return Meta(kind, expire, raw[_HEAD.size :])


def user_key(mkey: bytes, meta: Meta) -> bytes:
    """The Redis key of a meta record."""
    if meta.key is not None:
        return meta.key
    return mkey[5:]


def expire_entry(deadline: int, mkey: bytes, max_key: int) -> tuple[bytes, bytes]:
    """(key, value) of a meta key's entry in a deadline index (`expire`, `fexpire`):
    deadline | meta key, value empty; when that is longer than the engine takes (a meta
    key within 8 bytes of the limit), deadline | SHA-256(meta key), the meta key as the
    value."""
    key = _U64.pack(deadline) + mkey
    if len(key) <= max_key:
        return key, b""
    return _U64.pack(deadline) + hashlib.sha256(mkey).digest(), mkey


def split_expire_entry(ekey: bytes, value: bytes) -> tuple[int, bytes]:
    """(deadline, meta key) of a deadline index's entry."""
    return _U64.unpack_from(ekey)[0], value or ekey[8:]


def u64(n: int) -> bytes:
    return _U64.pack(n)


def read_u64(raw: bytes) -> int:
    value: int = _U64.unpack(raw)[0]
    return value


def u32(n: int) -> bytes:
    return _U32.pack(n)


def read_u32(raw: bytes) -> int:
    value: int = _U32.unpack(raw)[0]
    return value


# -- collections ----------------------------------------------------------------------
# A collection's meta payload starts with its id and element count; its elements are
# records of the `sub` table under the id, so no operation rewrites the whole value.
_COLL = struct.Struct(">QQ")
# stats records "building-kid:" | kid: a value stored in steps (`types.Build`) whose
# elements are under kid, which no key points to yet; freed at the next start if left.
BUILDING_KID = b"building-kid:"
INLINE_FREE = 64  # at most this many elements are deleted inline; more go to `gc`
INLINE_FREE_RECORDS = 4 * INLINE_FREE  # and at most this many records


def is_collection(kind: int) -> bool:
    return kind != STRING


def coll_head(payload: bytes) -> tuple[int, int]:
    """(key id, element count) of a collection's meta payload."""
    kid, count = _COLL.unpack_from(payload)
    return kid, count


def coll_payload(kid: int, count: int, extra: bytes = b"") -> bytes:
    return _COLL.pack(kid, count) + extra


def coll_extra(payload: bytes) -> bytes:
    return payload[_COLL.size :]


# The byte after the id in a `sub` key says what the record is:
PLAIN, HASHED = b"\x00", b"\x01"  # an element (field or member), in full or hashed
ZINDEX = b"\x02"  # a sorted set's score index: ordered score | member
POSITION = b"\x03"  # a set's member by position: u64 -> member (uniform random picks)
ELEMENTS_END = ZINDEX  # element records sort before every other kind
FIELD_TTL, FIELD_TTL_HASHED = b"\x04", b"\x05"  # a hash field's deadline
FIELD_DUE = b"\x06"  # a hash's field deadlines in order: deadline | field -> field


def sub_prefix(kid: int) -> bytes:
    return _U64.pack(kid)


def sub_key(kid: int, field: bytes, max_key: int) -> tuple[bytes, bool]:
    """The element's key in `sub` and whether it is the hashed form (long fields)."""
    plain = _U64.pack(kid) + b"\x00" + field
    if len(plain) <= max_key:
        return plain, False
    return _U64.pack(kid) + b"\x01" + hashlib.sha256(field).digest(), True


def sub_value(field: bytes, value: bytes, hashed: bool) -> bytes:
    """The element's stored value: for a hashed key the full field comes first."""
    if not hashed:
        return value
    return _U32.pack(len(field)) + field + value


def decode_sub(skey: bytes, raw: bytes) -> tuple[bytes, bytes]:
    """(field, value) of a `sub` record."""
    if skey[8:9] == b"\x00":
        return skey[9:], raw
    (n,) = _U32.unpack_from(raw)
    return raw[4 : 4 + n], raw[4 + n :]


# -- hash field expiry ----------------------------------------------------------------
def field_ttl_key(kid: int, field: bytes, max_key: int) -> bytes:
    """The key of a hash field's deadline record (the same length as its element's,
    so it is hashed exactly when the element's key is)."""
    plain = _U64.pack(kid) + FIELD_TTL + field
    if len(plain) <= max_key:
        return plain
    return _U64.pack(kid) + FIELD_TTL_HASHED + hashlib.sha256(field).digest()


def field_due_prefix(kid: int) -> bytes:
    return _U64.pack(kid) + FIELD_DUE


def field_due_key(kid: int, deadline: int, field: bytes, max_key: int) -> bytes:
    """The key of a field's entry in its hash's deadline order (value: the field)."""
    plain = _U64.pack(kid) + FIELD_DUE + _U64.pack(deadline) + b"\x00" + field
    if len(plain) <= max_key:
        return plain
    head = _U64.pack(kid) + FIELD_DUE + _U64.pack(deadline)
    return head + b"\x01" + hashlib.sha256(field).digest()


def due_deadline(due_key: bytes) -> int:
    """The deadline of a `field_due_key`."""
    value: int = _U64.unpack_from(due_key, 9)[0]
    return value


def field_expire(meta: Meta | None) -> int:
    """The earliest field deadline a hash's record carries (0: none). It may lie
    before the true earliest (a field's deadline removed since), never after it."""
    if meta is None or meta.type != HASH or len(meta.payload) < _COLL.size + 8:
        return 0
    value: int = _U64.unpack_from(meta.payload, _COLL.size)[0]
    return value
