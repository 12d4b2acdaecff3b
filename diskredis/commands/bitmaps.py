"""Bitmap commands (Redis group "bitmap") over string values.

Room: bit-level reads and writes of strings. Imports: `commands` helpers, `keyspace`,
`errors`. Replies and errors are Redis 7.0's (bitops.c). Bit 0 is the most significant
bit of the first byte.
"""

from __future__ import annotations

from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.registry import arg, block, command, keys_at, oneof, token
from diskredis.commands.strings import get_string, put_string
from diskredis.errors import RedisError
from diskredis.keyspace.space import NOTIFY_GENERIC, NOTIFY_STRING
from diskredis.keyspace.types import NO_EXPIRY, STRING, Meta

_B = "bitmap"
_OFFSET_ERR = "ERR bit offset is not an integer or out of range"
_BIT_ERR = "ERR bit is not an integer or out of range"
_TYPE_ERR = (
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
    "supported but i64 is."
)
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _offset(ctx: Ctx, raw: bytes, bits: int = 0) -> int:
    """getBitOffsetFromArgument; `bits` > 0 allows the ``#n`` form (n * bits)."""
    hashed = bits > 0 and raw[:1] == b"#"
    value = parse_int(raw[1:] if hashed else raw, _OFFSET_ERR)
    if hashed:
        value *= bits
    if value < 0 or (value >> 3) >= ctx.config["proto-max-bulk-len"]:
        raise RedisError(_OFFSET_ERR)
    return value


def _write_target(ctx: Ctx, key: bytes, max_bit: int) -> tuple[Meta, bytearray]:
    """The string to write bits into, grown with zeros to hold `max_bit`."""
    meta = get_string(ctx, key)
    if meta is None:
        meta = Meta(STRING, NO_EXPIRY, b"")
    data = bytearray(meta.payload)
    need = (max_bit >> 3) + 1
    if len(data) < need:
        data.extend(bytes(need - len(data)))
    return meta, data


def _save(ctx: Ctx, key: bytes, meta: Meta, data: bytearray, changed: bool = True) -> None:
    """Store the bits (a "setbit" event when they changed)."""
    meta.payload = bytes(data)
    ctx.ks.store(ctx.session.db, key, meta)
    if changed:
        ctx.notify(NOTIFY_STRING, b"setbit", key)


@command(
    "setbit",
    4,
    "write denyoom",
    group=_B,
    since="2.2.0",
    complexity="O(1)",
    summary="Sets or clears the bit at offset of the string value. Creates the key if "
    "it doesn't exist.",
    keys=(keys_at("RW access update"),),
    args=(arg("key", "key"), arg("offset", "integer"), arg("value", "integer")),
)
def setbit(ctx: Ctx, argv: list[bytes]) -> int:
    """SETBIT key offset 0|1 -> the bit's previous value."""
    offset = _offset(ctx, argv[2])
    on = parse_int(argv[3], _BIT_ERR)
    if on & ~1:
        raise RedisError(_BIT_ERR)
    meta, data = _write_target(ctx, argv[1], offset)
    grown = len(data) != len(meta.payload)
    byte, mask = offset >> 3, 1 << (7 - (offset & 7))
    old = 1 if data[byte] & mask else 0
    if grown or old != on:  # else nothing changes: no write, no event (as Redis)
        data[byte] = (data[byte] | mask) if on else (data[byte] & ~mask)
        _save(ctx, argv[1], meta, data)
    return old


@command(
    "getbit",
    3,
    "readonly fast",
    group=_B,
    since="2.2.0",
    complexity="O(1)",
    summary="Returns a bit value by offset.",
    keys=(keys_at("RO access"),),
    args=(arg("key", "key"), arg("offset", "integer")),
)
def getbit(ctx: Ctx, argv: list[bytes]) -> int:
    """GETBIT key offset -> 0 or 1 (0 past the end)."""
    offset = _offset(ctx, argv[2])
    meta = get_string(ctx, argv[1])
    if meta is None or (offset >> 3) >= len(meta.payload):
        return 0
    return 1 if meta.payload[offset >> 3] & (1 << (7 - (offset & 7))) else 0


