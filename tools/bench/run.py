"""Run redis-benchmark against redis-server and diskredis side by side; print ratios.

Usage: ./dev bench [--tests ping_inline,ping_mbulk,set,get] [-n 100000] [-c 50] [-P 1]
                   [--engine lmdb|leveldb] [--appendfsync always|everysec|no]

Both servers run on ephemeral ports in temporary folders, redis-server with
`appendfsync` matching diskredis's (AOF on, so "always" means the same promise
on both sides). The report gives requests per second for each and the ratio
diskredis / redis.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ping(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit("bench: %s exited during start-up (code %s)" % (what, proc.returncode))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.05)
    raise SystemExit("bench: %s did not answer PING on port %d" % (what, port))


@contextlib.contextmanager
def server(kind: str, args: argparse.Namespace) -> Iterator[int]:
    port = free_port()
    folder = tempfile.mkdtemp(prefix="bench-%s-" % kind)
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--dir", folder, "--save", "",
               "--appendonly", "yes", "--appendfsync", args.appendfsync]
    else:
        cmd = [sys.executable, "-m", "diskredis", "--port", str(port), "--dir", folder,
               "--engine", args.engine, "--appendfsync", args.appendfsync]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        wait_ping(port, proc, kind)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def run_benchmark(port: int, args: argparse.Namespace) -> dict[str, float]:
    cmd = ["redis-benchmark", "-p", str(port), "-t", args.tests, "-n", str(args.n),
           "-c", str(args.c), "-P", str(args.P), "-r", "100000", "--csv"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return {row[0]: float(row[1]) for row in rows[1:] if len(row) > 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", default="ping_inline,ping_mbulk",
                        help="redis-benchmark -t list (default: %(default)s)")
    parser.add_argument("-n", type=int, default=100000, help="requests per test")
    parser.add_argument("-c", type=int, default=50, help="parallel connections")
    parser.add_argument("-P", type=int, default=1, help="pipeline depth")
    parser.add_argument("--engine", default="lmdb", choices=["lmdb", "leveldb"])
    parser.add_argument("--appendfsync", default="always", choices=["always", "everysec", "no"])
    args = parser.parse_args(argv)
    if shutil.which("redis-benchmark") is None:
        raise SystemExit("bench: redis-benchmark not found; install Debian's redis-tools")
    results = {}
    for kind in ("redis", "diskredis"):
        print("bench: %s ..." % kind, file=sys.stderr, flush=True)
        with server(kind, args) as port:
            results[kind] = run_benchmark(port, args)
    print("# redis-benchmark -t %s -n %d -c %d -P %d; engine %s; appendfsync %s"
          % (args.tests, args.n, args.c, args.P, args.engine, args.appendfsync))
    print("%-14s %14s %14s %8s" % ("test", "redis rps", "diskredis rps", "ratio"))
    for test, ref in results["redis"].items():
        mine = results["diskredis"].get(test, 0.0)
        print("%-14s %14.0f %14.0f %8.2f" % (test, ref, mine, mine / ref if ref else 0.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
