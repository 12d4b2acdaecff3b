"""Keyspace commands (Redis group "generic") and the database commands of "server".

Room: commands about keys whatever their type: existence, deletion, expiry, whole
databases. Imports: `util`, `commands` helpers, `keyspace`, `errors`. Replies and errors are
Redis 7.0's (db.c, expire.c).
"""

from __future__ import annotations

import re
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int, parse_timeout_ms
from diskredis.commands.context import Block, Ctx
from diskredis.commands.registry import (
    arg,
    command,
    container,
    help_command,
    keys_at,
    oneof,
    token,
)
from diskredis.errors import RedisError
from diskredis.keyspace import types
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import NOTIFY_GENERIC
from diskredis.keyspace.types import Meta, strings
from diskredis.util import INT_MAX, INT_MIN, LLONG_MAX, LLONG_MIN, ULLONG_MAX, glob_match

_G = "generic"
_CURSOR = re.compile(rb"([+-]?)([0-9]+)")


# -- existence and deletion -----------------------------------------------------------
def _delete(ctx: Ctx, argv: list[bytes]) -> int:
    db = ctx.session.db
    count = 0
    for key in argv[1:]:
        if ctx.ks.remove(db, key):
            ctx.notify(NOTIFY_GENERIC, b"del", key)
            count += 1
    return count


@command(
    "del",
    -2,
    "write",
    group=_G,
    since="1.0.0",
    complexity="O(N) where N is the number of keys that will be removed. When a key to "
    "remove holds a value other than a string, the individual complexity for "
    "this key is O(M) where M is the number of elements in the list, set, "
    "sorted set or hash. Removing a single key that holds a string value is "
    "O(1).",
    summary="Deletes one or more keys.",
    tips="request_policy:multi_shard response_policy:agg_sum",
    keys=(keys_at("RM delete", last=-1),),
    args=(arg("key", "key", "multiple"),),
)
def del_(ctx: Ctx, argv: list[bytes]) -> int:
    """DEL key [key ...] -> how many were removed."""
    return _delete(ctx, argv)


@command(
    "unlink",
    -2,
    "write fast",
    group=_G,
    since="4.0.0",
    complexity="O(1) for each key removed regardless of its size. Then the command does "
    "O(N) work in a different thread in order to reclaim memory, where N is "
    "the number of allocations the deleted objects where composed of.",
    summary="Asynchronously deletes one or more keys.",
    tips="request_policy:multi_shard response_policy:agg_sum",
    keys=(keys_at("RM delete", last=-1),),
    args=(arg("key", "key", "multiple"),),
)
def unlink(ctx: Ctx, argv: list[bytes]) -> int:
    """UNLINK key [key ...] -> how many were removed (space is reclaimed in the background)."""
    return _delete(ctx, argv)


@command(
    "exists",
    -2,
    "readonly fast",
    group=_G,
    since="1.0.0",
    complexity="O(N) where N is the number of keys to check.",
    summary="Determines whether one or more keys exist.",
    tips="request_policy:multi_shard response_policy:agg_sum",
    history=(("3.0.3", "Accepts multiple `key` arguments."),),
    keys=(keys_at("RO", last=-1),),
    args=(arg("key", "key", "multiple"),),
)
def exists(ctx: Ctx, argv: list[bytes]) -> int:
    """EXISTS key [key ...] -> how many of the given keys exist (repeats count again)."""
    db = ctx.session.db
    return sum(1 for key in argv[1:] if ctx.lookup(key, db, touch=False) is not None)


@command(
    "touch",
    -2,
    "readonly fast",
    group=_G,
    since="3.2.1",
    complexity="O(N) where N is the number of keys that will be touched.",
    summary="Returns the number of existing keys out of those specified after updating "
    "the time they were last accessed.",
    tips="request_policy:multi_shard response_policy:agg_sum",
    keys=(keys_at("RO", last=-1),),
    args=(arg("key", "key", "multiple"),),
)
def touch(ctx: Ctx, argv: list[bytes]) -> int:
    """TOUCH key [key ...] -> how many exist (their access time is updated)."""
    db = ctx.session.db
    return sum(1 for key in argv[1:] if ctx.lookup(key, db) is not None)


