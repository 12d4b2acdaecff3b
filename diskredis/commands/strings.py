"""String commands (Redis group "string").

Room: what each string command means, over the keyspace. Imports: `util`, `commands`
helpers, `keyspace`, `errors`. Replies and errors are Redis 7.0's (t_string.c).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.longdouble import format_human, parse_long_double
from diskredis.commands.registry import arg, command, keys_at, oneof, token
from diskredis.errors import RedisError
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_STRING
from diskredis.keyspace.types import NO_EXPIRY, STRING, Meta
from diskredis.util import LLONG_MAX, LLONG_MIN

_S = "string"


# -- helpers shared by the module --------------------------------------------------
def get_string(ctx: Ctx, key: bytes, read: bool | None = None) -> Meta | None:
    """The key's record if it holds a string, None if missing; WRONGTYPE otherwise
    (`read`: as `Ctx.lookup`)."""
    meta = (
        ctx.ks.lookup(ctx.session.db, key, ctx.lookup_flags)
        if read is None
        else ctx.lookup(key, read=read)
    )
    if meta is not None and meta.type != STRING:
        raise RedisError(errors.WRONGTYPE)
    return meta


def put_string(
    ctx: Ctx, key: bytes, value: bytes, expire: int = NO_EXPIRY, event: bytes | None = b"set"
) -> None:
    """Store a string (keyspace event `event`, if any, once it is there)."""
    ctx.ks.store(ctx.session.db, key, Meta(STRING, expire, value))
    if event is not None:
        ctx.notify(NOTIFY_STRING, event, key)


def update_string(ctx: Ctx, key: bytes, meta: Meta, event: bytes) -> None:
    """Store a changed string record and announce it as `event`."""
    ctx.ks.store(ctx.session.db, key, meta)
    ctx.notify(NOTIFY_STRING, event, key)


def check_length(ctx: Ctx, size: int) -> None:
    if size > ctx.config["proto-max-bulk-len"]:
        raise errors.err("string exceeds maximum allowed size (proto-max-bulk-len)")


def _expire_error(ctx: Ctx) -> RedisError:
    return RedisError(errors.INVALID_EXPIRE % ctx.name)


def deadline(ctx: Ctx, raw: bytes, *, seconds: bool, absolute: bool) -> int:
    """getExpireMillisecondsOrReply: an absolute deadline in ms from an EX/PX/EXAT/PXAT."""
    value = parse_int(raw)
    if value <= 0 or (seconds and value > LLONG_MAX // 1000):
        raise _expire_error(ctx)
    ms = value * 1000 if seconds else value
    if not absolute:
        ms += now_ms()
    if ms > LLONG_MAX:  # overflow in C
        raise _expire_error(ctx)
    return ms


_EXPIRE_OPTS = {
    b"ex": (True, False),
    b"px": (False, False),
    b"exat": (True, True),
    b"pxat": (False, True),
}


_ExpireSpec = tuple[bytes, bool, bool]  # the argument, in seconds?, absolute?


def _parse_set_options(
    argv: list[bytes], start: int, for_set: bool
) -> tuple[set[str], _ExpireSpec | None]:
    """parseExtendedStringArgumentsOrReply: the flags and the expiry argument, if any."""
    flags: set[str] = set()
    if start >= len(argv):
        return flags, None
    expire_raw: tuple[bytes, bool, bool] | None = None
    timed = {"ex", "px", "exat", "pxat"}
    j = start
    while j < len(argv):
        opt = argv[j].lower()
        nxt = j + 1 < len(argv)
        if opt == b"nx" and for_set and "xx" not in flags:
            flags.add("nx")
        elif opt == b"xx" and for_set and "nx" not in flags:
            flags.add("xx")
        elif opt == b"get" and for_set:
            flags.add("get")
        elif opt == b"keepttl" and for_set and not flags & (timed | {"persist"}):
            flags.add("keepttl")
        elif opt == b"persist" and not for_set and not flags & (timed | {"keepttl"}):
            flags.add("persist")
        elif (
            opt in _EXPIRE_OPTS
            and nxt
            and not flags & ((timed - {opt.decode()}) | {"keepttl", "persist"})
        ):
            flags.add(opt.decode())
            seconds, absolute = _EXPIRE_OPTS[opt]
            expire_raw = (argv[j + 1], seconds, absolute)
            j += 1
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    return flags, expire_raw


def _deadline_of(ctx: Ctx, spec: _ExpireSpec | None) -> int | None:
    if spec is None:
        return None
    return deadline(ctx, spec[0], seconds=spec[1], absolute=spec[2])


_KEY_RO = (keys_at("RO access"),)
_KEY_RW_UPDATE = (keys_at("RW access update"),)
_KEY_OW_UPDATE = (keys_at("OW update"),)


# -- GET, SET and friends ----------------------------------------------------------
@command(
    "get",
    2,
    "readonly fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the string value of a key.",
    keys=_KEY_RO,
    args=(arg("key", "key"),),
)
def get(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """GET key -> value, or nil."""
    meta = get_string(ctx, argv[1])
    return None if meta is None else meta.payload


def set_keys(argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """setGetKeys: the key is read too only with GET (ACLs and GETKEYSANDFLAGS see it)."""
    if any(a.split(b"\0", 1)[0].lower() == b"get" for a in argv[3:]):
        return [(1, ("RW", "access", "update"))]
    return [(1, ("OW", "update"))]


@command(
    "set",
    -3,
    "write denyoom",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    getkeys=set_keys,
    summary="Sets the string value of a key, ignoring its type. The key is created if "
    "it doesn't exist.",
    keys=(
        keys_at(
            "RW access update variable_flags",
            notes="RW and ACCESS due to the optional `GET` argument",
        ),
    ),
    history=(
        ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
        ("6.0.0", "Added the `KEEPTTL` option."),
        ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
        ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
    ),
    args=(
        arg("key", "key"),
        arg("value"),
        oneof("condition", token("NX"), token("XX"), flags=("optional",)),
        token("GET", "optional"),
        oneof(
            "expiration",
            arg("seconds", "integer", token="EX"),
            arg("milliseconds", "integer", token="PX"),
            arg("unix-time-seconds", "unix-time", token="EXAT"),
            arg("unix-time-milliseconds", "unix-time", token="PXAT"),
            token("KEEPTTL"),
            flags=("optional",),
        ),
    ),
)
def set_(ctx: Ctx, argv: list[bytes]) -> Any:
    """SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] -> OK, nil or old value."""
    flags, spec = _parse_set_options(argv, 3, True)
    expire = _deadline_of(ctx, spec)
    key = argv[1]
    if "get" in flags:
        old = get_string(ctx, key, read=True)
    else:
        old = ctx.ks.lookup(ctx.session.db, key, ctx.lookup_flags)
    if ("nx" in flags and old is not None) or ("xx" in flags and old is None):
        return old.payload if "get" in flags and old is not None else None
    if expire is not None:
        when = expire
    elif "keepttl" in flags and old is not None:
        when = old.expire
    else:
        when = NO_EXPIRY
    ctx.ks.replace(ctx.session.db, key, Meta(STRING, when, argv[2]), old)
    ctx.notify(NOTIFY_STRING, b"set", key)
    if expire is not None:
        ctx.notify(NOTIFY_GENERIC, b"expire", key)
        ctx.propagate_as(b"SET", key, argv[2], b"PXAT", b"%d" % expire)
    elif "get" in flags:  # replicated without its GET
        ctx.propagate_as(*(a for i, a in enumerate(argv) if i < 3 or a.lower() != b"get"))
    if "get" in flags:
        return None if old is None else old.payload
    return "OK"


@command(
    "setnx",
    3,
    "write denyoom fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Set the string value of a key only when the key doesn't exist.",
    keys=(keys_at("OW insert"),),
    args=(arg("key", "key"), arg("value")),
)
def setnx(ctx: Ctx, argv: list[bytes]) -> int:
    """SETNX key value -> 1 if set, 0 if the key exists."""
    if ctx.lookup(argv[1]) is not None:
        return 0
    put_string(ctx, argv[1], argv[2])
    return 1


def _setex(ctx: Ctx, argv: list[bytes], seconds: bool) -> str:
    when = deadline(ctx, argv[2], seconds=seconds, absolute=False)
    put_string(ctx, argv[1], argv[3], when)
    ctx.notify(NOTIFY_GENERIC, b"expire", argv[1])
    ctx.propagate_as(b"SET", argv[1], argv[3], b"PXAT", b"%d" % when)
    return "OK"


@command(
    "setex",
    4,
    "write denyoom",
    group=_S,
    since="2.0.0",
    complexity="O(1)",
    summary="Sets the string value and expiration time of a key. Creates the key if it "
    "doesn't exist.",
    keys=_KEY_OW_UPDATE,
    args=(arg("key", "key"), arg("seconds", "integer"), arg("value")),
)
def setex(ctx: Ctx, argv: list[bytes]) -> str:
    """SETEX key seconds value -> OK."""
    return _setex(ctx, argv, True)


@command(
    "psetex",
    4,
    "write denyoom",
    group=_S,
    since="2.6.0",
    complexity="O(1)",
    summary="Sets both string value and expiration time in milliseconds of a key. The "
    "key is created if it doesn't exist.",
    keys=_KEY_OW_UPDATE,
    args=(arg("key", "key"), arg("milliseconds", "integer"), arg("value")),
)
def psetex(ctx: Ctx, argv: list[bytes]) -> str:
    """PSETEX key milliseconds value -> OK."""
    return _setex(ctx, argv, False)


@command(
    "getset",
    3,
    "write denyoom fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the previous string value of a key after setting it to a new value.",
    keys=_KEY_RW_UPDATE,
    args=(arg("key", "key"), arg("value")),
    deprecated_since="6.2.0",
    replaced_by="`SET` with the `!GET` argument",
    doc_flags="deprecated",
)
def getset(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """GETSET key value -> the old value, or nil."""
    old = get_string(ctx, argv[1], read=True)
    put_string(ctx, argv[1], argv[2])
    ctx.propagate_as(b"SET", argv[1], argv[2])
    return None if old is None else old.payload


@command(
    "getdel",
    2,
    "write fast",
    group=_S,
    since="6.2.0",
    complexity="O(1)",
    summary="Returns the string value of a key after deleting the key.",
    keys=(keys_at("RW access delete"),),
    args=(arg("key", "key"),),
)
def getdel(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """GETDEL key -> the value (the key is gone), or nil."""
    meta = get_string(ctx, argv[1], read=True)
    if meta is None:
        return None
    ctx.ks.remove(ctx.session.db, argv[1])
    ctx.notify(NOTIFY_GENERIC, b"del", argv[1])
    ctx.propagate_as(ctx.deletion("lazyfree-lazy-user-del"), argv[1])
    return meta.payload


@command(
    "getex",
    -2,
    "write fast",
    group=_S,
    since="6.2.0",
    complexity="O(1)",
    summary="Returns the string value of a key after setting its expiration time.",
    keys=(keys_at("RW access update", notes="RW and UPDATE because it changes the TTL"),),
    args=(
        arg("key", "key"),
        oneof(
            "expiration",
            arg("seconds", "integer", token="EX"),
            arg("milliseconds", "integer", token="PX"),
            arg("unix-time-seconds", "unix-time", token="EXAT"),
            arg("unix-time-milliseconds", "unix-time", token="PXAT"),
            token("PERSIST"),
            flags=("optional",),
        ),
    ),
)
def getex(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST] -> the value, or nil."""
    flags, spec = _parse_set_options(argv, 2, False)
    db, key = ctx.session.db, argv[1]
    meta = get_string(ctx, key, read=True)
    if meta is None:
        return None
    expire = _deadline_of(ctx, spec)  # checked after the lookup, as Redis does
    value = meta.payload
    if expire is not None:
        if expire <= now_ms() and flags & {"exat", "pxat"}:  # already passed: deleted
            ctx.ks.remove(db, key)
            ctx.notify(NOTIFY_GENERIC, b"del", key)
            ctx.propagate_as(ctx.deletion("lazyfree-lazy-expire"), key)
        else:
            meta.expire = expire
            ctx.ks.store(db, key, meta)
            ctx.notify(NOTIFY_GENERIC, b"expire", key)
            ctx.propagate_as(b"PEXPIREAT", key, b"%d" % expire)
    elif "persist" in flags and meta.expire:
        ctx.ks.persist(db, key, meta)
        ctx.notify(NOTIFY_GENERIC, b"persist", key)
        ctx.propagate_as(b"PERSIST", key)
    return value


