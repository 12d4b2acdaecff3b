"""JSON lines and RESP command streams, to and from `rdb.model` records.

Room: text formats only. Imports: `keyspace.clock`, `keyspace.types`, `rdb.codec`,
`rdb.model`, `util`, hiredis, the standard library.

JSON lines: one object per key, ``{"db": 0, "key": ..., "type": ..., "ttl": ...,
"value": ...}``. Strings (keys, members, fields, values) are JSON strings when they
are valid UTF-8, else ``{"base64": "..."}``, so any bytes go through. `ttl` is the
remaining time in milliseconds when the dump was made, -1 for none. Values: a string;
a list or set as an array; a sorted set as ``[[member, score], ...]`` (scores as
numbers, ``"inf"``/``"-inf"`` for infinities); a hash as ``[[field, value], ...]``
(``[field, value, ttl]`` for a field with an expiry, Redis 7.4's HEXPIRE, `ttl` in
milliseconds as the key's); a
stream as ``{"entries": [[id, [field, value, ...]], ...], "last_id", "first_id",
"max_deleted_id", "entries_added", "groups": [{"name", "last_id", "entries_read",
"pending": [[id, consumer, delivery_time_ms, delivery_count]], "consumers":
[[name, seen_time_ms]]}]}``.

RESP command streams: what `redis-cli --pipe` sends. A key becomes DEL, then the
commands that rebuild it (SET, RPUSH, SADD, ZADD, HSET in chunks; for streams XADD
with explicit IDs, XSETID, XGROUP CREATE with ENTRIESREAD, XGROUP CREATECONSUMER and
XCLAIM ... FORCE for pending entries), then PEXPIREAT (and HPEXPIREAT for hash fields
with an expiry, which Redis 7.4 and later take). Consumers' seen times are the one
thing commands cannot set: they become the time of the restore.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from typing import IO, Any

import hiredis

from diskredis.keyspace.types import value_type
from diskredis.rdb.codec import stream_problem
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
from diskredis.util import FIELD_DEADLINE_MAX, LLONG_MAX

_CHUNK = 1000  # elements per command when a collection is rebuilt


class FormatError(ValueError):
    """Input that does not follow the format; the message names the line or byte."""


# -- JSON lines ---------------------------------------------------------------------------
def _s(b: bytes) -> Any:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(b).decode("ascii")}


def _b(x: Any) -> bytes:
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, dict) and set(x) == {"base64"} and isinstance(x["base64"], str):
        return base64.b64decode(x["base64"], validate=True)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise FormatError('a string (or {"base64": ...}) expected, not %r' % (x,))
    return str(x).encode()  # numbers are accepted where strings go, as their text


def _id_text(i: ID) -> str:
    return "%d-%d" % i


def _id(x: Any) -> ID:
    try:
        ms, seq = str(x).split("-")
        return int(ms), int(seq)
    except ValueError:
        raise FormatError("a stream ID (ms-seq) expected, not %r" % (x,)) from None


def _score_out(s: float) -> Any:
    return s if math.isfinite(s) else ("inf" if s > 0 else "-inf")


def _score_in(x: Any) -> float:
    if isinstance(x, bool):
        raise FormatError("a score expected, not %r" % (x,))
    try:
        score = float(x)
    except (TypeError, ValueError):
        raise FormatError("a score expected, not %r" % (x,)) from None
    if score != score:
        raise FormatError("a score may not be NaN")
    return score


def value_json(v: Value, now: int) -> Any:
    if isinstance(v, bytes):
        return _s(v)
    if isinstance(v, RList):
        return [_s(x) for x in v.items]
    if isinstance(v, RSet):
        return [_s(x) for x in v.members]
    if isinstance(v, RZSet):
        return [[_s(m), _score_out(s)] for m, s in v.pairs]
    if isinstance(v, RHash):
        return [
            [_s(f), _s(x)] if f not in v.expires else [_s(f), _s(x), max(v.expires[f] - now, 1)]
            for f, x in v.pairs
        ]
    return {
        "entries": [
            [_id_text(i), [_s(x) for x in pairs]] for n in v.nodes for i, pairs in n.entries
        ],
        "last_id": _id_text(v.last),
        "first_id": _id_text(v.first),
        "max_deleted_id": _id_text(v.max_deleted),
        "entries_added": v.added,
        "groups": [
            {
                "name": _s(g.name),
                "last_id": _id_text(g.last),
                "entries_read": g.entries_read,
                "pending": [[_id_text(n.id), _s(n.consumer), n.time, n.count] for n in g.pending],
                "consumers": [[_s(c), seen] for c, seen in g.consumers],
            }
            for g in v.groups
        ],
    }


def to_json(r: Record, now: int) -> str:
    ttl = -1 if r.expire_ms is None else max(r.expire_ms - now, 1)
    return json.dumps(
        {
            "db": r.db,
            "key": _s(r.key),
            "type": value_type(r.value),
            "ttl": ttl,
            "value": value_json(r.value, now),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _value_from_json(kind: str, x: Any, now: int) -> Value:
    value = _decode_value(kind, x, now)
    if isinstance(value, RStream):
        problem = stream_problem(value)
        if problem:
            raise FormatError(problem)
    elif not isinstance(value, bytes) and not (
        value.items
        if isinstance(value, RList)
        else value.members
        if isinstance(value, RSet)
        else value.pairs
    ):
        raise FormatError("an empty %s (Redis holds no empty collections)" % kind)
    return value


def _decode_value(kind: str, x: Any, now: int) -> Value:
    if kind == "string":
        return _b(x)
    if kind in ("list", "set"):
        if not isinstance(x, list):
            raise FormatError("a %s's value is an array" % kind)
        items = [_b(i) for i in x]
        return RList(items) if kind == "list" else RSet(items)
    if kind == "zset":
        if not isinstance(x, list) or any(not isinstance(p, list) or len(p) != 2 for p in x):
            raise FormatError("a zset's value is an array of pairs")
        return RZSet([(_b(m), _score_in(s)) for m, s in x])
    if kind == "hash":
        if not isinstance(x, list) or any(
            not isinstance(p, list) or len(p) not in (2, 3) for p in x
        ):
            raise FormatError("a hash's value is an array of [field, value(, ttl)]")
        h = RHash([(_b(p[0]), _b(p[1])) for p in x])
        for p in x:
            if len(p) == 3:
                if not isinstance(p[2], int) or isinstance(p[2], bool) or p[2] < 0:
                    raise FormatError("a hash field's ttl is a number of milliseconds")
                if now + p[2] > FIELD_DEADLINE_MAX:
                    raise FormatError(
                        "a hash field's ttl of %d ms is past the latest deadline a field "
                        "takes (%d, Unix ms)" % (p[2], FIELD_DEADLINE_MAX)
                    )
                h.expires[_b(p[0])] = now + max(p[2], 1)
        return h
    if kind == "stream":
        if not isinstance(x, dict):
            raise FormatError("a stream's value is an object")
        try:
            entries = [(_id(i), [_b(p) for p in pairs]) for i, pairs in x.get("entries", [])]
            groups = []
            for g in x.get("groups", []):
                read = g.get("entries_read", -1)
                groups.append(
                    StreamGroup(
                        _b(g["name"]),
                        _id(g["last_id"]),
                        None if read is None else int(read),
                        [
                            Nack(_id(i), int(t), int(n), _b(c))
                            for i, c, t, n in g.get("pending", [])
                        ],
                        [(_b(c), int(seen)) for c, seen in g.get("consumers", [])],
                    )
                )
            last = _id(x["last_id"]) if "last_id" in x else (entries[-1][0] if entries else (0, 0))
            node = [StreamNode(entries[0][0], [], entries)] if entries else []
            return RStream(
                node,
                len(entries),
                last,
                _id(x.get("first_id", _id_text(entries[0][0] if entries else (0, 0)))),
                _id(x.get("max_deleted_id", "0-0")),
                int(x.get("entries_added", len(entries))),
                groups,
                chunked=False,
            )
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, FormatError):
                raise
            raise FormatError("a malformed stream: %s" % e) from None
    raise FormatError("unknown type %r" % (kind,))


def from_json(line: str, now: int) -> Record:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise FormatError("not JSON: %s" % e) from None
    if not isinstance(obj, dict):
        raise FormatError("a line is one JSON object")
    try:
        db, key, kind, ttl = obj["db"], obj["key"], obj["type"], obj.get("ttl", -1)
        value = obj["value"]
    except KeyError as e:
        raise FormatError("the field %s is missing" % e) from None
    if not isinstance(db, int) or isinstance(db, bool) or db < 0:
        raise FormatError("db is a number >= 0")
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise FormatError("ttl is a number of milliseconds, -1 for none")
    if now + ttl > LLONG_MAX:
        raise FormatError("a ttl of %d ms is past the latest deadline a key takes" % ttl)
    return Record(
        db, _b(key), _value_from_json(kind, value, now), None if ttl < 0 else now + max(ttl, 1)
    )


def read_jsonl(f: IO[bytes]) -> Iterator[tuple[int, Record, int]]:
    """(line number, record, bytes read so far) of each non-blank line."""
    from diskredis.keyspace.clock import now_ms

    now = now_ms()
    pos = 0
    for n, raw in enumerate(f, 1):
        pos += len(raw)
        if not raw.strip():
            continue
        try:
            yield n, from_json(raw.decode("utf-8"), now), pos
        except (FormatError, UnicodeDecodeError) as e:
            raise FormatError("line %d: %s" % (n, e)) from None


# -- RESP command streams -----------------------------------------------------------------
def _chunks(items: list[bytes], size: int = _CHUNK) -> Iterator[list[bytes]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def to_commands(r: Record) -> list[list[bytes]]:
    """The commands that rebuild the record's key (in its database, already selected)."""
    key, v = r.key, r.value
    out: list[list[bytes]] = [[b"DEL", key]]
    if isinstance(v, bytes):
        out.append([b"SET", key, v])
    elif isinstance(v, RList):
        out += [[b"RPUSH", key, *c] for c in _chunks(v.items)]
    elif isinstance(v, RSet):
        out += [[b"SADD", key, *c] for c in _chunks(v.members)]
    elif isinstance(v, RZSet):
        flat = [x for m, s in v.pairs for x in (repr(s).encode(), m)]
        out += [[b"ZADD", key, *c] for c in _chunks(flat, 2 * _CHUNK)]
    elif isinstance(v, RHash):
        flat = [x for p in v.pairs for x in p]
        out += [[b"HSET", key, *c] for c in _chunks(flat, 2 * _CHUNK)]
        by_time: dict[int, list[bytes]] = {}
        for f, when in v.expires.items():
            by_time.setdefault(when, []).append(f)
        for when, names in sorted(by_time.items()):
            for c in _chunks(names):
                out.append([b"HPEXPIREAT", key, b"%d" % when, b"FIELDS", b"%d" % len(c), *c])
    else:
        out += _stream_commands(key, v)
    if r.expire_ms is not None:
        out.append([b"PEXPIREAT", key, b"%d" % r.expire_ms])
    return out


