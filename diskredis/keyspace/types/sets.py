"""Sets: every member its own element record, and a position record per member.

Room: the set type's records and its registry entry. Imports: `config`, `util`,
`rdb.model`, `storage`, `keyspace.elements`, `keyspace.layout`, `keyspace.space`,
`keyspace.types.base`.

Layout (docs/storage-format.md): the meta payload is id | count. A member's element
record (id | 0x00 | member) holds its position (u64, 0..count-1) and the position
record id | 0x03 | position maps it back, so a uniformly random member (SPOP,
SRANDMEMBER) is one read. Removing a member moves the last one into its position, as
a dense array does.
"""

from __future__ import annotations

from collections.abc import Iterator

from diskredis.config import Config
from diskredis.keyspace import elements as E
from diskredis.keyspace import layout as L
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import Keyspace
from diskredis.keyspace.types.base import (
    BUILD_CHUNK,
    Collection,
    TypeSpec,
    build_loader,
    count_of,
    kid_of,
)
from diskredis.rdb import model as R
from diskredis.storage import StorageError
from diskredis.util import string2ll

CODE = L.SET


def _position_key(kid: int, pos: int) -> bytes:
    return L.sub_prefix(kid) + L.POSITION + L.u64(pos)


def _at(ks: Keyspace, kid: int, pos: int) -> bytes:
    member = ks.tx().get("sub", _position_key(kid, pos))
    if member is None:
        raise StorageError("set %d has no member at position %d" % (kid, pos))
    return member


class Set(Collection):
    """A set being changed by one command (`save` writes its count back)."""

    __slots__ = ()
    code = CODE

    def add(self, member: bytes) -> bool:
        """Add `member` at the last position; False if it is already there."""
        ks, kid = self.ks, self.kid
        if E.get(ks, kid, member) is not None:
            return False
        E.write(ks, kid, member, L.u64(self.count))
        ks.tx().put("sub", _position_key(kid, self.count), member)
        self.count += 1
        return True

    def remove(self, member: bytes) -> bool:
        """Remove `member`, the last one taking its position; False if it is not there."""
        ks, kid = self.ks, self.kid
        raw = E.get(ks, kid, member)
        if raw is None:
            return False
        txn = ks.tx()
        pos, last = L.read_u64(raw), self.count - 1
        if pos != last:
            moved = _at(ks, kid, last)
            txn.put("sub", _position_key(kid, pos), moved)
            E.write(ks, kid, moved, L.u64(pos))
        txn.delete("sub", _position_key(kid, last))
        E.delete(ks, kid, member)
        self.count -= 1
        return True


def has(ks: Keyspace, meta: Meta, member: bytes) -> bool:
    return E.get(ks, kid_of(meta), member) is not None


def members(ks: Keyspace, meta: Meta | None) -> list[bytes]:
    """Every member, in the order of their bytes ([] for a missing key)."""
    return [] if meta is None else [f for _, f, _ in E.scan(ks, kid_of(meta))]


def member_at(ks: Keyspace, meta: Meta, pos: int) -> bytes:
    """The member at position `pos` (0..count-1): one read."""
    return _at(ks, kid_of(meta), pos)


def page(ks: Keyspace, meta: Meta, cursor: int, count: int) -> tuple[int, list[bytes]]:
    """About `count` members from `cursor` on (SSCAN): (next cursor, members)."""
    nxt, found = ks.element_page(kid_of(meta), cursor, count)
    return nxt, [f for f, _ in found]


def is_intset(config: Config, meta: Meta, listed: list[bytes]) -> bool:
    """Whether Redis would keep this set (its members `listed`) as an intset: integer
    members, few enough."""
    if count_of(meta) > config["set-max-intset-entries"]:
        return False
    return all(string2ll(member) is not None for member in listed)


def small_members(ks: Keyspace, meta: Meta, config: Config) -> list[bytes] | None:
    """The members of a set Redis would hold as an intset, or None if it would not
    (without reading a big set's members)."""
    if count_of(meta) > config["set-max-intset-entries"]:
        return None
    listed = members(ks, meta)
    return listed if is_intset(config, meta, listed) else None


def _build(ks: Keyspace, key: bytes, value: R.RSet, config: Config) -> Iterator[Set | None]:
    yield None  # (nothing to do before the keyspace is needed)
    s = Set(ks, key, None)
    members = value.members
    for i in range(0, len(members), BUILD_CHUNK):
        for m in members[i : i + BUILD_CHUNK]:
            s.add(m)
        yield s
    yield s


SPEC = TypeSpec(
    code=CODE,
    name="set",
    obj=2,
    model=R.RSet,
    collection=True,
    encoding=lambda ks, meta, config: (
        "hashtable" if small_members(ks, meta, config) is None else "intset"
    ),
    export=lambda ks, meta, config: R.RSet(members(ks, meta)),
    load=build_loader(_build),
    build=_build,
)
