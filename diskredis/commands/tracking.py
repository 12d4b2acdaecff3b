"""Client-side caching (CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO): the tracking
table, the broadcast prefixes and the invalidation messages, as Redis 7.0's tracking.c.

Room: which clients hear of which modified keys, and the messages they get. Imports:
`acl`, `args`, `keyspace.space`, `resp.values`, `context`, `registry` helpers,
`acl.key_positions`, `errors`.

- Default mode: a read-only command run by a tracking client (or by a script it
  called) remembers the command's keys with the client's id in the tracking table. A
  key's first modification after that sends ``invalidate [key]`` to each client that
  remembered it and forgets it (the table holds key names only, whatever the database,
  as Redis's). OPTIN remembers only after CLIENT CACHING YES, OPTOUT always except
  after CLIENT CACHING NO; NOLOOP skips a client's own modifications.
- BCAST: no table; every key modified under a prefix a client registered is sent to it
  once per batch, as Redis sends them once per event loop (`broadcast`).
- FLUSHDB and FLUSHALL send every tracking client a null invalidation. Past
  `tracking-table-max-keys` the oldest remembered keys are invalidated.
- Messages are RESP3 pushes (``>2 invalidate ...``); a client may redirect them to
  another connection, which in RESP2 gets them as pub/sub messages of
  ``__redis__:invalidate`` when it is subscribed to something. A client's own
  invalidations wait until its command has replied (`flush_pending`).

The keyspace reports every modified key through `Keyspace.on_modified`, set while the
table or the prefixes hold anything; with nobody tracking, nothing is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diskredis import errors
from diskredis.commands.acl import key_positions
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx, ServerPort, Session
from diskredis.commands.registry import Command, arg, command, lookup, oneof, token
from diskredis.errors import RedisError
from diskredis.keyspace.space import Keyspace
from diskredis.resp.values import RSet

__all__ = ["Tracked", "Tracking"]

_CONN = "connection"
_CHANNEL = b"__redis__:invalidate"
_MESSAGE_HEAD = b"*3\r\n$7\r\nmessage\r\n$20\r\n" + _CHANNEL + b"\r\n"
_PUSH_HEAD = b">2\r\n$10\r\ninvalidate\r\n"
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}
# Commands whose own keys are not remembered: a read-only script remembers the keys of
# the commands it runs instead.
_NOT_REMEMBERED = frozenset(("eval_ro", "evalsha_ro", "fcall_ro"))
_EVICT_EFFORT = 100  # keys invalidated per pass over the limit, as trackingLimitUsedSlots


@dataclass(eq=False)
class Tracked:
    """A client's tracking mode (CLIENT TRACKING ON ...)."""

    redirect: int = 0
    bcast: bool = False
    optin: bool = False
    optout: bool = False
    noloop: bool = False
    caching: bool = False  # CLIENT CACHING given for the next command
    broken: bool = False  # the redirect client is gone
    prefixes: list[bytes] = field(default_factory=list)


@dataclass(eq=False)
class _Prefix:
    clients: dict[Session, None] = field(default_factory=dict)
    #: keys modified since the last broadcast, and who modified each last (NOLOOP)
    keys: dict[bytes, Session | None] = field(default_factory=dict)