@command(
    "mget",
    -2,
    "readonly fast",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the number of keys to retrieve.",
    summary="Atomically returns the string values of one or more keys.",
    tips="request_policy:multi_shard",
    keys=(keys_at("RO access", last=-1),),
    args=(arg("key", "key", "multiple"),),
)
def mget(ctx: Ctx, argv: list[bytes]) -> list[bytes | None]:
    """MGET key [key ...] -> values; nil for missing keys and keys of other types."""
    out: list[bytes | None] = []
    for key in argv[1:]:
        meta = ctx.lookup(key)
        out.append(meta.payload if meta is not None and meta.type == STRING else None)
    return out


@command(
    "mset",
    -3,
    "write denyoom",
    group=_S,
    since="1.0.1",
    complexity="O(N) where N is the number of keys to set.",
    summary="Atomically creates or modifies the string values of one or more keys.",
    tips="request_policy:multi_shard response_policy:all_succeeded",
    keys=(keys_at("OW update", last=-1, step=2),),
    args=(arg("data", "block", "multiple"),),
)
def mset(ctx: Ctx, argv: list[bytes]) -> str:
    """MSET key value [key value ...] -> OK."""
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("mset")
    for i in range(1, len(argv), 2):
        put_string(ctx, argv[i], argv[i + 1])
    return "OK"