def _bit_range(n: int, start: int, end: int, in_bits: bool) -> tuple[int, int] | None:
    """Redis's index handling for BITCOUNT/BITPOS: the inclusive bit range, or None."""
    total = n * 8 if in_bits else n
    if start < 0:
        start += total
    if end < 0:
        end += total
    start, end = max(start, 0), max(end, 0)
    end = min(end, total - 1)
    if start > end:
        return None
    return (start, end) if in_bits else (start * 8, end * 8 + 7)


def _unit(raw: bytes) -> bool:
    word = raw.lower()
    if word == b"bit":
        return True
    if word == b"byte":
        return False
    raise RedisError(errors.SYNTAX)


def _bits_of(value: bytes, first: int, last: int) -> int:
    """The bits first..last (inclusive) of `value` as one integer, first bit highest."""
    lo, hi = first >> 3, last >> 3
    chunk = int.from_bytes(value[lo : hi + 1], "big")
    width = (hi - lo + 1) * 8
    return (chunk >> (width - 1 - (last - lo * 8))) & ((1 << (last - first + 1)) - 1)


_RANGE_ARGS = block(
    "range",
    arg("start", "integer"),
    arg("end", "integer"),
    oneof("unit", token("BYTE"), token("BIT"), flags=("optional",), since="7.0.0"),
    flags=("optional",),
)


@command(
    "bitcount",
    -2,
    "readonly",
    group=_B,
    since="2.6.0",
    complexity="O(N)",
    summary="Counts the number of set bits (population counting) in a string.",
    keys=(keys_at("RO access"),),
    history=(("7.0.0", "Added the `BYTE|BIT` option."),),
    args=(arg("key", "key"), _RANGE_ARGS),
)
def bitcount(ctx: Ctx, argv: list[bytes]) -> int:
    """BITCOUNT key [start end [BYTE|BIT]] -> the number of set bits."""
    meta = get_string(ctx, argv[1])  # looked up first: a missing key is 0 whatever follows
    if meta is None:
        return 0
    value = meta.payload
    if len(argv) in (4, 5):
        start, end = parse_int(argv[2]), parse_int(argv[3])
        if start < 0 and end < 0 and start > end:
            return 0
        in_bits = _unit(argv[4]) if len(argv) == 5 else False
        span = _bit_range(len(value), start, end, in_bits)
    elif len(argv) == 2:
        span = _bit_range(len(value), 0, -1, False)
    else:
        raise RedisError(errors.SYNTAX)
    if span is None:
        return 0
    return _bits_of(value, *span).bit_count()


@command(
    "bitpos",
    -3,
    "readonly",
    group=_B,
    since="2.8.7",
    complexity="O(N)",
    summary="Finds the first set (1) or clear (0) bit in a string.",
    keys=(keys_at("RO access"),),
    history=(("7.0.0", "Added the `BYTE|BIT` option."),),
    args=(
        arg("key", "key"),
        arg("bit", "integer"),
        block(
            "range",
            arg("start", "integer"),
            block(
                "end-unit-block",
                arg("end", "integer"),
                oneof("unit", token("BYTE"), token("BIT"), flags=("optional",), since="7.0.0"),
                flags=("optional",),
            ),
            flags=("optional",),
        ),
    ),
)
def bitpos(ctx: Ctx, argv: list[bytes]) -> int:
    """BITPOS key bit [start [end [BYTE|BIT]]] -> position of the first such bit, or -1."""
    bit = parse_int(argv[2])
    if bit not in (0, 1):
        raise errors.err("The bit argument must be 1 or 0.")
    meta = get_string(ctx, argv[1])
    if meta is None:
        return -1 if bit else 0
    value = meta.payload
    n = len(value)
    end_given = False
    if len(argv) in (4, 5, 6):
        start = parse_int(argv[3])
        in_bits = _unit(argv[5]) if len(argv) == 6 else False
        if len(argv) >= 5:
            end = parse_int(argv[4])
            end_given = True
        else:
            end = n * 8 + 7 if in_bits else n - 1
        span = _bit_range(n, start, end, in_bits)
    elif len(argv) == 3:
        span = _bit_range(n, 0, -1, False)
    else:
        raise RedisError(errors.SYNTAX)
    if span is None:
        return -1
    first, last = span
    width = last - first + 1
    bits = _bits_of(value, first, last)
    if bit == 0:
        bits = ~bits & ((1 << width) - 1)
    if bits:
        return first + width - bits.bit_length()
    if bit == 1 or end_given:
        return -1
    return last + 1  # no clear bit: the first one past the string


