"""Blocking list commands: waits, wake-ups in blocking order, timeouts, CLIENT UNBLOCK,
and clients that leave while they wait. Replies that do not depend on timing are
compared with redis-server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Diff, RawClient, ServerProc, _parse, blocked_client, encode_command

IMMEDIATE: list[tuple[Any, ...]] = [
    ("RPUSH", "a", "1", "2", "3"),
    ("BLPOP", "none", "a", "0"),
    ("BRPOP", "a", "none", "0"),
    ("BLPOP", "a", "-1"),
    ("BLPOP", "a", "x"),
    ("BLPOP", "a"),
    ("BLPOP", "a", "0.0001x"),
    ("BLMOVE", "a", "b", "LEFT", "RIGHT", "0"),
    ("BLMOVE", "a", "b", "UP", "LEFT", "0"),
    ("BLMOVE", "a", "b", "LEFT", "LEFT", "-1"),
    ("BRPOPLPUSH", "b", "a", "0"),
    ("RPUSH", "a", "1", "2", "3", "4", "5"),
    ("BLMPOP", "0", "2", "none", "a", "LEFT", "COUNT", "2"),
    ("BLMPOP", "-1", "1", "a", "LEFT"),
    ("BLMPOP", "0", "0", "a", "LEFT"),
    ("BLMPOP", "0", "1", "a", "UP"),
    ("BLMPOP", "x", "1", "a", "LEFT"),
    ("SET", "s", "x"),
    ("BLPOP", "s", "0"),
    ("BLMOVE", "s", "a", "LEFT", "LEFT", "0"),
    ("BLMPOP", "0", "1", "s", "LEFT"),
    ("BLPOP", "none", "0.01"),
    ("BRPOP", "none", "0.01"),
    ("BLMOVE", "none", "a", "LEFT", "LEFT", "0.01"),
    ("BRPOPLPUSH", "none", "a", "0.01"),
    ("BLMPOP", "0.01", "1", "none", "RIGHT"),
    ("CLIENT", "UNBLOCK", "999999"),
    ("CLIENT", "UNBLOCK", "999999", "ERROR"),
    ("CLIENT", "UNBLOCK", "1", "FOO"),
    ("CLIENT", "UNBLOCK", "x"),
    ("CLIENT", "UNBLOCK", "1", "TIMEOUT", "x"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"),
    ("BZPOPMIN", "none", "z", "0"),
    ("BZPOPMAX", "z", "0"),
    ("BZPOPMIN", "z", "-1"),
    ("BZPOPMIN", "z", "x"),
    ("BZPOPMIN", "z"),
    ("BZMPOP", "0", "2", "none", "z", "MIN", "COUNT", "5"),
    ("BZMPOP", "-1", "1", "z", "MIN"),
    ("BZMPOP", "0", "0", "z", "MIN"),
    ("BZMPOP", "0", "1", "z", "UP"),
    ("BZMPOP", "x", "1", "z", "MIN"),
    ("BZMPOP", "x", "0", "z", "MIN"),
    ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"),
    ("BZPOPMIN", "s", "0"),
    ("BZMPOP", "0", "1", "s", "MAX"),
    ("BZPOPMIN", "none", "0.01"),
    ("BZMPOP", "0.01", "1", "none", "MAX"),
    ("BLMPOP", "x", "0", "a", "LEFT"),
]


def test_same_replies(kdiff: Diff) -> None:
    for args in IMMEDIATE:
        kdiff(*args)


@pytest.mark.parametrize("proto", ["2", "3"])
def test_timeout_reply_shapes(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    kdiff("BLPOP", "none", "0.01")
    kdiff("BLMOVE", "none", "x", "LEFT", "LEFT", "0.01")
    kdiff("BLMPOP", "0.01", "1", "none", "LEFT")
    kdiff.masked("HELLO", "2")


_block = blocked_client


def test_push_wakes_waiters_in_blocking_order(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "q")
    first, second, third = (_block(dr, "BLPOP", "q", "0") for _ in range(3))
    assert c.command("RPUSH", "q", "a", "b") == b":2\r\n"  # the length before serving
    assert first.reply() == b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"
    assert second.reply() == b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n"
    assert c.command("LLEN", "q") == b":0\r\n"
    c.command("LPUSH", "q", "c")
    assert third.reply() == b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n"
    assert b"blocked_clients:0" in c.command("INFO", "clients")


def test_waiter_on_several_keys_and_pipelined_commands(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "k1", "k2")
    w = RawClient(dr.port, timeout=30)
    w.send(encode_command(("BRPOP", "k1", "k2", "0")) + encode_command(("PING",)))
    admin = dr.raw()
    for _ in range(100_000):
        if b"blocked_clients:1" in admin.command("INFO", "clients"):
            break
    c.command("RPUSH", "k2", "x")
    assert w.reply() == b"*2\r\n$2\r\nk2\r\n$1\r\nx\r\n"
    assert w.reply() == b"+PONG\r\n"  # the rest of the pipeline runs after the wake-up


def test_blmove_wakes_and_moves(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "src", "dst")
    w = _block(dr, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
    c.command("RPUSH", "src", "1", "2")
    assert w.reply() == b"$1\r\n2\r\n"
    assert c.command("LRANGE", "dst", "0", "-1") == b"*1\r\n$1\r\n2\r\n"
    assert c.command("LRANGE", "src", "0", "-1") == b"*1\r\n$1\r\n1\r\n"


def test_timeout_with_sub_second_precision(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "never")
    assert c.command("BLPOP", "never", "0.05") == b"*-1\r\n"
    assert c.command("BLMOVE", "never", "x", "LEFT", "LEFT", "0.05") == b"*-1\r\n"


def test_client_unblock(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "u")
    w = _block(dr, "BLPOP", "u", "0")
    listing = c.command("CLIENT", "LIST").decode()
    wid = next(int(line.split()[0][3:]) for line in listing.splitlines() if "flags=b" in line)
    assert c.command("CLIENT", "UNBLOCK", wid) == b":1\r\n"
    assert w.reply() == b"*-1\r\n"
    assert c.command("CLIENT", "UNBLOCK", wid) == b":0\r\n"
    w2 = _block(dr, "BLPOP", "u", "0")
    listing = c.command("CLIENT", "LIST").decode()
    wid = next(int(line.split()[0][3:]) for line in listing.splitlines() if "flags=b" in line)
    assert c.command("CLIENT", "UNBLOCK", wid, "ERROR") == b":1\r\n"
    assert w2.reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"


def test_a_waiter_that_leaves_leaves_nothing_behind(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "gone")
    w = _block(dr, "BLPOP", "gone", "0")
    w.close()
    for _ in range(100_000):
        if b"blocked_clients:0" in c.command("INFO", "clients"):
            break
    assert b"blocked_clients:0" in c.command("INFO", "clients")
    c.command("RPUSH", "gone", "kept")
    assert c.command("LRANGE", "gone", "0", "-1") == b"*1\r\n$4\r\nkept\r\n"


def test_killed_waiter_is_dropped(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "k")
    waiter = _block(dr, "BLPOP", "k", "0")  # kept: a dropped socket would end the wait
    listing = c.command("CLIENT", "LIST").decode()
    wid = next(int(line.split()[0][3:]) for line in listing.splitlines() if "flags=b" in line)
    assert c.command("CLIENT", "KILL", "ID", wid) == b":1\r\n"
    for _ in range(100_000):
        if b"blocked_clients:0" in c.command("INFO", "clients"):
            break
    c.command("RPUSH", "k", "v")
    assert c.command("LLEN", "k") == b":1\r\n"
    assert waiter.closed()


def test_zadd_wakes_sorted_set_waiters_in_blocking_order(dr: ServerProc) -> None:
    c = dr.raw()
    c.command("DEL", "zq")
    first = _block(dr, "BZPOPMIN", "zq", "0")
    second = _block(dr, "BZPOPMAX", "other", "zq", "0")
    third = _block(dr, "BZMPOP", "0", "1", "zq", "MIN", "COUNT", "5")
    assert c.command("ZADD", "zq", "1", "a", "2", "b", "3", "c", "4", "d") == b":4\r\n"
    assert first.reply() == b"*3\r\n$2\r\nzq\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert second.reply() == b"*3\r\n$2\r\nzq\r\n$1\r\nd\r\n$1\r\n4\r\n"
    assert third.reply() == (
        b"*2\r\n$2\r\nzq\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    )
    assert c.command("EXISTS", "zq") == b":0\r\n"
    assert b"blocked_clients:0" in c.command("INFO", "clients")


def test_waiters_are_served_only_by_their_type(dr: ServerProc, oracle: ServerProc) -> None:
    """A list waiter ignores a key that becomes a sorted set (and the reverse), and is
    served from the key that became ready, as Redis 7.0 does."""
    kdiff = Diff(dr.raw(), oracle.raw())
    kdiff("FLUSHALL")
    waiters = []
    for sp in (dr, oracle):
        waiters.append((_block(sp, "BLPOP", "k", "l", "0"), _block(sp, "BZPOPMIN", "k", "0")))
    kdiff("SET", "k", "string")  # neither waiter is served, neither sees WRONGTYPE
    kdiff("DEL", "k")
    kdiff("ZADD", "k", "5", "m")  # the sorted set waiter only
    kdiff("RPUSH", "l", "x")  # the list waiter, from the other key
    replies = [(bl.reply(), bz.reply()) for bl, bz in waiters]
    assert (
        replies[0]
        == replies[1]
        == (b"*2\r\n$1\r\nl\r\n$1\r\nx\r\n", b"*3\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\n5\r\n")
    )


def test_shutdown_and_restart_leave_no_ghost_waiters(dr_factory: Any) -> None:
    sp = dr_factory()
    c = sp.raw()
    waiters = [
        _block(sp, "BLPOP", "gq", "0"),
        _block(sp, "BZPOPMIN", "gz", "0"),
        _block(sp, "BLMOVE", "gq", "dst", "LEFT", "LEFT", "0"),
    ]
    assert b"blocked_clients:3" in c.command("INFO", "clients")
    assert c.command("RPUSH", "kept", "x") == b":1\r\n"
    c.send(encode_command(("SHUTDOWN",)))
    for w in waiters:  # the server closes every connection as it goes
        with pytest.raises((ConnectionError, OSError)):
            w.reply()
    sp.proc.wait(30)
    again = dr_factory(data_dir=sp.dir)
    c = again.raw()
    assert b"blocked_clients:0" in c.command("INFO", "clients")
    assert c.command("LRANGE", "kept", "0", "-1") == b"*1\r\n$1\r\nx\r\n"
    assert c.command("RPUSH", "gq", "v") == b":1\r\n"  # no waiter from before takes it
    assert c.command("LRANGE", "gq", "0", "-1") == b"*1\r\n$1\r\nv\r\n"
    assert c.command("ZADD", "gz", "1", "m") == b":1\r\n"
    assert c.command("ZCARD", "gz") == b":1\r\n" and c.command("EXISTS", "dst") == b":0\r\n"


def _pair(dr: ServerProc, oracle: ServerProc) -> tuple[Diff, list[ServerProc]]:
    d = Diff(dr.raw(), oracle.raw())
    d("FLUSHALL")
    d("CONFIG", "RESETSTAT")
    return d, [dr, oracle]


def test_deleted_streams_release_group_readers(dr: ServerProc, oracle: ServerProc) -> None:
    """XREADGROUP waiters get UNBLOCKED when their stream goes (DEL, overwrite, FLUSHDB,
    FLUSHALL, SWAPDB with a database without it); XREAD waiters stay; both counted in
    errorstats and commandstats as Redis counts them."""
    d, servers = _pair(dr, oracle)
    groupread = ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    for remove in (
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("DEL", "s"),
        ("SET", "s", "x"),
        ("SWAPDB", "0", "1"),
    ):
        d("DEL", "s")
        d("XADD", "s", "1-1", "f", "v")
        d("XGROUP", "CREATE", "s", "g", "$")
        readers = [_block(sp, *groupread) for sp in servers]
        plain = [_block(sp, "XREAD", "BLOCK", "0", "STREAMS", "s", "$") for sp in servers]
        d(*remove)
        ours, theirs = (r.reply() for r in readers)
        assert ours == theirs == b"-UNBLOCKED the stream key no longer exists\r\n", remove
        d("SELECT", "1")
        d("FLUSHDB")
        d("SELECT", "0")
        d("DEL", "s")
        d("XADD", "s", "5-1", "f", "w")  # the plain reader is still there: served now
        ours, theirs = (r.reply() for r in plain)
        assert ours == theirs, remove
    d("INFO", "errorstats")
    for c in (d.ours, d.theirs):
        assert b"blocked_clients:0\r\n" in c.command("INFO", "clients")


def test_swapdb_serves_waiters_on_keys_now_there(dr: ServerProc, oracle: ServerProc) -> None:
    d, servers = _pair(dr, oracle)
    d("SELECT", "1")
    d("RPUSH", "l", "x")
    d("ZADD", "z", "1", "m")
    d("SELECT", "0")
    waiters = [
        (
            _block(sp, "BRPOP", "l", "0"),
            _block(sp, "BZPOPMIN", "z", "0"),
            _block(sp, "BLPOP", "none", "0"),
        )
        for sp in servers
    ]
    d("SWAPDB", "0", "1")
    for ours, theirs in zip(*((bl.reply(), bz.reply()) for bl, bz, _ in waiters), strict=True):
        assert ours == theirs
    d("RPUSH", "none", "y")
    assert waiters[0][2].reply() == waiters[1][2].reply()


def test_slowlog_logs_a_blocking_command_when_served(dr: ServerProc, oracle: ServerProc) -> None:
    """As updateStatsOnUnblock: the served BLPOP enters SLOWLOG after the command that
    served it; one that timed out does not enter it at all."""
    d, servers = _pair(dr, oracle)
    d("CONFIG", "SET", "slowlog-log-slower-than", "0")
    try:
        d("SLOWLOG", "RESET")
        waiters = [_block(sp, "BLPOP", "q", "0") for sp in servers]
        d("ECHO", "between")
        d("RPUSH", "q", "x")
        assert waiters[0].reply() == waiters[1].reply()
        d("BLPOP", "never", "0.01")
        entries = []
        for c in (d.ours, d.theirs):
            raw = c.command("SLOWLOG", "GET")
            entries.append([e[3] for e in _parse(raw)][:3])
        assert entries[0] == entries[1]
        assert entries[0] == [[b"BLPOP", b"q", b"0"], [b"RPUSH", b"q", b"x"], [b"ECHO", b"between"]]
    finally:
        d("CONFIG", "SET", "slowlog-log-slower-than", "10000")


def test_client_unblock_counts_as_redis_counts(dr: ServerProc, oracle: ServerProc) -> None:
    """CLIENT UNBLOCK, TIMEOUT or ERROR, ends the call as updateStatsOnUnblock: a failed
    call (both ways), in the latency histogram and SLOWLOG; a timeout is neither."""
    d, servers = _pair(dr, oracle)
    d("CONFIG", "SET", "slowlog-log-slower-than", "0")
    try:
        d("SLOWLOG", "RESET")
        for how in ("TIMEOUT", "ERROR"):
            waiters = [_block(sp, "BLPOP", "u", "0") for sp in servers]
            ids = []
            for c in (d.ours, d.theirs):
                listing = c.command("CLIENT", "LIST").decode()
                ids.append(
                    next(line.split()[0][3:] for line in listing.splitlines() if "flags=b" in line)
                )
            replies = [
                c.command("CLIENT", "UNBLOCK", i, how)
                for c, i in zip((d.ours, d.theirs), ids, strict=True)
            ]
            assert replies == [b":1\r\n", b":1\r\n"]
            assert waiters[0].reply() == waiters[1].reply()
        d("BLPOP", "never", "0.01")  # a timeout
        stats = []
        for c in (d.ours, d.theirs):
            line = next(
                x
                for x in c.command("INFO", "commandstats").split(b"\r\n")
                if x.startswith(b"cmdstat_blpop:")
            )
            fields = dict(f.split(b"=") for f in line.split(b":", 1)[1].split(b","))
            latency = next(
                x
                for x in c.command("INFO", "latencystats").split(b"\r\n")
                if x.startswith(b"latency_percentiles_usec_blpop:")
            )
            # Redis 7.0 logs them with no arguments (already freed), 7.2 with BLPOP's
            slow = [
                e[3]
                for e in _parse(c.command("SLOWLOG", "GET"))
                if e[3] in ([], [b"BLPOP", b"u", b"0"])
            ]
            stats.append(
                (
                    fields[b"calls"],
                    fields[b"failed_calls"],
                    fields[b"rejected_calls"],
                    bool(latency),
                    len(slow),
                )
            )
        assert stats[0] == stats[1]
        assert stats[0][:2] == (b"3", b"2")
    finally:
        d("CONFIG", "SET", "slowlog-log-slower-than", "10000")
