"""Sorted sets: every member its own records, ordered by score in an index.

Room: the sorted set type's records and its registry entry. Imports: `config`,
`rdb.model`, `storage`, `keyspace.elements`, `keyspace.layout`, `keyspace.space`,
`keyspace.types.base`.

Layout (docs/storage-format.md): the meta payload is id | count | big (one byte 0x01
when Redis would hold the set as a skiplist, else nothing). Each member has two `sub`
records under the id:

- the member record, id | 0x00 | member (id | 0x01 | SHA-256 for long members) ->
  the score as a big-endian IEEE double, so ZSCORE is one read;
- the index record, id | 0x02 | ordered score (8 bytes) | member -> flags, so ranges
  by score, and by member within one score, are seeks. A member too long for the key
  is cut and followed by its SHA-256, the full member then kept in the value.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import struct
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
    kid_of,
)
from diskredis.rdb import model as R
from diskredis.storage import prefix_end

CODE = L.ZSET
_F64 = struct.Struct(">d")
_U64 = struct.Struct(">Q")
_SIGN = 1 << 63
_ALL = (1 << 64) - 1
_INDEX = L.ZINDEX
_NEGZERO, _CUT = 1, 2  # index value flags
_BIG = b"\x01"  # head: Redis would hold this set as a skiplist (see ZSet.put)
_HASH = 32


def order_bytes(score: float) -> bytes:
    """8 bytes whose byte order is the scores' numeric order (-0 sorts as 0)."""
    (bits,) = _U64.unpack(_F64.pack(score + 0.0))
    return _U64.pack(bits ^ (_ALL if bits & _SIGN else _SIGN))


def order_score(raw: bytes) -> float:
    (bits,) = _U64.unpack(raw)
    value: float = _F64.unpack(_U64.pack(bits ^ (_SIGN if bits & _SIGN else _ALL)))[0]
    return value


def negzero(score: float) -> bool:
    return score == 0 and math.copysign(1.0, score) < 0


