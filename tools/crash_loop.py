"""Kill diskredis again and again under mixed writers; check what survives each time.

Each cycle starts writers of every kind (plain SET/INCR, pipelines, MULTI/EXEC, Lua
scripts, list pushes, stream XADD, a consumer group reading and acknowledging; see
tests/crash_writers.py), waits for them to get writes acknowledged, SIGKILLs the server
at a random moment after that, restarts it on the same data, and checks that every
acknowledged write is there and every transaction and script applied entirely or not
at all. After each kill (or every N: --check-every) `diskredis-check` runs on the folder
as the kill left it, before the restart.
With `--load`, redis-benchmark also writes at `-P 16` from 20 clients during each cycle
(SET, LPUSH and ZADD of random keys), so that kills land while the engine is busy: on
LMDB, with checkpoints running on their own thread. Its writes are not checked; they
make the moments the checked writers' acknowledgements meet.
It prints one line per cycle and a summary per engine and appendfsync mode.

    python tools/crash_loop.py --cycles 50 --engines lmdb,leveldb --fsync always,everysec
    python tools/crash_loop.py --cycles 20 --engines lmdb --load
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import crash_writers as W  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, folder: Path, engine: str, fsync: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diskredis",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--engine",
            engine,
            "--appendfsync",
            fsync,
            "--logfile",
            str(folder / "server.log"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=5)
    for _ in range(600):
        try:
            if client.ping():
                return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start (see %s)" % (folder / "server.log"))


def _check(folder: Path) -> tuple[bool, str]:
    out = subprocess.run(
        [sys.executable, "-m", "diskredis.check", str(folder), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.returncode == 0, (out.stdout + out.stderr).strip().splitlines()[-1]


def _load(port: int) -> subprocess.Popen[bytes]:
    """redis-benchmark writing at -P 16 until it is killed (see the docstring)."""
    if shutil.which("redis-benchmark") is None:
        raise SystemExit(
            "crash_loop: --load needs redis-benchmark (apt-get install -y redis-tools)"
        )
    return subprocess.Popen(
        [
            "redis-benchmark",
            "-p",
            str(port),
            "-t",
            "set,lpush,zadd",
            "-n",
            "100000000",
            "-c",
            "20",
            "-P",
            "16",
            "-r",
            "1000000",
            "-d",
            "100",
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run(
    engine: str, fsync: str, cycles: int, check_every: int, rng: random.Random, load: bool = False
) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="crash-loop-"))
    port = _free_port()
    proc = _start(port, folder, engine, fsync)
    loops: list[W.Loop] = []
    healthy = True
    acknowledged = 0
    try:
        for cycle in range(cycles):
            started = time.monotonic()
            background = _load(port) if load else None
            mine = W.start(lambda: redis.Redis(port=port, socket_timeout=30), cycle)
            for loop in mine[:-1]:
                loop.progress.wait(120)
            time.sleep(rng.uniform(0, 2.0 if load else 0.5))  # then a random moment
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            if background is not None:
                background.kill()
                background.wait(30)
            for loop in mine:
                loop.join(60)
            loops += mine
            acknowledged += sum(len(loop.acked) for loop in mine)
            checked = ""
            if check_every and (cycle + 1) % check_every == 0:
                ok, said = _check(folder)  # the folder as the kill left it
                checked = "; diskredis-check: %s" % said
                healthy = healthy and ok
            proc = _start(port, folder, engine, fsync)
            problems = W.verify(redis.Redis(port=port, socket_timeout=30), loops)
            line = (
                "%-7s %-8s cycle %2d/%d: %6d requests acknowledged so far, %s (%.1f s)"
                % (
                    engine,
                    fsync,
                    cycle + 1,
                    cycles,
                    acknowledged,
                    "nothing lost" if not problems else "PROBLEMS: %s" % problems[:3],
                    time.monotonic() - started,
                )
                + checked
            )
            healthy = healthy and not problems
            print(line, flush=True)
    finally:
        proc.kill()
        proc.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
    print(
        "%-7s %-8s %d cycles, %d acknowledged requests checked: %s"
        % (engine, fsync, cycles, acknowledged, "no loss" if healthy else "FAILED"),
        flush=True,
    )
    return healthy


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=50, help="kills per run (default 50)")
    parser.add_argument("--engines", default="lmdb,leveldb")
    parser.add_argument("--fsync", default="always,everysec", help="appendfsync modes")
    parser.add_argument(
        "--check-every",
        type=int,
        default=1,
        help="run diskredis-check after every N-th kill (0: never; default 1, every kill)",
    )
    parser.add_argument("--seed", type=int, default=None, help="for the kill moments")
    parser.add_argument(
        "--load",
        action="store_true",
        help="redis-benchmark writes at -P 16 beside the checked writers",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    ok = True
    for engine in args.engines.split(","):
        for fsync in args.fsync.split(","):
            ok = run(engine, fsync, args.cycles, args.check_every, rng, args.load) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
