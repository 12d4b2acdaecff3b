"""Connection commands: PING ECHO QUIT SELECT HELLO AUTH RESET and CLIENT.

Room: the "connection" group of Redis. Imports: `acl`, `dispatch`, `registry`, `context`,
`args`, `errors`, `resp.values`. The client list and kills go through
`ctx.server` (the server's port); everything else is the session's own state.
"""

from __future__ import annotations

import time
from typing import Any

from diskredis import errors
from diskredis.commands.acl import acl_of, authenticate, set_user
from diskredis.commands.args import parse_int
from diskredis.commands.context import REDIS_VERSION, Ctx, Session
from diskredis.commands.dispatch import NO_REPLY
from diskredis.commands.registry import arg, block, command, container, help_command, oneof, token
from diskredis.errors import RedisError
from diskredis.resp.values import Verbatim

_CONN = "connection"


@command(
    "ping",
    -1,
    "fast",
    group=_CONN,
    acl="connection",
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the server's liveliness response.",
    tips="request_policy:all_shards response_policy:all_succeeded",
    args=(arg("message", "string", "optional"),),
)
def ping(ctx: Ctx, argv: list[bytes]) -> Any:
    """PING [message] -> PONG or the message; [pong, message] for a RESP2 subscriber."""
    if len(argv) > 2:
        raise errors.wrong_arity("ping")
    if ctx.session.pubsub and ctx.session.resp == 2:
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else "PONG"


@command(
    "echo",
    2,
    "loading stale fast",
    group=_CONN,
    acl="connection",
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the given string.",
    args=(arg("message"),),
)
def echo(ctx: Ctx, argv: list[bytes]) -> bytes:
    """ECHO message -> message."""
    return argv[1]


@command(
    "quit",
    -1,
    "noscript loading stale fast no_auth allow_busy",
    group=_CONN,
    acl="connection",
    since="1.0.0",
    complexity="O(1)",
    summary="Closes the connection.",
)
def quit_(ctx: Ctx, argv: list[bytes]) -> str:
    """QUIT -> OK, then the connection closes."""
    ctx.session.close_after_reply = True
    return "OK"


@command(
    "select",
    2,
    "loading stale fast",
    group=_CONN,
    acl="connection",
    since="1.0.0",
    complexity="O(1)",
    summary="Changes the selected database.",
    args=(arg("index", "integer"),),
)
def select(ctx: Ctx, argv: list[bytes]) -> str:
    """SELECT index -> OK."""
    db = parse_int(argv[1])
    if not 0 <= db < ctx.config["databases"]:
        raise RedisError(errors.INVALID_DB)
    ctx.session.db = db
    return "OK"


@command(
    "auth",
    -2,
    "noscript loading stale fast no_auth allow_busy",
    group=_CONN,
    acl="connection",
    since="1.0.0",
    complexity="O(N) where N is the number of passwords defined for the user",
    summary="Authenticates the connection.",
    history=(("6.0.0", "Added ACL style (username and password)."),),
    args=(arg("username", "string", "optional", since="6.0.0"), arg("password")),
)
def auth(ctx: Ctx, argv: list[bytes]) -> str:
    """AUTH [username] password -> OK."""
    if len(argv) > 3:
        raise RedisError(errors.SYNTAX)
    if len(argv) == 2:
        if acl_of(ctx).default.nopass:
            raise RedisError(errors.AUTH_NOPASS)
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    if not authenticate(ctx, argv[0], user, password):
        raise RedisError(errors.WRONGPASS)
    return "OK"


def valid_client_name(name: bytes) -> bool:
    return all(0x21 <= c <= 0x7E for c in name)


def set_client_name(session: Session, name: bytes) -> None:
    if not valid_client_name(name):
        raise errors.err("Client names cannot contain spaces, newlines or special characters.")
    session.name = name


