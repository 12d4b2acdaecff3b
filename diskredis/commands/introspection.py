"""COMMAND and its subcommands: the command table described to clients.

Room: Redis's COMMAND family, answered from `registry`. Imports: `resp.values`, `util`, `registry`,
`context`, `args`, `config` (glob matching), `errors`.
"""

from __future__ import annotations

from typing import Any

from diskredis import errors
from diskredis.commands.context import Ctx
from diskredis.commands.registry import (
    COMMANDS,
    KEY_FLAG_ORDER,
    all_commands,
    arg,
    by_fullname,
    command,
    help_command,
    lookup,
    oneof,
)
from diskredis.errors import RedisError
from diskredis.resp.values import RSet
from diskredis.util import glob_match

_SRV = "server"
_FLAGS = "loading stale"


@command(
    "command",
    -1,
    _FLAGS,
    group=_SRV,
    acl="connection",
    since="2.8.13",
    complexity="O(N) where N is the total number of Redis commands",
    summary="Returns detailed information about all commands.",
    tips="nondeterministic_output_order",
)
def command_(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """COMMAND -> COMMAND INFO of every command."""
    return [c.info() for c in COMMANDS.values()]


@command(
    "command|count",
    2,
    _FLAGS,
    group=_SRV,
    acl="connection",
    since="2.8.13",
    complexity="O(1)",
    summary="Returns a count of commands.",
)
def command_count(ctx: Ctx, argv: list[bytes]) -> int:
    """COMMAND COUNT -> number of top-level commands."""
    return len(COMMANDS)


@command(
    "command|info",
    -2,
    _FLAGS,
    group=_SRV,
    acl="connection",
    since="2.8.13",
    complexity="O(N) where N is the number of commands to look up",
    summary="Returns information about one, multiple or all commands.",
    tips="nondeterministic_output_order",
    history=(("7.0.0", "Allowed to be called with no argument to get info on all commands."),),
    args=(arg("command-name", "string", "optional", "multiple"),),
)
def command_info(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """COMMAND INFO [name ...] -> info per name (nil when unknown); all without names."""
    if len(argv) == 2:
        return [c.info() for c in COMMANDS.values()]
    out: list[Any] = []
    for name in argv[2:]:
        cmd = by_fullname(name)
        out.append(cmd.info() if cmd else None)
    return out


@command(
    "command|docs",
    -2,
    _FLAGS,
    group=_SRV,
    acl="connection",
    since="7.0.0",
    complexity="O(N) where N is the number of commands to look up",
    summary="Returns documentary information about one, multiple or all commands.",
    tips="nondeterministic_output_order",
    args=(arg("command-name", "string", "optional", "multiple"),),
)
def command_docs(ctx: Ctx, argv: list[bytes]) -> dict[bytes, Any]:
    """COMMAND DOCS [name ...] -> map of name to docs (unknown names left out)."""
    if len(argv) == 2:
        return {c.name.encode(): c.docs() for c in COMMANDS.values()}
    out: dict[bytes, Any] = {}
    for name in argv[2:]:
        cmd = by_fullname(name)
        if cmd is not None:
            out[cmd.name.encode()] = cmd.docs()
    return out


@command(
    "command|list",
    -2,
    _FLAGS,
    group=_SRV,
    acl="connection",
    since="7.0.0",
    complexity="O(N) where N is the total number of Redis commands",
    summary="Returns a list of command names.",
    tips="nondeterministic_output_order",
    args=(
        oneof(
            "filterby",
            arg("module-name", token="MODULE"),
            arg("category", token="ACLCAT"),
            arg("pattern", "pattern", token="PATTERN"),
            flags=("optional",),
            tok="FILTERBY",
        ),
    ),
)
def command_list(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p] -> names, subcommands too."""
    kind: bytes | None = None
    value = b""
    i = 2
    while i < len(argv):
        if argv[i].lower() == b"filterby" and len(argv) - 1 - i == 2:
            kind = argv[i + 1].lower()
            if kind not in (b"module", b"aclcat", b"pattern"):
                raise RedisError(errors.SYNTAX)
            value = argv[i + 2]
            i += 3
        else:
            raise RedisError(errors.SYNTAX)
    out = []
    for cmd in all_commands():
        name = cmd.name.encode()
        if kind == b"module":
            continue  # no modules
        if kind == b"aclcat" and value.lower().decode("utf-8", "replace") not in cmd.categories:
            continue
        if kind == b"pattern" and not glob_match(value, name, nocase=True):
            continue
        out.append(name)
    return out


def _getkeys(argv: list[bytes], with_flags: bool) -> list[Any]:
    target = argv[2:]
    cmd = lookup(target)
    if cmd is None:
        raise errors.err("Invalid command specified")
    if not cmd.key_specs and "movablekeys" not in cmd.flags:
        raise errors.err("The command has no key arguments")
    argc = len(target)
    if (cmd.arity > 0 and cmd.arity != argc) or argc < -cmd.arity:
        raise errors.err("Invalid number of arguments specified for command")
    keys = cmd.key_positions(target)
    if not keys:
        if "no_mandatory_keys" in cmd.flags:
            return []
        raise errors.err("Invalid arguments specified for command")
    if not with_flags:
        return [target[i] for i, _ in keys]
    return [[target[i], RSet([f for f in KEY_FLAG_ORDER if f in flags])] for i, flags in keys]


@command(
    "command|getkeys",
    -4,
    _FLAGS,
    group=_SRV,
    acl="connection",
    since="2.8.13",
    complexity="O(N) where N is the number of arguments to the command",
    summary="Extracts the key names from an arbitrary command.",
    args=(arg("command"), arg("arg", "string", "optional", "multiple")),
)
def command_getkeys(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """COMMAND GETKEYS command [arg ...] -> the keys of that command line."""
    return _getkeys(argv, False)


@command(
    "command|getkeysandflags",
    -4,
    _FLAGS,
    group=_SRV,
    acl="connection",
    since="7.0.0",
    complexity="O(N) where N is the number of arguments to the command",
    summary="Extracts the key names and access flags for an arbitrary command.",
    args=(arg("command"), arg("arg", "string", "optional", "multiple")),
)
def command_getkeysandflags(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """COMMAND GETKEYSANDFLAGS command [arg ...] -> [key, flags] pairs."""
    return _getkeys(argv, True)


help_command(
    "command",
    [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
    ],
    group=_SRV,
    since="5.0.0",
    flags=_FLAGS,
    acl="connection",
)
