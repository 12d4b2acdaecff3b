"""Crash safety: SIGKILL while clients write; after a restart every acknowledged write is there.

Writers use pipelines and plain request/reply loops, SET and INCR, on several
connections at once (so batches mix clients: group commit). The server is killed
once every writer has had enough writes acknowledged, not after some time.
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
