"""A script past busy-reply-threshold, against the real redis-server.

While a script is busy Redis serves the other clients from inside it
(processEventsWhileBlocked): the commands flagged allow_busy run (FUNCTION STATS, SCRIPT
KILL, FUNCTION KILL, SHUTDOWN NOSAVE, MULTI, WATCH, DISCARD, RESET, HELLO, AUTH,
QUIT...), everything else gets BUSY -- which also spoils a transaction being queued,
and discards it when the refused command is EXEC. The same scenario runs on both
servers and every reply is compared, byte for byte once the running time in FUNCTION
STATS and the error positions are masked.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from typing import Any

from tests.conftest import RawClient, ServerProc, _mask, encode_command, start_oracle

THRESHOLD = "20"  # busy-reply-threshold (ms): scripts turn busy fast
LIBRARY = (
    b"#!lua name=busylib\n"
    b"redis.register_function('spin', function() while true do end end)\n"
    b"redis.register_function{function_name='spinro', flags={'no-writes'},\n"
    b"  callback=function() while true do end end}\n"
)
SPIN = "local i = 0 while true do i = i + 1 end"
WRITE_THEN_SPIN = "redis.call('set', 'lost', 1) while true do end"
# Busy for about a second, then done on its own with a write (its caller has left).
SPIN_A_WHILE = (
    "local t0 = redis.call('TIME') local t repeat for i = 1, 100000 do end "
    "t = redis.call('TIME') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) "
    "> 1000000 return redis.call('set', 'done', 'by the script')"
)

_DURATION = re.compile(rb"(duration_ms\r\n:)\d+")


def _masked(reply: bytes) -> bytes:
    """Client ids, addresses, lengths (conftest) and FUNCTION STATS's running time."""
    return _DURATION.sub(rb"\1?", _mask(reply))


def _pause() -> None:
    threading.Event().wait(0.005)


class Side:
    """One server of the comparison, with the transcript of what its clients got."""

    def __init__(self, start: Callable[[], ServerProc]) -> None:
        self.start = start
        self.sp = start()
        self.log: list[tuple[str, bytes]] = []
        self.setup()

    def setup(self) -> None:
        c = self.sp.raw()
        c.command("FUNCTION", "LOAD", "REPLACE", LIBRARY)
        c.command("SET", "kept", "acknowledged")
        c.close()

    def client(self) -> RawClient:
        return self.sp.raw()

    def note(self, what: str, reply: bytes) -> bytes:
        self.log.append((what, _masked(reply)))
        return reply

    def ask(self, c: RawClient, what: str, *args: Any) -> bytes:
        return self.note(what, c.command(*args))

    def until_busy(self, c: RawClient) -> None:
        """PING until the server answers BUSY (the script passed the threshold)."""
        for _ in range(2000):
            reply = c.command("PING")
            if reply.startswith(b"-BUSY "):
                self.note("busy", reply)
                return
            _pause()
        raise AssertionError("%s: the script never became busy" % self.sp.kind)

    def until_pong(self, c: RawClient) -> None:
        for _ in range(2000):
            if c.command("PING") == b"+PONG\r\n":
                return
            _pause()
        raise AssertionError("%s: still busy" % self.sp.kind)

    def restart(self) -> None:
        assert self.sp.proc.wait(30) == 0, self.sp.log()
        self.sp = self.start()


def _inspect(side: Side, c: RawClient, i: int) -> None:
    """What a client may look at while the script is busy, in RESP2 or RESP3."""
    side.ask(c, "hello", "HELLO", 3 if i % 2 else 2)
    side.ask(c, "function stats", "FUNCTION", "STATS")
    side.ask(c, "client list", "CLIENT", "LIST")
    side.ask(c, "info", "INFO", "server")
    side.ask(c, "get", "GET", "kept")
    side.ask(c, "unknown", "NOSUCHCOMMAND", "x")
    side.ask(c, "arity", "GET")
    side.ask(c, "shutdown without nosave", "SHUTDOWN")
    side.ask(c, "shutdown abort", "SHUTDOWN", "ABORT")