@command(
    "type",
    2,
    "readonly fast",
    group=_G,
    since="1.0.0",
    complexity="O(1)",
    summary="Determines the type of value stored at a key.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"),),
)
def type_(ctx: Ctx, argv: list[bytes]) -> str:
    """TYPE key -> string, list, set, zset, hash, stream or none."""
    meta = ctx.lookup(argv[1], touch=False)
    return "none" if meta is None else types.name_of(meta)


# -- expiry ---------------------------------------------------------------------------
_EXPIRE_ARGS = oneof(
    "condition",
    token("NX"),
    token("XX"),
    token("GT"),
    token("LT"),
    flags=("optional",),
    since="7.0.0",
)
_EXPIRE_HISTORY = (("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),)
_EXPIRE_KEYS = (keys_at("RW update"),)


def _expire(ctx: Ctx, argv: list[bytes], seconds: bool, absolute: bool) -> int:
    flags = set()
    for raw in argv[3:]:
        opt = raw.lower()
        if opt not in (b"nx", b"xx", b"gt", b"lt"):
            raise errors.err("Unsupported option %s" % raw.decode("latin-1"))
        flags.add(opt)
    if b"nx" in flags and flags & {b"xx", b"gt", b"lt"}:
        raise errors.err("NX and XX, GT or LT options at the same time are not compatible")
    if {b"gt", b"lt"} <= flags:
        raise errors.err("GT and LT options at the same time are not compatible")
    when = parse_int(argv[2])
    if seconds:
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            raise RedisError(errors.INVALID_EXPIRE % ctx.name)
        when *= 1000
    base = 0 if absolute else now_ms()
    if when > LLONG_MAX - base:
        raise RedisError(errors.INVALID_EXPIRE % ctx.name)
    when += base
    db, key = ctx.session.db, argv[1]
    meta = ctx.lookup(key, db)
    if meta is None:
        return 0
    current = meta.expire or -1
    if b"nx" in flags and current != -1:
        return 0
    if b"xx" in flags and current == -1:
        return 0
    if b"gt" in flags and (current == -1 or when <= current):
        return 0
    if b"lt" in flags and current != -1 and when >= current:
        return 0
    if when <= now_ms():
        ctx.ks.remove(db, key)
        ctx.notify(NOTIFY_GENERIC, b"del", key)
        ctx.propagate_as(ctx.deletion("lazyfree-lazy-expire"), key)
        return 1
    meta.expire = when
    ctx.ks.store(db, key, meta)
    ctx.notify(NOTIFY_GENERIC, b"expire", key)
    ctx.propagate_as(b"PEXPIREAT", key, b"%d" % when, *argv[3:])
    return 1


@command(
    "expire",
    -3,
    "write fast",
    group=_G,
    since="1.0.0",
    complexity="O(1)",
    summary="Sets the expiration time of a key in seconds.",
    keys=_EXPIRE_KEYS,
    history=_EXPIRE_HISTORY,
    args=(arg("key", "key"), arg("seconds", "integer"), _EXPIRE_ARGS),
)
def expire(ctx: Ctx, argv: list[bytes]) -> int:
    """EXPIRE key seconds [NX|XX|GT|LT] -> 1 if the timeout was set, else 0."""
    return _expire(ctx, argv, True, False)


@command(
    "pexpire",
    -3,
    "write fast",
    group=_G,
    since="2.6.0",
    complexity="O(1)",
    summary="Sets the expiration time of a key in milliseconds.",
    keys=_EXPIRE_KEYS,
    history=_EXPIRE_HISTORY,
    args=(arg("key", "key"), arg("milliseconds", "integer"), _EXPIRE_ARGS),
)
def pexpire(ctx: Ctx, argv: list[bytes]) -> int:
    """PEXPIRE key milliseconds [NX|XX|GT|LT] -> 1 if the timeout was set, else 0."""
    return _expire(ctx, argv, False, False)


@command(
    "expireat",
    -3,
    "write fast",
    group=_G,
    since="1.2.0",
    complexity="O(1)",
    summary="Sets the expiration time of a key to a Unix timestamp.",
    keys=_EXPIRE_KEYS,
    history=_EXPIRE_HISTORY,
    args=(arg("key", "key"), arg("unix-time-seconds", "unix-time"), _EXPIRE_ARGS),
)
def expireat(ctx: Ctx, argv: list[bytes]) -> int:
    """EXPIREAT key unix-time-seconds [NX|XX|GT|LT] -> 1 if the timeout was set, else 0."""
    return _expire(ctx, argv, True, True)


@command(
    "pexpireat",
    -3,
    "write fast",
    group=_G,
    since="2.6.0",
    complexity="O(1)",
    summary="Sets the expiration time of a key to a Unix milliseconds timestamp.",
    keys=_EXPIRE_KEYS,
    history=_EXPIRE_HISTORY,
    args=(arg("key", "key"), arg("unix-time-milliseconds", "unix-time"), _EXPIRE_ARGS),
)
def pexpireat(ctx: Ctx, argv: list[bytes]) -> int:
    """PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT] -> 1 if set, else 0."""
    return _expire(ctx, argv, False, True)


def _ttl(ctx: Ctx, argv: list[bytes], ms: bool, absolute: bool) -> int:
    meta = ctx.lookup(argv[1], touch=False)
    if meta is None:
        return -2
    if not meta.expire:
        return -1
    ttl = max(meta.expire if absolute else meta.expire - now_ms(), 0)
    return ttl if ms else (ttl + 500) // 1000


_TTL_KEYS = (keys_at("RO access"),)


@command(
    "ttl",
    2,
    "readonly fast",
    group=_G,
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the expiration time in seconds of a key.",
    tips="nondeterministic_output",
    keys=_TTL_KEYS,
    history=(("2.8.0", "Added the -2 reply."),),
    args=(arg("key", "key"),),
)
def ttl(ctx: Ctx, argv: list[bytes]) -> int:
    """TTL key -> seconds left, -1 without expiry, -2 if missing."""
    return _ttl(ctx, argv, False, False)


@command(
    "pttl",
    2,
    "readonly fast",
    group=_G,
    since="2.6.0",
    complexity="O(1)",
    summary="Returns the expiration time in milliseconds of a key.",
    tips="nondeterministic_output",
    keys=_TTL_KEYS,
    history=(("2.8.0", "Added the -2 reply."),),
    args=(arg("key", "key"),),
)
def pttl(ctx: Ctx, argv: list[bytes]) -> int:
    """PTTL key -> milliseconds left, -1 without expiry, -2 if missing."""
    return _ttl(ctx, argv, True, False)


@command(
    "expiretime",
    2,
    "readonly fast",
    group=_G,
    since="7.0.0",
    complexity="O(1)",
    summary="Returns the expiration time of a key as a Unix timestamp.",
    keys=_TTL_KEYS,
    args=(arg("key", "key"),),
)
def expiretime(ctx: Ctx, argv: list[bytes]) -> int:
    """EXPIRETIME key -> the deadline in Unix seconds, -1 without expiry, -2 if missing."""
    return _ttl(ctx, argv, False, True)


@command(
    "pexpiretime",
    2,
    "readonly fast",
    group=_G,
    since="7.0.0",
    complexity="O(1)",
    summary="Returns the expiration time of a key as a Unix milliseconds timestamp.",
    keys=_TTL_KEYS,
    args=(arg("key", "key"),),
)
def pexpiretime(ctx: Ctx, argv: list[bytes]) -> int:
    """PEXPIRETIME key -> the deadline in Unix ms, -1 without expiry, -2 if missing."""
    return _ttl(ctx, argv, True, True)


@command(
    "persist",
    2,
    "write fast",
    group=_G,
    since="2.2.0",
    complexity="O(1)",
    summary="Removes the expiration time of a key.",
    keys=(keys_at("RW update"),),
    args=(arg("key", "key"),),
)
def persist(ctx: Ctx, argv: list[bytes]) -> int:
    """PERSIST key -> 1 if a timeout was removed, else 0."""
    db, key = ctx.session.db, argv[1]
    meta = ctx.lookup(key, db)
    if meta is None or not meta.expire:
        return 0
    ctx.ks.persist(db, key, meta)
    ctx.notify(NOTIFY_GENERIC, b"persist", key)
    return 1


# -- whole databases --------------------------------------------------------------------
_SRV = "server"


@command(
    "dbsize",
    1,
    "readonly fast",
    group=_SRV,
    acl="keyspace",
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the number of keys in the database.",
    tips="request_policy:all_shards response_policy:agg_sum",
)
def dbsize(ctx: Ctx, argv: list[bytes]) -> int:
    """DBSIZE -> the number of keys of the selected database."""
    return ctx.ks.dbsize(ctx.session.db)


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) == 2 and argv[1].lower() in (b"sync", b"async"):
        return
    if len(argv) != 1:
        raise RedisError(errors.SYNTAX)


_FLUSH_ARGS = (
    oneof(
        "flush-type",
        token("ASYNC", since="4.0.0"),
        token("SYNC", since="6.2.0"),
        flags=("optional",),
    ),
)
_FLUSH_HISTORY = (
    ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
    ("6.2.0", "Added the `SYNC` flushing mode modifier."),
)


@command(
    "flushdb",
    -1,
    "write",
    group=_SRV,
    since="1.0.0",
    complexity="O(N) where N is the number of keys in the selected database",
    summary="Remove all keys from the current database.",
    acl="keyspace dangerous",
    tips="request_policy:all_shards response_policy:all_succeeded",
    history=_FLUSH_HISTORY,
    args=_FLUSH_ARGS,
)
def flushdb(ctx: Ctx, argv: list[bytes]) -> str:
    """FLUSHDB [ASYNC|SYNC] -> OK. Returns at once in both modes: the keys go to a new
    generation and the old one is reclaimed in the background."""
    _flush_mode(argv)
    ctx.ks.flush(ctx.session.db)
    ctx.ks.repl.force()  # replicated even when the database was empty
    if ctx.tracking is not None:
        ctx.tracking.flushed()
    return "OK"


@command(
    "flushall",
    -1,
    "write",
    group=_SRV,
    since="1.0.0",
    complexity="O(N) where N is the total number of keys in all databases",
    summary="Removes all keys from all databases.",
    acl="keyspace dangerous",
    tips="request_policy:all_shards response_policy:all_succeeded",
    history=_FLUSH_HISTORY,
    args=_FLUSH_ARGS,
)
def flushall(ctx: Ctx, argv: list[bytes]) -> str:
    """FLUSHALL [ASYNC|SYNC] -> OK, at once (see FLUSHDB)."""
    _flush_mode(argv)
    for db in range(ctx.ks.databases):
        ctx.ks.flush(db)
    ctx.ks.repl.force()  # replicated even when the databases were empty
    if ctx.tracking is not None:
        ctx.tracking.flushed()
    return "OK"


@command(
    "swapdb",
    3,
    "write fast",
    group=_SRV,
    since="4.0.0",
    complexity="O(N) where N is the count of clients watching or blocking on keys from "
    "both databases.",
    summary="Swaps two Redis databases.",
    acl="keyspace dangerous",
    args=(arg("index1", "integer"), arg("index2", "integer")),
)
def swapdb(ctx: Ctx, argv: list[bytes]) -> str:
    """SWAPDB index1 index2 -> OK."""
    a = parse_int(argv[1], "ERR invalid first DB index")
    b = parse_int(argv[2], "ERR invalid second DB index")
    if not INT_MIN <= a <= INT_MAX:
        raise errors.err("invalid first DB index")
    if not INT_MIN <= b <= INT_MAX:
        raise errors.err("invalid second DB index")
    n = ctx.ks.databases
    if not (0 <= a < n and 0 <= b < n):
        raise errors.err("DB index is out of range")
    if a != b:
        ctx.ks.swap(a, b)
    ctx.ks.repl.force()  # Redis counts every SWAPDB a change, even of a database with itself
    return "OK"


# -- renaming, copying, moving ---------------------------------------------------------
_SAME_OBJECT = "ERR source and destination objects are the same"


def _rename(ctx: Ctx, argv: list[bytes], nx: bool) -> int | str:
    db, src, dst = ctx.session.db, argv[1], argv[2]
    meta = ctx.lookup(src, db)
    if meta is None:
        raise RedisError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else "OK"
    if ctx.lookup(dst, db) is not None:
        if nx:
            return 0
        ctx.ks.remove(db, dst)
    ctx.ks.remove(db, src, free=False)  # a collection's elements go with the record
    ctx.ks.store(db, dst, meta)
    ctx.notify(NOTIFY_GENERIC, b"rename_from", src)
    ctx.notify(NOTIFY_GENERIC, b"rename_to", dst)
    return 1 if nx else "OK"


@command(
    "rename",
    3,
    "write",
    group=_G,
    since="1.0.0",
    complexity="O(1)",
    summary="Renames a key and overwrites the destination.",
    keys=(keys_at("RW access delete"), keys_at("OW update", index=2)),
    args=(arg("key", "key"), arg("newkey", "key")),
)
def rename(ctx: Ctx, argv: list[bytes]) -> int | str:
    """RENAME key newkey -> OK."""
    return _rename(ctx, argv, False)


@command(
    "renamenx",
    3,
    "write fast",
    group=_G,
    since="1.0.0",
    complexity="O(1)",
    summary="Renames a key only when the target key name doesn't exist.",
    history=(
        (
            "3.2.0",
            "The command no longer returns an error when source and "
            "destination names are the same.",
        ),
    ),
    keys=(keys_at("RW access delete"), keys_at("OW insert", index=2)),
    args=(arg("key", "key"), arg("newkey", "key")),
)
def renamenx(ctx: Ctx, argv: list[bytes]) -> int | str:
    """RENAMENX key newkey -> 1 if renamed, 0 if newkey exists."""
    return _rename(ctx, argv, True)


def _db_index(ctx: Ctx, raw: bytes) -> int:
    index = parse_int(raw)
    if not INT_MIN <= index <= INT_MAX:
        raise RedisError(errors.NOT_INTEGER)
    if not 0 <= index < ctx.ks.databases:
        raise errors.err("DB index is out of range")
    return index


@command(
    "copy",
    -3,
    "write denyoom",
    group=_G,
    since="6.2.0",
    complexity="O(N) worst case for collections, where N is the number of nested "
    "items. O(1) for string values.",
    summary="Copies the value of a key to a new key.",
    keys=(keys_at("RO access"), keys_at("OW update", index=2)),
    args=(
        arg("source", "key"),
        arg("destination", "key"),
        arg("destination-db", "integer", "optional", token="DB"),
        token("REPLACE", "optional"),
    ),
)
def copy(ctx: Ctx, argv: list[bytes]) -> int:
    """COPY source destination [DB destination-db] [REPLACE] -> 1 if copied, else 0."""
    src_db = dst_db = ctx.session.db
    replace = False
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < len(argv):
            dst_db = _db_index(ctx, argv[j + 1])
            j += 1
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    src, dst = argv[1], argv[2]
    if src_db == dst_db and src == dst:
        raise RedisError(_SAME_OBJECT)
    meta = ctx.lookup(src, src_db, read=True)
    if meta is None:
        return 0
    if ctx.lookup(dst, dst_db) is not None:
        if not replace:
            return 0
        ctx.ks.remove(dst_db, dst)
    ctx.ks.store(dst_db, dst, types.copy_value(ctx.ks, meta))
    ctx.notify(NOTIFY_GENERIC, b"copy_to", dst, dst_db)
    return 1


@command(
    "move",
    3,
    "write fast",
    group=_G,
    since="1.0.0",
    complexity="O(1)",
    summary="Moves a key to another database.",
    keys=(keys_at("RW access update"),),
    args=(arg("key", "key"), arg("db", "integer")),
)
def move(ctx: Ctx, argv: list[bytes]) -> int:
    """MOVE key db -> 1 if moved, 0 if missing here or present there."""
    src_db = ctx.session.db
    dst_db = _db_index(ctx, argv[2])
    if dst_db == src_db:
        raise RedisError(_SAME_OBJECT)
    meta = ctx.lookup(argv[1], src_db)
    if meta is None or ctx.lookup(argv[1], dst_db) is not None:
        return 0
    ctx.ks.remove(src_db, argv[1], free=False)
    ctx.ks.store(dst_db, argv[1], meta)
    ctx.notify(NOTIFY_GENERIC, b"move_from", argv[1], src_db)
    ctx.notify(NOTIFY_GENERIC, b"move_to", argv[1], dst_db)
    return 1


# -- listing keys ------------------------------------------------------------------------
@command(
    "keys",
    2,
    "readonly",
    group=_G,
    acl="dangerous",
    since="1.0.0",
    complexity="O(N) with N being the number of keys in the database, under the "
    "assumption that the key names in the database and the given pattern "
    "have limited length.",
    summary="Returns all key names that match a pattern.",
    tips="request_policy:all_shards nondeterministic_output_order",
    args=(arg("pattern"),),
)
def keys(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """KEYS pattern -> the live keys matching the glob."""
    pattern = argv[1]
    every = pattern == b"*"
    return [
        key for _, key, _ in ctx.ks.iter_keys(ctx.session.db) if every or glob_match(pattern, key)
    ]


def lookup_typed(
    ctx: Ctx, key: bytes, kind: int, db: int | None = None, read: bool | None = None
) -> Meta | None:
    """The key's record if it holds `kind`; None if missing; WRONGTYPE otherwise
    (`read`: as `Keyspace.lookup`)."""
    if db is None and read is None:
        meta = ctx.ks.lookup(ctx.session.db, key, ctx.lookup_flags)
    else:
        meta = ctx.lookup(key, db, read)
    if meta is not None and meta.type != kind:
        raise RedisError(errors.WRONGTYPE)
    return meta


def scan_options(
    argv: list[bytes], start: int, with_type: bool
) -> tuple[int, bytes | None, bytes | None]:
    """The options of SCAN and its per-type forms: COUNT (default 10), MATCH (None for
    "*"), TYPE (SCAN only); anything else is a syntax error, as scanGenericCommand says."""
    count, pattern, kind = 10, None, None
    i = start
    while i < len(argv):
        opt = argv[i].lower()
        if i + 1 >= len(argv):
            raise RedisError(errors.SYNTAX)
        if opt == b"count":
            count = parse_int(argv[i + 1])
            if count < 1:
                raise RedisError(errors.SYNTAX)
        elif opt == b"match":
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif opt == b"type" and with_type:
            kind = argv[i + 1].lower()
        else:
            raise RedisError(errors.SYNTAX)
        i += 2
    return count, pattern, kind


def parse_cursor(raw: bytes) -> int:
    """strtoul as parseScanCursorOrReply uses it: sign, digits, wrap-around of negatives."""
    if not raw:
        return 0  # strtoul("") is 0 with nothing left over
    m = _CURSOR.fullmatch(raw)
    if m is None:
        raise errors.err("invalid cursor")
    value = int(m.group(2))
    if value > ULLONG_MAX:
        raise errors.err("invalid cursor")
    return (-value) % (ULLONG_MAX + 1) if m.group(1) == b"-" else value


@command(
    "scan",
    -2,
    "readonly",
    group=_G,
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough "
    "command calls for the cursor to return back to 0. N is the number of "
    "elements inside the collection.",
    summary="Iterates over the key names in the database.",
    tips="nondeterministic_output request_policy:special",
    history=(("6.0.0", "Added the `TYPE` subcommand."),),
    args=(
        arg("cursor", "integer"),
        arg("pattern", "pattern", "optional", token="MATCH"),
        arg("count", "integer", "optional", token="COUNT"),
        arg("type", "string", "optional", token="TYPE", since="6.0.0"),
    ),
)
def scan(ctx: Ctx, argv: list[bytes]) -> list[object]:
    """SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] -> [next cursor, keys]."""
    cursor = parse_cursor(argv[1])
    count, pattern, kind = scan_options(argv, 2, with_type=True)
    nxt, found = ctx.ks.scan_page(ctx.session.db, cursor, count)
    out = [
        key
        for key, meta in found
        if (pattern is None or glob_match(pattern, key))
        and (kind is None or types.name_of(meta).encode() == kind)
    ]
    return [b"%d" % nxt, out]


@command(
    "randomkey",
    1,
    "readonly",
    group=_G,
    since="1.0.0",
    complexity="O(1)",
    summary="Returns a random key name from the database.",
    tips="request_policy:all_shards nondeterministic_output",
)
def randomkey(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """RANDOMKEY -> a key, or nil when the database is empty."""
    return ctx.ks.random_key(ctx.session.db)


# -- OBJECT ----------------------------------------------------------------------------
container(
    "object",
    group=_G,
    since="2.2.3",
    summary="A container for object introspection commands.",
    complexity="Depends on subcommand.",
)

_LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")
_SHARED_INTEGERS = 10000  # OBJ_SHARED_INTEGERS


def _object_meta(ctx: Ctx, key: bytes) -> Meta | None:
    return ctx.lookup(key, touch=False, notify_miss=False)


_OBJ_KEYS = (keys_at("RO", index=2),)


@command(
    "object|encoding",
    3,
    "readonly",
    group=_G,
    since="2.2.3",
    complexity="O(1)",
    summary="Returns the internal encoding of a Redis object.",
    tips="nondeterministic_output",
    keys=_OBJ_KEYS,
    args=(arg("key", "key"),),
)
def object_encoding(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """OBJECT ENCODING key -> the encoding Redis would use for this value, or nil."""
    meta = _object_meta(ctx, argv[2])
    return None if meta is None else encoding_of(ctx, meta).encode()


def encoding_of(ctx: Ctx, meta: Meta) -> str:
    """The encoding Redis would use for this value (OBJECT ENCODING, DEBUG OBJECT)."""
    return types.encoding(ctx.ks, meta, ctx.config)


@command(
    "object|refcount",
    3,
    "readonly",
    group=_G,
    since="2.2.3",
    complexity="O(1)",
    summary="Returns the reference count of a value of a key.",
    tips="nondeterministic_output",
    keys=_OBJ_KEYS,
    args=(arg("key", "key"),),
)
def object_refcount(ctx: Ctx, argv: list[bytes]) -> int | None:
    """OBJECT REFCOUNT key -> 2147483647 for values Redis shares (small integers when no
    LRU/LFU policy is set), else 1; nil if missing."""
    meta = _object_meta(ctx, argv[2])
    if meta is None:
        return None
    policy = ctx.config["maxmemory-policy"]
    shared = ("lru" not in policy and "lfu" not in policy) or not ctx.config["maxmemory"]
    if (
        meta.type == types.STRING
        and strings.encoding(meta.payload) == "int"
        and 0 <= int(meta.payload) < _SHARED_INTEGERS
        and shared
    ):
        return INT_MAX
    return 1


@command(
    "object|idletime",
    3,
    "readonly",
    group=_G,
    since="2.2.3",
    complexity="O(1)",
    summary="Returns the time since the last access to a Redis object.",
    tips="nondeterministic_output",
    keys=_OBJ_KEYS,
    args=(arg("key", "key"),),
)
def object_idletime(ctx: Ctx, argv: list[bytes]) -> int | None:
    """OBJECT IDLETIME key -> seconds since the key was last used (since start-up for a
    key not used lately), or nil."""
    if _object_meta(ctx, argv[2]) is None:
        return None
    if ctx.config["maxmemory-policy"] in _LFU_POLICIES:
        raise errors.err(
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that "
            "when switching between policies at runtime LRU and LFU data will take some "
            "time to adjust."
        )
    return ctx.ks.access.idle_ms(ctx.ks.mkey(ctx.session.db, argv[2])) // 1000


@command(
    "object|freq",
    3,
    "readonly",
    group=_G,
    since="4.0.0",
    complexity="O(1)",
    summary="Returns the logarithmic access frequency counter of a Redis object.",
    tips="nondeterministic_output",
    keys=_OBJ_KEYS,
    args=(arg("key", "key"),),
)
def object_freq(ctx: Ctx, argv: list[bytes]) -> int | None:
    """OBJECT FREQ key -> the logarithmic access counter (LFU policies only), or nil."""
    if _object_meta(ctx, argv[2]) is None:
        return None
    if ctx.config["maxmemory-policy"] not in _LFU_POLICIES:
        raise errors.err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please "
            "note that when switching between policies at runtime LRU and LFU data will "
            "take some time to adjust."
        )
    mkey = ctx.ks.mkey(ctx.session.db, argv[2])
    return ctx.ks.access.counter(mkey, ctx.config["lfu-decay-time"])


help_command(
    "object",
    [
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
    ],
    group=_G,
    since="6.2.0",
)


# -- replication ---------------------------------------------------------------------------
@command(
    "wait",
    3,
    "noscript",
    group=_G,
    acl="connection -keyspace",
    since="3.0.0",
    complexity="O(1)",
    summary="Wait for the synchronous replication of all the write commands sent in the "
    "context of the current connection",
    tips="request_policy:all_shards response_policy:agg_min",
    args=(arg("numreplicas", "integer"), arg("timeout", "integer")),
)
def wait(ctx: Ctx, argv: list[bytes]) -> Any:
    """WAIT numreplicas timeout -> how many replicas acknowledged this client's last
    command's place in the stream: at once when enough did (or in MULTI), else when they
    have, or at the timeout (ms, 0: none) with the count then."""
    if ctx.ks.following:
        raise errors.err(
            "WAIT cannot be used with replica instances. Please also note that since Redis "
            "4.0 if a replica is configured to be writable (which is not the default) "
            "writes to replicas are just local and are not propagated."
        )
    wanted = parse_int(argv[1])
    deadline = parse_timeout_ms(argv[2], seconds=False, now_ms=now_ms())
    woff = ctx.session.woff

    def acknowledged(c: Ctx) -> int:
        return sum(1 for r in c.server.replica_states() if r.state == "online" and r.ack >= woff)

    count = acknowledged(ctx)
    if count >= wanted or ctx.session.in_exec or ctx.session.is_script:
        return count
    ctx.ks.repl.getack = True  # after the batch, replicas are asked to ack at once

    def enough(c: Ctx) -> int | None:
        n = acknowledged(c)
        return n if n >= wanted else None

    return Block([], deadline, None, lambda c, key: None, poll=enough, on_timeout=acknowledged)
