"""The type layer: one module per Redis type, and the registry of them.

Room: the type registry -- every place that needs "for each type" (TYPE, SCAN's TYPE
filter, OBJECT ENCODING, DUMP/RESTORE, DEBUG DIGEST, COPY, the offline tools and the
checker) asks it. Imports: `config`, `rdb.model`, `keyspace`.

Adding a type: its module here (records, `SPEC`) and one line in `_MODULES`; its
command module in `commands`; its tests.
"""

from __future__ import annotations

import time
from typing import Any

from diskredis.config import Config
from diskredis.keyspace import layout as L
from diskredis.keyspace.layout import HASH, LIST, NO_EXPIRY, SET, STREAM, STRING, ZSET, Meta
from diskredis.keyspace.space import Keyspace
from diskredis.keyspace.types import hashes, lists, sets, streams, strings, zsets
from diskredis.keyspace.types.base import Collection, TypeSpec, count_of, kid_of, store_built
from diskredis.rdb.model import Value

__all__ = [
    "HASH",
    "LIST",
    "NO_EXPIRY",
    "SET",
    "STREAM",
    "STRING",
    "ZSET",
    "Build",
    "Collection",
    "Meta",
    "TypeSpec",
    "by_code",
    "by_model",
    "by_name",
    "copy_value",
    "count_of",
    "encoding",
    "export",
    "kid_of",
    "load",
    "name_of",
    "value_type",
]

_MODULES = (strings, lists, sets, zsets, hashes, streams)

#: type byte of the meta record -> its spec
by_code: dict[int, TypeSpec] = {m.SPEC.code: m.SPEC for m in _MODULES}
#: `rdb.model` class -> its spec
by_model: dict[type, TypeSpec] = {m.SPEC.model: m.SPEC for m in _MODULES}
#: TYPE's name -> its spec
by_name: dict[bytes, TypeSpec] = {m.SPEC.name.encode(): m.SPEC for m in _MODULES}


def name_of(meta: Meta) -> str:
    """The value's type as TYPE answers it."""
    return by_code[meta.type].name


def value_type(value: Value) -> str:
    """The type of an RDB value, as TYPE would name it once stored."""
    return by_model[type(value)].name


def encoding(ks: Keyspace, meta: Meta, config: Config) -> str:
    """The encoding Redis would use for this value (OBJECT ENCODING, DEBUG OBJECT)."""
    return by_code[meta.type].encoding(ks, meta, config)


def export(ks: Keyspace, meta: Meta, config: Config) -> Value:
    """The value of a stored key, as the RDB format carries it."""
    return by_code[meta.type].export(ks, meta, config)


def load(ks: Keyspace, db: int, key: bytes, value: Any, expire: int, config: Config) -> None:
    """Store an RDB `value` at (db, key), which must be free; `expire`: absolute ms, 0
    for none."""
    by_model[type(value)].load(ks, db, key, value, expire, config)


def copy_value(ks: Keyspace, meta: Meta) -> Meta:
    """A record holding a copy of the value (COPY): a collection's elements are copied
    under a new id, the type's own head fields kept."""
    if not by_code[meta.type].collection:
        return Meta(meta.type, meta.expire, meta.payload)
    kid, count = L.coll_head(meta.payload)
    payload = L.coll_payload(ks.clone_elements(kid), count, L.coll_extra(meta.payload))
    return Meta(meta.type, meta.expire, payload)


class Build:
    """An RDB value stored in steps (RESTORE of a big value): a collection's elements
    are written a chunk at a time, in as many batches as it takes, under a fresh key id
    that no key points to -- recorded (`Keyspace.building`), so that a crash leaves
    them to gc at the next start -- then `store` makes it the key's value in one step.
    The part of the type's build that needs no keyspace runs when it is made, on the
    caller's thread (RESTORE's worker thread). A string has no steps."""

    def __init__(self, ks: Keyspace, key: bytes, value: Value, config: Config) -> None:
        build = by_model[type(value)].build
        self.ks, self.value, self.config = ks, value, config
        self._steps = None if build is None else build(ks, key, value, config)
        self.obj: Any = None  # the collection being built, once it has a key id
        # Its key id, once the batch that took it (and recorded it as being built) is
        # committed (`committed`): a failed batch gives its new key ids out again.
        self.kid: int | None = None
        self._fresh: int | None = None
        self.done = self._steps is None
        if self._steps is not None:  # on the caller's thread: what needs no keyspace
            next(self._steps)

    def step(self, seconds: float) -> bool:
        """Write chunks for about `seconds`, in the running batch; True once every
        element is written."""
        if self._steps is None or self.done:
            return True
        if self.obj is not None:
            self.obj.txn = self.ks.tx()  # the batch's own transaction
        deadline = time.monotonic() + seconds
        for obj in self._steps:
            if self.obj is None:
                self.ks.building(obj.kid)
                self.obj, self._fresh = obj, obj.kid
            if time.monotonic() >= deadline:
                return False
        self.done = True
        return True

    def store(self, db: int, key: bytes, expire: int) -> None:
        """Make the value (every element written: `step` said so) the value of
        (db, key), which must be free; `expire`: absolute ms, 0 for none."""
        assert self.done
        if self.obj is None:
            load(self.ks, db, key, self.value, expire, self.config)
            return
        self.obj.txn = self.ks.tx()
        store_built(self.obj, db, key, expire)
        self.ks.built(self.obj.kid)

    def committed(self) -> None:
        """The batch of the last step is committed."""
        if self._fresh is not None:
            self.kid, self._fresh = self._fresh, None

    def abandon(self) -> None:
        """Give the records written so far to gc (in the running batch): the value is
        not stored, or its store was undone (its batch failed). A key id whose batch
        failed was never taken: nothing of it is written, and it may be anyone's now."""
        if self.kid is not None:
            self.ks.abandon_build(self.kid)
