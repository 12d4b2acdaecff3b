"""Running one request: lookup, checks in Redis's order, the handler, bookkeeping.

Room: processCommand and call() of Redis, minus the I/O. Imports: `acl`, `config`,
`registry`, `context`, `keyspace.space` (lookup flags), `errors`. The order of checks
is Redis 7.0's: existence, arity, protected commands, authentication, then the call; a
rejected command counts in `rejected_calls`, a failing one in `failed_calls`, both in
errorstats.
"""

from __future__ import annotations

import time
from typing import Any

from diskredis import errors
from diskredis.commands.context import Block, Ctx, Resume, SlowlogEntry
from diskredis.commands.registry import Command, find, hdr_bucket
from diskredis.errors import CountedError, RedisError
from diskredis.keyspace.space import LOOKUP_TOUCH

__all__ = [
    "NO_REPLY",
    "PAUSED",
    "PAUSE_ALL",
    "PAUSE_WRITE",
    "execute",
    "feed_monitors",
    "repr_arg",
    "serve",
    "served",
]


class _NoReply:
    """Returned by a handler whose client gets no reply (CLIENT REPLY OFF, SHUTDOWN)."""

    def __repr__(self) -> str:
        return "NO_REPLY"


NO_REPLY = _NoReply()


class _Paused:
    """Returned by `execute` for a command CLIENT PAUSE holds: the lane runs it again
    from the start once the pause ends (Redis's BLOCKED_POSTPONE)."""

    def __repr__(self) -> str:
        return "PAUSED"


PAUSED = _Paused()
PAUSE_WRITE = 1  # CLIENT PAUSE WRITE: commands that write or may replicate wait
PAUSE_ALL = 2  # CLIENT PAUSE ALL: every command waits
_MAY_REPLICATE = frozenset(("write", "may_replicate"))

_clock = time.perf_counter_ns
_SLOWLOG_MAX_ARGC = 32
_SLOWLOG_MAX_STRING = 128
_REDACTED = b"(redacted)"


