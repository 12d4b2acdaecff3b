"""Sorted set commands (Redis group "sorted-set"): every member its own records.

Room: what each sorted set command means, over `keyspace.types.zsets` (the records).
Imports: `resp.values`, `util`, `commands` helpers, `keyspace`, `errors`. Replies and
errors are Redis 7.0's (t_zset.c).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

from diskredis import errors
from diskredis.commands.args import (
    clamp_range,
    parse_bound,
    parse_double,
    parse_int,
    parse_mpop,
    parse_positive,
    parse_timeout_ms,
)
from diskredis.commands.context import Block, Ctx
from diskredis.commands.generic import lookup_typed, parse_cursor, scan_options
from diskredis.commands.registry import KeySpec, arg, block, command, keys_at, oneof, token
from diskredis.errors import RedisError
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_ZSET
from diskredis.keyspace.types import Meta, count_of
from diskredis.keyspace.types import sets as TS
from diskredis.keyspace.types import zsets as T
from diskredis.resp.values import NULL_ARRAY
from diskredis.util import glob_match

_Z = "sorted-set"
_LONG_MAX = 2**63 - 1
NOT_FLOAT_RANGE = "ERR min or max is not a float"
NOT_LEX_RANGE = "ERR min or max not valid string range item"
NAN = "ERR resulting score is not a number (NaN)"


def parse_lex(raw: bytes) -> T.Lex | None:
    """zslParseLexRangeItem."""
    first = raw[:1]
    if first in (b"+", b"-"):
        return None if len(raw) > 1 else T.Lex(1 if first == b"+" else -1, b"", True)
    if first in (b"(", b"["):
        return T.Lex(0, raw[1:], first == b"(")
    return None


def _lex_range(lo: bytes, hi: bytes) -> tuple[T.Lex, T.Lex]:
    a, b = parse_lex(lo), parse_lex(hi)
    if a is None or b is None:
        raise RedisError(NOT_LEX_RANGE)
    return a, b


def _score_range(lo: bytes, hi: bytes) -> tuple[tuple[float, bool], tuple[float, bool]]:
    a, b = parse_bound(lo), parse_bound(hi)
    if a is None or b is None:
        raise RedisError(NOT_FLOAT_RANGE)
    return a, b


# -- lookups and replies ---------------------------------------------------------------
def _lookup(ctx: Ctx, key: bytes, read: bool | None = None) -> Meta | None:
    return lookup_typed(ctx, key, T.CODE, read=read)


def zset_of(ctx: Ctx, key: bytes, meta: Meta | None) -> T.ZSet:
    """The sorted set `meta` at `key` (None: a new, empty one), to read or change."""
    return T.ZSet(ctx.ks, key, meta, ctx.config)


def _save(ctx: Ctx, zs: T.ZSet, event: bytes | None = None) -> None:
    """Write the set back (an emptied set is deleted), then announce `event` (and "del"
    for a set that went away)."""
    kept = zs.save(ctx.session.db)
    if event is not None:
        ctx.notify(NOTIFY_ZSET, event, zs.key)
        if not kept:
            ctx.notify(NOTIFY_GENERIC, b"del", zs.key)


def _open(ctx: Ctx, key: bytes, read: bool | None = None) -> T.ZSet | None:
    meta = _lookup(ctx, key, read)
    return None if meta is None else zset_of(ctx, key, meta)


def _scored(ctx: Ctx, pairs: list[tuple[bytes, float]], withscores: bool) -> list[Any]:
    """Members, or members with scores: flat in RESP2, [member, score] pairs in RESP3."""
    if not withscores:
        return [m for m, _ in pairs]
    if ctx.session.resp >= 3:
        return [[m, s] for m, s in pairs]
    return [x for m, s in pairs for x in (m, s)]


def _replace(ctx: Ctx, key: bytes, pairs: list[tuple[bytes, float]], event: bytes) -> int:
    """Make `key` a new sorted set of `pairs` and announce `event`; with no pairs the key
    is deleted ("del")."""
    if not pairs:
        if ctx.ks.remove(ctx.session.db, key):
            ctx.notify(NOTIFY_GENERIC, b"del", key)
        return 0
    zs = T.build(ctx.ks, key, pairs, ctx.config)
    _save(ctx, zs, event)  # replaces the old value in place
    return zs.count


_KEY_RO = (keys_at("RO access"),)
_KEY_ARG = arg("key", "key")


# -- adding and removing ---------------------------------------------------------------
def _zadd(ctx: Ctx, argv: list[bytes], incr: bool) -> Any:
    nx = xx = gt = lt = ch = False
    i = 2
    # Options are words; a score starts with a digit, a sign or a dot (or is inf or nan,
    # which the loop stops at too).
    while i < len(argv) and argv[i][:1].isalpha():
        opt = argv[i].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            ch = True
        elif opt == b"incr":
            incr = True
        elif opt == b"gt":
            gt = True
        elif opt == b"lt":
            lt = True
        else:
            break
        i += 1
    pairs = len(argv) - i
    if pairs % 2 or not pairs:
        raise RedisError(errors.SYNTAX)
    if nx and xx:
        raise errors.err("XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise errors.err("GT, LT, and/or NX options at the same time are not compatible")
    if incr and pairs > 2:
        raise errors.err("INCR option supports a single increment-element pair")
    scores = [parse_double(argv[j]) for j in range(i, len(argv), 2)]
    meta = _lookup(ctx, argv[1])
    if meta is None and xx:
        return None if incr else 0
    zs = T.ZSet(ctx.ks, argv[1], meta, ctx.config)
    added = updated = processed = 0
    result = 0.0
    for score, member in zip(scores, argv[i + 1 :: 2], strict=True):
        current = zs.score(member)
        if current is not None:
            if nx:
                continue
            if incr:
                score += current
                if math.isnan(score):
                    raise RedisError(NAN)
            if (lt and score >= current) or (gt and score <= current):
                continue
            if score != current:
                zs.put(member, score, current)
                updated += 1
        elif xx:
            continue
        else:
            zs.put(member, score, None)
            added += 1
        processed += 1
        result = score
    if added or updated:
        _save(ctx, zs, b"zincr" if incr else b"zadd")
    elif meta is None:
        _save(ctx, zs)
    if incr:
        return result if processed else None
    return added + updated if ch else added


@command(
    "zadd",
    -4,
    "write denyoom fast",
    group=_Z,
    since="1.2.0",
    complexity="O(log(N)) for each item added, where N is the number of elements in the "
    "sorted set.",
    summary="Adds one or more members to a sorted set, or updates their scores. Creates "
    "the key if it doesn't exist.",
    keys=(keys_at("RW update"),),
    history=(
        ("2.4.0", "Accepts multiple elements."),
        ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
        ("6.2.0", "Added the `GT` and `LT` options."),
    ),
    args=(
        _KEY_ARG,
        oneof("condition", token("NX"), token("XX"), flags=("optional",), since="3.0.2"),
        oneof("comparison", token("GT"), token("LT"), flags=("optional",), since="6.2.0"),
        token("CH", "optional", since="3.0.2"),
        token("INCR", "optional", since="3.0.2"),
        block("data", arg("score", "double"), arg("member"), flags=("multiple",)),
    ),
)
def zadd(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...] -> how many
    were added (or changed, with CH); with INCR the new score, or nil."""
    return _zadd(ctx, argv, False)


