"""The replication backlog, on disk: the command stream a primary sends its replicas.

Room: where the replication stream is kept, its offsets and its replication ids, in the
same transaction as the writes it describes. Imports: `storage`, `keyspace.layout`.

Unlike Redis's ring in memory, the backlog is records in the data folder, so it
survives restarts and can be as large as the disk allows (`repl-backlog-size`): a
replica away for hours, or a primary restarted meanwhile, still resyncs partially.

Layout (docs/storage-format.md), all in the `stats` table (a table of its own would
cost every batch of the LMDB engine one more overlay, for a feature most servers leave
off):

- `backlog:` + the stream offset of its first byte (u64 BE) -> the bytes of the stream
  that one batch produced, from that offset on.
- `repl-id`: the 40 hex digits of the replication id (absent: no backlog);
  `repl-id2` and `repl-id2-offset`: the id this history shares up to that offset
  (Redis's replid2 / second_replid_offset); `repl-offset`: master_repl_offset, the
  offset of the last byte of the stream; `repl-first`: the first byte still held.

Offsets count as Redis counts them: the first byte of the stream is offset 1, and a
replica that has everything up to offset N asks for N + 1.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable

from diskredis.keyspace import layout as L
from diskredis.storage import StorageError, Txn

NO_ID2 = "0" * 40  # Redis's cleared replid2

_ID, _ID2, _ID2_OFFSET = b"repl-id", b"repl-id2", b"repl-id2-offset"
_OFFSET, _FIRST, _SELDB = b"repl-offset", b"repl-first", b"repl-seldb"
_FOLLOWING = b"repl-following"  # present while this server is a replica
_REC, _REC_END = b"backlog:", b"backlog;"  # stream records: _REC + offset (u64 BE)


def _rec(offset: int) -> bytes:
    return _REC + L.u64(offset)


def new_replid() -> str:
    """A fresh replication id: 40 random hex digits, as Redis makes them."""
    return secrets.token_hex(20)


class Backlog:
    """The stream's state as of the last commit, and what this batch adds to it.

    `append` adds bytes in the batch's transaction; `commit`/`abort` (called by the
    keyspace with its own) make them the new state or forget them."""

    def __init__(self, txn: Callable[[], Txn]) -> None:
        self._txn = txn
        self.active = False  # whether writes are recorded: a replica connected since
        self.replid = ""  # the backlog was made ("" while there is none)
        self.replid2, self.id2_offset = NO_ID2, -1
        self.offset = 0  # master_repl_offset: the last byte's offset
        self.first = 1  # the first byte held (offset + 1 when empty)
        self.seldb = -1  # the database the stream has selected at `offset` (-1: none)
        self._pending: tuple[int, int] | None = None  # (offset, first) after this batch
        self.limit = 1 << 30  # repl-backlog-size (the config sets it)
        # A replica records its primary's stream as it came (`proxy`), not what its own
        # commands do: `recording` is whether commands run here feed the backlog.
        self.following = False
        self.recording = False
        self.was_following = False  # (as stored: `mark_following`)

    # -- state ---------------------------------------------------------------------------
    def load(self, txn: Txn) -> None:
        """Read the committed state (opening the data folder)."""
        raw = txn.get("stats", _ID)
        self.replid = raw.decode() if raw is not None else ""
        self._activate(bool(self.replid))
        raw = txn.get("stats", _ID2)
        self.replid2 = raw.decode() if raw is not None else NO_ID2
        raw = txn.get("stats", _ID2_OFFSET)
        self.id2_offset = L.read_u64(raw) - 1 if raw is not None else -1
        raw = txn.get("stats", _OFFSET)
        self.offset = L.read_u64(raw) if raw is not None else 0
        raw = txn.get("stats", _FIRST)
        self.first = L.read_u64(raw) if raw is not None else self.offset + 1
        raw = txn.get("stats", _SELDB)
        self.seldb = L.read_u32(raw) if raw is not None else -1
        self.was_following = txn.get("stats", _FOLLOWING) is not None

    @property
    def end(self) -> int:
        """The stream's last offset, with what this batch added."""
        return self._pending[0] if self._pending is not None else self.offset

    @property
    def histlen(self) -> int:
        """Bytes held: offsets first .. offset."""
        return self.offset - self.first + 1

    def create(self) -> None:
        """Start a backlog under a new replication id (in the batch), continuing the
        offset: Redis's createReplicationBacklog after changeReplicationId."""
        txn = self._txn()
        self.replid = new_replid()
        self._activate(True)
        self.replid2, self.id2_offset = NO_ID2, -1
        txn.put("stats", _ID, self.replid.encode())
        txn.delete("stats", _ID2)
        txn.delete("stats", _ID2_OFFSET)
        self._set(self.offset, self.offset + 1)

    def shift(self) -> None:
        """A new id, the old one kept as id2 up to the next offset (Redis's
        shiftReplicationId: a promoted replica, a restarted primary)."""
        txn = self._txn()
        self.replid2, self.id2_offset = self.replid, self.end + 1
        self.replid = new_replid()
        txn.put("stats", _ID, self.replid.encode())
        txn.put("stats", _ID2, self.replid2.encode())
        txn.put("stats", _ID2_OFFSET, L.u64(self.id2_offset + 1))

    def drop(self) -> None:
        """Free the backlog (no replica for repl-backlog-ttl): nothing is recorded
        until a replica connects again, under a new id."""
        txn = self._txn()
        for key, _ in list(txn.scan("stats", _REC, _REC_END)):
            txn.delete("stats", key)
        for name in (_ID, _ID2, _ID2_OFFSET, _FIRST):
            txn.delete("stats", name)
        self.replid, self.replid2, self.id2_offset = "", NO_ID2, -1
        self._activate(False)
        self._set(self.offset, self.offset + 1)

    def _activate(self, active: bool) -> None:
        self.active = active
        self.recording = active and not self.following

    def follow(self, following: bool) -> None:
        """Become a replica (its stream is its primary's, `proxy`) or a primary again
        (what commands change is recorded)."""
        self.following = following
        self._activate(self.active)

    def mark_following(self, following: bool) -> None:
        """Record (in the batch) whether this server follows a primary: one that
        restarts as a primary although it was a replica starts a new history."""
        txn = self._txn()
        if following:
            txn.put("stats", _FOLLOWING, b"1")
        else:
            txn.delete("stats", _FOLLOWING)
        self.was_following = following

    def adopt(self, replid: str, offset: int, seldb: int) -> None:
        """A full resync from a primary (in the batch that switches to its data): the
        history starts over at the primary's `offset`, under its id, with the stream
        in `seldb` (Redis keeps no replid2 after a full sync)."""
        txn = self._txn()
        for key, _ in list(txn.scan("stats", _REC, _REC_END)):
            txn.delete("stats", key)
        self.replid, self.replid2, self.id2_offset = replid, NO_ID2, -1
        txn.put("stats", _ID, replid.encode())
        txn.delete("stats", _ID2)
        txn.delete("stats", _ID2_OFFSET)
        self._activate(True)
        self.seldb = -1
        if seldb >= 0:
            self.select(seldb)
        else:
            txn.delete("stats", _SELDB)
        self._set(offset, offset + 1)

    def rename(self, replid: str) -> None:
        """The primary's id changed (+CONTINUE <new id> after its own promotion): the
        same shift it made, so sub-replicas can continue with either id."""
        txn = self._txn()
        self.replid2, self.id2_offset = self.replid, self.end + 1
        self.replid = replid
        txn.put("stats", _ID, replid.encode())
        txn.put("stats", _ID2, self.replid2.encode())
        txn.put("stats", _ID2_OFFSET, L.u64(self.id2_offset + 1))

    def proxy(self, data: bytes, seldb: int) -> None:
        """A replica applied `data`, its primary's stream as it came: it goes on in the
        backlog (for sub-replicas, and as the offset to resume from), with the
        database it selected, in the same transaction as its writes."""
        if data:
            self.append(data)
        self.select(seldb)

    def _set(self, offset: int, first: int) -> None:
        txn = self._txn()
        txn.put("stats", _OFFSET, L.u64(offset))
        txn.put("stats", _FIRST, L.u64(first))
        self._pending = (offset, first)

    # -- batches ---------------------------------------------------------------------
    def append(self, data: bytes) -> None:
        """Add `data` to the stream (in the batch), then trim whole records from the
        front while what remains is over the limit."""
        offset, first = self._pending or (self.offset, self.first)
        txn = self._txn()
        txn.put("stats", _rec(offset + 1), data)
        offset += len(data)
        while offset - first + 1 > self.limit:  # trim whole records, never the last
            head = list(itertools.islice(txn.scan("stats", _rec(first), _REC_END), 2))
            if len(head) < 2:
                break
            txn.delete("stats", head[0][0])
            first = L.read_u64(head[1][0][len(_REC) :])
        self._set(offset, first)

    def select(self, db: int) -> None:
        """The stream selects `db` (in the batch): a snapshot taken after it tells its
        replica to start there (the RDB's repl-stream-db)."""
        if db != self.seldb:
            self._txn().put("stats", _SELDB, L.u32(db))
            self.seldb = db

    def commit(self) -> None:
        if self._pending is not None:
            self.offset, self.first = self._pending
            self._pending = None

    def abort(self, txn: Txn) -> None:
        """Forget the batch's changes: the ids too are re-read."""
        self._pending = None
        self.load(txn)

    # -- reading -----------------------------------------------------------------------
    def read(self, txn: Txn, start: int, limit: int = 1 << 20) -> bytes:
        """Stream bytes from offset `start` on, about `limit` of them at most (whole
        records after the first), as of `txn`; b"" when `start` is past the end.
        StorageError when `start` is before the first byte held."""
        if start < self.first:
            raise StorageError(
                "backlog offset %d was trimmed (first held: %d)" % (start, self.first)
            )
        head = next(iter(txn.scan("stats", _REC, _rec(start + 1), reverse=True)), None)
        if head is None:
            return b""
        at = L.read_u64(head[0][len(_REC) :])
        out = [head[1][start - at :]]
        size = len(out[0])
        for _, data in txn.scan("stats", _rec(start + 1), _REC_END):
            if size >= limit:
                break
            out.append(data)
            size += len(data)
        return b"".join(out)


