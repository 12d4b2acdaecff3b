"""Elements of a collection: one `sub` record per field (hash field, set member...).

Room: reading and writing the element records of one collection id inside the
lane's transaction; the meta record (count, expiry) stays the keyspace's business.
Imports: `space`, `keyspace.layout`, `storage`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from diskredis.keyspace import layout as L
from diskredis.keyspace.space import Keyspace
from diskredis.storage import StorageError


def get(ks: Keyspace, kid: int, field: bytes) -> bytes | None:
    skey, hashed = L.sub_key(kid, field, ks.max_key)
    raw = ks.tx().get("sub", skey)
    if raw is None:
        return None
    if not hashed:
        return raw
    stored, value = L.decode_sub(skey, raw)
    if stored != field:
        raise StorageError(
            "two long fields share the hash %s; refusing to mix them up" % skey[9:].hex()
        )
    return value


def put(ks: Keyspace, kid: int, field: bytes, value: bytes) -> bool:
    """Set the element; True if it is new."""
    skey, hashed = L.sub_key(kid, field, ks.max_key)
    txn = ks.tx()
    new = txn.get("sub", skey) is None
    txn.put("sub", skey, L.sub_value(field, value, hashed))
    return new


def write(ks: Keyspace, kid: int, field: bytes, value: bytes) -> None:
    """Set the element, for callers that already know whether it exists."""
    skey, hashed = L.sub_key(kid, field, ks.max_key)
    ks.tx().put("sub", skey, L.sub_value(field, value, hashed))


def delete(ks: Keyspace, kid: int, field: bytes) -> bool:
    skey, _ = L.sub_key(kid, field, ks.max_key)
    return ks.tx().delete("sub", skey)


def scan(
    ks: Keyspace, kid: int, after: bytes | None = None
) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(record key, field, value) of the element records in record order, starting after
    record key `after` (index and position records are not elements)."""
    prefix = L.sub_prefix(kid)
    start = after + b"\x00" if after is not None else prefix
    for skey, raw in ks.tx().scan("sub", start, prefix + L.ELEMENTS_END):
        field, value = L.decode_sub(skey, raw)
        yield skey, field, value


def random_element(ks: Keyspace, kid: int, count: int) -> tuple[bytes, bytes]:
    """A uniformly random element of a collection of `count` elements.

    Without order statistics in the engines this walks to a random position, from the
    nearer end: O(n) for big collections (Redis: O(1)). A seek to a random key would be
    O(log n) but lean heavily towards elements after sparse stretches of keys.
    """
    index = random.randrange(count)
    reverse = index >= count // 2
    steps = count - 1 - index if reverse else index
    prefix = L.sub_prefix(kid)
    for i, (skey, raw) in enumerate(
        ks.tx().scan("sub", prefix, prefix + L.ELEMENTS_END, reverse=reverse)
    ):
        if i == steps:
            return L.decode_sub(skey, raw)
    raise IndexError(index)
