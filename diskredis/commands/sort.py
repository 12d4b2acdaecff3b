"""SORT and SORT_RO (Redis group "generic"): sort a list, set or sorted set, by its
elements or by keys and hash fields named after them.

Room: what SORT means, over the list, set and sorted set modules. Imports: `util`, `commands`
helpers and type modules, `keyspace`, `errors`. Replies and errors are Redis 7.0's
(sort.c): numbers are read with strtod, ALPHA compares bytes up to the first NUL as
strcoll does in the C and C.UTF-8 locales (whole values when storing), equal numbers are
ordered by their elements, and a pattern is `prefix*suffix` or `prefix*suffix->field`.
"""

from __future__ import annotations

import math
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.lists import list_range, store_list
from diskredis.commands.registry import (
    KeySpec,
    arg,
    block,
    command,
    keys_at,
    lookup,
    oneof,
    token,
)
from diskredis.commands.zsets import zset_of
from diskredis.errors import RedisError
from diskredis.keyspace.types import HASH, LIST, SET, STRING, ZSET, Meta, count_of, hashes, sets
from diskredis.util import strtod

NOT_DOUBLE = "ERR One or more scores can't be converted into double"


def _cstr(data: bytes) -> bytes:
    """What C string functions see of an argument: the bytes before the first NUL."""
    return data.split(b"\0", 1)[0]


def lookup_pattern(ctx: Ctx, pattern: bytes, element: bytes) -> bytes | None:
    """lookupKeyByPattern: `#` is the element; otherwise the first `*` of the pattern is
    replaced by the element and the string (or, with `->field`, the hash field) read."""
    if pattern[:1] == b"#" and pattern[1:2] in (b"", b"\0"):
        return element
    text = _cstr(pattern)
    star = text.find(b"*")
    if star < 0:
        return None
    arrow = text.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(text):
        field = pattern[arrow + 2 :]
        name = pattern[:star] + element + pattern[star + 1 : arrow]
    else:
        name = pattern[:star] + element + pattern[star + 1 :]
    meta = ctx.lookup(name, read=True)
    if meta is None:
        return None
    if field is None:
        return meta.payload if meta.type == STRING else None
    if meta.type != HASH:
        return None
    return hashes.get(ctx.ks, meta, field)


def _number(value: bytes) -> float | None:
    """strtod over the C string, refusing leftovers, ERANGE and NaN."""
    text = _cstr(value)
    number, used, erange = strtod(text)
    if used != len(text) or erange or math.isnan(number):
        return None
    return number


def _elements(
    ctx: Ctx, meta: Meta | None, dontsort: bool, desc: bool, start: int, end: int
) -> tuple[list[bytes], int, int]:
    """The elements SORT works on, and start/end over them (sortCommandGeneric's vector:
    unsorted lists and sorted sets read only the LIMIT window, from the asked end)."""
    if meta is None:
        return [], start, end
    kind = meta.type
    count = count_of(meta)
    if dontsort and kind == LIST:
        if end < start:
            return [], start, end
        if desc:
            out = list_range(ctx, meta, count - 1 - end, count - 1 - start, reverse=True)
        else:
            out = list_range(ctx, meta, start, end)
        return out, 0, end - start
    if kind == LIST:
        return list_range(ctx, meta, 0, count - 1), start, end
    if kind == SET:
        return sets.members(ctx.ks, meta), start, end
    zs = zset_of(ctx, b"", meta)
    if dontsort:
        window = []
        for i, (member, _) in enumerate(zs.entries(reverse=desc)):
            if i > end:
                break
            if i >= start:
                window.append(member)
        return window, 0, end - start
    return [m for m, _ in zs.entries()], start, end


def _full_read_access(ctx: Ctx, argv: list[bytes]) -> bool:
    """BY and GET read keys the key specs can't name: the user must be able to read
    every key (Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess)."""
    from diskredis.commands.acl import unrestricted_read

    cmd = lookup(argv)
    return cmd is None or unrestricted_read(ctx, cmd, argv)


