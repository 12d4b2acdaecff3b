"""Transactions (Redis group "transactions"): MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Room: what the transaction commands mean. Imports: `resp.values`, `commands` helpers, `keyspace`,
`errors`. Replies and errors are Redis 7.0's (multi.c).

While a client is in MULTI, `dispatch.execute` queues its commands (answering QUEUED),
runs EXEC, DISCARD, MULTI, WATCH, QUIT and RESET at once, and marks the transaction
spoiled when it refuses a command (unknown, wrong arity, NOAUTH, not allowed in MULTI):
EXEC then answers EXECABORT. EXEC runs the queue inside the lane's current batch: one
storage transaction, one durable commit, nothing from other clients in between. A
blocking command in EXEC answers at once, as if its timeout had passed, and clients
blocked on keys the transaction wrote are served after EXEC, as after any command.

WATCH registers the keys in the keyspace, which marks the watch dirty on any write to
them (from any client, by expiry, FLUSHDB/FLUSHALL/SWAPDB); EXEC then answers a null
array and runs nothing.
"""

from __future__ import annotations

from typing import Any

from diskredis import errors
from diskredis.commands.context import Block, Ctx
from diskredis.commands.dispatch import discard_transaction, execute
from diskredis.commands.registry import Command, arg, command, keys_at, lookup
from diskredis.errors import RedisError
from diskredis.resp.values import NULL_ARRAY

_T = "transactions"


@command(
    "multi",
    1,
    "noscript loading stale fast allow_busy",
    group=_T,
    since="1.2.0",
    complexity="O(1)",
    summary="Starts a transaction.",
)
def multi(ctx: Ctx, argv: list[bytes]) -> str:
    """MULTI -> OK; the commands that follow are queued until EXEC."""
    session = ctx.session
    if session.multi is not None:
        raise errors.err("MULTI calls can not be nested")
    session.multi = []
    session.multi_error = False
    return "OK"


def _exec_flags(exec_cmd: Command, ctx: Ctx, argv: list[bytes]) -> frozenset[str]:
    """EXEC writes (MISCONF, CLIENT PAUSE WRITE) when a queued command does (Redis's
    mstate.cmd_flags)."""
    flags = set(exec_cmd.flags)
    for request in ctx.session.multi or ():
        cmd = lookup(request)
        if cmd is not None:
            flags |= cmd.flags_for(ctx, request)
    return frozenset(flags)


@command(
    "exec",
    1,
    "noscript loading stale skip_slowlog",
    group=_T,
    since="1.2.0",
    complexity="Depends on commands in the transaction",
    summary="Executes all commands in a transaction.",
    flags_of=_exec_flags,
)
def exec_(ctx: Ctx, argv: list[bytes]) -> Any:
    """EXEC -> the replies of the queued commands; nil if a watched key changed;
    EXECABORT if a command was refused while queueing."""
    session = ctx.session
    queued = session.multi
    if queued is None:
        raise errors.err("EXEC without MULTI")
    if session.multi_error:
        discard_transaction(ctx)
        return RedisError(errors.EXECABORT)
    if session.watch.dirty or ctx.ks.watches.expired_since(session.watch):
        discard_transaction(ctx)
        return NULL_ARRAY
    discard_transaction(ctx)  # unwatch before running: the transaction's own writes do not count
    replies: list[Any] = []
    session.in_exec = True
    try:
        for request in queued:
            reply = execute(ctx, request)
            if isinstance(reply, Block):
                reply = reply.reply_without_waiting()  # no waiting inside a transaction
            replies.append(reply)
    finally:
        session.in_exec = False
        ctx.name = "exec"
    return replies


@command(
    "discard",
    1,
    "noscript loading stale fast allow_busy",
    group=_T,
    since="2.0.0",
    complexity="O(N), when N is the number of queued commands",
    summary="Discards a transaction.",
)
def discard(ctx: Ctx, argv: list[bytes]) -> str:
    """DISCARD -> OK; the queued commands are dropped and the keys unwatched."""
    if ctx.session.multi is None:
        raise errors.err("DISCARD without MULTI")
    discard_transaction(ctx)
    return "OK"


@command(
    "watch",
    -2,
    "noscript loading stale fast allow_busy",
    group=_T,
    since="2.2.0",
    complexity="O(1) for every key.",
    summary="Monitors changes to keys to determine the execution of a transaction.",
    keys=(keys_at("RO", last=-1),),
    args=(arg("key", "key", "multiple"),),
)
def watch(ctx: Ctx, argv: list[bytes]) -> str:
    """WATCH key [key ...] -> OK; EXEC will run nothing if one of them changes."""
    session = ctx.session
    if session.multi is not None:
        raise errors.err("WATCH inside MULTI is not allowed")
    if session.watch.dirty:
        return "OK"  # no point in watching more: EXEC will fail anyway
    for key in argv[1:]:
        ctx.ks.watches.watch(session.watch, session.db, key)
    return "OK"


@command(
    "unwatch",
    1,
    "noscript loading stale fast allow_busy",
    group=_T,
    since="2.2.0",
    complexity="O(1)",
    summary="Forgets about all watched keys.",
)
def unwatch(ctx: Ctx, argv: list[bytes]) -> str:
    """UNWATCH -> OK."""
    ctx.ks.watches.unwatch(ctx.session.watch)
    return "OK"
