"""Restore throughput: an RDB file of N keys saved by redis-server, loaded by redis-server
itself and by diskredis-restore into a data folder of each engine.

Usage: python tools/bench/restore.py [--keys 1000000] [--engines lmdb,leveldb]
                                     [--value-size 100] [--keep DIR]

redis-server fills itself with DEBUG POPULATE (N strings of `--value-size` bytes) plus
a few large collections, SAVEs, and the file is then: loaded by a fresh redis-server
(seconds from start to answering PING, and the load time it logs), and restored offline
by `diskredis-restore --dir` for each engine (wall time of the whole tool, which reads
the file twice: once to check it, once to load it). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from diskredis.engines import ENGINES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(port: int, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True
        ).stdout
        if out.strip() == "PONG":
            return
        time.sleep(0.01)
    raise SystemExit("redis-server did not become ready")


def make_rdb(work: str, keys: int, size: int) -> str:
    d = os.path.join(work, "source")
    os.makedirs(d)
    port = _port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--dir",
            d,
            "--save",
            "",
            "--enable-debug-command",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        _ready(port, time.monotonic() + 30)
        _cli(port, "DEBUG", "POPULATE", str(keys), "key", str(size))
        for i in range(10):  # a few large collections beside the strings
            script = (
                "for i=1,10000 do redis.call('HSET', KEYS[1], 'f'..i, i) "
                "redis.call('RPUSH', KEYS[2], i) redis.call('ZADD', KEYS[3], i, 'm'..i) "
                "redis.call('SADD', KEYS[4], 'm'..i) end"
            )
            _cli(port, "EVAL", script, "4", "h%d" % i, "l%d" % i, "z%d" % i, "s%d" % i)
        _cli(port, "SAVE")
    finally:
        proc.terminate()
        proc.wait()
    return os.path.join(d, "dump.rdb")


def redis_load(work: str, rdb: str) -> tuple[float, float]:
    d = os.path.join(work, "redis-load")
    os.makedirs(d)
    shutil.copy(rdb, os.path.join(d, "dump.rdb"))
    port = _port()
    log = os.path.join(d, "log")
    start = time.monotonic()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--dir", d, "--save", "", "--logfile", log]
    )
    try:
        _ready(port, start + 600)
        wall = time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait()
    with open(log) as f:
        logged = re.search(r"DB loaded from disk: ([0-9.]+) seconds", f.read())
    return wall, float(logged.group(1)) if logged else float("nan")


def diskredis_restore(work: str, rdb: str, engine: str) -> tuple[float, str]:
    folder = os.path.join(work, "diskredis-" + engine)
    start = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "diskredis.transfer.restore",
            rdb,
            "--dir",
            folder,
            "--engine",
            engine,
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    took = time.monotonic() - start
    if out.returncode != 0:
        raise SystemExit("diskredis-restore failed:\n" + out.stdout + out.stderr)
    return took, out.stdout.strip().splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--keep", help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="bench-restore-")
    os.makedirs(work, exist_ok=True)
    try:
        rdb = make_rdb(work, args.keys, args.value_size)
        mb = os.path.getsize(rdb) / 1e6
        total = args.keys + 40
        print(
            "RDB file: %d keys (%d strings of %d bytes, 40 collections of 10,000), %.1f MB"
            % (total, args.keys, args.value_size, mb)
        )
        wall, logged = redis_load(work, rdb)
        rows = [
            ("redis-server 7.0 (load at start-up)", wall, "its log: DB loaded in %.2f s" % logged)
        ]
        for engine in args.engines.split(","):
            took, summary = diskredis_restore(work, rdb, engine)
            rows.append(("diskredis-restore --dir (%s)" % engine, took, summary))
        print()
        print("| loader | seconds | keys/s | MB/s | ratio to redis-server | notes |")
        print("|---|---:|---:|---:|---:|---|")
        for name, took, note in rows:
            print(
                "| %s | %.2f | %.0f | %.1f | %.3f | %s |"
                % (name, took, total / took, mb / took, wall / took, note)
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
