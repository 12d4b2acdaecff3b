"""Kill the server under a job-queue library's worker, on redis-server and on diskredis.

Runs the crash scenario of tests/test_queues.py (tests/queue_apps/harness.py): enqueue
1,000 jobs, start the library's worker, SIGKILL the server once a third of the jobs ran,
restart it on the same data, and count the jobs that never ran and the ones that ran
twice. redis-server runs with `appendonly yes` and `appendfsync always`, diskredis with
its defaults, so both acknowledge a write only once it is on disk. The libraries are
installed in `.venv-queues/` on first use.

    python tools/queue_crash.py --library celery --runs 6
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.queue_apps.harness import WORKERS, crash_run  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server on port %d never answered" % port)


class _Process:
    """A server process on a fixed port and folder, killed with SIGKILL and restarted."""

    def __init__(self, kind: str, engine: str, folder: Path) -> None:
        self.kind, self.engine, self.folder = kind, engine, folder
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.restart()

    def restart(self) -> None:
        if self.kind == "redis":
            argv = [
                "redis-server",
                "--port",
                str(self.port),
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ]
        else:
            argv = [
                sys.executable,
                "-m",
                "diskredis",
                "--port",
                str(self.port),
                "--dir",
                str(self.folder),
                "--engine",
                self.engine,
            ]
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait(self.port)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--library", choices=sorted(WORKERS), default="celery")
    parser.add_argument("--runs", type=int, default=6, help="runs per server (default 6)")
    parser.add_argument("--server", choices=["redis", "diskredis", "both"], default="both")
    parser.add_argument(
        "--engine",
        choices=["lmdb", "leveldb"],
        default="lmdb",
        help="diskredis's engine (default lmdb)",
    )
    args = parser.parse_args(argv)
    kinds = ["redis", "diskredis"] if args.server == "both" else [args.server]
    for kind in kinds:
        lost = repeated = 0
        for i in range(args.runs):
            folder = Path(tempfile.mkdtemp(prefix="queue-crash-"))
            server = _Process(kind, args.engine, folder)
            try:
                out = crash_run(args.library, server, folder)
            finally:
                server.kill()
                shutil.rmtree(folder, ignore_errors=True)
            lost += len(out.missing)
            repeated += out.repeated
            print("%-9s run %d/%d: %s" % (kind, i + 1, args.runs, out.summary()), flush=True)
        print(
            "%-9s %s: %d runs, %d jobs never ran, %d jobs ran twice or more"
            % (kind, args.library, args.runs, lost, repeated),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