def encode_command(argv: list[bytes]) -> bytes:
    """A command as the stream carries it: a RESP array of bulk strings."""
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


_MULTI = encode_command([b"MULTI"])
_EXEC = encode_command([b"EXEC"])


class Propagation:
    """What the running execution unit sends replicas (Redis's server.also_propagate),
    and the per-call decisions of the command being run (its client flags).

    Dispatch opens a unit around a top-level command (`depth` counts the nested ones:
    EXEC's commands, a script's calls) and, for each call that changed data or forced
    it, queues the call's argv -- or what the handler rewrote it to (`rewrite`) --
    after anything the call queued itself (`also`: lazily expired keys' DEL, SPOP's
    SREMs...). `flush` at the unit's end writes the ops to the backlog, in MULTI/EXEC
    when there are more than one, with SELECT where the database changes."""

    def __init__(self, backlog: Backlog) -> None:
        self.backlog = backlog
        self.ops: list[tuple[int, list[bytes]]] = []
        self.depth = 0
        self.seldb = -1  # the database the stream last selected (-1: none yet)
        self.no_multi = False  # active expiry's unit is never wrapped
        self.expire_verb = b"DEL"  # UNLINK with lazyfree-lazy-expire (the lane sets it)
        self.replicas = 0  # connected replicas (the server says): PINGs while any
        self.next_ping = 0.0  # when the lane feeds the next PING (monotonic seconds)
        self.getack = False  # a WAIT waits: REPLCONF GETACK * after the batch
        self.alone_since = 0.0  # since when no replica is connected (0: one is, or unknown)
        # The call being run: its propagated form, or None for its argv as received;
        # whether it is propagated even if it changed nothing, or not at all.
        self.rewritten: list[bytes] | None = None
        self.forced = False
        self.prevented = False
        # A script's redis.set_repl without REPL_REPLICA: its calls are not sent.
        self.replicating = True

    def reset(self) -> None:
        """The batch was aborted (or a handler raised): the unit is gone with it."""
        self.ops.clear()
        self.depth = 0
        self.seldb = self.backlog.seldb  # as committed (the keyspace re-reads it first)
        self.rewritten, self.forced, self.prevented = None, False, False
        self.replicating = True

    def enter(self, changes: int) -> tuple[int, list[bytes] | None, bool, bool]:
        """A call begins (Redis's call()): its own decisions start clear; what the
        caller's were, and the keyspace's change count now, come back for `leave`."""
        self.depth += 1
        outer = changes, self.rewritten, self.forced, self.prevented
        self.rewritten, self.forced, self.prevented = None, False, False
        return outer

    def leave(
        self,
        db: int,
        argv: list[bytes] | None,
        changes: int,
        outer: tuple[int, list[bytes] | None, bool, bool],
    ) -> bool:
        """The call ended with the keyspace at `changes`: queue what it replicates as
        (its rewrite, else `argv`; None: only a rewrite) if it changed data or forced
        it and was not prevented; at the end of the unit, write the unit. True when the
        unit ended."""
        self.depth -= 1
        form = self.rewritten or argv
        if (
            form is not None
            and (changes > outer[0] or self.forced)
            and not self.prevented
            and self.replicating
        ):
            self.ops.append((db, form))
        _, self.rewritten, self.forced, self.prevented = outer
        if self.depth:
            return False
        self.flush()
        return True

    def rewrite(self, argv: list[bytes]) -> None:
        """Propagate this call as `argv` instead of what the client sent."""
        self.rewritten = argv

    def also(self, db: int, argv: list[bytes]) -> None:
        """Queue an op now, before the call's own (alsoPropagate)."""
        if self.backlog.recording:
            self.ops.append((db, argv))

    def force(self) -> None:
        self.forced = True

    def prevent(self) -> None:
        self.prevented = True

    def flush(self) -> None:
        """The unit ended: write its ops to the backlog (in the batch)."""
        ops = self.ops
        if not ops:
            return
        self.ops = []
        wrap = len(ops) > 1 and not self.no_multi
        out: list[bytes] = []
        for i, (db, argv) in enumerate(ops):
            if db != self.seldb:
                out.append(encode_command([b"SELECT", b"%d" % db]))
                self.seldb = db
                self.backlog.select(db)
            if wrap and i == 0:
                out.append(_MULTI)
            out.append(encode_command(argv))
        if wrap:
            out.append(_EXEC)
        self.backlog.append(b"".join(out))

    def feed(self, argv: list[bytes]) -> None:
        """An op outside any database's commands (PING, REPLCONF GETACK): written at
        once, never with a SELECT; never into a replica's backlog, which holds its
        primary's stream as it came."""
        if self.backlog.recording:
            self.backlog.append(encode_command(argv))