@command(
    "msetnx",
    -3,
    "write denyoom",
    group=_S,
    since="1.0.1",
    complexity="O(N) where N is the number of keys to set.",
    summary="Atomically modifies the string values of one or more keys only when all "
    "keys don't exist.",
    tips="request_policy:multi_shard response_policy:agg_min",
    keys=(keys_at("OW insert", last=-1, step=2),),
    args=(arg("data", "block", "multiple"),),
)
def msetnx(ctx: Ctx, argv: list[bytes]) -> int:
    """MSETNX key value [key value ...] -> 1 if all were set, 0 if any key existed."""
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("msetnx")
    db = ctx.session.db
    if any(ctx.lookup(argv[i], db) is not None for i in range(1, len(argv), 2)):
        return 0
    for i in range(1, len(argv), 2):
        put_string(ctx, argv[i], argv[i + 1])
    return 1


@command(
    "append",
    3,
    "write denyoom fast",
    group=_S,
    since="2.0.0",
    complexity="O(1). The amortized time complexity is O(1) assuming the appended value "
    "is small and the already present value is of any size, since the "
    "dynamic string library used by Redis will double the free space "
    "available on every reallocation.",
    summary="Appends a string to the value of a key. Creates the key if it doesn't exist.",
    keys=(keys_at("RW insert"),),
    args=(arg("key", "key"), arg("value")),
)
def append(ctx: Ctx, argv: list[bytes]) -> int:
    """APPEND key value -> the new length."""
    meta = get_string(ctx, argv[1])
    if meta is None:
        put_string(ctx, argv[1], argv[2], event=b"append")
        return len(argv[2])
    check_length(ctx, len(meta.payload) + len(argv[2]))
    meta.payload += argv[2]
    update_string(ctx, argv[1], meta, b"append")
    return len(meta.payload)


