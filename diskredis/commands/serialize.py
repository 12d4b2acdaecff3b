"""DUMP and RESTORE: a key's value in Redis's own serialization, both ways.

Room: turning a stored key into an RDB value (`rdb.model`) and back, and the two
commands built on that. Imports: `rdb`, `keyspace`, `errors`, the command registry.

Each type module registers how its values leave (`EXPORTS`, by type code: a function
of the key's record giving an `rdb.model` value) and how they come in (`IMPORTS`, by
model class: a function storing the value under a key, with its expiry). The offline
tools (diskredis-dump, diskredis-restore) use the same two tables, so a value moves
through DUMP/RESTORE, RDB files and JSON lines in one way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.generic import _G
from diskredis.commands.registry import arg, command, keys_at, token
from diskredis.errors import RedisError
from diskredis.keyspace import layout as L
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import NOTIFY_GENERIC, now_ms
from diskredis.rdb import codec
from diskredis.rdb.model import Value

Exporter = Callable[[Ctx, Meta], Value]
Importer = Callable[[Ctx, bytes, Any, int], None]  # ctx, key, value, expire ms (0: none)

EXPORTS: dict[int, Exporter] = {L.STRING: lambda ctx, meta: meta.payload}
IMPORTS: dict[type, Importer] = {}


def _import_string(ctx: Ctx, key: bytes, value: bytes, expire: int) -> None:
    ctx.ks.store(ctx.session.db, key, Meta(L.STRING, expire, value))


IMPORTS[bytes] = _import_string


def export_value(ctx: Ctx, meta: Meta) -> Value:
    """The value of a stored key, as the RDB format carries it."""
    return EXPORTS[meta.type](ctx, meta)


def import_value(ctx: Ctx, key: bytes, value: Value, expire: int = L.NO_EXPIRY) -> None:
    """Store `value` at `key` in the client's database, replacing whatever is there;
    `expire`: absolute ms, 0 for none."""
    IMPORTS[type(value)](ctx, key, value, expire)


@command("dump", 2, "readonly", group=_G, since="2.6.0", tips="nondeterministic_output",
         complexity="O(1) to access the key and additional O(N*M) to serialize it, where N "
                    "is the number of Redis objects composing the value and M their average "
                    "size. For small string values the time complexity is thus O(1)+O(1*M) "
                    "where M is small, so simply O(1).",
         summary="Return a serialized version of the value stored at the specified key.",
         keys=(keys_at("RO access"),), args=(arg("key", "key"),))
def dump(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """DUMP key -> the serialized value (RDB value, RDB version, CRC64), or nil."""
    meta = ctx.ks.lookup(ctx.session.db, argv[1], read=True)
    if meta is None:
        return None
    return codec.dump_payload(export_value(ctx, meta),
                              compress=bool(ctx.config["rdbcompression"]))


@command("restore", -4, "write denyoom", group=_G, acl="dangerous", since="2.6.0",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the "
                    "serialized value, where N is the number of Redis objects composing the "
                    "value and M their average size. For small string values the time "
                    "complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However "
                    "for sorted set values the complexity is O(N*M*log(N)) because inserting "
                    "values into sorted sets is O(log(N)).",
         summary="Create a key using the provided serialized value, previously obtained "
                 "using DUMP.",
         keys=(keys_at("OW update"),),
         history=(("3.0.0", "Added the `REPLACE` modifier."),
                  ("5.0.0", "Added the `ABSTTL` modifier."),
                  ("5.0.0", "Added the `IDLETIME` and `FREQ` options.")),
         args=(arg("key", "key"), arg("ttl", "integer"), arg("serialized-value"),
               token("REPLACE", "optional", since="3.0.0"),
               token("ABSTTL", "optional", since="5.0.0"),
               arg("seconds", "integer", "optional", token="IDLETIME", since="5.0.0"),
               arg("frequency", "integer", "optional", token="FREQ", since="5.0.0")))
def restore(ctx: Ctx, argv: list[bytes]) -> str:
    """RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] -> OK."""
    replace = absttl = False
    idle = freq = -1
    j = 4
    while j < len(argv):
        opt = argv[j].lower()
        more = j + 1 < len(argv)
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more and freq == -1:
            idle = parse_int(argv[j + 1])
            if idle < 0:
                raise RedisError(errors.RESTORE_BAD_IDLETIME)
            j += 1
        elif opt == b"freq" and more and idle == -1:
            freq = parse_int(argv[j + 1])
            if not 0 <= freq <= 255:
                raise RedisError(errors.RESTORE_BAD_FREQ)
            j += 1
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    db, key = ctx.session.db, argv[1]
    if not replace and ctx.ks.lookup(db, key) is not None:
        raise RedisError(errors.BUSYKEY)
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise RedisError(errors.RESTORE_BAD_TTL)
    try:
        value = codec.parse_dump(argv[3])
    except codec.BadFooter:
        raise RedisError(errors.DUMP_PAYLOAD_WRONG) from None
    except codec.RdbError:
        raise RedisError(errors.BAD_DATA_FORMAT) from None
    deleted = replace and ctx.ks.remove(db, key)
    if ttl and not absttl:
        ttl += now_ms()
    if ttl and ttl <= now_ms():
        if deleted:
            ctx.notify(NOTIFY_GENERIC, b"del", key)
        return "OK"
    import_value(ctx, key, value, ttl)
    ctx.ks.set_access(db, key, idle_ms=idle * 1000 if idle >= 0 else None,
                      counter=freq if freq >= 0 else None)
    ctx.notify(NOTIFY_GENERIC, b"restore", key)
    return "OK"
