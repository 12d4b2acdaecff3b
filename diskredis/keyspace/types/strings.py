"""Strings: the value is the meta record's payload, nothing else is stored.

Room: the string type's record and its registry entry. Imports: `config`, `util`,
`keyspace.layout`, `keyspace.space`, `keyspace.types.base`.
"""

from __future__ import annotations

from diskredis.config import Config
from diskredis.keyspace import layout as L
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import Keyspace
from diskredis.keyspace.types.base import TypeSpec
from diskredis.util import string2ll

CODE = L.STRING


def encoding(value: bytes) -> str:
    """int, embstr or raw, as Redis would hold this string."""
    if string2ll(value) is not None:
        return "int"
    return "embstr" if len(value) <= 44 else "raw"


def _load(ks: Keyspace, db: int, key: bytes, value: bytes, expire: int, config: Config) -> None:
    ks.store(db, key, Meta(CODE, expire, value))


SPEC = TypeSpec(
    code=CODE,
    name="string",
    obj=0,
    model=bytes,
    collection=False,
    encoding=lambda ks, meta, config: encoding(meta.payload),
    export=lambda ks, meta, config: meta.payload,
    load=_load,
)
