"""Workloads that delete from one end, round after round: does a call get slower as the
deleted records pile up? (LevelDB keeps deletion markers until compaction.)

Usage: python tools/bench/tombstones.py [--engines lmdb,leveldb] [--rounds 6]
                                        [--members 100000]

For redis-server (AOF, appendfsync always: the same promise) and each diskredis engine,
on a fresh server: rounds of 100 x (FLUSHALL, then 20 RPUSH); then a
sorted set of `--members` members popped from the low end (ZPOPMIN) and then from the
high end (ZPOPMAX), 4 000 pops a round. Printed: the mean milliseconds per call in each
round; flat rows mean the deleted records cost nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from big_delete import Conn
from run import server

from diskredis.engines import ENGINES


def rounds(conn: Conn, label: str, n_rounds: int, calls: int, step: list[list[bytes]]) -> None:
    cells = []
    for _ in range(n_rounds):
        t = time.perf_counter()
        for _ in range(calls):
            for args in step:
                conn.call(*args)
        cells.append("%6.2f" % ((time.perf_counter() - t) / calls * 1000))
    print("  %-34s %s" % (label, " ".join(cells)), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/bench/tombstones.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--members", type=int, default=100_000)
    args = parser.parse_args(argv)
    print("# ms per call, one column per round")
    runs = [("redis-server", "redis", "")] + [
        ("diskredis " + e, "diskredis", e) for e in args.engines.split(",")
    ]
    for label, kind, engine in runs:
        print(label)
        with server(kind, "always", engine, args) as port:
            conn = Conn(port)
            flush = [[b"FLUSHALL"]] + [[b"RPUSH", b"l%d" % (j % 3), b"x"] for j in range(20)]
            rounds(conn, "FLUSHALL + 20 RPUSH", args.rounds, 100, flush)
            conn.call(b"DEL", b"q")
            for start in range(0, args.members, 10_000):
                ids = range(start, min(start + 10_000, args.members))
                conn.call(b"ZADD", b"q", *[x for i in ids for x in (b"%d" % i, b"m%07d" % i)])
            pops = max(1, min(4_000, args.members // (2 * args.rounds)))
            rounds(conn, "ZPOPMIN", args.rounds, pops, [[b"ZPOPMIN", b"q"]])
            rounds(conn, "ZPOPMAX", args.rounds, pops, [[b"ZPOPMAX", b"q"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
