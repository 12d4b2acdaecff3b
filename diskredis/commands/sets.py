"""Set commands (Redis group "set"): every member its own record.

Room: what each set command means, over `keyspace.types.sets` (the records). Imports:
`resp.values`, `util`, `commands` helpers, `keyspace`, `errors`. Replies and errors are
Redis 7.0's (t_set.c); members come back in the order of their bytes."""

from __future__ import annotations

import random
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.generic import lookup_typed, parse_cursor, scan_options
from diskredis.commands.registry import KeySpec, arg, command, keys_at
from diskredis.errors import RedisError
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_SET
from diskredis.keyspace.types import Meta, count_of
from diskredis.keyspace.types import sets as T
from diskredis.resp.values import RSet
from diskredis.util import LLONG_MAX, glob_match

_S = "set"


def _get_set(ctx: Ctx, key: bytes, db: int | None = None, read: bool | None = None) -> Meta | None:
    return lookup_typed(ctx, key, T.CODE, db, read)


def _write(
    ctx: Ctx, key: bytes, meta: Meta | None, add: list[bytes], remove: list[bytes], event: bytes
) -> tuple[int, int]:
    """Add and remove members of the set at `key` (created when needed, deleted when
    emptied) and, when it changed, announce `event` (and "del" if it went away):
    (how many added, how many removed)."""
    if meta is None and not add:
        return 0, 0
    s = T.Set(ctx.ks, key, meta)
    added = sum(1 for m in add if s.add(m))
    removed = sum(1 for m in remove if s.remove(m))
    if not (added or removed):
        return 0, 0
    kept = s.save(ctx.session.db)
    ctx.notify(NOTIFY_SET, event, key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", key)
    return added, removed


def _store(ctx: Ctx, key: bytes, members: list[bytes], event: bytes) -> int:
    """Replace `key` by a set of `members` and announce `event`; with no members the key
    is deleted ("del")."""
    if not members:
        if ctx.ks.remove(ctx.session.db, key):
            ctx.notify(NOTIFY_GENERIC, b"del", key)
        return 0
    _write(ctx, key, None, members, [], event)  # replaces the old value in place
    return len(members)


@command(
    "sadd",
    -3,
    "write denyoom fast",
    group=_S,
    since="1.0.0",
    complexity="O(1) for each element added, so O(N) to add N elements when the "
    "command is called with multiple arguments.",
    summary="Adds one or more members to a set. Creates the key if it doesn't exist.",
    keys=(keys_at("RW insert"),),
    history=(("2.4.0", "Accepts multiple `member` arguments."),),
    args=(arg("key", "key"), arg("member", "string", "multiple")),
)
def sadd(ctx: Ctx, argv: list[bytes]) -> int:
    """SADD key member [member ...] -> how many were added."""
    return _write(ctx, argv[1], _get_set(ctx, argv[1]), argv[2:], [], b"sadd")[0]


@command(
    "srem",
    -3,
    "write fast",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the number of members to be removed.",
    summary="Removes one or more members from a set. Deletes the set if the last member "
    "was removed.",
    keys=(keys_at("RW delete"),),
    history=(("2.4.0", "Accepts multiple `member` arguments."),),
    args=(arg("key", "key"), arg("member", "string", "multiple")),
)
def srem(ctx: Ctx, argv: list[bytes]) -> int:
    """SREM key member [member ...] -> how many were removed."""
    meta = _get_set(ctx, argv[1])
    return 0 if meta is None else _write(ctx, argv[1], meta, [], argv[2:], b"srem")[1]


@command(
    "scard",
    2,
    "readonly fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the number of members in a set.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"),),
)
def scard(ctx: Ctx, argv: list[bytes]) -> int:
    """SCARD key -> the number of members."""
    return count_of(_get_set(ctx, argv[1]))


@command(
    "sismember",
    3,
    "readonly fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Determines whether a member belongs to a set.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"), arg("member")),
)
def sismember(ctx: Ctx, argv: list[bytes]) -> int:
    """SISMEMBER key member -> 1 or 0."""
    meta = _get_set(ctx, argv[1])
    return int(meta is not None and T.has(ctx.ks, meta, argv[2]))


