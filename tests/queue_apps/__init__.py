"""Job-queue applications the queue-library integration tests drive (tests/test_queues.py).

They run in their own virtual environment (the libraries pin redis-py versions of their
own), as worker processes and as the `drive` script. A job marks its completion by
appending its number to the file named by QUEUE_DONE -- outside the server, so a job
that ran is counted even when the server died before the library recorded it.
"""

from __future__ import annotations

import os


def mark(number: int) -> None:
    """Record that job `number` ran (one line per run: repeats show re-deliveries)."""
    fd = os.open(os.environ["QUEUE_DONE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"%d\n" % number)
    finally:
        os.close(fd)


def redis_url() -> str:
    return os.environ["REDIS_URL"]
