"""RESTORE and MIGRATE of big values away from the lane, on both engines.

A RESTORE payload over 256 KB is checked and decoded on a worker thread, and a
collection's elements are written in steps between batches under a key id no key
points to; the key appears whole, in one step, when the command answers. A MIGRATE of
a big value reads, encodes and sends it on a worker thread over a snapshot; only the
deletion is left for the lane, and a key changed meanwhile is migrated again, on the
lane, so no write is lost. These tests check what a client can see of that: values
equal to what Redis restores from the same payload, the other clients served while a
value is built (`values_building` in INFO storage), BUSYKEY for a key set meanwhile,
nothing left behind by a client that leaves or a server killed, the replicated form.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import redis

from diskredis.rdb.crc64 import crc64
from tests.conftest import ROOT, ServerProc, encode_command, start_oracle
from tests.test_dump_restore import _big, snapshot

# elements per kind for a payload over the 256 KB that sends RESTORE off the lane
_SIZES = {"zset": 40_000, "hash": 40_000, "set": 40_000, "list": 150_000, "stream": 36_000}


def _payload(c: redis.Redis, kind: str, n: int = 0) -> bytes:
    """The DUMP payload of a big value of `kind` (made at "src", then deleted)."""
    _big(c, "src", kind, n or _SIZES.get(kind, 0))
    payload: bytes = c.pipeline(transaction=True).dump("src").execute()[0]  # on the lane
    c.delete("src")
    assert len(payload) > 256 << 10
    return payload


def _wait(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.005)


def _building(c: redis.Redis) -> int:
    return int(c.info("storage")["values_building"])


def _check(path: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "diskredis.check", path, "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _gc_done(c: redis.Redis) -> None:
    _wait(lambda: c.info("storage")["gc_pending_jobs"] == 0, "the reclamation")


@pytest.mark.parametrize("kind", ["zset", "hash", "set", "list", "stream", "string"])
def test_restore_of_a_big_value(dr: ServerProc, oracle: ServerProc, kind: str) -> None:
    """The value restored in steps is the one Redis restores from the same payload, in
    the same encoding; the client's pipelined commands after the RESTORE see it whole;
    a second RESTORE of the key is refused (BUSYKEY), a REPLACE with a TTL and IDLETIME
    is not."""
    ours, theirs = dr.client(), oracle.client()
    ours.delete("big")
    payload = _payload(ours, kind)
    p = ours.pipeline(transaction=False)
    p.restore("big", 0, payload)
    p.exists("big")
    p.object("encoding", "big")
    p.restore("big", 0, payload)
    p.restore("big", 100_000, payload, replace=True, idletime=50)
    p.pttl("big")
    p.object("idletime", "big")
    restored, exists, encoding, busy, replaced, pttl, idle = p.execute(raise_on_error=False)
    assert (restored, exists, replaced) == (b"OK", 1, b"OK")
    assert str(busy) == "BUSYKEY Target key name already exists."
    assert 0 < pttl <= 100_000 and idle >= 50
    theirs.restore("big", 0, payload, replace=True)
    assert encoding == theirs.object("encoding", "big")
    assert snapshot(ours, b"big") == snapshot(theirs, b"big")
    ours.delete("big")
    theirs.delete("big")


def test_restore_errors_of_big_payloads(dr: ServerProc) -> None:
    """A damaged big payload gets RESTORE's errors, after its worker thread, and counts
    as a failed call; nothing is stored."""
    c = dr.client()
    payload = _payload(c, "zset")
    before = c.info("commandstats")["cmdstat_restore"]["failed_calls"]
    flipped = payload[:-1] + bytes([payload[-1] ^ 1])
    with pytest.raises(redis.ResponseError, match=r"^DUMP payload version or checksum are wrong$"):
        c.restore("bad", 0, flipped)
    body = payload[:-10]  # a cut body with a footer of its own
    cut = body[: len(body) // 2] + payload[-10:-8]
    cut += crc64(0, cut).to_bytes(8, "little")
    with pytest.raises(redis.ResponseError, match=r"^Bad data format$"):
        c.restore("bad", 0, cut)
    assert c.exists("bad") == 0
    assert c.info("commandstats")["cmdstat_restore"]["failed_calls"] == before + 2
    assert c.restore("past", 1, payload, absttl=True) and c.exists("past") == 0


def test_others_are_served_while_a_value_is_built(dr_factory: Any) -> None:
    """While one client's RESTORE writes a big sorted set in steps, another client is
    served (it sees `values_building` 1) and sets the same key: the RESTORE then ends
    with BUSYKEY, and the records it wrote are reclaimed (the folder checks clean)."""
    sp = dr_factory()
    c = sp.client()
    payload = _payload(c, "zset", 100_000)
    c.config_set("notify-keyspace-events", "Eg$")
    events = c.pubsub()
    events.psubscribe("__keyevent@0__:*")
    restorer = sp.raw(timeout=120)
    restorer.send(encode_command(["RESTORE", "big", 0, payload]))
    _wait(lambda: _building(c) == 1, "the value to be built")
    assert c.set("big", "mine")  # served meanwhile
    assert restorer.reply() == b"-BUSYKEY Target key name already exists.\r\n"
    assert c.get("big") == b"mine" and _building(c) == 0
    restorer.send(encode_command(["RESTORE", "new", 0, payload]))
    assert restorer.reply() == b"+OK\r\n"
    assert c.zcard("new") == 100_000
    seen = []
    while (m := events.get_message(timeout=1)) is not None:
        if m["type"] == "pmessage":
            seen.append((m["channel"], m["data"]))
    assert seen == [(b"__keyevent@0__:set", b"big"), (b"__keyevent@0__:restore", b"new")]
    _gc_done(c)
    sp.stop()
    assert "no problems found" in _check(sp.dir)


def test_a_client_that_leaves_before_its_value_is_stored(dr_factory: Any) -> None:
    """The client goes away once its value is built but before it is stored (a CLIENT
    PAUSE WRITE holds that last step): nothing is stored, what was written is
    reclaimed."""
    sp = dr_factory()
    c = sp.client()
    payload = _payload(c, "hash", 100_000)
    clients = c.info("clients")["connected_clients"]
    leaver = sp.raw(timeout=120)
    leaver.send(encode_command(["RESTORE", "big", 0, payload]))
    _wait(lambda: _building(c) == 1, "the value to be built")
    assert c.client_pause(60_000, all=False)
    _wait(lambda: _building(c) == 0, "the value to be written whole")
    leaver.close()
    _wait(lambda: c.info("clients")["connected_clients"] == clients, "the client to go")
    assert c.client_unpause()
    assert c.exists("big") == 0
    _gc_done(c)
    sp.stop()
    assert "no problems found" in _check(sp.dir)


def test_a_crash_while_a_value_is_built(dr_factory: Any) -> None:
    """SIGKILL during the build: the folder checks clean (the records written so far are
    known as a value being built), the key does not exist after the restart, and those
    records are reclaimed then."""
    sp = dr_factory()
    c = sp.client()
    payload = _payload(c, "set", 100_000)
    c.set("kept", "v")
    raw = sp.raw(timeout=120)
    raw.send(encode_command(["RESTORE", "big", 0, payload]))
    _wait(lambda: _building(c) == 1, "the value to be built")
    _wait(lambda: c.info("storage")["lane_write_commits"] > 0, "a step to be written")
    os.kill(sp.proc.pid, signal.SIGKILL)
    sp.proc.wait(30)
    assert "no problems found" in _check(sp.dir)
    again = dr_factory(data_dir=sp.dir)
    c = again.client()
    assert c.exists("big") == 0 and c.get("kept") == b"v"
    _gc_done(c)
    again.stop()
    assert "no problems found" in _check(sp.dir)


def test_a_replica_gets_the_big_value(dr_factory: Any) -> None:
    """A redis-server 7.0 replica gets a big RESTORE as the command, with the deadline
    it gave (ABSTTL): the same value, the same expiry time."""
    sp = dr_factory()
    c = sp.client()
    payload = _payload(c, "zset")
    replica = start_oracle("--replicaof", "127.0.0.1", str(sp.port))
    try:
        r = replica.client()
        _wait(lambda: r.info("replication")["master_link_status"] == "up", "the sync")
        assert c.restore("big", 500_000, payload)
        assert c.wait(1, 20_000) == 1
        assert snapshot(r, b"big") == snapshot(c, b"big")
        assert r.pexpiretime("big") == c.pexpiretime("big")
    finally:
        replica.stop()


def test_what_is_pushed_while_a_value_is_built_follows_the_reply(dr_factory: Any) -> None:
    """A RESP3 client tracking a key RESTOREs a big value; another client changes the
    tracked key meanwhile: the invalidation comes right after the RESTORE's reply."""
    sp = dr_factory()
    c = sp.client()
    payload = _payload(c, "zset", 100_000)
    c.set("tracked", "1")
    raw = sp.raw(timeout=120)
    raw.command("HELLO", "3")
    assert raw.command("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    assert raw.command("GET", "tracked") == b"$1\r\n1\r\n"
    raw.send(encode_command(["RESTORE", "big", 0, payload]))
    _wait(lambda: _building(c) == 1, "the value to be built")
    assert c.set("tracked", "2")
    assert raw.reply() == b"+OK\r\n"
    assert raw.reply() == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$7\r\ntracked\r\n"
    assert raw.command("PING") == b"+PONG\r\n"
