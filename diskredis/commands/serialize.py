"""DUMP and RESTORE: a key's value in Redis's own serialization, both ways.

Room: turning a stored key into an RDB value (`rdb.model`) and back, and the two
commands built on that. Imports: `args`, `context`, `generic`, `resp.values`, `util`,
`config`, `rdb`, `keyspace`, `errors`, the command registry.

Each type module (`keyspace.types`) says how its values leave (an `rdb.model` value of
the key's record) and how they come in; the offline tools (diskredis-dump,
diskredis-restore) use the same registry, so a value moves through DUMP/RESTORE, RDB
files and JSON lines in one way.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import time
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx, Offload
from diskredis.commands.generic import _G
from diskredis.commands.registry import Arg, KeySpec, arg, block, command, keys_at, oneof, token
from diskredis.config import Config
from diskredis.errors import RedisError
from diskredis.keyspace import types
from diskredis.keyspace.backlog import encode_command
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import NOTIFY_GENERIC, Keyspace
from diskredis.keyspace.types import NO_EXPIRY, Meta, count_of
from diskredis.rdb import codec, model
from diskredis.rdb.model import Value
from diskredis.resp.values import Status
from diskredis.util import atoi


def export_value(ctx: Ctx, meta: Meta) -> Value:
    """The value of a stored key, as the RDB format carries it."""
    return types.export(ctx.ks, meta, ctx.config)


# -- DEBUG DIGEST (debug.c's xorObjectDigest) ------------------------------------------------
def xor_digest(digest: bytearray, data: bytes) -> None:
    for i, b in enumerate(hashlib.sha1(data).digest()):
        digest[i] ^= b


def mix_digest(digest: bytearray, data: bytes) -> None:
    """digest = SHA1(digest xor SHA1(data)): order counts."""
    xor_digest(digest, data)
    digest[:] = hashlib.sha1(digest).digest()


def value_digest(ctx: Ctx, meta: Meta, digest: bytearray) -> None:
    """Mix a stored value into `digest` as Redis does: ordered collections (lists, stream
    entries) mixed in order, unordered ones xored element by element, so two servers
    holding the same data agree whatever their storage order."""
    value = export_value(ctx, meta)
    mix_digest(digest, struct.pack(">I", types.by_code[meta.type].obj))
    if isinstance(value, bytes):
        mix_digest(digest, value)
    elif isinstance(value, model.RList):
        for item in value.items:
            mix_digest(digest, item)
    elif isinstance(value, model.RSet):
        for member in value.members:
            xor_digest(digest, member)
    elif isinstance(value, (model.RZSet, model.RHash)):
        for element, other in value.pairs:
            pair = bytearray(20)
            mix_digest(pair, element)
            mix_digest(pair, b"%.17g" % other if isinstance(other, float) else other)
            xor_digest(digest, bytes(pair))
    else:
        for node in value.nodes:
            for (ms, seq), fields in node.entries:
                mix_digest(digest, b"%d.%d" % (ms, seq))
                for item in fields:
                    mix_digest(digest, item)
    if meta.expire:
        xor_digest(digest, b"!!expire!!")


def import_value(ctx: Ctx, key: bytes, value: Value, expire: int = NO_EXPIRY) -> None:
    """Store `value` at `key` in the client's database, which must be free; `expire`:
    absolute ms, 0 for none."""
    types.load(ctx.ks, ctx.session.db, key, value, expire, ctx.config)


@command(
    "dump",
    2,
    "readonly",
    group=_G,
    since="2.6.0",
    tips="nondeterministic_output",
    complexity="O(1) to access the key and additional O(N*M) to serialize it, where N "
    "is the number of Redis objects composing the value and M their average "
    "size. For small string values the time complexity is thus O(1)+O(1*M) "
    "where M is small, so simply O(1).",
    summary="Return a serialized version of the value stored at the specified key.",
    keys=(keys_at("RO access"),),
    args=(arg("key", "key"),),
)
def dump(ctx: Ctx, argv: list[bytes]) -> bytes | Offload | None:
    """DUMP key -> the serialized value (RDB value, RDB version, CRC64), or nil. A
    collection of more than _OFFLOAD_ELEMENTS elements is read and encoded on a worker
    thread, over a snapshot of this moment, and so is a string of more than
    _OFFLOAD_BYTES (it is in hand already: no snapshot): the other clients go on."""
    meta = ctx.lookup(argv[1], read=True)
    if meta is None or not ctx.may_offload:
        return None if meta is None else dump_payload(ctx, meta)
    compress = bool(ctx.config["rdbcompression"])
    if not types.by_code[meta.type].collection:
        if len(meta.payload) <= _OFFLOAD_BYTES:
            return dump_payload(ctx, meta)
        value = meta.payload
        return Offload(lambda view: codec.dump_payload(value, compress), snapshot=False)
    if count_of(meta) <= _OFFLOAD_ELEMENTS:
        return dump_payload(ctx, meta)
    db, key = ctx.session.db, argv[1]

    def job(view: Keyspace | None) -> bytes | None:
        assert view is not None
        found = view.record(db, key)
        if found is None or (found.expire and found.expire <= now_ms()):
            return None  # expired since: as if DUMP had come a moment later
        return codec.dump_payload(types.export(view, found, Config()), compress)

    return Offload(job)


# Collections bigger than this are DUMPed on a worker thread: exporting and encoding
# take about 2 us an element here, so this keeps a DUMP on the lane under ~10 ms; and
# strings longer than this (copies and the checksum, about 5 ms a MB).
_OFFLOAD_ELEMENTS = 4096
_OFFLOAD_BYTES = 1 << 20


def dump_payload(ctx: Ctx, meta: Meta) -> bytes:
    """DUMP's payload of a stored value: its RDB type and encoding, version, CRC64."""
    return codec.dump_payload(export_value(ctx, meta), compress=bool(ctx.config["rdbcompression"]))


