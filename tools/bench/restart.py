"""Restart time against data size: fill a data folder offline, then time start-up to
DBSIZE; the same for redis-server loading its RDB file.

Usage: python tools/bench/restart.py [--keys 1000000,5000000,10000000]
                                     [--engines lmdb,leveldb,redis] [--repeat 3]

Each data set is written straight through the keyspace (no server), with 100-byte
values and one key in ten carrying an expiry; then diskredis is started on it
`--repeat` times and the seconds until it answers DBSIZE are reported (the best and the
worst run). A restart reads no data up front, so the time should not grow with size.
For `redis`, redis-server makes the same data set (DEBUG POPULATE with 100-byte values,
an expiry on one key in ten), saves it (`SAVE`, dump.rdb) and is restarted on it: it
answers -LOADING until the whole file is in memory, so its time is its load time.
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

from diskredis.engines import ENGINES  # noqa: E402
from diskredis.keyspace import layout as L  # noqa: E402
from diskredis.keyspace.space import Keyspace, now_ms  # noqa: E402
from diskredis.storage import open_engine  # noqa: E402

BATCH = 50_000


def fill(
    engine_name: str, path: str, keys: int, value_size: int = 100, expire_every: int = 10
) -> None:
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
        print(
            "\r  filling %s: %d/%d keys" % (engine_name, done, keys),
            end="",
            file=sys.stderr,
            flush=True,
        )
    print(file=sys.stderr)
    engine.sync()
    engine.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _time_to_dbsize(proc: subprocess.Popen[bytes], port: int, t0: float, name: str) -> float:
    """Seconds from `t0` until the server on `port` answers DBSIZE (not -LOADING); then
    the server is stopped."""
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit("restart: %s exited (code %s)" % (name, proc.returncode))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                    while True:
                        s.sendall(b"DBSIZE\r\n")
                        reply = s.recv(100)
                        if reply.startswith(b":"):
                            return time.monotonic() - t0
                        if not reply.startswith(b"-LOADING"):
                            raise SystemExit("restart: %s said %r" % (name, reply))
                        time.sleep(0.005)
            except ConnectionRefusedError:
                time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(60)


def time_start(engine_name: str, path: str) -> float:
    port = free_port()
    t0 = time.monotonic()
    # As an installed server starts: from compiled bytecode (an environment that says
    # PYTHONDONTWRITEBYTECODE would compile every module at every start, ~0.6 s here).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diskredis",
            "--port",
            str(port),
            "--dir",
            path,
            "--engine",
            engine_name,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return _time_to_dbsize(proc, port, t0, "the server")


def _redis(port: int, *args: str) -> str:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=3600
    )
    return out.stdout.strip()


def start_redis(path: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--dir",
            path,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dbfilename",
            "dump.rdb",
            "--enable-debug-command",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def time_redis(path: str) -> float:
    """Seconds from starting redis-server on `path`'s dump.rdb to its first DBSIZE reply
    (it answers -LOADING until the file is loaded)."""
    port = free_port()
    t0 = time.monotonic()
    return _time_to_dbsize(start_redis(path, port), port, t0, "redis-server")


def fill_redis(path: str, keys: int) -> None:
    """The data set of `fill` in a dump.rdb made by redis-server itself."""
    port = free_port()
    proc = start_redis(path, port)
    try:
        deadline = time.monotonic() + 30
        while _redis(port, "PING") != "PONG":
            if time.monotonic() > deadline:
                raise SystemExit("restart: redis-server did not start")
            time.sleep(0.05)
        _redis(port, "DEBUG", "POPULATE", str(keys), "key", "100")
        _redis(
            port,
            "EVAL",
            "for i = 0, tonumber(ARGV[1]) - 1, 10 do "
            "redis.call('PEXPIRE', 'key:' .. i, 315360000000) end",
            "0",
            str(keys),
        )
        if _redis(port, "DBSIZE") != str(keys) or _redis(port, "SAVE") != "OK":
            raise SystemExit("restart: redis-server did not build the data set")
    finally:
        proc.terminate()
        proc.wait(600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--keys", default="1000000,5000000,10000000", help="data set sizes, comma-separated"
    )
    parser.add_argument(
        "--engines",
        default=",".join((*ENGINES, "redis")),
        help="diskredis engines, and redis for redis-server's RDB load",
    )
    parser.add_argument("--repeat", type=int, default=3, help="starts per data set")
    args = parser.parse_args(argv)
    print("%-8s %10s %10s %12s %12s" % ("engine", "keys", "disk MB", "best s", "worst s"))
    for engine_name in args.engines.split(","):
        if engine_name == "redis":
            for n in (int(k) for k in args.keys.split(",")):
                path = tempfile.mkdtemp(prefix="restart-redis-")
                try:
                    fill_redis(path, n)
                    size = os.path.getsize(os.path.join(path, "dump.rdb")) / 1e6
                    times = [time_redis(path) for _ in range(args.repeat)]
                    print(
                        "%-8s %10d %10.1f %12.3f %12.3f"
                        % ("redis", n, size, min(times), max(times)),
                        flush=True,
                    )
                finally:
                    shutil.rmtree(path, ignore_errors=True)
            continue
        empty = tempfile.mkdtemp(prefix="restart-empty-")
        times = [time_start(engine_name, empty) for _ in range(args.repeat)]
        print(
            "%-8s %10d %10.1f %12.3f %12.3f" % (engine_name, 0, 0, min(times), max(times)),
            flush=True,
        )
        shutil.rmtree(empty, ignore_errors=True)
        for n in (int(k) for k in args.keys.split(",")):
            path = tempfile.mkdtemp(prefix="restart-%s-" % engine_name)
            try:
                fill(engine_name, path, n)
                size = (
                    sum(
                        os.path.getsize(os.path.join(d, f))
                        for d, _, fs in os.walk(path)
                        for f in fs
                    )
                    / 1e6
                )
                times = [time_start(engine_name, path) for _ in range(args.repeat)]
                print(
                    "%-8s %10d %10.1f %12.3f %12.3f"
                    % (engine_name, n, size, min(times), max(times)),
                    flush=True,
                )
            finally:
                shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
