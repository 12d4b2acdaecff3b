"""What the dispatcher, the connection commands and scripts ask of the ACLs: denials
and their texts and log entries, authentication, switching a client's user.

Room: the ACL side of running a command. Imports: `rules`, `commands.connection`,
`context`, `registry`, `errors`, the standard library.
"""

from __future__ import annotations

import logging

from diskredis.commands.acl.rules import (
    DENIED_AUTH,
    DENIED_CHANNEL,
    DENIED_CMD,
    DENIED_KEY,
    OK,
    READ,
    Acl,
    User,
    channel_in,
)
from diskredis.commands.context import Ctx, Session
from diskredis.commands.registry import (
    Command,
)

log = logging.getLogger("diskredis")

REASONS = {
    DENIED_CMD: b"command",
    DENIED_KEY: b"key",
    DENIED_CHANNEL: b"channel",
    DENIED_AUTH: b"auth",
}


def log_denial(
    ctx: Ctx,
    reason: int,
    argv: list[bytes],
    idx: int,
    context: str,
    cmd: Command | None,
    username: bytes | None = None,
) -> None:
    """An ACL LOG entry for `ctx`'s client (a script's caller for a script)."""
    from diskredis.commands.connection import client_info_line

    acl = acl_of(ctx)
    if reason == DENIED_CMD:
        obj = cmd.name.encode() if cmd is not None else b""
    elif reason == DENIED_AUTH:
        obj = argv[0]
    else:
        obj = argv[idx]
    session = ctx.session
    real = session
    if session.is_script and ctx.scripts is not None and ctx.scripts.running is not None:
        real = ctx.scripts.running
    user = username if username is not None else user_of(session).name
    acl.add_log(reason, context, obj, user, client_info_line(ctx, real).rstrip(b"\n"))


def acl_of(ctx: Ctx) -> Acl:
    """The server's users (a context with none, a tool's, gets its own defaults)."""
    if ctx.acl is None:
        ctx.acl = Acl(ctx.config)
    acl: Acl = ctx.acl
    return acl


def user_of(session: Session) -> User:
    user: User | None = session.acl_user
    assert user is not None, "a session without a user"
    return user


def denial_text(reason: int, cmd: Command) -> str:
    if reason == DENIED_CMD:
        return "NOPERM this user has no permissions to run the '%s' command" % cmd.name
    if reason == DENIED_KEY:
        return "NOPERM this user has no permissions to access one of the keys used as arguments"
    return "NOPERM this user has no permissions to access one of the channels used as arguments"


def exec_denial_text(reason: int) -> str:
    why = {
        DENIED_CMD: "no permission to execute the command or subcommand",
        DENIED_KEY: "no permission to touch the specified keys",
        DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
    }
    return (
        "NOPERM ACLs rules changed between the moment the transaction was accumulated "
        "and the EXEC call. This command is no longer allowed for the following "
        "reason: %s" % why.get(reason, "no permission")
    )


def script_denial_text(reason: int) -> str:
    return "The user executing the script %s" % {
        DENIED_CMD: "can't run this command or subcommand",
        DENIED_KEY: "can't access at least one of the keys mentioned in the command arguments",
        DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
    }.get(reason, "lacking the permissions for the command")


def authenticate(ctx: Ctx, argv0: bytes, username: bytes, password: bytes) -> bool:
    """ACLAuthenticateUser: on success the client is that user; else an `auth` log
    entry naming the user as given (and AUTH or HELLO as the client typed it)."""
    acl = acl_of(ctx)
    user = acl.users.get(username)
    if user is not None and user.password_ok(password):
        set_user(ctx.session, user, authenticated=True)
        return True
    context = "multi" if ctx.session.multi is not None else "toplevel"
    log_denial(ctx, DENIED_AUTH, [argv0], 0, context, None, username=username)
    return False


def set_user(session: Session, user: User, authenticated: bool) -> None:
    session.acl_user = user
    session.user = user.name.decode("utf-8", "surrogateescape")
    session.authenticated = authenticated


def kill_users_clients(ctx: Ctx, user: User) -> None:
    """ACLFreeUserAndKillClients: the clients of a removed user become unauthenticated
    default clients and are disconnected (the caller after its reply)."""
    acl = acl_of(ctx)
    for s in ctx.server.sessions():
        if s.acl_user is user and not s.closed:
            set_user(s, acl.default, authenticated=False)
            if s is ctx.session:
                s.close_after_reply = True
            else:
                ctx.server.kill(s)


def kill_pubsub_if_needed(ctx: Ctx, new: User, old: User) -> None:
    """ACLKillPubsubClientsIfNeeded: subscribers of `new` that lost a channel go."""
    if any(s.allchannels for s in new.selectors):
        return
    upcoming = [c for s in new.selectors for c in s.channels]
    if not any(s.allchannels for s in old.selectors) and all(
        c in upcoming for s in old.selectors for c in s.channels
    ):
        return
    for s in ctx.server.sessions():
        if s.acl_user is not new or s.closed or not s.pubsub:
            continue
        if (
            any(not channel_in(upcoming, p, True) for p in s.patterns)
            or any(not channel_in(upcoming, c, False) for c in s.channels)
            or any(not channel_in(upcoming, c, False) for c in s.shard_channels)
        ):
            ctx.server.kill(s)


def unrestricted_read(ctx: Ctx, cmd: Command, argv: list[bytes]) -> bool:
    """ACLUserCheckCmdWithUnrestrictedKeyAccess(CMD_KEY_ACCESS): SORT BY/GET need it."""
    user = ctx.session.acl_user
    if user is None or user.free:
        return True
    return any(s.check(cmd, argv)[0] == OK and s.unrestricted_keys(READ) for s in user.selectors)
