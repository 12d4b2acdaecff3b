"""A Celery application with diskredis as broker and result backend. Late acks and a
short visibility timeout make a message whose delivery was cut short come back."""

from __future__ import annotations

from celery import Celery

from queue_apps import mark, redis_url

app = Celery("queue_apps", broker=redis_url(), backend=redis_url())
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=4,
    broker_transport_options={"visibility_timeout": 8, "unacked_restore_throttle": 1},
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,
    result_expires=3600,
)


@app.task(name="queue_apps.job")
def job(number: int) -> int:
    mark(number)
    return number
