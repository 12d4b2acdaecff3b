"""The keyspace's wall clock: expiry, stream IDs, access times and every other deadline.

Room: leaf of the keyspace. Imports: the standard library. `clock` is `time.time_ns`;
the in-process tests put a clock of their own here (tests/inproc.py), which every
reader of `now_ms` then sees.
"""

from __future__ import annotations

import time

clock = time.time_ns


def now_ms() -> int:
    return clock() // 1_000_000
