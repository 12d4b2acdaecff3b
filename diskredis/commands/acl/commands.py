"""The ACL command: CAT DELUSER DRYRUN GENPASS GETUSER HELP LIST LOAD LOG SAVE SETUSER
USERS WHOAMI.

Room: Redis semantics of the ACL subcommands. Imports: `rules`, `checks`, `files`,
`registry`, `context`, `args`, `errors`, `resp.values`, the standard library.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from diskredis import errors
from diskredis.commands.acl.checks import (
    REASONS,
    acl_of,
    kill_pubsub_if_needed,
    kill_users_clients,
)
from diskredis.commands.acl.files import load_file, save_file, users_lines
from diskredis.commands.acl.rules import (
    DENIED_CMD,
    DENIED_KEY,
    OK,
    Selector,
    acl_commands,
    has_spaces,
)
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.registry import (
    ACL_CATEGORIES,
    arg,
    command,
    container,
    help_command,
    lookup,
    oneof,
    token,
)
from diskredis.errors import RedisError
from diskredis.resp.values import RSet

log = logging.getLogger("diskredis")
_GENPASS_MAX_BITS = 4096

_SRV = "server"
_ADMIN = "admin noscript loading stale"

container(
    "acl",
    group=_SRV,
    since="6.0.0",
    summary="A container for Access List Control commands.",
    complexity="Depends on subcommand.",
)


def _syntax(ctx: Ctx, argv: list[bytes]) -> RedisError:
    return errors.unknown_subcommand_or_arity("acl", argv[1])


@command(
    "acl|cat",
    -2,
    "noscript loading stale",
    group=_SRV,
    since="6.0.0",
    complexity="O(1) since the categories and commands are a fixed set.",
    summary="Lists the ACL categories, or the commands inside a category.",
    args=(arg("category", "string", "optional"),),
)
def acl_cat(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """ACL CAT [category] -> the categories, or the commands of one."""
    if len(argv) > 3:
        raise _syntax(ctx, argv)
    if len(argv) == 2:
        return [c.encode() for c in ACL_CATEGORIES]
    cat = argv[2].decode("latin-1").lower()
    if cat not in ACL_CATEGORIES:
        raise errors.err("Unknown category '%s'" % argv[2][:128].decode("utf-8", "replace"))
    return [c.name.encode() for c in acl_commands() if cat in c.categories]


@command(
    "acl|deluser",
    -3,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(1) amortized time considering the typical user.",
    summary="Deletes ACL users, and terminates their connections.",
    args=(arg("username", "string", "multiple"),),
)
def acl_deluser(ctx: Ctx, argv: list[bytes]) -> int:
    """ACL DELUSER username [username ...] -> how many were deleted."""
    if any(name == b"default" for name in argv[2:]):
        raise errors.err("The 'default' user cannot be removed")
    acl = acl_of(ctx)
    deleted = 0
    for name in argv[2:]:
        user = acl.users.pop(name, None)
        if user is not None:
            kill_users_clients(ctx, user)
            deleted += 1
    return deleted


@command(
    "acl|dryrun",
    -4,
    _ADMIN,
    group=_SRV,
    since="7.0.0",
    complexity="O(1).",
    summary="Simulates the execution of a command by a user, without executing the command.",
    args=(
        arg("username", "string"),
        arg("command", "string"),
        arg("arg", "string", "optional", "multiple"),
    ),
)
def acl_dryrun(ctx: Ctx, argv: list[bytes]) -> Any:
    """ACL DRYRUN username command [arg ...] -> OK, or why the user may not."""
    acl = acl_of(ctx)
    user = acl.users.get(argv[2])
    if user is None:
        raise errors.err("User '%s' not found" % argv[2].decode("utf-8", "replace"))
    target = argv[3:]
    cmd = lookup(target)
    if cmd is None:
        raise errors.err("Command '%s' not found" % argv[3].decode("utf-8", "replace"))
    if (cmd.arity > 0 and cmd.arity != len(target)) or len(target) < -cmd.arity:
        raise errors.err("wrong number of arguments for '%s' command" % cmd.name)
    result, idx = user.check(cmd, target)
    if result == OK:
        return "OK"
    if result == DENIED_CMD:
        return b"This user has no permissions to run the '%s' command" % cmd.name.encode()
    what = b"key" if result == DENIED_KEY else b"channel"
    return b"This user has no permissions to access the '%s' %s" % (target[idx], what)


@command(
    "acl|genpass",
    -2,
    "noscript loading stale",
    group=_SRV,
    since="6.0.0",
    complexity="O(1)",
    summary="Generates a pseudorandom, secure password that can be used to identify ACL users.",
    args=(arg("bits", "integer", "optional"),),
)
def acl_genpass(ctx: Ctx, argv: list[bytes]) -> bytes:
    """ACL GENPASS [bits] -> (bits+3)/4 random hex characters (256 bits by default)."""
    if len(argv) > 3:
        raise _syntax(ctx, argv)
    bits = parse_int(argv[2]) if len(argv) == 3 else 256
    if bits <= 0 or bits > _GENPASS_MAX_BITS:
        raise errors.err(
            "ACL GENPASS argument must be the number of bits for the output "
            "password, a positive number up to %d" % _GENPASS_MAX_BITS
        )
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


def _selector_fields(s: Selector) -> dict[bytes, Any]:
    return {
        b"commands": s.describe_commands(),
        b"keys": b" ".join(s.describe_keys()),
        b"channels": b" ".join(s.describe_channels()),
    }


@command(
    "acl|getuser",
    3,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(N). Where N is the number of password, command and pattern rules "
    "that the user has.",
    summary="Lists the ACL rules of a user.",
    history=(
        ("6.2.0", "Added Pub/Sub channel patterns."),
        (
            "7.0.0",
            "Added selectors and changed the format of key and channel "
            "patterns from a list to their rule representation.",
        ),
    ),
    args=(arg("username", "string"),),
)
def acl_getuser(ctx: Ctx, argv: list[bytes]) -> Any:
    """ACL GETUSER username -> the user's flags, passwords, rules and selectors."""
    acl = acl_of(ctx)
    user = acl.users.get(argv[2])
    if user is None:
        return None
    out: dict[bytes, Any] = {
        b"flags": RSet(user.flags()),
        b"passwords": [p.encode() for p in user.passwords],
    }
    out.update(_selector_fields(user.root))
    out[b"selectors"] = [_selector_fields(s) for s in user.selectors[1:]]
    return out