@command(
    "strlen",
    2,
    "readonly fast",
    group=_S,
    since="2.2.0",
    complexity="O(1)",
    summary="Returns the length of a string value.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"),),
)
def strlen(ctx: Ctx, argv: list[bytes]) -> int:
    """STRLEN key -> length, 0 if missing."""
    meta = get_string(ctx, argv[1])
    return 0 if meta is None else len(meta.payload)


# -- counters -----------------------------------------------------------------------
def _incr(ctx: Ctx, key: bytes, by: int) -> int:
    meta = get_string(ctx, key)
    current = 0
    if meta is not None:
        current = parse_int(meta.payload)
    value = current + by
    if not LLONG_MIN <= value <= LLONG_MAX:
        raise RedisError(errors.INCR_OVERFLOW)
    # Stored over the record its lookup just read (`replace`: no second read).
    if meta is None:
        ctx.ks.replace(ctx.session.db, key, Meta(STRING, NO_EXPIRY, b"%d" % value), None)
    else:
        meta.payload = b"%d" % value  # a copy of the record: the batch's is untouched
        ctx.ks.replace(ctx.session.db, key, meta, meta)
    ctx.notify(NOTIFY_STRING, b"incrby", key)
    return value


_INCR_KEYS = (keys_at("RW access update"),)


@command(
    "incr",
    2,
    "write denyoom fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Increments the integer value of a key by one. Uses 0 as initial value if "
    "the key doesn't exist.",
    keys=_INCR_KEYS,
    args=(arg("key", "key"),),
)
def incr(ctx: Ctx, argv: list[bytes]) -> int:
    """INCR key -> the new value."""
    return _incr(ctx, argv[1], 1)


@command(
    "decr",
    2,
    "write denyoom fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Decrements the integer value of a key by one. Uses 0 as initial value if "
    "the key doesn't exist.",
    keys=_INCR_KEYS,
    args=(arg("key", "key"),),
)
def decr(ctx: Ctx, argv: list[bytes]) -> int:
    """DECR key -> the new value."""
    return _incr(ctx, argv[1], -1)


