"""Redis 7 functions (Redis group "scripting"): FUNCTION LOAD|LIST|DELETE|FLUSH|STATS|
KILL|DUMP|RESTORE|HELP, FCALL and FCALL_RO.

Room: what the function commands mean; the interpreter is `commands.lua`, the running
machinery `commands.scripting`. Imports: `keyspace.space`, `quoting`, `rdb.codec`,
`resp.values`, `util`, `commands` helpers, `errors`. Replies and errors are
Redis 7.0's (functions.c, function_lua.c).

Libraries live in their own Lua state and persist: each library's code is a record of
the `stats` table (``function:<name>``), written in the batch that loaded it -- durable
with the same commit as the command's reply -- and loaded again at start-up
(`load_saved`). FUNCTION DUMP and RESTORE use Redis's payload (RDB_OPCODE_FUNCTION2
records, the RDB version, a CRC64), so payloads move between Redis and diskredis.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from diskredis import errors
from diskredis.commands.args import help_reply, parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.dispatch import feed_monitors
from diskredis.commands.lua import LuaError, Raise, Registered, valid_function_name
from diskredis.commands.registry import Command, KeySpec, arg, command, container, oneof, token
from diskredis.commands.scripting import Library, Scripts, flags_as_command, text_of
from diskredis.errors import RedisError
from diskredis.keyspace.space import Keyspace
from diskredis.quoting import split_inline
from diskredis.rdb import codec
from diskredis.resp.values import RSet, Status
from diskredis.util import glob_match

log = logging.getLogger("diskredis")

__all__ = ["load_saved"]

_S = "scripting"
_RECORD = b"function:"  # stats table: function:<library name> -> the library's code
_OPCODE_FUNCTION2 = codec.OP_FUNCTION2
_OPCODE_FUNCTION = codec.OP_FUNCTION  # 7.0 release candidates
_LOAD_TIMEOUT = 0.5  # seconds a library's top level may run (LOAD_TIMEOUT_MS)


# -- loading libraries ---------------------------------------------------------------------
def _metadata(code: bytes) -> tuple[bytes, bytes, bytes]:
    """functionExtractLibMetaData: (engine, library name, code after the shebang)."""
    if not code.startswith(b"#!"):
        raise errors.err("Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise errors.err("Invalid library metadata")
    parts = split_inline(code[:end])
    if not parts:
        raise errors.err("Invalid library metadata")
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise errors.err("Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise errors.err("Invalid metadata value given: %s" % text_of(part))
    if name is None:
        raise errors.err("Library name was not given")
    return parts[0][2:], name, code[end:]


def create_library(
    scripts: Scripts, code: bytes, replace: bool, libraries: dict[bytes, Library] | None = None
) -> Library:
    """functionsCreateWithLibraryCtx: compile and run `code`, check it against the
    libraries in `libraries` (the server's by default); the new library, not yet linked."""
    libraries = scripts.libraries if libraries is None else libraries
    engine, name, body = _metadata(code)
    if not valid_function_name(name):
        raise errors.err(
            "Library names can only contain letters, numbers, or underscores(_) "
            "and must be at least one character long"
        )
    if engine.lower() != b"lua":  # engine names are case-insensitive
        raise errors.err("Engine '%s' not found" % text_of(engine))
    old = libraries.get(name)
    if old is not None and not replace:
        raise errors.err("Library '%s' already exists" % text_of(name))
    lua = scripts.function_lua
    started = time.monotonic()

    def too_long() -> None:  # luaEngineLoadHook: a library's top level gets 500 ms
        if time.monotonic() - started > _LOAD_TIMEOUT:
            lua.set_hook(too_long, 1)
            raise Raise(lua.error_table(b"FUNCTION LOAD timeout"))

    lua.set_hook(too_long, 100_000)
    try:
        registered = lua.load_library(body)
    except LuaError as e:
        stage, value = e.value
        if stage == "compile":
            raise errors.err("Error compiling function: %s" % text_of(value)) from None
        raise errors.err("Error registering functions: %s" % _lua_error_text(lua, value)) from None
    finally:
        lua.set_hook(None)
    if not registered:
        raise errors.err("No functions registered")
    taken = {f.lower() for lib in libraries.values() if lib is not old for f in lib.functions}
    for fn in registered:
        if fn.name.lower() in taken:
            raise errors.err("Function %s already exists" % text_of(fn.name))
    return Library(name, code, {fn.name: fn for fn in registered})


def _lua_error_text(lua: Any, value: Any) -> str:
    from lupa import lua51

    if lua51.lua_type(value) == "table":
        msg = lua.rt.globals().rawget(value, b"err")
        if isinstance(msg, bytes):
            return text_of(msg)
    return text_of(value) if isinstance(value, bytes) else str(value)


def _link(scripts: Scripts, library: Library, ks: Keyspace | None) -> None:
    old = scripts.libraries.pop(library.name, None)
    if old is not None:
        for fname in old.functions:
            scripts.functions.pop(fname.lower(), None)
    scripts.libraries[library.name] = library
    for fname in library.functions:
        scripts.functions.setdefault(fname.lower(), library)
    if ks is not None:
        ks.tx().put("stats", _RECORD + library.name, library.code)


def _unlink(scripts: Scripts, name: bytes, ks: Keyspace) -> None:
    library = scripts.libraries.pop(name)
    for fname in library.functions:
        scripts.functions.pop(fname.lower(), None)
    ks.tx().delete("stats", _RECORD + name)


def load_saved(scripts: Scripts, ks: Keyspace) -> int:
    """At start-up: load the libraries the data folder holds; how many."""
    with ks.engine.read() as txn:
        saved = list(txn.scan("stats", _RECORD, _RECORD[:-1] + b";"))
    for key, code in saved:
        try:
            _link(scripts, create_library(scripts, code, True), None)
        except RedisError as e:
            log.error(
                "Function library %s stored in %s could not be loaded and is left out: %s",
                text_of(key[len(_RECORD) :]),
                ks.engine.path,
                e.text,
            )
    return len(scripts.libraries)


def replace_all(scripts: Scripts, ks: Keyspace, codes: list[bytes]) -> list[str]:
    """A replica's full resync: the primary's libraries (its RDB's) instead of ours, in
    the batch that switches the data; what could not be loaded, if anything."""
    for name in list(scripts.libraries):
        _unlink(scripts, name, ks)
    problems = []
    for code in codes:
        try:
            _link(scripts, create_library(scripts, code, True), ks)
        except RedisError as e:
            problems.append(e.text)
    return problems


# -- FCALL -----------------------------------------------------------------------------------
def _fcall(ctx: Ctx, argv: list[bytes], ro: bool) -> Any:
    feed_monitors(ctx, argv)
    ctx.ks.repl.prevent()  # a function replicates as its effects, never as itself
    scripts: Scripts = ctx.scripts
    fn = scripts.function(argv[1])
    if fn is None:
        raise errors.err("Function not found")
    try:
        numkeys = parse_int(argv[2])
    except RedisError:
        raise errors.err("Bad number of keys provided") from None
    if numkeys > len(argv) - 3:
        raise RedisError(errors.NUMKEYS_OVER_ARGS)
    if numkeys < 0:
        raise RedisError(errors.NUMKEYS_NEGATIVE)
    keys, args = argv[3 : 3 + numkeys], argv[3 + numkeys :]
    lua = scripts.function_lua
    return scripts.run(
        ctx,
        argv,
        lua,
        text_of(fn.name),
        False,
        fn.flags,
        ro,
        lambda: lua.call_function(fn.callback, keys, args),
    )


def _fcall_flags(cmd: Command, ctx: Ctx, argv: list[bytes]) -> frozenset[str]:
    """fcallGetCommandFlags: the called function's declared flags."""
    scripts: Scripts = ctx.scripts
    fn = scripts.function(argv[1]) if len(argv) > 1 else None
    return cmd.flags if fn is None else flags_as_command(cmd.flags, fn.flags)


_FCALL_ARGS = (
    arg("function"),
    arg("numkeys", "integer"),
    arg("key", "key", "optional", "multiple"),
    arg("arg", "string", "optional", "multiple"),
)
_FLAGS_FCALL = "noscript stale skip_monitor no_mandatory_keys movablekeys"


@command(
    "fcall",
    -3,
    _FLAGS_FCALL + " may_replicate",
    group=_S,
    since="7.0.0",
    complexity="Depends on the function that is executed.",
    summary="Invokes a function.",
    keys=(
        KeySpec(
            ("RW", "access", "update"),
            ("index", 2),
            ("keynum", 0, 1, 1),
            "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
        ),
    ),
    args=_FCALL_ARGS,
    flags_of=_fcall_flags,
)
def fcall(ctx: Ctx, argv: list[bytes]) -> Any:
    """FCALL function numkeys [key ...] [arg ...] -> what the function returns."""
    return _fcall(ctx, argv, False)


@command(
    "fcall_ro",
    -3,
    "readonly " + _FLAGS_FCALL,
    group=_S,
    since="7.0.0",
    complexity="Depends on the function that is executed.",
    summary="Invokes a read-only function.",
    keys=(
        KeySpec(
            ("RO", "access"),
            ("index", 2),
            ("keynum", 0, 1, 1),
            "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
        ),
    ),
    args=_FCALL_ARGS,
    flags_of=_fcall_flags,
)
def fcall_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    """FCALL_RO function numkeys [key ...] [arg ...] -> as FCALL; writes are refused."""
    return _fcall(ctx, argv, True)


# -- FUNCTION --------------------------------------------------------------------------------
container(
    "function",
    group=_S,
    since="7.0.0",
    summary="A container for function commands.",
    complexity="Depends on subcommand.",
)

_ALL_SHARDS = "request_policy:all_shards response_policy:all_succeeded"


@command(
    "function|load",
    -3,
    "write denyoom noscript",
    group=_S,
    since="7.0.0",
    complexity="O(1) (considering compilation time is redundant)",
    summary="Creates a library.",
    tips=_ALL_SHARDS,
    args=(token("REPLACE", "optional"), arg("function-code")),
)
def function_load(ctx: Ctx, argv: list[bytes]) -> bytes:
    """FUNCTION LOAD [REPLACE] code -> the library's name."""
    replace = False
    i = 2
    while i < len(argv) - 1:
        if argv[i].lower() != b"replace":
            raise errors.err("Unknown option given: %s" % text_of(argv[i]))
        replace = True
        i += 1
    if i >= len(argv):
        raise errors.err("Function code is missing")
    library = create_library(ctx.scripts, argv[i], replace)
    _link(ctx.scripts, library, ctx.ks)
    ctx.ks.repl.force()  # replicated as sent, as Redis does
    return library.name


@command(
    "function|delete",
    3,
    "write noscript",
    group=_S,
    since="7.0.0",
    complexity="O(1)",
    summary="Deletes a library and its functions.",
    tips=_ALL_SHARDS,
    args=(arg("library-name"),),
)
def function_delete(ctx: Ctx, argv: list[bytes]) -> str:
    """FUNCTION DELETE library-name -> OK."""
    if argv[2] not in ctx.scripts.libraries:
        raise errors.err("Library not found")
    _unlink(ctx.scripts, argv[2], ctx.ks)
    ctx.ks.repl.force()  # replicated as sent, as Redis does
    return "OK"


@command(
    "function|flush",
    -2,
    "write noscript",
    group=_S,
    since="7.0.0",
    complexity="O(N) where N is the number of functions deleted",
    summary="Deletes all libraries and functions.",
    tips=_ALL_SHARDS,
    args=(oneof("flush-type", token("ASYNC"), token("SYNC"), flags=("optional",)),),
)
def function_flush(ctx: Ctx, argv: list[bytes]) -> str:
    """FUNCTION FLUSH [ASYNC|SYNC] -> OK."""
    if len(argv) > 3:
        raise errors.unknown_subcommand_or_arity("function", argv[1])
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        raise errors.err("FUNCTION FLUSH only supports SYNC|ASYNC option")
    for name in list(ctx.scripts.libraries):
        _unlink(ctx.scripts, name, ctx.ks)
    ctx.ks.repl.force()  # replicated as sent, as Redis does
    return "OK"


def _flags_reply(fn: Registered) -> RSet:
    from diskredis.commands.lua import SCRIPT_FLAGS

    return RSet(Status(f.encode()) for f in SCRIPT_FLAGS if f in fn.flags)


@command(
    "function|list",
    -2,
    "noscript",
    group=_S,
    since="7.0.0",
    complexity="O(N) where N is the number of functions",
    summary="Returns information about all libraries.",
    tips="nondeterministic_output_order",
    args=(
        arg("library-name-pattern", "string", "optional", token="LIBRARYNAME"),
        token("WITHCODE", "optional"),
    ),
)
def function_list(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE] -> one map per library."""
    with_code = False
    pattern = None
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if not with_code and word == b"withcode":
            with_code = True
        elif pattern is None and word == b"libraryname":
            if i >= len(argv) - 1:
                raise errors.err("library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            raise errors.err("Unknown argument %s" % text_of(argv[i]))
        i += 1
    out: list[Any] = []
    for lib in ctx.scripts.libraries.values():
        if pattern is not None and not glob_match(pattern, lib.name, nocase=True):
            continue
        entry: dict[bytes, Any] = {
            b"library_name": lib.name,
            b"engine": b"LUA",
            b"functions": [
                {b"name": fn.name, b"description": fn.description, b"flags": _flags_reply(fn)}
                for fn in lib.functions.values()
            ],
        }
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


@command(
    "function|stats",
    2,
    "noscript allow_busy",
    group=_S,
    since="7.0.0",
    complexity="O(1)",
    summary="Returns information about a function during execution.",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def function_stats(ctx: Ctx, argv: list[bytes]) -> dict[bytes, Any]:
    """FUNCTION STATS -> the running function (seen while it is busy) and the libraries
    and functions per engine; BUSY while an EVAL script is busy."""
    scripts: Scripts = ctx.scripts
    return {
        b"running_script": scripts.stats(),
        b"engines": {
            b"LUA": {
                b"libraries_count": len(scripts.libraries),
                b"functions_count": sum(len(lib.functions) for lib in scripts.libraries.values()),
            }
        },
    }


@command(
    "function|kill",
    2,
    "noscript allow_busy",
    group=_S,
    since="7.0.0",
    complexity="O(1)",
    summary="Terminates a function during execution.",
    tips="request_policy:all_shards response_policy:one_succeeded",
)
def function_kill(ctx: Ctx, argv: list[bytes]) -> str:
    """FUNCTION KILL -> OK once the busy function stops; NOTBUSY when none runs."""
    scripts: Scripts = ctx.scripts
    return scripts.kill(ctx, by_eval=False)


@command(
    "function|dump",
    2,
    "noscript",
    group=_S,
    since="7.0.0",
    complexity="O(N) where N is the number of functions",
    summary="Dumps all libraries into a serialized binary payload.",
)
def function_dump(ctx: Ctx, argv: list[bytes]) -> bytes:
    """FUNCTION DUMP -> Redis's payload of every library."""
    payload = bytearray()
    compress = bool(ctx.config["rdbcompression"])
    for lib in ctx.scripts.libraries.values():  # rdbSaveFunctions: LZF as any RDB string
        payload.append(_OPCODE_FUNCTION2)
        payload += codec.enc_string(lib.code, compress)
    return codec.with_footer(bytes(payload))


@command(
    "function|restore",
    -3,
    "write denyoom noscript",
    group=_S,
    since="7.0.0",
    complexity="O(N) where N is the number of functions on the payload",
    summary="Restores all libraries from a payload.",
    tips=_ALL_SHARDS,
    args=(
        arg("serialized-value"),
        oneof("policy", token("FLUSH"), token("APPEND"), token("REPLACE"), flags=("optional",)),
    ),
)
def function_restore(ctx: Ctx, argv: list[bytes]) -> str:
    """FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] -> OK."""
    if len(argv) > 4:
        raise errors.unknown_subcommand_or_arity("function", argv[1])
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            raise errors.err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
            )
    data = argv[2]
    try:
        codec.check_dump_footer(data)  # any version this server reads (Redis 7.2+: 11, 12)
    except codec.BadFooter:
        raise RedisError(errors.DUMP_PAYLOAD_WRONG) from None
    scripts: Scripts = ctx.scripts
    loaded: dict[bytes, Library] = {}
    pos, end = 0, len(data) - 10
    while pos < end:
        kind = data[pos]
        pos += 1
        if kind not in (_OPCODE_FUNCTION, _OPCODE_FUNCTION2):
            raise errors.err("given type is not a function")
        code, pos = _read_function(data, pos, end, kind)
        library = create_library(scripts, code, False, loaded)
        loaded[library.name] = library
    if policy != b"flush":
        for name in loaded:
            if name in scripts.libraries and policy == b"append":
                raise errors.err("Library %s already exists" % text_of(name))
        replaced = {name for name in loaded if name in scripts.libraries}
        for lib in loaded.values():
            for fname in lib.functions:
                owner = scripts.functions.get(fname.lower())
                if owner is not None and owner.name not in replaced:
                    raise errors.err("Function %s already exists" % text_of(fname))
    else:
        for name in list(scripts.libraries):
            _unlink(scripts, name, ctx.ks)
    for lib in loaded.values():
        _link(scripts, lib, ctx.ks)
    ctx.ks.repl.force()  # replicated as sent, as Redis does
    return "OK"


