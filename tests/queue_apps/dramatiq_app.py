"""A Dramatiq actor on the Redis broker (which runs its queue operations as Lua scripts).
A short heartbeat timeout, and maintenance on every fetch, let the broker requeue soon
the messages a worker took and never acknowledged once that worker is gone."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from queue_apps import mark, redis_url

broker = RedisBroker(url=redis_url(), heartbeat_timeout=5000, maintenance_chance=1_000_000)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="q", max_retries=20, min_backoff=100, max_backoff=2000)
def job(number: int) -> None:
    mark(number)
