"""List commands (Redis group "list"): every element its own record, so pushes and pops
at either end are O(1) whatever the length. A blocking command that has to wait
returns a `Block`; the lane parks the client and runs the command again when a key it
waits on is written (first blocked, first served), or answers nil at the timeout.

Room: what each list command means, over `keyspace.types.lists` (the records).
Imports: `resp.values`, `commands` helpers, `keyspace`, `errors`. Replies and errors
are Redis 7.0's (t_list.c).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diskredis import errors
from diskredis.commands.args import (
    clamp_range,
    parse_int,
    parse_mpop,
    parse_positive,
    parse_timeout_ms,
)
from diskredis.commands.context import Block, Ctx
from diskredis.commands.generic import lookup_typed
from diskredis.commands.registry import KeySpec, arg, command, keys_at, oneof, token
from diskredis.errors import RedisError
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_LIST
from diskredis.keyspace.types import Meta
from diskredis.keyspace.types import lists as T
from diskredis.resp.values import NULL_ARRAY

_L = "list"
_LONG_MAX = 2**63 - 1


def _list_of(ctx: Ctx, key: bytes, meta: Meta | None) -> T.List:
    return T.List(ctx.ks, key, meta)


def _save(ctx: Ctx, lst: T.List, event: bytes) -> None:
    """Write the list back (an emptied list is deleted), then announce `event` (and
    "del" for a list that went away)."""
    kept = lst.save(ctx.session.db)
    ctx.notify(NOTIFY_LIST, event, lst.key)
    if not kept:
        ctx.notify(NOTIFY_GENERIC, b"del", lst.key)


_SIDE = {True: b"left", False: b"right"}
_PUSHED = {True: b"lpush", False: b"rpush"}  # event of a push, by side (left?)
_POPPED = {True: b"lpop", False: b"rpop"}


def list_range(ctx: Ctx, meta: Meta, start: int, stop: int, reverse: bool = False) -> list[bytes]:
    """Elements start..stop (normalised, inclusive) of the list `meta`, in order or
    reversed (SORT reads lists through this)."""
    return _list_of(ctx, b"", meta).range(start, stop, reverse)


def store_list(ctx: Ctx, key: bytes, values: list[bytes], event: bytes) -> None:
    """Replace `key` by a list of `values` and announce `event`; with no values the key
    is deleted ("del")."""
    if not values:
        if ctx.ks.remove(ctx.session.db, key):
            ctx.notify(NOTIFY_GENERIC, b"del", key)
        return
    lst = _list_of(ctx, key, None)
    for value in values:
        lst.push(value, False)
    _save(ctx, lst, event)  # replaces the old value in place


def _lookup(ctx: Ctx, key: bytes) -> Meta | None:
    return lookup_typed(ctx, key, T.CODE)


def _open(ctx: Ctx, key: bytes) -> T.List | None:
    meta = _lookup(ctx, key)
    return None if meta is None else _list_of(ctx, key, meta)


def _push(ctx: Ctx, argv: list[bytes], left: bool, only_existing: bool) -> int:
    meta = _lookup(ctx, argv[1])
    if meta is None and only_existing:
        return 0
    lst = T.List(ctx.ks, argv[1], meta)
    for value in argv[2:]:
        lst.push(value, left)
    lst.save(ctx.session.db)  # a push leaves the list non-empty: no "del"
    ctx.notify(NOTIFY_LIST, _PUSHED[left], argv[1])
    return lst.count


_PUSH_KEYS = (keys_at("RW insert"),)
_PUSH_DOC = (
    "O(1) for each element added, so O(N) to add N elements when the command is "
    "called with multiple arguments."
)


@command(
    "lpush",
    -3,
    "write denyoom fast",
    group=_L,
    since="1.0.0",
    complexity=_PUSH_DOC,
    summary="Prepends one or more elements to a list. Creates the key if it doesn't exist.",
    keys=_PUSH_KEYS,
    history=(("2.4.0", "Accepts multiple `element` arguments."),),
    args=(arg("key", "key"), arg("element", "string", "multiple")),
)
def lpush(ctx: Ctx, argv: list[bytes]) -> int:
    """LPUSH key element [element ...] -> the new length."""
    return _push(ctx, argv, True, False)


@command(
    "rpush",
    -3,
    "write denyoom fast",
    group=_L,
    since="1.0.0",
    complexity=_PUSH_DOC,
    summary="Appends one or more elements to a list. Creates the key if it doesn't exist.",
    keys=_PUSH_KEYS,
    history=(("2.4.0", "Accepts multiple `element` arguments."),),
    args=(arg("key", "key"), arg("element", "string", "multiple")),
)
def rpush(ctx: Ctx, argv: list[bytes]) -> int:
    """RPUSH key element [element ...] -> the new length."""
    return _push(ctx, argv, False, False)


@command(
    "lpushx",
    -3,
    "write denyoom fast",
    group=_L,
    since="2.2.0",
    complexity=_PUSH_DOC,
    summary="Prepends one or more elements to a list only when the list exists.",
    keys=_PUSH_KEYS,
    history=(("4.0.0", "Accepts multiple `element` arguments."),),
    args=(arg("key", "key"), arg("element", "string", "multiple")),
)
def lpushx(ctx: Ctx, argv: list[bytes]) -> int:
    """LPUSHX key element [element ...] -> the new length, 0 if there is no list."""
    return _push(ctx, argv, True, True)


@command(
    "rpushx",
    -3,
    "write denyoom fast",
    group=_L,
    since="2.2.0",
    complexity=_PUSH_DOC,
    summary="Appends an element to a list only when the list exists.",
    keys=_PUSH_KEYS,
    history=(("4.0.0", "Accepts multiple `element` arguments."),),
    args=(arg("key", "key"), arg("element", "string", "multiple")),
)
def rpushx(ctx: Ctx, argv: list[bytes]) -> int:
    """RPUSHX key element [element ...] -> the new length, 0 if there is no list."""
    return _push(ctx, argv, False, True)


def _pop(ctx: Ctx, argv: list[bytes], left: bool) -> Any:
    if len(argv) > 3:
        raise errors.wrong_arity(ctx.name)
    count = None
    if len(argv) == 3:
        count = parse_positive(argv[2])
    lst = _open(ctx, argv[1])
    if lst is None:
        return NULL_ARRAY if count is not None else None
    if count is None:
        value = lst.pop(left)
        _save(ctx, lst, _POPPED[left])
        return value
    if count == 0:
        return []
    out = [lst.pop(left) for _ in range(min(count, lst.count))]
    _save(ctx, lst, _POPPED[left])
    return out


_POP_KEYS = (keys_at("RW access delete"),)


@command(
    "lpop",
    -2,
    "write fast",
    group=_L,
    since="1.0.0",
    complexity="O(N) where N is the number of elements returned",
    summary="Returns the first elements in a list after removing it. Deletes the list "
    "if the last element was popped.",
    keys=_POP_KEYS,
    history=(("6.2.0", "Added the `count` argument."),),
    args=(arg("key", "key"), arg("count", "integer", "optional", since="6.2.0")),
)
def lpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """LPOP key [count] -> the first element, or up to count of them."""
    return _pop(ctx, argv, True)


@command(
    "rpop",
    -2,
    "write fast",
    group=_L,
    since="1.0.0",
    complexity="O(N) where N is the number of elements returned",
    summary="Returns and removes the last elements of a list. Deletes the list if the "
    "last element was popped.",
    keys=_POP_KEYS,
    history=(("6.2.0", "Added the `count` argument."),),
    args=(arg("key", "key"), arg("count", "integer", "optional", since="6.2.0")),
)
def rpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """RPOP key [count] -> the last element, or up to count of them."""
    return _pop(ctx, argv, False)


@command(
    "llen",
    2,
    "readonly fast",
    group=_L,
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the length of a list.",
    keys=(keys_at("RO"),),
    args=(arg("key", "key"),),
)
def llen(ctx: Ctx, argv: list[bytes]) -> int:
    """LLEN key -> the length."""
    lst = _open(ctx, argv[1])
    return 0 if lst is None else lst.count


def _index(lst: T.List, raw: bytes) -> int | None:
    i = parse_int(raw)
    if i < 0:
        i += lst.count
    return i if 0 <= i < lst.count else None


@command(
    "lindex",
    3,
    "readonly",
    group=_L,
    since="1.0.0",
    complexity="O(N) where N is the number of elements to traverse to get to the "
    "element at index. This makes asking for the first or the last element "
    "of the list O(1).",
    summary="Returns an element from a list by its index.",
    keys=(keys_at("RO access"),),
    args=(arg("key", "key"), arg("index", "integer")),
)
def lindex(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """LINDEX key index -> the element, or nil."""
    index = parse_int(argv[2])
    lst = _open(ctx, argv[1])
    if lst is None:
        return None
    i = _index(lst, b"%d" % index)
    return None if i is None else lst.get(i)


@command(
    "lset",
    4,
    "write denyoom",
    group=_L,
    since="1.0.0",
    complexity="O(N) where N is the length of the list. Setting either the first or the "
    "last element of the list is O(1).",
    summary="Sets the value of an element in a list by its index.",
    keys=(keys_at("RW update"),),
    args=(arg("key", "key"), arg("index", "integer"), arg("element")),
)
def lset(ctx: Ctx, argv: list[bytes]) -> str:
    """LSET key index element -> OK."""
    index = parse_int(argv[2])
    lst = _open(ctx, argv[1])
    if lst is None:
        raise RedisError(errors.NO_SUCH_KEY)
    i = _index(lst, b"%d" % index)
    if i is None:
        raise RedisError(errors.OUT_OF_RANGE)
    lst.set(i, argv[3])
    _save(ctx, lst, b"lset")
    return "OK"


@command(
    "lrange",
    4,
    "readonly",
    group=_L,
    since="1.0.0",
    complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, "
    "from nearest end (HEAD or TAIL) for large lists; and N is the number of "
    "elements in the specified range.",
    summary="Returns a range of elements from a list.",
    keys=(keys_at("RO access"),),
    args=(arg("key", "key"), arg("start", "integer"), arg("stop", "integer")),
)
def lrange(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """LRANGE key start stop -> the elements (inclusive, negative from the end)."""
    start, end = parse_int(argv[2]), parse_int(argv[3])
    lst = _open(ctx, argv[1])
    if lst is None:
        return []
    span = clamp_range(lst.count, start, end)
    return [] if span is None else lst.range(*span)


@command(
    "ltrim",
    4,
    "write",
    group=_L,
    since="1.0.0",
    complexity="O(N) where N is the number of elements to be removed by the operation.",
    summary="Removes elements from both ends a list. Deletes the list if all elements "
    "were trimmed.",
    keys=(keys_at("RW delete"),),
    args=(arg("key", "key"), arg("start", "integer"), arg("stop", "integer")),
)
def ltrim(ctx: Ctx, argv: list[bytes]) -> str:
    """LTRIM key start stop -> OK; keeps only that range."""
    start, end = parse_int(argv[2]), parse_int(argv[3])
    lst = _open(ctx, argv[1])
    if lst is None:
        return "OK"
    span = clamp_range(lst.count, start, end)
    left, right = (lst.count, 0) if span is None else (span[0], lst.count - span[1] - 1)
    for _ in range(left):
        lst.pop(True)
    for _ in range(min(right, lst.count)):
        lst.pop(False)
    _save(ctx, lst, b"ltrim")
    return "OK"


@command(
    "lrem",
    4,
    "write",
    group=_L,
    since="1.0.0",
    complexity="O(N+M) where N is the length of the list and M is the number of elements removed.",
    summary="Removes elements from a list. Deletes the list if the last element was removed.",
    keys=(keys_at("RW delete"),),
    args=(arg("key", "key"), arg("count", "integer"), arg("element")),
)
def lrem(ctx: Ctx, argv: list[bytes]) -> int:
    """LREM key count element -> how many were removed (count < 0: from the tail)."""
    count = parse_int(argv[2])
    lst = _open(ctx, argv[1])
    if lst is None:
        return 0
    values = lst.all()
    order = range(len(values) - 1, -1, -1) if count < 0 else range(len(values))
    doomed: set[int] = set()
    for i in order:
        if values[i] == argv[3]:
            doomed.add(i)
            if count and len(doomed) >= abs(count):
                break
    if doomed:
        lst.rewrite([v for i, v in enumerate(values) if i not in doomed])
        _save(ctx, lst, b"lrem")
    return len(doomed)


@command(
    "linsert",
    5,
    "write denyoom",
    group=_L,
    since="2.2.0",
    complexity="O(N) where N is the number of elements to traverse before seeing the "
    "value pivot. This means that inserting somewhere on the left end on the "
    "list (head) can be considered O(1) and inserting somewhere on the right "
    "end (tail) is O(N).",
    summary="Inserts an element before or after another element in a list.",
    keys=(keys_at("RW insert"),),
    args=(
        arg("key", "key"),
        oneof("where", token("BEFORE"), token("AFTER")),
        arg("pivot"),
        arg("element"),
    ),
)
def linsert(ctx: Ctx, argv: list[bytes]) -> int:
    """LINSERT key BEFORE|AFTER pivot element -> the new length, -1 without the pivot."""
    where = argv[2].lower()
    if where not in (b"before", b"after"):
        raise RedisError(errors.SYNTAX)
    lst = _open(ctx, argv[1])
    if lst is None:
        return 0
    values = lst.all()
    try:
        at = values.index(argv[3])
    except ValueError:
        return -1
    values.insert(at + (1 if where == b"after" else 0), argv[4])
    lst.rewrite(values)
    _save(ctx, lst, b"linsert")
    return lst.count


@command(
    "lpos",
    -3,
    "readonly",
    group=_L,
    since="6.0.6",
    complexity="O(N) where N is the number of elements in the list, for the average "
    "case. When searching for elements near the head or the tail of the list, "
    "or when the MAXLEN option is provided, the command may run in constant "
    "time.",
    summary="Returns the index of matching elements in a list.",
    keys=(keys_at("RO access"),),
    args=(
        arg("key", "key"),
        arg("element"),
        arg("rank", "integer", "optional", token="RANK"),
        arg("num-matches", "integer", "optional", token="COUNT"),
        arg("len", "integer", "optional", token="MAXLEN"),
    ),
)
def lpos(ctx: Ctx, argv: list[bytes]) -> Any:
    """LPOS key element [RANK rank] [COUNT n] [MAXLEN len] -> an index, or a list of them."""
    rank, count, maxlen = 1, -1, 0
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        if j + 1 >= len(argv):
            raise RedisError(errors.SYNTAX)
        if opt == b"rank":
            rank = parse_int(argv[j + 1])
            if rank == 0:
                raise errors.err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"
                )
        elif opt == b"count":
            count = parse_int(argv[j + 1], "ERR COUNT can't be negative")
            if count < 0:
                raise errors.err("COUNT can't be negative")
        elif opt == b"maxlen":
            maxlen = parse_int(argv[j + 1], "ERR MAXLEN can't be negative")
            if maxlen < 0:
                raise errors.err("MAXLEN can't be negative")
        else:
            raise RedisError(errors.SYNTAX)
        j += 2
    lst = _open(ctx, argv[1])
    if lst is None:
        return [] if count != -1 else None
    values = lst.all()
    from_tail = rank < 0
    skip = abs(rank) - 1
    order = range(len(values) - 1, -1, -1) if from_tail else range(len(values))
    found: list[int] = []
    for seen, i in enumerate(order):
        if maxlen and seen >= maxlen:
            break
        if values[i] == argv[2]:
            if skip:
                skip -= 1
                continue
            found.append(i)
            if count != -1 and count and len(found) >= count:
                break
            if count == -1:
                break
    if count == -1:
        return found[0] if found else None
    return found


def _side(raw: bytes) -> bool:
    word = raw.lower()
    if word == b"left":
        return True
    if word == b"right":
        return False
    raise RedisError(errors.SYNTAX)


def _move(ctx: Ctx, src: bytes, dst: bytes, from_left: bool, to_left: bool) -> bytes | None:
    source = _open(ctx, src)
    if source is None:
        return None
    dst_meta = _lookup(ctx, dst)
    value = source.pop(from_left)
    # As Redis: the push (and its events) first, then the pop's.
    if src == dst:
        source.push(value, to_left)
        _save(ctx, source, _PUSHED[to_left])
        ctx.notify(NOTIFY_LIST, _POPPED[from_left], src)
        return value
    target = _list_of(ctx, dst, dst_meta)
    target.push(value, to_left)
    _save(ctx, target, _PUSHED[to_left])
    _save(ctx, source, _POPPED[from_left])
    return value


@command(
    "lmove",
    5,
    "write denyoom",
    group=_L,
    since="6.2.0",
    complexity="O(1)",
    summary="Returns an element after popping it from one list and pushing it to "
    "another. Deletes the list if the last element was moved.",
    keys=(keys_at("RW access delete"), keys_at("RW insert", index=2)),
    args=(
        arg("source", "key"),
        arg("destination", "key"),
        oneof("wherefrom", token("LEFT"), token("RIGHT")),
        oneof("whereto", token("LEFT"), token("RIGHT")),
    ),
)
def lmove(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """LMOVE source destination LEFT|RIGHT LEFT|RIGHT -> the element moved, or nil."""
    return _move(ctx, argv[1], argv[2], _side(argv[3]), _side(argv[4]))


@command(
    "rpoplpush",
    3,
    "write denyoom",
    group=_L,
    since="1.2.0",
    complexity="O(1)",
    summary="Returns the last element of a list after removing and pushing it to "
    "another list. Deletes the list if the last element was popped.",
    keys=(keys_at("RW access delete"), keys_at("RW insert", index=2)),
    deprecated_since="6.2.0",
    replaced_by="`LMOVE` with the `RIGHT` and `LEFT` arguments",
    doc_flags="deprecated",
    args=(arg("source", "key"), arg("destination", "key")),
)
def rpoplpush(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """RPOPLPUSH source destination -> the element moved, or nil."""
    return _move(ctx, argv[1], argv[2], False, True)


@command(
    "lmpop",
    -4,
    "write",
    group=_L,
    since="7.0.0",
    complexity="O(N+M) where N is the number of provided keys and M is the number of "
    "elements returned.",
    summary="Returns multiple elements from a list after removing them. Deletes the "
    "list if the last element was popped.",
    keys=(KeySpec(("RW", "access", "delete"), ("index", 1), ("keynum", 0, 1, 1)),),
    args=(
        arg("numkeys", "integer"),
        arg("key", "key", "multiple"),
        oneof("where", token("LEFT"), token("RIGHT")),
        arg("count", "integer", "optional", token="COUNT"),
    ),
)
def lmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] -> [key, elements] of the first
    non-empty list, or nil."""
    keys, right, count = parse_mpop(argv, 1, (b"left", b"right"))
    left = not right
    for key in keys:
        lst = _open(ctx, key)
        if lst is not None:
            return _pop_reply(ctx, lst, key, left, count)
    return NULL_ARRAY


