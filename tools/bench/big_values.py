"""DUMP, RESTORE and MIGRATE of big values: how long each takes, and how long another
client's PINGs wait meanwhile, redis-server and diskredis side by side.

Usage: python tools/bench/big_values.py [--mb 100] [-n 1000000] [--engines lmdb,leveldb]
                                        [--ops dump,restore,migrate]

For each server (redis-server with its defaults, then each diskredis engine), two
instances are started: the source and a MIGRATE target of the same kind. The source
gets a string of `--mb` megabytes of random bytes (one SET; random, so LZF does not
shrink it) and a sorted set of `-n` members. Then,
for each value and each of `--ops`, one client sends the command while another sends
PINGs back to back: DUMP (the payload is kept), RESTORE of that payload under a new
key, MIGRATE ... COPY REPLACE to the target. Each starts once PINGs are answered at
once again. Reported: the command's own time and the p99 and worst round trip of the
PINGs in flight while it ran (the one it held up included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from big_delete import Conn, fill, server_runs
from run import server

from diskredis.engines import ENGINES

_MB = 1 << 20


class Pinger:
    """PINGs back to back on their own connection, timed, while `timing` is set."""

    def __init__(self, port: int) -> None:
        self.conn = Conn(port)
        self.samples: list[tuple[float, float]] = []  # (start, round trip)
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait()

    def _run(self) -> None:
        while not self.stop.is_set():
            t = time.perf_counter()
            self.conn.call(b"PING")
            self.samples.append((t, time.perf_counter() - t))
            self.ready.set()

    def _answered_after(self, moment: float) -> None:
        """Wait until a PING sent after `moment` has been answered."""
        while not any(t >= moment for t, _ in self.samples[-3:]):
            time.sleep(0.001)

    def measure(self, work: Callable[[], None]) -> tuple[float, float, float]:
        """(seconds `work()` took, p99 and worst round trip of the PINGs in flight
        while it ran, ms). It starts once the server answers PINGs at once again, and
        counts the PING the work held up as well as those sent meanwhile."""
        self._answered_after(time.perf_counter())
        t0 = time.perf_counter()
        work()
        t1 = time.perf_counter()
        self._answered_after(t1)
        took = t1 - t0
        ordered = sorted(d for t, d in list(self.samples) if t0 <= t + d and t <= t1) or [0.0]
        self.samples.clear()
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return took, p99 * 1000, ordered[-1] * 1000

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def build(conn: Conn, mb: int, n: int) -> None:
    conn.call(b"DEL", b"big:string", b"big:zset")
    conn.call(b"SET", b"big:string", os.urandom(mb * _MB))
    fill(conn, "zset", b"big:zset", n)


def _step(conn: Conn, op: str, key: bytes, target: int, kept: dict[bytes, bytes]) -> None:
    if op == "dump":
        kept[key] = conn.call(b"DUMP", key)
    elif op == "restore":
        conn.call(b"RESTORE", key + b":copy", b"0", kept[key], b"REPLACE")
    else:
        conn.call(
            b"MIGRATE", b"127.0.0.1", b"%d" % target, key, b"0", b"600000", b"COPY", b"REPLACE"
        )


def run(port: int, target: int, mb: int, n: int, ops: list[str], label: str) -> None:
    conn = Conn(port)
    build(conn, mb, n)
    pinger = Pinger(port)
    kept: dict[bytes, bytes] = {}
    try:
        for key in (b"big:string", b"big:zset"):
            for op in ["dump", *[o for o in ops if o != "dump"]]:  # RESTORE needs the DUMP
                took, p99, worst = pinger.measure(lambda: _step(conn, op, key, target, kept))  # noqa: B023
                if op in ops:
                    print(
                        "%-20s %-10s %-8s %10.3f %12.1f %14.1f"
                        % (label, key.decode()[4:], op.upper(), took, p99, worst),
                        flush=True,
                    )
    finally:
        pinger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/bench/big_values.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mb", type=int, default=100, help="size of the string, MB")
    parser.add_argument("-n", type=int, default=1_000_000, help="members of the sorted set")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--ops", default="dump,restore,migrate")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        raise SystemExit("big_values: redis-server not found; install Debian's redis-server")
    ops = args.ops.split(",")
    print(
        "# a %d MB string and a %d-member sorted set; PINGs from another client" % (args.mb, args.n)
    )
    print(
        "%-20s %-10s %-8s %10s %12s %14s"
        % ("server", "value", "command", "seconds", "p99 PING ms", "worst PING ms")
    )
    for label, kind, engine in server_runs(args.engines):
        fsync = "always" if kind == "diskredis" else "everysec"
        with server(kind, fsync, engine, args) as port, server(kind, fsync, engine, args) as target:
            run(port, target, args.mb, args.n, ops, label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
