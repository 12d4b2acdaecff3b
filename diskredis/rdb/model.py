"""Redis values as the RDB format carries them, independent of any storage.

Room: plain data. Imports: the standard library.

A string is `bytes`; collections keep Redis's element order where it has one (lists,
sorted sets by score). Streams keep their listpack boundaries (`StreamNode`), so a
stream loaded from Redis trims approximately (``~``) exactly as it did there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ID = tuple[int, int]


@dataclass
class RList:
    items: list[bytes]


@dataclass
class RSet:
    members: list[bytes]


@dataclass
class RZSet:
    pairs: list[tuple[bytes, float]]


@dataclass
class RHash:
    pairs: list[tuple[bytes, bytes]]
    #: field -> absolute expiry (ms) of the fields that have one (HEXPIRE, RDB 12)
    expires: dict[bytes, int] = field(default_factory=dict)


@dataclass
class StreamNode:
    """One listpack: its master ID and fields, its live entries, its tombstones and
    the bytes all its entries take (deleted ones included)."""

    master: ID
    fields: list[bytes]
    entries: list[tuple[ID, list[bytes]]]
    deleted: int = 0
    entry_bytes: int = 0


@dataclass
class Nack:
    """A pending entry of a group: its ID, last delivery (ms), deliveries, owner."""

    id: ID
    time: int
    count: int
    consumer: bytes


@dataclass
class StreamGroup:
    name: bytes
    last: ID
    entries_read: int | None  # -1: not known (SCG_INVALID_ENTRIES_READ); None: to
    # estimate (version 1 streams carry no counter)
    pending: list[Nack] = field(default_factory=list)
    consumers: list[tuple[bytes, int]] = field(default_factory=list)  # name, seen ms
    #: consumer -> last successful read (ms), which RDB 11 streams carry (Redis 7.2's
    #: XINFO CONSUMERS `inactive`); where missing, the seen time stands in, as in Redis
    active: dict[bytes, int] = field(default_factory=dict)


@dataclass
class RStream:
    nodes: list[StreamNode]
    length: int
    last: ID
    first: ID
    max_deleted: ID
    added: int
    groups: list[StreamGroup] = field(default_factory=list)
    #: False when the nodes are not Redis's (a stream from JSON lines: one node holding
    #: every entry); the entries are then laid into nodes as XADD would.
    chunked: bool = True


Value = bytes | RList | RSet | RZSet | RHash | RStream


@dataclass
class Record:
    """A key of an RDB file: its database, name, value, expiry (absolute ms, or None)
    and the access facts Redis saved (idle seconds or LFU counter)."""

    db: int
    key: bytes
    value: Value
    expire_ms: int | None = None
    idle: int | None = None
    freq: int | None = None
