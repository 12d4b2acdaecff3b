"""Commands Redis 7.0 has in every mode, answered as a standalone Redis answers them:
CLUSTER and READONLY/READWRITE/ASKING (no cluster support), MODULE (no module loads),
ROLE, RESTORE-ASKING, BGREWRITEAOF, CLIENT KILL USER; ACL rules naming any of them; and
the settings diskredis refuses rather than accept without effect."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.conftest import ROOT, Diff, ServerProc, _parse, start_oracle

STANDALONE: list[tuple[Any, ...]] = [
    ("CLUSTER", "INFO"),
    ("CLUSTER", "HELP"),
    ("CLUSTER", "NODES"),
    ("CLUSTER", "SLOTS"),
    ("CLUSTER", "SHARDS"),
    ("CLUSTER", "MYID"),
    ("CLUSTER", "KEYSLOT", "foo"),
    ("CLUSTER", "KEYSLOT"),
    ("CLUSTER", "COUNTKEYSINSLOT", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "10"),
    ("CLUSTER", "ADDSLOTS", "1", "2"),
    ("CLUSTER", "ADDSLOTSRANGE", "1", "5"),
    ("CLUSTER", "ADDSLOTSRANGE", "1"),
    ("CLUSTER", "MEET", "127.0.0.1", "1"),
    ("CLUSTER", "RESET", "HARD"),
    ("CLUSTER", "NOPE"),
    ("CLUSTER", "SETSLOT", "1", "STABLE"),
    ("CLUSTER", "REPLICAS", "x"),
    ("CLUSTER", "FAILOVER", "FORCE"),
    ("CLUSTER", "DELSLOTS", "1"),
    ("CLUSTER", "DELSLOTSRANGE", "1", "2"),
    ("CLUSTER", "FLUSHSLOTS"),
    ("CLUSTER", "FORGET", "x"),
    ("CLUSTER", "REPLICATE", "x"),
    ("CLUSTER", "SAVECONFIG"),
    ("CLUSTER", "SET-CONFIG-EPOCH", "1"),
    ("CLUSTER", "BUMPEPOCH"),
    ("CLUSTER", "COUNT-FAILURE-REPORTS", "x"),
    ("CLUSTER", "LINKS"),
    ("CLUSTER", "SLAVES", "x"),
    ("CLUSTER", "flushslots", "x"),
    ("CLUSTER",),
    ("READONLY",),
    ("READWRITE",),
    ("ASKING",),
    ("READONLY", "x"),
    ("MODULE", "LIST"),
    ("MODULE", "HELP"),
    ("MODULE", "NOPE"),
    ("MODULE", "LOAD", "/no/such.so"),
    ("MODULE", "UNLOAD", "x"),
    ("MODULE", "LOADEX", "/no/such.so", "CONFIG", "a", "b"),
    ("ROLE",),
    ("ROLE", "x"),
    ("SET", "src", "v"),
    ("DUMP", "src"),
    ("RESTORE-ASKING", "k", "0", "bad"),
    ("RESTORE-ASKING", "k", "0"),
    ("BGREWRITEAOF", "x"),
    (
        "ACL",
        "SETUSER",
        "u",
        "+cluster",
        "+module|list",
        "+readonly",
        "+role",
        "+asking",
        "-cluster|info",
        "+restore-asking",
        "+replicaof",
        "+slaveof",
        "+script|debug",
        "+failover",
        "-failover",
    ),
    ("CLIENT", "KILL", "USER", "nosuch"),
]


def test_standalone_answers(kdiff: Diff) -> None:
    for args in STANDALONE:
        kdiff(*args)
    # the user's rules, in the order each server's table gives them
    described = [set(_parse(r)[5].split()) for r in kdiff.both("ACL", "GETUSER", "u")]
    assert described[0] == described[1]
    kdiff("ACL", "DELUSER", "u")
    for proto in ("3", "2"):
        kdiff.masked("HELLO", proto)
        for args in (("ROLE",), ("MODULE", "LIST"), ("CLUSTER", "INFO")):
            kdiff(*args)


def test_restore_asking_restores(kdiff: Diff) -> None:
    kdiff("RPUSH", "src", "a", "b")
    payload = kdiff.ours.command("DUMP", "src").split(b"\r\n", 1)[1][:-2]
    kdiff("RESTORE-ASKING", "dst", "0", payload)
    kdiff("LRANGE", "dst", "0", "-1")
    kdiff("RESTORE-ASKING", "dst", "0", payload)
    kdiff("RESTORE-ASKING", "dst", "0", payload, "REPLACE")


def test_bgrewriteaof_checkpoints(dr: ServerProc) -> None:
    c = dr.raw()
    assert c.command("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
    assert c.command("PING") == b"+PONG\r\n"


def test_module_commands_are_protected(dr_factory: Any) -> None:
    """MODULE LOAD/LOADEX/UNLOAD wait for enable-module-command, not the debug one."""
    sp = dr_factory("--enable-module-command", "no")
    theirs = start_oracle("--enable-module-command", "no")
    try:
        d = Diff(sp.raw(), theirs.raw())
        for args in (
            ("MODULE", "LOAD", "/x.so"),
            ("MODULE", "UNLOAD", "x"),
            ("MODULE", "LIST"),
            ("DEBUG", "SLEEP", "0"),
        ):
            d(*args)
        d("INFO", "errorstats")
    finally:
        theirs.stop()
    allowed = dr_factory("--enable-module-command", "yes")
    theirs = start_oracle("--enable-module-command", "yes")
    try:
        d = Diff(allowed.raw(), theirs.raw())
        for args in (
            ("MODULE", "LOAD", "/no/such.so"),
            ("MODULE", "LOAD", "/no/such.so", "a"),
            ("MODULE", "LOADEX", "/no/such.so"),
            ("MODULE", "LOADEX", "/no/such.so", "CONFIG", "a", "b", "ARGS", "x"),
            ("MODULE", "LOADEX", "/no/such.so", "CONFIG", "a"),
            ("MODULE", "LOADEX", "/no/such.so", "BOGUS"),
            ("MODULE", "UNLOAD", "x"),
            ("MODULE", "LIST"),
            ("INFO", "errorstats"),
        ):
            d(*args)
    finally:
        theirs.stop()
    assert "diskredis cannot load Redis modules" in allowed.log()


def test_client_kill_user(kdiff: Diff, dr: ServerProc, oracle: ServerProc) -> None:
    kdiff("ACL", "SETUSER", "killme", "on", "nopass", "+@all", "~*")
    try:
        victims = []
        for sp in (dr, oracle):
            v = sp.raw()
            assert v.command("AUTH", "killme", "x") == b"+OK\r\n"
            victims.append(v)
        kdiff("CLIENT", "KILL", "USER", "killme")
        kdiff("CLIENT", "KILL", "USER", "killme")
        assert all(v.closed() for v in victims)
    finally:
        kdiff("ACL", "DELUSER", "killme")


def _start_refused(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "diskredis", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0, out
    return out.stdout + out.stderr


def test_settings_refused_rather_than_ignored(tmp_path: Any) -> None:
    """cluster-enabled changes what the server promises: refused at start-up (and by
    CONFIG SET, where it is immutable) until diskredis acts on it. (replicaof is acted
    on: tests/test_replica.py.)"""
    text = _start_refused("--dir", str(tmp_path / "a"), "--cluster-enabled", "yes")
    assert "diskredis does not run as a cluster node yet" in text
    text = _start_refused("--dir", str(tmp_path / "b"), "--replicaof", "127.0.0.1", "nope")
    assert "Invalid master port" in text