@command(
    "smismember",
    -3,
    "readonly fast",
    group=_S,
    since="6.2.0",
    complexity="O(N) where N is the number of elements being checked for membership",
    summary="Determines whether multiple members belong to a set.",
    keys=(keys_at("RO access"),),
    args=(arg("key", "key"), arg("member", "string", "multiple")),
)
def smismember(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """SMISMEMBER key member [member ...] -> 1 or 0 for each."""
    meta = _get_set(ctx, argv[1])
    if meta is None:
        return [0] * (len(argv) - 2)
    return [int(T.has(ctx.ks, meta, m)) for m in argv[2:]]


@command(
    "smembers",
    2,
    "readonly",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the set cardinality.",
    summary="Returns all members of a set.",
    keys=(keys_at("RO access"),),
    tips="nondeterministic_output_order",
    args=(arg("key", "key"),),
)
def smembers(ctx: Ctx, argv: list[bytes]) -> RSet:
    """SMEMBERS key -> the members (a set in RESP3)."""
    return RSet(_members_as_redis(ctx, _get_set(ctx, argv[1])))


def _count_arg(raw: bytes, lo: int) -> int:
    positive = errors.NOT_POSITIVE
    n = parse_int(raw, positive) if lo == 0 else parse_int(raw)
    if not lo <= n <= LLONG_MAX:
        if lo == 0:
            raise RedisError(positive)
        raise RedisError(errors.OUT_OF_RANGE_BETWEEN % (lo, LLONG_MAX))
    return n


@command(
    "srandmember",
    -2,
    "readonly",
    group=_S,
    since="1.0.0",
    complexity="Without the count argument O(1), otherwise O(N) where N is the absolute "
    "value of the passed count.",
    summary="Get one or multiple random members from a set",
    keys=(keys_at("RO access"),),
    tips="nondeterministic_output",
    history=(("2.6.0", "Added the optional `count` argument."),),
    args=(arg("key", "key"), arg("count", "integer", "optional", since="2.6.0")),
)
def srandmember(ctx: Ctx, argv: list[bytes]) -> Any:
    """SRANDMEMBER key [count] -> a member, or count members (negative: may repeat)."""
    if len(argv) > 3:
        raise RedisError(errors.SYNTAX)
    if len(argv) == 3:
        n = _count_arg(argv[2], -LLONG_MAX)
        meta = _get_set(ctx, argv[1])
        if meta is None or n == 0:
            return []
        card = count_of(meta)
        if n < 0:
            return [T.member_at(ctx.ks, meta, random.randrange(card)) for _ in range(-n)]
        return [T.member_at(ctx.ks, meta, p) for p in random.sample(range(card), min(n, card))]
    meta = _get_set(ctx, argv[1])
    if meta is None:
        return None
    return _random_member(ctx, meta)


def _random_member(ctx: Ctx, meta: Meta) -> bytes:
    """A uniformly random member: one read of a random position."""
    return T.member_at(ctx.ks, meta, random.randrange(count_of(meta)))


@command(
    "spop",
    -2,
    "write fast",
    group=_S,
    since="1.0.0",
    complexity="Without the count argument O(1), otherwise O(N) where N is the value of "
    "the passed count.",
    summary="Returns one or more random members from a set after removing them. Deletes "
    "the set if the last member was popped.",
    keys=(keys_at("RW access delete"),),
    tips="nondeterministic_output",
    history=(("3.2.0", "Added the `count` argument."),),
    args=(arg("key", "key"), arg("count", "integer", "optional", since="3.2.0")),
)
def spop(ctx: Ctx, argv: list[bytes]) -> Any:
    """SPOP key [count] -> a removed member, or a set of them."""
    if len(argv) > 3:
        raise RedisError(errors.SYNTAX)
    if len(argv) == 3:
        n = _count_arg(argv[2], 0)
        meta = _get_set(ctx, argv[1])
        if meta is None or n == 0:
            return RSet([])
        card = count_of(meta)
        picked = [T.member_at(ctx.ks, meta, p) for p in random.sample(range(card), min(n, card))]
        _write(ctx, argv[1], meta, [], picked, b"spop")
        repl = ctx.ks.repl
        if n >= card:  # the whole set: replicated as its deletion
            ctx.propagate_as(b"DEL", argv[1])
        elif repl.backlog.recording:  # as one SREM per member (the replica's pick may differ)
            for member in picked:
                repl.also(ctx.session.db, [b"SREM", argv[1], member])
            repl.prevent()
        return RSet(picked)
    meta = _get_set(ctx, argv[1])
    if meta is None:
        return None
    member = _random_member(ctx, meta)
    _write(ctx, argv[1], meta, [], [member], b"spop")
    ctx.propagate_as(b"SREM", argv[1], member)
    return member


@command(
    "smove",
    4,
    "write fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Moves a member from one set to another.",
    keys=(keys_at("RW access delete"), keys_at("RW insert", index=2)),
    args=(arg("source", "key"), arg("destination", "key"), arg("member")),
)
def smove(ctx: Ctx, argv: list[bytes]) -> int:
    """SMOVE source destination member -> 1 if moved, 0 if not a member of source."""
    src, dst, member = argv[1], argv[2], argv[3]
    db = ctx.session.db
    src_meta = ctx.lookup(src, db)
    dst_meta = ctx.lookup(dst, db)
    if src_meta is None:
        return 0
    if src_meta.type != T.CODE or (dst_meta is not None and dst_meta.type != T.CODE):
        raise RedisError(errors.WRONGTYPE)
    if src == dst:
        return int(T.has(ctx.ks, src_meta, member))
    if not _write(ctx, src, src_meta, [], [member], b"srem")[1]:
        return 0
    _write(ctx, dst, ctx.lookup(dst, db), [member], [], b"sadd")
    return 1


# -- algebra ---------------------------------------------------------------------------
def _inter(ctx: Ctx, keys: list[bytes], limit: int = 0) -> list[bytes]:
    """sinterGenericCommand: every key is type-checked; any missing key makes it empty."""
    found = [_get_set(ctx, key, read=True) for key in keys]
    if any(m is None for m in found):
        return []
    metas = sorted((m for m in found if m is not None), key=count_of)
    out = []
    for member in T.members(ctx.ks, metas[0]):
        if all(T.has(ctx.ks, other, member) for other in metas[1:]):
            out.append(member)
            if limit and len(out) >= limit:
                break
    return out


def _union_or_diff(ctx: Ctx, keys: list[bytes], diff: bool) -> list[bytes]:
    metas = [_get_set(ctx, key, read=True) for key in keys]  # every key is type-checked
    if not diff:
        seen: dict[bytes, None] = {}
        for meta in metas:
            for m in T.members(ctx.ks, meta):
                seen[m] = None
        return sorted(seen)
    if metas[0] is None:
        return []
    others = [m for m in metas[1:] if m is not None]
    return [m for m in T.members(ctx.ks, metas[0]) if not any(T.has(ctx.ks, o, m) for o in others)]


_MULTI_RO = (keys_at("RO access", last=-1),)
_STORE_KEYS = (keys_at("OW update"), keys_at("RO access", index=2, last=-1))


@command(
    "sinter",
    -2,
    "readonly",
    group=_S,
    since="1.0.0",
    complexity="O(N*M) worst case where N is the cardinality of the smallest set and M "
    "is the number of sets.",
    summary="Returns the intersect of multiple sets.",
    keys=_MULTI_RO,
    tips="nondeterministic_output_order",
    args=(arg("key", "key", "multiple"),),
)
def sinter(ctx: Ctx, argv: list[bytes]) -> RSet:
    """SINTER key [key ...] -> the members in every set."""
    return RSet(_inter(ctx, argv[1:]))


@command(
    "sintercard",
    -3,
    "readonly",
    group=_S,
    since="7.0.0",
    complexity="O(N*M) worst case where N is the cardinality of the smallest set and M "
    "is the number of sets.",
    summary="Returns the number of members of the intersect of multiple sets.",
    keys=(KeySpec(("RO", "access"), ("index", 1), ("keynum", 0, 1, 1)),),
    args=(
        arg("numkeys", "integer"),
        arg("key", "key", "multiple"),
        arg("limit", "integer", "optional", token="LIMIT"),
    ),
)
def sintercard(ctx: Ctx, argv: list[bytes]) -> int:
    """SINTERCARD numkeys key [key ...] [LIMIT limit] -> the intersection's size."""
    numkeys = parse_int(argv[1], errors.NUMKEYS_POSITIVE)
    if not 1 <= numkeys <= LLONG_MAX:
        raise RedisError(errors.NUMKEYS_POSITIVE)
    if numkeys > len(argv) - 2:
        raise RedisError(errors.NUMKEYS_OVER_ARGS)
    limit = 0
    j = 2 + numkeys
    while j < len(argv):
        if argv[j].lower() == b"limit" and j + 1 < len(argv):
            limit = parse_int(argv[j + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise RedisError(errors.LIMIT_NEGATIVE)
            j += 2
        else:
            raise RedisError(errors.SYNTAX)
    return len(_inter(ctx, argv[2 : 2 + numkeys], limit))


@command(
    "sinterstore",
    -3,
    "write denyoom",
    group=_S,
    since="1.0.0",
    complexity="O(N*M) worst case where N is the cardinality of the smallest set and M "
    "is the number of sets.",
    summary="Stores the intersect of multiple sets in a key.",
    keys=(keys_at("RW update"), keys_at("RO access", index=2, last=-1)),
    args=(arg("destination", "key"), arg("key", "key", "multiple")),
)
def sinterstore(ctx: Ctx, argv: list[bytes]) -> int:
    """SINTERSTORE destination key [key ...] -> the size of the stored set."""
    return _store(ctx, argv[1], _inter(ctx, argv[2:]), b"sinterstore")


@command(
    "sunion",
    -2,
    "readonly",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the total number of elements in all given sets.",
    summary="Returns the union of multiple sets.",
    keys=_MULTI_RO,
    tips="nondeterministic_output_order",
    args=(arg("key", "key", "multiple"),),
)
def sunion(ctx: Ctx, argv: list[bytes]) -> RSet:
    """SUNION key [key ...] -> the members of any set."""
    return RSet(_union_or_diff(ctx, argv[1:], False))


@command(
    "sunionstore",
    -3,
    "write denyoom",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the total number of elements in all given sets.",
    summary="Stores the union of multiple sets in a key.",
    keys=_STORE_KEYS,
    args=(arg("destination", "key"), arg("key", "key", "multiple")),
)
def sunionstore(ctx: Ctx, argv: list[bytes]) -> int:
    """SUNIONSTORE destination key [key ...] -> the size of the stored set."""
    return _store(ctx, argv[1], _union_or_diff(ctx, argv[2:], False), b"sunionstore")


@command(
    "sdiff",
    -2,
    "readonly",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the total number of elements in all given sets.",
    summary="Returns the difference of multiple sets.",
    keys=_MULTI_RO,
    tips="nondeterministic_output_order",
    args=(arg("key", "key", "multiple"),),
)
def sdiff(ctx: Ctx, argv: list[bytes]) -> RSet:
    """SDIFF key [key ...] -> the members of the first set in none of the others."""
    return RSet(_union_or_diff(ctx, argv[1:], True))


@command(
    "sdiffstore",
    -3,
    "write denyoom",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the total number of elements in all given sets.",
    summary="Stores the difference of multiple sets in a key.",
    keys=_STORE_KEYS,
    args=(arg("destination", "key"), arg("key", "key", "multiple")),
)
def sdiffstore(ctx: Ctx, argv: list[bytes]) -> int:
    """SDIFFSTORE destination key [key ...] -> the size of the stored set."""
    return _store(ctx, argv[1], _union_or_diff(ctx, argv[2:], True), b"sdiffstore")


def _members_as_redis(ctx: Ctx, meta: Meta | None) -> list[bytes]:
    """The members in the order Redis 7.0 lists them where it has one: an intset's is
    numeric (a set of other members has its hash table's order, which no one can
    match; they come in byte order)."""
    members = T.members(ctx.ks, meta)
    if meta is not None and T.is_intset(ctx.config, meta, members):
        members.sort(key=int)
    return members


@command(
    "sscan",
    -3,
    "readonly",
    group=_S,
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough "
    "command calls for the cursor to return back to 0. N is the number of "
    "elements inside the collection..",
    summary="Iterates over members of a set.",
    keys=(keys_at("RO access"),),
    tips="nondeterministic_output",
    args=(
        arg("key", "key"),
        arg("cursor", "integer"),
        arg("pattern", "pattern", "optional", token="MATCH"),
        arg("count", "integer", "optional", token="COUNT"),
    ),
)
def sscan(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """SSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor, members]. A set Redis
    would keep as an intset comes back whole, as Redis does."""
    cursor = parse_cursor(argv[2])
    meta = _get_set(ctx, argv[1])
    if meta is None:
        return [b"0", []]
    count, pattern, _ = scan_options(argv, 3, with_type=False)
    members = T.small_members(ctx.ks, meta, ctx.config)
    if members is not None:  # an intset: few members (in numeric order), all of them
        nxt = 0
        members.sort(key=int)
    else:  # a page, whatever the set's size
        nxt, members = T.page(ctx.ks, meta, cursor, count)
    return [b"%d" % nxt, [m for m in members if pattern is None or glob_match(pattern, m)]]
