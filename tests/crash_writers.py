"""Clients that write until the server is killed, and the checks of what must survive.

Shared by tests/test_crash.py (a few cycles) and tools/crash_loop.py (many). Each writer
is a thread on its own connection doing one kind of write -- plain SET/INCR, pipelines,
MULTI/EXEC, Lua scripts, list pushes, stream XADD, a consumer group reading and
acknowledging -- and remembers what the server acknowledged. `verify` reads the restarted
server and lists every acknowledged write that is missing, every transaction or script
applied in part, and every entry that a consumer read and that is neither acknowledged
nor pending any more.

Room: the standard library and redis-py (no pytest: the tool imports it too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import redis

Factory = Callable[[], redis.Redis]
_LOST = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)
_BOTH = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1]) return 1"


class Loop(threading.Thread):
    """One connection repeating one kind of write until the server goes away; `step(c,
    i)` does write number i and returns what was acknowledged (None when nothing)."""

    def __init__(self, connect: Factory, name: str, cycle: int) -> None:
        super().__init__(daemon=True)
        self.connect, self.name_, self.cycle = connect, name, cycle
        self.acked: list[Any] = []
        self.tried = 0
        self.progress = threading.Event()  # set once `goal` writes were acknowledged
        self.goal = 100

    def tag(self, i: int) -> str:
        return "%s:%d:%d" % (self.name_, self.cycle, i)

    def step(self, c: redis.Redis, i: int) -> Any:
        raise NotImplementedError

    def run(self) -> None:
        try:
            c = self.connect()
            for i in range(10_000_000):
                self.tried = i + 1
                done = self.step(c, i)
                if done is not None:
                    self.acked.append(done)
                if len(self.acked) >= self.goal:
                    self.progress.set()
        except _LOST:
            return
        finally:
            self.progress.set()


class Plain(Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        c.set(self.tag(i), i)
        c.incr("counter:" + self.name_)
        return i


class Pipelined(Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        pipe = c.pipeline(transaction=False)
        for j in range(20):
            pipe.set(self.tag(i * 20 + j), i * 20 + j)
        pipe.execute()
        return i


class Multi(Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        c.pipeline(transaction=True).set("a:" + self.tag(i), i).set("b:" + self.tag(i), i).execute()
        return i


class Script(Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        c.eval(_BOTH, 2, "a:" + self.tag(i), "b:" + self.tag(i), i)
        return i


class Pusher(Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        c.rpush("list:%s:%d" % (self.name_, self.cycle), i)
        return i


class Producer(Loop):
    def step(self, c: redis.Redis, i: int) -> Any:
        return c.xadd("crash:stream", {"n": i})


class Consumer(Loop):
    """Reads for the group `crash` and acknowledges what it read."""

    def __init__(self, connect: Factory, name: str, cycle: int) -> None:
        super().__init__(connect, name, cycle)
        self.delivered: list[bytes] = []
        self.acking: list[bytes] = []  # an XACK sent and not answered: either outcome

    def step(self, c: redis.Redis, i: int) -> Any:
        got = c.xreadgroup("crash", "worker-%d" % self.cycle, {"crash:stream": ">"}, count=10)
        ids = [entry_id for _, entries in got for entry_id, _ in entries]
        self.delivered.extend(ids)
        if not ids:
            return None
        self.acking = ids
        c.xack("crash:stream", "crash", *ids)
        self.acking = []
        return ids


def start(connect: Factory, cycle: int) -> list[Loop]:
    """One writer of every kind (the stream and its group made on first use)."""
    c = connect()
    try:
        c.xgroup_create("crash:stream", "crash", id="$", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise
    loops = [
        Plain(connect, "plain", cycle),
        Pipelined(connect, "pipe", cycle),
        Multi(connect, "multi", cycle),
        Script(connect, "lua", cycle),
        Pusher(connect, "push", cycle),
        Producer(connect, "xadd", cycle),
        Consumer(connect, "xreadgroup", cycle),
    ]
    for loop in loops:
        loop.start()
    return loops


def verify(c: redis.Redis, loops: list[Loop]) -> list[str]:
    """What the restarted server lost or applied in part (empty when nothing)."""
    problems: list[str] = []
    for loop in loops:
        if isinstance(loop, Plain):
            _present(c, problems, loop, [loop.tag(i) for i in loop.acked], loop.acked)
            if int(c.get("counter:" + loop.name_) or 0) < len(loop.acked):
                problems.append("%s: acknowledged INCRs lost" % loop.name_)
        elif isinstance(loop, Pipelined):
            keys = [loop.tag(i * 20 + j) for i in loop.acked for j in range(20)]
            _present(c, problems, loop, keys, [int(k.rsplit(":", 1)[1]) for k in keys])
        elif isinstance(loop, (Multi, Script)):
            tags = [loop.tag(i) for i in range(loop.tried)]
            got = [
                v
                for start in range(0, len(tags), 500)
                for v in c.mget([p + t for t in tags[start : start + 500] for p in ("a:", "b:")])
            ]
            for i in range(loop.tried):
                a, b = got[2 * i], got[2 * i + 1]
                if (a is None) != (b is None):
                    problems.append("%s %s applied in part" % (loop.name_, loop.tag(i)))
                elif i in loop.acked and a != b"%d" % i:
                    problems.append("%s %s acknowledged but lost" % (loop.name_, loop.tag(i)))
        elif isinstance(loop, Pusher):
            items = [int(x) for x in c.lrange("list:%s:%d" % (loop.name_, loop.cycle), 0, -1)]
            if items[: len(loop.acked)] != loop.acked or len(items) > loop.tried:
                problems.append(
                    "%s: the list does not start with the %d acknowledged pushes"
                    % (loop.name_, len(loop.acked))
                )
        elif isinstance(loop, Producer):
            present = {entry_id for entry_id, _ in c.xrange("crash:stream")}
            lost = [x for x in loop.acked if x not in present]
            if lost:
                problems.append(
                    "xadd: %d acknowledged entries lost, e.g. %r" % (len(lost), lost[:3])
                )
        elif isinstance(loop, Consumer):
            pending = {
                row["message_id"]
                for row in c.xpending_range("crash:stream", "crash", "-", "+", 10_000_000)
            }
            acked = {entry_id for ids in loop.acked for entry_id in ids}
            gone = [
                x
                for x in loop.delivered
                if x not in acked and x not in loop.acking and x not in pending
            ]
            if gone:
                problems.append(
                    "xreadgroup: %d entries read, not acknowledged, and no longer "
                    "pending, e.g. %r" % (len(gone), gone[:3])
                )
            if acked & pending:
                problems.append(
                    "xack: %d acknowledged entries came back as pending" % len(acked & pending)
                )
    return problems


def _present(
    c: redis.Redis, problems: list[str], loop: Loop, keys: list[str], values: list[int]
) -> None:
    for start in range(0, len(keys), 1000):
        got = c.mget(keys[start : start + 1000])
        for key, want, have in zip(
            keys[start : start + 1000], values[start : start + 1000], got, strict=True
        ):
            if have != b"%d" % want:
                problems.append("%s: acknowledged %s lost" % (loop.name_, key))
                return
