"""Hashes: every field its own element record (`keyspace.elements`).

Room: the hash type's records and its registry entry. Imports: `config`, `rdb.model`,
`keyspace.elements`, `keyspace.layout`, `keyspace.space`, `keyspace.types.base`.

Layout (docs/storage-format.md): the meta payload is id | count; field f is the
element record id | 0x00 | f -> its value (id | 0x01 | SHA-256 for long fields).
"""

from __future__ import annotations

from collections.abc import Iterator

from diskredis.config import Config
from diskredis.keyspace import elements as E
from diskredis.keyspace import layout as L
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import Keyspace
from diskredis.keyspace.types.base import Collection, TypeSpec, count_of, kid_of
from diskredis.rdb import model as R

CODE = L.HASH


class Hash(Collection):
    """A hash being changed by one command (`save` writes its count back)."""

    __slots__ = ()
    code = CODE

    def get(self, field: bytes) -> bytes | None:
        return E.get(self.ks, self.kid, field)

    def put(self, field: bytes, value: bytes) -> bool:
        """Set the field; True if it is new (E.put, inline: HSET's path)."""
        skey, hashed = L.sub_key(self.kid, field, self.ks.max_key)
        txn = self.txn
        new = txn.get("sub", skey) is None
        txn.put("sub", skey, L.sub_value(field, value, hashed))
        self.count += new
        return new

    def delete(self, field: bytes) -> bool:
        gone = E.delete(self.ks, self.kid, field)
        self.count -= gone
        return gone


def get(ks: Keyspace, meta: Meta, field: bytes) -> bytes | None:
    """The value of one field of the hash `meta`, or None."""
    return E.get(ks, kid_of(meta), field)


def pairs(ks: Keyspace, meta: Meta) -> Iterator[tuple[bytes, bytes]]:
    """(field, value) of every field, in the order of the fields' bytes."""
    for _, field, value in E.scan(ks, kid_of(meta)):
        yield field, value


def random_field(ks: Keyspace, meta: Meta) -> bytes:
    """A uniformly random field of a non-empty hash."""
    return E.random_element(ks, kid_of(meta), count_of(meta))[0]


def page(
    ks: Keyspace, meta: Meta, cursor: int, count: int
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """About `count` (field, value) pairs from `cursor` on (HSCAN): (next cursor, pairs)."""
    return ks.element_page(kid_of(meta), cursor, count)


def encoding(ks: Keyspace, meta: Meta, config: Config) -> str:
    """listpack while Redis would keep the hash small (entries and value lengths within
    hash-max-listpack-*), else hashtable."""
    if count_of(meta) > config["hash-max-listpack-entries"]:
        return "hashtable"
    limit = config["hash-max-listpack-value"]
    for field, value in pairs(ks, meta):
        if len(field) > limit or len(value) > limit:
            return "hashtable"
    return "listpack"


def _load(ks: Keyspace, db: int, key: bytes, value: R.RHash, expire: int, config: Config) -> None:
    h = Hash(ks, key, None)
    for f, v in value.pairs:
        h.put(f, v)
    h.meta.expire = expire
    h.save(db)


SPEC = TypeSpec(
    code=CODE,
    name="hash",
    obj=4,
    model=R.RHash,
    collection=True,
    encoding=encoding,
    export=lambda ks, meta, config: R.RHash(list(pairs(ks, meta))),
    load=_load,
)
