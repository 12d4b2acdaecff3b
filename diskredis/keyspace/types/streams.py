"""A stream's records: entries one by one, Redis's node boundaries, consumer groups.

Room: reading and changing one stream inside the lane's transaction, and the stream
type's registry entry. Imports: `config`, `rdb.model`, `rdb.packed`, `storage`,
`keyspace`, the standard library. The commands (`commands.streams`) give these records
their meaning on the wire.

Layout (docs/storage-format.md), all under the stream's key id:

- meta payload: id | length | last ID | max deleted ID | first ID (recorded) |
  entries added | groups | nodes | next group number | first ID of the last node;
- entry: id | 0x04 | entry ID (ms, seq: 2 x u64 BE) -> the field/value pairs;
- node: id | 0x05 | first ID of the node -> live and deleted counts, the bytes of its
  entries, its last ID, its master fields;
- group: element record "g" + name -> number, last delivered ID, entries read, pending
  count, consumer count, next consumer number;
- consumer: element record "c" + group number + name -> number, seen time, pending count;
  and id | 0x08 | group | consumer number -> name;
- pending entry: id | 0x06 | group | entry ID -> consumer number, delivery time, count;
  and id | 0x07 | group | consumer | entry ID -> "" (the consumer's own list).

Nodes: Redis keeps a stream as listpacks of up to `stream-node-max-entries` entries and
`stream-node-max-bytes` bytes; approximate trimming (``~``) removes whole listpacks
only. Node records follow the same boundaries -- a node's size is the size its listpack
would have, element by element -- so ``MAXLEN ~``, ``MINID ~`` and LIMIT remove exactly
what Redis removes, and XINFO reports the same number of listpacks.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from diskredis.config import Config
from diskredis.keyspace import elements as E
from diskredis.keyspace import layout as L
from diskredis.keyspace.layout import Meta
from diskredis.keyspace.space import Keyspace
from diskredis.keyspace.types.base import BUILD_CHUNK, TypeSpec, build_loader
from diskredis.rdb import model as R
from diskredis.rdb.packed import int_size, str_size
from diskredis.storage import StorageError, prefix_end

CODE = L.STREAM
ID = tuple[int, int]
MAX = (1 << 64) - 1
MAX_ID: ID = (MAX, MAX)
ZERO_ID: ID = (0, 0)
INVALID_READ = -1  # SCG_INVALID_ENTRIES_READ
LISTPACK_MAX = 1 << 30  # STREAM_LISTPACK_MAX_SIZE

ENTRY, NODE, PEL, CPEL, CNAME = b"\x04", b"\x05", b"\x06", b"\x07", b"\x08"

_ID = struct.Struct(">QQ")
# last, max deleted, first, added, groups, nodes, next gid, last node
_META = struct.Struct(">QQQQQQQQQQQQ")
_NODE = struct.Struct(">QQQQQ")  # live, deleted, entry bytes, last ID
_GROUP = struct.Struct(">QQQqQQQ")  # gid, last ID, entries read, pending, consumers, next cid
_CONSUMER = struct.Struct(">QqQ")  # cid, seen time, pending
_NACK = struct.Struct(">QqQ")  # cid, delivery time, delivery count
_U32 = struct.Struct(">I")


def pack_id(i: ID) -> bytes:
    return _ID.pack(*i)


def unpack_id(raw: bytes, at: int = 0) -> ID:
    ms, seq = _ID.unpack_from(raw, at)
    return ms, seq


def id_text(i: ID) -> bytes:
    return b"%d-%d" % i


def incr(i: ID) -> ID | None:
    """streamIncrID: the next ID, None past the last possible one."""
    ms, seq = i
    if seq == MAX:
        return None if ms == MAX else (ms + 1, 0)
    return ms, seq + 1


def decr(i: ID) -> ID | None:
    ms, seq = i
    if seq == 0:
        return None if ms == 0 else (ms - 1, MAX)
    return ms, seq - 1


def encode_pairs(pairs: list[bytes]) -> bytes:
    return b"".join(_U32.pack(len(x)) + x for x in pairs)


def decode_pairs(raw: bytes) -> list[bytes]:
    out, at, n = [], 0, len(raw)
    while at < n:
        (size,) = _U32.unpack_from(raw, at)
        at += 4
        out.append(raw[at : at + size])
        at += size
    return out


def _signed(v: int) -> int:
    v &= MAX
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass
class Node:
    """One listpack of Redis's: where it starts, its counts and size."""

    master: ID
    live: int
    deleted: int
    entry_bytes: int
    last: ID
    fields: list[bytes]

    def encode(self) -> bytes:
        return _NODE.pack(self.live, self.deleted, self.entry_bytes, *self.last) + encode_pairs(
            self.fields
        )

    @classmethod
    def decode(cls, master: ID, raw: bytes) -> Node:
        live, deleted, ebytes, ms, seq = _NODE.unpack_from(raw)
        return cls(master, live, deleted, ebytes, (ms, seq), decode_pairs(raw[_NODE.size :]))

    def listpack_bytes(self) -> int:
        master = (
            int_size(self.live)
            + int_size(self.deleted)
            + int_size(len(self.fields))
            + sum(str_size(f) for f in self.fields)
            + int_size(0)
        )
        return 6 + master + self.entry_bytes + 1  # header, master entry, entries, end


