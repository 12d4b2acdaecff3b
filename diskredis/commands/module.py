"""MODULE and its subcommands: Redis modules, which diskredis cannot load.

Room: Redis's MODULE command (group "server" in Redis 7.0). A Redis module is a shared
library written against Redis's C module API; a Python server has nothing to hand it,
so the module table is always empty: MODULE LIST answers an empty array, MODULE UNLOAD
Redis's error for a name that is not loaded, and MODULE LOAD / LOADEX -- once the
`enable-module-command` check lets them through -- Redis's error for a module that
failed to load, with the reason in the log (where Redis puts it too). Imports:
`registry`, `context`, `errors`, `logging`.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from diskredis import errors
from diskredis.commands.context import Ctx
from diskredis.commands.registry import arg, block, command, container, help_command
from diskredis.errors import RedisError

log = logging.getLogger("diskredis")

_SRV = "server"
_PROTECTED = "admin noscript no_async_loading protected"
# The texts of moduleCommand (module.c).
_LOAD_FAILED = "ERR Error loading the extension. Please check the server logs."
_NO_SUCH_MODULE = "ERR Error unloading module: no such module with that name"

container(
    "module",
    group=_SRV,
    since="4.0.0",
    complexity="Depends on subcommand.",
    summary="Holds the subcommands that load, list and unload Redis modules.",
)


@command(
    "module|list",
    2,
    "admin noscript",
    group=_SRV,
    since="4.0.0",
    complexity="O(N) where N is the number of loaded modules.",
    summary="Lists the modules loaded in the server.",
    tips="nondeterministic_output_order",
)
def module_list(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """MODULE LIST -> an empty array (diskredis loads no module)."""
    return []


def _cannot_load(path: bytes) -> NoReturn:
    log.warning(
        "Module %s failed to load: diskredis cannot load Redis modules (shared "
        "libraries for Redis's C module API)",
        errors.c_text(path),
    )
    raise RedisError(_LOAD_FAILED)


@command(
    "module|load",
    -3,
    _PROTECTED,
    group=_SRV,
    since="4.0.0",
    complexity="O(1)",
    summary="Loads a module from a shared library file, passing it the given arguments.",
    args=(arg("path"), arg("arg", "string", "optional", "multiple")),
)
def module_load(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """MODULE LOAD path [arg ...] -> error: diskredis loads no module (reason in the log)."""
    _cannot_load(argv[2])


@command(
    "module|loadex",
    -3,
    _PROTECTED,
    group=_SRV,
    since="7.0.0",
    complexity="O(1)",
    summary="Loads a module from a shared library file, with module configuration "
    "values and arguments.",
    args=(
        arg("path"),
        block(
            "configs",
            arg("name"),
            arg("value"),
            flags=("optional", "multiple", "multiple_token"),
            tok="CONFIG",
        ),
        arg("args", "string", "optional", "multiple", token="ARGS"),
    ),
)
def module_loadex(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...] -> error: diskredis loads
    no module (reason in the log)."""
    # Redis reads the options before it tries the library (parseLoadexArguments) and
    # logs a malformed list instead; the reply is the same failure either way.
    i = 3
    while i < len(argv):
        word = argv[i].lower()
        if word == b"config":
            if i + 2 >= len(argv):
                log.info("CONFIG specified without name value pair")
                raise RedisError(_LOAD_FAILED)
            i += 3
        elif word == b"args":
            break
        else:
            log.info("Syntax Error from arguments to loadex around %s.", errors.c_text(argv[i]))
            raise RedisError(_LOAD_FAILED)
    _cannot_load(argv[2])


@command(
    "module|unload",
    3,
    _PROTECTED,
    group=_SRV,
    since="4.0.0",
    complexity="O(1)",
    summary="Unloads a loaded module, by its name.",
    args=(arg("name"),),
)
def module_unload(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """MODULE UNLOAD name -> error: no module of that name (none is ever loaded)."""
    raise RedisError(_NO_SUCH_MODULE)


help_command(
    "module",
    [
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and "
        "optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
    ],
    group=_SRV,
    since="5.0.0",
    summary="Lists the MODULE subcommands, a line or two on each.",
)