@command(
    "zincrby",
    4,
    "write denyoom fast",
    group=_Z,
    since="1.2.0",
    complexity="O(log(N)) where N is the number of elements in the sorted set.",
    summary="Increments the score of a member in a sorted set.",
    keys=(keys_at("RW access update"),),
    args=(_KEY_ARG, arg("increment", "integer"), arg("member")),
)
def zincrby(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZINCRBY key increment member -> the new score."""
    return _zadd(ctx, [argv[0], argv[1], argv[2], argv[3]], True)


@command(
    "zrem",
    -3,
    "write fast",
    group=_Z,
    since="1.2.0",
    complexity="O(M*log(N)) with N being the number of elements in the sorted set and M "
    "the number of elements to be removed.",
    summary="Removes one or more members from a sorted set. Deletes the sorted set if "
    "all members were removed.",
    keys=(keys_at("RW delete"),),
    history=(("2.4.0", "Accepts multiple elements."),),
    args=(_KEY_ARG, arg("member", "string", "multiple")),
)
def zrem(ctx: Ctx, argv: list[bytes]) -> int:
    """ZREM key member [member ...] -> how many were removed."""
    zs = _open(ctx, argv[1])
    if zs is None:
        return 0
    removed = 0
    for member in argv[2:]:
        removed += zs.delete(member)
        if zs.count == 0:
            break
    if removed:
        _save(ctx, zs, b"zrem")
    return removed


# -- reading single members ------------------------------------------------------------
@command(
    "zcard",
    2,
    "readonly fast",
    group=_Z,
    since="1.2.0",
    complexity="O(1)",
    summary="Returns the number of members in a sorted set.",
    keys=(keys_at("RO"),),
    args=(_KEY_ARG,),
)
def zcard(ctx: Ctx, argv: list[bytes]) -> int:
    """ZCARD key -> the number of members."""
    meta = _lookup(ctx, argv[1])
    return 0 if meta is None else count_of(meta)


@command(
    "zscore",
    3,
    "readonly fast",
    group=_Z,
    since="1.2.0",
    complexity="O(1)",
    summary="Returns the score of a member in a sorted set.",
    keys=_KEY_RO,
    args=(_KEY_ARG, arg("member")),
)
def zscore(ctx: Ctx, argv: list[bytes]) -> float | None:
    """ZSCORE key member -> the score, or nil."""
    zs = _open(ctx, argv[1])
    return None if zs is None else zs.score(argv[2])


@command(
    "zmscore",
    -3,
    "readonly fast",
    group=_Z,
    since="6.2.0",
    complexity="O(N) where N is the number of members being requested.",
    summary="Returns the score of one or more members in a sorted set.",
    keys=_KEY_RO,
    args=(_KEY_ARG, arg("member", "string", "multiple")),
)
def zmscore(ctx: Ctx, argv: list[bytes]) -> list[float | None]:
    """ZMSCORE key member [member ...] -> the score of each, or nil."""
    zs = _open(ctx, argv[1])
    return [None if zs is None else zs.score(m) for m in argv[2:]]


def _rank(ctx: Ctx, argv: list[bytes], reverse: bool) -> int | None:
    zs = _open(ctx, argv[1])
    if zs is None:
        return None
    rank = zs.rank(argv[2])
    if rank is None:
        return None
    return zs.count - 1 - rank if reverse else rank


@command(
    "zrank",
    3,
    "readonly fast",
    group=_Z,
    since="2.0.0",
    complexity="O(log(N))",
    summary="Returns the index of a member in a sorted set ordered by ascending scores.",
    keys=_KEY_RO,
    args=(_KEY_ARG, arg("member")),
)
def zrank(ctx: Ctx, argv: list[bytes]) -> int | None:
    """ZRANK key member -> its rank from the lowest score, or nil."""
    return _rank(ctx, argv, False)


@command(
    "zrevrank",
    3,
    "readonly fast",
    group=_Z,
    since="2.0.0",
    complexity="O(log(N))",
    summary="Returns the index of a member in a sorted set ordered by descending scores.",
    keys=_KEY_RO,
    args=(_KEY_ARG, arg("member")),
)
def zrevrank(ctx: Ctx, argv: list[bytes]) -> int | None:
    """ZREVRANK key member -> its rank from the highest score, or nil."""
    return _rank(ctx, argv, True)


@command(
    "zcount",
    4,
    "readonly fast",
    group=_Z,
    since="2.0.0",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    summary="Returns the count of members in a sorted set that have scores within a range.",
    keys=_KEY_RO,
    args=(_KEY_ARG, arg("min", "double"), arg("max", "double")),
)
def zcount(ctx: Ctx, argv: list[bytes]) -> int:
    """ZCOUNT key min max -> how many members have a score in the range."""
    lo, hi = _score_range(argv[2], argv[3])
    zs = _open(ctx, argv[1])
    return 0 if zs is None else sum(1 for _ in zs.by_score(lo, hi, False))


@command(
    "zlexcount",
    4,
    "readonly fast",
    group=_Z,
    since="2.8.9",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    summary="Returns the number of members in a sorted set within a lexicographical range.",
    keys=_KEY_RO,
    args=(_KEY_ARG, arg("min"), arg("max")),
)
def zlexcount(ctx: Ctx, argv: list[bytes]) -> int:
    """ZLEXCOUNT key min max -> how many members are in the lex range."""
    lo, hi = _lex_range(argv[2], argv[3])
    zs = _open(ctx, argv[1])
    return 0 if zs is None else sum(1 for _ in zs.by_lex(lo, hi, False))


# -- ranges ----------------------------------------------------------------------------
_RANK, _SCORE, _LEX = "rank", "score", "lex"


def _window(
    items: Iterator[tuple[bytes, float]], offset: int, limit: int
) -> list[tuple[bytes, float]]:
    """LIMIT offset count over a walk: a negative offset finds nothing, a negative count
    means all (as the C loops `while (offset--)` / `while (limit--)` behave)."""
    if offset < 0:
        return []
    out: list[tuple[bytes, float]] = []
    for i, pair in enumerate(items):
        if i < offset:
            continue
        if limit >= 0 and len(out) >= limit:
            break
        out.append(pair)
    return out


def _rank_slice(zs: T.ZSet, start: int, end: int, reverse: bool) -> list[tuple[bytes, float]]:
    span = clamp_range(zs.count, start, end)
    if span is None:
        return []
    start, end = span
    if reverse:
        return zs.by_rank(zs.count - 1 - end, zs.count - 1 - start)[::-1]
    return zs.by_rank(start, end)


def _zrange(
    ctx: Ctx, argv: list[bytes], at: int, store: bool, kind: str | None, reverse: bool | None
) -> Any:
    """zrangeGenericCommand: argv[at] is the source, then min, max and the options."""
    withscores = False
    offset, limit = 0, -1
    j = at + 3
    while j < len(argv):
        opt = argv[j].lower()
        left = len(argv) - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset, limit = parse_int(argv[j + 1]), parse_int(argv[j + 2])
            j += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif kind is None and opt == b"bylex":
            kind = _LEX
        elif kind is None and opt == b"byscore":
            kind = _SCORE
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    reverse = bool(reverse)
    kind = kind or _RANK
    if limit != -1 and kind == _RANK:
        raise errors.err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and kind == _LEX:
        raise errors.err("syntax error, WITHSCORES not supported in combination with BYLEX")
    lo_raw, hi_raw = argv[at + 1], argv[at + 2]
    if reverse and kind != _RANK:
        lo_raw, hi_raw = hi_raw, lo_raw
    walk: Callable[[T.ZSet], list[tuple[bytes, float]]]
    if kind == _RANK:
        start, end = parse_int(lo_raw), parse_int(hi_raw)
        walk = lambda zs: _rank_slice(zs, start, end, reverse)  # noqa: E731
    elif kind == _SCORE:
        lo, hi = _score_range(lo_raw, hi_raw)

        def walk(zs: T.ZSet) -> list[tuple[bytes, float]]:
            if offset > 0 and offset >= zs.count:
                return []
            return _window(zs.by_score(lo, hi, reverse), offset, limit)
    else:
        llo, lhi = _lex_range(lo_raw, hi_raw)
        walk = lambda zs: _window(zs.by_lex(llo, lhi, reverse), offset, limit)  # noqa: E731
    zs = _open(ctx, argv[at], read=True)  # lookupKeyRead, ZRANGESTORE's source too
    pairs = [] if zs is None else walk(zs)
    if store:
        return _replace(ctx, argv[1], pairs, b"zrangestore")
    return _scored(ctx, pairs, withscores)


_RANGE_HISTORY = (("2.0.0", "Added the `WITHSCORES` modifier."),)


@command(
    "zrange",
    -4,
    "readonly",
    group=_Z,
    since="1.2.0",
    complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
    "the number of elements returned.",
    summary="Returns members in a sorted set within a range of indexes.",
    keys=_KEY_RO,
    history=(("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),),
    args=(
        _KEY_ARG,
        arg("start"),
        arg("stop"),
        oneof("sortby", token("BYSCORE"), token("BYLEX"), flags=("optional",), since="6.2.0"),
        token("REV", "optional", since="6.2.0"),
        block(
            "limit",
            arg("offset", "integer"),
            arg("count", "integer"),
            flags=("optional",),
            tok="LIMIT",
        ),
        token("WITHSCORES", "optional"),
    ),
)
def zrange(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]."""
    return _zrange(ctx, argv, 1, False, None, None)


@command(
    "zrangestore",
    -5,
    "write denyoom",
    group=_Z,
    since="6.2.0",
    complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
    "the number of elements stored into the destination key.",
    summary="Stores a range of members from sorted set in a key.",
    keys=(keys_at("OW update"), keys_at("RO access", index=2)),
    args=(
        arg("dst", "key"),
        arg("src", "key", key=1),
        arg("min"),
        arg("max"),
        oneof("sortby", token("BYSCORE"), token("BYLEX"), flags=("optional",)),
        token("REV", "optional"),
        block(
            "limit",
            arg("offset", "integer"),
            arg("count", "integer"),
            flags=("optional",),
            tok="LIMIT",
        ),
    ),
)
def zrangestore(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] -> how many
    members the new sorted set holds."""
    return _zrange(ctx, argv, 2, True, None, None)


@command(
    "zrevrange",
    -4,
    "readonly",
    group=_Z,
    since="1.2.0",
    complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
    "the number of elements returned.",
    summary="Returns members in a sorted set within a range of indexes in reverse order.",
    keys=_KEY_RO,
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`ZRANGE` with the `REV` argument",
    args=(
        _KEY_ARG,
        arg("start", "integer"),
        arg("stop", "integer"),
        token("WITHSCORES", "optional"),
    ),
)
def zrevrange(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZREVRANGE key start stop [WITHSCORES]."""
    return _zrange(ctx, argv, 1, False, _RANK, True)


_BYSCORE_COMPLEXITY = (
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
    "elements being returned. If M is constant (e.g. always asking for the first 10 "
    "elements with LIMIT), you can consider it O(log(N))."
)
_LIMIT_ARG = block(
    "limit", arg("offset", "integer"), arg("count", "integer"), flags=("optional",), tok="LIMIT"
)


@command(
    "zrangebyscore",
    -4,
    "readonly",
    group=_Z,
    since="1.0.5",
    complexity=_BYSCORE_COMPLEXITY,
    summary="Returns members in a sorted set within a range of scores.",
    keys=_KEY_RO,
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`ZRANGE` with the `BYSCORE` argument",
    history=_RANGE_HISTORY,
    args=(
        _KEY_ARG,
        arg("min", "double"),
        arg("max", "double"),
        token("WITHSCORES", "optional", since="2.0.0"),
        _LIMIT_ARG,
    ),
)
def zrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]."""
    return _zrange(ctx, argv, 1, False, _SCORE, False)


@command(
    "zrevrangebyscore",
    -4,
    "readonly",
    group=_Z,
    since="2.2.0",
    complexity=_BYSCORE_COMPLEXITY,
    summary="Returns members in a sorted set within a range of scores in reverse order.",
    keys=_KEY_RO,
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`ZRANGE` with the `REV` and `BYSCORE` arguments",
    history=(("2.1.6", "`min` and `max` can be exclusive."),),
    args=(
        _KEY_ARG,
        arg("max", "double"),
        arg("min", "double"),
        token("WITHSCORES", "optional"),
        _LIMIT_ARG,
    ),
)
def zrevrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]."""
    return _zrange(ctx, argv, 1, False, _SCORE, True)


