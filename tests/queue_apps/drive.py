"""Enqueue jobs, report what each library still holds, and run a library's own recovery.

Usage (in the queue libraries' environment, with REDIS_URL set):

    python -m queue_apps.drive enqueue LIB COUNT
    python -m queue_apps.drive held LIB        # JSON: job numbers the library still holds
    python -m queue_apps.drive recover LIB     # the library's own clean-up, run now
    python -m queue_apps.drive results celery  # JSON: results of jobs 0, 500 and 999
    python -m queue_apps.drive --help

LIB is one of rq, celery, dramatiq, huey, arq. Job numbers run from 0 to COUNT - 1; RQ
also gets scheduled jobs (numbers COUNT to COUNT + 4) and jobs that fail on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from queue_apps import redis_url

SCHEDULED = 5  # RQ: jobs enqueued to run a few seconds later
FAILING = 3  # RQ: jobs that raise, for the failed job registry


def _number(job_id: str) -> int:
    return int(job_id.rsplit("-", 1)[1])


# -- RQ ------------------------------------------------------------------------------
def _rq_queue() -> Any:
    from redis import Redis
    from rq import Queue

    return Queue("q", connection=Redis.from_url(redis_url()))


def rq_enqueue(count: int) -> None:
    from datetime import timedelta

    from rq import Retry

    q = _rq_queue()
    for i in range(count):
        q.enqueue(
            "queue_apps.rq_app.job", i, job_id="job-%d" % i, retry=Retry(max=5), result_ttl=3600
        )
    for i in range(count, count + SCHEDULED):
        q.enqueue_in(
            timedelta(seconds=3),
            "queue_apps.rq_app.job",
            i,
            job_id="job-%d" % i,
            retry=Retry(max=5),
            result_ttl=3600,
        )
    for i in range(FAILING):
        q.enqueue("queue_apps.rq_app.failing", i, job_id="fails-%d" % i)


def rq_held() -> dict[str, list[str]]:
    from rq.intermediate_queue import IntermediateQueue

    q = _rq_queue()
    return {
        "queued": q.get_job_ids(),
        "intermediate": IntermediateQueue(q.key, connection=q.connection).get_job_ids(),
        "started": [j.split(":")[0] for j in q.started_job_registry.get_job_ids()],
        "scheduled": q.scheduled_job_registry.get_job_ids(),
        "failed": q.failed_job_registry.get_job_ids(),
    }


def rq_recover() -> None:
    """What RQ's worker maintenance does once its timers run out: abandoned started jobs
    are retried (they have retries left), and jobs left in the intermediate queue by a
    dequeue whose worker never got the reply go through the failure handling, which
    retries them too."""
    from rq.intermediate_queue import IntermediateQueue
    from rq.worker import SimpleWorker

    q = _rq_queue()
    q.started_job_registry.cleanup(timestamp=time.time() + 86400)
    inter = IntermediateQueue(q.key, connection=q.connection)
    long_ago = str(time.time() - 3600)
    for job_id in inter.get_job_ids():
        q.connection.set(inter.get_first_seen_key(job_id), long_ago)
    inter.cleanup(SimpleWorker([q], connection=q.connection), q)


# -- Celery ---------------------------------------------------------------------------
def celery_enqueue(count: int) -> None:
    from queue_apps.celery_app import job

    for i in range(count):
        job.apply_async((i,), task_id="job-%d" % i)


def celery_results() -> list[int]:
    """Results read back through the result backend, for jobs run before and after the
    kill."""
    from queue_apps.celery_app import app

    return [app.AsyncResult("job-%d" % i).get(timeout=30) for i in (0, 500, 999)]


def celery_held() -> dict[str, list[str]]:
    from redis import Redis

    r = Redis.from_url(redis_url())
    queued = [json.loads(m)["headers"]["id"] for m in r.lrange("celery", 0, -1)]
    unacked = [json.loads(v)[0]["headers"]["id"] for v in r.hvals("unacked")]
    return {"queued": queued, "unacked": unacked}


# -- Dramatiq -----------------------------------------------------------------------
def dramatiq_enqueue(count: int) -> None:
    from queue_apps.dramatiq_app import job

    for i in range(count):
        job.send(i)


def dramatiq_held() -> dict[str, list[str]]:
    from redis import Redis

    r = Redis.from_url(redis_url())
    out: dict[str, list[str]] = {}
    for key in r.scan_iter("dramatiq:*.msgs"):
        out[key.decode()] = ["job-%d" % json.loads(m)["args"][0] for m in r.hvals(key)]
    # where their ids are: queue lists and the workers' acknowledgement sets
    names = {
        i: "job-%d" % json.loads(m)["args"][0]
        for key in r.scan_iter("dramatiq:*.msgs")
        for i, m in r.hgetall(key).items()
    }
    for key in r.scan_iter("dramatiq:*"):
        kind = r.type(key)
        ids = (
            r.lrange(key, 0, -1)
            if kind == b"list"
            else list(r.smembers(key))
            if kind == b"set"
            else []
        )
        found = [names.get(i, "id-" + i.decode()) for i in ids]
        if found:
            out[key.decode()] = found
    return out


# -- huey -----------------------------------------------------------------------------
def huey_enqueue(count: int) -> None:
    from queue_apps.huey_app import job

    for i in range(count):
        job(i)


def huey_held() -> dict[str, list[str]]:
    from queue_apps.huey_app import huey

    return {
        "pending": ["job-%d" % t.args[0] for t in huey.pending()],
        "scheduled": ["job-%d" % t.args[0] for t in huey.scheduled()],
    }


# -- arq ------------------------------------------------------------------------------
def arq_enqueue(count: int) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    async def go() -> None:
        pool = await create_pool(RedisSettings.from_dsn(redis_url()))
        for i in range(count):
            await pool.enqueue_job("job", i, _job_id="job-%d" % i)
        await pool.aclose()

    asyncio.run(go())


def arq_held() -> dict[str, list[str]]:
    from redis import Redis

    r = Redis.from_url(redis_url())
    return {"queued": [m.decode() for m in r.zrange("arq:queue", 0, -1)]}


LIBRARIES = {
    "rq": (rq_enqueue, rq_held, rq_recover),
    "celery": (celery_enqueue, celery_held, None),
    "dramatiq": (dramatiq_enqueue, dramatiq_held, None),
    "huey": (huey_enqueue, huey_held, None),
    "arq": (arq_enqueue, arq_held, None),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="queue_apps.drive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["enqueue", "held", "recover", "results"])
    parser.add_argument("library", choices=sorted(LIBRARIES))
    parser.add_argument("count", type=int, nargs="?", default=0)
    args = parser.parse_args(argv)
    enqueue, held, recover = LIBRARIES[args.library]
    if args.action == "enqueue":
        enqueue(args.count)
    elif args.action == "held":
        print(json.dumps(held()))
    elif args.action == "results":
        if args.library != "celery":
            parser.error("results: only for celery (its result backend)")
        print(json.dumps(celery_results()))
    elif recover is not None:
        recover()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