@command(
    "hello",
    -1,
    "noscript loading stale fast no_auth allow_busy",
    group=_CONN,
    acl="connection",
    since="6.0.0",
    complexity="O(1)",
    summary="Handshakes with the Redis server.",
    history=(
        (
            "6.2.0",
            "`protover` made optional; when called without arguments "
            "the command reports the current connection's context.",
        ),
    ),
    args=(
        block(
            "arguments",
            arg("protover", "integer"),
            block(
                "username_password",
                arg("username"),
                arg("password"),
                flags=("optional",),
                tok="AUTH",
            ),
            arg("clientname", "string", "optional", token="SETNAME"),
            flags=("optional",),
        ),
    ),
)
def hello(ctx: Ctx, argv: list[bytes]) -> dict[bytes, Any]:
    """HELLO [protover [AUTH username password] [SETNAME clientname]] -> server map."""
    session = ctx.session
    ver = 0
    if len(argv) >= 2:
        ver = parse_int(argv[1], "ERR Protocol version is not an integer or out of range")
        if ver < 2 or ver > 3:
            raise RedisError(errors.NOPROTO)
    j = 2
    while j < len(argv):  # helloCommand's loop
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"auth" and more >= 2:
            if not authenticate(ctx, argv[0], argv[j + 1], argv[j + 2]):
                raise RedisError(errors.WRONGPASS)
            j += 3
        elif opt == b"setname" and more >= 1:
            set_client_name(session, argv[j + 1])
            j += 2
        else:
            raise errors.err("Syntax error in HELLO option '%s'" % argv[j].decode("latin-1"))
    if acl_of(ctx).auth_required(session):
        raise RedisError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time"
        )
    if ver:
        session.resp = ver
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": session.resp,
        b"id": session.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command(
    "reset",
    1,
    "noscript loading stale fast no_auth allow_busy",
    group=_CONN,
    acl="connection",
    since="6.2.0",
    complexity="O(1)",
    summary="Resets the connection.",
)
def reset(ctx: Ctx, argv: list[bytes]) -> str:
    """RESET -> RESET: db 0, RESP2, no name, replies on, not authenticated if a password is set."""
    s = ctx.session
    s.multi = None  # the transaction and the watched keys go
    s.multi_error = False
    ctx.ks.watches.unwatch(s.watch)
    ctx.hub.forget(s)  # unsubscribed from everything, without confirmations
    s.db = 0
    s.resp = 2
    s.name = b""
    s.reply_off = s.reply_skip = s.reply_skip_next = False
    s.monitor = False  # NO-EVICT and NO-TOUCH survive a RESET, as in Redis
    if s.tracking is not None:
        ctx.tracking.disable(s)
    acl = acl_of(ctx)
    set_user(s, acl.default, acl.default_authenticated())
    return "RESET"


# -- CLIENT -------------------------------------------------------------------------
container(
    "client",
    group=_CONN,
    since="2.4.0",
    summary="A container for client connection commands.",
    complexity="Depends on subcommand.",
)

_CLIENT_FLAGS = "noscript loading stale"
_CLIENT_ADMIN = "admin noscript loading stale"


@command(
    "client|id",
    2,
    _CLIENT_FLAGS,
    group=_CONN,
    acl="connection",
    since="5.0.0",
    complexity="O(1)",
    summary="Returns the unique client ID of the connection.",
)
def client_id(ctx: Ctx, argv: list[bytes]) -> int:
    """CLIENT ID -> the connection's id."""
    return ctx.session.id


