"""An arq worker. A short job timeout makes an interrupted job's in-progress marker expire
soon, after which arq runs the job again."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from queue_apps import mark, redis_url


async def job(ctx: dict[str, Any], number: int) -> int:
    mark(number)
    return number


class WorkerSettings:
    functions = [job]
    redis_settings = RedisSettings.from_dsn(redis_url())
    job_timeout = 5
    max_jobs = 10
    poll_delay = 0.2
    keep_result = 3600
    max_tries = 20
