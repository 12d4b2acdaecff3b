"""Connection commands, differential against redis-server 7.0: same bytes back."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import Diff, RawClient, ServerProc, oracle_password

# Command lines whose replies hold nothing server-specific: compared byte for byte.
SAME: list[tuple[Any, ...]] = [
    ("PING",),
    ("ping", "hello"),
    ("PING", "a", "b"),
    ("PING", ""),
    ("ECHO",),
    ("ECHO", "x"),
    ("ECHO", ""),
    ("ECHO", "a", "b"),
    ("echo", "\x00\xff"),
    ("SELECT",),
    ("SELECT", "0"),
    ("SELECT", "15"),
    ("SELECT", "16"),
    ("SELECT", "-1"),
    ("SELECT", "x"),
    ("SELECT", "1.5"),
    ("SELECT", "99999999999999999999"),
    ("SELECT", "0", "1"),
    ("SELECT", " 1"),
    ("SELECT", "01"),
    ("SELECT", "0"),
    ("WAIT", "0", "0"),
    ("WAIT", "x", "0"),
    ("WAIT", "0", "x"),
    ("WAIT", "0", "-1"),
    ("WAIT", "0"),
    ("WAIT", "99999999999999999999", "0"),
    ("AUTH",),
    ("AUTH", "pw"),
    ("AUTH", "default", "pw"),
    ("AUTH", "a", "b", "c"),
    ("HELLO", "4"),
    ("HELLO", "x"),
    ("HELLO", "1"),
    ("HELLO", "-1"),
    ("HELLO", "2", "FOO"),
    ("HELLO", "2", "AUTH", "default"),
    ("HELLO", "2", "SETNAME"),
    ("HELLO", "3", "SETNAME", "a b"),
    ("HELLO", "2", "SETNAME", "bad name"),
    ("RESET", "x"),
    ("QUIT", "x"),
    ("CLIENT",),
    ("CLIENT", "nosuch"),
    ("CLIENT", "HELP", "x"),
    ("CLIENT", "SETNAME"),
    ("CLIENT", "SETNAME", "a b"),
    ("CLIENT", "SETNAME", "a\nb"),
    ("CLIENT", "SETNAME", "ok"),
    ("CLIENT", "GETNAME"),
    ("CLIENT", "SETNAME", ""),
    ("CLIENT", "GETNAME"),
    ("CLIENT", "GETNAME", "x"),
    ("CLIENT", "ID", "x"),
    ("CLIENT", "REPLY"),
    ("CLIENT", "REPLY", "maybe"),
    ("CLIENT", "REPLY", "ON"),
    ("CLIENT", "KILL"),
    ("CLIENT", "KILL", "1.2.3.4:5"),
    ("CLIENT", "KILL", "ID", "x"),
    ("CLIENT", "KILL", "ID", "999999"),
    ("CLIENT", "KILL", "TYPE", "bogus"),
    ("CLIENT", "KILL", "TYPE", "pubsub"),
    ("CLIENT", "KILL", "USER", "nosuch"),
    ("CLIENT", "KILL", "SKIPME", "maybe"),
    ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"),
    ("CLIENT", "KILL", "ADDR"),
    ("CLIENT", "KILL", "MAXAGE", "x", "ID"),
    ("CLIENT", "LIST", "TYPE", "bogus"),
    ("CLIENT", "LIST", "ID", "x"),
    ("CLIENT", "LIST", "ID", "999999"),
    ("CLIENT", "LIST", "foo"),
    ("CLIENT", "NO-EVICT"),
    ("CLIENT", "NO-EVICT", "on"),
    ("CLIENT", "NO-EVICT", "off"),
    ("CLIENT", "NO-EVICT", "maybe"),
    ("CLIENT", "PAUSE"),
    ("CLIENT", "PAUSE", "x"),
    ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "10", "FOO"),
    ("CLIENT", "UNPAUSE"),
    ("CLIENT", "UNPAUSE", "x"),
    ("CLIENT", "INFO", "x"),
]


# Replies that carry the connection's id or address: compared with those masked.
MASKED: list[tuple[Any, ...]] = [
    ("HELLO",),
    ("HELLO", "2"),
    ("HELLO", "3"),
    ("HELLO", "2", "AUTH", "default", "any"),
    ("HELLO", "3", "SETNAME", "n1"),
    ("CLIENT", "INFO"),
    ("CLIENT", "GETNAME"),
    ("CLIENT", "LIST", "TYPE", "replica"),
    ("CLIENT", "LIST", "TYPE", "master"),
    ("CLIENT", "LIST", "TYPE", "pubsub"),
]


def _ids(args: tuple[Any, ...]) -> str:
    return " ".join(map(str, args))[:60]


@pytest.mark.parametrize("args", SAME, ids=_ids)
def test_same_reply(diff: Diff, args: tuple[Any, ...]) -> None:
    diff(*args)


@pytest.mark.parametrize("args", MASKED, ids=_ids)
def test_same_reply_masked(diff: Diff, args: tuple[Any, ...]) -> None:
    diff.masked(*args)


def test_wait_without_replicas_is_redis_70s(dr: ServerProc, oracle: ServerProc) -> None:
    """No replicas: WAIT 0 answers at once, WAIT n waits out its timeout and answers 0."""
    for c in (dr.client(), oracle.client()):
        c.set("k", "v")
        assert c.execute_command("WAIT", "0", "0") == 0
        assert c.execute_command("WAIT", "3", "50") == 0
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        dr.client().execute_command("WAIT", "1", "-1")


def test_client_help_is_redis_70s(dr: ServerProc, oracle: ServerProc) -> None:
    """Redis 7.0's lines, then those of the two 7.2 subcommands diskredis has."""
    ours = dr.client().execute_command("CLIENT", "HELP")
    theirs = oracle.client().execute_command("CLIENT", "HELP")
    extra = [
        b"SETINFO <LIB-NAME|LIB-VER> <value>",
        b"    Set client library name or version.",
        b"NO-TOUCH (ON|OFF)",
        b"    Will not touch LRU/LFU stats when this mode is on.",
    ]
    assert ours == theirs[:-2] + extra + theirs[-2:]


