"""Lists: every element its own record, so pushes and pops at either end are O(1).

Room: the list type's records and its registry entry. Imports: `config`, `rdb.model`,
`storage`, `keyspace.layout`, `keyspace.space`, `keyspace.types.base`.

Layout (docs/storage-format.md): the meta payload is id | count | head (u64); element
i (0-based from the head) is the `sub` record id | (head + i) as u64. Heads start at
2**63, so pushes on the left have room. Operations in the middle (LINSERT, LREM) move
the elements on one side, O(n) as in Redis; LSET is O(1).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from diskredis.config import Config
from diskredis.keyspace import layout as L
from diskredis.keyspace.space import Keyspace
from diskredis.keyspace.types.base import BUILD_CHUNK, Collection, TypeSpec, build_loader
from diskredis.rdb import model as R
from diskredis.storage import prefix_end

CODE = L.LIST
_MIDDLE = 1 << 63
_HEAD = struct.Struct(">Q")


class List(Collection):
    """A list read or changed by one command; `save` writes its head back."""

    __slots__ = ("head",)
    code = CODE
    extra = True

    def _fresh(self) -> None:
        self.head = _MIDDLE

    def _decode(self, extra: bytes) -> None:
        self.head = _HEAD.unpack(extra)[0]

    def _encode(self) -> bytes:
        return _HEAD.pack(self.head)

    def _rk(self, pos: int) -> bytes:
        return L.sub_prefix(self.kid) + _HEAD.pack(pos)

    def get(self, i: int) -> bytes:
        value = self.txn.get("sub", self._rk(self.head + i))
        assert value is not None, "list element missing"
        return value

    def set(self, i: int, value: bytes) -> None:
        self.txn.put("sub", self._rk(self.head + i), value)

    def push(self, value: bytes, left: bool) -> None:
        if left:
            self.head -= 1
            self.txn.put("sub", self._rk(self.head), value)
        else:
            self.txn.put("sub", self._rk(self.head + self.count), value)
        self.count += 1

    def pop(self, left: bool) -> bytes:
        i = 0 if left else self.count - 1
        value = self.get(i)
        self.txn.delete("sub", self._rk(self.head + i))
        self.count -= 1
        if left:
            self.head += 1
        return value

    def range(self, start: int, stop: int, reverse: bool = False) -> list[bytes]:
        """Elements start..stop inclusive (already normalised), in order or reversed."""
        if start > stop:
            return []
        lo, hi = self._rk(self.head + start), self._rk(self.head + stop + 1)
        return [v for _, v in self.txn.scan("sub", lo, hi, reverse=reverse)]

    def all(self) -> list[bytes]:
        return self.range(0, self.count - 1)

    def rewrite(self, values: list[bytes]) -> None:
        """Replace every element (LREM, LINSERT): O(n), as those are in Redis."""
        prefix = L.sub_prefix(self.kid)
        for k in [k for k, _ in self.txn.scan("sub", prefix, prefix_end(prefix))]:
            self.txn.delete("sub", k)
        self.head, self.count = _MIDDLE, 0
        for v in values:
            self.push(v, False)


def _build(ks: Keyspace, key: bytes, value: R.RList, config: Config) -> Iterator[List | None]:
    yield None  # (nothing to do before the keyspace is needed)
    lst = List(ks, key, None)
    items = value.items
    for i in range(0, len(items), BUILD_CHUNK):
        for item in items[i : i + BUILD_CHUNK]:
            lst.push(item, False)
        yield lst
    yield lst


SPEC = TypeSpec(
    code=CODE,
    name="list",
    obj=1,
    model=R.RList,
    collection=True,
    encoding=lambda ks, meta, config: "quicklist",
    export=lambda ks, meta, config: R.RList(List(ks, b"", meta).all()),
    load=build_loader(_build),
    build=_build,
)
