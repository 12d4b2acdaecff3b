"""Hash commands (Redis group "hash"): every field its own record.

Room: what each hash command means, over `keyspace.types.hashes` (the records).
Imports: `util`, `commands` helpers, `keyspace`, `errors`. Replies and errors are
Redis 7.0's (t_hash.c). Fields come back in the order of their bytes (Redis: insertion
order for small hashes, hash order for big ones; neither is promised to clients)."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.generic import lookup_typed, parse_cursor, scan_options
from diskredis.commands.longdouble import format_human, parse_long_double
from diskredis.commands.registry import arg, block, command, keys_at, token
from diskredis.errors import RedisError
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_HASH
from diskredis.keyspace.types import Meta, count_of
from diskredis.keyspace.types import hashes as T
from diskredis.util import LLONG_MAX, LLONG_MIN, glob_match

_H = "hash"


def _get_hash(ctx: Ctx, key: bytes) -> Meta | None:
    return lookup_typed(ctx, key, T.CODE)


def _hash_for_write(ctx: Ctx, key: bytes) -> T.Hash:
    """The hash at `key`, or a new empty one (stored by `_save`)."""
    return T.Hash(ctx.ks, key, _get_hash(ctx, key))


def _save(ctx: Ctx, h: T.Hash, event: bytes) -> None:
    """Store the hash and announce `event`; an emptied hash is deleted (and a "del"
    event follows)."""
    kept = h.save(ctx.session.db)
    ctx.notify(NOTIFY_HASH, event, h.key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", h.key)


_KEY_RW_UPDATE = (keys_at("RW update"),)
_KEY_RW_INCR = (keys_at("RW access update"),)
_KEY_RO = (keys_at("RO access"),)
_FIELDS = arg("data", "block", "multiple")


def _hset(ctx: Ctx, argv: list[bytes]) -> int:
    if len(argv) % 2:
        raise errors.wrong_arity(ctx.name)
    h = _hash_for_write(ctx, argv[1])
    added = sum(1 for i in range(2, len(argv), 2) if h.put(argv[i], argv[i + 1]))
    _save(ctx, h, b"hset")
    return added


@command(
    "hset",
    -4,
    "write denyoom fast",
    group=_H,
    since="2.0.0",
    complexity="O(1) for each field/value pair added, so O(N) to add N field/value "
    "pairs when the command is called with multiple field/value pairs.",
    summary="Creates or modifies the value of a field in a hash.",
    keys=_KEY_RW_UPDATE,
    history=(("4.0.0", "Accepts multiple `field` and `value` arguments."),),
    args=(arg("key", "key"), _FIELDS),
)
def hset(ctx: Ctx, argv: list[bytes]) -> int:
    """HSET key field value [field value ...] -> how many fields were added."""
    return _hset(ctx, argv)


@command(
    "hmset",
    -4,
    "write denyoom fast",
    group=_H,
    since="2.0.0",
    complexity="O(N) where N is the number of fields being set.",
    summary="Sets the values of multiple fields.",
    keys=_KEY_RW_UPDATE,
    deprecated_since="4.0.0",
    replaced_by="`HSET` with multiple field-value pairs",
    doc_flags="deprecated",
    args=(arg("key", "key"), _FIELDS),
)
def hmset(ctx: Ctx, argv: list[bytes]) -> str:
    """HMSET key field value [field value ...] -> OK."""
    _hset(ctx, argv)
    return "OK"


@command(
    "hsetnx",
    4,
    "write denyoom fast",
    group=_H,
    since="2.0.0",
    complexity="O(1)",
    summary="Sets the value of a field in a hash only when the field doesn't exist.",
    keys=(keys_at("RW insert"),),
    args=(arg("key", "key"), arg("field"), arg("value")),
)
def hsetnx(ctx: Ctx, argv: list[bytes]) -> int:
    """HSETNX key field value -> 1 if set, 0 if the field exists."""
    h = _hash_for_write(ctx, argv[1])
    if h.get(argv[2]) is not None:
        return 0
    h.put(argv[2], argv[3])
    _save(ctx, h, b"hset")
    return 1


@command(
    "hget",
    3,
    "readonly fast",
    group=_H,
    since="2.0.0",
    complexity="O(1)",
    summary="Returns the value of a field in a hash.",
    keys=_KEY_RO,
    args=(arg("key", "key"), arg("field")),
)
def hget(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """HGET key field -> value, or nil."""
    meta = _get_hash(ctx, argv[1])
    return None if meta is None else T.get(ctx.ks, meta, argv[2])


@command(
    "hmget",
    -3,
    "readonly fast",
    group=_H,
    since="2.0.0",
    complexity="O(N) where N is the number of fields being requested.",
    summary="Returns the values of all fields in a hash.",
    keys=_KEY_RO,
    args=(arg("key", "key"), arg("field", "string", "multiple")),
)
def hmget(ctx: Ctx, argv: list[bytes]) -> list[bytes | None]:
    """HMGET key field [field ...] -> values, nil for missing fields."""
    meta = _get_hash(ctx, argv[1])
    if meta is None:
        return [None] * (len(argv) - 2)
    return [T.get(ctx.ks, meta, f) for f in argv[2:]]


@command(
    "hdel",
    -3,
    "write fast",
    group=_H,
    since="2.0.0",
    complexity="O(N) where N is the number of fields to be removed.",
    summary="Deletes one or more fields and their values from a hash. Deletes the hash "
    "if no fields remain.",
    keys=(keys_at("RW delete"),),
    history=(("2.4.0", "Accepts multiple `field` arguments."),),
    args=(arg("key", "key"), arg("field", "string", "multiple")),
)
def hdel(ctx: Ctx, argv: list[bytes]) -> int:
    """HDEL key field [field ...] -> how many were removed."""
    meta = _get_hash(ctx, argv[1])
    if meta is None:
        return 0
    h = T.Hash(ctx.ks, argv[1], meta)
    removed = sum(1 for f in argv[2:] if h.delete(f))
    if removed:
        _save(ctx, h, b"hdel")
    return removed


@command(
    "hlen",
    2,
    "readonly fast",
    group=_H,
    since="2.0.0",
    complexity="O(1)",
    summary="Returns the number of fields in a hash.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"),),
)
def hlen(ctx: Ctx, argv: list[bytes]) -> int:
    """HLEN key -> the number of fields."""
    return count_of(_get_hash(ctx, argv[1]))


@command(
    "hstrlen",
    3,
    "readonly fast",
    group=_H,
    since="3.2.0",
    complexity="O(1)",
    summary="Returns the length of the value of a field.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"), arg("field")),
)
def hstrlen(ctx: Ctx, argv: list[bytes]) -> int:
    """HSTRLEN key field -> the value's length, 0 if missing."""
    value = hget(ctx, argv)
    return 0 if value is None else len(value)