_RESTORE_COMPLEXITY = (
    "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, "
    "where N is the number of Redis objects composing the value and M their average size. "
    "For small string values the time complexity is thus O(1)+O(1*M) where M is small, so "
    "simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because "
    "inserting values into sorted sets is O(log(N))."
)
_RESTORE_HISTORY = (
    ("3.0.0", "Added the `REPLACE` modifier."),
    ("5.0.0", "Added the `ABSTTL` modifier."),
    ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
)
_RESTORE_ARGS = (
    arg("key", "key", key=0),
    arg("ttl", "integer"),
    arg("serialized-value"),
    token("REPLACE", "optional", since="3.0.0"),
    token("ABSTTL", "optional", since="5.0.0"),
    arg("seconds", "integer", "optional", token="IDLETIME", since="5.0.0"),
    arg("frequency", "integer", "optional", token="FREQ", since="5.0.0"),
)


@command(
    "restore",
    -4,
    "write denyoom",
    group=_G,
    acl="dangerous",
    since="2.6.0",
    complexity=_RESTORE_COMPLEXITY,
    summary="Create a key using the provided serialized value, previously obtained using DUMP.",
    keys=(keys_at("OW update"),),
    history=_RESTORE_HISTORY,
    args=_RESTORE_ARGS,
)
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
    if not replace and ctx.lookup(key, db) is not None:
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
            ctx.propagate_as(b"DEL", key)
        return "OK"
    import_value(ctx, key, value, ttl)
    if ttl and not absttl:  # replicated with the deadline it gave
        ctx.propagate_as(argv[0], key, b"%d" % ttl, *argv[3:], b"ABSTTL")
    ctx.ks.access.restore(
        ctx.ks.mkey(db, key),
        idle_ms=idle * 1000 if idle >= 0 else None,
        counter=freq if freq >= 0 else None,
    )
    ctx.notify(NOTIFY_GENERIC, b"restore", key)
    return "OK"


# -- MIGRATE ----------------------------------------------------------------------------------
# Like Redis, MIGRATE talks to the target synchronously: the lane waits for it (with the
# command's timeout on every step), as Redis's event loop does. Connections are kept
# for reuse, at most 64, and closed after 10 seconds unused (migrateGetSocket).
_SOCKET_CACHE_ITEMS = 64
_SOCKET_CACHE_TTL = 10.0