def entry_bytes(entry_id: ID, master: ID, pairs: list[bytes], same: bool) -> int:
    """The listpack bytes of one entry (flags, ID deltas, fields unless the master's,
    values, lp-count)."""
    n = len(pairs) // 2
    size = (
        int_size(2 if same else 0)
        + int_size(_signed(entry_id[0] - master[0]))
        + int_size(_signed(entry_id[1] - master[1]))
    )
    if not same:
        size += int_size(n) + sum(str_size(f) for f in pairs[0::2])
    size += sum(str_size(v) for v in pairs[1::2])
    return size + int_size(n + 3 + (0 if same else n + 1))


# -- groups ------------------------------------------------------------------------------
@dataclass
class Nack:
    """A pending entry: who has it, since when (ms), how many deliveries."""

    cid: int
    time: int
    count: int


@dataclass
class Consumer:
    name: bytes
    cid: int
    seen: int
    pending: int


@dataclass
class Group:
    name: bytes
    gid: int
    last: ID
    entries_read: int
    pending: int
    consumers: int
    next_cid: int


class Stream:
    """One stream read or changed by a command; `save` writes its meta back."""

    def __init__(self, ks: Keyspace, meta: Meta | None, config: Config) -> None:
        self.ks = ks
        self.txn = ks.tx()
        self.config = config
        if meta is None:
            self.meta = Meta(CODE, L.NO_EXPIRY, b"")
            self.kid, self.length = ks.new_kid(), 0
            self.last, self.max_deleted, self.first = ZERO_ID, ZERO_ID, ZERO_ID
            self.added = self.groups = self.nodes = 0
            self.next_gid = 1
            self.last_node = ZERO_ID
        else:
            self.meta = meta
            self.kid, self.length = L.coll_head(meta.payload)
            v = _META.unpack(L.coll_extra(meta.payload))
            self.last, self.max_deleted, self.first = (v[0], v[1]), (v[2], v[3]), (v[4], v[5])
            self.added, self.groups, self.nodes, self.next_gid = v[6], v[7], v[8], v[9]
            self.last_node = (v[10], v[11])
        self.prefix = L.sub_prefix(self.kid)
        self.entries = self.prefix + ENTRY

    def payload(self) -> bytes:
        return L.coll_payload(
            self.kid,
            self.length,
            _META.pack(
                *self.last,
                *self.max_deleted,
                *self.first,
                self.added,
                self.groups,
                self.nodes,
                self.next_gid,
                *self.last_node,
            ),
        )

    def save(self, db: int, key: bytes) -> None:
        """Store the stream's head at `key` (an empty stream stays, as in Redis)."""
        self.meta.payload = self.payload()
        self.ks.store(db, key, self.meta)

    # -- entries -------------------------------------------------------------------
    def get(self, entry_id: ID) -> list[bytes] | None:
        raw = self.txn.get("sub", self.entries + pack_id(entry_id))
        return None if raw is None else decode_pairs(raw)

    def exists(self, entry_id: ID) -> bool:
        return self.txn.get("sub", self.entries + pack_id(entry_id)) is not None

    def range(self, start: ID, end: ID, reverse: bool = False) -> Iterator[tuple[ID, list[bytes]]]:
        """Entries with start <= ID <= end, in ID order or reversed."""
        if start > end:
            return
        at = len(self.entries)
        for key, raw in self._scan(self.entries, start, end, reverse):
            yield unpack_id(key, at), decode_pairs(raw)

    def _scan(
        self, base: bytes, start: ID, end: ID, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Records base | ID with start <= ID <= end. Forward scans start past the stretch
        known to hold only deleted records (trimmed heads leave them on LevelDB)."""
        low, high = self.ks.live_bounds(base)
        lo = max(low, base + pack_id(start))
        hi = min(high, base + pack_id(end) + b"\x00")
        if lo >= hi:
            return
        first = True
        for key, raw in self.txn.scan("sub", lo, hi, reverse=reverse):
            if first:
                first = False
                if not reverse and lo == low and key > low:
                    self.ks.learn_bounds(base, low=key)
            yield key, raw

    def first_valid(self) -> ID | None:
        return next((i for i, _ in self.range(ZERO_ID, MAX_ID)), None)

    def last_valid(self) -> ID | None:
        return next((i for i, _ in self.range(ZERO_ID, MAX_ID, reverse=True)), None)

    def _nodes(self, reverse: bool = False, before: ID | None = None) -> Iterator[Node]:
        base = self.prefix + NODE
        for key, raw in self._scan(base, ZERO_ID, before or MAX_ID, reverse):
            yield Node.decode(unpack_id(key, len(base)), raw)

    def _node_at(self, master: ID) -> Node:
        raw = self.txn.get("sub", self.prefix + NODE + pack_id(master))
        if raw is None:
            raise StorageError("stream %d: no node at %d-%d" % (self.kid, *master))
        return Node.decode(master, raw)

    def _put_node(self, node: Node) -> None:
        key = self.prefix + NODE + pack_id(node.master)
        self.txn.put("sub", key, node.encode())
        self.ks.note_insert(self.prefix + NODE, key)

    def _drop_node(self, node: Node) -> None:
        self.txn.delete("sub", self.prefix + NODE + pack_id(node.master))
        self.ks.note_delete(self.prefix + NODE)
        self.nodes -= 1
        if node.master == self.last_node:  # rare: the tail node emptied by XDEL, or all gone
            last = next(self._nodes(reverse=True), None) if self.nodes else None
            self.last_node = ZERO_ID if last is None else last.master

    def append(self, entry_id: ID, pairs: list[bytes]) -> None:
        """streamAppendItem once the ID is known to be right: a new node when the last
        one is full (by Redis's entry count and listpack size), the entry, the counters."""
        cfg = self.config
        node = self._node_at(self.last_node) if self.nodes else None
        if node is not None:
            max_bytes = int(cfg["stream-node-max-bytes"])
            if max_bytes == 0 or max_bytes > LISTPACK_MAX:
                max_bytes = LISTPACK_MAX
            max_entries = int(cfg["stream-node-max-entries"])
            if node.listpack_bytes() + sum(len(x) for x in pairs) >= max_bytes or (
                max_entries and node.live + node.deleted >= max_entries
            ):
                node = None
        fields = pairs[0::2]
        if node is None:
            node = Node(entry_id, 0, 0, 0, entry_id, list(fields))
            self.nodes += 1
            self.last_node = entry_id
        same = fields == node.fields
        node.live += 1
        node.entry_bytes += entry_bytes(entry_id, node.master, pairs, same)
        node.last = entry_id
        self._put_node(node)
        key = self.entries + pack_id(entry_id)
        self.txn.put("sub", key, encode_pairs(pairs))
        self.ks.note_insert(self.entries, key)
        self.length += 1
        self.added += 1
        self.last = entry_id
        if self.length == 1:
            self.first = entry_id

    def _forget(self, entry_id: ID) -> None:
        self.txn.delete("sub", self.entries + pack_id(entry_id))
        self.ks.note_delete(self.entries)

    def delete(self, entry_id: ID) -> bool:
        """streamDeleteItem: mark one entry deleted (its node goes with its last entry)."""
        if not self.exists(entry_id):
            return False
        self._forget(entry_id)
        node = next(self._nodes(reverse=True, before=entry_id), None)
        if node is None:
            raise StorageError("stream %d: entry %d-%d has no node" % (self.kid, *entry_id))
        if node.live == 1:
            self._drop_node(node)
        else:
            node.live -= 1
            node.deleted += 1
            self._put_node(node)
        self.length -= 1
        return True

    def trim(self, maxlen: int | None, minid: ID | None, approx: bool, limit: int) -> int:
        """streamTrim: drop whole nodes from the head while they may go, then (unless
        approximate) entries of the next one; at most `limit` entries (0: no limit)."""
        deleted = 0
        for node in list(self._nodes()):
            if maxlen is not None and self.length <= maxlen:
                break
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                whole = self.length - node.live >= maxlen
            else:
                assert minid is not None
                whole = node.last < minid
            if whole:
                for entry_id, _ in list(self.range(node.master, node.last)):
                    self._forget(entry_id)
                self._drop_node(node)
                self.length -= node.live
                deleted += node.live
                continue
            if approx:
                break
            removed = 0
            for entry_id, _ in list(self.range(node.master, node.last)):
                if (self.length <= maxlen) if maxlen is not None else entry_id >= minid:  # type: ignore[operator]
                    break
                self._forget(entry_id)
                removed += 1
                self.length -= 1
            node.live -= removed
            node.deleted += removed
            deleted += removed
            self._put_node(node)
            break
        if self.length == 0:
            self.first = ZERO_ID
        elif deleted:
            self.first = self.first_valid() or ZERO_ID
        return deleted

    # -- consumer groups ---------------------------------------------------------------
    def group(self, name: bytes) -> Group | None:
        raw = E.get(self.ks, self.kid, b"g" + name)
        return None if raw is None else _group(name, raw)

    def all_groups(self) -> list[Group]:
        """The groups in name order (Redis's radix tree order)."""
        out = [_group(field[1:], value) for field, value in self._named(b"g")]
        out.sort(key=lambda g: g.name)
        return out

    def _named(self, tag: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(field, value) of the element records whose field starts with `tag`."""
        start = self.prefix + L.PLAIN + tag
        for key, raw in self.txn.scan("sub", start, prefix_end(start)):
            yield key[len(self.prefix) + 1 :], raw
        hashed = self.prefix + L.HASHED
        for key, raw in self.txn.scan("sub", hashed, prefix_end(hashed)):
            field, value = L.decode_sub(key, raw)
            if field.startswith(tag):
                yield field, value

    def put_group(self, g: Group) -> None:
        E.write(
            self.ks,
            self.kid,
            b"g" + g.name,
            _GROUP.pack(g.gid, *g.last, g.entries_read, g.pending, g.consumers, g.next_cid),
        )

    def create_group(self, name: bytes, last: ID, entries_read: int) -> Group:
        g = Group(name, self.next_gid, last, entries_read, 0, 0, 1)
        self.next_gid += 1
        self.groups += 1
        self.put_group(g)
        return g

    def destroy_group(self, g: Group) -> None:
        E.delete(self.ks, self.kid, b"g" + g.name)
        for c in self.consumers(g):
            E.delete(self.ks, self.kid, self._cfield(g, c.name))
        for tag in (PEL, CPEL, CNAME):
            base = self.prefix + tag + L.u64(g.gid)
            for key, _ in list(self.txn.scan("sub", base, prefix_end(base))):
                self.txn.delete("sub", key)
        self.groups -= 1

    def _cfield(self, g: Group, name: bytes) -> bytes:
        return b"c" + L.u64(g.gid) + name

    def consumer(self, g: Group, name: bytes) -> Consumer | None:
        raw = E.get(self.ks, self.kid, self._cfield(g, name))
        if raw is None:
            return None
        cid, seen, pending = _CONSUMER.unpack(raw)
        return Consumer(name, cid, seen, pending)

    def consumers(self, g: Group) -> list[Consumer]:
        tag = b"c" + L.u64(g.gid)
        out = []
        for field, raw in self._named(tag):
            cid, seen, pending = _CONSUMER.unpack(raw)
            out.append(Consumer(field[len(tag) :], cid, seen, pending))
        out.sort(key=lambda c: c.name)
        return out

    def put_consumer(self, g: Group, c: Consumer) -> None:
        E.write(
            self.ks, self.kid, self._cfield(g, c.name), _CONSUMER.pack(c.cid, c.seen, c.pending)
        )

    def create_consumer(self, g: Group, name: bytes, now: int) -> Consumer:
        c = Consumer(name, g.next_cid, now, 0)
        g.next_cid += 1
        g.consumers += 1
        self.put_consumer(g, c)
        self.txn.put("sub", self._cname_key(g, c.cid), name)
        return c

    def delete_consumer(self, g: Group, c: Consumer) -> None:
        """streamDelConsumer: the consumer and its pending entries go."""
        for entry_id in list(self.consumer_pel(g, c.cid, ZERO_ID, MAX_ID)):
            self.txn.delete("sub", self._pel_key(g, entry_id))
            self.txn.delete("sub", self._cpel_key(g, c.cid, entry_id))
            g.pending -= 1
        E.delete(self.ks, self.kid, self._cfield(g, c.name))
        self.txn.delete("sub", self._cname_key(g, c.cid))
        g.consumers -= 1

    def consumer_name(self, g: Group, cid: int) -> bytes:
        name = self.txn.get("sub", self._cname_key(g, cid))
        if name is None:
            raise StorageError("stream %d group %d: no consumer %d" % (self.kid, g.gid, cid))
        return name

    def consumer_of(self, g: Group, cid: int) -> Consumer:
        """The consumer numbered `cid` of `g`, whose record must exist."""
        found = self.consumer(g, self.consumer_name(g, cid))
        if found is None:
            raise StorageError(
                "stream %d group %d: consumer %d has no record" % (self.kid, g.gid, cid)
            )
        return found

    def _cname_key(self, g: Group, cid: int) -> bytes:
        return self.prefix + CNAME + L.u64(g.gid) + L.u64(cid)

    # -- pending entries ---------------------------------------------------------------
    def _pel_key(self, g: Group, entry_id: ID) -> bytes:
        return self.prefix + PEL + L.u64(g.gid) + pack_id(entry_id)

    def _cpel_key(self, g: Group, cid: int, entry_id: ID) -> bytes:
        return self.prefix + CPEL + L.u64(g.gid) + L.u64(cid) + pack_id(entry_id)

    def nack(self, g: Group, entry_id: ID) -> Nack | None:
        raw = self.txn.get("sub", self._pel_key(g, entry_id))
        return None if raw is None else Nack(*_NACK.unpack(raw))

    def pel(self, g: Group, start: ID, end: ID, reverse: bool = False) -> Iterator[tuple[ID, Nack]]:
        """The group's pending entries with start <= ID <= end."""
        if start > end:
            return
        base = self.prefix + PEL + L.u64(g.gid)
        for key, raw in self.txn.scan(
            "sub", base + pack_id(start), base + pack_id(end) + b"\x00", reverse=reverse
        ):
            yield unpack_id(key, len(base)), Nack(*_NACK.unpack(raw))

    def consumer_pel(self, g: Group, cid: int, start: ID, end: ID) -> Iterator[ID]:
        if start > end:
            return
        base = self.prefix + CPEL + L.u64(g.gid) + L.u64(cid)
        for key, _ in self.txn.scan("sub", base + pack_id(start), base + pack_id(end) + b"\x00"):
            yield unpack_id(key, len(base))

    def put_nack(self, g: Group, entry_id: ID, nack: Nack, old_cid: int | None) -> None:
        """Store a pending entry; `old_cid`: the consumer that had it (None if new)."""
        if old_cid is None:
            g.pending += 1
        elif old_cid != nack.cid:
            self.txn.delete("sub", self._cpel_key(g, old_cid, entry_id))
        self.txn.put("sub", self._pel_key(g, entry_id), _NACK.pack(nack.cid, nack.time, nack.count))
        if old_cid != nack.cid:
            self.txn.put("sub", self._cpel_key(g, nack.cid, entry_id), b"")

    def drop_nack(self, g: Group, entry_id: ID, nack: Nack) -> None:
        self.txn.delete("sub", self._pel_key(g, entry_id))
        self.txn.delete("sub", self._cpel_key(g, nack.cid, entry_id))
        g.pending -= 1

    # -- the group read counter (t_stream.c) -------------------------------------------
    def has_tombstones(self, start: ID | None) -> bool:
        """streamRangeHasTombstones(start, end = the last possible ID)."""
        if not self.length or self.max_deleted == ZERO_ID:
            return False
        if self.first > self.max_deleted:
            return False
        return (start or ZERO_ID) <= self.max_deleted

    def estimate_read(self, entry_id: ID) -> int:
        """streamEstimateDistanceFromFirstEverEntry."""
        if not self.added:
            return 0
        if not self.length and entry_id <= self.last:
            return self.added
        if entry_id == self.last:
            return self.added
        if entry_id > self.last:
            return INVALID_READ
        if self.max_deleted == ZERO_ID or self.max_deleted < self.first:
            if entry_id < self.first:
                return self.added - self.length
            if entry_id == self.first:
                return self.added - self.length + 1
        return INVALID_READ

    def lag(self, g: Group) -> int | None:
        """streamReplyWithCGLag: None when it cannot be known."""
        if not self.added:
            return 0
        if g.entries_read != INVALID_READ and not self.has_tombstones(g.last):
            return self.added - g.entries_read
        read = self.estimate_read(g.last)
        return None if read == INVALID_READ else self.added - read

    def deliver(self, g: Group, entry_id: ID) -> None:
        """A group read moves past `entry_id`: its read counter and last ID follow."""
        if entry_id <= g.last:
            return
        if g.entries_read != INVALID_READ and not self.has_tombstones(entry_id):
            g.entries_read += 1
        elif self.added:
            g.entries_read = self.estimate_read(entry_id)
        g.last = entry_id

    # -- radix tree figures -----------------------------------------------------------
    def rax_nodes(self) -> int:
        """An estimate of Redis's radix tree node count (its own internal figure)."""
        return self.nodes + 1


def _group(name: bytes, raw: bytes) -> Group:
    gid, ms, seq, read, pending, consumers, next_cid = _GROUP.unpack(raw)
    return Group(name, gid, (ms, seq), read, pending, consumers, next_cid)


# -- RDB values (DUMP/RESTORE, dump and restore tools) ------------------------------------
def to_model(s: Stream) -> R.RStream:
    """The stream as the RDB format carries it: nodes with their live entries, groups
    with their pending entries and consumers."""
    nodes = [
        R.StreamNode(n.master, n.fields, list(s.range(n.master, n.last)), n.deleted, n.entry_bytes)
        for n in s._nodes()
    ]
    groups = []
    for g in s.all_groups():
        names = {c.cid: c.name for c in s.consumers(g)}
        groups.append(
            R.StreamGroup(
                g.name,
                g.last,
                g.entries_read,
                [R.Nack(i, n.time, n.count, names[n.cid]) for i, n in s.pel(g, ZERO_ID, MAX_ID)],
                [(c.name, c.seen) for c in s.consumers(g)],
            )
        )
    return R.RStream(nodes, s.length, s.last, s.first, s.max_deleted, s.added, groups)


def _build(ks: Keyspace, key: bytes, v: R.RStream, config: Config) -> Iterator[Stream | None]:
    """A new stream (fresh key id) holding `v`, in chunks (a Builder); the caller stores
    its meta. Node boundaries are kept as they came, so a stream from Redis trims as it
    did there."""
    yield None  # (nothing to do before the keyspace is needed)
    s = Stream(ks, None, config)
    done = 0
    if not v.chunked:
        for entry_id, pairs in (e for rn in v.nodes for e in rn.entries):
            s.append(entry_id, pairs)
            done += 1
            if not done % BUILD_CHUNK:
                yield s
    for rn in v.nodes if v.chunked else ():
        if not rn.entries:
            continue
        size = rn.entry_bytes
        if not size:  # not known (a value built by hand): count it as Redis would
            size = sum(
                entry_bytes(i, rn.master, pairs, pairs[0::2] == rn.fields)
                for i, pairs in rn.entries
            )
        s._put_node(
            Node(rn.master, len(rn.entries), rn.deleted, size, rn.entries[-1][0], list(rn.fields))
        )
        for entry_id, pairs in rn.entries:
            ekey = s.entries + pack_id(entry_id)
            s.txn.put("sub", ekey, encode_pairs(pairs))
            ks.note_insert(s.entries, ekey)
            done += 1
            if not done % BUILD_CHUNK:
                yield s
        s.nodes += 1
        s.last_node = rn.master
    s.length, s.last, s.first = v.length, v.last, v.first
    s.max_deleted, s.added = v.max_deleted, v.added
    for rg in v.groups:
        read = rg.entries_read if rg.entries_read is not None else s.estimate_read(rg.last)
        g = s.create_group(rg.name, rg.last, read)
        owners = {}
        for name, seen in rg.consumers:
            owners[name] = s.create_consumer(g, name, seen)
        for nack in rg.pending:
            c = owners[nack.consumer]
            s.put_nack(g, nack.id, Nack(c.cid, nack.time, nack.count), None)
            c.pending += 1
            done += 1
            if not done % BUILD_CHUNK:
                yield s
        for c in owners.values():
            s.put_consumer(g, c)
        s.put_group(g)
    yield s


SPEC = TypeSpec(
    code=CODE,
    name="stream",
    obj=6,
    model=R.RStream,
    collection=True,
    encoding=lambda ks, meta, config: "stream",
    export=lambda ks, meta, config: to_model(Stream(ks, meta, config)),
    load=build_loader(_build),
    build=_build,
)
