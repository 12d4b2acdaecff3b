"""Deleting big collections and expiring many keys: how long DEL takes, how long an idle
client's PINGs wait meanwhile, and how long reclamation runs, redis-server and diskredis
side by side.

Usage: python tools/bench/big_delete.py [-n 1000000] [--types hash,list,set,zset,expire]
                                        [--engines lmdb,leveldb]

For each server (redis-server with its defaults, then each diskredis engine), and each
type, a collection of `-n` elements is built with pipelined multi-element commands;
then one client sends DEL while another sends PINGs back to back. Reported: the DEL's
own time, the p99 and the worst PING round trip from the DEL until the space is
reclaimed (for diskredis, until INFO storage gc_pending_jobs is 0; redis-server frees
inside DEL), and that reclamation time.

Type `expire` is active expiry instead: `-n` string keys are written (by scripts, 10 000
keys each) with one PXAT a few seconds after the writes should end (timed on a first
chunk); from that moment the PINGs are timed until
INFO stats expired_keys has grown by `-n` (nobody reads the keys: the server's active
expiry finds them all), and "DEL ms" is left empty.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import server

from diskredis.engines import ENGINES

CHUNK = 2_000


class Conn:
    """A bare RESP client: enough for these commands, with no library in the timing."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, *args: bytes) -> None:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def reply(self) -> bytes:
        line = self.file.readline()
        if line[:1] == b"$" and line[1:3] != b"-1":
            return self.file.read(int(line[1:]) + 2)[:-2]
        if line[:1] == b"*":
            return b" ".join(self.reply() for _ in range(int(line[1:])))
        return line[:-2]

    def call(self, *args: bytes) -> bytes:
        self.send(*args)
        return self.reply()


def fill(conn: Conn, kind: str, key: bytes, n: int) -> None:
    sent = 0
    for start in range(0, n, CHUNK):
        ids = range(start, min(start + CHUNK, n))
        if kind == "hash":
            args = [b"HSET", key] + [x for i in ids for x in (b"f%07d" % i, b"v")]
        elif kind == "list":
            args = [b"RPUSH", key] + [b"%d" % i for i in ids]
        elif kind == "set":
            args = [b"SADD", key] + [b"m%07d" % i for i in ids]
        else:
            args = [b"ZADD", key] + [x for i in ids for x in (b"%d" % i, b"m%07d" % i)]
        conn.send(*args)
        sent += 1
        if sent == 20:
            for _ in range(sent):
                conn.reply()
            sent = 0
            print(
                "\r    filling %-4s %7d/%d" % (kind, ids[-1] + 1, n),
                end="",
                file=sys.stderr,
                flush=True,
            )
    for _ in range(sent):
        conn.reply()
    print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


def info_field(conn: Conn, section: bytes, name: str) -> int:
    for line in conn.call(b"INFO", section).decode().splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":")[1])
    return 0


def gc_pending(conn: Conn) -> int:
    return info_field(conn, b"storage", "gc_pending_jobs")  # redis-server: 0, frees at once


FILL_EXPIRING = (
    b"for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
    b"redis.call('SET', 'exp:' .. i, 'v', 'PXAT', ARGV[3]) end return 1"
)


def fill_expiring(conn: Conn, n: int) -> float:
    """Write n keys that all expire at one moment a little after the writes; return it.
    A first chunk of keys expiring a day later times the writes to plan that moment."""
    step = 10_000
    t0 = time.time()  # a first chunk, without expiry, tells how fast the writes go
    conn.call(
        b"EVAL",
        FILL_EXPIRING,
        b"0",
        b"%d" % n,
        b"%d" % (n + step - 1),
        b"%d" % int((t0 + 86400) * 1000),
    )
    at = time.time() + 5 + 1.5 * (time.time() - t0) * n / step
    for start in range(0, n, step):
        end = min(start + step, n) - 1
        reply = conn.call(
            b"EVAL", FILL_EXPIRING, b"0", b"%d" % start, b"%d" % end, b"%d" % int(at * 1000)
        )
        assert reply == b":1", reply
        print("\r    filling expire %7d/%d" % (end + 1, n), end="", file=sys.stderr, flush=True)
    print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
    if time.time() >= at:
        raise SystemExit(
            "big_delete: writing %d keys took longer than planned; keys expired "
            "during the writes (use a smaller -n)" % n
        )
    return at


def measure(port: int, kind: str, n: int) -> tuple[float, float, float, float]:
    """(DEL ms, p99 and worst PING ms from the DEL to the end of reclamation,
    reclamation s)."""
    conn, pinger = Conn(port), Conn(port)
    key = b"big:" + kind.encode()
    conn.call(b"DEL", key)
    if kind == "expire":
        expired_before = info_field(conn, b"stats", "expired_keys")
        at = fill_expiring(conn, n)
    else:
        fill(conn, kind, key, n)
    samples: list[float] = []
    stop = threading.Event()
    started = threading.Event()

    def ping() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            pinger.call(b"PING")
            samples.append(time.perf_counter() - t)
            started.set()

    thread = threading.Thread(target=ping, daemon=True)
    thread.start()
    started.wait()
    if kind == "expire":
        time.sleep(max(0.0, at - time.time()))
        samples.clear()
        t0 = t1 = time.perf_counter()
        while info_field(conn, b"stats", "expired_keys") - expired_before < n:
            time.sleep(0.01)
    else:
        samples.clear()
        t0 = time.perf_counter()
        assert conn.call(b"DEL", key) == b":1"
        t1 = time.perf_counter()
        while gc_pending(conn):
            pass
    t2 = time.perf_counter()
    stop.set()
    thread.join()
    ordered = sorted(samples) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    del_ms = float("nan") if kind == "expire" else (t1 - t0) * 1000
    return del_ms, p99 * 1000, ordered[-1] * 1000, t2 - t1


def server_runs(engines: str) -> list[tuple[str, str, str]]:
    """(label, kind, engine) of redis-server, then of each diskredis engine in `engines`
    (a comma-separated list)."""
    return [("redis-server", "redis", "")] + [
        ("diskredis " + e, "diskredis", e) for e in engines.split(",")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/bench/big_delete.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", type=int, default=1_000_000, help="elements per collection")
    parser.add_argument("--types", default="hash,list,set,zset,expire")
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        raise SystemExit("big_delete: redis-server not found; install Debian's redis-server")
    print(
        "# %d elements per collection (or expiring keys); DEL from one client, PINGs from "
        "another" % args.n
    )
    print(
        "%-20s %-6s %8s %12s %14s %14s"
        % ("server", "type", "DEL ms", "p99 PING ms", "worst PING ms", "reclaimed in s")
    )
    for label, kind, engine in server_runs(args.engines):
        with server(kind, "always" if kind == "diskredis" else "everysec", engine, args) as port:
            for t in args.types.split(","):
                del_ms, p99_ms, worst_ms, reclaim_s = measure(port, t, args.n)
                print(
                    "%-20s %-6s %8s %12.1f %14.1f %14.2f"
                    % (
                        label,
                        t,
                        "-" if del_ms != del_ms else "%.1f" % del_ms,
                        p99_ms,
                        worst_ms,
                        reclaim_s,
                    ),
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