@command(
    "bitop",
    -4,
    "write denyoom",
    group=_B,
    since="2.6.0",
    complexity="O(N)",
    summary="Performs bitwise operations on multiple strings, and stores the result.",
    keys=(keys_at("OW update", index=2), keys_at("RO access", index=3, last=-1)),
    args=(arg("operation"), arg("destkey", "key"), arg("key", "key", "multiple")),
)
def bitop(ctx: Ctx, argv: list[bytes]) -> int:
    """BITOP AND|OR|XOR|NOT destkey key [key ...] -> length of the result."""
    op = argv[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise RedisError(errors.SYNTAX)
    if op == b"not" and len(argv) != 4:
        raise errors.err("BITOP NOT must be called with a single source key.")
    values = []
    for key in argv[3:]:
        meta = get_string(ctx, key, read=True)
        values.append(b"" if meta is None else meta.payload)
    size = max(len(v) for v in values)
    db, dest = ctx.session.db, argv[2]
    if not size:
        if ctx.ks.remove(db, dest):
            ctx.notify(NOTIFY_GENERIC, b"del", dest)
        return 0
    nums = [int.from_bytes(v.ljust(size, b"\0"), "big") for v in values]
    if op == b"not":
        result = ~nums[0] & ((1 << (8 * size)) - 1)
    else:
        result = nums[0]
        for n in nums[1:]:
            result = result & n if op == b"and" else result | n if op == b"or" else result ^ n
    put_string(ctx, dest, result.to_bytes(size, "big"))
    return size


def _field_type(raw: bytes) -> tuple[bool, int]:
    signed = raw[:1] == b"i"
    if not signed and raw[:1] != b"u":
        raise RedisError(_TYPE_ERR)
    bits = parse_int(raw[1:], _TYPE_ERR) if len(raw) > 1 else 0
    if bits < 1 or (signed and bits > 64) or (not signed and bits > 63):
        raise RedisError(_TYPE_ERR)
    return signed, bits


def _get_field(data: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    need = (offset + bits + 7) >> 3
    chunk = bytes(data[offset >> 3 : need]).ljust(need - (offset >> 3), b"\0")
    raw = _bits_of(chunk, offset & 7, (offset & 7) + bits - 1)
    if signed and raw >> (bits - 1):
        raw -= 1 << bits
    return raw


def _set_field(data: bytearray, offset: int, bits: int, value: int) -> None:
    value &= (1 << bits) - 1
    for i in range(bits):
        pos = offset + i
        mask = 1 << (7 - (pos & 7))
        if value >> (bits - 1 - i) & 1:
            data[pos >> 3] |= mask
        else:
            data[pos >> 3] &= ~mask


def _fit(value: int, bits: int, signed: bool, mode: bytes) -> int | None:
    """A result in range, or wrapped / saturated per OVERFLOW; None when FAIL overflows."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if lo <= value <= hi:
        return value
    if mode == b"fail":
        return None
    if mode == b"sat":
        return hi if value > hi else lo
    wrapped = value & ((1 << bits) - 1)
    if signed and wrapped >> (bits - 1):
        wrapped -= 1 << bits
    return wrapped


def _bitfield(ctx: Ctx, argv: list[bytes], readonly_cmd: bool) -> list[Any]:
    ops: list[tuple[bytes, bool, int, int, int, bytes]] = []
    overflow = b"wrap"
    writes = False
    highest = 0
    j = 2
    while j < len(argv):
        sub = argv[j].lower()
        left = len(argv) - j - 1
        if sub == b"overflow" and left >= 1:
            overflow = argv[j + 1].lower()
            if overflow not in (b"wrap", b"sat", b"fail"):
                raise errors.err("Invalid OVERFLOW type specified")
            j += 2
            continue
        if not ((sub == b"get" and left >= 2) or (sub in (b"set", b"incrby") and left >= 3)):
            raise RedisError(errors.SYNTAX)
        signed, bits = _field_type(argv[j + 1])
        offset = _offset(ctx, argv[j + 2], bits)
        number = 0
        if sub != b"get":
            writes = True
            highest = max(highest, offset + bits - 1)
            number = parse_int(argv[j + 3])
        ops.append((sub, signed, bits, offset, number, overflow))
        j += 3 if sub == b"get" else 4
    if not writes:
        meta = get_string(ctx, argv[1], read=True)
        data: bytes | bytearray = b"" if meta is None else meta.payload
        return [_get_field(data, o[3], o[2], o[1]) for o in ops]
    if readonly_cmd:
        raise errors.err("BITFIELD_RO only supports the GET subcommand")
    meta_w, buf = _write_target(ctx, argv[1], highest)
    grown = len(buf) != len(meta_w.payload)  # created or extended: written whatever happens
    out: list[Any] = []
    changes = 0
    for sub, signed, bits, offset, number, mode in ops:
        old = _get_field(buf, offset, bits, signed)
        if sub == b"get":
            out.append(old)
            continue
        if sub == b"incrby":
            new = _fit(old + number, bits, signed, mode)
            reply = new
        else:
            if not signed:
                number &= (1 << 64) - 1  # a negative value is a huge unsigned one in C
            new = _fit(number, bits, signed, mode)
            reply = old
        if new is None:
            out.append(None)
            continue
        _set_field(buf, offset, bits, new)
        if grown or _get_field(buf, offset, bits, signed) != old:
            changes += 1  # as Redis: a write that changes nothing is not a change
        out.append(reply)
    if grown or changes:
        _save(ctx, argv[1], meta_w, buf, changed=changes > 0)
    return out


_BF_KEYS = (
    keys_at(
        "RW update access variable_flags",
        notes="This command allows both access and modification of the key",
    ),
)


def bitfield_keys(argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """bitfieldGetKeys: read-only when every operation is a GET (or OVERFLOW)."""
    i = 2
    while i < len(argv):
        left = len(argv) - i - 1
        op = argv[i].lower()
        if op == b"get" and left >= 2:
            i += 3
        elif op == b"overflow" and left >= 1:
            i += 2
        else:  # SET, INCRBY, or a syntax error: safer to take it as a write
            return [(1, ("RW", "access", "update"))]
    return [(1, ("RO", "access"))]


@command(
    "bitfield",
    -2,
    "write denyoom",
    group=_B,
    since="3.2.0",
    complexity="O(1) for each subcommand specified",
    getkeys=bitfield_keys,
    summary="Performs arbitrary bitfield integer operations on strings.",
    keys=_BF_KEYS,
    args=(arg("key", "key"), arg("operation", "block", "optional", "multiple")),
)
def bitfield(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset incr]
    [OVERFLOW WRAP|SAT|FAIL] ... -> one reply per GET/SET/INCRBY."""
    return _bitfield(ctx, argv, False)


@command(
    "bitfield_ro",
    -2,
    "readonly fast",
    group=_B,
    since="6.0.0",
    complexity="O(1) for each subcommand specified",
    summary="Performs arbitrary read-only bitfield integer operations on strings.",
    keys=(keys_at("RO access"),),
    args=(
        arg("key", "key"),
        block(
            "get-block",
            arg("encoding"),
            arg("offset", "integer"),
            flags=("optional", "multiple"),
            tok="GET",
        ),
    ),
)
def bitfield_ro(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """BITFIELD_RO key [GET type offset ...] -> the values."""
    return _bitfield(ctx, argv, True)
