"""The replication stream, byte for byte: what diskredis writes to its backlog for a
command sequence is what a real redis-server 7.0 primary sends its replica for the same
sequence (effects, rewrites, MULTI/EXEC wrapping, SELECT).

The oracle's stream is read as a replica reads it: `PSYNC ? -1` on a raw socket, the
RDB skipped, then the command stream. diskredis's is read from its backlog, in-process
(tests/inproc.py). Each sequence ends with a marker write, so both streams have a known
end. Times are absolute and far ahead (the in-process clock stands still in 2023).
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from diskredis.errors import RedisError
from diskredis.keyspace import clock as keyspace_clock
from diskredis.rdb import codec
from diskredis.storage import StorageError
from tests.conftest import ServerProc, encode_command, start_oracle
from tests.inproc import Clock, Node

_MARK = (b"SET", b"__mark__", b"1")
_FAR = "4102444800"  # 2100-01-01, seconds


class _Replica:
    """A raw replica connection to the oracle: the stream after its full sync."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(encode_command(("PSYNC", "?", "-1")))
        self.buf = b""
        line = self._line()
        while not line.startswith(b"+FULLRESYNC"):
            line = self._line()  # keepalive newlines
        size = self._line()
        while not size.startswith(b"$"):
            size = self._line()
        self._take(int(size[1:]))

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the oracle closed the replication link")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until(self, end: bytes) -> bytes:
        """The stream up to and including `end`."""
        while end not in self.buf:
            self._fill()
        i = self.buf.index(end) + len(end)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


@pytest.fixture(scope="module")
def primary() -> Iterator[ServerProc]:
    sp = start_oracle("--repl-ping-replica-period", "3600", "--repl-diskless-sync", "no")
    yield sp
    sp.stop()


_PASS = ("__pass__",)  # a step: time passes (20 ms) on both sides


def _oracle_stream(primary: ServerProc, steps: list[tuple[Any, ...]]) -> bytes:
    c = primary.raw()
    c.command("FLUSHALL")
    c.command("SELECT", "0")
    replica = _Replica(primary.port)
    try:
        for step in steps:
            if step == _PASS:
                time.sleep(0.02)
                continue
            c.command(*step)
        c.command(*_MARK)
        return replica.until(encode_command(_MARK))
    finally:
        replica.sock.close()
        c.close()


def _our_stream(node: Node, steps: list[tuple[Any, ...]]) -> bytes:
    ks = node.offline.ks
    ks.begin()
    ks.backlog.create()
    ks.commit()
    start = ks.backlog.offset + 1
    for step in steps:
        if step == _PASS:
            assert isinstance(keyspace_clock.clock, Clock), "the test's clock stands still"
            keyspace_clock.clock.advance(20)
            continue
        with contextlib.suppress(RedisError):  # an error reply: its effects still count
            node.run(*step)
    node.run(*_MARK)
    txn = node.offline.engine.read()
    try:
        return ks.backlog.read(txn, start, limit=1 << 30)
    finally:
        txn.abort()


_TIME = re.compile(rb"\$4\r\nTIME\r\n\$\d+\r\n\d+\r\n")
_NOW_MS = re.compile(rb"\$13\r\n1[6-9]\d{11}\r\n")  # a deadline from a relative time


def _same(node: Node, primary: ServerProc, steps: list[tuple[Any, ...]]) -> None:
    """Both streams, byte for byte; only XCLAIM's delivery times and deadlines made of
    relative times (the wall clock's; the test's stands in 2023) are left out of the
    comparison."""
    theirs = _oracle_stream(primary, steps)
    ours = _our_stream(node, steps)
    for pattern, mask in ((_TIME, b"TIME <ms>"), (_NOW_MS, b"<now + ms>")):
        ours, theirs = pattern.sub(mask, ours), pattern.sub(mask, theirs)
    assert ours == theirs