def execute(ctx: Ctx, argv: list[bytes], busy: bool = False, paused: int = 0) -> Any:
    """Run `argv` for `ctx.session`; returns the reply value (errors as `RedisError`).

    `busy`: a script is past busy-reply-threshold and the server serves this client
    meanwhile (Redis's processEventsWhileBlocked): only the commands flagged
    `allow_busy` run; the others are refused with BUSY at the place processCommand
    refuses them (after the ACL and pub/sub checks, before MULTI queues them).
    `paused`: CLIENT PAUSE is on (PAUSE_WRITE or PAUSE_ALL); a command it holds
    returns PAUSED, after the checks that answer at once (arity, ACL, BUSY...)."""
    session = ctx.session
    try:
        cmd = find(argv)
    except RedisError as e:
        ctx.stats.count_error(e.code)
        _spoil_transaction(ctx)
        return e
    arity = cmd.arity
    argc = len(argv)
    if argc != arity and (arity > 0 or argc < -arity):
        return _reject(ctx, cmd, argv, errors.wrong_arity(cmd.name))
    # processCommand's checks in its order. Most only do anything in a rare state (a
    # protected command, a client not authenticated, in MULTI or subscribed): looked at
    # together, once.
    rare = (
        cmd.protected
        or not session.authenticated
        or session.multi is not None
        or session.pubsub
        or busy
        or paused
    )
    if rare and (early := _checks_before_acl(ctx, cmd, argv)) is not None:
        return early
    user = session.acl_user
    if user is not None and not user.free and not session.is_script:
        reason, idx = user.check(cmd, argv)
        if reason:
            return _reject(ctx, cmd, argv, _denied(ctx, cmd, argv, reason, idx))
    ks = ctx.ks
    config = ctx.config.values
    # checkGoodReplicasStatus: too few replicas acknowledged within min-replicas-max-lag
    following = ks.following  # a replica
    no_replicas = (
        config["min-replicas-to-write"]
        and config["min-replicas-max-lag"]
        and not following
        and _good_replicas(ctx) < config["min-replicas-to-write"]
    )
    flags = cmd.flags
    if cmd.flags_of is not None and (paused or no_replicas or ks.read_only_reason or following):
        flags = cmd.flags_of(cmd, ctx, argv)  # getCommandFlags, once
    if ks.read_only_reason is not None and ("write" in flags or cmd.name == "ping"):
        # PING too, as Redis: a health check sees that writes are refused
        return _reject(ctx, cmd, argv, errors.misconf(ks.read_only_reason))
    if no_replicas and "write" in flags:
        return _reject(ctx, cmd, argv, RedisError(errors.NOREPLICAS))
    if following and not ks.obeying and (refusal := _replica_refusal(ctx, flags)) is not None:
        return _reject(ctx, cmd, argv, refusal)
    if rare and (early := _checks_after_acl(ctx, cmd, argv, flags, busy, paused)) is not None:
        return early
    ctx.name = session.last_cmd = name = cmd.name
    if not session.no_touch or name == "touch":
        ctx.lookup_flags = cmd.lookup_flags
    else:  # CLIENT NO-TOUCH
        ctx.lookup_flags = cmd.lookup_flags & ~LOOKUP_TOUCH
    handler: Any = cmd.handler
    repl = ks.repl
    live = repl.backlog.recording
    if live:  # replicas: what this call changes goes to the stream
        outer = repl.enter(ks.changes)
    start = _clock()
    tracking = ctx.tracking
    try:
        if tracking is not None and tracking.clients:  # client-side caching in use
            modifier, tracking.modifier = tracking.modifier, session
            try:
                reply = handler(ctx, argv)
            except RedisError as e:
                reply = e
            finally:
                tracking.modifier = modifier
            if cmd.readonly:
                tracking.remember(ctx, cmd, argv)
        else:
            try:
                reply = handler(ctx, argv)
            except RedisError as e:
                reply = e
    except BaseException:
        # A handler's bug (the lane answers "internal error"): the call ends for the
        # stream too -- what it queued goes out, its own form does not -- or every
        # later write would stay inside an unfinished unit.
        if live:
            repl.leave(session.db, None, ks.changes, outer)
        raise
    elapsed = _clock() - start
    # EXEC's commands were replicated one by one (MULTI/EXEC come from the unit).
    if live and repl.leave(session.db, None if name == "exec" else argv, ks.changes, outer):
        session.woff = repl.backlog.end  # what WAIT waits for (Redis's c->woff)
    usec = elapsed // 1000
    cmd.calls += 1
    cmd.usec += usec
    # A client that waits has its call in SLOWLOG and the latency histogram once it is
    # served (`served`), as Redis's updateStatsOnUnblock; inside EXEC or a script
    # nothing waits.
    waits = type(reply) is Block and not (session.in_exec or session.is_script)
    if waits:
        reply.cmd, reply.elapsed_ns = cmd, elapsed
    elif config["latency-tracking"]:  # INFO latencystats, LATENCY HISTOGRAM
        latency, bucket = cmd.latency, hdr_bucket(elapsed)
        latency[bucket] = latency.get(bucket, 0) + 1
    stats = ctx.stats
    stats.commands += 1
    if isinstance(reply, RedisError):
        cmd.failed_calls += 1
        if type(reply) is not CountedError:
            stats.count_error(reply.code)
    # SLOWLOG, MONITOR and LATENCY only when they have something to do.
    if (
        (usec >= config["slowlog-log-slower-than"] >= 0 and not cmd.quiet and not waits)
        or config["latency-monitor-threshold"]
        or (ctx.server.monitoring and not cmd.unmonitored)
    ):
        _after_call(ctx, cmd, argv, usec, waits)
    return reply


def finish_refusal(ctx: Ctx, argv: list[bytes]) -> RedisError | None:
    """Whether processCommand would refuse the command of a `Resume` now (the disk
    failing, the server turned replica meanwhile): the refusal, counted, or None."""
    ks = ctx.ks
    cmd = find(argv)
    refusal = None
    if ks.read_only_reason is not None:
        refusal = errors.misconf(ks.read_only_reason)
    elif ks.following:
        refusal = _replica_refusal(ctx, cmd.flags)
    if refusal is not None:  # (its call was counted when it began: a failed one)
        count_failure(ctx, argv, refusal)
    return refusal


def count_failure(ctx: Ctx, argv: list[bytes], error: RedisError) -> None:
    """A command whose call was counted when it began ended with `error` later, off
    `execute` (a Resume's refusal, a build that failed): failed_calls and errorstats."""
    find(argv).failed_calls += 1
    if type(error) is not CountedError:
        ctx.stats.count_error(error.code)


