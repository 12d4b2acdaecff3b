"""Restart time against data size: fill a data folder offline, then time start-up to PING.

Usage: python tools/bench/restart.py [--keys 1000000,5000000] [--engines lmdb,leveldb]
                                     [--repeat 3] [--keep DIR]

Each data set is written straight through the keyspace (no server), with 100-byte
values and one key in ten carrying an expiry; then diskredis is started on it
`--repeat` times and the seconds until it answers PING are reported (the best and the
worst run). A restart reads no data up front, so the time should not grow with size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from diskredis.keyspace import layout as L  # noqa: E402
from diskredis.keyspace.space import Keyspace, now_ms  # noqa: E402
from diskredis.storage import open_engine  # noqa: E402

BATCH = 50_000


def fill(engine_name: str, path: str, keys: int, value_size: int = 100,
         expire_every: int = 10) -> None:
    """Write `keys` keys `key:%010d` of `value_size` bytes into a new data folder, one
    in `expire_every` (0: none) with an expiry ten years ahead."""
    engine = open_engine(engine_name, path, fsync=False)
    ks = Keyspace(engine, 16, cache_bytes=1 << 20)
    value = b"v" * value_size
    far = now_ms() + 10 * 365 * 86400 * 1000
    done = 0
    while done < keys:
        ks.begin(BATCH * (value_size + 20))
        for i in range(done, min(done + BATCH, keys)):
            due = far if expire_every and i % expire_every == 0 else 0
            ks.store(0, b"key:%010d" % i, L.Meta(L.STRING, due, value))
        ks.commit()
        done = min(done + BATCH, keys)
        print("\r  filling %s: %d/%d keys" % (engine_name, done, keys), end="", file=sys.stderr,
              flush=True)
    print(file=sys.stderr)
    engine.sync()
    engine.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_start(engine_name: str, path: str) -> float:
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "diskredis", "--port", str(port), "--dir",
                             path, "--engine", engine_name], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit("restart: the server exited (code %s)" % proc.returncode)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"DBSIZE\r\n")
                    reply = s.recv(100)
                    if reply.startswith(b":"):
                        return time.monotonic() - t0
            except OSError:
                time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", default="1000000,5000000")
    parser.add_argument("--engines", default="lmdb,leveldb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print("%-8s %10s %10s %12s %12s" % ("engine", "keys", "disk MB", "best s", "worst s"))
    for engine_name in args.engines.split(","):
        empty = tempfile.mkdtemp(prefix="restart-empty-")
        times = [time_start(engine_name, empty) for _ in range(args.repeat)]
        print("%-8s %10d %10.1f %12.3f %12.3f" % (engine_name, 0, 0, min(times), max(times)),
              flush=True)
        shutil.rmtree(empty, ignore_errors=True)
        for n in (int(k) for k in args.keys.split(",")):
            path = tempfile.mkdtemp(prefix="restart-%s-" % engine_name)
            try:
                fill(engine_name, path, n)
                size = sum(os.path.getsize(os.path.join(d, f))
                           for d, _, fs in os.walk(path) for f in fs) / 1e6
                times = [time_start(engine_name, path) for _ in range(args.repeat)]
                print("%-8s %10d %10.1f %12.3f %12.3f"
                      % (engine_name, n, size, min(times), max(times)), flush=True)
            finally:
                shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
