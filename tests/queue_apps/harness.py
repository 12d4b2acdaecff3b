"""The crash scenario of tests/test_queues.py and tools/queue_crash.py: a library's
worker draining 1,000 jobs while its server is killed and restarted.

Room: orchestration with the standard library only (the test and the tool import it
from the project's environment; the libraries live in `.venv-queues/`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[2]
JOBS = 1000
WORKER_THREADS = 2  # huey's consumer threads
# Libraries whose BRPOP leaves a job only in the worker's memory, and how many such pops
# can be in flight (one per consuming connection).
IN_FLIGHT_POPS = {"huey": WORKER_THREADS, "celery": 1}
# How long a run may take at most before it gives up (a liveness bound, not a speed
# check: runs take a few seconds to a few tens).
PATIENCE = 240.0
# Seconds without progress before giving up (or running a library's recovery): longer than each
# library's own redelivery timer (arq: job timeout + 10 s; Celery: the visibility timeout;
# Dramatiq: the heartbeat timeout).
STALL = {"rq": 5.0, "huey": 5.0, "celery": 15.0, "dramatiq": 15.0, "arq": 20.0}

# Two environments, because arq and Celery's Redis transport need different redis-py.
ENVIRONMENTS = {
    "arq": ["arq==0.28.0"],
    "main": ["rq==3.0.0", "celery[redis]==5.7.0", "dramatiq[redis]==2.2.1", "huey==3.5.4"],
}
VENVS = ROOT / ".venv-queues"

WORKERS = {
    "rq": [
        "rq",
        "worker",
        "q",
        "--url",
        "{url}",
        "-w",
        "rq.worker.SimpleWorker",
        "--with-scheduler",
        "--logging_level",
        "WARNING",
    ],
    "celery": [
        "celery",
        "-A",
        "queue_apps.celery_app",
        "worker",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "warning",
    ],
    "dramatiq": ["dramatiq", "queue_apps.dramatiq_app", "--processes", "1", "--threads", "2"],
    "huey": [
        "huey_consumer",
        "queue_apps.huey_app.huey",
        "-w",
        str(WORKER_THREADS),
        "-k",
        "thread",
    ],
    "arq": ["arq", "queue_apps.arq_app.WorkerSettings"],
}


def queue_bin(lib: str) -> Path:
    """The `bin` folder of the environment that has `lib`, made on first use."""
    name = "arq" if lib == "arq" else "main"
    venv = VENVS / name
    wanted = ENVIRONMENTS[name]
    stamp = venv / (".installed-" + hashlib.sha1(" ".join(wanted).encode()).hexdigest()[:12])
    if not stamp.exists():
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300
        )
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *wanted,
            ],
            check=True,
            timeout=900,
        )
        stamp.touch()
    return venv / "bin"


class Run:
    """One library's run: its environment, worker process and the jobs done so far."""

    def __init__(self, lib: str, bin_dir: Path, port: int, tmp: Path) -> None:
        self.lib, self.bin = lib, bin_dir
        self.done_file = tmp / "done"
        self.log = tmp / "worker.log"
        self.env = dict(
            os.environ,
            PYTHONPATH=str(ROOT / "tests"),
            REDIS_URL="redis://127.0.0.1:%d/0" % port,
            QUEUE_DONE=str(self.done_file),
            PYTHONUNBUFFERED="1",
        )
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_starts = 0

    def drive(self, *args: str) -> str:
        out = subprocess.run(
            [str(self.bin / "python"), "-m", "queue_apps.drive", *args],
            env=self.env,
            cwd=ROOT / "tests",
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise RuntimeError("queue_apps.drive %s failed:\n%s" % (" ".join(args), out.stderr))
        return out.stdout

    def start_worker(self) -> None:
        argv = [a.format(url=self.env["REDIS_URL"]) for a in WORKERS[self.lib]]
        argv[0] = str(self.bin / argv[0])
        with open(self.log, "ab") as log:
            # A process group of its own: a worker's children (Dramatiq's and Celery's
            # worker processes) go with it when it is stopped, as under a supervisor.
            self.worker = subprocess.Popen(
                argv,
                env=self.env,
                cwd=ROOT / "tests",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.worker_starts += 1

    def stop_worker(self) -> None:
        """Kill the worker and every process it started. Killing only the main process
        left Dramatiq's worker process running, orphaned: it kept its heartbeat going,
        so the broker never took back the messages it held, and a test failed now and
        then with a few jobs never run."""
        if self.worker is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(30)

    def runs(self) -> Counter[int]:
        if not self.done_file.exists():
            return Counter()
        return Counter(int(x) for x in self.done_file.read_text().split())

    def wait_for(self, wanted: int, until: float) -> None:
        while len(self.runs()) < wanted:
            if time.monotonic() >= until:
                raise TimeoutError(self.story("never reached %d jobs" % wanted))
            self.keep_worker()
            time.sleep(0.1)

    def keep_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            self.stop_worker()  # what it left behind goes too
            self.start_worker()  # as a supervisor would

    def finish(self, expected: set[int], until: float, recover: bool) -> set[int]:
        """Run until every expected job ran or nothing moves any more (after the
        library's own recovery, if it has one); the jobs that never ran."""
        last, moved_at, recovered = -1, time.monotonic(), not recover
        while time.monotonic() < until:
            self.keep_worker()
            done = set(self.runs())
            if expected <= done:
                return set()
            if len(done) != last:
                last, moved_at = len(done), time.monotonic()
            elif time.monotonic() - moved_at > STALL[self.lib]:
                if recovered:
                    break
                self.recover()
                recovered, moved_at = True, time.monotonic()
            time.sleep(0.1)
        return expected - set(self.runs())

    def recover(self) -> None:
        """The library's own way back to work for jobs a crash left held: RQ's
        maintenance functions, run now instead of after their timers; for Dramatiq, a
        restart of the worker (its consumer, restarted after the lost connection, forgets
        the messages it had prefetched, which stay in the worker's acknowledgement set
        until the worker process ends; the broker's maintenance then requeues them once
        its heartbeat is older than the heartbeat timeout)."""
        if self.lib == "dramatiq":
            self.stop_worker()
            self.start_worker()
        else:
            self.drive("recover", self.lib)

    def story(self, what: str) -> str:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return "%s: %s; worker started %d times; worker log tail:\n%s" % (
            self.lib,
            what,
            self.worker_starts,
            tail,
        )


class Server(Protocol):
    """A server the scenario can kill (SIGKILL) and start again on the same data."""

    port: int

    def kill(self) -> None: ...

    def restart(self) -> None: ...


@dataclass
class Outcome:
    lib: str
    expected: set[int]
    at_kill: int  # jobs that had run when the server was killed
    missing: set[int]  # jobs that never ran
    held: dict[str, list[str]]  # what the library still holds, by place
    runs: Counter[int]
    worker_starts: int
    story: str

    @property
    def still_held(self) -> set[int]:
        return {
            int(j.rsplit("-", 1)[1])
            for ids in self.held.values()
            for j in ids
            if j.startswith("job-")
        }

    @property
    def repeated(self) -> int:
        return sum(1 for n in self.runs.values() if n > 1)

    def summary(self) -> str:
        return (
            "%s: %d jobs, %d ran before the kill, %d ran twice or more, %d never ran, "
            "worker started %d times"
            % (
                self.lib,
                len(self.expected),
                self.at_kill,
                self.repeated,
                len(self.missing),
                self.worker_starts,
            )
        )


def crash_run(lib: str, server: Server, tmp: Path, jobs: int = JOBS) -> Outcome:
    """Enqueue `jobs`, start a worker, kill the server once a third ran, restart it, and
    run until every job ran or nothing moves any more."""
    run = Run(lib, queue_bin(lib), server.port, tmp)
    until = time.monotonic() + PATIENCE
    try:
        run.drive("enqueue", lib, str(jobs))
        expected = set(range(jobs + (5 if lib == "rq" else 0)))  # RQ: and scheduled jobs
        run.start_worker()
        run.wait_for(jobs // 3, until)
        server.kill()
        at_kill = len(run.runs())
        server.restart()
        missing = run.finish(expected, until, recover=lib in ("rq", "dramatiq"))
        held = json.loads(run.drive("held", lib))
        if lib == "celery":  # and the result backend gives the jobs' results back
            held["results"] = [str(x) for x in json.loads(run.drive("results", lib))]
    finally:
        run.stop_worker()
    return Outcome(
        lib,
        expected,
        at_kill,
        missing,
        held,
        run.runs(),
        run.worker_starts,
        run.story("%d jobs never ran (%s)" % (len(missing), sorted(missing)[:20])),
    )
