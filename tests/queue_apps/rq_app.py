"""RQ jobs."""

from __future__ import annotations

from queue_apps import mark


def job(number: int) -> int:
    mark(number)
    return number


def failing(number: int) -> None:
    raise RuntimeError("job %d fails on purpose" % number)
