"""Larger than RAM: GET throughput, cache hit rate and memory with 20x more data than cache.

Usage: python tools/bench/big_data.py [--keys 10000000] [--value 128] [--maxmemory 64mb]
                                      [--engines lmdb,leveldb] [--seconds 20]
                                      [--hot-keys 100000] [--chart FILE]

For each engine a data folder is filled offline (`--keys` keys `key:%010d` of `--value`
bytes, through the keyspace, as tools/bench/restart.py does), then diskredis is started
on it with `--maxmemory` as the cache budget. A load client (50 connections, one
request in flight on each, replies parsed with hiredis) sends GETs in three phases, each
`--seconds` long after a warm-up of a quarter of that:

- uniform: every key equally likely;
- zipf: key ranks drawn from a Zipf distribution (s = 1, the continuous approximation
  rank = N ** u), scattered over the key space by a multiplicative permutation so that
  hot keys are not neighbours on disk;
- all hot: uniform over the first `--hot-keys` keys only, a set that fits in the cache
  (the same workload with the whole set hot).

Reported per phase: GETs per second, the cache hit rate (INFO storage cache_hits and
cache_misses over the phase), and the server's resident memory, all of it and the
private part (RssAnon; the rest is the engine's memory-mapped file pages, the kernel's
page cache). `--chart` plots resident memory over the run.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

from restart import fill  # noqa: E402
from run import free_port, wait_ping  # noqa: E402

from diskredis.engines import ENGINES  # noqa: E402

PRIME = 2_147_483_647  # scatters Zipf ranks over the key space (keys < PRIME)


def rss(pid: int) -> tuple[float, float]:
    """(VmRSS, RssAnon) of `pid` in MB."""
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "RssAnon"):
                got[name] = int(rest.split()[0]) / 1024
    return got.get("VmRSS", 0.0), got.get("RssAnon", 0.0)


def info_storage(port: int) -> dict[str, str]:
    """INFO storage of the server on `port`, as a dict."""
    with socket.create_connection(("127.0.0.1", port), 10) as s:
        s.sendall(b"INFO storage\r\n")
        data = b""
        while b"\r\n" not in data:
            data += s.recv(65536)
        head, _, body = data.partition(b"\r\n")
        size = int(head[1:])
        while len(body) < size:
            body += s.recv(65536)
    return dict(line.split(":", 1) for line in body[:size].decode().split("\r\n") if ":" in line)


class Load:
    """50 connections each with one GET in flight; `pick()` chooses the key numbers."""

    def __init__(self, port: int, clients: int) -> None:
        import hiredis

        self.sel = selectors.DefaultSelector()
        self.socks = []
        for _ in range(clients):
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, hiredis.Reader())
            self.socks.append(s)

    def run(
        self,
        seconds: float,
        pick: Callable[[], int],
        samples: list[tuple[float, float, float]],
        pid: int,
        t0: float,
    ) -> int:
        """GETs answered in `seconds`; appends (time, RSS, RssAnon) every half second."""
        for s in self.socks:
            s.send(b"GET key:%010d\r\n" % pick())
        done = 0
        end = time.monotonic() + seconds
        next_sample = 0.0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - t0, *rss(pid)))
                next_sample = now + 0.5
            if now >= end:
                break
            for key, _ in self.sel.select(0.5):
                reader = key.data
                reader.feed(key.fileobj.recv(65536))
                while reader.gets() is not False:
                    done += 1
                    key.fileobj.send(b"GET key:%010d\r\n" % pick())
        # Let the replies in flight arrive, so the next phase starts clean.
        for s in self.socks:
            s.setblocking(True)
            s.settimeout(30)
        for key in list(self.sel.get_map().values()):
            reader = key.data
            while reader.gets() is False:
                reader.feed(key.fileobj.recv(65536))
            key.fileobj.setblocking(False)
        return done

    def close(self) -> None:
        for s in self.socks:
            s.close()


def pickers(keys: int, hot: int, rng: random.Random) -> dict[str, Callable[[], int]]:
    log_n = math.log(keys)
    rand = rng.random
    randrange = rng.randrange
    return {
        "uniform": lambda: randrange(keys),
        "zipf": lambda: (int(math.exp(rand() * log_n)) * 48271) % PRIME % keys,
        "all hot": lambda: randrange(hot),
    }


def chart(
    series: dict[str, list[tuple[float, float, float]]], budget_mb: float, path: str, title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    for engine, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], label="%s RSS" % engine)
        ax.plot(
            [p[0] for p in points],
            [p[2] for p in points],
            "--",
            label="%s private (RssAnon)" % engine,
        )
    ax.axhline(budget_mb, color="grey", linewidth=0.8, label="cache budget")
    ax.set_xlabel("seconds")
    ax.set_ylabel("MB")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def parse_size(text: str) -> int:
    text = text.lower()
    for suffix, mult in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * mult
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/bench/big_data.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--value", type=int, default=128, help="value bytes")
    parser.add_argument("--maxmemory", default="64mb", help="the cache budget")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument(
        "--hot-keys",
        type=int,
        default=100_000,
        help="keys of the all-hot phase (they must fit in the budget)",
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--chart", help="plot resident memory over the run to this PNG")
    parser.add_argument("--keep", help="fill into DIR/<engine> and keep it (reused if it exists)")
    args = parser.parse_args(argv)
    budget = parse_size(args.maxmemory)
    title = "%d keys x %d B, maxmemory %s, %d clients, GET, %g s per phase" % (
        args.keys,
        args.value,
        args.maxmemory,
        args.clients,
        args.seconds,
    )
    print("# " + title)
    print(
        "%-8s %-8s %10s %9s %10s %12s"
        % ("engine", "phase", "GET/s", "hit rate", "RSS MB", "private MB")
    )
    series: dict[str, list[tuple[float, float, float]]] = {}
    for engine in args.engines.split(","):
        if args.keep:
            folder = os.path.join(args.keep, engine)
            fresh = not os.path.isdir(folder)
        else:
            folder, fresh = tempfile.mkdtemp(prefix="big-data-%s-" % engine), True
        try:
            if fresh:
                os.makedirs(folder, exist_ok=True)
                fill(engine, folder, args.keys, args.value, expire_every=0)
            port = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "diskredis",
                    "--port",
                    str(port),
                    "--dir",
                    folder,
                    "--engine",
                    engine,
                    "--maxmemory",
                    str(budget),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_ping(port, proc, "diskredis")
                load = Load(port, args.clients)
                samples = series.setdefault(engine, [])
                t0 = time.monotonic()
                for phase, pick in pickers(args.keys, args.hot_keys, random.Random(1)).items():
                    print("\r  %s: %s ..." % (engine, phase), end="", file=sys.stderr, flush=True)
                    load.run(args.seconds / 4, pick, samples, proc.pid, t0)  # warm-up
                    before = info_storage(port)
                    done = load.run(args.seconds, pick, samples, proc.pid, t0)
                    after = info_storage(port)
                    hits = int(after["cache_hits"]) - int(before["cache_hits"])
                    misses = int(after["cache_misses"]) - int(before["cache_misses"])
                    total, private = rss(proc.pid)
                    print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
                    print(
                        "%-8s %-8s %10.0f %8.1f%% %10.1f %12.1f"
                        % (
                            engine,
                            phase,
                            done / args.seconds,
                            100.0 * hits / max(1, hits + misses),
                            total,
                            private,
                        ),
                        flush=True,
                    )
                load.close()
            finally:
                proc.terminate()
                proc.wait(60)
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    if args.chart:
        chart(series, budget / (1 << 20), args.chart, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