@command(
    "zrangebylex",
    -4,
    "readonly",
    group=_Z,
    since="2.8.9",
    complexity=_BYSCORE_COMPLEXITY,
    summary="Returns members in a sorted set within a lexicographical range.",
    keys=_KEY_RO,
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`ZRANGE` with the `BYLEX` argument",
    args=(_KEY_ARG, arg("min"), arg("max"), _LIMIT_ARG),
)
def zrangebylex(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZRANGEBYLEX key min max [LIMIT offset count]."""
    return _zrange(ctx, argv, 1, False, _LEX, False)


@command(
    "zrevrangebylex",
    -4,
    "readonly",
    group=_Z,
    since="2.8.9",
    complexity=_BYSCORE_COMPLEXITY,
    summary="Returns members in a sorted set within a lexicographical range in reverse order.",
    keys=_KEY_RO,
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`ZRANGE` with the `REV` and `BYLEX` arguments",
    args=(_KEY_ARG, arg("max"), arg("min"), _LIMIT_ARG),
)
def zrevrangebylex(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZREVRANGEBYLEX key max min [LIMIT offset count]."""
    return _zrange(ctx, argv, 1, False, _LEX, True)


def _zremrange(ctx: Ctx, argv: list[bytes], kind: str) -> int:
    walk: Callable[[T.ZSet], list[tuple[bytes, float]]]
    if kind == _RANK:
        start, end = parse_int(argv[2]), parse_int(argv[3])
        walk = lambda zs: _rank_slice(zs, start, end, False)  # noqa: E731
    elif kind == _SCORE:
        lo, hi = _score_range(argv[2], argv[3])
        walk = lambda zs: list(zs.by_score(lo, hi, False))  # noqa: E731
    else:
        llo, lhi = _lex_range(argv[2], argv[3])
        walk = lambda zs: list(zs.by_lex(llo, lhi, False))  # noqa: E731
    zs = _open(ctx, argv[1])
    if zs is None:
        return 0
    doomed = walk(zs)
    for member, score in doomed:
        zs.delete(member, score)
    if doomed:
        _save(ctx, zs, b"zremrangeby" + kind.encode())
    return len(doomed)


_REMRANGE_COMPLEXITY = (
    "O(log(N)+M) with N being the number of elements in the sorted set "
    "and M the number of elements removed by the operation."
)
_KEY_DEL = (keys_at("RW delete"),)


@command(
    "zremrangebyrank",
    4,
    "write",
    group=_Z,
    since="2.0.0",
    complexity=_REMRANGE_COMPLEXITY,
    summary="Removes members in a sorted set within a range of indexes. Deletes the "
    "sorted set if all members were removed.",
    keys=_KEY_DEL,
    args=(_KEY_ARG, arg("start", "integer"), arg("stop", "integer")),
)
def zremrangebyrank(ctx: Ctx, argv: list[bytes]) -> int:
    """ZREMRANGEBYRANK key start stop -> how many were removed."""
    return _zremrange(ctx, argv, _RANK)


@command(
    "zremrangebyscore",
    4,
    "write",
    group=_Z,
    since="1.2.0",
    complexity=_REMRANGE_COMPLEXITY,
    summary="Removes members in a sorted set within a range of scores. Deletes the "
    "sorted set if all members were removed.",
    keys=_KEY_DEL,
    args=(_KEY_ARG, arg("min", "double"), arg("max", "double")),
)
def zremrangebyscore(ctx: Ctx, argv: list[bytes]) -> int:
    """ZREMRANGEBYSCORE key min max -> how many were removed."""
    return _zremrange(ctx, argv, _SCORE)


@command(
    "zremrangebylex",
    4,
    "write",
    group=_Z,
    since="2.8.9",
    complexity=_REMRANGE_COMPLEXITY,
    summary="Removes members in a sorted set within a lexicographical range. Deletes "
    "the sorted set if all members were removed.",
    keys=_KEY_DEL,
    args=(_KEY_ARG, arg("min"), arg("max")),
)
def zremrangebylex(ctx: Ctx, argv: list[bytes]) -> int:
    """ZREMRANGEBYLEX key min max -> how many were removed."""
    return _zremrange(ctx, argv, _LEX)


# -- popping ---------------------------------------------------------------------------
def _pop_from(
    ctx: Ctx, zs: T.ZSet, key: bytes, highest: bool, count: int, nested: bool, with_key: bool
) -> list[Any]:
    """genericZpopCommand once the set is found: pop up to `count` members."""
    n = 1 if count == -1 else count
    popped = list(itertools.islice(zs.entries(reverse=highest), n))
    for member, score in popped:
        zs.delete(member, score)
    _save(ctx, zs, b"zpopmax" if highest else b"zpopmin")
    verb = b"ZPOPMAX" if highest else b"ZPOPMIN"
    if ctx.name in ("zmpop", "bzmpop"):  # replicated as the plain pop, with its count
        ctx.propagate_as(verb, key, b"%d" % len(popped))
    elif ctx.name in ("bzpopmin", "bzpopmax"):
        ctx.propagate_as(verb, key)
    if nested:
        body: list[Any] = [[m, s] for m, s in popped]
        return [key, body] if with_key else body
    flat: list[Any] = [x for m, s in popped for x in (m, s)]
    return [key, *flat] if with_key else flat


def _zpop(
    ctx: Ctx,
    keys: list[bytes],
    highest: bool,
    with_key: bool,
    count: int,
    nested: bool,
    nil_when_empty: bool,
) -> Any:
    for key in keys:
        zs = _open(ctx, key)
        if zs is None:
            continue
        if count == 0:
            return []
        return _pop_from(ctx, zs, key, highest, count, nested, with_key)
    return NULL_ARRAY if nil_when_empty else []


def _zpop_minmax(ctx: Ctx, argv: list[bytes], highest: bool) -> Any:
    if len(argv) > 3:
        raise RedisError(errors.SYNTAX)
    count = -1
    if len(argv) == 3:
        count = parse_positive(argv[2])
    nested = ctx.session.resp > 2 and count != -1
    return _zpop(ctx, [argv[1]], highest, False, count, nested, False)


_ZPOP_COMPLEXITY = (
    "O(log(N)*M) with N being the number of elements in the sorted set, "
    "and M being the number of elements popped."
)


@command(
    "zpopmin",
    -2,
    "write fast",
    group=_Z,
    since="5.0.0",
    complexity=_ZPOP_COMPLEXITY,
    summary="Returns the lowest-scoring members from a sorted set after removing them. "
    "Deletes the sorted set if the last member was popped.",
    keys=(keys_at("RW access delete"),),
    args=(_KEY_ARG, arg("count", "integer", "optional")),
)
def zpopmin(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZPOPMIN key [count] -> the lowest members with their scores."""
    return _zpop_minmax(ctx, argv, False)


@command(
    "zpopmax",
    -2,
    "write fast",
    group=_Z,
    since="5.0.0",
    complexity=_ZPOP_COMPLEXITY,
    summary="Returns the highest-scoring members from a sorted set after removing them. "
    "Deletes the sorted set if the last member was popped.",
    keys=(keys_at("RW access delete"),),
    args=(_KEY_ARG, arg("count", "integer", "optional")),
)
def zpopmax(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZPOPMAX key [count] -> the highest members with their scores."""
    return _zpop_minmax(ctx, argv, True)


_ZMPOP_COMPLEXITY = (
    "O(K) + O(M*log(N)) where K is the number of provided keys, N being "
    "the number of elements in the sorted set, and M being the number of "
    "elements popped."
)
_ZMPOP_ARGS = (
    arg("numkeys", "integer"),
    arg("key", "key", "multiple"),
    oneof("where", token("MIN"), token("MAX")),
    arg("count", "integer", "optional", token="COUNT"),
)


@command(
    "zmpop",
    -4,
    "write",
    group=_Z,
    since="7.0.0",
    complexity=_ZMPOP_COMPLEXITY,
    summary="Returns the highest- or lowest-scoring members from one or more sorted "
    "sets after removing them. Deletes the sorted set if the last member was "
    "popped.",
    keys=(KeySpec(("RW", "access", "delete"), ("index", 1), ("keynum", 0, 1, 1)),),
    args=_ZMPOP_ARGS,
)
def zmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] -> [key, [[member, score]...]] of
    the first non-empty sorted set, or nil."""
    keys, highest, count = parse_mpop(argv, 1, (b"min", b"max"))
    return _zpop(ctx, keys, highest, True, count, True, True)


# -- blocking pops ---------------------------------------------------------------------
def _serve(highest: bool, count: int, nested: bool) -> Callable[[Ctx, bytes], Any]:
    """What a blocked BZPOP* client gets when `key` becomes a non-empty sorted set."""

    def serve(ctx: Ctx, key: bytes) -> Any:
        meta = ctx.lookup(key)
        if meta is None or meta.type != T.CODE:
            return None
        return _pop_from(ctx, zset_of(ctx, key, meta), key, highest, count, nested, True)

    return serve


def _bzpop(
    ctx: Ctx, keys: list[bytes], raw_timeout: bytes, highest: bool, count: int, nested: bool
) -> Any:
    deadline = parse_timeout_ms(raw_timeout, seconds=True, now_ms=now_ms())
    for key in keys:
        zs = _open(ctx, key)
        if zs is not None:
            return _pop_from(ctx, zs, key, highest, count, nested, True)
    return Block(keys, deadline, NULL_ARRAY, _serve(highest, count, nested))


_BZPOP_KEYS = (keys_at("RW access delete", last=-2),)
_BZPOP_HISTORY = (("6.0.0", "`timeout` is interpreted as a double instead of an integer."),)
_BZPOP_ARGS = (arg("key", "key", "multiple"), arg("timeout", "double"))


@command(
    "bzpopmin",
    -3,
    "write noscript blocking fast",
    group=_Z,
    since="5.0.0",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    summary="Removes and returns the member with the lowest score from one or more "
    "sorted sets. Blocks until a member is available otherwise. Deletes the "
    "sorted set if the last element was popped.",
    keys=_BZPOP_KEYS,
    history=_BZPOP_HISTORY,
    args=_BZPOP_ARGS,
)
def bzpopmin(ctx: Ctx, argv: list[bytes]) -> Any:
    """BZPOPMIN key [key ...] timeout -> [key, member, score], or nil after the timeout."""
    return _bzpop(ctx, argv[1:-1], argv[-1], False, -1, False)


@command(
    "bzpopmax",
    -3,
    "write noscript blocking fast",
    group=_Z,
    since="5.0.0",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    summary="Removes and returns the member with the highest score from one or more "
    "sorted sets. Blocks until a member available otherwise.  Deletes the "
    "sorted set if the last element was popped.",
    keys=_BZPOP_KEYS,
    history=_BZPOP_HISTORY,
    args=_BZPOP_ARGS,
)
def bzpopmax(ctx: Ctx, argv: list[bytes]) -> Any:
    """BZPOPMAX key [key ...] timeout -> [key, member, score], or nil after the timeout."""
    return _bzpop(ctx, argv[1:-1], argv[-1], True, -1, False)


@command(
    "bzmpop",
    -5,
    "write blocking",
    group=_Z,
    since="7.0.0",
    complexity=_ZMPOP_COMPLEXITY,
    summary="Removes and returns a member by score from one or more sorted sets. Blocks "
    "until a member is available otherwise. Deletes the sorted set if the last "
    "element was popped.",
    keys=(KeySpec(("RW", "access", "delete"), ("index", 2), ("keynum", 0, 1, 1)),),
    args=(arg("timeout", "double"), *_ZMPOP_ARGS),
)
def bzmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count] -> as ZMPOP, or nil after
    the timeout."""
    keys, highest, count = parse_mpop(argv, 2, (b"min", b"max"))
    return _bzpop(ctx, keys, argv[1], highest, count, True)


# -- algebra ---------------------------------------------------------------------------
_UNION, _INTER, _DIFF = "union", "inter", "diff"


class _Source:
    """One input of ZUNION/ZINTER/ZDIFF: a sorted set, a set (scores 1) or nothing."""

    __slots__ = ("ctx", "meta", "size", "weight")

    def __init__(self, ctx: Ctx, meta: Meta | None) -> None:
        self.ctx, self.meta, self.weight = ctx, meta, 1.0
        self.size = 0 if meta is None else count_of(meta)

    def items(self) -> Iterator[tuple[bytes, float]]:
        if self.meta is None:
            return iter(())
        if self.meta.type == TS.CODE:
            return ((m, 1.0) for m in TS.members(self.ctx.ks, self.meta))
        return zset_of(self.ctx, b"", self.meta).entries()

    def find(self, member: bytes) -> float | None:
        if self.meta is None:
            return None
        if self.meta.type == TS.CODE:
            return 1.0 if TS.has(self.ctx.ks, self.meta, member) else None
        return T.score_of(self.ctx.ks, self.meta, member)


def _aggregate(total: float, value: float, how: bytes) -> float:
    if how == b"sum":
        total += value
        return 0.0 if math.isnan(total) else total
    if how == b"min":
        return value if value < total else total
    return value if value > total else total


def _setop(
    ctx: Ctx, argv: list[bytes], at: int, op: str, dst: bytes | None, card_only: bool = False
) -> Any:
    """zunionInterDiffGenericCommand: numkeys at `at`, then keys and options."""
    setnum = parse_int(argv[at])
    if setnum < 1:
        raise errors.err("at least 1 input key is needed for '%s' command" % ctx.name)
    if setnum > len(argv) - (at + 1):
        raise RedisError(errors.SYNTAX)
    db = ctx.session.db
    sources = []
    for key in argv[at + 1 : at + 1 + setnum]:
        meta = ctx.lookup(key, db, read=True)
        if meta is not None and meta.type not in (T.CODE, TS.CODE):
            raise RedisError(errors.WRONGTYPE)
        sources.append(_Source(ctx, meta))
    how, withscores, limit = b"sum", False, 0
    j = at + 1 + setnum
    while j < len(argv):
        left = len(argv) - j
        opt = argv[j].lower()
        if op != _DIFF and not card_only and left >= setnum + 1 and opt == b"weights":
            for i, source in enumerate(sources):
                source.weight = parse_double(argv[j + 1 + i], "ERR weight value is not a float")
            j += setnum + 1
        elif op != _DIFF and not card_only and left >= 2 and opt == b"aggregate":
            how = argv[j + 1].lower()
            if how not in (b"sum", b"min", b"max"):
                raise RedisError(errors.SYNTAX)
            j += 2
        elif dst is None and not card_only and opt == b"withscores":
            withscores = True
            j += 1
        elif card_only and left >= 2 and opt == b"limit":
            limit = parse_int(argv[j + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise RedisError(errors.LIMIT_NEGATIVE)
            j += 2
        else:
            raise RedisError(errors.SYNTAX)
    result: dict[bytes, float] = {}
    if op == _INTER:
        sources.sort(key=lambda s: s.size)
        if sources[0].size:
            found = 0
            for member, score in sources[0].items():
                total = sources[0].weight * score
                if math.isnan(total):
                    total = 0.0
                for other in sources[1:]:
                    value = other.find(member)
                    if value is None:
                        break
                    total = _aggregate(total, value * other.weight, how)
                else:
                    if card_only:
                        found += 1
                        if limit and found >= limit:
                            break
                    else:
                        result[member] = total
            if card_only:
                return found
    elif op == _UNION:
        sources.sort(key=lambda s: s.size)
        for source in sources:
            for member, score in source.items():
                value = source.weight * score
                if math.isnan(value):
                    value = 0.0
                if member in result:
                    result[member] = _aggregate(result[member], value, how)
                else:
                    result[member] = value
    else:
        first = sources[0]
        for member, score in first.items():
            if not any(s.find(member) is not None for s in sources[1:] if s.size):
                result[member] = score
    if card_only:
        return 0
    pairs = sorted(result.items(), key=lambda p: (p[1], p[0]))
    if dst is not None:
        return _replace(ctx, dst, pairs, b"z%sstore" % op.encode())
    return _scored(ctx, pairs, withscores)


_ALGEBRA_KEYS = (KeySpec(("RO", "access"), ("index", 1), ("keynum", 0, 1, 1)),)
_STORE_KEYS = (keys_at("OW update"), KeySpec(("RO", "access"), ("index", 2), ("keynum", 0, 1, 1)))
_AGG_ARGS = (
    arg("weight", "integer", "optional", "multiple", token="WEIGHTS"),
    oneof(
        "aggregate", token("SUM"), token("MIN"), token("MAX"), flags=("optional",), tok="AGGREGATE"
    ),
)
_UNION_COMPLEXITY = (
    "O(N)+O(M*log(M)) with N being the sum of the sizes of the input "
    "sorted sets, and M being the number of elements in the resulting "
    "sorted set."
)
_INTER_COMPLEXITY = (
    "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted "
    "set, K being the number of input sorted sets and M being the number "
    "of elements in the resulting sorted set."
)
_DIFF_COMPLEXITY = (
    "O(L + (N-K)log(N)) worst case where L is the total number of elements "
    "in all the sets, N is the size of the first set, and K is the size of "
    "the result set."
)
_NUMKEYS = (arg("numkeys", "integer"), arg("key", "key", "multiple"))
_WITHSCORES = token("WITHSCORES", "optional")


@command(
    "zunion",
    -3,
    "readonly",
    group=_Z,
    since="6.2.0",
    complexity=_UNION_COMPLEXITY,
    summary="Returns the union of multiple sorted sets.",
    keys=_ALGEBRA_KEYS,
    args=(*_NUMKEYS, *_AGG_ARGS, _WITHSCORES),
)
def zunion(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]."""
    return _setop(ctx, argv, 1, _UNION, None)


@command(
    "zinter",
    -3,
    "readonly",
    group=_Z,
    since="6.2.0",
    complexity=_INTER_COMPLEXITY,
    summary="Returns the intersect of multiple sorted sets.",
    keys=_ALGEBRA_KEYS,
    args=(*_NUMKEYS, *_AGG_ARGS, _WITHSCORES),
)
def zinter(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]."""
    return _setop(ctx, argv, 1, _INTER, None)


@command(
    "zdiff",
    -3,
    "readonly",
    group=_Z,
    since="6.2.0",
    complexity=_DIFF_COMPLEXITY,
    summary="Returns the difference between multiple sorted sets.",
    keys=_ALGEBRA_KEYS,
    args=(*_NUMKEYS, _WITHSCORES),
)
def zdiff(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZDIFF numkeys key [key ...] [WITHSCORES]."""
    return _setop(ctx, argv, 1, _DIFF, None)


@command(
    "zunionstore",
    -4,
    "write denyoom",
    group=_Z,
    since="2.0.0",
    complexity="O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted "
    "sets, and M being the number of elements in the resulting sorted set.",
    summary="Stores the union of multiple sorted sets in a key.",
    keys=_STORE_KEYS,
    args=(arg("destination", "key"), *_NUMKEYS, *_AGG_ARGS),
)
def zunionstore(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]."""
    return _setop(ctx, argv, 2, _UNION, argv[1])


@command(
    "zinterstore",
    -4,
    "write denyoom",
    group=_Z,
    since="2.0.0",
    complexity=_INTER_COMPLEXITY,
    summary="Stores the intersect of multiple sorted sets in a key.",
    keys=_STORE_KEYS,
    args=(arg("destination", "key"), *_NUMKEYS, *_AGG_ARGS),
)
def zinterstore(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]."""
    return _setop(ctx, argv, 2, _INTER, argv[1])


@command(
    "zdiffstore",
    -4,
    "write denyoom",
    group=_Z,
    since="6.2.0",
    complexity=_DIFF_COMPLEXITY,
    summary="Stores the difference of multiple sorted sets in a key.",
    keys=_STORE_KEYS,
    args=(arg("destination", "key"), *_NUMKEYS),
)
def zdiffstore(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZDIFFSTORE destination numkeys key [key ...]."""
    return _setop(ctx, argv, 2, _DIFF, argv[1])


@command(
    "zintercard",
    -3,
    "readonly",
    group=_Z,
    since="7.0.0",
    complexity="O(N*K) worst case with N being the smallest input sorted set, K being "
    "the number of input sorted sets.",
    summary="Returns the number of members of the intersect of multiple sorted sets.",
    keys=_ALGEBRA_KEYS,
    args=(*_NUMKEYS, arg("limit", "integer", "optional", token="LIMIT")),
)
def zintercard(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZINTERCARD numkeys key [key ...] [LIMIT limit] -> the intersection's size."""
    return _setop(ctx, argv, 1, _INTER, None, card_only=True)


# -- random picks and scans ------------------------------------------------------------
@command(
    "zrandmember",
    -2,
    "readonly",
    group=_Z,
    since="6.2.0",
    complexity="O(N) where N is the number of elements returned",
    summary="Returns one or more random members from a sorted set.",
    keys=_KEY_RO,
    tips="nondeterministic_output",
    args=(
        _KEY_ARG,
        block(
            "options", arg("count", "integer"), token("WITHSCORES", "optional"), flags=("optional",)
        ),
    ),
)
def zrandmember(ctx: Ctx, argv: list[bytes]) -> Any:
    """ZRANDMEMBER key [count [WITHSCORES]] -> a member, or count members (negative: may
    repeat), with their scores if asked."""
    if len(argv) >= 3:
        n = parse_int(argv[2])
        if not -_LONG_MAX <= n <= _LONG_MAX:
            raise RedisError(errors.OUT_OF_RANGE_BETWEEN % (-_LONG_MAX, _LONG_MAX))
        if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withscores"):
            raise RedisError(errors.SYNTAX)
        withscores = len(argv) == 4
        if withscores and not -_LONG_MAX // 2 <= n <= _LONG_MAX // 2:
            raise RedisError(errors.VALUE_OUT_OF_RANGE)
        zs = _open(ctx, argv[1])
        if zs is None or n == 0:
            return []
        pairs = list(zs.entries())
        picked = (
            [random.choice(pairs) for _ in range(-n)]
            if n < 0
            else random.sample(pairs, min(n, len(pairs)))
        )
        return _scored(ctx, picked, withscores)
    zs = _open(ctx, argv[1])
    if zs is None:
        return None
    index = random.randrange(zs.count)
    reverse = index >= zs.count // 2
    steps = zs.count - 1 - index if reverse else index
    for i, (member, _) in enumerate(zs.entries(reverse=reverse)):
        if i == steps:
            return member
    return None


def _listpack_score(score: float) -> bytes:
    """A score as a listpack holds it (d2string): integers without a fraction."""
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if T.negzero(score) else b"0"
    if -(_LONG_MAX // 2) <= score <= _LONG_MAX // 2 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


def _dict_score(score: float) -> bytes:
    """A score as ZSCAN formats a skiplist's (ld2string, %.17Lg)."""
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


@command(
    "zscan",
    -3,
    "readonly",
    group=_Z,
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough "
    "command calls for the cursor to return back to 0. N is the number of "
    "elements inside the collection..",
    summary="Iterates over members and scores of a sorted set.",
    keys=_KEY_RO,
    tips="nondeterministic_output",
    args=(
        _KEY_ARG,
        arg("cursor", "integer"),
        arg("pattern", "pattern", "optional", token="MATCH"),
        arg("count", "integer", "optional", token="COUNT"),
    ),
)
def zscan(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """ZSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor, members and scores].
    A set Redis would keep as a listpack comes back whole, in score order."""
    cursor = parse_cursor(argv[2])
    zs = _open(ctx, argv[1])
    if zs is None:
        return [b"0", []]
    count, pattern, _ = scan_options(argv, 3, with_type=False)
    if not zs.big:
        nxt = 0
        page = [(m, _listpack_score(s)) for m, s in zs.entries()]
    else:
        nxt, raw = T.page(ctx.ks, zs.meta, cursor, count)
        page = [(m, _dict_score(v)) for m, v in raw]
    out = [x for m, s in page if pattern is None or glob_match(pattern, m) for x in (m, s)]
    return [b"%d" % nxt, out]