def finish_call(ctx: Ctx, argv: list[bytes], resume: Resume) -> Any:
    """The end of a command whose middle ran off the lane (`Resume`; `finish_refusal`
    said it may end): `resume.finish` within a call, as `execute` runs a handler. The
    call itself was counted when it began; a failure counts in failed_calls and
    errorstats here."""
    session = ctx.session
    ks = ctx.ks
    cmd = find(argv)
    if not session.no_touch:
        ctx.lookup_flags = cmd.lookup_flags
    else:  # CLIENT NO-TOUCH
        ctx.lookup_flags = cmd.lookup_flags & ~LOOKUP_TOUCH
    repl = ks.repl
    live = repl.backlog.recording
    if live:
        outer = repl.enter(ks.changes)
    tracking = ctx.tracking
    watched = tracking is not None and tracking.clients
    if watched:
        modifier, tracking.modifier = tracking.modifier, session
    try:
        try:
            reply = resume.finish(ctx)
        except RedisError as e:
            reply = e
    except BaseException:
        if live:  # as in `execute`: the call ends for the stream too
            repl.leave(session.db, None, ks.changes, outer)
        raise
    finally:
        if watched:
            tracking.modifier = modifier
    if live and repl.leave(session.db, argv, ks.changes, outer):
        session.woff = repl.backlog.end
    if isinstance(reply, RedisError):
        cmd.failed_calls += 1
        if type(reply) is not CountedError:
            ctx.stats.count_error(reply.code)
    return reply


def _replica_refusal(ctx: Ctx, flags: frozenset[str]) -> RedisError | None:
    """A replica's client (not its primary): writes refused while replica-read-only,
    and with the link down and replica-serve-stale-data off, what is not flagged
    stale (processCommand's checks, in its order)."""
    config = ctx.config
    if config["replica-read-only"] and "write" in flags:
        return RedisError(errors.READONLY_REPLICA)
    if not config["replica-serve-stale-data"] and "stale" not in flags:
        master = ctx.server.master_state()
        if master is not None and master.state != "connected":
            if ctx.session.is_script:
                return errors.err("Can not execute the command on a stale replica")
            return RedisError(errors.MASTERDOWN)
    return None


def _good_replicas(ctx: Ctx) -> int:
    """Replicas online that acknowledged within min-replicas-max-lag seconds
    (refreshGoodSlavesCount)."""
    lag = ctx.config["min-replicas-max-lag"]
    return sum(1 for r in ctx.server.replica_states() if r.state == "online" and r.lag <= lag)


def serve(ctx: Ctx, block: Block, key: bytes) -> Any:
    """Serve a waiting client from `key` (its Block's serve function): with replicas, an
    execution unit of its own, replicated as the handler says (a blocking pop as the
    plain pop, BLMOVE as LMOVE, XREADGROUP as its XCLAIMs), never as the blocking
    command itself."""
    repl = ctx.ks.repl
    if not repl.backlog.recording:
        return block.serve(ctx, key)
    outer = repl.enter(ctx.ks.changes)
    try:
        return block.serve(ctx, key)
    finally:
        repl.leave(ctx.session.db, None, ctx.ks.changes, outer)


def served(
    ctx: Ctx, argv: list[bytes], block: Block, reply: Any, serve_ns: int, unblocked: bool = False
) -> None:
    """A waiting client got its answer from a write, or from CLIENT UNBLOCK (`unblocked`)
    (updateStatsOnUnblock): its call and the serving count in commandstats' time, the
    latency histogram and SLOWLOG (with the blocking command's arguments); an error in
    errorstats, and in failed_calls -- where Redis counts every CLIENT UNBLOCK too."""
    if isinstance(reply, RedisError):
        ctx.stats.count_error(reply.code)
    cmd: Command = block.cmd
    if cmd is None:
        return
    total = block.elapsed_ns + serve_ns
    usec = total // 1000
    cmd.usec += usec
    if unblocked or isinstance(reply, RedisError):
        cmd.failed_calls += 1
    config = ctx.config.values
    if config["latency-tracking"]:
        latency, bucket = cmd.latency, hdr_bucket(total)
        latency[bucket] = latency.get(bucket, 0) + 1
    threshold = config["slowlog-log-slower-than"]
    if not cmd.quiet and 0 <= threshold <= usec:
        _slowlog_add(ctx, _redact(cmd, argv), usec)


def _checks_before_acl(ctx: Ctx, cmd: Command, argv: list[bytes]) -> RedisError | None:
    """A protected command, a client not authenticated, a command MULTI refuses."""
    session = ctx.session
    if cmd.protected and not _protected_allowed(ctx, cmd):
        return _reject(
            ctx,
            cmd,
            argv,
            errors.err(
                '%s command not allowed. If the %s option is set to "local", you can run it '
                "from a local connection, otherwise you need to set this option in the "
                "configuration file, and then restart the server."
                % (cmd.name.split("|")[0].upper(), _protected_option(cmd))
            ),
        )
    if (
        not session.authenticated
        and not cmd.no_auth
        and (ctx.acl is None or ctx.acl.auth_required(session))
    ):
        return _reject(ctx, cmd, argv, RedisError(errors.NOAUTH))
    if session.multi is not None and not session.in_exec and cmd.no_multi:
        return _reject(ctx, cmd, argv, RedisError(errors.NOT_ALLOWED_IN_MULTI))
    return None


