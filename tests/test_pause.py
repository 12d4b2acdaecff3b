"""CLIENT PAUSE WRITE and ALL, against the real redis-server (Redis 7.0's pause.tcl
scenarios and more): what a pause holds, what it lets through (reads, read-only scripts
and functions, transactions that only read), how held clients are counted and resumed,
and that nothing expires while clients are paused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Diff, RawClient, ServerProc, blocked_client, encode_command


@pytest.fixture
def pdiff(dr: ServerProc, oracle: ServerProc) -> Iterator[Diff]:
    d = Diff(dr.raw(), oracle.raw())
    d("FLUSHALL")
    d("FUNCTION", "FLUSH")
    yield d
    for c in (d.ours, d.theirs):
        c.command("CLIENT", "UNPAUSE")
        c.close()


def _both(dr: ServerProc, oracle: ServerProc, *args: Any) -> list[RawClient]:
    """On each server, a client whose `args` the pause holds."""
    return [blocked_client(sp, *args) for sp in (dr, oracle)]


def _same(clients: list[RawClient]) -> bytes:
    ours, theirs = (c.reply() for c in clients)
    assert ours == theirs
    return ours


def _blocked(d: Diff) -> bytes:
    counts = [
        re.search(rb"blocked_clients:(\d+)", c.command("INFO", "clients"))
        for c in (d.ours, d.theirs)
    ]
    assert counts[0] is not None and counts[1] is not None
    assert counts[0].group(1) == counts[1].group(1)
    return counts[0].group(1)


def test_reads_pass_and_writes_wait(pdiff: Diff, dr: ServerProc, oracle: ServerProc) -> None:
    pdiff("PFADD", "hll", "x")
    pdiff("CLIENT", "PAUSE", "100000", "WRITE")
    pdiff("GET", "FOO")
    pdiff("INFO", "keyspace")
    assert _blocked(pdiff) == b"0"
    writers = _both(dr, oracle, "SET", "FOO", "BAR")
    counters = _both(dr, oracle, "PFCOUNT", "hll")  # it may write (its cache)
    publishers = _both(dr, oracle, "PUBLISH", "ch", "m")
    assert _blocked(pdiff) == b"3"
    pdiff("SET", "FOO")  # an arity error is answered at once
    pdiff("CLIENT", "UNPAUSE")
    assert _same(writers) == b"+OK\r\n"
    assert _same(counters) == b":1\r\n"
    assert _same(publishers) == b":0\r\n"
    assert _blocked(pdiff) == b"0"


def test_transactions(pdiff: Diff, dr: ServerProc, oracle: ServerProc) -> None:
    pdiff("SET", "FOO", "BAR")
    pdiff("CLIENT", "PAUSE", "100000", "WRITE")
    pdiff("MULTI")
    pdiff("PING")
    pdiff("GET", "FOO")
    pdiff("EXEC")  # it only reads: not held
    pdiff("CLIENT", "UNPAUSE")
    held = [RawClient(sp.port, timeout=30) for sp in (dr, oracle)]
    for c in held:
        assert c.command("MULTI") == b"+OK\r\n"
        assert c.command("SET", "FOO", "BAZ") == b"+QUEUED\r\n"
    pdiff("CLIENT", "PAUSE", "100000", "WRITE")
    pdiff("EXEC")  # without MULTI: answered at once
    for c in held:
        c.send(b"*1\r\n$4\r\nEXEC\r\n")
    pdiff("GET", "FOO")
    pdiff("CLIENT", "UNPAUSE")
    assert _same(held) == b"*1\r\n+OK\r\n"
    # the pause starts after the transaction that asks for it
    pdiff("MULTI")
    pdiff("SET", "FOO1", "BAR")
    pdiff("CLIENT", "PAUSE", "60000", "WRITE")
    pdiff("SET", "FOO2", "BAR")
    pdiff("EXEC")
    writers = _both(dr, oracle, "SET", "FOO3", "BAR")
    pdiff("MGET", "FOO1", "FOO2", "FOO3")
    pdiff("CLIENT", "UNPAUSE")
    assert _same(writers) == b"+OK\r\n"


def test_scripts_and_functions(pdiff: Diff, dr: ServerProc, oracle: ServerProc) -> None:
    """Scripts that declare no-writes run; scripts that may write wait, and so does a
    transaction holding one."""
    pdiff("SET", "x", "y")
    pdiff(
        "FUNCTION",
        "LOAD",
        "#!lua name=f1\nredis.register_function{function_name='F1', "
        "callback=function() return 'hello' end, flags={'no-writes'}}\n"
        "redis.register_function('w1', function() return 'w' end)",
    )
    pdiff("CLIENT", "PAUSE", "100000", "WRITE")
    pdiff("EVAL", "#!lua flags=no-writes\nreturn 'unique script'", "0")
    pdiff("EVAL", "#!lua flags=no-writes\nreturn 'unique script'", "0")
    pdiff("EVAL_RO", "return redis.call('GeT', 'x')..' unique'", "1", "x")
    sha = pdiff("SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 2").split(b"\r\n")[1]
    pdiff("EVALSHA", sha, "0")
    pdiff("FCALL", "F1", "0")
    pdiff("FCALL", "f1", "0")  # function names are case-insensitive
    pdiff("FCALL_RO", "f1", "0")
    pdiff("MULTI")
    pdiff("EVAL", "#!lua flags=no-writes\nreturn 12", "0")
    pdiff("EVAL", "#!lua flags=no-writes\nreturn 13", "0")
    pdiff("EXEC")
    waiting = [
        _both(dr, oracle, "EVAL", "return 1", "0"),
        _both(dr, oracle, "EVAL", "#!lua\nreturn 2", "0"),
        _both(dr, oracle, "FCALL", "W1", "0"),
    ]
    assert _blocked(pdiff) == b"3"
    pdiff("CLIENT", "UNPAUSE")
    assert [_same(w) for w in waiting] == [b":1\r\n", b":2\r\n", b"$1\r\nw\r\n"]
    pdiff("EVAL_RO", "return redis.call('publish','ch','msg')", "0")
    pdiff("EVAL", "#!lua flags=no-writes\nreturn redis.call('publish','ch','msg')", "0")
    pdiff("EVAL", "return redis.call('publish','ch','msg')", "0")


def test_nothing_expires_while_paused(pdiff: Diff) -> None:
    pdiff("CONFIG", "RESETSTAT")
    pdiff("MULTI")
    pdiff("SET", "foo", "bar", "PX", "10")
    pdiff("SET", "bar", "foo", "PX", "10")
    pdiff("CLIENT", "PAUSE", "50000", "WRITE")
    pdiff("EXEC")
    for c in (pdiff.ours, pdiff.theirs):  # logically expired, both servers
        for _ in range(100_000):
            if c.command("MGET", "foo", "bar") == b"*2\r\n$-1\r\n$-1\r\n":
                break
    pdiff("MGET", "foo", "bar")
    pdiff("DBSIZE")  # not removed yet: counted, as in Redis
    stats = [
        re.search(rb"expired_keys:\d+", c.command("INFO", "stats"))
        for c in (pdiff.ours, pdiff.theirs)
    ]
    assert stats[0] is not None and stats[1] is not None
    assert stats[0].group(0) == stats[1].group(0) == b"expired_keys:0"
    pdiff("CLIENT", "UNPAUSE")
    pdiff("GET", "foo")
    pdiff("GET", "bar")
    stats = [
        re.search(rb"expired_keys:\d+", c.command("INFO", "stats"))
        for c in (pdiff.ours, pdiff.theirs)
    ]
    assert stats[0] is not None and stats[1] is not None
    assert stats[0].group(0) == stats[1].group(0) == b"expired_keys:2"


def test_pause_all_holds_everything(pdiff: Diff, dr: ServerProc, oracle: ServerProc) -> None:
    """Every command waits, the pausing client's own too, until the pause ends."""
    clients = [[RawClient(sp.port, timeout=30) for sp in (dr, oracle)] for _ in range(2)]
    pdiff.ours.send(
        b"*4\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$3\r\n200\r\n$3\r\nALL\r\n*1\r\n$4\r\nPING\r\n"
    )
    pdiff.theirs.send(
        b"*4\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$3\r\n200\r\n$3\r\nALL\r\n*1\r\n$4\r\nPING\r\n"
    )
    for pair in clients:
        for c in pair:
            c.send(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n")
    assert (
        [pdiff.ours.reply(), pdiff.ours.reply()]
        == [pdiff.theirs.reply(), pdiff.theirs.reply()]
        == [b"+OK\r\n", b"+PONG\r\n"]
    )
    for pair in clients:
        assert (
            [pair[0].reply(), pair[0].reply()]
            == [pair[1].reply(), pair[1].reply()]
            == [b"$-1\r\n", b"+PONG\r\n"]
        )


def test_pause_holds_expiry_from_the_next_command(pdiff: Diff) -> None:
    """CLIENT PAUSE in a pipeline: the commands after it in the same read already find
    expired keys left in place (logically gone, not removed)."""
    pdiff("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        pdiff("SET", "pk", "v", "PX", "1")
        pdiff("DEBUG", "SLEEP", "0.01")
        pipeline = b"".join(
            encode_command(args)
            for args in (
                ("CLIENT", "PAUSE", "100000", "WRITE"),
                ("GET", "pk"),
                ("DEBUG", "OBJECT", "pk"),
                ("CLIENT", "UNPAUSE"),
            )
        )
        replies = []
        for c in (pdiff.ours, pdiff.theirs):
            c.send(pipeline)
            replies.append([c.reply() for _ in range(4)])
        for ours, theirs in zip(*replies, strict=True):
            assert ours[:10] == theirs[:10]  # DEBUG OBJECT: "+Value at:" on both
        assert replies[0][2].startswith(b"+Value at:")
        pdiff("INFO", "keyspace")
    finally:
        pdiff("DEBUG", "SET-ACTIVE-EXPIRE", "1")
