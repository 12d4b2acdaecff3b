"""HyperLogLog commands (Redis group "hyperloglog").

Room: what PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST mean over the keyspace.
Imports: `commands` helpers (the value format is `commands.hll`), `keyspace`,
`errors`. Replies and errors are Redis 7.0's (hyperloglog.c).

An HLL is a string key holding Redis's own HLL bytes, so it keeps its TTL, shows
as a string to TYPE and GET, and moves to and from Redis unchanged.
"""

from __future__ import annotations

import math
import random
from typing import Any

from diskredis import errors
from diskredis.commands import hll as H
from diskredis.commands.context import Ctx
from diskredis.commands.registry import arg, command, keys_at
from diskredis.errors import RedisError
from diskredis.keyspace.space import NOTIFY_STRING
from diskredis.keyspace.types import NO_EXPIRY, STRING, Meta

_G = "hyperloglog"


def _load(ctx: Ctx, key: bytes, read: bool | None = None) -> tuple[Meta | None, H.HLL | None]:
    """The key's record and its HLL (None, None if missing); WRONGTYPE otherwise."""
    meta = ctx.lookup(key, read=read)
    if meta is None:
        return None, None
    if meta.type != STRING:
        raise RedisError(errors.WRONGTYPE)
    if not H.is_hll(meta.payload):
        raise RedisError(errors.NOT_HLL)
    return meta, H.HLL(meta.payload, ctx.config["hll-sparse-max-bytes"])


def _save(ctx: Ctx, key: bytes, meta: Meta | None, hll: H.HLL) -> None:
    """Store `hll` under `key`, keeping the key's TTL."""
    expire = NO_EXPIRY if meta is None else meta.expire
    ctx.ks.store(ctx.session.db, key, Meta(STRING, expire, bytes(hll)))


def _union(ctx: Ctx, keys: list[bytes]) -> tuple[bytearray, bool]:
    """The register-wise maximum of the HLLs at `keys` (missing ones count as empty),
    and whether one of them is dense. WRONGTYPE or INVALIDOBJ as Redis finds them."""
    registers = bytearray(H.REGISTERS)
    dense = False
    for key in keys:
        _, hll = _load(ctx, key, read=True)
        if hll is None:
            continue
        dense = dense or hll.dense is not None
        try:
            H.merge_max(registers, hll.registers())
        except H.Invalid:
            raise RedisError(errors.INVALID_HLL) from None
    return registers, dense


@command(
    "pfadd",
    -2,
    "write denyoom fast",
    group=_G,
    since="2.8.9",
    complexity="O(1) to add every element.",
    summary="Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
    keys=(keys_at("RW insert"),),
    args=(arg("key", "key"), arg("element", "string", "optional", "multiple")),
)
def pfadd(ctx: Ctx, argv: list[bytes]) -> int:
    """PFADD key [element ...] -> 1 if a register changed (or the key was made), else 0."""
    key = argv[1]
    meta, hll = _load(ctx, key)
    updated = 0
    if hll is None:
        hll = H.HLL.empty(ctx.config["hll-sparse-max-bytes"])
        updated = 1
    try:
        for element in argv[2:]:
            updated += hll.add(element)
    except H.Invalid:
        if updated:  # Redis changed the value in place before it found the damage
            _save(ctx, key, meta, hll)
        raise RedisError(errors.INVALID_HLL) from None
    if updated:
        hll.invalidate()
        _save(ctx, key, meta, hll)
        ctx.notify(NOTIFY_STRING, b"pfadd", key)
    return 1 if updated else 0


@command(
    "pfcount",
    -2,
    "readonly may_replicate",
    group=_G,
    since="2.8.9",
    complexity="O(1) with a very small average constant time when called with a single "
    "key. O(N) with N being the number of keys, and much bigger constant "
    "times, when called with multiple keys.",
    summary="Returns the approximated cardinality of the set(s) observed by the "
    "HyperLogLog key(s).",
    keys=(
        keys_at(
            "RW access",
            last=-1,
            notes="RW because it may change the internal "
            "representation of the key, and propagate to replicas",
        ),
    ),
    args=(arg("key", "key", "multiple"),),
)
def pfcount(ctx: Ctx, argv: list[bytes]) -> int:
    """PFCOUNT key [key ...] -> the estimated cardinality of the union."""
    if len(argv) > 2:
        registers, _ = _union(ctx, argv[1:])
        return H.estimate(H.histogram_of(bytes(registers)))
    meta, hll = _load(ctx, argv[1], read=True)
    if hll is None:
        return 0
    card = hll.cached()
    if card is None:
        try:
            card = hll.count()
        except H.Invalid:
            raise RedisError(errors.INVALID_HLL) from None
        hll.set_cached(card)  # the cache lives in the value: written back, no event
        _save(ctx, argv[1], meta, hll)
    return card