@command(
    "incrby",
    3,
    "write denyoom fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Increments the integer value of a key by a number. Uses 0 as initial value "
    "if the key doesn't exist.",
    keys=_INCR_KEYS,
    args=(arg("key", "key"), arg("increment", "integer")),
)
def incrby(ctx: Ctx, argv: list[bytes]) -> int:
    """INCRBY key increment -> the new value."""
    return _incr(ctx, argv[1], parse_int(argv[2]))


@command(
    "decrby",
    3,
    "write denyoom fast",
    group=_S,
    since="1.0.0",
    complexity="O(1)",
    summary="Decrements a number from the integer value of a key. Uses 0 as initial "
    "value if the key doesn't exist.",
    keys=_INCR_KEYS,
    args=(arg("key", "key"), arg("decrement", "integer")),
)
def decrby(ctx: Ctx, argv: list[bytes]) -> int:
    """DECRBY key decrement -> the new value."""
    by = parse_int(argv[2])
    if by == LLONG_MIN:  # its negation does not fit
        raise errors.err("decrement would overflow")
    return _incr(ctx, argv[1], -by)


@command(
    "incrbyfloat",
    3,
    "write denyoom fast",
    group=_S,
    since="2.6.0",
    complexity="O(1)",
    summary="Increment the floating point value of a key by a number. Uses 0 as initial "
    "value if the key doesn't exist.",
    keys=_INCR_KEYS,
    args=(arg("key", "key"), arg("increment", "double")),
)
def incrbyfloat(ctx: Ctx, argv: list[bytes]) -> bytes:
    """INCRBYFLOAT key increment -> the new value, as Redis formats a long double."""
    meta = get_string(ctx, argv[1])
    current = parse_long_double(meta.payload) if meta is not None else Fraction(0)
    by = parse_long_double(argv[2])
    if current is None or by is None:
        raise RedisError(errors.NOT_FLOAT)
    text = None
    if isinstance(current, Fraction) and isinstance(by, Fraction):
        text = format_human(current + by)
    if text is None:
        raise RedisError(errors.INCR_NAN)
    if meta is None:
        put_string(ctx, argv[1], text, event=b"incrbyfloat")
    else:
        meta.payload = text
        update_string(ctx, argv[1], meta, b"incrbyfloat")
    ctx.propagate_as(b"SET", argv[1], text, b"KEEPTTL")
    return text


# -- ranges --------------------------------------------------------------------------
def _getrange(ctx: Ctx, argv: list[bytes]) -> bytes:
    start, end = parse_int(argv[2]), parse_int(argv[3])
    meta = get_string(ctx, argv[1])
    if meta is None:
        return b""
    value = meta.payload
    n = len(value)
    # getrangeCommand: both negative and start > end is empty; then clamp.
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    end = min(end, n - 1)
    if start > end or n == 0:
        return b""
    return value[start : end + 1]


@command(
    "getrange",
    4,
    "readonly",
    group=_S,
    since="2.4.0",
    complexity="O(N) where N is the length of the returned string. The complexity is "
    "ultimately determined by the returned length, but because creating a "
    "substring from an existing string is very cheap, it can be considered "
    "O(1) for small strings.",
    summary="Returns a substring of the string stored at a key.",
    keys=_KEY_RO,
    args=(arg("key", "key"), arg("start", "integer"), arg("end", "integer")),
)
def getrange(ctx: Ctx, argv: list[bytes]) -> bytes:
    """GETRANGE key start end -> the substring (inclusive, negative from the end)."""
    return _getrange(ctx, argv)


@command(
    "substr",
    4,
    "readonly",
    group=_S,
    since="1.0.0",
    complexity="O(N) where N is the length of the returned string. The complexity is "
    "ultimately determined by the returned length, but because creating a "
    "substring from an existing string is very cheap, it can be considered "
    "O(1) for small strings.",
    summary="Returns a substring from a string value.",
    keys=_KEY_RO,
    deprecated_since="2.0.0",
    replaced_by="`GETRANGE`",
    doc_flags="deprecated",
    args=(arg("key", "key"), arg("start", "integer"), arg("end", "integer")),
)
def substr(ctx: Ctx, argv: list[bytes]) -> bytes:
    """SUBSTR key start end -> as GETRANGE."""
    return _getrange(ctx, argv)


