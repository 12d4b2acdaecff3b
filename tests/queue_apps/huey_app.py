"""A huey application on RedisHuey."""

from __future__ import annotations

from urllib.parse import urlparse

from huey import RedisHuey

from queue_apps import mark, redis_url

_url = urlparse(redis_url())
huey = RedisHuey("q", host=_url.hostname, port=_url.port, blocking=True, read_timeout=1)


@huey.task(retries=20, retry_delay=1)
def job(number: int) -> int:
    mark(number)
    return number