# -- blocking --------------------------------------------------------------------------
_BLOCKING = "write noscript blocking"


def _deadline(raw: bytes) -> int:
    return parse_timeout_ms(raw, seconds=True, now_ms=now_ms())


def _ready_list(ctx: Ctx, key: bytes) -> T.List | None:
    """The list a blocked client can be served from: None unless `key` is a list."""
    meta = ctx.lookup(key)
    return None if meta is None or meta.type != T.CODE else _list_of(ctx, key, meta)


def _pop_reply(ctx: Ctx, lst: T.List, key: bytes, left: bool, count: int) -> list[Any]:
    """[key, element] (count 0) or [key, [elements]] (LMPOP's COUNT). Replicated as the
    plain pop: with the count popped for the *MPOP forms, without for BLPOP/BRPOP."""
    verb = b"LPOP" if left else b"RPOP"
    if count == 0:
        value = lst.pop(left)
        _save(ctx, lst, _POPPED[left])
        ctx.propagate_as(verb, key)
        return [key, value]
    out = [lst.pop(left) for _ in range(min(count, lst.count))]
    _save(ctx, lst, _POPPED[left])
    ctx.propagate_as(verb, key, b"%d" % len(out))
    return [key, out]


def _serve_pop(left: bool, count: int) -> Callable[[Ctx, bytes], Any]:
    def serve(ctx: Ctx, key: bytes) -> Any:
        lst = _ready_list(ctx, key)
        return None if lst is None else _pop_reply(ctx, lst, key, left, count)

    return serve