class _Refused:
    """A connection the target refused. Redis's blocking connect only waits for the
    socket to become writable, which a refusal makes it, so Redis reports the failure
    when it writes: "error or timeout writing to target instance"."""

    def sendall(self, data: bytes) -> None:
        raise ConnectionRefusedError("connection refused")

    def settimeout(self, value: float) -> None:
        pass

    def close(self) -> None:
        pass

    def recv(self, size: int) -> bytes:
        raise ConnectionRefusedError("connection refused")


class _Link:
    def __init__(self, sock: socket.socket | _Refused) -> None:
        self.sock = sock
        self.buf = b""
        self.last_db = -1
        self.last_use = time.monotonic()

    def readline(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the target")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")


_LINKS: dict[tuple[bytes, bytes], _Link] = {}


def _close_link(where: tuple[bytes, bytes]) -> None:
    link = _LINKS.pop(where, None)
    if link is not None:
        link.sock.close()


def _link(host: bytes, port: bytes, timeout_ms: int) -> _Link | None:
    now = time.monotonic()
    for where, old in list(_LINKS.items()):
        if now - old.last_use > _SOCKET_CACHE_TTL:
            _close_link(where)
    where = (host, port)
    link = _LINKS.get(where)
    if link is None:
        if len(_LINKS) >= _SOCKET_CACHE_ITEMS:
            _close_link(next(iter(_LINKS)))
        sock: socket.socket | _Refused
        try:
            sock = socket.create_connection(
                (host.decode("latin-1"), atoi(port)), timeout=timeout_ms / 1000
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (TimeoutError, socket.gaierror, ValueError, OverflowError, UnicodeError):
            return None
        except OSError:
            sock = _Refused()
        link = _LINKS[where] = _Link(sock)
    link.sock.settimeout(timeout_ms / 1000)
    link.last_use = now
    return link


def migrate_keys(argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """migrateGetKeys: the key argument, or what follows KEYS (with an empty key)."""
    first, num = 3, 1
    i = 6
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"keys":
            if argv[3]:
                num = 0
            else:
                first, num = i + 1, len(argv) - i - 1
            break
        i += {b"auth": 1, b"auth2": 2}.get(opt, 0) + 1
    return [(first + k, ("RW", "access", "delete")) for k in range(num)]


@command(
    "migrate",
    -6,
    "write",
    group=_G,
    acl="dangerous",
    since="2.6.0",
    tips="nondeterministic_output",
    complexity="This command actually executes a DUMP+DEL in the source instance, and a "
    "RESTORE in the target instance. See the pages of these commands for time "
    "complexity. Also an O(N) data transfer between the two instances is "
    "performed.",
    summary="Atomically transfer a key from a Redis instance to another one.",
    keys=(
        keys_at("RW access delete", index=3),
        KeySpec(
            ("RW", "access", "delete", "incomplete"), ("keyword", "KEYS", -2), ("range", -1, 1, 0)
        ),
    ),
    history=(
        ("3.0.0", "Added the `COPY` and `REPLACE` options."),
        ("3.0.6", "Added the `KEYS` option."),
        ("4.0.7", "Added the `AUTH` option."),
        ("6.0.0", "Added the `AUTH2` option."),
    ),
    args=(
        arg("host"),
        arg("port", "integer"),
        oneof(
            "key_or_empty_string", arg("key", "key", key=0), Arg("empty_string", "pure-token", "")
        ),
        arg("destination-db", "integer"),
        arg("timeout", "integer"),
        token("COPY", "optional", since="3.0.0"),
        token("REPLACE", "optional", since="3.0.0"),
        oneof(
            "authentication",
            arg("password", "string", "optional", token="AUTH", since="4.0.7"),
            block(
                "username_password",
                arg("username"),
                arg("password"),
                flags=("optional",),
                tok="AUTH2",
                since="6.0.0",
            ),
            flags=("optional",),
        ),
        arg("key", "key", "optional", "multiple", token="KEYS", key=1, since="3.0.6"),
    ),
    getkeys=migrate_keys,
)
def migrate(ctx: Ctx, argv: list[bytes]) -> Any:
    """MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
    [KEYS key ...] -> OK, NOKEY, or the target's error."""
    copy = replace = False
    user = password = None
    first, num = 3, 1
    j = 6
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise RedisError(errors.SYNTAX)
            j += 1
            password = argv[j]
        elif opt == b"auth2":
            if more < 2:
                raise RedisError(errors.SYNTAX)
            user, password = argv[j + 1], argv[j + 2]
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise RedisError(errors.MIGRATE_KEYS_NOT_EMPTY)
            first, num = j + 1, len(argv) - j - 1
            break
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    timeout = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout <= 0:
        timeout = 1000
    db = ctx.session.db
    found = []
    for key in argv[first : first + num]:
        meta = ctx.lookup(key, db, read=True)
        if meta is not None:
            found.append((key, meta))
    if not found:
        return Status(b"NOKEY")
    where = (argv[1], argv[2])
    may_retry = True
    moved: list[bytes] = []  # deleted here once the target had them
    while True:
        link = _link(argv[1], argv[2], timeout)
        if link is None:
            raise RedisError(errors.MIGRATE_CONNECT)
        out = []
        if password is not None:
            out.append(encode_command([b"AUTH", *((user,) if user is not None else ()), password]))
        select = link.last_db != dbid
        if select:
            out.append(encode_command([b"SELECT", b"%d" % dbid]))
        sent = []
        now = now_ms()
        for key, meta in found:
            ttl = 0
            if meta.expire:
                ttl = meta.expire - now
                if ttl < 0:
                    continue
                ttl = max(ttl, 1)
            payload = codec.dump_payload(
                export_value(ctx, meta), compress=bool(ctx.config["rdbcompression"])
            )
            out.append(
                encode_command(
                    [b"RESTORE", key, b"%d" % ttl, payload, *((b"REPLACE",) if replace else ())]
                )
            )
            sent.append(key)
        try:
            link.sock.sendall(b"".join(out))
        except OSError as e:
            _close_link(where)
            if may_retry and not isinstance(e, TimeoutError):
                may_retry = False
                continue
            raise RedisError(errors.MIGRATE_IO % "writing") from None
        try:
            auth_reply = link.readline() if password is not None else b"+OK"
            select_reply = link.readline() if select else b"+OK"
        except (OSError, ConnectionError) as e:
            _close_link(where)
            if may_retry and not isinstance(e, TimeoutError):
                may_retry = False
                continue
            raise RedisError(errors.MIGRATE_IO % "reading") from None
        target_error = None
        done = 0
        socket_error: BaseException | None = None
        for key in sent:
            try:
                reply = link.readline()
            except (OSError, ConnectionError) as e:
                socket_error = e
                break
            done += 1
            if auth_reply[:1] == b"-" or select_reply[:1] == b"-" or reply[:1] == b"-":
                if target_error is None:
                    link.last_db = -1
                    bad = (
                        auth_reply
                        if auth_reply[:1] == b"-"
                        else select_reply
                        if select_reply[:1] == b"-"
                        else reply
                    )
                    target_error = bad[1:].decode("utf-8", "replace")
            elif not copy:
                ctx.ks.remove(db, key)
                ctx.notify(NOTIFY_GENERIC, b"del", key)
                moved.append(key)
                ctx.propagate_as(b"DEL", *moved)  # replicas delete what the target took
        if socket_error is not None:
            _close_link(where)
            if (
                target_error is None
                and done == 0
                and may_retry
                and not isinstance(socket_error, TimeoutError)
            ):
                may_retry = False
                continue
            if target_error is None:
                raise RedisError(errors.MIGRATE_IO % "reading")
        if target_error is not None:
            raise RedisError(errors.MIGRATE_TARGET % target_error)
        link.last_db = dbid
        return "OK"


@command(
    "restore-asking",
    -4,
    "write denyoom asking",
    group="server",
    acl="keyspace dangerous",
    since="3.0.0",
    doc_flags="syscmd",
    complexity=_RESTORE_COMPLEXITY,
    summary="RESTORE as MIGRATE sends it to a cluster node (a server-to-server command).",
    keys=(keys_at("OW update"),),
    history=_RESTORE_HISTORY,
    args=_RESTORE_ARGS,
)
def restore_asking(ctx: Ctx, argv: list[bytes]) -> Any:
    """RESTORE-ASKING key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] ->
    OK: RESTORE as MIGRATE sends it to a cluster node being migrated to (standalone, the
    ASKING it implies changes nothing)."""
    return restore(ctx, argv)