def _checks_after_acl(
    ctx: Ctx, cmd: Command, argv: list[bytes], flags: frozenset[str], busy: bool, paused: int
) -> Any:
    """A RESP2 client in pub/sub mode; a busy script; a pause (of a command with these
    `flags`); a command queued by MULTI (QUEUED)."""
    session = ctx.session
    if (
        session.resp == 2
        and session.pubsub
        and not session.in_exec
        and cmd.name not in _RUN_SUBSCRIBED
    ):
        return _reject(
            ctx,
            cmd,
            argv,
            errors.err(
                "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                "RESET are allowed in this context" % cmd.name
            ),
        )
    if busy and not cmd.allow_busy:
        return _reject(
            ctx,
            cmd,
            argv,
            RedisError(errors.BUSY_EVAL if ctx.scripts.is_eval else errors.BUSY_FUNCTION),
        )
    # (only top-level commands are paused: EXEC's and scripts' pass paused=0)
    if paused and (paused == PAUSE_ALL or not _MAY_REPLICATE.isdisjoint(flags)):
        return PAUSED
    if session.multi is not None and not session.in_exec and cmd.name not in _RUN_IN_MULTI:
        session.multi.append(argv)
        return "QUEUED"
    return None


def _denied(ctx: Ctx, cmd: Command, argv: list[bytes], reason: int, idx: int) -> RedisError:
    """An ACL denial: logged (ACL LOG), with Redis's NOPERM text (EXEC's own when the
    rules changed after the command was queued)."""
    from diskredis.commands import acl

    session = ctx.session
    session.last_cmd = cmd.name
    acl.log_denial(
        ctx, reason, argv, idx, "multi" if session.multi is not None else "toplevel", cmd
    )
    if session.in_exec:
        return RedisError(acl.exec_denial_text(reason))
    return RedisError(acl.denial_text(reason, cmd))


def _protected_option(cmd: Command) -> str:
    """The setting that lets a protected command run: DEBUG's or MODULE's."""
    return "enable-module-command" if cmd.name.startswith("module|") else "enable-debug-command"


def _protected_allowed(ctx: Ctx, cmd: Command) -> bool:
    setting = ctx.config[_protected_option(cmd)]
    if setting == "yes":
        return True
    if setting == "local":
        s = ctx.session
        return s.is_unix or s.addr.startswith(("127.", "[::1]", "::1"))
    return False


# What a RESP2 client with subscriptions may run (processCommand).
_RUN_SUBSCRIBED = frozenset(
    (
        "ping",
        "subscribe",
        "ssubscribe",
        "unsubscribe",
        "sunsubscribe",
        "psubscribe",
        "punsubscribe",
        "quit",
        "reset",
    )
)

# What runs at once inside MULTI instead of being queued (processCommand).
_RUN_IN_MULTI = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


def _reject(ctx: Ctx, cmd: Command, argv: list[bytes], error: RedisError) -> RedisError:
    """rejectCommand: counted as rejected; the transaction being queued is spoiled, and
    a refused EXEC discards it (execCommandAbort, which shows MONITOR the EXEC)."""
    cmd.rejected_calls += 1
    if cmd.name == "exec" and not ctx.session.in_exec:  # in MULTI or not, as Redis
        discard_transaction(ctx)
        # Redis words the texts it formats here without a code ("wrong number of
        # arguments..."); its shared errors keep theirs ("BUSY ...", "NOPERM ...").
        text = error.text[4:] if error.code == "ERR" else error.text
        error = RedisError("EXECABORT Transaction discarded because of: " + text)
        feed_monitors(ctx, argv)
    else:
        _spoil_transaction(ctx)
    ctx.stats.count_error(error.code)
    return error


def discard_transaction(ctx: Ctx) -> None:
    """discardTransaction: forget the queue and the watched keys."""
    session = ctx.session
    session.multi = None
    session.multi_error = False
    ctx.ks.watches.unwatch(session.watch)


def _spoil_transaction(ctx: Ctx) -> None:
    """flagTransaction: a command refused while queueing makes EXEC abort."""
    if ctx.session.multi is not None and not ctx.session.in_exec:
        ctx.session.multi_error = True


