"""Crash safety: SIGKILL while clients write; after a restart every acknowledged write is
there, every transaction and script applied entirely or not at all.

Writers (tests/crash_writers.py) each use one connection and one kind of write: plain
SET/INCR, pipelines, MULTI/EXEC, Lua scripts, list pushes, stream XADD, and a consumer
group reading and acknowledging; batches mix them all (group commit). The server is
killed once every writer has had enough writes acknowledged, not after some time, three
times over on the same data. With `appendfsync everysec` a killed *process* loses
nothing either: its commits are in the kernel; only a machine crash could lose them.
`tools/crash_loop.py` runs the same for many cycles and checks the folder each time.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests import crash_writers as W

pytestmark = pytest.mark.stress  # ./dev check leaves it out

CYCLES = 3


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_sigkill_loses_no_acknowledged_write(dr_factory: Any, fsync: str) -> None:
    sp = dr_factory("--appendfsync", fsync)
    all_loops: list[W.Loop] = []
    for cycle in range(CYCLES):
        loops = W.start(lambda sp=sp: sp.client(socket_timeout=30), cycle)
        for loop in loops[:-1]:  # the consumer may find nothing new to read
            assert loop.progress.wait(120), "%s made no progress" % loop.name_
        sp.proc.send_signal(signal.SIGKILL)
        sp.proc.wait(30)
        for loop in loops:
            loop.join(60)
        all_loops += loops
        sp = dr_factory("--appendfsync", fsync, data_dir=sp.dir)
        problems = W.verify(sp.client(), all_loops)
        assert not problems, "cycle %d: %s" % (cycle, problems[:5])
