"""Giving disk space back while serving: diskredis's COMPACT beside redis-server's
BGREWRITEAOF (what shrinks Redis's append-only file), in one run.

Usage: python tools/bench/compaction.py [--mb 1000] [--keep 10] [--engines lmdb,leveldb]

For each server (redis-server with `appendonly yes`, then each diskredis engine, all
with `appendfsync always`): `--mb` MB of 100 KB random values are written, all but one
in `--keep` deleted, then the compaction (COMPACT; BGREWRITEAOF) starts while one client
sends PINGs back to back and another writes (INCR). Reported: the data folder's size
before and after, how long the compaction took, the p99 and worst PING round trip
meanwhile, and the writes acknowledged during it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from big_delete import Conn, info_field, server_runs
from run import server

from diskredis.engines import ENGINES

VALUE = 100_000


def folder_mb(path: str) -> float:
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):  # (a file removed as it was counted)
                total += os.path.getsize(os.path.join(d, f))
    return total / 1e6


def fill(conn: Conn, keys: int, keep: int) -> None:
    value = os.urandom(VALUE)
    for start in range(0, keys, 20):
        batch = range(start, min(start + 20, keys))
        for i in batch:
            conn.send(b"SET", b"k%d" % i, value)
        for _ in batch:
            conn.reply()
        if start % 1000 == 0:
            print("\r    filling %6d/%d" % (start, keys), end="", file=sys.stderr, flush=True)
    doomed = [b"k%d" % i for i in range(keys) if i % keep]
    for start in range(0, len(doomed), 500):
        conn.call(b"DEL", *doomed[start : start + 500])
    print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


def running(conn: Conn, kind: str) -> bool:
    if kind == "redis":
        return bool(
            info_field(conn, b"persistence", "aof_rewrite_in_progress")
            or info_field(conn, b"persistence", "aof_rewrite_scheduled")
        )
    return bool(info_field(conn, b"storage", "compaction_in_progress"))


def measure(port: int, kind: str, mb: int, keep: int) -> list[float]:
    conn, pinger, writer = Conn(port), Conn(port), Conn(port)
    folder = conn.call(b"CONFIG", b"GET", b"dir").split(b" ", 1)[1].decode()
    fill(conn, mb * 1_000_000 // VALUE, keep)
    conn.call(b"SAVE" if kind == "diskredis" else b"PING")
    time.sleep(2)  # (LMDB: the deletes' checkpoint reaches the file)
    before = folder_mb(folder)
    samples: list[float] = []
    acked = [0]
    stop = threading.Event()

    def ping() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            pinger.call(b"PING")
            samples.append(time.perf_counter() - t)

    def write() -> None:
        while not stop.is_set():
            writer.call(b"INCR", b"counter")
            acked[0] += 1

    threads = [threading.Thread(target=f, daemon=True) for f in (ping, write)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    samples.clear()
    acked[0] = 0
    t0 = time.perf_counter()
    conn.call(b"COMPACT" if kind == "diskredis" else b"BGREWRITEAOF")
    while True:
        time.sleep(0.01)
        if not running(conn, kind):
            break
    took = time.perf_counter() - t0
    stop.set()
    for t in threads:
        t.join()
    after = folder_mb(folder)
    for _ in range(50):  # until the engine has removed the files it replaced
        time.sleep(0.2)
        after, last = folder_mb(folder), after
        if after == last:
            break
    ordered = sorted(samples) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return [before, after, took, p99 * 1000, ordered[-1] * 1000, acked[0]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/bench/compaction.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mb", type=int, default=1000, help="MB of values written")
    parser.add_argument("--keep", type=int, default=10, help="keep one key in this many")
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        raise SystemExit("compaction: redis-server not found; install Debian's redis-server")
    print(
        "# %d MB of 100 KB values, all but 1 in %d deleted, then compacted" % (args.mb, args.keep)
    )
    print(
        "%-20s %10s %9s %8s %12s %14s %10s"
        % ("server", "before MB", "after MB", "took s", "p99 PING ms", "worst PING ms", "writes")
    )
    for label, kind, engine in server_runs(args.engines):
        with server(kind, "always", engine, args) as port:
            before, after, took, p99, worst, writes = measure(port, kind, args.mb, args.keep)
            print(
                "%-20s %10.1f %9.1f %8.2f %12.1f %14.1f %10d"
                % (label, before, after, took, p99, worst, writes),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