class ZSet(Collection):
    """One sorted set read or changed by a command; `save` writes its head back."""

    __slots__ = ("big", "index")
    code = CODE
    extra = True
    config: Config  # always given: put() reads the listpack limits

    def _fresh(self) -> None:
        self.big = False
        self.index = L.sub_prefix(self.kid) + _INDEX

    def _decode(self, extra: bytes) -> None:
        self.big = extra == _BIG
        self.index = L.sub_prefix(self.kid) + _INDEX

    def _encode(self) -> bytes:
        return _BIG if self.big else b""

    # -- records ---------------------------------------------------------------------
    def score(self, member: bytes) -> float | None:
        raw = E.get(self.ks, self.kid, member)
        return None if raw is None else float(_F64.unpack(raw)[0])

    def _ikey(self, score: float, member: bytes) -> tuple[bytes, bytes]:
        head = self.index + order_bytes(score)
        flags = _NEGZERO if negzero(score) else 0
        if len(head) + len(member) <= self.ks.max_key:
            return head + member, (bytes([flags]) if flags else b"")
        cut = self.ks.max_key - len(head) - _HASH
        return (
            head + member[:cut] + hashlib.sha256(member).digest(),
            bytes([flags | _CUT]) + member,
        )

    def put(self, member: bytes, score: float, old: float | None) -> None:
        """Give `member` the `score` (`old`: its current score, None when new)."""
        if old is not None:
            self.txn.delete("sub", self._ikey(old, member)[0])
        else:
            self.count += 1
            cfg = self.config
            if (
                self.count > cfg["zset-max-listpack-entries"]
                or len(member) > cfg["zset-max-listpack-value"]
            ):
                self.big = True  # Redis converts to a skiplist, and never back
        if negzero(score) and not self.big:
            score = 0.0  # a listpack keeps -0 as the integer 0, so Redis answers "0"
        E.write(self.ks, self.kid, member, _F64.pack(score))
        ikey, flags = self._ikey(score, member)
        self.txn.put("sub", ikey, flags)
        self.ks.note_insert(self.index, ikey)

    def delete(self, member: bytes, score: float | None = None) -> bool:
        if score is None:
            score = self.score(member)
            if score is None:
                return False
        E.delete(self.ks, self.kid, member)
        self.txn.delete("sub", self._ikey(score, member)[0])
        self.ks.note_delete(self.index)
        self.count -= 1
        return True

    # -- walking the index -----------------------------------------------------------
    def entries(
        self, start: bytes | None = None, stop: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, float]]:
        """(member, score) of index records in [start, stop), in order or reversed.
        Scans begin inside the index's live bounds and narrow them as they learn."""
        low, high = self.ks.live_bounds(self.index)
        lo = low if start is None or start < low else start
        hi = high if stop is None or stop > high else stop
        if lo >= hi:
            return
        at = len(self.index) + 8
        first = True
        for ikey, flags in self.txn.scan("sub", lo, hi, reverse=reverse):
            if first:
                first = False
                if not reverse and lo == low and ikey > low:
                    self.ks.learn_bounds(self.index, low=ikey)
                elif reverse and hi == high:
                    self.ks.learn_bounds(self.index, high=ikey + b"\x00")
            score = order_score(ikey[at - 8 : at])
            if not flags:
                yield ikey[at:], score
                continue
            yield (
                flags[1:] if flags[0] & _CUT else ikey[at:],
                -0.0 if flags[0] & _NEGZERO else score,
            )

    def _bound(self, key: bytes) -> bytes:
        """A seek key short enough that every member it could stand for sorts at or
        after it, cut members (prefix | SHA-256) included."""
        return key[: self.ks.max_key - _HASH]

    def by_rank(self, start: int, stop: int) -> list[tuple[bytes, float]]:
        """Members of ranks start..stop (0-based, normalised, inclusive), walking from
        the nearer end."""
        forward = start <= self.count - 1 - stop
        skip = start if forward else self.count - 1 - stop
        out = list(
            itertools.islice(self.entries(reverse=not forward), skip, skip + stop - start + 1)
        )
        return out if forward else out[::-1]

    def rank(self, member: bytes) -> int | None:
        """The member's 0-based rank: two walks, from both ends, until one meets it."""
        score = self.score(member)
        if score is None:
            return None
        ikey = self._ikey(score, member)[0]
        front = iter(self.txn.scan("sub", self.index, ikey))
        back = iter(self.txn.scan("sub", ikey + b"\x00", prefix_end(self.index), reverse=True))
        ahead = behind = 0
        while True:
            if next(front, None) is None:
                return ahead
            ahead += 1
            if next(back, None) is None:
                return self.count - 1 - behind
            behind += 1

    def by_score(
        self, lo: tuple[float, bool], hi: tuple[float, bool], reverse: bool
    ) -> Iterator[tuple[bytes, float]]:
        """Members with lo <= score <= hi (ends exclusive where flagged)."""
        lo_key = self.index + order_bytes(lo[0])
        hi_key = self.index + order_bytes(hi[0])
        start = prefix_end(lo_key) if lo[1] else lo_key
        stop = hi_key if hi[1] else prefix_end(hi_key)
        return self.entries(start, stop, reverse)

    def by_lex(self, lo: Lex, hi: Lex, reverse: bool) -> Iterator[tuple[bytes, float]]:
        """Members between lo and hi as a listpack walk finds them (meaningful when all
        scores are equal, as Redis documents; then the walk starts with a seek)."""
        if lex_empty(lo, hi):
            return
        first = next(self.entries(), None)
        last = next(self.entries(reverse=True), None)
        if first is None or last is None or not (lo.below(last[0]) and hi.above(first[0])):
            return
        start = stop = None
        if first[1] == last[1]:
            head = self.index + order_bytes(first[1])
            if lo.kind == 0:
                start = self._bound(head + lo.value)
            if hi.kind == 0:
                stop = prefix_end(self._bound(head + hi.value))
        if not reverse:
            found = False
            for member, score in self.entries(start, None):
                if not found:
                    if not lo.below(member):
                        continue
                    found = True
                if not hi.above(member):
                    return
                yield member, score
        else:
            found = False
            for member, score in self.entries(None, stop, reverse=True):
                if not found:
                    if not hi.above(member):
                        continue
                    found = True
                if not lo.below(member):
                    return
                yield member, score


