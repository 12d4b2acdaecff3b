"""Lua scripting (Redis group "scripting"): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and
SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP.

Room: what the scripting commands mean; the interpreter is `commands.lua`. Imports:
`keyspace.space`, `quoting`, `commands` helpers, `errors`. Replies and errors are Redis
7.0's (eval.c, script.c, script_lua.c).

A script runs on the lane inside the batch of the command that called it: its writes
are one storage transaction with the rest of the batch and one durable commit, and
nothing of another client runs while it does (atomic, as in Redis). Its commands run
through `dispatch.execute` as a script client of their own -- the caller's database at
the start (a SELECT inside the script does not change the caller's), RESP2 unless the
script calls redis.setresp(3), no blocking (a blocking command answers as if it timed
out). A script seen once is saved in the data folder as well as cached, so it survives
a restart (Redis's cache does not) until SCRIPT FLUSH.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from diskredis import errors
from diskredis.commands import acl
from diskredis.commands.args import help_reply, parse_int
from diskredis.commands.context import Block, Ctx, Session
from diskredis.commands.dispatch import execute, feed_monitors
from diskredis.commands.lua import (
    SCRIPT_FLAGS,
    CallRefused,
    LuaError,
    LuaState,
    Raise,
    Registered,
    sha1hex,
)
from diskredis.commands.registry import (
    Command,
    KeySpec,
    arg,
    check_arity,
    command,
    container,
    lookup,
    oneof,
    token,
)
from diskredis.errors import RedisError
from diskredis.keyspace.space import Keyspace
from diskredis.quoting import split_inline

_S = "scripting"
log = logging.getLogger("diskredis")

__all__ = ["Scripts"]

NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
_HOOK_EVERY = 100_000  # Lua instructions between two looks at the clock (as Redis)
# Scripts are saved in the stats table as script:<sha1> -> body (see load_saved_scripts).
_SCRIPT_RECORD = b"script:"
_SCRIPT_END = b"script;"


@dataclass
class Script:
    sha: str
    body: bytes
    flags: frozenset[str] | None  # None: no shebang (Redis's "eval compat mode")
    chunk: Any


@dataclass
class Library:
    """A FUNCTION library: its name, its code (shebang included) and its functions."""

    name: bytes
    code: bytes
    functions: dict[bytes, Registered]


# Commands no script runs, whatever DEBUG SET-DISABLE-DENY-SCRIPTS says: those that run
# scripts themselves (Redis asserts on a script inside a script and stops) and those that
# would leave the script client in a state no later script expects (a transaction, a
# subscription, a replica's stream, another user) or end the server under it.
_NEVER_FROM_SCRIPTS = frozenset(
    (
        "eval",
        "eval_ro",
        "evalsha",
        "evalsha_ro",
        "fcall",
        "fcall_ro",
        "script",
        "function",
        "multi",
        "exec",
        "discard",
        "watch",
        "unwatch",
        "subscribe",
        "psubscribe",
        "ssubscribe",
        "unsubscribe",
        "punsubscribe",
        "sunsubscribe",
        "monitor",
        "quit",
        "reset",
        "hello",
        "auth",
        "sync",
        "psync",
        "replconf",
        "shutdown",
        "client|reply",
        "client|tracking",
        "client|caching",
    )
)


def _never_from_scripts(name: str) -> bool:
    return name in _NEVER_FROM_SCRIPTS or name.split("|", 1)[0] in ("script", "function")


class Scripts:
    """The server's scripts: the Lua state and the cache of compiled EVAL scripts, and
    the state of the script running now.

    A script that runs past `busy-reply-threshold` milliseconds is *busy*: the lane is
    still inside it, so the connections answer other clients themselves (BUSY errors,
    SCRIPT KILL, SHUTDOWN NOSAVE) through `kill`, reading `busy`, `wrote` and
    `is_eval`, which the lane sets (plain attribute reads and writes: no lock needed).
    """

    def __init__(self, version: str) -> None:
        self.version = version
        self.lua = LuaState(version)
        self.cache: dict[str, Script] = {}
        # Redis 7 functions: their own Lua state, the libraries and, by function name,
        # the library each function comes from.
        self.function_lua = LuaState(version)
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Library] = {}  # by lower-case name (see `function`)
        self.running: Session | None = None  # the caller of the script running now
        self.argv: list[bytes] = []  # the command that runs it (FUNCTION STATS)
        self.name = ""  # the running script's SHA1 (or function name)
        self.is_eval = True
        self.started = 0.0
        self.threshold_ms = 5000
        self.busy = False
        self.wrote = False
        self.killed = False
        self.read_only = False
        # DEBUG SET-DISABLE-DENY-SCRIPTS 1 lets scripts call commands flagged noscript
        # (Redis's tests call DEBUG PROTOCOL and CLIENT LIST so), but for those below.
        self.deny_noscript = True
        self.ctx: Ctx | None = None  # the script client's context (made on first use)
        self.hook_count = 0
        self.current = self.lua  # the Lua state running now
        # Called on the lane when the running script turns busy (the server answers
        # the clients queued behind it), then at each hook while it is busy (the server
        # serves its sockets meanwhile).
        self.on_busy: Callable[[], None] = lambda: None
        self.while_busy: Callable[[], None] = lambda: None

    def function(self, name: bytes) -> Registered | None:
        """The function FCALL calls: names are case-insensitive across the server
        (Redis's functionDictType), as they are for engines."""
        library = self.functions.get(name.lower())
        if library is None:
            return None
        fn = library.functions.get(name)
        if fn is None:  # named in another case: a library holds a few functions
            low = name.lower()
            fn = next(f for n, f in library.functions.items() if n.lower() == low)
        return fn

    def kill(self, ctx: Ctx, by_eval: bool) -> str:
        """SCRIPT KILL (`by_eval`) or FUNCTION KILL, from a client served while the
        script is busy (scriptKill): OK, and the script stops at its next hook."""
        if self.running is None or not self.busy:
            raise RedisError(errors.NOTBUSY)
        if self.wrote:
            raise RedisError(errors.UNKILLABLE)
        if by_eval and not self.is_eval:
            raise RedisError(errors.BUSY_FUNCTION)
        if not by_eval and self.is_eval:
            raise RedisError(errors.BUSY_EVAL)
        log.warning(
            "Killing the busy script %s at the request of client id=%d addr=%s.",
            self.name,
            ctx.session.id,
            ctx.session.addr,
        )
        self.killed = True
        return "OK"

    def stats(self) -> Any:
        """FUNCTION STATS's running_script: None, or the running function's name, the
        command that called it and how long it has run."""
        if self.running is None:
            return None
        if self.is_eval:
            raise RedisError(errors.BUSY_EVAL)
        return {
            b"name": self.name.encode("latin-1"),
            b"command": self.argv,
            b"duration_ms": int((time.monotonic() - self.started) * 1000),
        }

    def _hook(self) -> None:
        """Every 100,000 Lua instructions: stop a killed script; mark a slow one busy."""
        if self.running is None:
            return
        if self.killed:
            self.current.set_hook(self._hook, 1)  # pcall cannot swallow it: each step raises
            self.hook_count = 1  # back to normal at the next run
            raise Raise(self.current.error_table(b"Script killed by user with SCRIPT KILL..."))
        if self.busy:
            self.while_busy()
            return
        elapsed = (time.monotonic() - self.started) * 1000
        if elapsed >= self.threshold_ms:
            log.warning(
                "Slow script detected: still in execution after %d milliseconds. "
                "You can try killing the script using the %s command. Script name "
                "is: %s.",
                elapsed,
                "SCRIPT KILL" if self.is_eval else "FUNCTION KILL",
                self.name,
            )
            self.busy = True
            self.on_busy()
            self.while_busy()

    def flush(self, ks: Keyspace) -> None:
        """SCRIPT FLUSH: forget every script (the saved ones too) and start a fresh Lua
        state, as Redis."""
        txn = ks.tx()
        for key, _ in list(txn.scan("stats", _SCRIPT_RECORD, _SCRIPT_END)):
            txn.delete("stats", key)
        self.cache = {}
        self.lua = LuaState(self.version)
        self.hook_count = 0

    def prepare(self, ctx: Ctx, lua: LuaState) -> None:
        """Before a run in `lua`: the script client takes the caller's database and user
        (it is made once: every caller shares the server's objects); the timeout hook is
        set."""
        if self.ctx is None:
            client = Session(id=0, addr="lua", laddr="", is_script=True)
            self.ctx = Ctx(
                client,
                ctx.server,
                ctx.config,
                ctx.stats,
                ctx.ks,
                ctx.hub,
                self,
                acl=ctx.acl,
                tracking=ctx.tracking,
            )
        client = self.ctx.session
        client.db, client.user, client.resp = ctx.session.db, ctx.session.user, 2
        client.acl_user = ctx.session.acl_user
        self.current = lua
        lua.command = self._command
        lua.check_command = self._acl_allows
        lua.set_repl = self._set_repl
        self.threshold_ms = ctx.config["busy-reply-threshold"]
        count = _HOOK_EVERY if self.threshold_ms > 0 else 0
        if lua is not self.lua:
            lua.set_hook(self._hook if count else None, count)  # functions: set each run
        elif count != self.hook_count:  # set once, not per run: it stays between runs
            lua.set_hook(self._hook if count else None, count)
            self.hook_count = count

    def run(
        self,
        ctx: Ctx,
        argv: list[bytes],
        lua: LuaState,
        name: str,
        is_eval: bool,
        flags: frozenset[str] | None,
        ro_command: bool,
        call: Callable[[], Any],
    ) -> Any:
        """scriptPrepareForRun + the call: the reply, or the script's error."""
        if flags is not None and "no-writes" not in flags and ro_command:
            raise errors.err("Can not execute a script with write flag using *_ro command.")
        self.prepare(ctx, lua)
        self.argv = argv
        self.read_only = ro_command or (flags is not None and "no-writes" in flags)
        self.name, self.is_eval = name, is_eval
        self.wrote = self.killed = self.busy = False
        self.started = time.monotonic()
        self.running = ctx.session
        ks = ctx.ks
        outer_time, ks.script_time = ks.script_time, ks.script_time or time.time_ns() // 1_000_000
        try:
            result = call()
        except LuaError as e:
            if lua is self.lua:
                self.hook_count = 0  # the error handler removed the hook: set it next run
            return _script_error(e.value, name, lua)
        finally:
            self.running = None
            self.busy = False
            self.argv = []
            ks.script_time = outer_time
            ks.repl.replicating = True  # redis.set_repl lasts for one run
        return lua.to_reply(result, lua.resp)

    def _set_repl(self, flags: int) -> None:
        """redis.set_repl: without REPL_REPLICA (2), the script's next writes are not
        sent to replicas (Redis's PROPAGATE_REPL)."""
        assert self.ctx is not None
        self.ctx.ks.repl.replicating = bool(flags & 2)

    def _command(self, argv: list[bytes]) -> Any:
        """redis.call/pcall: scriptCall's checks, then the command as the script client."""
        cmd = lookup(argv)
        if cmd is None:
            self._refuse(None, "Unknown Redis command called from script")
        try:
            check_arity(cmd, len(argv))  # a container alone fails here, as in Redis
        except RedisError:
            self._refuse(cmd, "Wrong number of args calling Redis command from script")
        flags = cmd.flags
        if "noscript" in flags and (self.deny_noscript or _never_from_scripts(cmd.name)):
            self._refuse(cmd, "This Redis command is not allowed from script")
        assert self.ctx is not None
        user = self.ctx.session.acl_user
        if user is not None and not user.free:
            reason, idx = user.check(cmd, argv)
            if reason:
                acl.log_denial(self.ctx, reason, argv, idx, "lua", cmd)
                self._refuse(cmd, acl.script_denial_text(reason))
        if self.read_only and ("write" in flags or "may_replicate" in flags):
            self._refuse(cmd, "Write commands are not allowed from read-only scripts.")
        if "write" in flags:
            self.wrote = True  # from now on SCRIPT KILL refuses (UNKILLABLE)
        self.ctx.session.resp = self.current.resp
        reply = execute(self.ctx, argv)
        if isinstance(reply, Block):
            reply = reply.reply_without_waiting()  # scripts never block
        return reply

    def _refuse(self, cmd: Any, text: str) -> NoReturn:
        """scriptCall's error path: the refusal counts in errorstats now (as ERR) and in
        the command's rejected_calls, and is not counted again when the script's error
        reaches its caller."""
        assert self.ctx is not None
        self.ctx.stats.count_error("ERR")
        if cmd is not None:
            cmd.rejected_calls += 1
        raise CallRefused(text)

    def _acl_allows(self, argv: list[bytes]) -> bool | None:
        """redis.acl_check_cmd: whether the calling user may run `argv` (ACL rules only:
        the arity is not checked, as in Redis); None for an unknown command."""
        cmd = lookup(argv)
        if cmd is None:
            return None
        assert self.ctx is not None
        user = self.ctx.session.acl_user
        return user is None or user.free or user.check(cmd, argv)[0] == acl.OK

    def create(self, body: bytes, ks: Keyspace | None = None) -> Script:
        """luaCreateFunction: the cached script of `body`, compiled on first sight (and
        then saved through `ks`, so that it is still cached after a restart)."""
        sha = sha1hex(body)
        script = self.cache.get(sha)
        if script is not None:
            return script
        flags, shebang_len = _shebang(body)
        try:
            chunk = self.lua.compile(body[shebang_len:])
        except LuaError as e:
            raise errors.err(
                "Error compiling script (new function): %s" % text_of(e.value)
            ) from None
        script = self.cache[sha] = Script(sha, body, flags, chunk)
        if ks is not None:
            ks.tx().put("stats", _SCRIPT_RECORD + sha.encode(), body)
        return script


def load_saved_scripts(scripts: Scripts, ks: Keyspace) -> int:
    """At start-up: compile the scripts the data folder holds; how many. (Redis empties
    its script cache on restart; here a script loaded once stays until SCRIPT FLUSH, so
    EVALSHA keeps working for clients that never fall back to EVAL.)"""
    with ks.engine.read() as txn:
        saved = list(txn.scan("stats", _SCRIPT_RECORD, _SCRIPT_END))
    for key, body in saved:
        try:
            scripts.create(body)
        except RedisError as e:
            log.error(
                "Script %s stored in %s could not be compiled and is left out: %s",
                key[len(_SCRIPT_RECORD) :].decode("latin-1"),
                ks.engine.path,
                e.text,
            )
    return len(scripts.cache)


def text_of(value: Any) -> str:
    """A byte string as text (Latin-1: every byte survives), for error messages."""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _shebang(body: bytes) -> tuple[frozenset[str] | None, int]:
    """evalExtractShebangFlags: the declared flags and the shebang's length (the line
    feed stays, so line numbers do not move); no shebang: (None, 0)."""
    if not body.startswith(b"#!"):
        return None, 0
    end = body.find(b"\n")
    if end < 0:
        raise errors.err("Invalid script shebang")
    parts = split_inline(body[:end])
    if not parts:
        raise errors.err("Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise errors.err("Unexpected engine in script shebang: %s" % text_of(parts[0]))
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise errors.err("Unknown lua shebang option: %s" % text_of(part))
        for raw in part[6:].split(b",") if part[6:] else ():  # sdssplitlen("") is empty
            name = text_of(raw)
            if name not in SCRIPT_FLAGS:
                raise errors.err("Unexpected flag in script shebang: %s" % name)
            flags.add(name)
    return frozenset(flags), end


# -- running ------------------------------------------------------------------------------
def run_script(
    ctx: Ctx,
    argv: list[bytes],
    script: Script,
    keys: list[bytes],
    args: list[bytes],
    ro_command: bool,
) -> Any:
    """An EVAL script's run: its reply, or its error."""
    scripts: Scripts = ctx.scripts
    lua = scripts.lua
    return scripts.run(
        ctx,
        argv,
        lua,
        script.sha,
        True,
        script.flags,
        ro_command,
        lambda: lua.run(script.chunk, keys, args),
    )


def _script_error(value: Any, funcname: str, lua: LuaState) -> RedisError:
    """The reply to a failed script (luaCallFunction's error branch)."""
    from lupa import lua51

    if lua51.lua_type(value) != "table":
        text = text_of(value) if value is not None else "execution failure"
        return errors.err("Error running script %s, %.100s\n" % (funcname, text))
    rawget = lua.rt.globals().rawget
    msg, source, line = rawget(value, b"err"), rawget(value, b"source"), rawget(value, b"line")
    # No message: Redis 7.0 crashes on that (error({})); this answers an error instead.
    text = text_of(msg) if isinstance(msg, bytes) else "ERR unknown error"
    if source is not None and line is not None:
        text += " script: %s, on %s:%s." % (funcname, text_of(source), _line(line))
    if rawget(value, b"ignore_error_stats_update"):  # counted where the command failed
        return errors.CountedError(text)
    return RedisError(text)


def _line(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "%d" % value if float(value).is_integer() else "%.14g" % value


def flags_as_command(
    cmd_flags: frozenset[str], script_flags: frozenset[str] | None
) -> frozenset[str]:
    """scriptFlagsToCmdFlags: a script that declares its flags runs with them (no
    shebang, "eval compat mode": with the command's)."""
    if script_flags is None:
        return cmd_flags
    flags = set(cmd_flags) - {"stale", "denyoom", "write", "may_replicate"}
    if not script_flags & {"allow-oom", "no-writes"}:
        flags.add("denyoom")
    if "no-writes" not in script_flags:
        flags.add("write")
    if "allow-stale" in script_flags:
        flags.add("stale")
    return frozenset(flags)


def _eval_flags(cmd: Command, ctx: Ctx, argv: list[bytes]) -> frozenset[str]:
    """evalGetCommandFlags: the flags of an EVAL call are its script's (cached, or read
    from the shebang of a script not seen yet)."""
    by_sha = cmd.name.startswith("evalsha")
    if len(argv) < 2 or (by_sha and len(argv[1]) > 40):
        return cmd.flags
    scripts: Scripts = ctx.scripts
    sha = argv[1].decode("latin-1").lower() if by_sha else sha1hex(argv[1])
    script = scripts.cache.get(sha)
    if script is not None:
        return flags_as_command(cmd.flags, script.flags)
    if by_sha:
        return cmd.flags
    try:
        flags, _ = _shebang(argv[1])
    except RedisError:
        return cmd.flags
    return flags_as_command(cmd.flags, flags)


def _eval(ctx: Ctx, argv: list[bytes], by_sha: bool, ro: bool) -> Any:
    feed_monitors(ctx, argv)
    ctx.ks.repl.prevent()  # a script replicates as its effects, never as itself
    numkeys = parse_int(argv[2])
    if numkeys > len(argv) - 3:
        raise RedisError(errors.NUMKEYS_OVER_ARGS)
    if numkeys < 0:
        raise RedisError(errors.NUMKEYS_NEGATIVE)
    scripts: Scripts = ctx.scripts
    if by_sha:
        sha = argv[1]
        script = scripts.cache.get(sha.decode("latin-1").lower()) if len(sha) == 40 else None
        if script is None:
            raise RedisError(NOSCRIPT)
    else:
        script = scripts.create(argv[1], ctx.ks)
    keys = argv[3 : 3 + numkeys]
    return run_script(ctx, argv, script, keys, argv[3 + numkeys :], ro)


_EVAL_KEYS = (
    KeySpec(
        ("RW", "access", "update"),
        ("index", 2),
        ("keynum", 0, 1, 1),
        "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
    ),
)
_EVAL_RO_KEYS = (
    KeySpec(
        ("RO", "access"),
        ("index", 2),
        ("keynum", 0, 1, 1),
        "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
    ),
)
_EVALSHA_KEYS = (KeySpec(("RW", "access", "update"), ("index", 2), ("keynum", 0, 1, 1)),)
_EVALSHA_RO_KEYS = (KeySpec(("RO", "access"), ("index", 2), ("keynum", 0, 1, 1)),)
_FLAGS_EVAL = "noscript stale skip_monitor no_mandatory_keys movablekeys"
_COMPLEXITY = "Depends on the script that is executed."
_ARGS = (
    arg("numkeys", "integer"),
    arg("key", "key", "optional", "multiple"),
    arg("arg", "string", "optional", "multiple"),
)


@command(
    "eval",
    -3,
    _FLAGS_EVAL + " may_replicate",
    group=_S,
    since="2.6.0",
    complexity=_COMPLEXITY,
    summary="Executes a server-side Lua script.",
    keys=_EVAL_KEYS,
    flags_of=_eval_flags,
    args=(arg("script"), *_ARGS),
)
def eval_(ctx: Ctx, argv: list[bytes]) -> Any:
    """EVAL script numkeys [key ...] [arg ...] -> what the script returns."""
    return _eval(ctx, argv, False, False)


@command(
    "evalsha",
    -3,
    _FLAGS_EVAL + " may_replicate",
    group=_S,
    since="2.6.0",
    complexity=_COMPLEXITY,
    summary="Executes a server-side Lua script by SHA1 digest.",
    keys=_EVALSHA_KEYS,
    flags_of=_eval_flags,
    args=(arg("sha1"), *_ARGS),
)
def evalsha(ctx: Ctx, argv: list[bytes]) -> Any:
    """EVALSHA sha1 numkeys [key ...] [arg ...] -> what the cached script returns."""
    return _eval(ctx, argv, True, False)


@command(
    "eval_ro",
    -3,
    "readonly " + _FLAGS_EVAL,
    group=_S,
    since="7.0.0",
    complexity=_COMPLEXITY,
    summary="Executes a read-only server-side Lua script.",
    keys=_EVAL_RO_KEYS,
    flags_of=_eval_flags,
    args=(arg("script"), *_ARGS),
)
def eval_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    """EVAL_RO script numkeys [key ...] [arg ...] -> as EVAL; writes are refused."""
    return _eval(ctx, argv, False, True)


@command(
    "evalsha_ro",
    -3,
    "readonly " + _FLAGS_EVAL,
    group=_S,
    since="7.0.0",
    complexity=_COMPLEXITY,
    summary="Executes a read-only server-side Lua script by SHA1 digest.",
    keys=_EVALSHA_RO_KEYS,
    flags_of=_eval_flags,
    args=(arg("sha1"), *_ARGS),
)
def evalsha_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    """EVALSHA_RO sha1 numkeys [key ...] [arg ...] -> as EVALSHA; writes are refused."""
    return _eval(ctx, argv, True, True)


# -- SCRIPT ---------------------------------------------------------------------------------
container(
    "script",
    group=_S,
    since="2.6.0",
    summary="A container for Lua scripts management commands.",
    complexity="Depends on subcommand.",
)


@command(
    "script|load",
    3,
    "noscript stale",
    group=_S,
    since="2.6.0",
    complexity="O(N) with N being the length in bytes of the script body.",
    summary="Loads a server-side Lua script to the script cache.",
    tips="request_policy:all_nodes response_policy:all_succeeded",
    args=(arg("script"),),
)
def script_load(ctx: Ctx, argv: list[bytes]) -> bytes:
    """SCRIPT LOAD script -> its SHA1 (compiled and cached, not run)."""
    scripts: Scripts = ctx.scripts
    return scripts.create(argv[2], ctx.ks).sha.encode()


@command(
    "script|exists",
    -3,
    "noscript",
    group=_S,
    since="2.6.0",
    complexity="O(N) with N being the number of scripts to check (so checking a single "
    "script is an O(1) operation).",
    summary="Determines whether server-side Lua scripts exist in the script cache.",
    tips="request_policy:all_shards response_policy:agg_logical_and",
    args=(arg("sha1", "string", "multiple"),),
)
def script_exists(ctx: Ctx, argv: list[bytes]) -> list[int]:
    """SCRIPT EXISTS sha1 [sha1 ...] -> 1 or 0 for each."""
    cache = ctx.scripts.cache
    return [int(len(sha) == 40 and sha.decode("latin-1").lower() in cache) for sha in argv[2:]]


@command(
    "script|flush",
    -2,
    "noscript",
    group=_S,
    since="2.6.0",
    complexity="O(N) with N being the number of scripts in cache",
    summary="Removes all server-side Lua scripts from the script cache.",
    tips="request_policy:all_nodes response_policy:all_succeeded",
    history=(("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),),
    args=(
        oneof(
            "flush-type",
            token("ASYNC", since="6.2.0"),
            token("SYNC", since="6.2.0"),
            flags=("optional",),
        ),
    ),
)
def script_flush(ctx: Ctx, argv: list[bytes]) -> str:
    """SCRIPT FLUSH [ASYNC|SYNC] -> OK."""
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        raise errors.err("SCRIPT FLUSH only support SYNC|ASYNC option")
    ctx.scripts.flush(ctx.ks)
    return "OK"


@command(
    "script|kill",
    2,
    "noscript allow_busy",
    group=_S,
    since="2.6.0",
    complexity="O(1)",
    summary="Terminates a server-side Lua script during execution.",
    tips="request_policy:all_shards response_policy:one_succeeded",
)
def script_kill(ctx: Ctx, argv: list[bytes]) -> str:
    """SCRIPT KILL -> OK once the busy script stops; NOTBUSY when none runs."""
    scripts: Scripts = ctx.scripts
    return scripts.kill(ctx, by_eval=True)


@command(
    "script|help",
    2,
    "loading stale",
    group=_S,
    since="5.0.0",
    complexity="O(1)",
    summary="Returns helpful text about the different subcommands.",
)
def script_help(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """SCRIPT HELP -> help lines."""
    return help_reply(
        "script",
        [
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