@command(
    "pfmerge",
    -2,
    "write denyoom",
    group=_G,
    since="2.8.9",
    complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
    summary="Merges one or more HyperLogLog values into a single key.",
    keys=(keys_at("RW access insert"), keys_at("RO access", index=2, last=-1)),
    args=(arg("destkey", "key"), arg("sourcekey", "key", "optional", "multiple")),
)
def pfmerge(ctx: Ctx, argv: list[bytes]) -> str:
    """PFMERGE destkey [sourcekey ...] -> OK; destkey holds the union."""
    registers, dense = _union(ctx, argv[1:])
    dest = argv[1]
    meta, hll = _load(ctx, dest)
    if hll is None:
        hll = H.HLL.empty(ctx.config["hll-sparse-max-bytes"])
    try:
        if dense:
            hll.to_dense()
        for index, value in enumerate(registers):
            if value:
                hll.set(index, value)
    except H.Invalid:
        raise RedisError(errors.INVALID_HLL) from None
    hll.invalidate()
    _save(ctx, dest, meta, hll)
    ctx.notify(NOTIFY_STRING, b"pfadd", dest)  # Redis's choice: a merge is a mass add
    return "OK"


@command(
    "pfdebug",
    3,
    "write denyoom admin",
    group=_G,
    since="2.8.9",
    complexity="N/A",
    summary="Internal commands for debugging HyperLogLog values.",
    doc_flags="syscmd",
    keys=(keys_at("RW access", index=2),),
    args=(arg("subcommand", "string"), arg("key", "key")),
)
def pfdebug(ctx: Ctx, argv: list[bytes]) -> Any:
    """PFDEBUG GETREG|DECODE|ENCODING|TODENSE key -> registers, opcodes, encoding, 1/0."""
    sub, key = argv[1].lower(), argv[2]
    meta, hll = _load(ctx, key)
    if hll is None:
        raise errors.err("The specified key does not exist")
    try:
        if sub == b"getreg":
            if hll.to_dense():
                _save(ctx, key, meta, hll)
            return list(hll.registers())
        if sub == b"decode":
            if hll.dense is not None:
                raise errors.err("HLL encoding is not sparse")
            return hll.decode().encode()
        if sub == b"encoding":
            return hll.encoding
        if sub == b"todense":
            converted = hll.to_dense()
            if converted:
                _save(ctx, key, meta, hll)
            return 1 if converted else 0
    except H.Invalid:
        raise RedisError(errors.INVALID_HLL) from None
    raise errors.unknown_pfdebug(argv[1])


# Test sizes: Redis runs 1000 register rounds and counts up to 10M elements; these sizes
# keep the same checks near Redis's own run time (0.4 s here), the server waiting meanwhile.
_SELFTEST_ROUNDS = 3
_SELFTEST_ELEMENTS = 100_000


@command(
    "pfselftest",
    1,
    "admin",
    group=_G,
    since="2.8.9",
    complexity="N/A",
    summary="An internal command for testing HyperLogLog values.",
    doc_flags="syscmd",
)
def pfselftest(ctx: Ctx, argv: list[bytes]) -> str:
    """PFSELFTEST -> OK, or a TESTFAILED error naming the check that failed."""
    rng = random.Random()
    dense = bytearray(H.DENSE_BYTES)
    for _ in range(_SELFTEST_ROUNDS):  # registers keep their values and their neighbours'
        values = [rng.randrange(64) for _ in range(H.REGISTERS)]
        for i, v in enumerate(values):
            H.dense_put(dense, i, v)
        for i, v in enumerate(values):
            got = H.dense_get(dense, i)
            if got != v:
                raise errors.err("TESTFAILED Register %d should be %d but is %d" % (i, v, got))
        if list(H.unpack_dense(bytes(dense))) != values or H.pack_dense(bytes(values)) != dense:
            raise errors.err("TESTFAILED packed and unpacked registers disagree")
    # The estimate stays within 6 standard errors, and sparse and dense agree.
    max_sparse = ctx.config["hll-sparse-max-bytes"]
    full = H.HLL(H.MAGIC + bytes(H.HEADER - 4) + bytes(H.DENSE_BYTES))
    sparse = H.HLL.empty(max_sparse)
    relerr = 1.04 / H.REGISTERS**0.5
    seed = rng.getrandbits(64)
    checkpoint = 1
    for j in range(1, _SELFTEST_ELEMENTS + 1):
        element = (j ^ seed).to_bytes(8, "little")
        full.add(element)
        sparse.add(element)
        if j != checkpoint:
            continue
        if j < max_sparse // 2 and sparse.encoding != "sparse":
            raise errors.err("TESTFAILED sparse encoding not used")
        count = full.count()
        if count != sparse.count():
            raise errors.err("TESTFAILED dense/sparse disagree")
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abs(checkpoint - count) > maxerr:
            raise errors.err(
                "TESTFAILED Too big error. card:%d abserr:%d"
                % (checkpoint, abs(checkpoint - count))
            )
        checkpoint *= 10
    return "OK"
