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
import threading
import time
from collections.abc import Callable
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx, Offload, Resume
from diskredis.commands.generic import _G
from diskredis.commands.registry import Arg, KeySpec, arg, block, command, keys_at, oneof, token
from diskredis.config import Config
from diskredis.errors import RedisError
from diskredis.keyspace import types
from diskredis.keyspace.backlog import encode_command
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import NOTIFY_GENERIC, Keyspace
from diskredis.keyspace.types import NO_EXPIRY, Meta, count_of
from diskredis.keyspace.watches import Watch
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
def restore(ctx: Ctx, argv: list[bytes]) -> str | Offload:
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
    if ttl and not absttl:
        ttl += now_ms()
    payload = argv[3]
    restored = _Restored(argv, key, ttl, replace, absttl, idle, freq)
    if len(payload) > _OFFLOAD_PAYLOAD and ctx.may_offload:
        return Offload(lambda view: restored.prepare(ctx, payload), snapshot=False)
    value = _parse_payload(payload)
    if isinstance(value, RedisError):
        raise value
    restored.put(ctx, lambda expire: import_value(ctx, key, value, expire))
    return "OK"


# A payload longer than this is checked and decoded on a worker thread, and a
# collection's elements are written in steps (`types.Build`): the other clients go on.
_OFFLOAD_PAYLOAD = 256 << 10


def _parse_payload(payload: bytes) -> Value | RedisError:
    """A DUMP payload's value, or RESTORE's error for a bad one."""
    try:
        return codec.parse_dump(payload)
    except codec.BadFooter:
        return RedisError(errors.DUMP_PAYLOAD_WRONG)
    except codec.RdbError:
        return RedisError(errors.BAD_DATA_FORMAT)


class _Restored:
    """What RESTORE stores, and how (its arguments, checked): at once, or, for a big
    payload, decoded on a worker thread (`prepare`) and built in steps on the lane,
    then stored where the command ends (`Resume`)."""

    def __init__(
        self,
        argv: list[bytes],
        key: bytes,
        deadline: int,
        replace: bool,
        absttl: bool,
        idle: int,
        freq: int,
    ) -> None:
        self.argv, self.key, self.deadline = argv, key, deadline
        self.replace, self.absttl, self.idle, self.freq = replace, absttl, idle, freq
        # When the command came: a value built in steps is stored even if its deadline
        # passed meanwhile (then expires, as it would have after a quick RESTORE).
        self.now = now_ms()

    def prepare(self, ctx: Ctx, payload: bytes) -> Resume | RedisError:
        """On a worker thread: the payload checked and decoded; the rest on the lane."""
        value = _parse_payload(payload)
        if isinstance(value, RedisError):
            return value
        build = types.Build(ctx.ks, self.key, value, ctx.config)
        return Resume(lambda c: self.finish(c, build), build.abandon, build)

    def finish(self, ctx: Ctx, build: types.Build) -> str:
        """The end of a RESTORE whose value was built in steps: as if the command ran
        now (the key may have been set meanwhile: BUSYKEY)."""
        if not self.replace and ctx.lookup(self.key) is not None:
            build.abandon()
            raise RedisError(errors.BUSYKEY)
        if not self.put(ctx, lambda expire: build.store(ctx.session.db, self.key, expire)):
            build.abandon()  # past its deadline by now
        return "OK"

    def put(self, ctx: Ctx, store: Callable[[int], None]) -> bool:
        """Store the value (`store(expire)`) at the key, replacing what is there with
        REPLACE; a deadline past when the command came stores nothing (and only
        deletes): False."""
        db, key, deadline = ctx.session.db, self.key, self.deadline
        deleted = self.replace and ctx.ks.remove(db, key)
        if deadline and deadline <= self.now:
            if deleted:
                ctx.notify(NOTIFY_GENERIC, b"del", key)
                ctx.propagate_as(b"DEL", key)
            return False
        store(deadline)
        argv = self.argv
        if deadline and not self.absttl:  # replicated with the deadline it gave
            ctx.propagate_as(argv[0], key, b"%d" % deadline, *argv[3:], b"ABSTTL")
        ctx.ks.access.restore(
            ctx.ks.mkey(db, key),
            idle_ms=self.idle * 1000 if self.idle >= 0 else None,
            counter=self.freq if self.freq >= 0 else None,
        )
        ctx.notify(NOTIFY_GENERIC, b"restore", key)
        return True


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
# MIGRATE runs on the lane and, for big values, on worker threads: a link is taken out
# of the cache while one of them uses it, and put back after.
_LINKS_LOCK = threading.Lock()