def _after_call(ctx: Ctx, cmd: Command, argv: list[bytes], usec: int, waits: bool) -> None:
    shown = _redact(cmd, argv)
    if not cmd.quiet and not waits:
        threshold = ctx.config["slowlog-log-slower-than"]
        if threshold >= 0 and usec >= threshold:
            _slowlog_add(ctx, shown, usec)
    if not cmd.unmonitored and ctx.server.monitoring:
        _feed(ctx, shown)
    threshold_ms = ctx.config["latency-monitor-threshold"]
    if threshold_ms and usec // 1000 >= threshold_ms:
        event = "fast-command" if "fast" in cmd.flags else "command"
        ctx.stats.add_latency(event, usec // 1000)


def feed_monitors(ctx: Ctx, argv: list[bytes]) -> None:
    """A command's MONITOR line now: scripts and functions (flagged skip_monitor) show
    theirs before the lines of the commands they run, as Redis's evalCommand and
    fcallCommand feed it first, whatever becomes of the script."""
    if ctx.server.monitoring:
        _feed(ctx, argv)


def _feed(ctx: Ctx, shown: list[bytes]) -> None:
    monitors = ctx.server.monitors()
    if monitors:
        line = monitor_line(ctx, shown)
        for s in monitors:
            ctx.server.feed_monitor(s, line)


def _redact(cmd: Command, argv: list[bytes]) -> list[bytes]:
    """Arguments that must not reach SLOWLOG or MONITOR (passwords)."""
    name = cmd.name
    if name == "auth":
        return argv[:1] + [_REDACTED] * (len(argv) - 1)
    if name == "acl|setuser":  # the user's name and rules (passwords among them)
        return argv[:2] + [_REDACTED] * (len(argv) - 2)
    if name == "hello":
        out = list(argv)
        for i in range(2, len(out) - 2):
            if out[i].lower() == b"auth":
                out[i + 1] = out[i + 2] = _REDACTED
        return out
    if name == "migrate":  # AUTH password, AUTH2 username password, before KEYS
        out = list(argv)
        i = 6
        while i < len(out):
            opt = out[i].lower()
            if opt == b"keys":
                break
            hidden = 1 if opt == b"auth" else 2 if opt == b"auth2" else 0
            for k in range(i + 1, min(i + 1 + hidden, len(out))):
                out[k] = _REDACTED
            i += 1 + hidden
        return out
    if name == "config|set":
        from diskredis.config import lookup as config_lookup

        out = list(argv)
        for i in range(2, len(out) - 1, 2):
            p = config_lookup(out[i].decode("utf-8", "replace"))
            if p is not None and p.sensitive:
                out[i + 1] = _REDACTED
        return out
    return argv


def _slowlog_add(ctx: Ctx, argv: list[bytes], usec: int) -> None:
    stats = ctx.stats
    shown: list[bytes] = []
    for i, a in enumerate(argv):
        if i == _SLOWLOG_MAX_ARGC - 1 and len(argv) > _SLOWLOG_MAX_ARGC:
            shown.append(b"... (%d more arguments)" % (len(argv) - _SLOWLOG_MAX_ARGC + 1))
            break
        if len(a) > _SLOWLOG_MAX_STRING:
            a = a[:_SLOWLOG_MAX_STRING] + b"... (%d more bytes)" % (len(a) - _SLOWLOG_MAX_STRING)
        shown.append(a)
    s = ctx.session
    stats.slowlog.appendleft(
        SlowlogEntry(stats.slowlog_next_id, int(time.time()), usec, shown, s.addr, s.name)
    )
    stats.slowlog_next_id += 1
    limit = ctx.config["slowlog-max-len"]
    while len(stats.slowlog) > limit:
        stats.slowlog.pop()


def repr_arg(a: bytes) -> bytes:
    """sdscatrepr: a double-quoted, escaped copy of `a`."""
    out = bytearray(b'"')
    for c in a:
        if c == 0x5C or c == 0x22:
            out += b"\\" + bytes((c,))
        elif c == 0x0A:
            out += b"\\n"
        elif c == 0x0D:
            out += b"\\r"
        elif c == 0x09:
            out += b"\\t"
        elif c == 0x07:
            out += b"\\a"
        elif c == 0x08:
            out += b"\\b"
        elif 0x20 <= c < 0x7F:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out += b'"'
    return bytes(out)


def monitor_line(ctx: Ctx, argv: list[bytes]) -> bytes:
    """``+<time> [<db> <addr>] "arg" ...`` as replicationFeedMonitors writes it."""
    now = time.time()
    s = ctx.session
    addr = "lua" if s.is_script else ("unix:" + s.laddr) if s.is_unix else s.addr
    head = b"+%d.%06d [%d %s]" % (int(now), int(now * 1e6) % 1000000, s.db, addr.encode())
    return head + b"".join(b" " + repr_arg(a) for a in argv) + b"\r\n"