@command(
    "hexists",
    3,
    "readonly fast",
    group=_H,
    since="2.0.0",
    complexity="O(1)",
    summary="Determines whether a field exists in a hash.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"), arg("field")),
)
def hexists(ctx: Ctx, argv: list[bytes]) -> int:
    """HEXISTS key field -> 1 or 0."""
    return 0 if hget(ctx, argv) is None else 1


def _all(ctx: Ctx, key: bytes) -> list[tuple[bytes, bytes]]:
    meta = _get_hash(ctx, key)
    if meta is None:
        return []
    return list(T.pairs(ctx.ks, meta))


_ALL_DOC = "O(N) where N is the size of the hash."


@command(
    "hgetall",
    2,
    "readonly",
    group=_H,
    since="2.0.0",
    complexity=_ALL_DOC,
    summary="Returns all fields and values in a hash.",
    keys=_KEY_RO,
    tips="nondeterministic_output_order",
    args=(arg("key", "key"),),
)
def hgetall(ctx: Ctx, argv: list[bytes]) -> dict[bytes, bytes]:
    """HGETALL key -> field/value pairs (a map in RESP3)."""
    return dict(_all(ctx, argv[1]))


@command(
    "hkeys",
    2,
    "readonly",
    group=_H,
    since="2.0.0",
    complexity=_ALL_DOC,
    summary="Returns all fields in a hash.",
    keys=_KEY_RO,
    tips="nondeterministic_output_order",
    args=(arg("key", "key"),),
)
def hkeys(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """HKEYS key -> the fields."""
    return [f for f, _ in _all(ctx, argv[1])]


@command(
    "hvals",
    2,
    "readonly",
    group=_H,
    since="2.0.0",
    complexity=_ALL_DOC,
    summary="Returns all values in a hash.",
    keys=_KEY_RO,
    tips="nondeterministic_output_order",
    args=(arg("key", "key"),),
)
def hvals(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """HVALS key -> the values."""
    return [v for _, v in _all(ctx, argv[1])]


@command(
    "hincrby",
    4,
    "write denyoom fast",
    group=_H,
    since="2.0.0",
    complexity="O(1)",
    summary="Increments the integer value of a field in a hash by a number. Uses 0 as "
    "initial value if the field doesn't exist.",
    keys=_KEY_RW_INCR,
    args=(arg("key", "key"), arg("field"), arg("increment", "integer")),
)
def hincrby(ctx: Ctx, argv: list[bytes]) -> int:
    """HINCRBY key field increment -> the new value."""
    by = parse_int(argv[3])
    h = _hash_for_write(ctx, argv[1])
    old = h.get(argv[2])
    current = 0 if old is None else parse_int(old, "ERR hash value is not an integer")
    value = current + by
    if not LLONG_MIN <= value <= LLONG_MAX:
        raise RedisError(errors.INCR_OVERFLOW)
    h.put(argv[2], b"%d" % value)
    _save(ctx, h, b"hincrby")
    return value


@command(
    "hincrbyfloat",
    4,
    "write denyoom fast",
    group=_H,
    since="2.6.0",
    complexity="O(1)",
    summary="Increments the floating point value of a field by a number. Uses 0 as "
    "initial value if the field doesn't exist.",
    keys=_KEY_RW_INCR,
    args=(arg("key", "key"), arg("field"), arg("increment", "double")),
)
def hincrbyfloat(ctx: Ctx, argv: list[bytes]) -> bytes:
    """HINCRBYFLOAT key field increment -> the new value, formatted as Redis does."""
    by = parse_long_double(argv[3])
    if by is None:
        raise RedisError(errors.NOT_FLOAT)
    if not isinstance(by, Fraction):
        raise errors.err("value is NaN or Infinity")
    h = _hash_for_write(ctx, argv[1])
    old = h.get(argv[2])
    current: Fraction | str | None = Fraction(0) if old is None else parse_long_double(old)
    if current is None:
        raise errors.err("hash value is not a float")
    text = format_human(current + by) if isinstance(current, Fraction) else None
    if text is None:
        raise RedisError(errors.INCR_NAN)
    h.put(argv[2], text)
    _save(ctx, h, b"hincrbyfloat")
    ctx.propagate_as(b"HSET", argv[1], argv[2], text)
    return text


@command(
    "hrandfield",
    -2,
    "readonly",
    group=_H,
    since="6.2.0",
    complexity="O(N) where N is the number of fields returned",
    summary="Returns one or more random fields from a hash.",
    keys=_KEY_RO,
    tips="nondeterministic_output",
    args=(
        arg("key", "key"),
        block(
            "options", arg("count", "integer"), token("WITHVALUES", "optional"), flags=("optional",)
        ),
    ),
)
def hrandfield(ctx: Ctx, argv: list[bytes]) -> Any:
    """HRANDFIELD key [count [WITHVALUES]] -> a field, or count fields (negative: may
    repeat), with their values if asked."""
    if len(argv) >= 3:
        n = parse_int(argv[2])
        if not -LLONG_MAX <= n <= LLONG_MAX:
            raise RedisError(errors.OUT_OF_RANGE_BETWEEN % (-LLONG_MAX, LLONG_MAX))
        with_values = False
        if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
            raise RedisError(errors.SYNTAX)
        if len(argv) == 4:
            with_values = True
            if n < -LLONG_MAX // 2 or n > LLONG_MAX // 2:
                raise RedisError(errors.VALUE_OUT_OF_RANGE)
        return _random_fields(ctx, argv[1], n, with_values)
    meta = _get_hash(ctx, argv[1])
    if meta is None:
        return None
    return T.random_field(ctx.ks, meta)


def _random_fields(ctx: Ctx, key: bytes, n: int, with_values: bool) -> Any:
    meta = _get_hash(ctx, key)
    if meta is None or n == 0:
        return []
    pairs = list(T.pairs(ctx.ks, meta))
    if n < 0:
        picked = [random.choice(pairs) for _ in range(-n)]
    else:
        picked = random.sample(pairs, min(n, len(pairs)))
    if not with_values:
        return [f for f, _ in picked]
    if ctx.session.resp >= 3:
        return [[f, v] for f, v in picked]
    return [x for pair in picked for x in pair]


@command(
    "hscan",
    -3,
    "readonly",
    group=_H,
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough "
    "command calls for the cursor to return back to 0. N is the number of "
    "elements inside the collection..",
    summary="Iterates over fields and values of a hash.",
    keys=_KEY_RO,
    tips="nondeterministic_output",
    args=(
        arg("key", "key"),
        arg("cursor", "integer"),
        arg("pattern", "pattern", "optional", token="MATCH"),
        arg("count", "integer", "optional", token="COUNT"),
    ),
)
def hscan(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """HSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor, fields and values].
    A hash no bigger than hash-max-listpack-entries comes back whole, as Redis does."""
    cursor = parse_cursor(argv[2])
    meta = _get_hash(ctx, argv[1])
    if meta is None:
        return [b"0", []]
    count, pattern, _ = scan_options(argv, 3, with_type=False)
    if count_of(meta) <= ctx.config["hash-max-listpack-entries"]:
        nxt, page = 0, list(T.pairs(ctx.ks, meta))
    else:
        nxt, page = T.page(ctx.ks, meta, cursor, count)
    out = [x for f, v in page if pattern is None or glob_match(pattern, f) for x in (f, v)]
    return [b"%d" % nxt, out]