def test_hello_3_switches_reply_shapes(diff: Diff) -> None:
    diff.both("HELLO", "3")
    diff("CONFIG", "GET", "maxclients")
    diff("CLIENT", "GETNAME")
    diff("PING")
    diff.both("HELLO", "2")
    diff("CONFIG", "GET", "maxclients")


def test_reset(diff: Diff) -> None:
    diff.both("HELLO", "3", "SETNAME", "someone")
    diff("SELECT", "3")
    diff("CLIENT", "NO-EVICT", "on")
    diff("RESET")
    diff("CLIENT", "GETNAME")
    diff.masked("CLIENT", "INFO")


def test_client_reply_off_skip(diff: Diff) -> None:
    for raw in (diff.ours, diff.theirs):
        raw.send(
            b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"
            b"*2\r\n$4\r\nECHO\r\n$1\r\na\r\n"
            b"*2\r\n$4\r\nECHO\r\n$1\r\nb\r\n"
        )
    diff.raw(b"", replies=1)  # only the reply to ECHO b
    for raw in (diff.ours, diff.theirs):
        raw.send(
            b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n"
            b"*2\r\n$4\r\nECHO\r\n$1\r\nc\r\n"
            b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n"
            b"*2\r\n$4\r\nECHO\r\n$1\r\nd\r\n"
        )
    assert diff.raw(b"", replies=2) == [b"+OK\r\n", b"$1\r\nd\r\n"]


def test_quit_closes_after_ok(diff: Diff) -> None:
    diff("QUIT")
    assert diff.ours.closed() and diff.theirs.closed()


def test_client_id_and_list_fields(dr: ServerProc, oracle: ServerProc) -> None:
    def fields(sp: ServerProc) -> list[str]:
        c = sp.client()
        c.execute_command("CLIENT", "SETNAME", "probe")
        line = c.execute_command("CLIENT", "INFO").decode()
        listed = c.execute_command("CLIENT", "LIST", "ID", c.client_id()).decode()
        assert listed.split(" qbuf=")[0] == line.split(" qbuf=")[0]
        return [kv.split("=", 1)[0] for kv in line.split()]

    assert fields(dr) == fields(oracle)