def _bpop(ctx: Ctx, argv: list[bytes], left: bool) -> Any:
    deadline = _deadline(argv[-1])
    keys = argv[1:-1]
    for key in keys:
        lst = _open(ctx, key)
        if lst is not None:
            return _pop_reply(ctx, lst, key, left, 0)
    return Block(keys, deadline, NULL_ARRAY, _serve_pop(left, 0))


_BPOP_KEYS = (keys_at("RW access delete", last=-2),)
_BPOP_ARGS = (arg("key", "key", "multiple"), arg("timeout", "double"))
_BPOP_HISTORY = (("6.0.0", "`timeout` is interpreted as a double instead of an integer."),)


@command(
    "blpop",
    -3,
    _BLOCKING,
    group=_L,
    since="2.0.0",
    complexity="O(N) where N is the number of provided keys.",
    summary="Removes and returns the first element in a list. Blocks until an element "
    "is available otherwise. Deletes the list if the last element was popped.",
    keys=_BPOP_KEYS,
    history=_BPOP_HISTORY,
    args=_BPOP_ARGS,
)
def blpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """BLPOP key [key ...] timeout -> [key, element], or nil after the timeout."""
    return _bpop(ctx, argv, True)


@command(
    "brpop",
    -3,
    _BLOCKING,
    group=_L,
    since="2.0.0",
    complexity="O(N) where N is the number of provided keys.",
    summary="Removes and returns the last element in a list. Blocks until an element "
    "is available otherwise. Deletes the list if the last element was popped.",
    keys=_BPOP_KEYS,
    history=_BPOP_HISTORY,
    args=_BPOP_ARGS,
)
def brpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """BRPOP key [key ...] timeout -> [key, element], or nil after the timeout."""
    return _bpop(ctx, argv, False)


