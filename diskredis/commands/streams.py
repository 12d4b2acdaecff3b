"""Stream commands (Redis group "stream").

Room: what each stream command means. Imports: `util`, `commands` helpers, `keyspace`
(the records are `keyspace.types.streams`), `errors`, `resp.values`. Replies and
errors are Redis 7.0's (t_stream.c, and blocked.c for blocked readers).

Entries, consumer groups, consumers and pending entries are records of their own, so
every change is one small write and all of it survives restarts; blocked XREAD and
XREADGROUP clients wait on the key like list poppers and are served after each XADD.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int, parse_timeout_ms
from diskredis.commands.context import Block, Ctx
from diskredis.commands.generic import lookup_typed
from diskredis.commands.registry import (
    KeySpec,
    arg,
    block,
    command,
    container,
    help_command,
    keys_at,
    oneof,
    token,
)
from diskredis.errors import RedisError
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import NOTIFY_STREAM
from diskredis.keyspace.types import Meta
from diskredis.keyspace.types import streams as S
from diskredis.keyspace.types.streams import ID, MAX_ID, ZERO_ID, Group, Nack, Stream, id_text
from diskredis.resp.values import NULL_ARRAY
from diskredis.util import string2ull

_X = "stream"
INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
_READ_BLOCKED_COUNT = 1000  # XREAD_BLOCKED_DEFAULT_COUNT


# -- IDs --------------------------------------------------------------------------------
def parse_id(
    raw: bytes, missing_seq: int = 0, strict: bool = False, seq_star: bool = False
) -> tuple[ID, bool]:
    """streamGenericParseIDOrReply: (ID, whether the sequence was given). `strict`
    refuses "-" and "+"; `seq_star` accepts "<ms>-*" (XADD)."""
    if len(raw) > 127:
        raise RedisError(INVALID_ID)
    text = raw.split(b"\0", 1)[0]
    if strict and text in (b"-", b"+"):
        raise RedisError(INVALID_ID)
    if text == b"-":
        return ZERO_ID, True
    if text == b"+":
        return MAX_ID, True
    ms_part, dash, seq_part = text.partition(b"-")
    ms = string2ull(ms_part)
    if ms is None:
        raise RedisError(INVALID_ID)
    if not dash:
        return (ms, missing_seq), True
    if seq_star and seq_part == b"*":
        return (ms, 0), False
    seq = string2ull(seq_part)
    if seq is None:
        raise RedisError(INVALID_ID)
    return (ms, seq), True


def _strict(raw: bytes) -> ID:
    return parse_id(raw, strict=True)[0]


def _interval(raw: bytes, missing_seq: int, start: bool) -> ID:
    """streamParseIntervalIDOrReply with the exclusive "(" form resolved."""
    if len(raw) > 1 and raw[:1] == b"(":
        i = parse_id(raw[1:], missing_seq, strict=True)[0]
        moved = S.incr(i) if start else S.decr(i)
        if moved is None:
            raise errors.err("invalid %s ID for the interval" % ("start" if start else "end"))
        return moved
    return parse_id(raw, missing_seq)[0]


# -- lookups and replies ----------------------------------------------------------------
def _meta(ctx: Ctx, key: bytes, read: bool | None = None) -> Meta | None:
    return lookup_typed(ctx, key, S.CODE, read=read)


def _open(ctx: Ctx, key: bytes, read: bool | None = None) -> Stream | None:
    meta = _meta(ctx, key, read)
    return None if meta is None else Stream(ctx.ks, meta, ctx.config)


def _save(ctx: Ctx, key: bytes, s: Stream) -> None:
    s.save(ctx.session.db, key)


def _entry(entry_id: ID, pairs: list[bytes]) -> list[Any]:
    return [id_text(entry_id), pairs]


def _entries(s: Stream, start: ID, end: ID, count: int, reverse: bool = False) -> list[Any]:
    out = []
    for entry_id, pairs in s.range(start, end, reverse):
        out.append(_entry(entry_id, pairs))
        if count and len(out) >= count:
            break
    return out


def _nogroup(key: bytes, group: bytes, tail: str = "") -> RedisError:
    return RedisError(
        "NOGROUP No such key '%s' or consumer group '%s'%s"
        % (errors.c_text(key), errors.c_text(group), tail)
    )


def _group_of(ctx: Ctx, key: bytes, name: bytes) -> tuple[Stream, Group]:
    """The stream and group XCLAIM, XAUTOCLAIM and XPENDING work on, or NOGROUP."""
    s = _open(ctx, key, read=True)
    g = None if s is None else s.group(name)
    if s is None or g is None:
        raise _nogroup(key, name)
    return s, g


# -- XADD, XTRIM --------------------------------------------------------------------------
@dataclass
class _Trim:
    maxlen: int | None = None
    minid: ID | None = None
    approx: bool = False
    limit: int = 0
    approx_at: int = -1  # where the `~` is in argv (replicated as `=`)

    @property
    def given(self) -> bool:
        return self.maxlen is not None or self.minid is not None


def _trim_args(ctx: Ctx, argv: list[bytes], xadd: bool) -> tuple[_Trim, int, bool, ID | None, bool]:
    """streamParseAddOrTrimArgsOrReply: (trim, ID position, NOMKSTREAM, ID, seq given)."""
    t = _Trim()
    i, n = 2, len(argv)
    limit_given = nomk = False
    entry_id: ID | None = None
    seq_given = True
    while i < n:
        more = n - 1 - i
        opt = argv[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if low in (b"maxlen", b"minid") and more:
            if t.given:
                raise errors.err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible"
                )
            t.approx, t.approx_at = False, -1
            nxt = argv[i + 1]
            if more >= 2 and nxt in (b"~", b"="):
                t.approx = nxt == b"~"
                t.approx_at = i + 1 if t.approx else -1
                i += 1
            if low == b"maxlen":
                t.maxlen = parse_int(argv[i + 1])
                if t.maxlen < 0:
                    raise errors.err("The MAXLEN argument must be >= 0.")
            else:
                t.minid = _strict(argv[i + 1])
            i += 1
        elif low == b"limit" and more:
            t.limit = parse_int(argv[i + 1])
            if t.limit < 0:
                raise errors.err("The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and low == b"nomkstream":
            nomk = True
        elif xadd:
            entry_id, seq_given = parse_id(opt, strict=True, seq_star=True)
            break
        else:
            raise RedisError(errors.SYNTAX)
        i += 1
    if t.limit and not t.given:
        raise errors.err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and not t.given:
        raise errors.err("syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not t.approx:
            raise errors.err("syntax error, LIMIT cannot be used without the special ~ option")
    elif t.approx:
        t.limit = 100 * int(ctx.config["stream-node-max-entries"])
        if t.limit <= 0:
            t.limit = 10000
        t.limit = min(t.limit, 1000000)
    else:
        t.limit = 0
    return t, i, nomk, entry_id, seq_given


def _trim(s: Stream, t: _Trim) -> int:
    return s.trim(t.maxlen, t.minid, t.approx, t.limit)


def _propagate_trim(
    ctx: Ctx, argv: list[bytes], t: _Trim, s: Stream, idpos: int = 0, entry_id: ID | None = None
) -> None:
    """Replicate XADD/XTRIM so the replica trims and numbers exactly as here: an
    approximate trim as an exact one to what is left (the length for MAXLEN, the first
    entry's ID for MINID), an ID the server chose (`*`, `ms-*`) as that ID."""
    out = argv
    if t.approx_at >= 0:
        out = list(argv)
        out[t.approx_at] = b"="
        if t.maxlen is not None:
            out[t.approx_at + 1] = b"%d" % s.length
        else:
            out[t.approx_at + 1] = id_text(s.first_valid() or MAX_ID)
    if entry_id is not None and argv[idpos].endswith(b"*"):
        if out is argv:
            out = list(argv)
        out[idpos] = id_text(entry_id)
    if out is not argv:
        ctx.propagate_as(*out)


_TRIM_ARGS = block(
    "trim",
    oneof("strategy", token("MAXLEN"), token("MINID", since="6.2.0")),
    oneof("operator", token("="), token("~"), flags=("optional",)),
    arg("threshold"),
    arg("count", "integer", "optional", token="LIMIT", since="6.2.0"),
)


@command(
    "xadd",
    -5,
    "write denyoom fast",
    group=_X,
    since="5.0.0",
    complexity="O(1) when adding a new entry, O(N) when trimming where N being the "
    "number of entries evicted.",
    summary="Appends a new message to a stream. Creates the key if it doesn't exist.",
    tips="nondeterministic_output",
    keys=(
        keys_at(
            "RW update", notes="UPDATE instead of INSERT because of the optional trimming feature"
        ),
    ),
    history=(
        (
            "6.2.0",
            "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option.",
        ),
        ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
    ),
    args=(
        arg("key", "key"),
        token("NOMKSTREAM", "optional", since="6.2.0"),
        block("trim", *_TRIM_ARGS.subargs, flags=("optional",)),
        oneof("id-selector", token("*"), arg("id")),
        block("data", arg("field"), arg("value"), flags=("multiple",)),
    ),
)
def xadd(ctx: Ctx, argv: list[bytes]) -> Any:
    """XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] *|id field value
    [...] -> the new entry's ID, or nil (NOMKSTREAM, no stream)."""
    key = argv[1]
    t, idpos, nomk, given, seq_given = _trim_args(ctx, argv, True)
    fields = len(argv) - idpos - 1
    if fields < 2 or fields % 2:
        raise errors.wrong_arity("xadd")
    if given is not None and seq_given and given == ZERO_ID:
        raise errors.err("The ID specified in XADD must be greater than 0-0")
    meta = _meta(ctx, key)
    if meta is None and nomk:
        return None
    s = Stream(ctx.ks, meta, ctx.config)
    if s.last == MAX_ID:
        raise errors.err("The stream has exhausted the last possible ID, unable to add more items")
    entry_id = _next_id(s, given, seq_given)
    pairs = argv[idpos + 1 :]
    if sum(len(x) for x in pairs) > S.LISTPACK_MAX:
        raise errors.err("Elements are too large to be stored")
    s.append(entry_id, pairs)
    trimmed = _trim(s, t) if t.given else 0
    _save(ctx, key, s)
    _propagate_trim(ctx, argv, t, s, idpos, entry_id)
    ctx.notify(NOTIFY_STREAM, b"xadd", key)
    if trimmed:
        ctx.notify(NOTIFY_STREAM, b"xtrim", key)
    return id_text(entry_id)


def _next_id(s: Stream, given: ID | None, seq_given: bool) -> ID:
    """The new entry's ID (streamAppendItem's rules), or Redis's error."""
    smaller = errors.err(
        "The ID specified in XADD is equal or smaller than the target stream top item"
    )
    if given is None:
        ms = now_ms()
        new = (ms, 0) if ms > s.last[0] else S.incr(s.last)
    elif seq_given:
        new = given
    elif s.last[0] == given[0]:
        if s.last[1] == S.MAX:
            raise smaller
        new = S.incr(s.last)
    else:
        new = given
    if new is None or new <= s.last:
        raise smaller
    return new


@command(
    "xtrim",
    -4,
    "write",
    group=_X,
    since="5.0.0",
    complexity="O(N), with N being the number of evicted entries. Constant times are "
    "very small however, since entries are organized in macro nodes "
    "containing multiple entries that can be released with a single "
    "deallocation.",
    summary="Deletes messages from the beginning of a stream.",
    tips="nondeterministic_output",
    keys=(keys_at("RW delete"),),
    history=(("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),),
    args=(arg("key", "key"), _TRIM_ARGS),
)
def xtrim(ctx: Ctx, argv: list[bytes]) -> int:
    """XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n] -> entries removed."""
    t = _trim_args(ctx, argv, False)[0]
    s = _open(ctx, argv[1])
    if s is None:
        return 0
    deleted = _trim(s, t)
    if deleted:
        _save(ctx, argv[1], s)
        ctx.notify(NOTIFY_STREAM, b"xtrim", argv[1])
        _propagate_trim(ctx, argv, t, s)
    return deleted


@command(
    "xdel",
    -3,
    "write fast",
    group=_X,
    since="5.0.0",
    complexity="O(1) for each single item to delete in the stream, regardless of the stream size.",
    summary="Returns the number of messages after removing them from a stream.",
    keys=(keys_at("RW delete"),),
    args=(arg("key", "key"), arg("id", "string", "multiple")),
)
def xdel(ctx: Ctx, argv: list[bytes]) -> int:
    """XDEL key id [id ...] -> entries deleted."""
    s = _open(ctx, argv[1])
    if s is None:
        return 0
    ids = [_strict(raw) for raw in argv[2:]]
    deleted = 0
    first_gone = False
    for entry_id in ids:
        if s.delete(entry_id):
            first_gone = first_gone or entry_id == s.first
            s.max_deleted = max(s.max_deleted, entry_id)
            deleted += 1
    if deleted:
        if s.length == 0:
            s.first = ZERO_ID
        elif first_gone:
            s.first = s.first_valid() or ZERO_ID
        _save(ctx, argv[1], s)
        ctx.notify(NOTIFY_STREAM, b"xdel", argv[1])
    return deleted


@command(
    "xlen",
    2,
    "readonly fast",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="Return the number of messages in a stream.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"),),
)
def xlen(ctx: Ctx, argv: list[bytes]) -> int:
    """XLEN key -> the number of entries."""
    s = _open(ctx, argv[1])
    return 0 if s is None else s.length


def _xrange(ctx: Ctx, argv: list[bytes], reverse: bool) -> Any:
    start_raw, end_raw = (argv[3], argv[2]) if reverse else (argv[2], argv[3])
    start = _interval(start_raw, 0, True)
    end = _interval(end_raw, S.MAX, False)
    count = -1
    j = 4
    while j < len(argv):
        if argv[j].lower() == b"count" and j + 1 < len(argv):
            count = max(parse_int(argv[j + 1]), 0)
            j += 2
        else:
            raise RedisError(errors.SYNTAX)
    s = _open(ctx, argv[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _entries(s, start, end, max(count, 0), reverse)


_RANGE_HISTORY = (("6.2.0", "Added exclusive ranges."),)


@command(
    "xrange",
    -4,
    "readonly",
    group=_X,
    since="5.0.0",
    complexity="O(N) with N being the number of elements being returned. If N is "
    "constant (e.g. always asking for the first 10 elements with COUNT), you "
    "can consider it O(1).",
    summary="Returns the messages from a stream within a range of IDs.",
    keys=(keys_at("RO access"),),
    history=_RANGE_HISTORY,
    args=(
        arg("key", "key"),
        arg("start"),
        arg("end"),
        arg("count", "integer", "optional", token="COUNT"),
    ),
)
def xrange(ctx: Ctx, argv: list[bytes]) -> Any:
    """XRANGE key start end [COUNT n] -> entries, oldest first."""
    return _xrange(ctx, argv, False)


@command(
    "xrevrange",
    -4,
    "readonly",
    group=_X,
    since="5.0.0",
    complexity="O(N) with N being the number of elements returned. If N is constant "
    "(e.g. always asking for the first 10 elements with COUNT), you can "
    "consider it O(1).",
    summary="Returns the messages from a stream within a range of IDs in reverse order.",
    keys=(keys_at("RO access"),),
    history=_RANGE_HISTORY,
    args=(
        arg("key", "key"),
        arg("end"),
        arg("start"),
        arg("count", "integer", "optional", token="COUNT"),
    ),
)
def xrevrange(ctx: Ctx, argv: list[bytes]) -> Any:
    """XREVRANGE key end start [COUNT n] -> entries, newest first."""
    return _xrange(ctx, argv, True)


# -- XREAD, XREADGROUP ------------------------------------------------------------------
@dataclass
class _Read:
    keys: list[bytes]
    ids: list[ID]
    count: int = 0
    deadline: int | None = None  # None: no BLOCK
    group: bytes | None = None
    consumer: bytes = b""
    noack: bool = False


def _read_args(ctx: Ctx, argv: list[bytes], grouped: bool) -> _Read:
    """xreadCommand's argument walk and ID resolution (stream and group lookups
    included, each key looked up as Redis does)."""
    count, deadline = 0, None
    group = consumer = None
    noack = False
    streams_at = 0
    i, n = 1, len(argv)
    while i < n:
        more = n - i - 1
        opt = argv[i].lower()
        if opt == b"block" and more:
            if ctx.session.is_script:
                raise errors.err(
                    "%s command is not allowed with BLOCK option from scripts"
                    % errors.c_text(argv[0])
                )
            i += 1
            deadline = parse_timeout_ms(argv[i], seconds=False, now_ms=now_ms())
        elif opt == b"count" and more:
            i += 1
            count = max(parse_int(argv[i]), 0)
        elif opt == b"streams" and more:
            streams_at = i + 1
            if (n - streams_at) % 2:
                raise errors.err(
                    "Unbalanced XREAD list of streams: for each stream key an "
                    "ID or '$' must be specified."
                )
            break
        elif opt == b"group" and more >= 2:
            if not grouped:
                raise errors.err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead."
                )
            group, consumer = argv[i + 1], argv[i + 2]
            i += 2
        elif opt == b"noack":
            if not grouped:
                raise errors.err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead."
                )
            noack = True
        else:
            raise RedisError(errors.SYNTAX)
        i += 1
    if streams_at == 0:
        raise RedisError(errors.SYNTAX)
    if grouped and group is None:
        raise errors.err("Missing GROUP option for XREADGROUP")
    half = (n - streams_at) // 2
    keys = argv[streams_at : streams_at + half]
    ids: list[ID] = []
    for key, raw in zip(keys, argv[streams_at + half :], strict=True):
        s = _open(ctx, key, read=True)
        if group is not None and (s is None or s.group(group) is None):
            raise _nogroup(key, group, " in XREADGROUP with GROUP option")
        if raw == b"$":
            if grouped:
                raise errors.err(
                    "The $ ID is meaningless in the context of XREADGROUP: you "
                    "want to read the history of this consumer by specifying a "
                    "proper ID, or use the > ID to get new messages. The $ ID "
                    "would just return an empty result set."
                )
            ids.append(s.last if s is not None else ZERO_ID)
        elif raw == b">":
            if not grouped:
                raise errors.err(
                    "The > ID can be specified only when calling XREADGROUP "
                    "using the GROUP <group> <consumer> option."
                )
            ids.append(MAX_ID)
        else:
            ids.append(_strict(raw))
    return _Read(keys, ids, count, deadline, group, consumer or b"", noack)


def _consumer(ctx: Ctx, key: bytes, s: Stream, g: Group, name: bytes) -> S.Consumer:
    """streamLookupConsumer (seen now) or streamCreateConsumer (announced). The caller
    keeps it in its `_Owners`, whose flush writes the new seen time once."""
    now = now_ms()
    c = s.consumer(g, name)
    if c is None:
        c = s.create_consumer(g, name, now)
        ctx.notify(NOTIFY_STREAM, b"xgroup-createconsumer", key)
    else:
        c.seen = now
    return c


def _deliver_new(
    ctx: Ctx,
    key: bytes,
    s: Stream,
    g: Group,
    owners: _Owners,
    c: S.Consumer,
    start: ID,
    count: int,
    noack: bool,
) -> list[Any]:
    """streamReplyWithRange for a group: entries from `start` on; the group moves past
    them, and (without NOACK) each becomes pending for the consumer (taken from whoever
    had it). Replicated as Redis does: an XCLAIM ... FORCE JUSTID LASTID per pending
    entry, or (NOACK) the group's new last ID."""
    out = []
    now = now_ms()
    repl = ctx.ks.repl
    db = ctx.session.db
    last = g.last
    for entry_id, pairs in list(itertools.islice(s.range(start, MAX_ID), count or None)):
        s.deliver(g, entry_id)
        out.append(_entry(entry_id, pairs))
        if noack:
            continue
        old = s.nack(g, entry_id)
        if old is None or old.cid != c.cid:
            if old is not None:
                owners.get(old.cid).pending -= 1
            c.pending += 1
        s.put_nack(g, entry_id, Nack(c.cid, now, 1), None if old is None else old.cid)
        repl.also(db, _xclaim_op(key, g, c.name, entry_id, now, 1))
    if noack and g.last != last:
        repl.also(db, _setid_op(key, g))
    return out


def _xclaim_op(
    key: bytes, g: Group, consumer: bytes, entry_id: ID | bytes, time: int, count: int
) -> list[bytes]:
    """The XCLAIM a replica applies for a pending entry given to `consumer`
    (streamPropagateXCLAIM)."""
    return [
        b"XCLAIM", key, g.name, consumer, b"0",
        entry_id if isinstance(entry_id, bytes) else id_text(entry_id), b"TIME", b"%d" % time,
        b"RETRYCOUNT", b"%d" % count, b"FORCE", b"JUSTID", b"LASTID", id_text(g.last),
    ]  # fmt: skip


def _setid_op(key: bytes, g: Group) -> list[bytes]:
    """The XGROUP SETID a replica applies when a group moved (streamPropagateGroupID)."""
    return [
        b"XGROUP",
        b"SETID",
        key,
        g.name,
        id_text(g.last),
        b"ENTRIESREAD",
        b"%d" % g.entries_read,
    ]


class _Owners:
    """The consumers one command changes, by number: loaded once, written once (their
    pending counts move as entries change hands)."""

    def __init__(self, s: Stream, g: Group) -> None:
        self.s, self.g = s, g
        self.by_cid: dict[int, S.Consumer] = {}

    def add(self, c: S.Consumer) -> S.Consumer:
        return self.by_cid.setdefault(c.cid, c)

    def get(self, cid: int) -> S.Consumer:
        c = self.by_cid.get(cid)
        if c is None:
            c = self.by_cid[cid] = self.s.consumer_of(self.g, cid)
        return c

    def flush(self) -> None:
        for c in self.by_cid.values():
            self.s.put_consumer(self.g, c)


def _history(s: Stream, g: Group, c: S.Consumer, start: ID, count: int) -> list[Any]:
    """streamReplyWithRangeFromConsumerPEL: the consumer's pending entries from `start`;
    each one still in the stream counts one more delivery."""
    out: list[Any] = []
    now = now_ms()
    for entry_id in list(s.consumer_pel(g, c.cid, start, MAX_ID)):
        if count and len(out) >= count:
            break
        pairs = s.get(entry_id)
        if pairs is None:
            out.append([id_text(entry_id), NULL_ARRAY])
            continue
        out.append(_entry(entry_id, pairs))
        nack = s.nack(g, entry_id)
        if nack is not None:
            nack.time = now
            nack.count += 1
            s.put_nack(g, entry_id, nack, nack.cid)
    return out


def _read_one(ctx: Ctx, r: _Read, key: bytes, s: Stream, gt: ID, history: bool) -> list[Any]:
    """The entries one stream gives a read that is served now."""
    start = S.incr(gt) or ZERO_ID
    if r.group is None:
        return _entries(s, start, MAX_ID, r.count)
    g = s.group(r.group)
    assert g is not None
    owners = _Owners(s, g)
    known = s.consumer(g, r.consumer) is not None
    c = owners.add(_consumer(ctx, key, s, g, r.consumer))
    if not known and r.noack:  # a NOACK read's consumer has no XCLAIM to create it
        ctx.ks.repl.also(ctx.session.db, [b"XGROUP", b"CREATECONSUMER", key, g.name, c.name])
    if history:
        entries = _history(s, g, c, start, r.count)
    else:
        entries = _deliver_new(ctx, key, s, g, owners, c, start, r.count, r.noack)
    owners.flush()
    s.put_group(g)
    _save(ctx, key, s)
    return entries


def _shape(ctx: Ctx, served: list[tuple[bytes, list[Any]]]) -> Any:
    """[[key, entries], ...] in RESP2, {key: entries} in RESP3."""
    if ctx.session.resp >= 3:
        return dict(served)
    return [[k, e] for k, e in served]


def _xread(ctx: Ctx, argv: list[bytes], grouped: bool) -> Any:
    r = _read_args(ctx, argv, grouped)
    if grouped:
        ctx.ks.repl.prevent()  # replicated as what it did to each group (_deliver_new)
    served: list[tuple[bytes, list[Any]]] = []
    for key, gt in zip(r.keys, r.ids, strict=True):
        s = _open(ctx, key, read=True)
        if s is None:
            continue
        history = False
        if r.group is not None:
            if gt != MAX_ID:
                history = True
            else:
                g = s.group(r.group)
                assert g is not None
                top = s.last_valid() if s.length else None
                if top is None or top <= g.last:
                    continue
                gt = g.last
        else:
            top = s.last_valid() if s.length else None
            if top is None or top <= gt:
                continue
        served.append((key, _read_one(ctx, r, key, s, gt, history)))
    if served:
        return _shape(ctx, served)
    if r.deadline is None:
        return NULL_ARRAY
    if r.count == 0:
        r.count = _READ_BLOCKED_COUNT
    blocked_on = dict(zip(r.keys, r.ids, strict=True))
    return Block(list(r.keys), r.deadline, NULL_ARRAY, _serve_read(r, blocked_on))


def _serve_read(r: _Read, blocked_on: dict[bytes, ID]) -> Callable[[Ctx, bytes], Any]:
    """serveClientsBlockedOnStreamKey for one waiting reader."""

    def serve(ctx: Ctx, key: bytes) -> Any:
        meta = ctx.lookup(key, read=False, notify_miss=False)
        if meta is None or meta.type != S.CODE:
            if r.group is not None:
                return RedisError("UNBLOCKED the stream key no longer exists")
            return None
        s = Stream(ctx.ks, meta, ctx.config)
        gt = blocked_on[key]
        if r.group is not None:
            g = s.group(r.group)
            if g is None:
                return RedisError(
                    "NOGROUP the consumer group this client was blocked on no longer exists"
                )
            gt = g.last
        if s.last <= gt:
            return None
        return _shape(ctx, [(key, _read_one(ctx, r, key, s, gt, False))])

    return serve


_STREAMS_ARG = block(
    "streams", arg("key", "key", "multiple"), arg("id", "string", "multiple"), tok="STREAMS"
)


@command(
    "xread",
    -4,
    "readonly blocking",
    group=_X,
    since="5.0.0",
    complexity="For each stream mentioned: O(N) with N being the number of elements "
    "being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note "
    "that when the BLOCK option is used, XADD will pay O(M) time in order to "
    "serve the M clients blocked on the stream getting new data.",
    summary="Returns messages from multiple streams with IDs greater than the ones "
    "requested. Blocks until a message is available otherwise.",
    keys=(KeySpec(("RO", "access"), ("keyword", "STREAMS", 1), ("range", -1, 1, 2)),),
    args=(
        arg("count", "integer", "optional", token="COUNT"),
        arg("milliseconds", "integer", "optional", token="BLOCK"),
        _STREAMS_ARG,
    ),
)
def xread(ctx: Ctx, argv: list[bytes]) -> Any:
    """XREAD [COUNT n] [BLOCK ms] STREAMS key [...] id [...] -> {key: entries}, or nil."""
    return _xread(ctx, argv, False)


@command(
    "xreadgroup",
    -7,
    "write blocking",
    group=_X,
    since="5.0.0",
    complexity="For each stream mentioned: O(M) with M being the number of elements "
    "returned. If M is constant (e.g. always asking for the first 10 elements "
    "with COUNT), you can consider it O(1). On the other side when XREADGROUP "
    "blocks, XADD will pay the O(N) time in order to serve the N clients "
    "blocked on the stream getting new data.",
    summary="Returns new or historical messages from a stream for a consumer in a group. "
    "Blocks until a message is available otherwise.",
    keys=(KeySpec(("RO", "access"), ("keyword", "STREAMS", 4), ("range", -1, 1, 2)),),
    args=(
        block("group-block", arg("group"), arg("consumer"), tok="GROUP"),
        arg("count", "integer", "optional", token="COUNT"),
        arg("milliseconds", "integer", "optional", token="BLOCK"),
        token("NOACK", "optional"),
        _STREAMS_ARG,
    ),
)
def xreadgroup(ctx: Ctx, argv: list[bytes]) -> Any:
    """XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key [...] id [...] ->
    {key: entries}, or nil."""
    return _xread(ctx, argv, True)


# -- XGROUP --------------------------------------------------------------------------------
container(
    "xgroup",
    group=_X,
    since="5.0.0",
    summary="A container for consumer groups commands.",
    complexity="Depends on subcommand.",
)


def _xgroup_common(
    ctx: Ctx, argv: list[bytes], create: bool, setid: bool
) -> tuple[Stream | None, Group | None, bool, int]:
    """The checks xgroupCommand makes before its subcommand: options, key, group."""
    mkstream = False
    entries_read = S.INVALID_READ
    i = 5
    while i < len(argv):
        opt = argv[i].lower()
        if create and opt == b"mkstream":
            mkstream = True
            i += 1
        elif (create or setid) and opt == b"entriesread" and i + 1 < len(argv):
            entries_read = parse_int(argv[i + 1])
            if entries_read < 0 and entries_read != S.INVALID_READ:
                raise errors.err("value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise errors.unknown_subcommand_or_arity("xgroup", argv[1])
    s = _open(ctx, argv[2])
    g = None
    if not mkstream:
        if s is None:
            raise errors.err(
                "The XGROUP subcommand requires the key to exist. Note that for "
                "CREATE you may want to use the MKSTREAM option to create an "
                "empty stream automatically."
            )
        g = s.group(argv[3])
        if g is None and not create and argv[1].lower() != b"destroy":
            raise RedisError(
                "NOGROUP No such consumer group '%s' for key name '%s'"
                % (errors.c_text(argv[3]), errors.c_text(argv[2]))
            )
    elif s is not None:
        g = s.group(argv[3])
    return s, g, mkstream, entries_read


_GROUP_KEY = (keys_at("RW insert", index=2),)


@command(
    "xgroup|create",
    -5,
    "write denyoom",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="Creates a consumer group.",
    keys=_GROUP_KEY,
    history=(("7.0.0", "Added the `entries_read` named argument."),),
    args=(
        arg("key", "key"),
        arg("group"),
        oneof("id-selector", arg("id"), token("$")),
        token("MKSTREAM", "optional"),
        arg("entries-read", "integer", "optional", token="ENTRIESREAD"),
    ),
)
def xgroup_create(ctx: Ctx, argv: list[bytes]) -> str:
    """XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n] -> OK."""
    s, g, _, entries_read = _xgroup_common(ctx, argv, True, False)
    if len(argv) > 8:
        raise errors.unknown_subcommand_or_arity("xgroup", argv[1])
    if argv[4] == b"$":
        last = s.last if s is not None else ZERO_ID
    else:
        last = _strict(argv[4])
    if s is None:
        s = Stream(ctx.ks, None, ctx.config)
    if g is not None:
        raise RedisError("BUSYGROUP Consumer Group name already exists")
    s.create_group(argv[3], last, entries_read)
    _save(ctx, argv[2], s)
    ctx.notify(NOTIFY_STREAM, b"xgroup-create", argv[2])
    return "OK"


@command(
    "xgroup|setid",
    -5,
    "write",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="Sets the last-delivered ID of a consumer group.",
    keys=(keys_at("RW update", index=2),),
    history=(("7.0.0", "Added the optional `entries_read` argument."),),
    args=(
        arg("key", "key"),
        arg("group"),
        oneof("id-selector", arg("id"), token("$")),
        arg("entriesread", "integer", "optional", token="ENTRIESREAD"),
    ),
)
def xgroup_setid(ctx: Ctx, argv: list[bytes]) -> str:
    """XGROUP SETID key group id|$ [ENTRIESREAD n] -> OK."""
    s, g, _, entries_read = _xgroup_common(ctx, argv, False, True)
    if len(argv) not in (5, 7):
        raise errors.unknown_subcommand_or_arity("xgroup", argv[1])
    assert s is not None and g is not None
    g.last = s.last if argv[4] == b"$" else parse_id(argv[4])[0]
    g.entries_read = entries_read
    s.put_group(g)
    _save(ctx, argv[2], s)
    ctx.notify(NOTIFY_STREAM, b"xgroup-setid", argv[2])
    return "OK"


@command(
    "xgroup|destroy",
    4,
    "write",
    group=_X,
    since="5.0.0",
    complexity="O(N) where N is the number of entries in the group's pending entries list (PEL).",
    summary="Destroys a consumer group.",
    keys=(keys_at("RW delete", index=2),),
    args=(arg("key", "key"), arg("group")),
)
def xgroup_destroy(ctx: Ctx, argv: list[bytes]) -> int:
    """XGROUP DESTROY key group -> 1 if it was there, else 0."""
    s, g, _, _ = _xgroup_common(ctx, argv, False, False)
    if s is None or g is None:
        return 0
    s.destroy_group(g)
    _save(ctx, argv[2], s)  # readers blocked in the group learn it is gone
    ctx.notify(NOTIFY_STREAM, b"xgroup-destroy", argv[2])
    return 1


@command(
    "xgroup|createconsumer",
    5,
    "write denyoom",
    group=_X,
    since="6.2.0",
    complexity="O(1)",
    summary="Creates a consumer in a consumer group.",
    keys=_GROUP_KEY,
    args=(arg("key", "key"), arg("group"), arg("consumer")),
)
def xgroup_createconsumer(ctx: Ctx, argv: list[bytes]) -> int:
    """XGROUP CREATECONSUMER key group consumer -> 1 if created, 0 if it existed."""
    s, g, _, _ = _xgroup_common(ctx, argv, False, False)
    assert s is not None and g is not None
    if s.consumer(g, argv[4]) is not None:
        return 0
    s.create_consumer(g, argv[4], now_ms())
    s.put_group(g)
    _save(ctx, argv[2], s)
    ctx.notify(NOTIFY_STREAM, b"xgroup-createconsumer", argv[2])
    return 1


@command(
    "xgroup|delconsumer",
    5,
    "write",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="Deletes a consumer from a consumer group.",
    keys=(keys_at("RW delete", index=2),),
    args=(arg("key", "key"), arg("group"), arg("consumer")),
)
def xgroup_delconsumer(ctx: Ctx, argv: list[bytes]) -> int:
    """XGROUP DELCONSUMER key group consumer -> its pending entries (now dropped)."""
    s, g, _, _ = _xgroup_common(ctx, argv, False, False)
    assert s is not None and g is not None
    c = s.consumer(g, argv[4])
    if c is None:
        return 0
    pending = c.pending
    s.delete_consumer(g, c)
    s.put_group(g)
    _save(ctx, argv[2], s)
    ctx.notify(NOTIFY_STREAM, b"xgroup-delconsumer", argv[2])
    return pending


help_command(
    "xgroup",
    [
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    ],
    group=_X,
    since="5.0.0",
)


# -- XSETID XACK XPENDING ------------------------------------------------------------------
@command(
    "xsetid",
    -3,
    "write denyoom fast",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="An internal command for replicating stream values.",
    keys=(keys_at("RW update"),),
    history=(("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),),
    args=(
        arg("key", "key"),
        arg("last-id"),
        arg("entries-added", "integer", "optional", token="ENTRIESADDED", since="7.0.0"),
        arg("max-deleted-id", "string", "optional", token="MAXDELETEDID", since="7.0.0"),
    ),
)
def xsetid(ctx: Ctx, argv: list[bytes]) -> str:
    """XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id] -> OK."""
    last = _strict(argv[2])
    added = -1
    max_deleted = ZERO_ID
    i = 3
    while i < len(argv):
        more = len(argv) - 1 - i
        opt = argv[i].lower()
        if opt == b"entriesadded" and more:
            added = parse_int(argv[i + 1])
            if added < 0:
                raise errors.err("entries_added must be positive")
        elif opt == b"maxdeletedid" and more:
            max_deleted = _strict(argv[i + 1])
            if last < max_deleted:
                raise errors.err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
                )
        else:
            raise RedisError(errors.SYNTAX)
        i += 2
    s = _open(ctx, argv[1])
    if s is None:
        raise RedisError(errors.NO_SUCH_KEY)
    if s.length:
        top = s.last_valid()
        if top is not None and last < top:
            raise errors.err(
                "The ID specified in XSETID is smaller than the target stream top item"
            )
        if added != -1 and s.length > added:
            raise errors.err(
                "The entries_added specified in XSETID is smaller than the target stream length"
            )
    s.last = last
    if added != -1:
        s.added = added
    if max_deleted != ZERO_ID:
        s.max_deleted = max_deleted
    _save(ctx, argv[1], s)
    ctx.notify(NOTIFY_STREAM, b"xsetid", argv[1])
    return "OK"


@command(
    "xack",
    -4,
    "write fast",
    group=_X,
    since="5.0.0",
    complexity="O(1) for each message ID processed.",
    summary="Returns the number of messages that were successfully acknowledged by the "
    "consumer group member of a stream.",
    keys=(keys_at("RW update"),),
    args=(arg("key", "key"), arg("group"), arg("id", "string", "multiple")),
)
def xack(ctx: Ctx, argv: list[bytes]) -> int:
    """XACK key group id [id ...] -> entries acknowledged."""
    s = _open(ctx, argv[1], read=True)
    g = None if s is None else s.group(argv[2])
    if s is None or g is None:
        return 0
    ids = [_strict(raw) for raw in argv[3:]]
    done = 0
    owners = _Owners(s, g)
    for entry_id in ids:
        nack = s.nack(g, entry_id)
        if nack is not None:
            s.drop_nack(g, entry_id, nack)
            owners.get(nack.cid).pending -= 1
            done += 1
    if done:
        owners.flush()
        s.put_group(g)
        _save(ctx, argv[1], s)
    return done


@command(
    "xpending",
    -3,
    "readonly",
    group=_X,
    since="5.0.0",
    complexity="O(N) with N being the number of elements returned, so asking for a small "
    "fixed number of entries per call is O(1). O(M), where M is the total "
    "number of entries scanned when used with the IDLE filter. When the "
    "command returns just the summary and the list of consumers is small, it "
    "runs in O(1) time; otherwise, an additional O(N) time for iterating "
    "every consumer.",
    summary="Returns the information and entries from a stream consumer group's pending "
    "entries list.",
    tips="nondeterministic_output",
    keys=(keys_at("RO access"),),
    history=(("6.2.0", "Added the `IDLE` option and exclusive range intervals."),),
    args=(
        arg("key", "key"),
        arg("group"),
        block(
            "filters",
            arg("min-idle-time", "integer", "optional", token="IDLE", since="6.2.0"),
            arg("start"),
            arg("end"),
            arg("count", "integer"),
            arg("consumer", "string", "optional"),
            flags=("optional",),
        ),
    ),
)
def xpending(ctx: Ctx, argv: list[bytes]) -> Any:
    """XPENDING key group [[IDLE ms] start end count [consumer]] -> a summary, or the
    pending entries [id, consumer, idle ms, deliveries]."""
    n = len(argv)
    if n != 3 and not 6 <= n <= 9:
        raise RedisError(errors.SYNTAX)
    minidle = count = 0
    start, end = ZERO_ID, MAX_ID
    consumer_name = None
    if n >= 6:
        at = 3
        if argv[3].lower() == b"idle":
            minidle = parse_int(argv[4])
            if n < 8:
                raise RedisError(errors.SYNTAX)
            at += 2
        count = max(parse_int(argv[at + 2]), 0)
        start = _interval(argv[at], 0, True)
        end = _interval(argv[at + 1], S.MAX, False)
        if at + 3 < n:
            consumer_name = argv[at + 3]
    s, g = _group_of(ctx, argv[1], argv[2])
    if n == 3:
        if not g.pending:
            return [0, None, None, NULL_ARRAY]
        first = next(s.pel(g, ZERO_ID, MAX_ID))[0]
        last = next(s.pel(g, ZERO_ID, MAX_ID, reverse=True))[0]
        owners = [[c.name, b"%d" % c.pending] for c in s.consumers(g) if c.pending]
        return [g.pending, id_text(first), id_text(last), owners]
    now = now_ms()
    out: list[Any] = []
    if consumer_name is not None:
        c = s.consumer(g, consumer_name)
        if c is None:
            return []
        items = ((i, s.nack(g, i)) for i in s.consumer_pel(g, c.cid, start, end))
    else:
        items = s.pel(g, start, end)  # type: ignore[assignment]
    names: dict[int, bytes] = {}
    for entry_id, nack in items:
        if count <= 0:
            break
        if nack is None:
            continue
        if minidle and now - nack.time < minidle:
            continue
        count -= 1
        name = names.get(nack.cid)
        if name is None:
            name = names[nack.cid] = s.consumer_name(g, nack.cid)
        out.append([id_text(entry_id), name, max(now - nack.time, 0), nack.count])
    return out


# -- XCLAIM XAUTOCLAIM ----------------------------------------------------------------------
def _claim(
    ctx: Ctx,
    key: bytes,
    s: Stream,
    g: Group,
    owners: _Owners,
    holder: list[S.Consumer | None],
    name: bytes,
    entry_id: ID,
    nack: Nack,
    old_cid: int | None,
    when: int,
    count: int | None,
) -> None:
    """Give pending entry `entry_id` (`old_cid`: its holder, None for a new one) to
    consumer `name`, looked up (or created) on first use; `holder` keeps it."""
    c = holder[0]
    if c is None:
        c = holder[0] = owners.add(_consumer(ctx, key, s, g, name))
    if old_cid != c.cid:
        if old_cid is not None:
            owners.get(old_cid).pending -= 1
        c.pending += 1
    nack.cid = c.cid
    nack.time = when
    if count is not None:
        nack.count = count
    s.put_nack(g, entry_id, nack, old_cid)


@command(
    "xclaim",
    -6,
    "write fast",
    group=_X,
    since="5.0.0",
    complexity="O(log N) with N being the number of messages in the PEL of the consumer group.",
    summary="Changes, or acquires, ownership of a message in a consumer group, as if the "
    "message was delivered a consumer group member.",
    tips="nondeterministic_output",
    keys=(keys_at("RW update"),),
    args=(
        arg("key", "key"),
        arg("group"),
        arg("consumer"),
        arg("min-idle-time"),
        arg("id", "string", "multiple"),
        arg("ms", "integer", "optional", token="IDLE"),
        arg("unix-time-milliseconds", "unix-time", "optional", token="TIME"),
        arg("count", "integer", "optional", token="RETRYCOUNT"),
        token("FORCE", "optional"),
        token("JUSTID", "optional"),
        arg("lastid", "string", "optional", token="LASTID"),
    ),
)
def xclaim(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """XCLAIM key group consumer min-idle id [...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
    [FORCE] [JUSTID] [LASTID id] -> the claimed entries (or IDs)."""
    key = argv[1]
    s, g = _group_of(ctx, key, argv[2])
    minidle = max(parse_int(argv[4], "ERR Invalid min-idle-time argument for XCLAIM"), 0)
    ids: list[ID] = []
    j = 5
    while j < len(argv):
        try:
            ids.append(_strict(argv[j]))
        except RedisError:
            break
        j += 1
    typed = dict(zip(ids, argv[5:j], strict=True))  # replicated with the IDs as typed
    now = now_ms()
    force = justid = False
    when: int | None = None
    retry: int | None = None
    last_id = ZERO_ID
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            when = now - parse_int(argv[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif opt == b"time" and more:
            j += 1
            when = parse_int(argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif opt == b"retrycount" and more:
            j += 1
            retry = parse_int(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif opt == b"lastid" and more:
            j += 1
            last_id = _strict(argv[j])
        else:
            raise errors.err("Unrecognized XCLAIM option '%s'" % errors.c_text(argv[j]))
        j += 1
    changed = False
    if last_id > g.last:
        g.last = last_id
        changed = True
    if when is None or when < 0 or when > now:
        when = now
    holder: list[S.Consumer | None] = [None]
    owners = _Owners(s, g)
    out: list[Any] = []
    repl, db = ctx.ks.repl, ctx.session.db
    repl.prevent()  # replicated as one forced XCLAIM per entry it changed
    claims = 0
    for entry_id in ids:
        nack = s.nack(g, entry_id)
        pairs = s.get(entry_id)
        if pairs is None:
            if nack is not None:
                s.drop_nack(g, entry_id, nack)
                gone = owners.get(nack.cid)
                gone.pending -= 1
                changed = True
                claims += 1
                repl.also(db, _xclaim_op(key, g, gone.name, typed[entry_id], nack.time, nack.count))
            continue
        old_cid: int | None = None
        if nack is None:
            if not force:
                continue
            nack = Nack(0, now, 1)  # FORCE: pending from now on, with no owner yet
        else:
            old_cid = nack.cid
            if minidle and now - nack.time < minidle:
                continue
        count = retry if retry is not None and retry >= 0 else (None if justid else nack.count + 1)
        _claim(ctx, key, s, g, owners, holder, argv[3], entry_id, nack, old_cid, when, count)
        out.append(id_text(entry_id) if justid else _entry(entry_id, pairs))
        changed = True
        claims += 1
        repl.also(db, _xclaim_op(key, g, argv[3], typed[entry_id], nack.time, nack.count))
    if last_id == g.last and not claims and last_id != ZERO_ID:
        repl.also(db, _setid_op(key, g))  # only LASTID moved the group
    if changed or holder[0] is not None:
        owners.flush()
        s.put_group(g)
        _save(ctx, key, s)
    return out


_ATTEMPTS_FACTOR = 10


@command(
    "xautoclaim",
    -6,
    "write fast",
    group=_X,
    since="6.2.0",
    complexity="O(1) if COUNT is small.",
    summary="Changes, or acquires, ownership of messages in a consumer group, as if the "
    "messages were delivered to as consumer group member.",
    tips="nondeterministic_output",
    keys=(keys_at("RW delete"),),
    history=(
        (
            "7.0.0",
            "Added an element to the reply array, containing deleted entries "
            "the command cleared from the PEL",
        ),
    ),
    args=(
        arg("key", "key"),
        arg("group"),
        arg("consumer"),
        arg("min-idle-time"),
        arg("start"),
        arg("count", "integer", "optional", token="COUNT"),
        token("JUSTID", "optional"),
    ),
)
def xautoclaim(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID] -> [next start,
    claimed entries (or IDs), IDs no longer in the stream]."""
    key = argv[1]
    minidle = max(parse_int(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = _interval(argv[5], 0, True)
    count, justid = 100, False
    j = 6
    max_count = ((1 << 63) - 1) // 16
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"count" and more:
            count = parse_int(argv[j + 1], errors.COUNT_POSITIVE)
            if not 1 <= count <= max_count:
                raise RedisError(errors.COUNT_POSITIVE)
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    s, g = _group_of(ctx, key, argv[2])
    attempts = count * _ATTEMPTS_FACTOR
    now = now_ms()
    holder: list[S.Consumer | None] = [None]
    owners = _Owners(s, g)
    claimed: list[Any] = []
    deleted: list[bytes] = []
    pending = iter(list(itertools.islice(s.pel(g, start, MAX_ID), attempts + 1)))
    nxt: tuple[ID, Nack] | None = None
    repl, db = ctx.ks.repl, ctx.session.db
    repl.prevent()  # replicated as one forced XCLAIM per entry it changed
    while True:
        if attempts <= 0 or count <= 0:
            attempts -= 1
            nxt = next(pending, None)
            break
        attempts -= 1
        item = next(pending, None)
        if item is None:
            break
        entry_id, nack = item
        pairs = s.get(entry_id)
        if pairs is None:
            s.drop_nack(g, entry_id, nack)
            gone = owners.get(nack.cid)
            gone.pending -= 1
            deleted.append(id_text(entry_id))
            count -= 1
            repl.also(db, _xclaim_op(key, g, gone.name, entry_id, nack.time, nack.count))
            continue
        if minidle and now - nack.time < minidle:
            continue
        _claim(
            ctx,
            key,
            s,
            g,
            owners,
            holder,
            argv[3],
            entry_id,
            nack,
            nack.cid,
            now,
            None if justid else nack.count + 1,
        )
        claimed.append(id_text(entry_id) if justid else _entry(entry_id, pairs))
        count -= 1
        repl.also(db, _xclaim_op(key, g, argv[3], entry_id, nack.time, nack.count))
    if claimed or deleted or holder[0] is not None:
        owners.flush()
        s.put_group(g)
        _save(ctx, key, s)
    next_start = id_text(nxt[0]) if nxt is not None else b"0-0"
    return [next_start, claimed, deleted]


# -- XINFO --------------------------------------------------------------------------------
container(
    "xinfo",
    group=_X,
    since="5.0.0",
    summary="A container for stream introspection commands.",
    complexity="Depends on subcommand.",
)


def _info_stream(ctx: Ctx, key: bytes) -> Stream:
    s = _open(ctx, key, read=True)
    if s is None:
        raise RedisError(errors.NO_SUCH_KEY)
    return s


@command(
    "xinfo|consumers",
    4,
    "readonly",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="Returns a list of the consumers in a consumer group.",
    tips="nondeterministic_output",
    keys=(keys_at("RO access", index=2),),
    args=(arg("key", "key"), arg("group")),
)
def xinfo_consumers(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """XINFO CONSUMERS key group -> name, pending and idle ms of each consumer."""
    s = _info_stream(ctx, argv[2])
    g = s.group(argv[3])
    if g is None:
        raise RedisError(
            "NOGROUP No such consumer group '%s' for key name '%s'"
            % (errors.c_text(argv[3]), errors.c_text(argv[2]))
        )
    now = now_ms()
    return [
        {b"name": c.name, b"pending": c.pending, b"idle": max(now - c.seen, 0)}
        for c in s.consumers(g)
    ]


def _read_count(g: Group) -> int | None:
    return None if g.entries_read == S.INVALID_READ else g.entries_read


@command(
    "xinfo|groups",
    3,
    "readonly",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="Returns a list of the consumer groups of a stream.",
    keys=(keys_at("RO access", index=2),),
    history=(("7.0.0", "Added the `entries-read` and `lag` fields"),),
    args=(arg("key", "key"),),
)
def xinfo_groups(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """XINFO GROUPS key -> name, consumers, pending, last delivered ID, entries read and
    lag of each group."""
    s = _info_stream(ctx, argv[2])
    return [
        {
            b"name": g.name,
            b"consumers": g.consumers,
            b"pending": g.pending,
            b"last-delivered-id": id_text(g.last),
            b"entries-read": _read_count(g),
            b"lag": s.lag(g),
        }
        for g in s.all_groups()
    ]


@command(
    "xinfo|stream",
    -3,
    "readonly",
    group=_X,
    since="5.0.0",
    complexity="O(1)",
    summary="Returns information about a stream.",
    keys=(keys_at("RO access", index=2),),
    history=(
        ("6.0.0", "Added the `FULL` modifier."),
        (
            "7.0.0",
            "Added the `max-deleted-entry-id`, `entries-added`, "
            "`recorded-first-entry-id`, `entries-read` and `lag` fields",
        ),
    ),
    args=(
        arg("key", "key"),
        block(
            "full-block",
            token("FULL"),
            arg("count", "integer", "optional", token="COUNT"),
            flags=("optional",),
        ),
    ),
)
def xinfo_stream(ctx: Ctx, argv: list[bytes]) -> dict[bytes, Any]:
    """XINFO STREAM key [FULL [COUNT n]] -> the stream's figures (and with FULL its
    entries, groups, consumers and pending entries, up to COUNT of each)."""
    s = _info_stream(ctx, argv[2])
    opts = argv[3:]
    full, count = bool(opts), 10
    if opts:
        if (
            len(opts) not in (1, 3)
            or opts[0].lower() != b"full"
            or (len(opts) == 3 and opts[1].lower() != b"count")
        ):
            raise errors.unknown_subcommand_or_arity("xinfo", argv[1])
        if len(opts) == 3:
            count = parse_int(opts[2])
            if count < 0:
                count = 10
    out: dict[bytes, Any] = {
        b"length": s.length,
        b"radix-tree-keys": s.nodes,
        b"radix-tree-nodes": s.rax_nodes(),
        b"last-generated-id": id_text(s.last),
        b"max-deleted-entry-id": id_text(s.max_deleted),
        b"entries-added": s.added,
        b"recorded-first-entry-id": id_text(s.first),
    }
    if not full:
        out[b"groups"] = s.groups
        first = _entries(s, ZERO_ID, MAX_ID, 1)
        last = _entries(s, ZERO_ID, MAX_ID, 1, reverse=True)
        out[b"first-entry"] = first[0] if first else None
        out[b"last-entry"] = last[0] if last else None
        return out
    out[b"entries"] = _entries(s, ZERO_ID, MAX_ID, count)
    out[b"groups"] = [_full_group(s, g, count) for g in s.all_groups()]
    return out


def _full_group(s: Stream, g: Group, count: int) -> dict[bytes, Any]:
    pending: list[Any] = []
    names: dict[int, bytes] = {}
    for entry_id, nack in s.pel(g, ZERO_ID, MAX_ID):
        if count and len(pending) >= count:
            break
        name = names.get(nack.cid)
        if name is None:
            name = names[nack.cid] = s.consumer_name(g, nack.cid)
        pending.append([id_text(entry_id), name, nack.time, nack.count])
    consumers = []
    for c in s.consumers(g):
        mine: list[Any] = []
        for entry_id in s.consumer_pel(g, c.cid, ZERO_ID, MAX_ID):
            if count and len(mine) >= count:
                break
            owned = s.nack(g, entry_id)
            assert owned is not None
            mine.append([id_text(entry_id), owned.time, owned.count])
        consumers.append(
            {b"name": c.name, b"seen-time": c.seen, b"pel-count": c.pending, b"pending": mine}
        )
    return {
        b"name": g.name,
        b"last-delivered-id": id_text(g.last),
        b"entries-read": _read_count(g),
        b"lag": s.lag(g),
        b"pel-count": g.pending,
        b"pending": pending,
        b"consumers": consumers,
    }


help_command(
    "xinfo",
    [
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    ],
    group=_X,
    since="5.0.0",
)