PLAIN = {
    "strings": [
        ("SET", "k", "v"),
        ("APPEND", "k", "w"),
        ("INCR", "n"),
        ("MSET", "a", "1", "b", "2"),
    ],
    "nothing_changed": [
        ("GET", "k"),
        ("DEL", "missing"),
        ("SET", "k", "v", "NX"),
        ("SET", "k", "w", "NX"),
    ],
    "collections": [
        ("RPUSH", "l", "a", "b"),
        ("HSET", "h", "f", "v"),
        ("SADD", "s", "m"),
        ("ZADD", "z", "1", "m"),
        ("LPOP", "l"),
    ],
    "databases": [
        ("SET", "k", "v"),
        ("SELECT", "3"),
        ("SET", "k", "w"),
        ("SELECT", "0"),
        ("DEL", "k"),
    ],
    "transaction": [("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("EXEC",)],
    "transaction_of_one": [("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("EXEC",)],
    "flush": [("SET", "a", "1"), ("FLUSHDB",), ("FLUSHALL",), ("SWAPDB", "0", "1")],
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_writes_are_propagated_as_redis_propagates_them(
    node: Node, primary: ServerProc, name: str
) -> None:
    _same(node, primary, PLAIN[name])


def test_absolute_expiry_is_propagated_as_pxat(node: Node, primary: ServerProc) -> None:
    _same(node, primary, [("SET", "k", "v", "EXAT", _FAR), ("EXPIREAT", "k", _FAR)])


REWRITTEN = {
    "set_expiry": [
        ("SET", "k", "v", "EXAT", _FAR),
        ("SET", "k", "v", "PXAT", _FAR + "000", "GET"),
        ("SET", "k", "w", "XX", "GET"),
        ("SET", "k", "w", "KEEPTTL", "get"),
        ("SET", "n", "w", "NX", "EXAT", _FAR),
        ("SET", "n", "x", "NX", "EXAT", _FAR),
    ],
    "expire": [
        ("SET", "k", "v"),
        ("EXPIREAT", "k", _FAR),
        ("PEXPIREAT", "k", _FAR + "000", "GT"),
        ("EXPIREAT", "k", "100"),
        ("SET", "k", "v"),
        ("EXPIREAT", "missing", _FAR),
        ("PERSIST", "k"),
        ("PEXPIREAT", "k", _FAR + "000"),
        ("PERSIST", "k"),
    ],
    "getex_getdel": [
        ("SET", "k", "v"),
        ("GETEX", "k"),
        ("GETEX", "k", "EXAT", _FAR),
        ("GETEX", "k", "PERSIST"),
        ("GETEX", "k", "PERSIST"),
        ("GETEX", "k", "PXAT", "100"),
        ("SET", "k", "v"),
        ("GETDEL", "k"),
        ("GETDEL", "k"),
    ],
    "floats": [
        ("INCRBYFLOAT", "f", "1.5"),
        ("INCRBYFLOAT", "f", "2"),
        ("HINCRBYFLOAT", "h", "x", "0.25"),
    ],
    "getset": [("GETSET", "k", "v"), ("GETSET", "k", "w")],
    "spop": [
        ("SADD", "s", "a"),
        ("SPOP", "s"),
        ("SADD", "s", "a"),
        ("SPOP", "s", "5"),
        ("SPOP", "s", "0"),
    ],
    "mpop": [
        ("RPUSH", "l", "a", "b", "c"),
        ("LMPOP", "2", "x", "l", "LEFT"),
        ("LMPOP", "1", "l", "RIGHT", "COUNT", "5"),
        ("ZADD", "z", "1", "a", "2", "b"),
        ("ZMPOP", "1", "z", "MIN", "COUNT", "1"),
        ("RPUSH", "l", "a"),
        ("BLPOP", "l", "0"),
        ("ZADD", "z", "1", "a"),
        ("BZPOPMAX", "z", "0"),
    ],
    "scripts": [
        ("EVAL", "redis.call('set', KEYS[1], 'x'); redis.call('incr', 'n'); return 1", "1", "k"),
        ("EVAL", "redis.call('set', KEYS[1], 'y'); return 1", "1", "k"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "k"),
        (
            "EVAL",
            "redis.set_repl(redis.REPL_NONE); redis.call('set', KEYS[1], 'unsent'); "
            "redis.set_repl(redis.REPL_AOF); redis.call('incr', 'n'); "
            "redis.set_repl(redis.REPL_ALL); redis.call('set', 'sent', '1'); return 1",
            "1",
            "k",
        ),
        ("EVAL", "redis.call('incr', 'n'); return 1", "0"),  # set_repl lasts one run
        ("SCRIPT", "LOAD", "return 1"),
    ],
}


@pytest.mark.parametrize("name", sorted(REWRITTEN))
def test_rewritten_writes_are_propagated_as_redis_propagates_them(
    node: Node, primary: ServerProc, name: str
) -> None:
    _same(node, primary, REWRITTEN[name])


_PAST = ("PXAT", "100")  # long gone: the key reads as expired at once
EXPIRED = {
    "read": [("SET", "k", "v", *_PAST), ("GET", "k"), ("GET", "k")],
    "write": [("SET", "k", "v", *_PAST), ("SET", "k", "w")],
    "del": [("SET", "k", "v", *_PAST), ("SET", "j", "v", *_PAST), ("DEL", "k", "j", "x")],
    "in_exec": [("SET", "k", "v", *_PAST), ("MULTI",), ("GET", "k"), ("SET", "a", "1"), ("EXEC",)],
    "other_db": [
        ("SET", "k", "v", *_PAST),
        ("SELECT", "2"),
        ("MOVE", "x", "0"),
        ("COPY", "x", "k", "DB", "0"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPIRED))
def test_keys_found_expired_are_propagated_as_deletions(
    node: Node, primary: ServerProc, name: str
) -> None:
    _same(node, primary, EXPIRED[name])


STREAMS = {
    "xadd_trim": [
        ("XADD", "s", "1-1", "f", "v"),
        ("XADD", "s", "MAXLEN", "~", "1", "2-1", "f", "v"),
        ("XADD", "s", "MAXLEN", "=", "5", "3-1", "f", "v"),
        ("XADD", "s", "MINID", "~", "2", "4-1", "f", "v"),
        ("XTRIM", "s", "MAXLEN", "~", "0"),
        ("XTRIM", "s", "MAXLEN", "1"),
        ("XADD", "missing", "NOMKSTREAM", "1-1", "f", "v"),
    ],
    "groups": [
        ("XADD", "s", "1-1", "f", "v"),
        ("XADD", "s", "2-1", "f", "v"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "bob"),
        ("XGROUP", "SETID", "s", "g", "$"),
        ("XGROUP", "SETID", "s", "g", "0"),
        ("XACK", "s", "g", "1-1"),
        ("XGROUP", "DELCONSUMER", "s", "g", "bob"),
        ("XGROUP", "DESTROY", "s", "g"),
    ],
    "readgroup": [
        ("XADD", "s", "1-1", "f", "v"),
        ("XADD", "s", "2-1", "f", "v"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
        ("XACK", "s", "g", "1-1"),
    ],
    "claim": [
        ("XADD", "s", "1-1", "f", "v"),
        ("XADD", "s", "2-1", "f", "v"),
        ("XADD", "s", "3-1", "f", "v"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"),
        ("XCLAIM", "s", "g", "bob", "0", "1-1", "2-1", "9-9"),
        ("XCLAIM", "s", "g", "carol", "0", "1-1", "JUSTID", "LASTID", "5-0"),
        ("XDEL", "s", "2-1"),
        ("XAUTOCLAIM", "s", "g", "dave", "0", "0-0", "COUNT", "10"),
        ("XCLAIM", "s", "g", "erin", "0", "3-1", "IDLE", "5", "RETRYCOUNT", "7"),
    ],
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream_writes_are_propagated_as_redis_propagates_them(
    node: Node, primary: ServerProc, name: str
) -> None:
    _same(node, primary, STREAMS[name])


_PAYLOAD = codec.dump_payload(b"v", compress=False)
OTHERS = {
    "publish": [("PUBLISH", "ch", "hello"), ("SPUBLISH", "ch", "x")],
    "functions": [
        (
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
        ),
        (
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
        ),
        ("FCALL", "f", "0"),
        ("FUNCTION", "DELETE", "lib"),
        ("FUNCTION", "FLUSH"),
    ],
    "restore": [
        ("RESTORE", "k", "0", _PAYLOAD),
        ("RESTORE", "j", _FAR + "000", _PAYLOAD, "ABSTTL"),
        ("RESTORE", "k", "100", _PAYLOAD, "ABSTTL", "REPLACE"),
        ("RESTORE", "i", "100", _PAYLOAD, "ABSTTL"),
    ],
    "geo": [
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo"),
        ("GEOADD", "g", "NX", "CH", "15", "37", "Catania"),
    ],
    "misc": [
        ("SADD", "s", "a", "b"),
        ("SMOVE", "s", "t", "a"),
        ("SMOVE", "s", "t", "zz"),
        ("SUNIONSTORE", "u", "s", "t"),
        ("SINTERSTORE", "e", "s", "nothing"),
        ("RPUSH", "l", "3", "1", "2"),
        ("SORT", "l", "STORE", "sorted"),
        ("RENAME", "sorted", "sorted2"),
        ("SETRANGE", "r", "0", ""),
        ("SETBIT", "b", "3", "1"),
        ("SETBIT", "b", "3", "1"),
        ("PFADD", "h", "a"),
        ("PFADD", "h", "a"),
        ("PFCOUNT", "h"),
        ("BITFIELD", "bf", "GET", "u8", "0"),
        ("BITFIELD", "bf", "SET", "u8", "0", "5"),
        ("HSET", "hh", "f", "v"),
        ("HSET", "hh", "f", "v"),
        ("ZADD", "zz", "1", "a"),
        ("ZADD", "zz", "1", "a"),
        ("ZINCRBY", "zz", "1", "a"),
    ],
}


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_other_writes_are_propagated_as_redis_propagates_them(
    node: Node, primary: ServerProc, name: str
) -> None:
    _same(node, primary, OTHERS[name])


def test_the_backlog_keeps_about_its_size_and_survives_reopening(node: Node) -> None:
    ks = node.offline.ks
    ks.begin()
    ks.backlog.create()
    ks.commit()
    replid = ks.backlog.replid
    ks.backlog.limit = 1000
    for i in range(200):
        node.run("SET", "k%d" % i, "v" * 20)
    b = ks.backlog
    assert b.offset > 5000 and b.first > 1
    assert b.histlen <= 1000 + 100  # whole records: the last one may overhang
    txn = node.offline.engine.read()
    try:
        tail = b.read(txn, b.first, limit=1 << 20)
        assert len(tail) == b.histlen and tail.endswith(b"v" * 20 + b"\r\n")
        with pytest.raises(StorageError, match="was trimmed"):
            b.read(txn, b.first - 1)
        assert b.read(txn, b.offset + 1) == b""
    finally:
        txn.abort()
    offset, first = b.offset, b.first
    node.reopen()
    rb = node.offline.ks.backlog
    assert (rb.replid, rb.offset, rb.first, rb.active) == (replid, offset, first, True)


# -- hash field expiry, against Redis 8.0 ------------------------------------------------
@pytest.fixture(scope="module")
def primary8() -> Iterator[ServerProc]:
    """Redis 8.0 as the primary, its active expiry off: a field past its deadline
    stays until a command finds it (as in the test's own process)."""
    sp = start_oracle(
        "--repl-ping-replica-period", "3600", "--repl-diskless-sync", "no", flavor="redis8"
    )
    sp.raw().command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    yield sp
    sp.stop()


_FAR_MS = _FAR + "123"
FIELD_EXPIRY = {
    "hexpire": [
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HEXPIRE", "h", "100", "FIELDS", "3", "a", "zz", "b"),
        ("hexpireat", "h", _FAR, "gt", "fields", "3", "a", "b", "zz"),
        ("hpexpireat", "h", _FAR_MS, "lt", "fields", "3", "a", "b", "zz"),
        ("HPEXPIRE", "h", "100000", "NX", "FIELDS", "2", "c", "c"),
        ("HPEXPIREAT", "h", _FAR_MS, "XX", "FIELDS", "1", "zz"),
        ("HEXPIRE", "h", "0", "FIELDS", "3", "a", "zz", "b"),
        ("HEXPIRE", "h", "0", "FIELDS", "1", "c"),
    ],
    "hpersist": [
        ("HSET", "h", "a", "1", "b", "2"),
        ("HPEXPIREAT", "h", _FAR_MS, "FIELDS", "1", "a"),
        ("HPERSIST", "h", "FIELDS", "2", "b", "zz"),
        ("hpersist", "h", "fields", "3", "a", "b", "zz"),
    ],
    "hgetdel": [
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HGETDEL", "h", "FIELDS", "3", "a", "zz", "a"),
        ("HGETDEL", "h", "FIELDS", "1", "zz"),
        ("HGETDEL", "h", "FIELDS", "2", "b", "c"),
    ],
    "hgetex": [
        ("HSET", "h", "a", "1", "b", "2"),
        ("HGETEX", "h", "FIELDS", "1", "a"),
        ("HGETEX", "h", "EX", "100", "FIELDS", "2", "a", "zz"),
        ("HGETEX", "h", "pxat", _FAR_MS, "fields", "1", "b"),
        ("HGETEX", "h", "EXAT", _FAR, "FIELDS", "1", "zz"),
        ("HGETEX", "h", "PERSIST", "FIELDS", "2", "a", "zz"),
        ("HGETEX", "h", "PERSIST", "FIELDS", "1", "a"),
        ("HGETEX", "h", "PX", "0", "FIELDS", "2", "a", "b"),
    ],
    "hsetex": [
        ("HSETEX", "h", "FIELDS", "1", "a", "1"),
        ("HSETEX", "h", "FXX", "EXAT", _FAR, "FIELDS", "1", "a", "2"),
        ("HSETEX", "h", "px", "100000", "FIELDS", "1", "b", "3"),
        ("HSETEX", "h", "EX", "100", "FIELDS", "1", "b", "3"),
        ("HSETEX", "h", "PXAT", _FAR_MS, "FIELDS", "1", "c", "4"),
        ("HSETEX", "h", "KEEPTTL", "FIELDS", "1", "c", "5"),
        ("HSETEX", "h", "FNX", "FIELDS", "1", "c", "6"),
        ("HSETEX", "h", "EX", "0", "FIELDS", "2", "a", "1", "c", "3"),
        ("HSETEX", "h", "PXAT", "1", "FIELDS", "1", "b", "3"),
    ],
    "other_writes": [
        ("HSET", "h", "a", "1", "f", "1.5"),
        ("HPEXPIREAT", "h", _FAR_MS, "FIELDS", "2", "a", "f"),
        ("HINCRBY", "h", "a", "2"),
        ("HINCRBYFLOAT", "h", "f", "1"),
        ("HSET", "h", "a", "9"),
    ],
    "lazy_expiry": [
        ("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6"),
        ("HPEXPIRE", "h", "1", "FIELDS", "6", "a", "b", "c", "d", "e", "f"),
        ("HSET", "keep", "x", "1"),
        _PASS,
        ("HGET", "h", "a"),
        ("HMGET", "h", "b", "zz"),
        ("HINCRBY", "h", "c", "1"),
        ("HGETDEL", "h", "FIELDS", "2", "d", "c"),
        ("HGETEX", "h", "EX", "100", "FIELDS", "1", "e"),
        ("HSETEX", "h", "FNX", "FIELDS", "1", "f", "9"),
        ("HSET", "g", "a", "1", "b", "2"),
        ("HPEXPIRE", "g", "1", "FIELDS", "1", "a"),
        ("HPEXPIRE", "g", "2", "FIELDS", "1", "b"),  # (equal deadlines: another order)
        _PASS,
        ("HRANDFIELD", "g"),
        ("HGETALL", "keep"),
    ],
}


@pytest.mark.parametrize("name", sorted(FIELD_EXPIRY))
def test_field_expiry_is_propagated_as_redis_8_propagates_it(
    node: Node, primary8: ServerProc, name: str
) -> None:
    _same(node, primary8, FIELD_EXPIRY[name])
