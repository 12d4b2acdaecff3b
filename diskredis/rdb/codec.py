"""Reading and writing Redis 7.0's RDB format: whole files and DUMP payloads.

Room: bytes to `model` values and back; no I/O beyond the file object it is handed.
Imports: `util`, the standard library and this package.

Reading understands every type and encoding Redis 1.0 to 8.0 and Valkey 8 write (RDB
versions 1-12): strings raw, as integers and LZF-compressed; lists plain, ziplist,
quicklist (ziplist or listpack nodes); sets plain, intset and listpack (11); sorted
sets with text or binary scores, ziplist and listpack; hashes plain, zipmap, ziplist
and listpack, and with field expiry (12: listpack-ex and metadata forms, and the 7.4
release candidates' forms); streams (listpacks, groups, pending entries, consumers;
versions 1 to 3, 3 adding consumers' active time); expiries in seconds or
milliseconds; idle time and LFU counters; aux fields; RESIZEDB and cluster SLOT_INFO
hints; function libraries; module aux data (skipped, with a warning). Module values
are refused with the module's name. Anything malformed raises RdbError naming the
byte offset.

Writing produces RDB version 10 (what Redis 7.0 writes) unless asked for 11 or 12:
strings as integers when they are, LZF-compressed when that helps, collections in
their plain form (Redis converts small ones to listpacks as it loads them), streams
as version 2 listpacks (version 3 from RDB 11 on) and hashes with field expiry in the
metadata form (which only RDB 12 has).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator
from typing import IO

from diskredis.rdb import lzf
from diskredis.rdb import packed as P
from diskredis.rdb.crc64 import crc64
from diskredis.rdb.model import (
    ID,
    Nack,
    Record,
    RHash,
    RList,
    RSet,
    RStream,
    RZSet,
    StreamGroup,
    StreamNode,
    Value,
)
from diskredis.util import string2ll

RDB_VERSION = 10  # what this writer produces unless asked otherwise (Redis 7.0's)
READ_VERSION = 12  # the newest this reader knows (Redis 7.4 to 8.x; Valkey 8 writes 11)
WRITE_VERSIONS = (10, 11, 12)

# Value types (rdb.h)
T_STRING, T_LIST, T_SET, T_ZSET, T_HASH, T_ZSET_2 = 0, 1, 2, 3, 4, 5
T_MODULE, T_MODULE_2 = 6, 7
T_HASH_ZIPMAP, T_LIST_ZIPLIST, T_SET_INTSET, T_ZSET_ZIPLIST, T_HASH_ZIPLIST = 9, 10, 11, 12, 13
T_LIST_QUICKLIST, T_STREAM_LISTPACKS, T_HASH_LISTPACK, T_ZSET_LISTPACK = 14, 15, 16, 17
T_LIST_QUICKLIST_2, T_STREAM_LISTPACKS_2 = 18, 19
T_SET_LISTPACK, T_STREAM_LISTPACKS_3 = 20, 21  # RDB 11
T_HASH_METADATA_PRE_GA, T_HASH_LISTPACK_EX_PRE_GA = 22, 23  # 7.4 release candidates
T_HASH_METADATA, T_HASH_LISTPACK_EX = 24, 25  # RDB 12: hashes with field expiry
VALUE_TYPES = frozenset((*range(8), *range(9, 26))) - {6, 8}

# Opcodes
OP_SLOT_INFO = 244
OP_FUNCTION2, OP_FUNCTION, OP_MODULE_AUX, OP_IDLE, OP_FREQ = 245, 246, 247, 248, 249
OP_AUX, OP_RESIZEDB, OP_EXPIRETIME_MS, OP_EXPIRETIME, OP_SELECTDB, OP_EOF = (
    250,
    251,
    252,
    253,
    254,
    255,
)

_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3
_QUICKLIST_PLAIN, _QUICKLIST_PACKED = 1, 2
_STREAM_DELETED, _STREAM_SAMEFIELDS = 1, 2
_STREAM_VERSIONS = {T_STREAM_LISTPACKS: 1, T_STREAM_LISTPACKS_2: 2, T_STREAM_LISTPACKS_3: 3}
_U64_MAX = (1 << 64) - 1
_FIELD_EXPIRE_MAX = (1 << 48) - 1  # EB_EXPIRE_TIME_MAX: a field's expiry must fit 48 bits
_CHUNK = 1 << 20
_ID = struct.Struct(">QQ")
_MODULE_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class RdbError(ValueError):
    """Malformed RDB data; `offset` is where in the input it was noticed."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        if offset is not None:
            message = "%s (at byte %d)" % (message, offset)
        super().__init__(message)
        self.offset = offset