_HELP = [
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
]


help_command("acl", _HELP, group=_SRV, since="6.0.0")


@command(
    "acl|list",
    2,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
    summary="Dumps the effective rules in ACL file format.",
)
def acl_list(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """ACL LIST -> a `user ...` line per user."""
    return users_lines(acl_of(ctx))


_NO_ACLFILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want "
    "to specify users via the ACL SETUSER command and then issue a CONFIG "
    "REWRITE (assuming you have a Redis configuration file set) in order to "
    "store users in the Redis configuration."
)


def _aclfile(ctx: Ctx) -> str:
    path: str = ctx.config["aclfile"]
    if not path:
        raise RedisError(_NO_ACLFILE)
    return path


@command(
    "acl|load",
    2,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
    summary="Reloads the rules from the configured ACL file.",
)
def acl_load(ctx: Ctx, argv: list[bytes]) -> str:
    """ACL LOAD -> OK once the aclfile replaced every user; nothing changes on error."""
    path = _aclfile(ctx)
    problems, victims = load_file(acl_of(ctx), path, ctx.server.sessions())
    if problems is not None:
        raise errors.err(problems)
    for s in victims:
        if s is ctx.session:
            s.close_after_reply = True
        elif not s.closed:
            ctx.server.kill(s)
    return "OK"


@command(
    "acl|log",
    -2,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(N) with N being the number of entries shown.",
    summary="Lists recent security events generated due to ACL rules.",
    args=(oneof("operation", arg("count", "integer"), token("RESET"), flags=("optional",)),),
)
def acl_log(ctx: Ctx, argv: list[bytes]) -> Any:
    """ACL LOG [count | RESET] -> the newest entries (10 by default), or OK."""
    if len(argv) > 3:
        raise _syntax(ctx, argv)
    acl = acl_of(ctx)
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            return "OK"
        count = max(parse_int(argv[2]), 0)
    now = int(time.time() * 1000)
    out = []
    for e in list(acl.log)[:count]:
        out.append(
            {
                b"count": e.count,
                b"reason": REASONS.get(e.reason, b"unknown"),
                b"context": e.context.encode(),
                b"object": e.object,
                b"username": e.username,
                b"age-seconds": (now - e.ms) / 1000,
                b"client-info": e.info,
            }
        )
    return out


@command(
    "acl|save",
    2,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
    summary="Saves the effective ACL rules in the configured ACL file.",
)
def acl_save(ctx: Ctx, argv: list[bytes]) -> str:
    """ACL SAVE -> OK once the users are in the aclfile."""
    path = _aclfile(ctx)
    if not save_file(acl_of(ctx), path):
        raise errors.err(
            "There was an error trying to save the ACLs. Please check the "
            "server logs for more information"
        )
    return "OK"


@command(
    "acl|setuser",
    -3,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(N). Where N is the number of rules provided.",
    summary="Creates and modifies an ACL user and its rules.",
    history=(
        ("6.2.0", "Added Pub/Sub channel patterns."),
        ("7.0.0", "Added selectors and key based permissions."),
    ),
    args=(arg("username", "string"), arg("rule", "string", "optional", "multiple")),
)
def acl_setuser(ctx: Ctx, argv: list[bytes]) -> str:
    """ACL SETUSER username [rule ...] -> OK (all rules applied) or the first bad one."""
    name = argv[2]
    if has_spaces(name):
        raise errors.err("Usernames can't contain spaces or null characters")
    acl = acl_of(ctx)
    before, user = acl.set_user(name, argv[3:])
    if before is not None:
        kill_pubsub_if_needed(ctx, user, before)
    return "OK"


@command(
    "acl|users",
    2,
    _ADMIN,
    group=_SRV,
    since="6.0.0",
    complexity="O(N). Where N is the number of configured users.",
    summary="Lists all ACL users.",
)
def acl_users(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """ACL USERS -> the user names, in order."""
    return sorted(acl_of(ctx).users)


@command(
    "acl|whoami",
    2,
    "noscript loading stale",
    group=_SRV,
    since="6.0.0",
    complexity="O(1)",
    summary="Returns the authenticated username of the current connection.",
)
def acl_whoami(ctx: Ctx, argv: list[bytes]) -> bytes:
    """ACL WHOAMI -> the connection's user name."""
    user = ctx.session.acl_user
    return (user or acl_of(ctx).default).name