def _take_link(host: bytes, port: bytes, timeout_ms: int) -> _Link | None:
    """The cached link to host:port, or a new one (None: cannot connect)."""
    now = time.monotonic()
    where = (host, port)
    with _LINKS_LOCK:
        for old_where, old in list(_LINKS.items()):
            if now - old.last_use > _SOCKET_CACHE_TTL:
                del _LINKS[old_where]
                old.sock.close()
        link = _LINKS.pop(where, None)
    if link is None:
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
        link = _Link(sock)
    link.sock.settimeout(timeout_ms / 1000)
    link.last_use = now
    return link


def _give_back(where: tuple[bytes, bytes], link: _Link) -> None:
    """Keep a link that works for the next MIGRATE to the same place (at most
    _SOCKET_CACHE_ITEMS of them, the oldest closed first)."""
    with _LINKS_LOCK:
        old = _LINKS.pop(where, None)
        if old is not None:  # another MIGRATE to the same place cached one meanwhile
            old.sock.close()
        if len(_LINKS) >= _SOCKET_CACHE_ITEMS:
            first = next(iter(_LINKS))
            _LINKS.pop(first).sock.close()
        _LINKS[where] = link


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
    plan = _Migration(argv[1], argv[2], dbid, timeout, copy, replace, user, password)
    db = ctx.session.db
    found = []
    for key in argv[first : first + num]:
        meta = ctx.lookup(key, db, read=True)
        if meta is not None:
            found.append((key, meta))
    if not found:
        return Status(b"NOKEY")
    if ctx.may_offload and any(_big(meta) for _, meta in found):
        return plan.offload(ctx, db, [key for key, _ in found])
    return plan.run(ctx, db, found, set())


def _big(meta: Meta) -> bool:
    """Whether DUMPing this value would hold the lane long (see DUMP)."""
    if types.by_code[meta.type].collection:
        return count_of(meta) > _OFFLOAD_ELEMENTS
    return len(meta.payload) > _OFFLOAD_BYTES