def _idb(i: ID) -> bytes:
    return b"%d-%d" % i


def _stream_commands(key: bytes, v: RStream) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    entries = [e for n in v.nodes for e in n.entries]
    for i, pairs in entries:
        out.append([b"XADD", key, _idb(i), *pairs])
    if not entries:  # an empty stream: made by an entry trimmed away at once
        out.append([b"XADD", key, b"MAXLEN", b"0", _idb(v.last), b"f", b"v"])
    out.append(
        [
            b"XSETID",
            key,
            _idb(v.last),
            b"ENTRIESADDED",
            b"%d" % v.added,
            b"MAXDELETEDID",
            _idb(v.max_deleted),
        ]
    )
    for g in v.groups:
        read = -1 if g.entries_read is None else g.entries_read
        create = [b"XGROUP", b"CREATE", key, g.name, _idb(g.last)]
        if read >= 0:
            create += [b"ENTRIESREAD", b"%d" % read]
        out.append(create)
        for name, _seen in g.consumers:
            out.append([b"XGROUP", b"CREATECONSUMER", key, g.name, name])
        for n in g.pending:
            out.append(
                [
                    b"XCLAIM",
                    key,
                    g.name,
                    n.consumer,
                    b"0",
                    _idb(n.id),
                    b"TIME",
                    b"%d" % n.time,
                    b"RETRYCOUNT",
                    b"%d" % n.count,
                    b"FORCE",
                    b"JUSTID",
                ]
            )
    return out


def read_resp(f: IO[bytes]) -> Iterator[tuple[list[bytes], int]]:
    """(command, bytes read so far) of a RESP command stream."""
    reader = hiredis.Reader()
    pos = 0
    while True:
        got = reader.gets()
        if got is False:
            chunk = f.read(1 << 20)
            if not chunk:
                if reader.has_data():
                    raise FormatError("the stream ends inside a command (byte %d)" % pos)
                return
            pos += len(chunk)
            reader.feed(chunk)
            continue
        if not isinstance(got, list) or not got or not all(isinstance(a, bytes) for a in got):
            raise FormatError("not a command (an array of bulk strings) near byte %d" % pos)
        yield got, pos


def write_resp(out: IO[bytes], command: list[bytes]) -> None:
    parts = [b"*%d\r\n" % len(command)]
    for a in command:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