def test_client_kill_by_id_and_filters(dr: ServerProc) -> None:
    a, b = dr.client(), dr.client()
    a.execute_command("CLIENT", "SETNAME", "victim")
    b_id = b.client_id()
    raw_b = RawClient(dr.port)
    raw_b_id = int(raw_b.command("CLIENT", "ID")[1:-2])
    assert a.execute_command("CLIENT", "KILL", "ID", raw_b_id) == 1
    assert raw_b.closed()
    assert a.execute_command("CLIENT", "KILL", "ID", b_id) == 1
    victim_id = a.client_id()
    c = dr.client()
    assert c.execute_command("CLIENT", "KILL", "ID", victim_id, "SKIPME", "no") == 1
    assert c.execute_command("CLIENT", "KILL", "ID", c.client_id(), "SKIPME", "yes") == 0
    assert c.ping()


def test_client_kill_addr_legacy_form(dr: ServerProc) -> None:
    victim = RawClient(dr.port)
    victim.command("CLIENT", "SETNAME", "old-style")
    info = victim.command("CLIENT", "INFO").decode()
    addr = info.split(" addr=")[1].split()[0]
    assert dr.raw().command("CLIENT", "KILL", addr) == b"+OK\r\n"
    assert victim.closed()


def test_client_pause_write_lets_reads_through(dr: ServerProc) -> None:
    c = dr.client()
    assert c.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
    other = dr.client()
    assert other.ping()
    assert c.execute_command("CLIENT", "UNPAUSE")


def test_select_changes_db_in_client_info(dr: ServerProc) -> None:
    raw = dr.raw()
    assert raw.command("SELECT", "9") == b"+OK\r\n"
    assert b" db=9 " in raw.command("CLIENT", "INFO")


def test_requirepass(dr_factory: Any, oracle: ServerProc) -> None:
    sp = dr_factory("--requirepass", "s3cret")
    with oracle_password(oracle, "s3cret"):
        d = Diff(sp.raw(), oracle.raw())
        for args in [
            ("PING",),
            ("ECHO", "x"),
            ("nosuch",),
            ("ECHO",),
            ("CLIENT", "x"),
            ("AUTH", "bad"),
            ("AUTH", "default", "bad"),
            ("AUTH", "nouser", "s3cret"),
            ("HELLO", "2", "AUTH", "default", "bad"),
            ("HELLO", "3"),
            ("CLIENT", "ID"),
            ("AUTH", "s3cret"),
            ("PING",),
            ("AUTH", "s3cret"),
            ("AUTH", "default", "s3cret"),
        ]:
            d(*args)
        d2 = Diff(sp.raw(), oracle.raw())
        d2.masked("HELLO", "2", "AUTH", "default", "s3cret")
        d2("RESET")
        d2("PING")


def test_unauthenticated_big_request_is_refused(dr_factory: Any, oracle: ServerProc) -> None:
    sp = dr_factory("--requirepass", "pw")
    with oracle_password(oracle, "pw"):
        d = Diff(sp.raw(), oracle.raw())
        d.raw(b"*20\r\n")
        assert d.ours.closed() and d.theirs.closed()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.sampled_from(
            [
                "PING",
                "ECHO",
                "SELECT",
                "CLIENT",
                "GETNAME",
                "SETNAME",
                "REPLY",
                "ON",
                "HELLO",
                "2",
                "0",
                "x",
                "",
                "-1",
                "ID",
                "NO-EVICT",
                "off",
            ]
        ),
        min_size=1,
        max_size=4,
    )
)
def test_generated_connection_commands(diff: Diff, args: list[str]) -> None:
    assume(args[:2] != ["CLIENT", "ID"])  # the connection's own id differs by design
    diff.masked(*args)
    diff("RESET")