@command(
    "setrange",
    4,
    "write denyoom",
    group=_S,
    since="2.2.0",
    complexity="O(1), not counting the time taken to copy the new string in place. "
    "Usually, this string is very small so the amortized complexity is O(1). "
    "Otherwise, complexity is O(M) with M being the length of the value "
    "argument.",
    summary="Overwrites a part of a string value with another by an offset. Creates the "
    "key if it doesn't exist.",
    keys=(keys_at("RW update"),),
    args=(arg("key", "key"), arg("offset", "integer"), arg("value")),
)
def setrange(ctx: Ctx, argv: list[bytes]) -> int:
    """SETRANGE key offset value -> the new length."""
    offset = parse_int(argv[2])
    if offset < 0:
        raise errors.err("offset is out of range")
    piece = argv[3]
    meta = get_string(ctx, argv[1])
    if meta is None:
        if not piece:
            return 0
        check_length(ctx, offset + len(piece))
        put_string(ctx, argv[1], b"\0" * offset + piece, event=b"setrange")
        return offset + len(piece)
    value = meta.payload
    if not piece:
        return len(value)
    check_length(ctx, offset + len(piece))
    if len(value) < offset:
        value += b"\0" * (offset - len(value))
    meta.payload = value[:offset] + piece + value[offset + len(piece) :]
    update_string(ctx, argv[1], meta, b"setrange")
    return len(meta.payload)


# -- LCS -----------------------------------------------------------------------------
@command(
    "lcs",
    -3,
    "readonly",
    group=_S,
    since="7.0.0",
    complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
    summary="Finds the longest common substring.",
    keys=(keys_at("RO access", last=1),),
    args=(
        arg("key1", "key"),
        arg("key2", "key"),
        token("LEN", "optional"),
        token("IDX", "optional"),
        arg("min-match-len", "integer", "optional", token="MINMATCHLEN"),
        token("WITHMATCHLEN", "optional"),
    ),
)
def lcs(ctx: Ctx, argv: list[bytes]) -> Any:
    """LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN] -> the longest common
    subsequence, its length, or its matching ranges."""
    db = ctx.session.db
    metas = [ctx.lookup(argv[1], db), ctx.lookup(argv[2], db)]
    if any(m is not None and m.type != STRING for m in metas):
        raise errors.err("The specified keys must contain string values")
    a, b = (b"" if m is None else m.payload for m in metas)
    get_len = get_idx = with_len = False
    min_len = 0
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"idx":
            get_idx = True
        elif opt == b"len":
            get_len = True
        elif opt == b"withmatchlen":
            with_len = True
        elif opt == b"minmatchlen" and j + 1 < len(argv):
            min_len = max(parse_int(argv[j + 1]), 0)
            j += 1
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    if get_len and get_idx:
        raise errors.err("If you want both the length and indexes, please just use IDX.")
    if (len(a) + 1) * (len(b) + 1) * 4 > ctx.config["proto-max-bulk-len"]:
        raise errors.err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    table = _lcs_table(a, b)
    total = table[len(a)][len(b)]
    if get_len:
        return total
    result, matches = _lcs_walk(a, b, table, total, min_len, with_len)
    if get_idx:
        return {b"matches": matches, b"len": total}
    return result


def _lcs_table(a: bytes, b: bytes) -> list[list[int]]:
    rows = [[0] * (len(b) + 1)]
    for i in range(1, len(a) + 1):
        prev, row, ch = rows[-1], [0] * (len(b) + 1), a[i - 1]
        for j in range(1, len(b) + 1):
            row[j] = prev[j - 1] + 1 if ch == b[j - 1] else max(prev[j], row[j - 1])
        rows.append(row)
    return rows


def _lcs_walk(
    a: bytes, b: bytes, t: list[list[int]], total: int, min_len: int, with_len: bool
) -> tuple[bytes, list[Any]]:
    """Back from the end: the common subsequence and its ranges, as Redis emits them."""
    out = bytearray(total)
    matches: list[Any] = []
    idx, i, j = total, len(a), len(b)
    unset = len(a)
    a_start = unset
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out[idx - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx, i, j = idx - 1, i - 1, j - 1
        else:
            if t[i - 1][j] > t[i][j - 1]:
                i -= 1
            else:
                j -= 1
            if a_start != unset:
                emit = True
        match_len = a_end - a_start + 1
        if emit:
            if min_len == 0 or match_len >= min_len:
                entry: list[Any] = [[a_start, a_end], [b_start, b_end]]
                if with_len:
                    entry.append(match_len)
                matches.append(entry)
            a_start = unset
    return bytes(out), matches