def _bmove(
    ctx: Ctx, src: bytes, dst: bytes, from_left: bool, to_left: bool, raw_timeout: bytes
) -> Any:
    deadline = _deadline(raw_timeout)
    moved = _move(ctx, src, dst, from_left, to_left)
    if moved is not None:
        return moved

    def serve(ctx: Ctx, key: bytes) -> Any:
        if _ready_list(ctx, key) is None:
            return None
        if ctx.name == "brpoplpush":  # replicated as the plain move
            ctx.propagate_as(b"RPOPLPUSH", key, dst)
        else:  # sides in lower case, as Redis writes them for a served BLMOVE
            ctx.propagate_as(b"LMOVE", key, dst, _SIDE[from_left], _SIDE[to_left])
        return _move(ctx, key, dst, from_left, to_left)

    # Redis 7.0 answers a timed-out BLMOVE/BRPOPLPUSH with a null array, like BLPOP.
    return Block([src], deadline, NULL_ARRAY, serve, nonblocking_reply=None)


_BMOVE_KEYS = (keys_at("RW access delete"), keys_at("RW insert", index=2))


@command(
    "blmove",
    6,
    _BLOCKING + " denyoom",
    group=_L,
    since="6.2.0",
    complexity="O(1)",
    summary="Pops an element from a list, pushes it to another list and returns it. "
    "Blocks until an element is available otherwise. Deletes the list if the "
    "last element was moved.",
    keys=_BMOVE_KEYS,
    args=(
        arg("source", "key"),
        arg("destination", "key"),
        oneof("wherefrom", token("LEFT"), token("RIGHT")),
        oneof("whereto", token("LEFT"), token("RIGHT")),
        arg("timeout", "double"),
    ),
)
def blmove(ctx: Ctx, argv: list[bytes]) -> Any:
    """BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout -> the element, or nil."""
    reply = _bmove(ctx, argv[1], argv[2], _side(argv[3]), _side(argv[4]), argv[5])
    ctx.propagate_as(b"LMOVE", *argv[1:5])  # served at once: as LMOVE, sides as typed
    return reply


