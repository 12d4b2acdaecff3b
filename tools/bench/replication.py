"""Replication throughput beside Redis -> Redis, in one run: full-sync time and the
rate at which a primary's writes reach its replica.

Usage: python tools/bench/replication.py [--keys 1000000] [--writes 200000]
                                         [--engines lmdb,leveldb] [--pipeline 16]

Pairs, each started fresh: redis-server -> redis-server (the reference), diskredis ->
redis-server (diskredis as the primary) and redis-server -> diskredis (as the replica),
for each engine. For each pair:

- **full sync**: the primary holds `--keys` strings of 100 bytes (DEBUG POPULATE); the
  replica is told REPLICAOF; the time until its link is up with every key loaded;
- **stream**: redis-benchmark sends `--writes` SETs (50 clients, `--pipeline`) to the
  primary; writes/s reaching the replica = writes / the time from the first one until
  the replica's offset equals the primary's (and the primary's own rate beside it).

Servers run with their defaults (diskredis: appendfsync always, each batch fsynced;
redis-server: no persistence, `--save ""`), which the table says. Prints a markdown
table with ratios to Redis -> Redis.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

from run import free_port, wait_ping  # noqa: E402

from diskredis.engines import ENGINES  # noqa: E402


def _cli(port: int, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _info(port: int) -> dict[str, str]:
    out = {}
    for line in _cli(port, "INFO", "replication").splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            out[k] = v
    return out


def _wait(what: str, predicate: object, timeout: float = 3600) -> float:
    """Poll `predicate` every 20 ms; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return time.monotonic()
        time.sleep(0.02)
    raise SystemExit("timed out waiting for %s" % what)


@dataclass
class Server:
    kind: str  # "redis" or an engine name
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def label(self) -> str:
        return "redis-server" if self.kind == "redis" else "diskredis (%s)" % self.kind

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(kind: str, work: str) -> Server:
    port = free_port()
    d = tempfile.mkdtemp(prefix="%s-" % kind, dir=work)
    log = os.path.join(d, "log")
    if kind == "redis":
        args = ["redis-server", "--save", "", "--appendonly", "no"]
        args += ["--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"]
    else:
        args = [sys.executable, "-m", "diskredis", "--engine", kind]
        args += ["--enable-debug-command", "yes"]
    args += ["--port", str(port), "--dir", d, "--logfile", log]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(kind, port, proc)
    try:
        wait_ping(port, proc, kind)
    except SystemExit:
        server.stop()
        raise
    return server


def _caught_up(primary: Server, replica: Server) -> bool:
    offset = int(_info(primary.port)["master_repl_offset"])
    info = _info(replica.port)
    return info.get("master_link_status") == "up" and int(info["slave_repl_offset"]) >= offset


def run_pair(
    primary_kind: str, replica_kind: str, work: str, keys: int, writes: int, pipeline: int
) -> tuple[str, float, float, float]:
    """(label, full-sync seconds, writes/s reaching the replica, primary writes/s)."""
    primary = start(primary_kind, work)
    replica = start(replica_kind, work)
    try:
        _cli(primary.port, "DEBUG", "POPULATE", str(keys), "key", "100")
        began = time.monotonic()
        _cli(replica.port, "REPLICAOF", "127.0.0.1", str(primary.port))
        synced = _wait(
            "the full sync",
            lambda: (
                _info(replica.port).get("master_link_status") == "up"
                and int(_cli(replica.port, "DBSIZE")) >= keys
            ),
        )
        full = synced - began
        began = time.monotonic()
        subprocess.run(
            [
                "redis-benchmark",
                "-p",
                str(primary.port),
                "-t",
                "set",
                "-n",
                str(writes),
                "-c",
                "50",
                "-P",
                str(pipeline),
                "-r",
                "1000000",
                "-q",
            ],
            capture_output=True,
            check=True,
        )
        written = time.monotonic()
        reached = _wait("the replica to catch up", lambda: _caught_up(primary, replica))
        label = "%s -> %s" % (primary.label, replica.label)
        return label, full, writes / (reached - began), writes / (written - began)
    finally:
        replica.stop()
        primary.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys for the full sync")
    parser.add_argument("--writes", type=int, default=200_000, help="SETs for the stream")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--pipeline", type=int, default=16, help="redis-benchmark -P")
    args = parser.parse_args(argv)
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if shutil.which(tool) is None:
            raise SystemExit("%s is missing: install Debian's redis-server and redis-tools" % tool)
    work = tempfile.mkdtemp(prefix="bench-replication-")
    try:
        pairs = [("redis", "redis")]
        for engine in args.engines.split(","):
            pairs += [(engine, "redis"), ("redis", engine)]
        rows = []
        for primary_kind, replica_kind in pairs:
            print("running %s -> %s ..." % (primary_kind, replica_kind), file=sys.stderr)
            rows.append(
                run_pair(primary_kind, replica_kind, work, args.keys, args.writes, args.pipeline)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _, ref_full, ref_rate, _ = rows[0]
    print(
        "%d keys of 100 bytes for the full sync; %d SETs, 50 clients, -P %d for the stream "
        "(diskredis: appendfsync always; redis-server: no persistence)"
        % (args.keys, args.writes, args.pipeline)
    )
    print()
    print(
        "| primary -> replica | full sync s | ratio | writes/s reaching the replica | ratio "
        "| primary's writes/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, full, rate, own in rows:
        print(
            "| %s | %.2f | %.2f | %.0f | %.2f | %.0f |"
            % (label, full, ref_full / full, rate, rate / ref_rate, own)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