class _Migration:
    """One MIGRATE: where to, and how. Like Redis, it talks to the target synchronously,
    on the lane (with the command's timeout on every step) -- except when a value is
    big: then the values are read and encoded, and the target is talked to, on a worker
    thread over a snapshot (`offload`), and only deleting what the target took is left
    for the lane."""

    def __init__(
        self,
        host: bytes,
        port: bytes,
        dbid: int,
        timeout: int,
        copy: bool,
        replace: bool,
        user: bytes | None,
        password: bytes | None,
    ) -> None:
        self.host, self.port, self.dbid, self.timeout = host, port, dbid, timeout
        self.copy, self.replace, self.user, self.password = copy, replace, user, password

    def run(
        self, ctx: Ctx, db: int, found: list[tuple[bytes, Meta]], sent_before: set[bytes]
    ) -> Any:
        """The whole command on the lane. `sent_before`: keys an offloaded attempt gave
        the target and that changed since: sent again with REPLACE."""
        compress = bool(ctx.config["rdbcompression"])
        dumps = self.dumps(found, lambda meta: export_value(ctx, meta), compress, sent_before)
        accepted, error = self.transfer(dumps)
        return self.apply(ctx, db, accepted, error)

    def dumps(
        self,
        found: list[tuple[bytes, Meta]],
        export: Callable[[Meta], Value],
        compress: bool,
        sent_before: set[bytes],
    ) -> list[tuple[bytes, int, bytes, bool]]:
        """(key, ttl ms or 0, DUMP payload, REPLACE) of each value still live."""
        out = []
        now = now_ms()
        for key, meta in found:
            ttl = 0
            if meta.expire:
                ttl = meta.expire - now
                if ttl < 0:
                    continue
                ttl = max(ttl, 1)
            payload = codec.dump_payload(export(meta), compress=compress)
            out.append((key, ttl, payload, self.replace or key in sent_before))
        return out

    def transfer(
        self, dumps: list[tuple[bytes, int, bytes, bool]]
    ) -> tuple[list[bytes], RedisError | None]:
        """Send the RESTOREs to the target: (keys it took, in order; the error to
        answer with, if any). Any thread."""
        where = (self.host, self.port)
        may_retry = True
        while True:
            link = _take_link(self.host, self.port, self.timeout)
            if link is None:
                return [], RedisError(errors.MIGRATE_CONNECT)
            out = []
            if self.password is not None:
                user = (self.user,) if self.user is not None else ()
                out.append(encode_command([b"AUTH", *user, self.password]))
            select = link.last_db != self.dbid
            if select:
                out.append(encode_command([b"SELECT", b"%d" % self.dbid]))
            for key, ttl, payload, replace in dumps:
                extra = (b"REPLACE",) if replace else ()
                out.append(encode_command([b"RESTORE", key, b"%d" % ttl, payload, *extra]))
            try:
                link.sock.sendall(b"".join(out))
            except OSError as e:
                link.sock.close()
                if may_retry and not isinstance(e, TimeoutError):
                    may_retry = False
                    continue
                return [], RedisError(errors.MIGRATE_IO % "writing")
            try:
                auth_reply = link.readline() if self.password is not None else b"+OK"
                select_reply = link.readline() if select else b"+OK"
            except (OSError, ConnectionError) as e:
                link.sock.close()
                if may_retry and not isinstance(e, TimeoutError):
                    may_retry = False
                    continue
                return [], RedisError(errors.MIGRATE_IO % "reading")
            target_error = None
            for reply in (auth_reply, select_reply):
                if reply[:1] == b"-":
                    target_error = reply[1:].decode("utf-8", "replace")
                    break
            accepted: list[bytes] = []
            done = 0
            socket_error: BaseException | None = None
            for key, *_ in dumps:
                try:
                    reply = link.readline()
                except (OSError, ConnectionError) as e:
                    socket_error = e
                    break
                done += 1
                if reply[:1] == b"-" and target_error is None:
                    target_error = reply[1:].decode("utf-8", "replace")
                elif reply[:1] != b"-" and auth_reply[:1] != b"-" and select_reply[:1] != b"-":
                    accepted.append(key)
            if socket_error is not None:
                link.sock.close()
                if (
                    target_error is None
                    and done == 0
                    and may_retry
                    and not isinstance(socket_error, TimeoutError)
                ):
                    may_retry = False
                    continue
                if target_error is None:
                    return accepted, RedisError(errors.MIGRATE_IO % "reading")
                return accepted, RedisError(errors.MIGRATE_TARGET % target_error)
            if target_error is not None:
                link.last_db = -1
                _give_back(where, link)
                return accepted, RedisError(errors.MIGRATE_TARGET % target_error)
            link.last_db = self.dbid
            _give_back(where, link)
            return accepted, None

    def apply(self, ctx: Ctx, db: int, accepted: list[bytes], error: RedisError | None) -> Any:
        """On the lane: delete what the target took (unless COPY); the reply."""
        if not self.copy and accepted:
            for key in accepted:
                ctx.ks.remove(db, key)
                ctx.notify(NOTIFY_GENERIC, b"del", key)
            ctx.propagate_as(b"DEL", *accepted)  # replicas delete what the target took
        if error is not None:
            raise error
        return "OK"

    def offload(self, ctx: Ctx, db: int, keys: list[bytes]) -> Offload:
        """The values read, encoded and sent on a worker thread, over a snapshot of
        this moment; the keys are watched meanwhile. If one changed by the time the
        target has answered, the command is done again on the lane (as Redis does it),
        with REPLACE for the keys the target took, rather than delete a newer value than
        the one sent. (A key deleted here meanwhile stays there: nothing tells that
        the target's copy is still the one sent -- another MIGRATE of the key may have
        put it there -- and a key resurrected is better than a key lost.)"""
        ks = ctx.ks
        watch = Watch()
        if not self.copy:
            for key in keys:
                ks.watches.watch(watch, db, key)
        compress = bool(ctx.config["rdbcompression"])

        def job(view: Keyspace | None) -> Any:
            assert view is not None
            now = now_ms()
            found = []
            for key in keys:
                meta = view.record(db, key)
                if meta is not None and not (meta.expire and meta.expire <= now):
                    found.append((key, meta))
            dumps = self.dumps(
                found, lambda meta: types.export(view, meta, Config()), compress, set()
            )
            accepted, error = self.transfer(dumps)

            def finish(c: Ctx) -> Any:
                changed = watch.dirty
                ks.watches.unwatch(watch)
                if changed:  # changed meanwhile: again, on the lane
                    again = [(k, m) for k in keys if (m := c.lookup(k, db, read=True)) is not None]
                    if not again:
                        return Status(b"NOKEY")
                    return self.run(c, db, again, set(accepted))
                return self.apply(c, db, accepted, error)

            return Resume(finish, lambda: ks.watches.unwatch(watch))

        return Offload(job, abandon=lambda: ks.watches.unwatch(watch))


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
