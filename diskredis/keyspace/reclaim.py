"""The reclaimer: the records of deleted collections and flushed databases, removed in
bounded steps between batches.

Room: Redis's lazy freeing. Deleting a big collection or a whole database returns at once:
a small collection's records go at once, anything bigger becomes a job of the `gc` table,
and the lane runs `step` between batches within a budget of records. Imports:
`keyspace.layout`, `storage` (the interface), the standard library.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from diskredis.keyspace import layout as L
from diskredis.storage import Txn, prefix_end


class Reclaimer:
    """The gc queue of one keyspace, read and written through its batch transaction."""

    def __init__(self, txn: Callable[[], Txn], max_key: int) -> None:
        self.txn = txn
        self.max_key = max_key  # the engine's (deadline index entries: layout)
        self.lazyfreed = 0  # keys reclaimed in the background (INFO lazyfreed_objects)
        self.reset()

    def reset(self) -> None:
        """Forget what was read of the queue (a batch aborted): read it again."""
        # Where scans of the queue start: its front is deleted records, which an LSM
        # engine (LevelDB) keeps as tombstones until compaction.
        self.from_seq = 0  # every queued gc job has a sequence >= this
        self.next_seq: int | None = None  # the next job's sequence (None: not read yet)
        self.resume: dict[int, bytes] = {}  # collection id -> where its reclaim goes on

    def free_slot(self, slot: int) -> None:
        """A flushed database's old slot: its keys (and their collections) are reclaimed."""
        self._enqueue(b"slot" + L.u32(slot))

    def free(self, kid: int, count: int) -> None:
        """Reclaim a collection's records: a small one's at once, the rest in the
        background (the caller returns at once whatever the size). A collection keeps
        more records than elements (sorted-set index, set positions, stream groups and
        pending entries), so the inline part is bounded in records, not elements."""
        if count > L.INLINE_FREE or not self._delete(kid, L.INLINE_FREE_RECORDS)[1]:
            self._enqueue(b"kid " + L.u64(kid))

    def _delete(self, kid: int, budget: int) -> tuple[int, bool]:
        """Delete up to `budget` elements of `kid`: (how many, whether all are gone). A
        big collection takes several steps; each starts where the last one stopped."""
        txn = self.txn()
        prefix = L.sub_prefix(kid)
        start = self.resume.pop(kid, prefix)
        doomed = list(
            itertools.islice((k for k, _ in txn.scan("sub", start, prefix_end(prefix))), budget + 1)
        )
        for skey in doomed[:budget]:  # collected first: a scan must not see its own deletes
            txn.delete("sub", skey)
        if len(doomed) > budget:
            self.resume[kid] = doomed[budget]
        return min(len(doomed), budget), len(doomed) <= budget

    def _next_seq(self) -> int:
        """The sequence the next gc job gets (read once, then counted in memory)."""
        if self.next_seq is None:
            last = next(iter(self.txn().scan("gc", reverse=True)), None)
            self.next_seq = max(L.read_u64(last[0]) + 1 if last else 1, self.from_seq)
        return self.next_seq

    def _enqueue(self, job: bytes) -> None:
        seq = self._next_seq()
        self.txn().put("gc", L.u64(seq), job)
        self.next_seq = seq + 1

    def step(self, budget: int) -> int:
        """Delete up to `budget` records of flushed slots and deleted collections."""
        txn = self.txn()
        done = 0
        if self.from_seq >= self._next_seq():
            return 0  # the queue is empty
        jobs = list(itertools.islice(txn.scan("gc", L.u64(self.from_seq)), budget))
        if not jobs:
            self.from_seq = self._next_seq()
        for gkey, job in jobs:  # (jobs queued meanwhile come after them)
            self.from_seq = L.read_u64(gkey)  # every earlier job is done
            if job.startswith(b"kid "):
                n, finished = self._delete(L.read_u64(job[4:]), budget - done)
                done += n
                if not finished:
                    return done
                txn.delete("gc", gkey)
                self.from_seq += 1
                self.lazyfreed += 1
                continue
            prefix = L.slot_prefix(L.read_u32(job[4:]))
            room = budget - done
            rows = list(itertools.islice(txn.scan("meta", prefix, prefix_end(prefix)), room))
            for mkey, raw in rows:
                meta = L.decode_meta(raw)
                if L.is_collection(meta.type):
                    self.free(*L.coll_head(meta.payload))
                if meta.expire:  # (active expiry would drop it too, but not a replica's)
                    txn.delete("expire", L.expire_entry(meta.expire, mkey, self.max_key)[0])
                fields = L.field_expire(meta)
                if fields:
                    txn.delete("fexpire", L.expire_entry(fields, mkey, self.max_key)[0])
                txn.delete("meta", mkey)
                done += 1
                self.lazyfreed += 1
            if len(rows) >= room:  # the budget is spent; the slot may hold more
                return done
            txn.delete("gc", gkey)
            self.from_seq += 1
        return done

    def pending(self) -> int:
        """Reclamation jobs waiting (deleted big collections, flushed databases)."""
        return sum(1 for _ in self.txn().scan("gc", L.u64(self.from_seq)))