class EmptyKey(RdbError):
    """A collection with no elements: Redis skips such keys when loading a file and
    refuses them in RESTORE."""


# -- reading ------------------------------------------------------------------------------
class Source:
    """Bytes read in order from a buffer, refilled by `fill` (a file's read) when
    given; keeps the checksum of what has been consumed when asked to."""

    def __init__(
        self, data: bytes = b"", fill: Callable[[int], bytes] | None = None, checksum: bool = False
    ) -> None:
        self.buf = data
        self.pos = 0
        self.base = 0
        self.fill = fill
        self.checksum = checksum
        self._crc = 0

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def crc(self) -> int:
        """The checksum of every byte consumed so far."""
        return crc64(self._crc, memoryview(self.buf)[: self.pos])

    def read(self, n: int) -> bytes:
        end = self.pos + n
        if end <= len(self.buf):
            out = self.buf[self.pos : end]
            self.pos = end
            return out
        return self._refill(n)

    def _refill(self, n: int) -> bytes:
        rest = self.buf[self.pos :]
        if self.checksum:
            self._crc = crc64(self._crc, memoryview(self.buf)[: self.pos])
        self.base += self.pos
        parts = [rest]
        have = len(rest)
        while have < n and self.fill is not None:
            chunk = self.fill(max(n - have, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts)
        self.pos = 0
        if have < n:
            self.pos = len(self.buf)
            raise RdbError("unexpected end of data: %d more bytes needed" % (n - have), self.offset)
        out = self.buf[:n]
        self.pos = n
        return out

    def byte(self) -> int:
        if self.pos < len(self.buf):
            b = self.buf[self.pos]
            self.pos += 1
            return b
        return self._refill(1)[0]

    def at_end(self) -> bool:
        if self.pos < len(self.buf):
            return False
        if self.fill is None:
            return True
        try:
            self._refill(1)
        except RdbError:
            return True
        self.pos = 0
        return False

    # -- RDB primitives ---------------------------------------------------------------
    def length(self) -> tuple[int, bool]:
        """rdbLoadLenByRef: (length, whether it is a special string encoding)."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.read(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.read(8), "big"), False
        raise RdbError("unknown length encoding 0x%02x" % b, self.offset - 1)

    def count(self) -> int:
        buf, pos = self.buf, self.pos
        if pos < len(buf) and buf[pos] < 0x40:  # the common case: a 6-bit length
            self.pos = pos + 1
            return buf[pos]
        at = self.offset
        n, encoded = self.length()
        if encoded:
            raise RdbError("a string encoding where a length belongs", at)
        return n

    def string(self) -> bytes:
        buf, pos = self.buf, self.pos
        if pos + 1 < len(buf):  # the common cases: raw strings with 6- or 14-bit lengths
            b = buf[pos]
            if b < 0x40:
                end = pos + 1 + b
                if end <= len(buf):
                    self.pos = end
                    return buf[pos + 1 : end]
            elif b < 0x80:
                end = pos + 2 + (((b & 0x3F) << 8) | buf[pos + 1])
                if end <= len(buf):
                    self.pos = end
                    return buf[pos + 2 : end]
        at = self.offset
        n, encoded = self.length()
        if not encoded:
            return self.read(n)
        if n == _ENC_INT8:
            return b"%d" % int.from_bytes(self.read(1), "little", signed=True)
        if n == _ENC_INT16:
            return b"%d" % int.from_bytes(self.read(2), "little", signed=True)
        if n == _ENC_INT32:
            return b"%d" % int.from_bytes(self.read(4), "little", signed=True)
        if n == _ENC_LZF:
            clen, ulen = self.count(), self.count()
            data = self.read(clen)
            try:
                return lzf.decompress(data, ulen)
            except lzf.LzfError as e:
                raise RdbError("bad LZF-compressed string: %s" % e, at) from None
        raise RdbError("unknown string encoding %d" % n, at)

    def text_double(self) -> float:
        at = self.offset
        n = self.byte()
        if n == 255:
            return float("-inf")
        if n == 254:
            return float("inf")
        if n == 253:
            return float("nan")
        try:
            return float(self.read(n).decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise RdbError("bad score", at) from None

    def binary_double(self) -> float:
        value: float = struct.unpack("<d", self.read(8))[0]
        return value

    def ms_time(self) -> int:
        return int.from_bytes(self.read(8), "little", signed=True)

    def stream_id(self) -> ID:
        ms, seq = _ID.unpack(self.read(16))
        return ms, seq


def module_name(module_id: int) -> str:
    """The nine-character name a module's type id carries (moduleTypeNameByID)."""
    chars = []
    for i in range(9):
        chars.append(_MODULE_CHARSET[(module_id >> (64 - 6 * (i + 1))) & 63])
    return bytes(chars).decode()


def _packed(src: Source, reader: Callable[[bytes], list[bytes]]) -> list[bytes]:
    at = src.offset
    raw = src.string()
    try:
        return reader(raw)
    except P.PackedError as e:
        raise RdbError(str(e), at) from None


def _lp_texts(raw: bytes) -> list[bytes]:
    return P.texts(P.read_listpack(raw))


def _pairs(items: list[bytes], at: int) -> list[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise RdbError("odd number of elements in a field/value encoding", at)
    return list(zip(items[0::2], items[1::2], strict=True))


def _unique(names: list[bytes], what: str, at: int) -> None:
    # A set made a slice at a time: one C call over a million names would hold the
    # GIL for 0.1 s (RESTORE decodes on a worker thread while the lane serves).
    seen: set[bytes] = set()
    for i in range(0, len(names), 4096):
        seen.update(names[i : i + 4096])
    if len(seen) != len(names):
        raise RdbError("duplicate %s" % what, at)


def _score(raw: bytes, at: int) -> float:
    try:
        score = float(raw)
    except ValueError:
        raise RdbError("bad score %r" % raw[:40], at) from None
    if score != score:
        raise RdbError("NaN score", at)
    return score


def read_value(src: Source, rdbtype: int) -> Value:
    """rdbLoadObject: one value of the given type."""
    at = src.offset
    value = _read_value(src, rdbtype, at)
    if isinstance(value, (RList, RSet)):
        if not (value.items if isinstance(value, RList) else value.members):
            raise EmptyKey("empty %s" % ("list" if isinstance(value, RList) else "set"), at)
    elif isinstance(value, (RZSet, RHash)) and not value.pairs:
        raise EmptyKey("empty %s" % ("sorted set" if isinstance(value, RZSet) else "hash"), at)
    if isinstance(value, RSet):
        _unique(value.members, "set members", at)
    elif isinstance(value, (RZSet, RHash)):
        _unique(
            [p[0] for p in value.pairs],
            "sorted set members" if isinstance(value, RZSet) else "hash fields",
            at,
        )
    return value


def _read_value(src: Source, t: int, at: int) -> Value:
    if t == T_STRING:
        return src.string()
    if t in (T_LIST, T_SET):
        items = [src.string() for _ in range(src.count())]
        return RList(items) if t == T_LIST else RSet(items)
    if t in (T_ZSET, T_ZSET_2):
        pairs = []
        for _ in range(src.count()):
            member = src.string()
            score = src.text_double() if t == T_ZSET else src.binary_double()
            if score != score:
                raise RdbError("NaN score", src.offset)
            pairs.append((member, score))
        return RZSet(pairs)
    if t == T_HASH:
        return RHash([(src.string(), src.string()) for _ in range(src.count())])
    if t == T_HASH_ZIPMAP:
        return RHash(_pairs(_packed(src, P.read_zipmap), at))
    if t == T_LIST_ZIPLIST:
        return RList(_packed(src, P.read_ziplist))
    if t == T_SET_INTSET:
        return RSet(_packed(src, P.read_intset))
    if t == T_SET_LISTPACK:
        return RSet(_packed(src, _lp_texts))
    if t in (T_HASH_LISTPACK_EX, T_HASH_LISTPACK_EX_PRE_GA):
        if t == T_HASH_LISTPACK_EX:
            src.ms_time()  # the hash's next field expiry, a hint
        return _hash_listpack_ex(_packed(src, _lp_texts), at)
    if t in (T_HASH_METADATA, T_HASH_METADATA_PRE_GA):
        return _hash_metadata(src, t == T_HASH_METADATA, at)
    if t in (T_ZSET_ZIPLIST, T_ZSET_LISTPACK):
        items = _packed(src, P.read_ziplist if t == T_ZSET_ZIPLIST else _lp_texts)
        return RZSet([(m, _score(s, at)) for m, s in _pairs(items, at)])
    if t in (T_HASH_ZIPLIST, T_HASH_LISTPACK):
        items = _packed(src, P.read_ziplist if t == T_HASH_ZIPLIST else _lp_texts)
        return RHash(_pairs(items, at))
    if t == T_LIST_QUICKLIST:
        items = []
        for _ in range(src.count()):
            items += _packed(src, P.read_ziplist)
        return RList(items)
    if t == T_LIST_QUICKLIST_2:
        items = []
        for _ in range(src.count()):
            node_at = src.offset
            container = src.count()
            if container == _QUICKLIST_PLAIN:
                items.append(src.string())
            elif container == _QUICKLIST_PACKED:
                items += _packed(src, _lp_texts)
            else:
                raise RdbError("unknown quicklist container %d" % container, node_at)
        return RList(items)
    if t in (T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2, T_STREAM_LISTPACKS_3):
        return _read_stream(src, _STREAM_VERSIONS[t])
    if t in (T_MODULE, T_MODULE_2):
        name = module_name(src.count())
        raise RdbError("a value of module type %r: modules are not supported" % name, at)
    raise RdbError("unknown value type %d" % t, at)


def _field_expire(when: int, at: int) -> int:
    if not 0 < when <= _FIELD_EXPIRE_MAX:
        raise RdbError("invalid hash field expiry %d" % when, at)
    return when


def _hash_listpack_ex(items: list[bytes], at: int) -> RHash:
    """A listpack of (field, value, expiry) triplets; expiry 0 for none."""
    if len(items) % 3:
        raise RdbError("hash listpack with field expiry: not field/value/expiry triplets", at)
    h = RHash(list(zip(items[0::3], items[1::3], strict=True)))
    for name, raw in zip(items[0::3], items[2::3], strict=True):
        when = string2ll(raw)
        if when is None:
            raise RdbError("hash field expiry is not an integer", at)
        if when:
            h.expires[name] = _field_expire(when, at)
    return h


def _hash_metadata(src: Source, relative: bool, at: int) -> RHash:
    """A hash with field expiry in table form: [the next expiry,] count, then per field
    its expiry (0: none; relative to the next expiry, plus one, or absolute in the 7.4
    release candidates' form), name and value."""
    base = src.ms_time() if relative else 0
    if relative and not 0 <= base <= _FIELD_EXPIRE_MAX + 1:
        raise RdbError("invalid next field expiry of a hash", at)
    h = RHash([])
    for _ in range(src.count()):
        ttl = src.count()
        name, value = src.string(), src.string()
        h.pairs.append((name, value))
        if ttl:
            h.expires[name] = _field_expire(ttl + base - 1 if relative else ttl, at)
    return h


def _stream_node(master: ID, lp: bytes, at: int) -> StreamNode:
    """One stream listpack: the master entry, then entries as flags, ID deltas,
    [field count, fields,] values, and their element count."""
    try:
        items = P.read_listpack(lp)
    except P.PackedError as e:
        raise RdbError("stream listpack: %s" % e, at) from None

    def num(i: int) -> int:
        if i >= len(items) or not isinstance(items[i], int):
            raise RdbError("stream listpack: an integer expected at element %d" % i, at)
        v = items[i]
        assert isinstance(v, int)
        return v

    def text(i: int) -> bytes:
        if i >= len(items):
            raise RdbError("stream listpack: truncated entry", at)
        v = items[i]
        return v if isinstance(v, bytes) else b"%d" % v

    if not items:
        raise RdbError("empty listpack inside a stream", at)
    count, deleted, nfields = num(0), num(1), num(2)
    fields = [text(3 + k) for k in range(nfields)]
    i = 3 + nfields
    if num(i) != 0:
        raise RdbError("stream listpack: bad master entry terminator", at)
    i += 1
    master_bytes = sum(P.str_size(x) if isinstance(x, bytes) else P.int_size(x) for x in items[:i])
    entries: list[tuple[ID, list[bytes]]] = []
    tombstones = 0
    while i < len(items):
        flags = num(i)
        ms = (master[0] + num(i + 1)) & _U64_MAX
        seq = (master[1] + num(i + 2)) & _U64_MAX
        i += 3
        if flags & _STREAM_SAMEFIELDS:  # values only, in the master's field order
            pairs = [x for k, f in enumerate(fields) for x in (f, text(i + k))]
            i += len(fields)
        else:  # field count, then field, value, field, value...
            n = num(i)
            pairs = [text(i + 1 + k) for k in range(2 * n)]
            i += 1 + 2 * n
        num(i)  # the entry's element count, for walking backwards
        i += 1
        if flags & _STREAM_DELETED:
            tombstones += 1
        else:
            entries.append(((ms, seq), pairs))
    if len(entries) != count or tombstones != deleted:
        raise RdbError("stream listpack: counts do not match its entries", at)
    return StreamNode(master, fields, entries, tombstones, len(lp) - 7 - master_bytes)


def _read_stream(src: Source, version: int) -> RStream:
    v2 = version >= 2
    nodes: list[StreamNode] = []
    for _ in range(src.count()):
        at = src.offset
        key = src.string()
        if len(key) != 16:
            raise RdbError("stream node key is not the size of a stream ID", at)
        ms, seq = _ID.unpack(key)
        at = src.offset
        nodes.append(_stream_node((ms, seq), src.string(), at))
    length = src.count()
    last = (src.count(), src.count())
    if v2:
        first = (src.count(), src.count())
        max_deleted = (src.count(), src.count())
        added = src.count()
    else:
        live = [e for n in nodes for e in n.entries]
        first = live[0][0] if live else (0, 0)
        max_deleted, added = (0, 0), length
    stream = RStream(nodes, length, last, first, max_deleted, added)
    at = src.offset
    problem = stream_problem(stream)
    if problem:
        raise RdbError(problem, at)
    for _ in range(src.count()):
        at = src.offset
        name = src.string()
        glast = (src.count(), src.count())
        if v2:
            read = src.count()  # a long long saved as a length: -1 comes as 2^64 - 1
            entries_read = read - (1 << 64) if read >= 1 << 63 else read
        else:
            entries_read = None
        group = StreamGroup(name, glast, entries_read)
        pending: dict[ID, Nack] = {}
        for _ in range(src.count()):
            nid = src.stream_id()
            if nid in pending:
                raise RdbError("duplicate pending entry in group %r" % name, at)
            pending[nid] = Nack(nid, src.ms_time(), src.count(), b"")
        for _ in range(src.count()):
            cname = src.string()
            if any(c == cname for c, _ in group.consumers):
                raise RdbError("duplicate consumer %r in group %r" % (cname, name), at)
            group.consumers.append((cname, src.ms_time()))
            if version >= 3:
                group.active[cname] = src.ms_time()
            for _ in range(src.count()):
                nid = src.stream_id()
                nack = pending.get(nid)
                if nack is None or nack.consumer:
                    raise RdbError("consumer's pending entry not in its group's list", at)
                nack.consumer = cname
        if any(not n.consumer for n in pending.values()):
            raise RdbError("pending entry without a consumer in group %r" % name, at)
        group.pending = sorted(pending.values(), key=lambda n: n.id)
        if any(g.name == name for g in stream.groups):
            raise RdbError("duplicate consumer group %r" % name, at)
        stream.groups.append(group)
    return stream


def stream_problem(s: RStream) -> str | None:
    """What makes `s` not a stream Redis could hold (None if nothing): entries out of
    order or outside their nodes, a length or last ID that does not match them, group
    pending entries owned by no consumer of the group."""
    ids = [i for n in s.nodes for i, _ in n.entries]
    if (
        any(a.master >= b.master for a, b in itertools.pairwise(s.nodes))
        or any(a >= b for a, b in itertools.pairwise(ids))
        or any(n.entries and n.entries[0][0] < n.master for n in s.nodes)
    ):
        return "stream entries out of order"
    if s.length != len(ids) or (ids and ids[-1] > s.last) or s.added < s.length:
        return "stream length, last ID or entries added do not match its entries"
    if any(len(pairs) % 2 or not pairs for _, pairs in (e for n in s.nodes for e in n.entries)):
        return "a stream entry without field/value pairs"
    names = [g.name for g in s.groups]
    if len(set(names)) != len(names):
        return "duplicate consumer groups"
    for g in s.groups:
        consumers = [c for c, _ in g.consumers]
        pending = [n.id for n in g.pending]
        if len(set(consumers)) != len(consumers) or len(set(pending)) != len(pending):
            return "duplicate consumers or pending entries in group %r" % g.name
        if any(n.consumer not in set(consumers) for n in g.pending):
            return "a pending entry of group %r owned by no consumer" % g.name
    return None


def parse_dump(payload: bytes) -> Value:
    """A DUMP payload's value; RdbError if its version or checksum is wrong, or its
    data does not decode (RESTORE's two errors)."""
    check_dump_footer(payload)
    src = Source(payload)  # as Redis, the decoder may read into the footer, never past it
    rdbtype = src.byte()
    return read_value(src, rdbtype)


class BadFooter(RdbError):
    pass


def check_dump_footer(payload: bytes) -> None:
    """verifyDumpPayload: RDB version not newer than we read, CRC64 right."""
    if len(payload) < 10:
        raise BadFooter("payload shorter than its footer")
    version = payload[-10] | payload[-9] << 8
    if version > READ_VERSION:
        raise BadFooter("payload of RDB version %d" % version)
    if crc64(0, memoryview(payload)[:-8]) != int.from_bytes(payload[-8:], "little"):
        raise BadFooter("payload checksum mismatch")


class FileReader:
    """The records of an RDB file, in order. `aux` fills with the file's aux fields,
    `functions` with the function libraries' code, `warnings` with what was skipped;
    the CRC64 trailer is checked when the end is reached."""

    def __init__(self, f: IO[bytes], skip_empty: bool = True) -> None:
        self.src = Source(fill=f.read, checksum=True)
        self.skip_empty = skip_empty
        self.aux: dict[bytes, bytes] = {}
        self.functions: list[bytes] = []
        self.warnings: list[str] = []
        self.resize: dict[int, tuple[int, int]] = {}
        self.types_seen: set[int] = set()  # the value type bytes met (rdb.h's RDB_TYPE_*)
        self.empty_skipped = 0
        head = self.src.read(9) if not self.src.at_end() else b""
        if head[:5] != b"REDIS" or not head[5:9].isdigit():
            raise RdbError("not an RDB file: it does not start with REDIS and a version", 0)
        self.version = int(head[5:9])
        if not 1 <= self.version <= READ_VERSION:
            raise RdbError(
                "RDB format version %d: this reader knows versions 1 to %d "
                "(Redis up to 8.0, Valkey up to 8.0)" % (self.version, READ_VERSION),
                5,
            )
        self.done = False

    @property
    def offset(self) -> int:
        return self.src.offset

    def __iter__(self) -> Iterator[Record]:
        src = self.src
        db = 0
        expire: int | None = None
        idle: int | None = None
        freq: int | None = None
        while True:
            at = src.offset
            op = src.byte()
            if op == OP_EOF:
                self._trailer()
                return
            if op == OP_SELECTDB:
                db = src.count()
            elif op == OP_RESIZEDB:
                self.resize[db] = (src.count(), src.count())
            elif op == OP_SLOT_INFO:  # a cluster slot's sizes: a hint, as RESIZEDB
                src.count(), src.count(), src.count()
            elif op == OP_AUX:
                name = src.string()
                self.aux[name] = src.string()
            elif op == OP_EXPIRETIME_MS:
                expire = src.ms_time()
            elif op == OP_EXPIRETIME:
                expire = int.from_bytes(src.read(4), "little", signed=True) * 1000
            elif op == OP_IDLE:
                idle = src.count()
            elif op == OP_FREQ:
                freq = src.byte()
            elif op == OP_FUNCTION2:
                self.functions.append(src.string())
            elif op == OP_FUNCTION:
                raise RdbError(
                    "function data of a Redis 7.0 release candidate; save the "
                    "file again with Redis 7.0.0 or later",
                    at,
                )
            elif op == OP_MODULE_AUX:
                module = module_name(src.count())
                _skip_module_value(src)
                self.warnings.append("skipped aux data of module %r" % module)
            elif op in VALUE_TYPES:
                self.types_seen.add(op)
                key = src.string()
                try:
                    value = read_value(src, op)
                except EmptyKey:
                    if not self.skip_empty:
                        raise
                    self.empty_skipped += 1
                    self.warnings.append("skipped empty key %r" % key[:100])
                else:
                    yield Record(db, key, value, expire, idle, freq)
                expire = idle = freq = None
            else:
                raise RdbError("unknown opcode or value type %d" % op, at)

    def _trailer(self) -> None:
        if self.version >= 5:
            expected = self.src.crc()
            at = self.src.offset
            stored = int.from_bytes(self.src.read(8), "little")
            if stored and stored != expected:
                raise RdbError(
                    "checksum mismatch: the file says %016x, its bytes give %016x"
                    % (stored, expected),
                    at,
                )
        self.done = True


def _skip_module_value(src: Source) -> None:
    """A module value in the self-describing RDB_TYPE_MODULE_2 form, up to its EOF."""
    src.count()  # when_opcode
    src.count()  # when
    while True:
        op = src.count()
        if op == 0:
            return
        if op in (1, 2):
            src.count()
        elif op == 3:
            src.read(4)
        elif op == 4:
            src.read(8)
        elif op == 5:
            src.string()
        else:
            raise RdbError("unknown module data opcode %d" % op, src.offset)


# -- writing ------------------------------------------------------------------------------
def enc_length(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes(((n >> 8) | 0x40, n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


# Longer strings are written as they are (Redis loads both forms): liblzf runs at about
# 250 MB/s on data that does not compress, so 8 MB keeps one value's compression on the
# event loop near 30 ms.
_COMPRESS_MAX = 8 << 20


def enc_string(s: bytes, compress: bool = True) -> bytes:
    """rdbSaveRawString: an integer encoding when the string is a small integer's
    canonical text, LZF when it is longer than 20 bytes and shrinks, else raw."""
    n = len(s)
    if n <= 11:
        v = string2ll(s)
        if v is not None:
            if -128 <= v <= 127:
                return b"\xc0" + v.to_bytes(1, "little", signed=True)
            if -32768 <= v <= 32767:
                return b"\xc1" + v.to_bytes(2, "little", signed=True)
            if -(1 << 31) <= v < (1 << 31):
                return b"\xc2" + v.to_bytes(4, "little", signed=True)
    if compress and 20 < n <= _COMPRESS_MAX:
        packed = lzf.compress(s, n - 4)
        if packed is not None:
            return b"\xc3" + enc_length(len(packed)) + enc_length(n) + packed
    return enc_length(n) + s


def value_type(value: Value, version: int = RDB_VERSION) -> int:
    """The type byte `value` is written with in a file of RDB `version`."""
    if isinstance(value, bytes):
        return T_STRING
    if isinstance(value, RStream):
        return T_STREAM_LISTPACKS_3 if version >= 11 else T_STREAM_LISTPACKS_2
    if isinstance(value, RHash) and value.expires:
        if version < 12:
            raise ValueError(
                "a hash with field expiry can only be written in RDB version 12 or later"
            )
        return T_HASH_METADATA
    return {RList: T_LIST, RSet: T_SET, RZSet: T_ZSET_2, RHash: T_HASH}[type(value)]


def needed_version(value: Value) -> int:
    """The oldest RDB version that can carry `value` (10, or 12 for field expiry)."""
    return 12 if isinstance(value, RHash) and value.expires else RDB_VERSION


def enc_value(value: Value, compress: bool = True, version: int = RDB_VERSION) -> bytes:
    """rdbSaveObjectType + rdbSaveObject, as RDB `version` (10 to 12) has them."""
    rdbtype = value_type(value, version)
    out = bytearray((rdbtype,))
    if isinstance(value, bytes):
        out += enc_string(value, compress)
    elif isinstance(value, (RList, RSet)):
        items = value.items if isinstance(value, RList) else value.members
        out += enc_length(len(items))
        for item in items:
            out += enc_string(item, compress)
    elif isinstance(value, RZSet):
        out += enc_length(len(value.pairs))
        for member, score in value.pairs:
            out += enc_string(member, compress)
            out += struct.pack("<d", score)
    elif isinstance(value, RHash):
        if rdbtype == T_HASH_METADATA:  # the next expiry, then TTLs relative to it, plus one
            base = min(value.expires.values())
            out += base.to_bytes(8, "little", signed=True)
        out += enc_length(len(value.pairs))
        for f, v in value.pairs:
            if rdbtype == T_HASH_METADATA:
                when = value.expires.get(f)
                out += enc_length(0 if when is None else when - base + 1)
            out += enc_string(f, compress)
            out += enc_string(v, compress)
    else:
        _enc_stream(out, value, compress, rdbtype == T_STREAM_LISTPACKS_3)
    return bytes(out)


def stream_listpack(node: StreamNode) -> bytes:
    """A node's listpack as t_stream.c builds it: the master entry (count, deleted,
    master fields, 0), then each entry as flags, ID deltas from the master ID, its
    fields unless they are the master's, its values, and its element count."""
    master = node.master
    els = [P.lp_int(len(node.entries)), P.lp_int(0), P.lp_int(len(node.fields))]
    els += [P.lp_str(f) for f in node.fields]
    els.append(P.lp_int(0))
    for (ms, seq), pairs in node.entries:
        names, values = pairs[0::2], pairs[1::2]
        same = names == node.fields
        els.append(P.lp_int(_STREAM_SAMEFIELDS if same else 0))
        els.append(P.lp_int(_signed64(ms - master[0])))
        els.append(P.lp_int(_signed64(seq - master[1])))
        if same:
            els += [P.lp_str(v) for v in values]
        else:
            els.append(P.lp_int(len(names)))
            els += [P.lp_str(x) for x in pairs]
        els.append(P.lp_int(len(names) + 3 + (0 if same else len(names) + 1)))
    return P.listpack(els)


def _signed64(v: int) -> int:
    v &= _U64_MAX
    return v - (1 << 64) if v >= 1 << 63 else v


def _enc_stream(out: bytearray, s: RStream, compress: bool, v3: bool) -> None:
    nodes = [n for n in s.nodes if n.entries]
    out += enc_length(len(nodes))
    for node in nodes:
        out += enc_string(_ID.pack(*node.master), compress)
        out += enc_string(stream_listpack(node), compress)
    for n in (s.length, *s.last, *s.first, *s.max_deleted, s.added, len(s.groups)):
        out += enc_length(n)
    for g in sorted(s.groups, key=lambda g: g.name):
        out += enc_string(g.name, compress)
        out += enc_length(g.last[0]) + enc_length(g.last[1])
        read = -1 if g.entries_read is None else g.entries_read
        out += enc_length(_U64_MAX if read < 0 else read)
        pending = sorted(g.pending, key=lambda n: n.id)
        out += enc_length(len(pending))
        for nack in pending:
            out += _ID.pack(*nack.id) + nack.time.to_bytes(8, "little", signed=True)
            out += enc_length(nack.count)
        out += enc_length(len(g.consumers))
        for name, seen in sorted(g.consumers):
            out += enc_string(name, compress) + seen.to_bytes(8, "little", signed=True)
            if v3:
                out += g.active.get(name, seen).to_bytes(8, "little", signed=True)
            own = [n.id for n in pending if n.consumer == name]
            out += enc_length(len(own))
            for nid in own:
                out += _ID.pack(*nid)


def dump_payload(value: Value, compress: bool = True) -> bytes:
    """createDumpPayload: the value, the RDB version (u16 LE), the CRC64 (u64 LE). The
    version is Redis 7.0's unless the value needs a newer one (field expiry: 12)."""
    version = needed_version(value)
    return with_footer(enc_value(value, compress, version), version)


def with_footer(body: bytes, version: int = RDB_VERSION) -> bytes:
    """A DUMP (or FUNCTION DUMP) payload: `body`, the RDB version, the CRC64 of both."""
    body += version.to_bytes(2, "little")
    return body + crc64(0, body).to_bytes(8, "little")


class FileWriter:
    """An RDB file (version 10, Redis 7.0's, unless another of WRITE_VERSIONS is asked
    for) written in order: `aux` fields, then `select_db` before each database's
    `record`s, then `finish` (EOF and checksum)."""

    def __init__(self, f: IO[bytes], compress: bool = True, version: int = RDB_VERSION) -> None:
        if version not in WRITE_VERSIONS:
            raise ValueError(
                "RDB version %d: this writer writes versions %s"
                % (version, ", ".join(map(str, WRITE_VERSIONS)))
            )
        self.f = f
        self.compress = compress
        self.version = version
        self.crc = 0
        self.bytes = 0
        self._write(b"REDIS%04d" % version)

    def _write(self, data: bytes) -> None:
        self.f.write(data)
        self.crc = crc64(self.crc, data)
        self.bytes += len(data)

    def aux(self, name: bytes, value: bytes) -> None:
        self._write(bytes((OP_AUX,)) + enc_string(name, False) + enc_string(value, False))

    def select_db(self, db: int, keys: int, expires: int) -> None:
        self._write(
            bytes((OP_SELECTDB,))
            + enc_length(db)
            + bytes((OP_RESIZEDB,))
            + enc_length(keys)
            + enc_length(expires)
        )

    def function(self, code: bytes) -> None:
        self._write(bytes((OP_FUNCTION2,)) + enc_string(code, self.compress))

    def record(self, key: bytes, value: Value, expire_ms: int | None = None) -> None:
        head = b""
        if expire_ms is not None:
            head = bytes((OP_EXPIRETIME_MS,)) + expire_ms.to_bytes(8, "little", signed=True)
        body = enc_value(value, self.compress, self.version)
        self._write(head + body[:1] + enc_string(key, self.compress) + body[1:])

    def finish(self) -> None:
        self._write(bytes((OP_EOF,)))
        self.f.write(self.crc.to_bytes(8, "little"))
        self.bytes += 8