def _read_function(data: bytes, pos: int, end: int, kind: int) -> tuple[bytes, int]:
    """rdbFunctionLoad: one library's code (the 7.0 release candidates' form too)."""
    if kind == _OPCODE_FUNCTION:
        name, pos = _rdb_string(data, pos, end, "Failed loading library name")
        engine, pos = _rdb_string(data, pos, end, "Failed loading engine name")
        has_desc, pos = _rdb_read_length(
            data, pos, end, "Failed loading library description indicator"
        )
        if has_desc:
            _, pos = _rdb_string(data, pos, end, "Failed loading library description")
        blob, pos = _rdb_string(data, pos, end, "Failed loading library blob")
        return b"#!%s name=%s\n%s" % (engine, name, blob), pos
    return _rdb_string(data, pos, end, "Failed loading library payload")


help_command_lines = [
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored "
    "using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
]


@command(
    "function|help",
    2,
    "loading stale",
    group=_S,
    since="7.0.0",
    complexity="O(1)",
    summary="Returns helpful text about the different subcommands.",
)
def function_help(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """FUNCTION HELP -> help lines."""
    return help_reply("function", help_command_lines)


# -- the RDB pieces of the payload ------------------------------------------------------------
def _rdb_read_length(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """rdbLoadLen: (length, next position); RedisError(`what`) when it is cut short."""
    src = codec.Source(data[pos:end])
    try:
        return src.count(), pos + src.offset
    except codec.RdbError:
        raise errors.err(what) from None


def _rdb_string(data: bytes, pos: int, end: int, what: str) -> tuple[bytes, int]:
    """rdbGenericLoadStringObject: a raw, integer or LZF-compressed string."""
    src = codec.Source(data[pos:end])
    try:
        return src.string(), pos + src.offset
    except codec.RdbError:
        raise errors.err(what) from None