def _round(side: Side, i: int) -> None:
    """One busy script, inspected, then ended one of the ways Redis allows."""
    way = (
        "shutdown nosave"
        if i % 25 == 24
        else (
            "eval killed",
            "function killed",
            "multi holding eval",
            "caller leaves",
            "transactions",
        )[i % 5]
    )
    side.note("round", b"%d %s" % (i, way.encode()))
    runner, other, third = side.client(), side.client(), side.client()
    if way == "transactions":  # a transaction queued before the script turns busy
        side.ask(third, "multi", "MULTI")
        side.ask(third, "incr queued", "INCR", "counter")
    if way == "multi holding eval":
        side.ask(runner, "multi", "MULTI")
        side.ask(runner, "eval queued", "EVAL", SPIN, 0)
        runner.send(encode_command(("EXEC",)))
    elif way == "function killed":
        runner.send(encode_command(("FCALL", "spin", 0)))
    elif way == "caller leaves":
        runner.send(encode_command(("EVAL", SPIN, 0)))
    elif way == "shutdown nosave":
        runner.send(encode_command(("EVAL", WRITE_THEN_SPIN, 0)))
    else:
        runner.send(encode_command(("EVAL", SPIN, 0)))
    side.until_busy(other)
    _inspect(side, other, i)
    if way == "eval killed":
        side.ask(other, "watch", "WATCH", "kept")
        side.ask(other, "function kill of an eval", "FUNCTION", "KILL")
        side.ask(other, "script kill", "SCRIPT", "KILL")
        side.note("runner", runner.reply())
        side.ask(other, "multi", "MULTI")
        side.ask(other, "set", "SET", "kept", "acknowledged")
        side.ask(other, "exec after watch", "EXEC")
    elif way == "function killed":
        side.ask(other, "reset", "RESET")
        side.ask(other, "script kill of a function", "SCRIPT", "KILL")
        side.ask(other, "function kill", "FUNCTION", "KILL")
        side.note("runner", runner.reply())
    elif way == "multi holding eval":
        side.ask(other, "script kill", "SCRIPT", "KILL")
        side.note("runner", runner.reply())
    elif way == "caller leaves":
        runner.close()
        side.ask(other, "still busy", "GET", "kept")
        side.ask(other, "script kill", "SCRIPT", "KILL")
        side.until_pong(other)
        side.ask(other, "notbusy", "SCRIPT", "KILL")
    elif way == "transactions":
        side.ask(third, "exec while busy", "EXEC")
        side.ask(third, "ping while busy", "PING")
        side.ask(other, "multi", "MULTI")
        side.ask(other, "incr while busy", "INCR", "counter")
        side.ask(other, "watch in multi", "WATCH", "kept")
        side.ask(other, "script kill, queued", "SCRIPT", "KILL")
        side.ask(third, "script kill", "SCRIPT", "KILL")
        side.note("runner", runner.reply())
        side.ask(third, "exec after", "EXEC")
        side.ask(other, "incr after", "INCR", "counter")
        side.ask(other, "exec spoiled", "EXEC")
        side.ask(other, "counter", "GET", "counter")
    else:  # shutdown nosave: the script wrote, so it cannot be killed
        side.ask(other, "unkillable", "SCRIPT", "KILL")
        side.ask(other, "shutdown", "SHUTDOWN")
        other.send(encode_command(("SHUTDOWN", "NOSAVE")))
        side.note("closed", b"%d" % other.closed())
        side.restart()
        side.setup()
        other = side.client()
        side.ask(other, "script's write is gone", "EXISTS", "lost")
    for c in (runner, third):
        c.close()
    side.ask(other, "ping after", "PING")
    side.ask(other, "function stats after", "FUNCTION", "STATS")
    other.close()


def test_busy_scripts_inspected_and_ended_every_way(dr_factory: Any) -> None:
    """100 busy scripts and functions, each inspected and ended in one of the ways Redis
    allows; a PING from another client is answered after each."""
    oracle_dirs: list[str] = []

    def oracle() -> ServerProc:
        sp = start_oracle("--busy-reply-threshold", THRESHOLD)
        oracle_dirs.append(sp.dir)
        return sp

    ours_dir: list[str] = []

    def ours() -> ServerProc:
        sp = dr_factory(
            "--busy-reply-threshold", THRESHOLD, **({"data_dir": ours_dir[0]} if ours_dir else {})
        )
        ours_dir[:] = [sp.dir]
        return sp

    theirs, mine = Side(oracle), Side(ours)
    try:
        for i in range(100):
            _round(theirs, i)
            _round(mine, i)
            for a, b in zip(mine.log, theirs.log, strict=True):
                assert a == b, "round %d, %s:\n  diskredis: %r\n  redis:     %r" % (
                    i,
                    a[0],
                    a[1],
                    b[1],
                )
            mine.log.clear()
            theirs.log.clear()
    finally:
        theirs.sp.stop()
        for d in oracle_dirs:
            shutil.rmtree(d, ignore_errors=True)
    # the restarted diskredis kept every acknowledged write
    assert mine.sp.raw().command("GET", "kept") == b"$12\r\nacknowledged\r\n"


def test_script_of_a_client_that_left_runs_to_its_end(dr_factory: Any) -> None:
    """The caller disconnects while its script is busy: the script runs on, its write is
    committed, and the other clients are served meanwhile and after."""
    sp = dr_factory("--busy-reply-threshold", THRESHOLD)
    runner, other = sp.raw(), sp.raw()
    runner.send(encode_command(("EVAL", SPIN_A_WHILE, 0)))
    for _ in range(100_000):
        if other.command("PING").startswith(b"-BUSY "):
            break
    runner.close()
    for _ in range(100_000):
        if other.command("PING") == b"+PONG\r\n":
            break
    assert other.command("GET", "done") == b"$13\r\nby the script\r\n"
    assert other.command("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
