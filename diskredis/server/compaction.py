"""Giving disk space back while serving: COMPACT, and `auto-compact-percent`.

Room: running the engine's compaction (`Engine.begin_compaction`, its long part on a
worker thread, `finish_compaction`) between batches, and what INFO storage says of it.
Imports: `errors`, `storage`, trio.

LMDB reuses the pages of deleted data but never shrinks its file; LevelDB keeps deleted
records until it compacts. A compaction makes the files hold only live data: on LMDB a
compacted copy of the file, written on a worker thread while clients go on (writes wait
in memory and in the log meanwhile), then put in the file's place in one rename between
two batches; on LevelDB a compaction of the whole key space, in slices with pauses
between them (`leveldb_engine._slices`). With `auto-compact-percent`
N (0: never), the server starts one by itself when at least N % of the files (and 64 MB)
are reclaimable, looked at every 10 seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import trio

from diskredis import errors
from diskredis.storage import StorageError

log = logging.getLogger("diskredis")

_AUTO_EVERY = 10.0  # seconds between two looks at auto-compact-percent
_AUTO_MIN_BYTES = 64 << 20  # reclaimable bytes below which it never starts by itself
_FINISH_POLL = 0.05  # seconds between two tries to finish (a reader holds the old file)


class Compacting:
    """The server's side of compaction (a mixin of `Server`)."""

    engine: Any
    config: Any
    _tasks: trio.Nursery | None
    compacting = False
    compactions = 0
    last_compaction_freed = 0
    last_compaction_usec = 0

    def start_compaction(self) -> None:
        """COMPACT: begin one now (on the next pass between batches); RedisError when
        one runs."""
        if self.compacting:
            raise errors.err("a compaction is already in progress")
        if self._tasks is None:
            raise errors.err("the server is not serving yet")
        self.compacting = True
        self._tasks.start_soon(self._compact, "requested by COMPACT")

    async def _compact(self, why: str) -> None:
        engine = self.engine
        started = time.monotonic()
        before = engine.disk_size()
        live, reclaimable = engine.space()
        try:
            while (work := engine.begin_compaction()) is None:
                await trio.sleep(_FINISH_POLL)  # a checkpoint ends first, batch by batch
        except StorageError as e:
            log.warning("Compaction (%s) could not start: %s", why, e)
            self.compacting = False
            return
        log.info(
            "Compaction started (%s): %d bytes of files, about %d of them reclaimable",
            why,
            before,
            reclaimable,
        )
        try:
            # Not cancellable: a shutdown waits for the copy (the engine closes after).
            await trio.to_thread.run_sync(work)
            while (done := engine.finish_compaction()) is None:
                await trio.sleep(_FINISH_POLL)
        except StorageError as e:
            log.warning("Compaction failed, the files are as they were: %s", e)
            done = False
        finally:
            self.compacting = False
        if not done:
            log.warning(
                "Compaction given up (writes came faster than the copy could be made, or "
                "it failed: see above); the files are as they were. COMPACT tries again."
            )
            return
        after = engine.disk_size()
        self.compactions += 1
        self.last_compaction_freed = max(0, before - after)
        self.last_compaction_usec = int((time.monotonic() - started) * 1e6)
        log.info(
            "Compaction done in %.1f s: the files went from %d to %d bytes (%d live)",
            self.last_compaction_usec / 1e6,
            before,
            after,
            live,
        )

    async def _auto_compaction(self) -> None:
        """auto-compact-percent: start one when that share of the files is reclaimable."""
        while True:
            await trio.sleep(_AUTO_EVERY)
            percent = self.config["auto-compact-percent"]
            if not percent or self.compacting:
                continue
            try:
                live, reclaimable = self.engine.space()
            except StorageError:
                continue
            total = live + reclaimable
            if reclaimable >= _AUTO_MIN_BYTES and reclaimable * 100 >= percent * total:
                self.compacting = True
                share = reclaimable * 100 // max(total, 1)
                await self._compact("auto-compact-percent %d: %d%% reclaimable" % (percent, share))

    def compaction_info(self) -> list[tuple[str, Any]]:
        """INFO storage's lines of compaction."""
        live, reclaimable = self.engine.space()
        return [
            ("live_bytes", live),
            ("reclaimable_bytes", reclaimable),
            ("compaction_in_progress", int(self.compacting)),
            ("compactions", self.compactions),
            ("last_compaction_freed_bytes", self.last_compaction_freed),
            ("last_compaction_usec", self.last_compaction_usec),
        ]
