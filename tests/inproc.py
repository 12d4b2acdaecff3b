"""The in-process tier: commands run through the dispatcher on a keyspace over a
temporary engine, in the test's own process, with a clock the test moves.

No server, no socket, no event loop: `Node.run(*args)` is what the lane does for one
command of a batch (dispatch, the handler, the commit), so a type's semantics, expiry
included, are checked in microseconds and to the millisecond (`Clock.advance`). What
needs the server (blocking, pub/sub delivery, clients, scripts, the wire encoding) is
tested against a real server process; this tier is for the data types.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from diskredis.commands.context import REDIS_VERSION
from diskredis.commands.scripting import Scripts
from diskredis.errors import RedisError
from diskredis.keyspace.types import hashes
from diskredis.transfer.offline import Offline

START_MS = 1_700_000_000_000  # where every test's clock starts


class Clock:
    """The keyspace's wall clock (`keyspace.clock.clock`), standing still until moved."""

    def __init__(self, ms: int = START_MS) -> None:
        self.ns = ms * 1_000_000

    def __call__(self) -> int:
        return self.ns

    @property
    def ms(self) -> int:
        return self.ns // 1_000_000

    def advance(self, ms: int) -> None:
        self.ns += ms * 1_000_000


class Node:
    """A keyspace over a fresh data folder of `engine`; commands in-process."""

    def __init__(self, engine: str) -> None:
        self.folder = tempfile.mkdtemp(prefix="diskredis-inproc-")
        self.offline = Offline(self.folder, engine, create=True)
        self.offline.ctx.scripts = Scripts(REDIS_VERSION)  # EVAL and FUNCTION too

    def run(self, *args: Any) -> Any:
        """One command as its own batch: the reply value, an error raised as RedisError."""
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        reply = self.offline.execute([argv])[0]
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def expire_due(self) -> int:
        """Active expiry's step, as the lane runs it between batches."""
        ks = self.offline.ks
        ks.begin()
        try:
            n = ks.expire_due(budget=1000) + hashes.expire_fields(ks, 1000)
            ks.commit()
        except BaseException:
            ks.abort()
            raise
        return n

    def reopen(self) -> None:
        """Close the folder and open it again, as a restarted server does."""
        engine = self.offline.engine_name
        self.offline.close()
        self.offline = Offline(self.folder, engine)
        self.offline.ctx.scripts = Scripts(REDIS_VERSION)

    def close(self) -> None:
        self.offline.close()
        shutil.rmtree(self.folder, ignore_errors=True)
