"""Hash commands (Redis group "hash"): every field its own record.

Room: what each hash command means, over `keyspace.types.hashes` (the records).
Imports: `util`, `commands` helpers, `keyspace`, `errors`. Replies and errors are
Redis 7.0's (t_hash.c); field expiry (HEXPIRE and the rest, HGETDEL, HGETEX, HSETEX)
is Redis 8.0's. Fields come back in the order of their bytes (Redis: insertion order
for small hashes, deadline order for small ones with field deadlines, hash order for
big ones; none is promised to clients).

A field past its deadline reads as missing. As in Redis, a command that looks a field
up (HGET, HMGET, HEXISTS, HSTRLEN, HINCRBY*, HSETNX, HRANDFIELD, HGETDEL, HGETEX,
HSETEX's FNX/FXX) deletes it then ("lazy expiry": an HDEL to replicas, a "hexpired"
event); HLEN counts such fields until they go, HSET overwrites them as present, and
HGETALL, HSCAN, HTTL and HPERSIST pass them over. A replica deletes none itself."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.generic import lookup_typed, parse_cursor, scan_options
from diskredis.commands.longdouble import format_human, parse_long_double
from diskredis.commands.registry import arg, block, command, keys_at, oneof, token
from diskredis.errors import RedisError
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_HASH, NOTIFY_NEW
from diskredis.keyspace.types import Meta, count_of
from diskredis.keyspace.types import hashes as T
from diskredis.util import FIELD_DEADLINE_MAX, LLONG_MAX, LLONG_MIN, glob_match, string2ll

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


# -- lazy expiry of fields (hashTypeGetValue) --------------------------------------------
def _may_delete(ctx: Ctx) -> bool:
    """This server deletes fields past their deadline (a primary, writing, not paused;
    a replica leaves it to its primary's HDELs)."""
    ks = ctx.ks
    return not ks.following and ks.read_only_reason is None and not ks.expire_paused


def _look(ctx: Ctx, h: T.Hash, field: bytes, now: int) -> tuple[bytes | None, bool]:
    """(value, expired): the field's value, or None when it is missing or past its
    deadline. A field past its deadline is deleted when this server may (an HDEL to
    replicas, counted in expired_subkeys): `expired` says it was; on a replica (or
    paused) it just reads as missing. The primary's own commands on a replica see it
    as live."""
    value = h.get(field)
    if value is None or ctx.ks.obeying or not h.expired(field, now):
        return value, False
    if not _may_delete(ctx):
        return None, False
    h.delete(field)
    ctx.ks.fields_expired(ctx.session.db, h.key, [field])
    return None, True


def _after_lazy(ctx: Ctx, h: T.Hash, expired: int, event: bool = True) -> bool:
    """Store what lazy expiry removed (no change of the command's own: the HDELs
    carry it): "hexpired" (unless `event` is False) and "del" for an emptied hash.
    True if the hash is gone."""
    if not expired or not _may_delete(ctx):
        return False
    ks = ctx.ks
    changes = ks.changes
    kept = h.save(ctx.session.db)
    ks.changes = changes
    if event:
        ctx.notify(NOTIFY_HASH, b"hexpired", h.key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", h.key)
    return not kept


def _read_one(ctx: Ctx, key: bytes, field: bytes) -> bytes | None:
    """HGET's lookup of one field (lazy expiry included)."""
    meta = _get_hash(ctx, key)
    if meta is None:
        return None
    if not T.may_have_expired(ctx.ks, meta):
        return T.get(ctx.ks, meta, field)
    h = T.Hash(ctx.ks, key, meta)
    value, expired = _look(ctx, h, field, ctx.ks.clock())
    _after_lazy(ctx, h, expired)
    return value


def _lazy_write(ctx: Ctx, key: bytes, field: bytes) -> tuple[T.Hash, bytes | None]:
    """The hash for a write of one field, and its value (None: missing or expired).
    A field past its deadline is deleted first ("hexpired"); a hash it emptied is
    deleted ("del") and the write makes a new one, as in Redis."""
    h = _hash_for_write(ctx, key)
    value, expired = _look(ctx, h, field, ctx.ks.clock())
    if _after_lazy(ctx, h, expired):
        h = T.Hash(ctx.ks, key, None)
    return h, value


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
    h, value = _lazy_write(ctx, argv[1], argv[2])
    if value is not None:
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
    return _read_one(ctx, argv[1], argv[2])


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
    if not T.may_have_expired(ctx.ks, meta):
        return [T.get(ctx.ks, meta, f) for f in argv[2:]]
    h, now = T.Hash(ctx.ks, argv[1], meta), ctx.ks.clock()
    out: list[bytes | None] = []
    counted = 0  # Redis counts no field whose deletion emptied the hash
    for f in argv[2:]:
        if h.count <= 0:
            out.append(None)
            continue
        value, expired = _look(ctx, h, f, now)
        counted += expired and h.count > 0
        out.append(value)
    if _may_delete(ctx) and h.count != count_of(meta):
        changes = ctx.ks.changes
        kept = h.save(ctx.session.db)
        ctx.ks.changes = changes
        if counted:
            ctx.notify(NOTIFY_HASH, b"hexpired", h.key)
            if not kept:
                ctx.notify(NOTIFY_GENERIC, b"del", h.key)
    return out


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
    value = _read_one(ctx, argv[1], argv[2])
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
    return 0 if _read_one(ctx, argv[1], argv[2]) is None else 1


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
    h, old = _lazy_write(ctx, argv[1], argv[2])
    current = 0 if old is None else parse_int(old, "ERR hash value is not an integer")
    value = current + by
    if not LLONG_MIN <= value <= LLONG_MAX:
        raise RedisError(errors.INCR_OVERFLOW)
    h.write(argv[2], b"%d" % value)  # a live field keeps its deadline
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
    h, old = _lazy_write(ctx, argv[1], argv[2])
    current: Fraction | str | None = Fraction(0) if old is None else parse_long_double(old)
    if current is None:
        raise errors.err("hash value is not a float")
    text = format_human(current + by) if isinstance(current, Fraction) else None
    if text is None:
        raise RedisError(errors.INCR_NAN)
    h.write(argv[2], text)  # a live field keeps its deadline (replicated as HSET: 8.0.2)
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
    meta = _purged(ctx, argv[1])
    if meta is None:
        return None
    return T.random_field(ctx.ks, meta)


def _purged(ctx: Ctx, key: bytes) -> Meta | None:
    """The hash at `key` after its fields past their deadline are deleted (HRANDFIELD
    first expires them all, as Redis does); None if none is left."""
    meta = _get_hash(ctx, key)
    if meta is None or not T.may_have_expired(ctx.ks, meta) or not _may_delete(ctx):
        return meta
    h = T.Hash(ctx.ks, key, meta)
    fields = h.due(ctx.ks.clock())
    for f in fields:
        h.delete(f)
    ctx.ks.fields_expired(ctx.session.db, key, fields)
    if _after_lazy(ctx, h, len(fields)):
        return None
    return ctx.ks.record(ctx.session.db, key)


def _random_fields(ctx: Ctx, key: bytes, n: int, with_values: bool) -> Any:
    meta = _purged(ctx, key)
    if meta is None or n == 0:
        return []
    pairs = list(T.pairs(ctx.ks, meta))
    if not pairs:  # every field past its deadline, on a server that may not delete
        return []
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


# -- field expiry (Redis 7.4 / 8.0) -----------------------------------------------------
HFE_MAX_MS = FIELD_DEADLINE_MAX
_NUMFIELDS_GT0 = "ERR Parameter `numFields` should be greater than 0"
_NUMFIELDS_POSITIVE = "ERR Number of fields must be a positive integer"
_CONDITIONS = (b"nx", b"xx", b"gt", b"lt")
_TIME_OPTIONS = {b"ex": (True, True), b"px": (False, True), b"exat": (True, False)}
_TIME_OPTIONS[b"pxat"] = (False, False)  # token -> (in seconds, relative)


def _expire_time(ctx: Ctx, raw: bytes, seconds: bool, base: int) -> int:
    """parseExpireTime: an absolute deadline (ms) from an argument in seconds or ms,
    relative to `base` (0: absolute)."""
    value = parse_int(raw)
    if value < 0:
        raise errors.err("invalid expire time, must be >= 0")
    if seconds:
        if value > HFE_MAX_MS // 1000:
            raise RedisError(errors.INVALID_EXPIRE % ctx.name)
        value *= 1000
    if value > HFE_MAX_MS - base:
        raise RedisError(errors.INVALID_EXPIRE % ctx.name)
    return value + base


def _field_list(argv: list[bytes], at: int, numfields_error: str) -> list[bytes]:
    """The fields of `FIELDS numfields field...`, numfields at argument `at`."""
    if argv[at - 1].lower() != b"fields":
        raise errors.err("Mandatory argument FIELDS is missing or not at the right position")
    n = string2ll(argv[at])
    if n is None or n < 1:
        raise RedisError(numfields_error)
    if n != len(argv) - at - 1:
        raise errors.err("The `numfields` parameter must match the number of arguments")
    return argv[at + 1 :]


def _already_past(ctx: Ctx, when: int, now: int) -> bool:
    """checkAlreadyExpired: a deadline not after now deletes the field at once -- not
    on a replica, which takes its primary's deadlines as they come."""
    return when <= now and not ctx.ks.following


def _delete_now(ctx: Ctx, h: T.Hash, field: bytes) -> None:
    """A field given a deadline already past: gone, an HDEL to replicas, counted."""
    h.delete(field)
    ctx.ks.fields_expired(ctx.session.db, h.key, [field])


def _keep_extended(ctx: Ctx, h: T.Hash, widened: bool) -> None:
    """The hash now takes field deadlines but no field changed: its head is stored
    without counting as a change (nothing is replicated, as in Redis)."""
    if widened:
        h.save(ctx.session.db, quiet=True)


def _hexpire(ctx: Ctx, argv: list[bytes], seconds: bool, relative: bool) -> list[int]:
    key = argv[1]
    meta = lookup_typed(ctx, key, T.CODE, read=False)
    now = ctx.ks.clock()
    when = _expire_time(ctx, argv[2], seconds, now if relative else 0)
    cond = argv[3].lower() if argv[3].lower() in _CONDITIONS else None
    at = 5 if cond else 4
    fields = _field_list(argv, at, _NUMFIELDS_GT0)
    if meta is None:
        return [-2] * len(fields)
    h = T.Hash(ctx.ks, key, meta)
    widened = h.extend()
    replies: list[int] = []
    for f in fields:
        if h.get(f) is None:
            replies.append(-2)
            continue
        old = h.deadline(f)  # a field past its deadline is present here, with it
        if (not old and cond in (b"xx", b"gt")) or (
            old
            and (
                cond == b"nx" or (cond == b"gt" and old >= when) or (cond == b"lt" and old <= when)
            )
        ):
            replies.append(0)
        elif _already_past(ctx, when, now):
            _delete_now(ctx, h, f)
            replies.append(2)
        else:
            h.expire_at(f, when)
            replies.append(1)
    set_, deleted = replies.count(1), replies.count(2)
    if not set_ and not deleted:
        _keep_extended(ctx, h, widened)
        return replies
    kept = h.save(ctx.session.db)
    ctx.notify(NOTIFY_HASH, b"hdel" if deleted else b"hexpire", key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", key)
    if not set_:  # only the HDELs go to replicas
        ctx.ks.repl.prevent()
        return replies
    kept_fields = [f for f, r in zip(fields, replies, strict=True) if r == 1]
    exact = ctx.name == "hpexpireat"
    ctx.propagate_as(
        argv[0] if exact else b"HPEXPIREAT",
        key,
        argv[2] if exact else b"%d" % when,
        *argv[3:at],
        argv[at] if len(kept_fields) == len(fields) else b"%d" % len(kept_fields),
        *kept_fields,
    )
    return replies


_KEY_RW_UPDATE_ONLY = (keys_at("RW update"),)
_FIELDS_BLOCK = block(
    "fields", arg("numfields", "integer"), arg("field", "string", "multiple"), tok="FIELDS"
)
_CONDITION = oneof(
    "condition", token("NX"), token("XX"), token("GT"), token("LT"), flags=("optional",)
)
_N_FIELDS = "O(N) where N is the number of specified fields"


@command(
    "hexpire",
    -6,
    "write fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Sets the time to live of hash fields, in seconds.",
    keys=_KEY_RW_UPDATE_ONLY,
    args=(arg("key", "key"), arg("seconds", "integer"), _CONDITION, _FIELDS_BLOCK),
)
def hexpire(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HEXPIRE key seconds [NX|XX|GT|LT] FIELDS numfields field... -> per field: -2
    missing, 0 condition not met, 1 set, 2 deleted (a deadline already past)."""
    return _hexpire(ctx, argv, True, True)


@command(
    "hpexpire",
    -6,
    "write fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Sets the time to live of hash fields, in milliseconds.",
    keys=_KEY_RW_UPDATE_ONLY,
    args=(arg("key", "key"), arg("milliseconds", "integer"), _CONDITION, _FIELDS_BLOCK),
)
def hpexpire(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HPEXPIRE key milliseconds [NX|XX|GT|LT] FIELDS numfields field... -> as HEXPIRE."""
    return _hexpire(ctx, argv, False, True)


@command(
    "hexpireat",
    -6,
    "write fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Sets the deadline of hash fields, as a Unix time in seconds.",
    keys=_KEY_RW_UPDATE_ONLY,
    args=(
        arg("key", "key"),
        arg("unix-time-seconds", "unix-time"),
        _CONDITION,
        _FIELDS_BLOCK,
    ),
)
def hexpireat(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HEXPIREAT key unix-time-seconds [NX|XX|GT|LT] FIELDS numfields field... -> as
    HEXPIRE."""
    return _hexpire(ctx, argv, True, False)


@command(
    "hpexpireat",
    -6,
    "write fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Sets the deadline of hash fields, as a Unix time in milliseconds.",
    keys=_KEY_RW_UPDATE_ONLY,
    args=(
        arg("key", "key"),
        arg("unix-time-milliseconds", "unix-time"),
        _CONDITION,
        _FIELDS_BLOCK,
    ),
)
def hpexpireat(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HPEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT] FIELDS numfields field...
    -> as HEXPIRE."""
    return _hexpire(ctx, argv, False, False)


def _httl(ctx: Ctx, argv: list[bytes], shape: Any) -> list[int]:
    """The HTTL family: per field -2 (missing or past its deadline), -1 (no deadline),
    else `shape(deadline, now)`."""
    meta = _get_hash(ctx, argv[1])
    fields = _field_list(argv, 3, _NUMFIELDS_POSITIVE)
    if meta is None:
        return [-2] * len(fields)
    now = ctx.ks.clock()
    out = []
    for f in fields:
        when = T.deadline(ctx.ks, meta, f)
        if when is None or (when and when <= now and not ctx.ks.obeying):
            out.append(-2)
        else:
            out.append(shape(when, now) if when else -1)
    return out


_KEY_RO_ACCESS = (keys_at("RO access"),)


@command(
    "httl",
    -5,
    "readonly fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Returns the time to live of hash fields, in seconds.",
    keys=_KEY_RO_ACCESS,
    tips="nondeterministic_output",
    args=(arg("key", "key"), _FIELDS_BLOCK),
)
def httl(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HTTL key FIELDS numfields field... -> seconds left (rounded up), -1, -2."""
    return _httl(ctx, argv, lambda when, now: (when + 999 - now) // 1000)


@command(
    "hpttl",
    -5,
    "readonly fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Returns the time to live of hash fields, in milliseconds.",
    keys=_KEY_RO_ACCESS,
    tips="nondeterministic_output",
    args=(arg("key", "key"), _FIELDS_BLOCK),
)
def hpttl(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HPTTL key FIELDS numfields field... -> milliseconds left, -1, -2."""
    return _httl(ctx, argv, lambda when, now: when - now)


@command(
    "hexpiretime",
    -5,
    "readonly fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Returns the deadlines of hash fields, as Unix times in seconds.",
    keys=_KEY_RO_ACCESS,
    args=(arg("key", "key"), _FIELDS_BLOCK),
)
def hexpiretime(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HEXPIRETIME key FIELDS numfields field... -> Unix seconds (rounded up), -1, -2."""
    return _httl(ctx, argv, lambda when, now: (when + 999) // 1000)


@command(
    "hpexpiretime",
    -5,
    "readonly fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Returns the deadlines of hash fields, as Unix times in milliseconds.",
    keys=_KEY_RO_ACCESS,
    args=(arg("key", "key"), _FIELDS_BLOCK),
)
def hpexpiretime(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HPEXPIRETIME key FIELDS numfields field... -> Unix milliseconds, -1, -2."""
    return _httl(ctx, argv, lambda when, now: when)


@command(
    "hpersist",
    -5,
    "write fast",
    group=_H,
    since="7.4.0",
    complexity=_N_FIELDS,
    summary="Removes the time to live of hash fields.",
    keys=_KEY_RW_UPDATE_ONLY,
    args=(arg("key", "key"), _FIELDS_BLOCK),
)
def hpersist(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """HPERSIST key FIELDS numfields field... -> per field 1 (deadline removed), -1 (it
    had none), -2 (missing, or past its deadline)."""
    meta = lookup_typed(ctx, argv[1], T.CODE, read=False)
    fields = _field_list(argv, 3, _NUMFIELDS_POSITIVE)
    if meta is None:
        return [-2] * len(fields)
    h, now = T.Hash(ctx.ks, argv[1], meta), ctx.ks.clock()
    out = []
    for f in fields:
        if h.get(f) is None or (h.expired(f, now) and not ctx.ks.obeying):
            out.append(-2)
        else:
            out.append(1 if h.persist(f) else -1)
    if 1 in out:
        h.save(ctx.session.db)
        ctx.notify(NOTIFY_HASH, b"hpersist", argv[1])
    return out


@command(
    "hgetdel",
    -5,
    "write fast",
    group=_H,
    since="8.0.0",
    complexity=_N_FIELDS,
    summary="Returns the values of hash fields and deletes them.",
    keys=(keys_at("RW access delete"),),
    args=(arg("key", "key"), _FIELDS_BLOCK),
)
def hgetdel(ctx: Ctx, argv: list[bytes]) -> list[bytes | None]:
    """HGETDEL key FIELDS numfields field... -> the values (nil: missing), the fields
    deleted; the hash too once empty."""
    key = argv[1]
    meta = lookup_typed(ctx, key, T.CODE, read=False)
    fields = _field_list(argv, 3, _NUMFIELDS_POSITIVE)
    if meta is None:
        return [None] * len(fields)
    h, now = T.Hash(ctx.ks, key, meta), ctx.ks.clock()
    out: list[bytes | None] = []
    expired = deleted = 0
    for f in fields:
        value, gone = _look(ctx, h, f, now)
        expired += gone
        if value is not None:
            h.delete(f)
            deleted += 1
        out.append(value)
    if not deleted:
        if expired:
            _after_lazy(ctx, h, expired)
        return out
    kept = h.save(ctx.session.db)
    if expired:
        ctx.notify(NOTIFY_HASH, b"hexpired", key)
    ctx.notify(NOTIFY_HASH, b"hdel", key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", key)
    ctx.propagate_as(b"HDEL", key, *fields)
    return out


_EXPIRATION = (
    arg("seconds", "integer", token="EX"),
    arg("milliseconds", "integer", token="PX"),
    arg("unix-time-seconds", "unix-time", token="EXAT"),
    arg("unix-time-milliseconds", "unix-time", token="PXAT"),
)


@command(
    "hgetex",
    -5,
    "write fast",
    group=_H,
    since="8.0.0",
    complexity=_N_FIELDS,
    summary="Returns the values of hash fields and optionally sets or removes their time to live.",
    keys=(keys_at("RW access update", notes="RW and UPDATE because it changes the TTL"),),
    args=(
        arg("key", "key"),
        oneof("expiration", *_EXPIRATION, token("PERSIST"), flags=("optional",)),
        _FIELDS_BLOCK,
    ),
)
def hgetex(ctx: Ctx, argv: list[bytes]) -> list[bytes | None]:
    """HGETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST] FIELDS numfields field... -> the
    values (nil: missing); the fields read get the deadline asked (or lose theirs)."""
    key = argv[1]
    meta = lookup_typed(ctx, key, T.CODE, read=False)
    now = ctx.ks.clock()
    option = argv[2].lower()
    when = 0
    if option in _TIME_OPTIONS:
        seconds, relative = _TIME_OPTIONS[option]
        when = _expire_time(ctx, argv[3], seconds, now if relative else 0)
        at = 5
    elif option == b"persist":
        at = 4
    else:
        option, at = b"", 3
    if len(argv) <= at:
        raise errors.wrong_arity(ctx.name)
    fields = _field_list(argv, at, _NUMFIELDS_POSITIVE)
    if meta is None:
        return [None] * len(fields)
    h = T.Hash(ctx.ks, key, meta)
    widened = h.extend() if option else False
    out: list[bytes | None] = []
    expired = deleted = updated = 0
    for f in fields:
        value, gone = _look(ctx, h, f, now)
        expired += gone
        out.append(value)
        if value is None or not option:
            continue
        if option == b"persist":
            updated += h.persist(f)
        elif _already_past(ctx, when, now):
            _delete_now(ctx, h, f)
            deleted += 1
        else:
            h.expire_at(f, when)
            updated += 1
    if not updated and not deleted:
        if not _after_lazy(ctx, h, expired):
            _keep_extended(ctx, h, widened)
        return out
    kept = h.save(ctx.session.db)
    if expired:
        ctx.notify(NOTIFY_HASH, b"hexpired", key)
    if updated:
        ctx.notify(NOTIFY_HASH, b"hpersist" if option == b"persist" else b"hexpire", key)
    else:
        ctx.notify(NOTIFY_HASH, b"hdel", key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", key)
    if not updated:
        ctx.ks.repl.prevent()
    elif option == b"persist":
        ctx.propagate_as(b"HPERSIST", key, *argv[3:])
    else:
        exact = option == b"pxat"
        ctx.propagate_as(b"HPEXPIREAT", key, argv[3] if exact else b"%d" % when, *argv[4:])
    return out


_INT_MAX = (1 << 31) - 1


@command(
    "hsetex",
    -6,
    "write denyoom fast",
    group=_H,
    since="8.0.0",
    complexity="O(N) where N is the number of fields being set.",
    summary="Sets hash fields, optionally only if all or none exist, and optionally "
    "their time to live.",
    keys=_KEY_RW_UPDATE_ONLY,
    args=(
        arg("key", "key"),
        oneof("condition", token("FNX"), token("FXX"), flags=("optional",)),
        oneof("expiration", *_EXPIRATION, token("KEEPTTL"), flags=("optional",)),
        block(
            "fields",
            arg("numfields", "integer"),
            block("data", arg("field"), arg("value"), flags=("multiple",)),
            tok="FIELDS",
        ),
    ),
)
def hsetex(ctx: Ctx, argv: list[bytes]) -> int:
    """HSETEX key [FNX|FXX] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] FIELDS numfields field
    value... -> 1 if the fields were set, 0 if the condition failed."""
    key, now = argv[1], ctx.ks.clock()
    cond = option = b""
    when = 0
    data: list[bytes] = []
    at_option = 0
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if word == b"fields":
            if i >= len(argv) - 3:
                raise errors.wrong_arity(ctx.name)
            n = string2ll(argv[i + 1])
            if n is None or not 1 <= n <= _INT_MAX:
                raise errors.err("invalid number of fields")
            rest = len(argv) - i - 2
            if rest % 2 or n != rest // 2:
                raise errors.wrong_arity(ctx.name)
            data = argv[i + 2 :]
            break
        if word in _TIME_OPTIONS or word == b"keepttl":
            if option:
                raise errors.err(
                    "Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"
                )
            option, at_option = word, i
            if word != b"keepttl":
                if i >= len(argv) - 1:
                    raise errors.err("missing expire time")
                seconds, relative = _TIME_OPTIONS[word]
                when = _expire_time(ctx, argv[i + 1], seconds, now if relative else 0)
                i += 1
        elif word in (b"fnx", b"fxx"):
            if cond:
                raise errors.err("Only one of FXX or FNX arguments can be specified")
            cond = word
        else:
            raise errors.err("unknown argument: %s" % argv[i].decode("latin-1"))
        i += 1
    meta = lookup_typed(ctx, key, T.CODE, read=False)
    if meta is None and cond == b"fxx":
        return 0
    h = T.Hash(ctx.ks, key, meta)
    if cond:
        expired = 0
        ok = True
        for f in data[::2]:
            value, gone = _look(ctx, h, f, now)
            expired += gone
            if (value is None) == (cond == b"fxx"):
                ok = False
                break
        if not ok:  # (the fields the check expired stay deleted, without an event)
            _after_lazy(ctx, h, expired, event=False)
            ctx.ks.repl.prevent()
            return 0
    timed = option not in (b"", b"keepttl")
    if timed:
        h.extend()
    deleted = updated = 0
    for j in range(0, len(data), 2):
        f, v = data[j], data[j + 1]
        if option:
            h.write(f, v)
        else:
            h.put(f, v)
        if not timed:
            continue
        if _already_past(ctx, when, now):
            _delete_now(ctx, h, f)
            deleted += 1
        else:
            h.expire_at(f, when)
            updated += 1
    kept = h.save(ctx.session.db)
    if meta is None and not kept:  # Redis made the key, then deleted it
        ctx.notify(NOTIFY_NEW, b"new", key)
    ctx.notify(NOTIFY_HASH, b"hset", key)
    if deleted:
        ctx.notify(NOTIFY_HASH, b"hdel", key)
    elif updated:
        ctx.notify(NOTIFY_HASH, b"hexpire", key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", key)
    if deleted:
        ctx.ks.repl.prevent()
    elif option in (b"ex", b"px", b"exat"):
        out = list(argv)
        out[at_option : at_option + 2] = [b"PXAT", b"%d" % when]
        ctx.propagate_as(*out)
    return 1