class Lex:
    """One end of a lex range: kind -1 is "-", 1 is "+", 0 a member (exclusive or not)."""

    __slots__ = ("ex", "kind", "value")

    def __init__(self, kind: int, value: bytes, ex: bool) -> None:
        self.kind, self.value, self.ex = kind, value, ex

    def below(self, member: bytes) -> bool:
        """member >= this (as a minimum)."""
        if self.kind:
            return self.kind < 0
        return member > self.value if self.ex else member >= self.value

    def above(self, member: bytes) -> bool:
        """member <= this (as a maximum)."""
        if self.kind:
            return self.kind > 0
        return member < self.value if self.ex else member <= self.value


def lex_empty(lo: Lex, hi: Lex) -> bool:
    """sdscmplex(min, max) > 0, or equal with an exclusive end."""
    a, b = (lo.kind, lo.value), (hi.kind, hi.value)
    if lo.kind or hi.kind:
        a, b = (lo.kind, b""), (hi.kind, b"")
    return a > b or (a == b and (lo.ex or hi.ex))


def score_of(ks: Keyspace, meta: Meta, member: bytes) -> float | None:
    """The member's score in the sorted set `meta`, or None: one read."""
    raw = E.get(ks, kid_of(meta), member)
    return None if raw is None else float(_F64.unpack(raw)[0])


def page(
    ks: Keyspace, meta: Meta, cursor: int, count: int
) -> tuple[int, list[tuple[bytes, float]]]:
    """About `count` (member, score) pairs from `cursor` on, in record order (ZSCAN of
    a skiplist): (next cursor, pairs)."""
    nxt, raw = ks.element_page(kid_of(meta), cursor, count)
    return nxt, [(m, float(_F64.unpack(v)[0])) for m, v in raw]


def build(ks: Keyspace, key: bytes, pairs: list[tuple[bytes, float]], config: Config) -> ZSet:
    """A new sorted set of `pairs` (distinct members), unsaved: a listpack if it fits,
    as Redis makes a new result or a loaded value."""
    zs = ZSet(ks, key, None, config)
    limit = config["zset-max-listpack-value"]
    zs.big = len(pairs) > config["zset-max-listpack-entries"] or any(
        len(m) > limit for m, _ in pairs
    )
    for member, score in pairs:
        zs.put(member, score, None)
    return zs


def _build(ks: Keyspace, key: bytes, value: R.RZSet, config: Config) -> Iterator[ZSet | None]:
    pairs = value.pairs
    members: set[bytes] = set()  # (a slice at a time: see rdb.codec's _unique)
    for i in range(0, len(pairs), 4096):
        members.update(m for m, _ in pairs[i : i + 4096])
    if len(members) != len(pairs):  # a hand-made value may repeat a member
        pairs = list(dict(pairs).items())
    del members  # (kept through the build, it would cost every full GC pass 50 ms)
    limit = config["zset-max-listpack-value"]
    big = len(pairs) > config["zset-max-listpack-entries"] or any(len(m) > limit for m, _ in pairs)
    yield None  # the part that needs no keyspace is done
    zs = ZSet(ks, key, None, config)
    zs.big = big
    for i in range(0, len(pairs), BUILD_CHUNK):
        for member, score in pairs[i : i + BUILD_CHUNK]:
            zs.put(member, score, None)
        yield zs
    yield zs


SPEC = TypeSpec(
    code=CODE,
    name="zset",
    obj=3,
    model=R.RZSet,
    collection=True,
    encoding=lambda ks, meta, config: (
        "skiplist" if L.coll_extra(meta.payload) == _BIG else "listpack"
    ),
    export=lambda ks, meta, config: R.RZSet(list(ZSet(ks, b"", meta, config).entries())),
    load=build_loader(_build),
    build=_build,
)