class Tracking:
    """The server's tracking state (touched on the lane only)."""

    def __init__(self, server: ServerPort, ks: Keyspace) -> None:
        self.server = server
        self.ks = ks
        self.table: dict[bytes, dict[int, None]] = {}
        self.items = 0  # ids across the table (INFO tracking_total_items)
        self.prefixes: dict[bytes, _Prefix] = {}
        self.clients = 0  # INFO tracking_clients
        self.current: Session | None = None  # the client whose unit runs (the lane sets it)
        self.modifier: Session | None = None  # the client whose command runs now
        self.pending: list[bytes | None] = []  # the current client's own invalidations
        self.gone: list[Session] = []  # closed connections that were tracking
        self.max_keys = 1_000_000

    # -- the keyspace hook ---------------------------------------------------------------
    def _watch_keyspace(self) -> None:
        """Have the keyspace report modifications while there is anything to report."""
        busy = bool(self.table or self.prefixes)
        self.ks.on_modified = self.modified if busy else None

    def modified(self, key: bytes, expired: bool) -> None:
        """signalModifiedKey -> trackingInvalidateKey (`expired`: removed by expiry, which
        Redis signals without a client)."""
        modifier = None if expired else self.modifier
        if self.prefixes:
            for prefix, state in self.prefixes.items():
                if key.startswith(prefix):
                    state.keys[key] = modifier
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        current = self.current
        for cid in ids:
            target = self.server.session_by_id(cid)
            if target is None or target.tracking is None or target.tracking.bcast:
                continue
            if target is current:
                if not target.tracking.noloop:
                    self.pending.append(key)
                continue
            self._send(target, b"*1\r\n$%d\r\n%s\r\n" % (len(key), key))
        if not self.table and not self.prefixes:
            self._watch_keyspace()

    def flushed(self) -> None:
        """FLUSHDB, FLUSHALL (trackingInvalidateKeysOnFlush): every tracking client hears
        of it, and the table is emptied."""
        for session in self.server.sessions():
            if session.tracking is not None and not session.closed:
                if session is self.current:
                    self.pending.append(None)
                else:
                    self._send(session, _NULL[3 if session.resp >= 3 else 2])
        self.table.clear()
        self.items = 0
        self._watch_keyspace()

    def flush_pending(self, session: Session) -> None:
        """After the current client's command replied: its own invalidations."""
        pending, self.pending = self.pending, []
        if session.closed or session.tracking is None:
            return
        for key in pending:
            if key is None:
                self._send(session, _NULL[3 if session.resp >= 3 else 2])
            else:
                self._send(session, b"*1\r\n$%d\r\n%s\r\n" % (len(key), key))

    def broadcast(self) -> None:
        """trackingBroadcastInvalidationMessages: once per batch, each prefix's modified
        keys (in key order, as Redis's radix tree) to its clients."""
        for state in self.prefixes.values():
            if not state.keys:
                continue
            keys = sorted(state.keys.items())
            state.keys = {}
            shared = _key_array([k for k, _ in keys])
            for session in list(state.clients):
                if session.closed or session.tracking is None:
                    continue
                if session.tracking.noloop:
                    own = [k for k, who in keys if who is not session]
                    if own:
                        self._send(session, _key_array(own))
                else:
                    self._send(session, shared)

    def _send(self, session: Session, value: bytes) -> None:
        """sendTrackingMessage: `value` (an array of keys, or a null) to the client or the
        client it redirects to."""
        mode = session.tracking
        assert mode is not None
        target = session
        redirected = False
        if mode.redirect:
            found = self.server.session_by_id(mode.redirect)
            if found is None or found.closed:
                mode.broken = True
                if session.resp >= 3:
                    self.server.push(
                        session, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % mode.redirect
                    )
                return
            target, redirected = found, True
        if target.resp >= 3:
            self.server.push(target, _PUSH_HEAD + value)
        elif redirected and target.pubsub:
            self.server.push(target, _MESSAGE_HEAD + value)

    # -- reads -------------------------------------------------------------------------
    def remember(self, ctx: Ctx, cmd: Command, argv: list[bytes]) -> None:
        """After a read-only command (trackingRememberKeys): the keys it read, for the
        client that ran it. A read-only command inside a script remembers the keys the
        script declared, for the client that called it, as Redis does."""
        if cmd.name in _NOT_REMEMBERED:
            return
        caller: Session | None = ctx.session
        if ctx.session.is_script:
            caller, argv = ctx.scripts.running, ctx.scripts.argv
            found = lookup(argv) if argv else None
            if found is None:
                return
            cmd = found
        if "pubsub" in cmd.flags:
            return
        mode = None if caller is None else caller.tracking
        if mode is None or mode.bcast:
            return
        if (mode.optin and not mode.caching) or (mode.optout and mode.caching):
            return
        assert caller is not None
        table = self.table
        for i, _ in key_positions(cmd, argv):
            ids = table.get(argv[i])
            if ids is None:
                ids = table[argv[i]] = {}
            if caller.id not in ids:
                ids[caller.id] = None
                self.items += 1
        if self.ks.on_modified is None and table:
            self._watch_keyspace()

    def after_command(self, session: Session, argv: list[bytes]) -> None:
        """resetClient: CLIENT CACHING applies to the next command only (or the next
        transaction); a CLIENT command does not use it up."""
        mode = session.tracking
        if (
            mode is not None
            and mode.caching
            and session.multi is None
            and argv[0].lower() != b"client"
        ):
            mode.caching = False

    def over_limit(self) -> bool:
        return 0 < self.max_keys < len(self.table)

    def evict(self) -> None:
        """trackingLimitUsedSlots: invalidate keys until the table is back within
        tracking-table-max-keys (at most 100 a call; the oldest first, where Redis picks
        at random)."""
        for _ in range(_EVICT_EFFORT):
            if not self.over_limit():
                return
            current, self.current = self.current, None  # signalled without a client
            try:
                self.modified(next(iter(self.table)), True)
            finally:
                self.current = current

    # -- clients -----------------------------------------------------------------------
    def enable(self, session: Session, mode: Tracked, prefixes: list[bytes]) -> None:
        """enableTracking: `mode` replaces the client's mode (CLIENT CACHING given and
        the prefixes registered stay); BCAST adds `prefixes` (none: every key)."""
        old = session.tracking
        if old is None:
            self.clients += 1
        else:
            mode.caching = old.caching
            mode.prefixes = old.prefixes
        if mode.bcast:
            for prefix in prefixes or [b""]:
                state = self.prefixes.setdefault(prefix, _Prefix())
                if session not in state.clients:
                    state.clients[session] = None
                    mode.prefixes.append(prefix)
        session.tracking = mode
        self._watch_keyspace()

    def drop_gone(self) -> None:
        """Forget the clients of connections closed since the last batch."""
        while self.gone:
            self.disable(self.gone.pop())

    def disable(self, session: Session) -> None:
        """disableTracking (CLIENT TRACKING OFF, RESET, a closed connection). The ids it
        left in the table stay until their keys are invalidated, as in Redis."""
        mode = session.tracking
        if mode is None:
            return
        for prefix in mode.prefixes:
            state = self.prefixes.get(prefix)
            if state is not None:
                state.clients.pop(session, None)
                if not state.clients:
                    del self.prefixes[prefix]
        session.tracking = None
        self.clients -= 1
        self._watch_keyspace()

    def info(self) -> dict[str, int]:
        return {
            "tracking_total_keys": len(self.table),
            "tracking_total_items": self.items,
            "tracking_total_prefixes": len(self.prefixes),
        }