@command(
    "brpoplpush",
    4,
    _BLOCKING + " denyoom",
    group=_L,
    since="2.2.0",
    complexity="O(1)",
    summary="Pops an element from a list, pushes it to another list and returns it. "
    "Block until an element is available otherwise. Deletes the list if the last "
    "element was popped.",
    keys=_BMOVE_KEYS,
    deprecated_since="6.2.0",
    replaced_by="`BLMOVE` with the `RIGHT` and `LEFT` arguments",
    doc_flags="deprecated",
    history=_BPOP_HISTORY,
    args=(arg("source", "key"), arg("destination", "key"), arg("timeout", "double")),
)
def brpoplpush(ctx: Ctx, argv: list[bytes]) -> Any:
    """BRPOPLPUSH source destination timeout -> the element, or nil."""
    reply = _bmove(ctx, argv[1], argv[2], False, True, argv[3])
    ctx.propagate_as(b"RPOPLPUSH", argv[1], argv[2])  # served at once
    return reply


@command(
    "blmpop",
    -5,
    "write blocking",
    group=_L,
    since="7.0.0",
    complexity="O(N+M) where N is the number of provided keys and M is the number of "
    "elements returned.",
    summary="Pops the first element from one of multiple lists. Blocks until an element "
    "is available otherwise. Deletes the list if the last element was popped.",
    keys=(KeySpec(("RW", "access", "delete"), ("index", 2), ("keynum", 0, 1, 1)),),
    args=(
        arg("timeout", "double"),
        arg("numkeys", "integer"),
        arg("key", "key", "multiple"),
        oneof("where", token("LEFT"), token("RIGHT")),
        arg("count", "integer", "optional", token="COUNT"),
    ),
)
def blmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    """BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] -> [key, elements] of
    the first non-empty list, or nil after the timeout."""
    keys, right, count = parse_mpop(argv, 2, (b"left", b"right"))
    left = not right
    deadline = _deadline(argv[1])
    for key in keys:
        lst = _open(ctx, key)
        if lst is not None:
            return _pop_reply(ctx, lst, key, left, count)
    return Block(keys, deadline, NULL_ARRAY, _serve_pop(left, count))
