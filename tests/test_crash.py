"""Crash safety: SIGKILL while clients write; after a restart every acknowledged write is there.

Writers use pipelines and plain request/reply loops, SET and INCR, on several
connections at once (so batches mix clients: group commit); others run MULTI/EXEC
transactions, Lua scripts, list pushes, and stream XADD with a consumer group reading
and acknowledging. The server is killed once every writer has had enough writes
acknowledged, not after some time. (A killed process loses nothing with `appendfsync
everysec` either: its commits are in the kernel; only a machine crash could lose them.)
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest
import redis

from tests.conftest import ServerProc

CYCLES = 3
WRITERS = 6
ACKED_BEFORE_KILL = 300  # acknowledged writes per writer before the kill


class Writer(threading.Thread):
    def __init__(self, sp: ServerProc, name: str, pipelined: bool, cycle: int) -> None:
        super().__init__(daemon=True)
        self.sp, self.name_, self.pipelined, self.cycle = sp, name, pipelined, cycle
        self.acked: dict[bytes, bytes] = {}
        self.counter = 0  # last acknowledged INCR result
        self.enough = threading.Event()

    def run(self) -> None:
        c = self.sp.client(socket_timeout=30)
        i = 0
        try:
            while True:
                if self.pipelined:
                    pipe = c.pipeline(transaction=False)
                    batch = []
                    for _ in range(20):
                        key = b"%s:%d:%d" % (self.name_.encode(), self.cycle, i)
                        batch.append(key)
                        pipe.set(key, key * 3)
                        i += 1
                    pipe.incr("counter:" + self.name_)
                    replies = pipe.execute()
                    for key in batch:
                        self.acked[key] = key * 3
                    self.counter = replies[-1]
                else:
                    key = b"%s:%d:%d" % (self.name_.encode(), self.cycle, i)
                    c.set(key, key * 3)
                    self.acked[key] = key * 3
                    self.counter = c.incr("counter:" + self.name_)
                    i += 1
                if len(self.acked) >= ACKED_BEFORE_KILL:
                    self.enough.set()
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError):
            return  # the server was killed
        finally:
            self.enough.set()


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_sigkill_loses_no_acknowledged_write(dr_factory: Any, fsync: str) -> None:
    # With everysec, a killed *process* loses nothing either: commits are in the OS.
    sp = dr_factory("--appendfsync", fsync)
    data_dir = sp.dir
    expected: dict[bytes, bytes] = {}
    counters: dict[str, int] = {}
    for cycle in range(CYCLES):
        writers = [Writer(sp, "w%d" % n, n % 2 == 0, cycle) for n in range(WRITERS)]
        for w in writers:
            w.start()
        for w in writers:
            assert w.enough.wait(120), "writer %s made no progress" % w.name_
        sp.proc.send_signal(signal.SIGKILL)
        sp.proc.wait(30)
        for w in writers:
            w.join(60)
            expected.update(w.acked)
            counters[w.name_] = max(counters.get(w.name_, 0), w.counter)
        sp = dr_factory("--appendfsync", fsync, data_dir=data_dir)
        c = sp.client()
        keys = list(expected)
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            got = c.mget(chunk)
            missing = [k for k, v in zip(chunk, got, strict=True) if v != expected[k]]
            assert not missing, "cycle %d: %d acknowledged keys lost, e.g. %r" % (
                cycle, len(missing), missing[:3])
        for name, value in counters.items():
            assert int(c.get("counter:" + name) or 0) >= value


# -- the other write paths: MULTI/EXEC, scripts, list pushes, streams with a group ----------
class _Loop(threading.Thread):
    """A client repeating one kind of write until the server dies; `step(c, i)` does write
    number i and returns what was acknowledged (None when nothing is)."""

    def __init__(self, sp: ServerProc, name: str) -> None:
        super().__init__(daemon=True)
        self.sp, self.name_ = sp, name
        self.acked: list[Any] = []
        self.tried = 0
        self.enough = threading.Event()

    def step(self, c: redis.Redis, i: int) -> Any:
        raise NotImplementedError

    def run(self) -> None:
        c = self.sp.client(socket_timeout=30)
        try:
            for i in range(1_000_000):
                self.tried = i + 1
                done = self.step(c, i)
                if done is not None:
                    self.acked.append(done)
                if len(self.acked) >= ACKED_BEFORE_KILL // 3:
                    self.enough.set()
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError):
            return
        finally:
            self.enough.set()


class _Multi(_Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        pipe = c.pipeline(transaction=True)
        pipe.set("tx:a:%d" % i, i).set("tx:b:%d" % i, i).incr("tx:count")
        pipe.execute()
        return i


_BOTH = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1]) return 1"


class _Script(_Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        c.eval(_BOTH, 2, "lua:a:%d" % i, "lua:b:%d" % i, i)
        return i


class _Pusher(_Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        c.rpush("crash:list", i)
        return i


class _Producer(_Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        return c.xadd("crash:stream", {"n": i})


class _Consumer(_Loop):
    """Reads for its group and acknowledges what it read: `acked` holds (delivered,
    acknowledged) pairs of ID lists."""

    def __init__(self, sp: ServerProc, name: str) -> None:
        super().__init__(sp, name)
        self.delivered: list[bytes] = []
        self.acking: list[bytes] = []  # an XACK sent and not answered: either outcome

    def step(self, c: redis.Redis, i: int) -> Any:
        got = c.xreadgroup("crash", "worker", {"crash:stream": ">"}, count=10)
        ids = [entry_id for _, entries in got for entry_id, _ in entries]
        self.delivered.extend(ids)
        if ids:
            self.acking = ids
            c.xack("crash:stream", "crash", *ids)
            self.acking = []
            return ids
        return None


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_sigkill_keeps_transactions_scripts_lists_and_streams_whole(
        dr_factory: Any, fsync: str) -> None:
    """Killed while MULTI/EXEC, EVAL, RPUSH, XADD and XREADGROUP+XACK clients write: after
    a restart each acknowledged write is there, each transaction and script applied
    entirely or not at all, lists hold every acknowledged push in order, and each entry a
    consumer read is acknowledged or still pending in its group."""
    sp = dr_factory("--appendfsync", fsync)
    setup = sp.client()
    setup.xgroup_create("crash:stream", "crash", id="$", mkstream=True)
    loops: list[_Loop] = [_Multi(sp, "multi"), _Script(sp, "lua"), _Pusher(sp, "push"),
                          _Producer(sp, "xadd"), _Consumer(sp, "xreadgroup")]
    for loop in loops:
        loop.start()
    for loop in loops[:-1]:
        assert loop.enough.wait(120), "%s made no progress" % loop.name_
    sp.proc.send_signal(signal.SIGKILL)
    sp.proc.wait(30)
    for loop in loops:
        loop.join(60)
    multi, lua, push, xadd, consumer = loops
    assert isinstance(consumer, _Consumer)
    c = dr_factory("--appendfsync", fsync, data_dir=sp.dir).client()
    for loop, prefix in ((multi, "tx"), (lua, "lua")):
        for i in range(loop.tried):
            a, b = c.get("%s:a:%d" % (prefix, i)), c.get("%s:b:%d" % (prefix, i))
            assert (a is None) == (b is None), "%s %d applied in part" % (prefix, i)
            if i in loop.acked:
                assert a == b == b"%d" % i, "%s %d acknowledged but lost" % (prefix, i)
    assert int(c.get("tx:count") or 0) >= len(multi.acked)
    items = [int(x) for x in c.lrange("crash:list", 0, -1)]
    assert items[:len(push.acked)] == push.acked  # every acknowledged push, in order
    assert len(items) <= push.tried
    present = {entry_id for entry_id, _ in c.xrange("crash:stream")}
    assert set(xadd.acked) <= present
    pending = {row["message_id"] for row in c.xpending_range("crash:stream", "crash", "-",
                                                             "+", 1_000_000)}
    acked = {entry_id for ids in consumer.acked for entry_id in ids}
    for entry_id in consumer.delivered:
        if entry_id not in acked and entry_id not in consumer.acking:
            assert entry_id in pending, "%r was delivered, never acknowledged, and is no " \
                                        "longer pending" % entry_id
    assert not acked & pending, "acknowledged entries came back as pending"