@command(
    "client|setname",
    3,
    _CLIENT_FLAGS,
    group=_CONN,
    acl="connection",
    since="2.6.9",
    complexity="O(1)",
    summary="Sets the connection name.",
    args=(arg("connection-name"),),
)
def client_setname(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT SETNAME name -> OK."""
    set_client_name(ctx.session, argv[2])
    return "OK"


@command(
    "client|getname",
    2,
    _CLIENT_FLAGS,
    group=_CONN,
    acl="connection",
    since="2.6.9",
    complexity="O(1)",
    summary="Returns the name of the connection.",
)
def client_getname(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """CLIENT GETNAME -> name or nil."""
    return ctx.session.name or None


def client_info_line(ctx: Ctx, s: Session) -> bytes:
    """One line of CLIENT LIST / CLIENT INFO, fields in Redis 7.0's order."""
    now = time.time()
    idle = time.monotonic() - s.last_interaction
    return (
        "id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d "
        "ssub=%d multi=%d qbuf=%d qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 "
        "oll=0 omem=0 tot-mem=%d events=r cmd=%s user=%s redir=%d resp=%d"
        % (
            s.id,
            s.addr,
            s.laddr,
            s.fd,
            s.name.decode("utf-8", "replace"),
            int(now - s.created),
            int(idle),
            s.flags_text(),
            s.db,
            len(s.channels),
            len(s.patterns),
            len(s.shard_channels),
            -1 if s.multi is None else len(s.multi),
            s.query_buffer(s is ctx.session),
            1024 + s.qbuf,
            s.last_cmd,
            s.user,
            -1 if s.tracking is None else s.tracking.redirect,
            s.resp,
        )
    ).encode() + b"\n"


_CLIENT_TYPES = {
    b"normal": "normal",
    b"master": "master",
    b"replica": "replica",
    b"slave": "replica",
    b"pubsub": "pubsub",
}


def _client_type(ctx: Ctx, name: bytes) -> str:
    kind = _CLIENT_TYPES.get(name.lower())
    if kind is None:
        raise errors.err("Unknown client type '%s'" % name.decode("latin-1"))
    return kind


@command(
    "client|list",
    -2,
    _CLIENT_ADMIN,
    group=_CONN,
    acl="connection",
    since="2.4.0",
    complexity="O(N) where N is the number of client connections",
    summary="Lists open connections.",
    tips="nondeterministic_output",
    history=(
        ("2.8.12", "Added unique client `id` field."),
        ("5.0.0", "Added optional `TYPE` filter."),
        ("6.2.0", "Added `laddr` field and the optional `ID` filter."),
    ),
    args=(
        oneof(
            "client-type",
            token("NORMAL"),
            token("MASTER"),
            token("REPLICA"),
            token("PUBSUB"),
            flags=("optional",),
            tok="TYPE",
        ),
        arg("client-id", "integer", "optional", "multiple", token="ID"),
    ),
)
def client_list(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """CLIENT LIST [TYPE type] [ID id ...] -> one line per client."""
    sessions = sorted(ctx.server.sessions(), key=lambda s: s.id)
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = _client_type(ctx, argv[3])
        chosen = [s for s in sessions if s.client_type() == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        by_id = {s.id: s for s in sessions}
        chosen = []
        for raw in argv[3:]:
            cid = parse_int(raw, "ERR Invalid client ID")
            if cid in by_id:
                chosen.append(by_id[cid])
    elif len(argv) != 2:
        raise RedisError(errors.SYNTAX)
    else:
        chosen = sessions
    return Verbatim(b"".join(client_info_line(ctx, s) for s in chosen))


@command(
    "client|info",
    2,
    _CLIENT_FLAGS,
    group=_CONN,
    acl="connection",
    since="6.2.0",
    complexity="O(1)",
    summary="Returns information about the connection.",
    tips="nondeterministic_output",
)
def client_info(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """CLIENT INFO -> this client's CLIENT LIST line."""
    return Verbatim(client_info_line(ctx, ctx.session))


@command(
    "client|kill",
    -3,
    _CLIENT_ADMIN,
    group=_CONN,
    acl="connection",
    since="2.4.0",
    complexity="O(N) where N is the number of client connections",
    summary="Terminates open connections.",
    history=(
        ("2.8.12", "Added new filter format."),
        ("2.8.12", "`ID` option."),
        ("3.2.0", "Added `master` type in for `TYPE` option."),
        (
            "5.0.0",
            "Replaced `slave` `TYPE` with `replica`. `slave` still supported "
            "for backward compatibility.",
        ),
        ("6.2.0", "`LADDR` option."),
    ),
    args=(
        oneof(
            "filter",
            arg("ip:port", "string"),
            block(
                "new-format",
                arg("client-id", "integer", "optional", token="ID"),
                oneof(
                    "client-type",
                    token("NORMAL"),
                    token("MASTER"),
                    token("SLAVE"),
                    token("REPLICA"),
                    token("PUBSUB"),
                    flags=("optional",),
                    tok="TYPE",
                ),
                arg("username", "string", "optional", token="USER"),
                arg("addr", "string", "optional", token="ADDR"),
                arg("laddr", "string", "optional", token="LADDR"),
                oneof("skipme", token("YES"), token("NO"), flags=("optional",), tok="SKIPME"),
                flags=("multiple",),
            ),
        ),
    ),
)
def client_kill(ctx: Ctx, argv: list[bytes]) -> Any:
    """CLIENT KILL addr | CLIENT KILL filter value ... -> OK or the number killed."""
    me = ctx.session
    addr = laddr = user = None
    kind = None
    cid = 0
    skipme = True
    if len(argv) == 3:
        addr = argv[2]
        skipme = False
    else:
        i = 2
        while i < len(argv):
            opt = argv[i].lower()
            more = len(argv) > i + 1
            if opt == b"id" and more:
                cid = parse_int(argv[i + 1], "ERR client-id should be greater than 0")
                if cid < 1:
                    raise errors.err("client-id should be greater than 0")
            elif opt == b"type" and more:
                kind = _client_type(ctx, argv[i + 1])
            elif opt == b"addr" and more:
                addr = argv[i + 1]
            elif opt == b"laddr" and more:
                laddr = argv[i + 1]
            elif opt == b"user" and more:
                user = argv[i + 1]
                if user not in acl_of(ctx).users:
                    raise errors.err("No such user '%s'" % errors.c_text(user))
            elif opt == b"skipme" and more:
                flag = argv[i + 1].lower()
                if flag not in (b"yes", b"no"):
                    raise RedisError(errors.SYNTAX)
                skipme = flag == b"yes"
            else:
                raise RedisError(errors.SYNTAX)
            i += 2
    killed = 0
    for s in ctx.server.sessions():
        if s.closed:
            continue
        if addr is not None and s.addr.encode() != addr:
            continue
        if laddr is not None and s.laddr.encode() != laddr:
            continue
        if kind is not None and s.client_type() != kind:
            continue
        if cid and s.id != cid:
            continue
        if user is not None and s.user.encode() != user:
            continue
        if s is me and skipme:
            continue
        if s is me:
            me.close_after_reply = True
        else:
            ctx.server.kill(s)
        killed += 1
    if len(argv) == 3:
        if not killed:
            raise errors.err("No such client")
        return "OK"
    return killed


@command(
    "client|reply",
    3,
    _CLIENT_FLAGS,
    group=_CONN,
    acl="connection",
    since="3.2.0",
    complexity="O(1)",
    summary="Instructs the server whether to reply to commands.",
    args=(oneof("action", token("ON"), token("OFF"), token("SKIP")),),
)
def client_reply(ctx: Ctx, argv: list[bytes]) -> Any:
    """CLIENT REPLY ON|OFF|SKIP -> OK for ON, nothing for OFF and SKIP."""
    s = ctx.session
    mode = argv[2].lower()
    if mode == b"on":
        s.reply_off = s.reply_skip = s.reply_skip_next = False
        return "OK"
    if mode == b"off":
        s.reply_off = True
        return NO_REPLY
    if mode == b"skip":
        if not s.reply_off:
            s.reply_skip_next = True
        return NO_REPLY
    raise RedisError(errors.SYNTAX)


def _on_off(argv: list[bytes]) -> bool:
    mode = argv[2].lower()
    if mode == b"on":
        return True
    if mode == b"off":
        return False
    raise RedisError(errors.SYNTAX)


@command(
    "client|no-evict",
    3,
    _CLIENT_ADMIN,
    group=_CONN,
    acl="connection",
    since="7.0.0",
    complexity="O(1)",
    summary="Sets the client eviction mode of the connection.",
    args=(oneof("enabled", token("ON"), token("OFF")),),
)
def client_no_evict(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT NO-EVICT ON|OFF -> OK."""
    ctx.session.no_evict = _on_off(argv)
    return "OK"


@command(
    "client|no-touch",
    3,
    _CLIENT_FLAGS,
    group=_CONN,
    acl="connection",
    since="7.2.0",
    complexity="O(1)",
    summary="Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
    args=(oneof("enabled", token("ON"), token("OFF")),),
)
def client_no_touch(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT NO-TOUCH ON|OFF -> OK (Redis 7.2)."""
    ctx.session.no_touch = _on_off(argv)
    return "OK"


@command(
    "client|setinfo",
    4,
    _CLIENT_FLAGS,
    group=_CONN,
    acl="connection",
    since="7.2.0",
    complexity="O(1)",
    summary="Sets information specific to the client or connection.",
    args=(oneof("attr", arg("libname", token="LIB-NAME"), arg("libver", token="LIB-VER")),),
)
def client_setinfo(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT SETINFO LIB-NAME name | LIB-VER version -> OK (Redis 7.2; redis-py sends it)."""
    attr, value = argv[2].lower(), argv[3]
    if attr not in (b"lib-name", b"lib-ver"):
        raise errors.err("Unrecognized option '%s'" % argv[2].decode("latin-1"))
    if not all(0x21 <= c <= 0x7E for c in value):
        raise errors.err(
            "%s cannot contain spaces, newlines or special characters." % attr.decode().upper()
        )
    if attr == b"lib-name":
        ctx.session.lib_name = value
    else:
        ctx.session.lib_ver = value
    return "OK"


@command(
    "client|pause",
    -3,
    _CLIENT_ADMIN,
    group=_CONN,
    acl="connection",
    since="2.9.50",
    complexity="O(1)",
    summary="Suspends commands processing.",
    history=(("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),),
    args=(
        arg("timeout", "integer"),
        oneof(
            "mode", token("WRITE", since="6.2.0"), token("ALL", since="6.2.0"), flags=("optional",)
        ),
    ),
)
def client_pause(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT PAUSE timeout [WRITE|ALL] -> OK."""
    if len(argv) > 4:
        raise errors.unknown_subcommand_or_arity("client", argv[1])
    writes_only = False
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            writes_only = True
        elif mode != b"all":
            raise errors.err("CLIENT PAUSE mode must be WRITE or ALL")
    ms = parse_int(argv[2], errors.TIMEOUT_NOT_INTEGER)
    if ms < 0:
        raise RedisError(errors.TIMEOUT_NEGATIVE)
    ctx.server.pause(time.monotonic() + ms / 1000.0, writes_only)
    return "OK"


@command(
    "client|unpause",
    2,
    _CLIENT_ADMIN,
    group=_CONN,
    acl="connection",
    since="6.2.0",
    complexity="O(N) Where N is the number of paused clients",
    summary="Resumes processing commands from paused clients.",
)
def client_unpause(ctx: Ctx, argv: list[bytes]) -> str:
    """CLIENT UNPAUSE -> OK."""
    ctx.server.unpause()
    return "OK"


_CLIENT_HELP = [  # Redis 7.0's lines, then those of the 7.2 subcommands diskredis has
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client library name or version.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
]


@command(
    "client|unblock",
    -3,
    _CLIENT_ADMIN,
    group=_CONN,
    acl="connection",
    since="5.0.0",
    complexity="O(log N) where N is the number of client connections",
    summary="Unblocks a client blocked by a blocking command from a different connection.",
    args=(
        arg("client-id", "integer"),
        oneof("unblock-type", token("TIMEOUT"), token("ERROR"), flags=("optional",)),
    ),
)
def client_unblock(ctx: Ctx, argv: list[bytes]) -> int:
    """CLIENT UNBLOCK client-id [TIMEOUT|ERROR] -> 1 if the client was blocked, else 0."""
    client_id = parse_int(argv[2])
    error = False
    if len(argv) == 4:
        word = argv[3].lower()
        if word not in (b"timeout", b"error"):
            raise errors.err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        error = word == b"error"
    elif len(argv) > 4:
        raise errors.unknown_subcommand_or_arity("client", argv[1])
    return int(ctx.server.unblock(client_id, error))


help_command("client", _CLIENT_HELP, group=_CONN, since="5.0.0", acl="connection")