def _key_array(keys: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


def _overlaps(a: bytes, b: bytes) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


# -- CLIENT TRACKING | CACHING | GETREDIR | TRACKINGINFO ------------------------------------
_FLAGS = "noscript loading stale"


@command(
    "client|tracking",
    -3,
    _FLAGS,
    group=_CONN,
    acl="connection",
    since="6.0.0",
    complexity="O(1). Some options may introduce additional complexity.",
    summary="Turns server-assisted client-side caching on or off for the connection.",
    args=(
        oneof("status", token("ON"), token("OFF")),
        arg("client-id", "integer", "optional", token="REDIRECT"),
        arg("prefix", "string", "optional", "multiple", "multiple_token", token="PREFIX"),
        token("BCAST", "optional"),
        token("OPTIN", "optional"),
        token("OPTOUT", "optional"),
        token("NOLOOP", "optional"),
    ),
)
def client_tracking(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT]
    [NOLOOP] -> OK."""
    session = ctx.session
    mode = Tracked()
    prefixes: list[bytes] = []
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        more = i < len(argv) - 1
        if opt == b"redirect" and more:
            i += 1
            if mode.redirect:
                raise errors.err("A client can only redirect to a single other client")
            mode.redirect = parse_int(argv[i])
            if ctx.server.session_by_id(mode.redirect) is None:
                raise errors.err("The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            mode.bcast = True
        elif opt == b"optin":
            mode.optin = True
        elif opt == b"optout":
            mode.optout = True
        elif opt == b"noloop":
            mode.noloop = True
        elif opt == b"prefix" and more:
            i += 1
            prefixes.append(argv[i])
        else:
            raise RedisError(errors.SYNTAX)
        i += 1
    status = argv[2].lower()
    tracking: Tracking = ctx.tracking
    if status == b"off":
        tracking.disable(session)
        return "OK"
    if status != b"on":
        raise RedisError(errors.SYNTAX)
    old = session.tracking
    if not mode.bcast and prefixes:
        raise errors.err("PREFIX option requires BCAST mode to be enabled")
    if old is not None and old.bcast != mode.bcast:
        raise errors.err(
            "You can't switch BCAST mode on/off before disabling tracking for "
            "this client, and then re-enabling it with a different mode."
        )
    if mode.bcast and (mode.optin or mode.optout):
        raise errors.err("OPTIN and OPTOUT are not compatible with BCAST")
    if mode.optin and mode.optout:
        raise errors.err("You can't specify both OPTIN mode and OPTOUT mode")
    if old is not None and ((mode.optin and old.optout) or (mode.optout and old.optin)):
        raise errors.err(
            "You can't switch OPTIN/OPTOUT mode before disabling tracking for "
            "this client, and then re-enabling it with a different mode."
        )
    if mode.bcast:
        _check_prefixes(old.prefixes if old is not None else [], prefixes)
    tracking.enable(session, mode, prefixes)
    return "OK"


def _check_prefixes(existing: list[bytes], given: list[bytes]) -> None:
    """checkPrefixCollisionsOrReply: a client's prefixes may not overlap."""
    for i, p in enumerate(given):
        for old in sorted(existing):
            if _overlaps(old, p):
                raise errors.err(
                    "Prefix '%s' overlaps with an existing prefix '%s'. Prefixes "
                    "for a single client must not overlap." % (errors.c_text(p), errors.c_text(old))
                )
        for q in given[i + 1 :]:
            if _overlaps(p, q):
                raise errors.err(
                    "Prefix '%s' overlaps with another provided prefix '%s'. "
                    "Prefixes for a single client must not overlap."
                    % (errors.c_text(p), errors.c_text(q))
                )


@command(
    "client|caching",
    3,
    _FLAGS,
    group=_CONN,
    acl="connection",
    since="6.0.0",
    complexity="O(1)",
    summary="Tells the server whether to track the keys of the next command.",
    args=(oneof("mode", token("YES"), token("NO")),),
)
def client_caching(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT CACHING YES|NO -> OK; the next command (or transaction) is tracked (OPTIN)
    or not (OPTOUT)."""
    mode = ctx.session.tracking
    if mode is None:
        raise errors.err(
            "CLIENT CACHING can be called only when the client is in tracking "
            "mode with OPTIN or OPTOUT mode enabled"
        )
    opt = argv[2].lower()
    if opt == b"yes":
        if not mode.optin:
            raise errors.err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
            )
    elif opt == b"no":
        if not mode.optout:
            raise errors.err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
            )
    else:
        raise RedisError(errors.SYNTAX)
    mode.caching = True
    return "OK"


@command(
    "client|getredir",
    2,
    _FLAGS,
    group=_CONN,
    acl="connection",
    since="6.0.0",
    complexity="O(1)",
    summary="Returns the id of the client that gets this connection's invalidations.",
)
def client_getredir(ctx: Ctx, argv: list[bytes]) -> int:
    """CLIENT GETREDIR -> the redirect id, 0 without one, -1 when not tracking."""
    mode = ctx.session.tracking
    return -1 if mode is None else mode.redirect


@command(
    "client|trackinginfo",
    2,
    _FLAGS,
    group=_CONN,
    acl="connection",
    since="6.2.0",
    complexity="O(1)",
    summary="Returns the connection's client-side caching mode.",
)
def client_trackinginfo(ctx: Ctx, argv: list[bytes]) -> dict[bytes, Any]:
    """CLIENT TRACKINGINFO -> {flags, redirect, prefixes}."""
    mode = ctx.session.tracking
    if mode is None:
        return {b"flags": RSet([b"off"]), b"redirect": -1, b"prefixes": []}
    flags = [b"on"]
    if mode.bcast:
        flags.append(b"bcast")
    if mode.optin:
        flags.append(b"optin")
        if mode.caching:
            flags.append(b"caching-yes")
    if mode.optout:
        flags.append(b"optout")
        if mode.caching:
            flags.append(b"caching-no")
    if mode.noloop:
        flags.append(b"noloop")
    if mode.broken:
        flags.append(b"broken_redirect")
    return {b"flags": RSet(flags), b"redirect": mode.redirect, b"prefixes": sorted(mode.prefixes)}
