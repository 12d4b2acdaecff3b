"""Real job-queue libraries on diskredis, with the server killed in the middle of the work.

For each library -- RQ, Celery (Redis broker and result backend), Dramatiq (Redis broker,
Lua scripts), huey and arq -- the test installs it (in `.venv-queues/`, apart from the
project's environment, since the libraries pin redis-py versions of their own: arq wants
redis-py 5, Celery's Redis transport 6 or later), enqueues 1,000 jobs, starts a worker,
SIGKILLs diskredis once a third of the jobs ran, restarts it on the same data, and
checks that every job ran at least once, as the library promises. Jobs record their runs
in a file outside the server. A worker that exits on the lost connection is started
again, as a supervisor would; where a library recovers interrupted jobs with a timer
(RQ's maintenance), its own recovery functions are run instead of waiting.

Two of them pop with BRPOP and record the message elsewhere only afterwards (huey never;
Celery's Redis transport in its "unacked" hash, with a second command): a job popped just
before the server died, whose record of it had not reached the server, is gone -- with
redis-server (appendfsync always) as with diskredis (`tools/queue_crash.py` shows it).
The test allows that many jobs, one per consuming connection, never run and not held
anywhere, and reports them; the other libraries must run every job.

Run them alone with ``pytest -m queues``. The scenario itself is tests/queue_apps/harness.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.queue_apps.harness import IN_FLIGHT_POPS, WORKERS, crash_run

pytestmark = pytest.mark.queues


class _Diskredis:
    """A diskredis server of the test's engine that the scenario kills and restarts."""

    def __init__(self, dr_factory: Any) -> None:
        self.factory = dr_factory
        self.sp = dr_factory()
        self.port = self.sp.port

    def kill(self) -> None:
        self.sp.proc.kill()  # SIGKILL
        self.sp.proc.wait(30)

    def restart(self) -> None:
        self.sp = self.factory(data_dir=self.sp.dir, port=self.port)


@pytest.mark.parametrize("lib", sorted(WORKERS))
def test_every_job_survives_a_killed_server(lib: str, dr_factory: Any, tmp_path: Path) -> None:
    out = crash_run(lib, _Diskredis(dr_factory), tmp_path)
    print(out.summary())
    report = "%s; held: %r" % (out.story, {k: len(v) for k, v in out.held.items()})
    if lib in IN_FLIGHT_POPS:  # only a pop cut off by the kill may lose a job
        assert len(out.missing) <= IN_FLIGHT_POPS[lib], report
        assert not out.missing & out.still_held, report
    else:
        assert not out.missing, report
    assert out.at_kill < len(out.expected), report  # the kill came in the middle of the work
    if lib == "celery":
        assert out.held["results"] == ["0", "500", "999"], report
    if lib == "rq":
        assert sorted(out.held["failed"]) == ["fails-0", "fails-1", "fails-2"], report
        assert not out.held["scheduled"] and not out.held["queued"], report
