"""What every type module gives the registry, and the record head collections share.

Room: the `TypeSpec` a type module declares, and `Collection`, a collection key being
read or changed with its meta record decoded into typed fields. Imports: `config`,
`rdb.model`, `keyspace.layout`, `keyspace.space`.

A type module (`keyspace.types.<type>s`) owns its records: their layout, how a value
is read, changed, exported as an `rdb.model` value and loaded from one, and which
encoding Redis would give it. Command modules give those operations Redis's meaning
on the wire (arguments, replies, errors, keyspace events) and never touch a record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from diskredis.config import Config
from diskredis.keyspace import layout as L
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import Keyspace
from diskredis.rdb.model import Value

#: a stored value's encoding as Redis would report it (OBJECT ENCODING)
Encoder = Callable[[Keyspace, Meta, Config], str]
#: a stored value as the RDB format carries it (DUMP, SAVE, MIGRATE, the tools)
Exporter = Callable[[Keyspace, Meta, Config], Value]
#: store an RDB value under (db, key) with its expiry (absolute ms, 0: none)
Loader = Callable[[Keyspace, int, bytes, Any, int, Config], None]
#: write a collection's elements from an RDB value under a fresh key id, a chunk at a
#: time: first None, once what needs no keyspace is done (a worker thread may run that
#: part: `Build` in `keyspace.types`), then the object being built after each chunk of
#: about BUILD_CHUNK elements and once at the end, complete; nothing points to it until
#: it is stored (`store_built`). Between two chunks the caller may commit and give the
#: object the next batch's transaction.
Builder = Callable[[Keyspace, bytes, Any, Config], Iterator[Any]]

BUILD_CHUNK = 256  # elements written between two yields of a Builder


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """One Redis type, as the layers above see it."""

    code: int  # the meta record's type byte (keyspace.layout; never reused)
    name: str  # TYPE's reply, SCAN's TYPE filter
    obj: int  # Redis's OBJ_* number (DEBUG DIGEST mixes it in)
    model: type  # its `rdb.model` class (bytes for strings)
    collection: bool  # elements in `sub` records under a key id (reclaimed, cloned)
    encoding: Encoder
    export: Exporter
    load: Loader
    build: Builder | None = None  # collections: their loader, in chunks


class Collection:
    """A collection key read or changed by one command: its id, element count and the
    type's own head fields (a type with some sets `extra` and decodes and encodes them
    in `_decode`/`_encode`, the bytes after id | count). A missing key (`meta` None)
    starts empty under a fresh id; `save` writes the head back, or removes the key when
    it was emptied. `txn` is the batch's transaction; `config` what the type reads of
    the configuration (encoding thresholds), if anything."""

    __slots__ = ("config", "count", "key", "kid", "ks", "meta", "txn")
    code: ClassVar[int]
    extra: ClassVar[bool] = False

    def __init__(
        self, ks: Keyspace, key: bytes, meta: Meta | None, config: Config | None = None
    ) -> None:
        self.ks, self.key, self.txn, self.config = ks, key, ks.tx(), config
        if meta is None:
            self.meta = Meta(self.code, L.NO_EXPIRY, b"")
            self.kid, self.count = ks.new_kid(), 0
            if self.extra:
                self._fresh()
        else:
            self.meta = meta
            self.kid, self.count = L.coll_head(meta.payload)
            if self.extra:
                self._decode(L.coll_extra(meta.payload))

    def _fresh(self) -> None:
        """Set the type's head fields of a new, empty value."""

    def _decode(self, extra: bytes) -> None:
        """Read the type's head fields."""

    def _encode(self) -> bytes:
        """The type's head fields, as stored after id | count."""
        return b""

    def save(self, db: int, quiet: bool = False) -> bool:
        """Store the head (True), or remove the key if it holds nothing (False);
        `quiet`: see `Keyspace.store`."""
        if self.count <= 0:
            self.ks.remove(db, self.key)
            return False
        self.meta.payload = L.coll_payload(
            self.kid, self.count, self._encode() if self.extra else b""
        )
        self.ks.store(db, self.key, self.meta, quiet)
        return True


def count_of(meta: Meta | None) -> int:
    """The number of elements of a collection's record (0 for a missing key)."""
    return 0 if meta is None else L.coll_head(meta.payload)[1]


def kid_of(meta: Meta) -> int:
    """The key id under which a collection's element records are."""
    return L.coll_head(meta.payload)[0]


def store_built(obj: Any, db: int, key: bytes, expire: int) -> None:
    """Store a collection a Builder made at (db, key), which must be free, with its
    expiry (absolute ms, 0 for none)."""
    obj.meta.expire = expire
    if isinstance(obj, Collection):
        obj.key = key
        obj.save(db)
    else:  # a stream: an empty one stays
        obj.save(db, key)


def build_loader(build: Builder) -> Loader:
    """The Loader of a collection type: its Builder run to the end, then stored."""

    def load(ks: Keyspace, db: int, key: bytes, value: Any, expire: int, config: Config) -> None:
        (obj,) = deque(build(ks, key, value, config), maxlen=1)  # its last yield
        store_built(obj, db, key, expire)

    return load