def _sort(ctx: Ctx, argv: list[bytes], readonly: bool) -> Any:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    store: bytes | None = None
    by: bytes | None = None
    gets: list[bytes] = []
    j = 2
    while j < len(argv):
        left = len(argv) - j - 1
        opt = argv[j].lower()
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start, limit_count = parse_int(argv[j + 1]), parse_int(argv[j + 2])
            j += 2
        elif not readonly and opt == b"store" and left >= 1:
            store = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            by = argv[j + 1]
            if b"*" not in _cstr(by):
                dontsort = True  # and stays so, whatever BY follows
            elif not _full_read_access(ctx, argv):
                raise errors.err("BY option of SORT denied due to insufficient ACL permissions.")
            j += 1
        elif opt == b"get" and left >= 1:
            if not _full_read_access(ctx, argv):
                raise errors.err("GET option of SORT denied due to insufficient ACL permissions.")
            gets.append(argv[j + 1])
            j += 1
        else:
            raise RedisError(errors.SYNTAX)
        j += 1
    meta = ctx.lookup(argv[1], read=True)
    if meta is not None and meta.type not in (SET, LIST, ZSET):
        raise RedisError(errors.WRONGTYPE)
    if dontsort and meta is not None and meta.type == SET and store is not None:
        dontsort, alpha, by = False, True, None  # a stored result must not depend on hashing
    size = count_of(meta)
    start = min(max(limit_start, 0), size)
    count = min(max(limit_count, -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    end = min(end, size - 1)
    elements, start, end = _elements(ctx, meta, dontsort, desc, start, end)
    if not dontsort:
        elements = _sorted(ctx, elements, by, alpha, desc, store is not None)
    chosen = elements[start : end + 1] if end >= start else []
    if gets:
        out: list[bytes | None] = [lookup_pattern(ctx, g, e) for e in chosen for g in gets]
    else:
        out = list(chosen)
    if store is None:
        return out
    store_list(ctx, store, [b"" if v is None else v for v in out], b"sortstore")
    return len(out)


def _sorted(
    ctx: Ctx, elements: list[bytes], by: bytes | None, alpha: bool, desc: bool, storing: bool
) -> list[bytes]:
    """sortCompare as a key: numbers (ties by element bytes), or ALPHA strings (elements
    or BY values, a missing BY value first), stable, reversed by DESC."""
    values = [e if by is None else lookup_pattern(ctx, by, e) for e in elements]
    if alpha:
        if by is None:
            keys: list[Any] = [e if storing else _cstr(e) for e in elements]
        else:
            keys = [(0, b"") if v is None else (1, v if storing else _cstr(v)) for v in values]
    else:
        keys = []
        for element, value in zip(elements, values, strict=True):
            number = 0.0 if value is None else _number(value)
            if number is None:
                raise RedisError(NOT_DOUBLE)
            keys.append((number, element))
    order = sorted(range(len(elements)), key=keys.__getitem__, reverse=desc)
    return [elements[i] for i in order]


def sort_keys(argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """sortGetKeys: the sorted key, and the last STORE destination (LIMIT, GET and BY
    arguments are skipped so that a value named "store" is not taken for the option)."""
    keys: list[tuple[int, tuple[str, ...]]] = [(1, ("RO", "access"))]
    store = None
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"limit":
            i += 2
        elif opt in (b"get", b"by"):
            i += 1
        elif opt == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    if store is not None:
        keys.append((store, ("OW", "update")))
    return keys


_COMPLEXITY = (
    "O(N+M*log(M)) where N is the number of elements in the list or set to "
    "sort, and M the number of returned elements. When the elements are not "
    "sorted, complexity is O(N)."
)
_PATTERN_NOTES = (
    "For the optional BY/GET keyword. It is marked 'unknown' because the key "
    "names derive from the content of the key we sort"
)
_ORDER = (
    oneof("order", token("ASC"), token("DESC"), flags=("optional",)),
    token("ALPHA", "optional"),
)
_HEAD = (
    arg("key", "key"),
    arg("pattern", "pattern", "optional", token="BY", key=1),
    block(
        "limit", arg("offset", "integer"), arg("count", "integer"), flags=("optional",), tok="LIMIT"
    ),
)
_GET = arg("pattern", "pattern", "optional", "multiple", "multiple_token", token="GET", key=1)


@command(
    "sort",
    -2,
    "write denyoom movablekeys",
    group="generic",
    since="1.0.0",
    complexity=_COMPLEXITY,
    acl="-keyspace set sortedset list dangerous",
    summary="Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    keys=(
        keys_at("RO access"),
        KeySpec(("RO", "access"), ("unknown",), ("unknown",), _PATTERN_NOTES),
        KeySpec(
            ("OW", "update"),
            ("unknown",),
            ("unknown",),
            "For the optional STORE keyword. It is marked 'unknown' because the "
            "keyword can appear anywhere in the argument array",
        ),
    ),
    args=(*_HEAD, _GET, *_ORDER, arg("destination", "key", "optional", token="STORE", key=2)),
    getkeys=sort_keys,
)
def sort(ctx: Ctx, argv: list[bytes]) -> Any:
    """SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
    [STORE destination] -> the sorted elements (or GET values), or how many were
    stored."""
    return _sort(ctx, argv, False)


@command(
    "sort_ro",
    -2,
    "readonly movablekeys",
    group="generic",
    since="7.0.0",
    complexity=_COMPLEXITY,
    acl="-keyspace set sortedset list dangerous",
    summary="Returns the sorted elements of a list, a set, or a sorted set.",
    keys=(
        keys_at("RO access"),
        KeySpec(("RO", "access"), ("unknown",), ("unknown",), _PATTERN_NOTES),
    ),
    getkeys=lambda argv: [(1, ("RO", "access"))],  # sortROGetKeys (the BY/GET spec is unknown)
    args=(*_HEAD, _GET, *_ORDER),
)
def sort_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    """SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
    -> the sorted elements (or GET values)."""
    return _sort(ctx, argv, True)
